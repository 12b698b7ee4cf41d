// Serving metrics from a token-loop run; each definition matches docs/runtime.md.
#include "conveyor/Runtime/ServingReport.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace conveyor::runtime {
namespace {
constexpr double notANumber = std::numeric_limits<double>::quiet_NaN();

double ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0.0;
}
} // namespace

double percentileOfSorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) {
    return notANumber;
  }
  const double rank = double(sorted.size() - 1) * std::clamp(q, 0.0, 1.0);
  const size_t lower = static_cast<size_t>(std::floor(rank));
  if (lower + 1 >= sorted.size()) {
    return sorted.back();
  }
  return sorted[lower] + (rank - double(lower)) * (sorted[lower + 1] - sorted[lower]);
}

MetricSummary summarize(std::span<const double> values) {
  MetricSummary summary;
  summary.count = values.size();
  if (values.empty()) {
    summary.mean = summary.min = summary.max = notANumber;
    summary.p50 = summary.p90 = summary.p95 = summary.p99 = summary.p999 = notANumber;
    return summary;
  }
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double value : sorted) {
    sum += value;
  }
  summary.mean = sum / double(sorted.size());
  summary.min = sorted.front();
  summary.max = sorted.back();
  summary.p50 = percentileOfSorted(sorted, 0.50);
  summary.p90 = percentileOfSorted(sorted, 0.90);
  summary.p95 = percentileOfSorted(sorted, 0.95);
  summary.p99 = percentileOfSorted(sorted, 0.99);
  summary.p999 = percentileOfSorted(sorted, 0.999);
  return summary;
}

ServingReport makeServingReport(const ServingRun &run, const ServiceLevelObjectives &slo) {
  ServingReport report;
  report.backendName = run.backendName;
  report.admissionPolicy = run.admissionPolicy;
  report.devices = run.devices;
  report.sequenceLimit = run.sequenceLimit;
  report.slo = slo;
  report.requests = run.requests.size();
  report.iterations = run.iterations;
  report.makespanSeconds = run.endSeconds - run.startSeconds;
  report.busySeconds = run.busySeconds;
  report.idleSeconds = std::max(0.0, report.makespanSeconds - run.busySeconds);

  std::vector<double> ttft, tpot, e2e, queueing, userRate;
  ttft.reserve(run.requests.size());
  e2e.reserve(run.requests.size());
  queueing.reserve(run.requests.size());
  uint64_t sloTokens = 0;
  report.perRequest.reserve(run.requests.size());
  for (const RequestRecord &record : run.requests) {
    RequestMetrics metrics;
    metrics.arrivalSeconds = record.arrivalSeconds;
    metrics.promptTokens = record.promptTokens;
    metrics.outputTokens = record.outputTokens;
    metrics.ttftSeconds = record.firstTokenSeconds - record.arrivalSeconds;
    metrics.e2eSeconds = record.finishSeconds - record.arrivalSeconds;
    metrics.queueingSeconds = record.admittedSeconds - record.arrivalSeconds;
    metrics.maxItlSeconds = record.maxTokenGapSeconds;
    const bool hasTpot = record.outputTokens > 1;
    const double decodeSeconds = record.finishSeconds - record.firstTokenSeconds;
    metrics.tpotSeconds = hasTpot ? decodeSeconds / double(record.outputTokens - 1) : notANumber;
    metrics.userTokensPerSecond =
        hasTpot ? double(record.outputTokens - 1) / decodeSeconds : notANumber;
    metrics.meetsSlo = (!slo.ttftSeconds || metrics.ttftSeconds <= *slo.ttftSeconds) &&
                       (!slo.tpotSeconds || !hasTpot || metrics.tpotSeconds <= *slo.tpotSeconds) &&
                       (!slo.e2eSeconds || metrics.e2eSeconds <= *slo.e2eSeconds);

    ttft.push_back(metrics.ttftSeconds);
    e2e.push_back(metrics.e2eSeconds);
    queueing.push_back(metrics.queueingSeconds);
    if (hasTpot) {
      tpot.push_back(metrics.tpotSeconds);
      userRate.push_back(metrics.userTokensPerSecond);
    }
    report.promptTokens += record.promptTokens;
    report.outputTokens += record.outputTokens;
    if (metrics.meetsSlo) {
      report.sloRequests += 1;
      sloTokens += record.outputTokens;
    }
    report.perRequest.push_back(metrics);
  }
  report.ttft = summarize(ttft);
  report.tpot = summarize(tpot);
  report.itl = summarize(run.interTokenGaps);
  report.e2e = summarize(e2e);
  report.queueing = summarize(queueing);
  report.userTokensPerSecond = summarize(userRate);

  const double makespan = report.makespanSeconds;
  report.requestsPerSecond = ratio(double(report.requests), makespan);
  report.outputTokensPerSecond = ratio(double(report.outputTokens), makespan);
  report.sloAttainment = ratio(double(report.sloRequests), double(report.requests));
  report.goodputRequestsPerSecond = ratio(double(report.sloRequests), makespan);
  report.goodputTokensPerSecond = ratio(double(sloTokens), makespan);

  report.dynamicJoules = run.dynamicJoules;
  report.idleJoules = run.idleWatts * makespan;
  report.totalJoules = report.dynamicJoules + report.idleJoules;
  report.joulesPerToken = ratio(report.totalJoules, double(report.outputTokens));
  report.idleEnergyShare = ratio(report.idleJoules, report.totalJoules);
  report.averageWatts = ratio(report.totalJoules, makespan);

  report.busyDeviceFraction = ratio(run.busyDeviceSeconds, makespan);
  report.meanSequencesInFlight = ratio(run.sequenceSeconds, makespan);
  report.meanSequencesWhileBusy = ratio(run.sequenceSeconds, run.busySeconds);
  report.maxSequencesInFlight = run.maxSequencesInFlight;
  report.maxQueueLength = run.maxQueueLength;
  return report;
}

} // namespace conveyor::runtime
