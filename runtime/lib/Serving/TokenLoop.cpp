// The continuous-batching token loop (rules in TokenLoop.h and docs/runtime.md).
//
// Cost is O(total output tokens + requests): the FCFS queue is the index range
// [admitted, arrived) of the arrival-sorted request list, and each iteration touches only
// the sequences in flight.
#include "conveyor/Runtime/TokenLoop.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace conveyor::runtime {
namespace {

struct InFlight {
  uint32_t request = 0;   // index into the request list
  uint32_t generated = 0; // output tokens produced so far (0: prefill pending)
};

std::string describeRequest(const Request &request, size_t index) {
  std::string line =
      request.sourceLine ? fmt::format(", trace line {}", request.sourceLine) : std::string();
  return fmt::format("request {} (arrival {} s{}; {} prompt + {} output tokens)", index,
                     request.arrivalSeconds, line, request.promptTokens, request.outputTokens);
}

Status checkCost(const IterationCost &cost, const ServingBackend &backend, uint64_t iteration) {
  const bool secondsOk = std::isfinite(cost.seconds) && cost.seconds > 0;
  const bool joulesOk = std::isfinite(cost.dynamicJoules) && cost.dynamicJoules >= 0;
  const bool fractionOk = cost.busyDeviceFraction >= 0 && cost.busyDeviceFraction <= 1;
  if (secondsOk && joulesOk && fractionOk) {
    return Status::success();
  }
  return makeError(fmt::format("backend '{}': iteration {} has seconds = {}, dynamic joules = {}, "
                               "busy fraction = {}; a backend must return seconds > 0, joules "
                               ">= 0 and a fraction in [0, 1]",
                               backend.name(), iteration, cost.seconds, cost.dynamicJoules,
                               cost.busyDeviceFraction));
}

} // namespace

Result<ServingRun> runTokenLoop(std::span<const Request> requests, ServingBackend &backend,
                                const AdmissionPolicy &admission, const TokenLoopOptions &options) {
  if (Status valid = validateRequests(requests); !valid) {
    return makeError(valid.error());
  }
  const uint32_t limit = backend.maxSequences();
  if (limit == 0) {
    return makeError(
        fmt::format("backend '{}' holds no sequences (maxSequences() is 0)", backend.name()));
  }
  const size_t count = requests.size();
  ServingRun run;
  run.backendName = backend.name();
  run.admissionPolicy = admission.describe();
  run.devices = backend.devices();
  run.idleWatts = backend.idleWatts();
  run.sequenceLimit = limit;
  run.requests.resize(count);
  uint64_t totalGaps = 0;
  for (size_t i = 0; i < count; ++i) {
    RequestRecord &record = run.requests[i];
    record.arrivalSeconds = requests[i].arrivalSeconds;
    record.promptTokens = requests[i].promptTokens;
    record.outputTokens = requests[i].outputTokens;
    totalGaps += requests[i].outputTokens - 1;
    if (options.recordTokenTimes) {
      record.tokenSeconds.reserve(requests[i].outputTokens);
    }
  }
  run.interTokenGaps.reserve(totalGaps);

  std::vector<InFlight> inFlight;
  std::vector<SequenceWork> work;
  inFlight.reserve(std::min<size_t>(limit, count));
  work.reserve(inFlight.capacity());
  AdmissionState state;
  size_t arrived = 0, admitted = 0, finished = 0;
  double now = requests.front().arrivalSeconds;
  run.startSeconds = now;

  while (finished < count) {
    while (arrived < count && requests[arrived].arrivalSeconds <= now) {
      ++arrived;
    }
    while (admitted < arrived && inFlight.size() < limit &&
           admission.admitNow(state, requests[admitted])) {
      const Request &request = requests[admitted];
      run.requests[admitted].admittedSeconds = now;
      inFlight.push_back({static_cast<uint32_t>(admitted), 0});
      state.sequencesInFlight += 1;
      state.kvTokensReserved += uint64_t(request.promptTokens) + request.outputTokens;
      ++admitted;
    }
    run.maxQueueLength = std::max<uint64_t>(run.maxQueueLength, arrived - admitted);

    if (inFlight.empty()) {
      if (admitted < arrived) {
        return makeError(fmt::format("{} cannot be admitted by admission policy '{}' even with "
                                     "nothing in flight; raise the policy's limits or remove "
                                     "the request",
                                     describeRequest(requests[admitted], admitted),
                                     admission.describe()));
      }
      // Nothing to do until the next arrival: jump there (only static power is drawn).
      now = requests[arrived].arrivalSeconds;
      continue;
    }

    work.clear();
    bool anyPrefill = false;
    for (const InFlight &sequence : inFlight) {
      const Request &request = requests[sequence.request];
      if (sequence.generated == 0) {
        work.push_back({SequencePhase::Prefill, request.promptTokens, 0});
        anyPrefill = true;
      } else {
        // The token produced last is not yet in the KV cache: it is this step's input.
        work.push_back(
            {SequencePhase::Decode, 1, uint64_t(request.promptTokens) + sequence.generated - 1});
      }
    }
    Result<IterationCost> cost = backend.iterationCost(work);
    if (!cost) {
      return makeError(fmt::format("iteration {} at {} s ({} sequences in flight): {}",
                                   run.iterations, now, inFlight.size(), cost.error()));
    }
    if (Status checked = checkCost(*cost, backend, run.iterations); !checked) {
      return makeError(checked.error());
    }
    now += cost->seconds;
    run.iterations += 1;
    run.prefillIterations += anyPrefill ? 1 : 0;
    run.busySeconds += cost->seconds;
    run.dynamicJoules += cost->dynamicJoules;
    run.busyDeviceSeconds += cost->busyDeviceFraction * cost->seconds;
    run.sequenceSeconds += double(inFlight.size()) * cost->seconds;
    run.maxSequencesInFlight =
        std::max(run.maxSequencesInFlight, static_cast<uint32_t>(inFlight.size()));

    // Every sequence in the iteration gets its token at its end; keep the unfinished ones
    // in their order (stable, so the backend sees a deterministic list).
    size_t kept = 0;
    for (InFlight sequence : inFlight) {
      RequestRecord &record = run.requests[sequence.request];
      if (sequence.generated == 0) {
        record.firstTokenSeconds = now;
      } else {
        const double gap = now - record.finishSeconds;
        run.interTokenGaps.push_back(gap);
        record.maxTokenGapSeconds = std::max(record.maxTokenGapSeconds, gap);
      }
      record.finishSeconds = now; // the latest token so far; final once all are out
      if (options.recordTokenTimes) {
        record.tokenSeconds.push_back(now);
      }
      sequence.generated += 1;
      if (sequence.generated == record.outputTokens) {
        ++finished;
        state.sequencesInFlight -= 1;
        state.kvTokensReserved -= uint64_t(record.promptTokens) + record.outputTokens;
      } else {
        inFlight[kept++] = sequence;
      }
    }
    inFlight.resize(kept);
  }
  run.endSeconds = now;
  return run;
}

} // namespace conveyor::runtime
