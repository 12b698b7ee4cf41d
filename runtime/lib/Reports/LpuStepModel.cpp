// The closed-form LPU step model and its ServingBackend adapter (pipeline iteration rule).
#include "conveyor/Reports/LpuStepModel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace conveyor::reports {

Status validateEstimate(const LpuDeploymentEstimate &estimate) {
  auto bad = [&](const char *field, double value, const char *expected) {
    return makeError(fmt::format("LPU estimate '{}': {} = {} is out of range: expected {}",
                                 estimate.name, field, value, expected));
  };
  if (estimate.chips == 0) {
    return bad("chips", 0, "at least 1");
  }
  if (estimate.pipelineStages == 0 || estimate.pipelineStages > estimate.chips) {
    return bad("pipelineStages", estimate.pipelineStages, "1 to chips");
  }
  if (estimate.maxSequences == 0) {
    return bad("maxSequences", 0, "at least 1");
  }
  if (!(estimate.decodeSeconds > 0) || !std::isfinite(estimate.decodeSeconds)) {
    return bad("decodeSeconds", estimate.decodeSeconds, "a positive finite number");
  }
  const std::pair<const char *, double> nonNegative[] = {
      {"staticWattsPerChip", estimate.staticWattsPerChip},
      {"decodeSecondsPerContextToken", estimate.decodeSecondsPerContextToken},
      {"prefillSecondsPerToken", estimate.prefillSecondsPerToken},
      {"decodeJoules", estimate.decodeJoules},
      {"joulesPerContextToken", estimate.joulesPerContextToken},
      {"prefillFixedJoules", estimate.prefillFixedJoules},
      {"prefillJoulesPerToken", estimate.prefillJoulesPerToken}};
  for (const auto &[field, value] : nonNegative) {
    if (!(value >= 0) || !std::isfinite(value)) {
      return bad(field, value, "a non-negative finite number");
    }
  }
  return Status::success();
}

Result<std::unique_ptr<EstimatedLpuStepModel>>
EstimatedLpuStepModel::create(LpuDeploymentEstimate estimate) {
  if (Status status = validateEstimate(estimate); !status) {
    return makeError(status.error());
  }
  return std::unique_ptr<EstimatedLpuStepModel>(new EstimatedLpuStepModel(std::move(estimate)));
}

TokenCost EstimatedLpuStepModel::decode(uint64_t contextTokens) const {
  TokenCost cost;
  cost.latencySeconds =
      estimate.decodeSeconds + double(contextTokens) * estimate.decodeSecondsPerContextToken;
  cost.occupancySeconds = cost.latencySeconds / estimate.pipelineStages;
  cost.dynamicJoules =
      estimate.decodeJoules + double(contextTokens) * estimate.joulesPerContextToken;
  return cost;
}

TokenCost EstimatedLpuStepModel::prefill(uint32_t promptTokens) const {
  double extraTokens = promptTokens > 0 ? double(promptTokens - 1) : 0.0;
  TokenCost cost;
  cost.latencySeconds = estimate.decodeSeconds + extraTokens * estimate.prefillSecondsPerToken;
  cost.occupancySeconds = estimate.decodeSeconds / estimate.pipelineStages +
                          extraTokens * estimate.prefillSecondsPerToken;
  cost.dynamicJoules =
      estimate.prefillFixedJoules + double(promptTokens) * estimate.prefillJoulesPerToken;
  return cost;
}

Result<runtime::IterationCost>
LpuStepBackend::iterationCost(std::span<const runtime::SequenceWork> work) {
  if (work.empty()) {
    return makeError(fmt::format("backend '{}': iteration with no sequences", name()));
  }
  double occupancy = 0, latency = 0, joules = 0;
  for (const runtime::SequenceWork &sequence : work) {
    TokenCost cost = sequence.phase == runtime::SequencePhase::Prefill
                         ? model->prefill(sequence.newTokens)
                         : model->decode(sequence.contextTokens);
    occupancy += cost.occupancySeconds;
    latency = std::max(latency, cost.latencySeconds);
    joules += cost.dynamicJoules;
  }
  runtime::IterationCost cost;
  cost.seconds = std::max(occupancy, latency);
  cost.dynamicJoules = joules;
  cost.busyDeviceFraction = cost.seconds > 0 ? std::min(1.0, occupancy / cost.seconds) : 0;
  if (!(cost.seconds > 0) || !std::isfinite(cost.seconds)) {
    return makeError(fmt::format("backend '{}': step model gave an iteration of {} s for {} "
                                 "sequences; check its estimate",
                                 name(), cost.seconds, work.size()));
  }
  return cost;
}

Result<SteadyDecode> steadyDecode(runtime::ServingBackend &backend, uint32_t sequences,
                                  uint64_t contextTokens) {
  if (sequences == 0 || sequences > backend.maxSequences()) {
    return makeError(fmt::format("backend '{}': {} sequences in flight; it holds 1 to {}",
                                 backend.name(), sequences, backend.maxSequences()));
  }
  std::vector<runtime::SequenceWork> work(
      sequences, runtime::SequenceWork{runtime::SequencePhase::Decode, 1, contextTokens});
  Result<runtime::IterationCost> cost = backend.iterationCost(work);
  if (!cost) {
    return makeError(cost.error());
  }
  SteadyDecode steady;
  steady.iterationSeconds = cost->seconds;
  steady.perUserTokensPerSecond = 1.0 / cost->seconds;
  steady.aggregateTokensPerSecond = sequences / cost->seconds;
  double joules = cost->dynamicJoules + backend.idleWatts() * cost->seconds;
  steady.joulesPerToken = joules / sequences;
  steady.watts = joules / cost->seconds;
  return steady;
}

} // namespace conveyor::reports
