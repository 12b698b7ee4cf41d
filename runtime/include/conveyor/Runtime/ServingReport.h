// Serving metrics from a token-loop run: TTFT, TPOT, ITL, E2E with percentiles, tokens/s,
// goodput under SLOs, joules/token with the idle share, device utilisation; text and JSON.
// Every definition is written out in docs/runtime.md, exactly as computed here.
#pragma once

#include "conveyor/Runtime/TokenLoop.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace conveyor::runtime {

/// Linear interpolation between closest ranks (numpy's default "linear" method):
/// sorted x[0..n-1], h = (n - 1) * q, result = x[floor h] + (h - floor h) *
/// (x[floor h + 1] - x[floor h]). `q` in [0, 1]; `sorted` ascending; NaN when empty.
double percentileOfSorted(std::span<const double> sorted, double q);

/// Count, mean, min, max and the report's percentiles of one metric. NaN when count is 0.
struct MetricSummary {
  uint64_t count = 0;
  double mean = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0;
};

/// Summarises `values` (any order; copied and sorted).
MetricSummary summarize(std::span<const double> values);

/// Service-level objectives; an unset one is not checked. A request meets the SLOs when it
/// meets every set one; a one-token request has no TPOT and is judged on the others.
struct ServiceLevelObjectives {
  std::optional<double> ttftSeconds = 0.5;
  std::optional<double> tpotSeconds = 0.05;
  std::optional<double> e2eSeconds;
};

/// Per-request metrics, derived from a RequestRecord.
struct RequestMetrics {
  double arrivalSeconds = 0;
  uint32_t promptTokens = 0, outputTokens = 0;
  double ttftSeconds = 0;         // first token - arrival
  double tpotSeconds = 0;         // (finish - first token) / (output tokens - 1); NaN if 1 token
  double e2eSeconds = 0;          // finish - arrival
  double queueingSeconds = 0;     // admitted - arrival
  double userTokensPerSecond = 0; // (output tokens - 1) / (finish - first token); NaN if 1 token
  double maxItlSeconds = 0;       // largest gap between its consecutive tokens (0 if 1 token)
  bool meetsSlo = false;
};

struct ServingReport {
  std::string backendName, admissionPolicy;
  uint32_t devices = 0, sequenceLimit = 0;
  ServiceLevelObjectives slo;

  uint64_t requests = 0;
  uint64_t promptTokens = 0, outputTokens = 0;
  uint64_t iterations = 0;
  double makespanSeconds = 0; // last finish - first arrival
  double busySeconds = 0;     // time with at least one sequence in flight
  double idleSeconds = 0;     // makespan - busy

  MetricSummary ttft, tpot, itl, e2e, queueing, userTokensPerSecond;
  std::vector<RequestMetrics> perRequest;

  double requestsPerSecond = 0;     // requests / makespan
  double outputTokensPerSecond = 0; // output tokens / makespan
  uint64_t sloRequests = 0;         // requests meeting every set SLO
  double sloAttainment = 0;         // sloRequests / requests
  double goodputRequestsPerSecond = 0;
  double goodputTokensPerSecond = 0; // output tokens of SLO-meeting requests / makespan

  double dynamicJoules = 0;
  double idleJoules = 0; // idle (static) watts x makespan
  double totalJoules = 0;
  double joulesPerToken = 0;  // total / output tokens
  double idleEnergyShare = 0; // idle / total (0 when total is 0)
  double averageWatts = 0;    // total / makespan

  double busyDeviceFraction = 0;     // busy device-seconds / (devices-weighted makespan)
  double meanSequencesInFlight = 0;  // time-weighted over the makespan
  double meanSequencesWhileBusy = 0; // time-weighted over busy time
  uint32_t maxSequencesInFlight = 0;
  uint64_t maxQueueLength = 0;
};

/// Computes every metric of `run` against `slo`.
ServingReport makeServingReport(const ServingRun &run, const ServiceLevelObjectives &slo = {});

/// A readable table of the report's numbers.
std::string renderText(const ServingReport &report);
/// Every number as JSON with a fixed key order (NaN as null); the per-request array only
/// when `includeRequests`. Identical reports give byte-identical text.
std::string renderJson(const ServingReport &report, bool includeRequests = false);

} // namespace conveyor::runtime
