// The serving token loop: continuous batching of requests over a ServingBackend, event by
// event, recording when each request arrived, was admitted, got each token and finished.
//
// One iteration (see docs/runtime.md for the full rules):
//   1. requests that arrived by `now` join the FCFS queue;
//   2. the admission policy admits from the queue head while it agrees and the backend
//      has room (admission time = now);
//   3. if nothing is in flight, time jumps to the next arrival (idle: static energy only);
//   4. the backend costs the iteration: each newly admitted sequence prefills its whole
//      prompt, every other sequence in flight decodes one token;
//   5. now += iteration seconds; every sequence in the iteration gets one output token
//      stamped at the new `now`; sequences that have all their output tokens finish.
#pragma once

#include "conveyor/Runtime/AdmissionPolicy.h"
#include "conveyor/Runtime/Request.h"
#include "conveyor/Runtime/ServingBackend.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace conveyor::runtime {

struct TokenLoopOptions {
  /// Keep every token's time per request (RequestRecord::tokenSeconds). Off by default:
  /// the metrics need only the gaps, which are always kept.
  bool recordTokenTimes = false;
};

/// What happened to one request. Times are seconds on the trace's clock.
struct RequestRecord {
  double arrivalSeconds = 0;
  double admittedSeconds = 0;   // joined the sequences in flight
  double firstTokenSeconds = 0; // end of its prefill iteration
  double finishSeconds = 0;     // its last output token
  uint32_t promptTokens = 0;
  uint32_t outputTokens = 0;
  double maxTokenGapSeconds = 0;    // largest gap between consecutive tokens (0 if one token)
  std::vector<double> tokenSeconds; // only with recordTokenTimes
};

/// Everything the loop measured; ServingReport.h turns it into metrics.
struct ServingRun {
  std::string backendName;
  std::string admissionPolicy;
  uint32_t devices = 0;
  double idleWatts = 0;
  uint32_t sequenceLimit = 0; // the backend's maxSequences()

  std::vector<RequestRecord> requests; // in the order given (arrival order)
  std::vector<double> interTokenGaps;  // every gap between consecutive tokens of a request

  double startSeconds = 0; // first arrival
  double endSeconds = 0;   // last finish
  uint64_t iterations = 0;
  double busySeconds = 0;       // sum of iteration times
  double dynamicJoules = 0;     // sum of the backend's iteration energies
  double busyDeviceSeconds = 0; // sum of busyDeviceFraction x iteration seconds
  double sequenceSeconds = 0;   // sum of sequences in flight x iteration seconds
  uint32_t maxSequencesInFlight = 0;
  uint64_t maxQueueLength = 0;    // most requests waiting at an admission point
  uint64_t prefillIterations = 0; // iterations with at least one prefill
};

/// Serves `requests` (validated with validateRequests) on `backend`. Fails on a backend
/// error or a cost outside its contract (naming the iteration), and when the admission
/// policy refuses a request on an idle system (naming the request).
Result<ServingRun> runTokenLoop(std::span<const Request> requests, ServingBackend &backend,
                                const AdmissionPolicy &admission,
                                const TokenLoopOptions &options = {});

} // namespace conveyor::runtime
