// A configurable closed-form ServingBackend: a pipeline of P stages with per-sequence stage
// times linear in new and cached tokens. For tests, quick what-ifs and as the reference
// that the LPU (simulator) and GPU (roofline) backends are compared with.
#pragma once

#include "conveyor/Runtime/ServingBackend.h"

#include <string>
#include <utility>

namespace conveyor::runtime {

/// Every field is a plain number so that tests can compute each iteration by hand:
///
///   stage time of sequence i:  t_i = stageSeconds + stageSecondsPerNewToken * newTokens_i
///                                    + stageSecondsPerContextToken * contextTokens_i
///   iteration seconds:         T   = iterationFixedSeconds
///                                    + max(sum_i t_i, pipelineStages * max_i t_i)
///   dynamic joules:            E   = iterationFixedJoules + joulesPerNewToken * sum_i newTokens_i
///                                    + joulesPerContextToken * sum_i contextTokens_i
///   busy device fraction:      (iterationFixedSeconds + sum_i t_i) / T
///
/// With S equal sequences the pipeline term is max(P, S) x t: a sequence needs P stage
/// times to come back around; each stage serves one sequence at a time. The fixed part is
/// work every iteration pays once whatever the batch (a GPU's weight read), during which
/// all devices count as busy. pipelineStages = 1 with a fixed part is a crude batched GPU.
struct AnalyticBackendConfig {
  std::string name = "analytic";
  uint32_t pipelineStages = 1;
  uint32_t maxSequences = 1;
  uint32_t devices = 1;
  double idleWatts = 0;
  double iterationFixedSeconds = 0;
  double stageSeconds = 0;
  double stageSecondsPerNewToken = 0;
  double stageSecondsPerContextToken = 0;
  double iterationFixedJoules = 0;
  double joulesPerNewToken = 0;
  double joulesPerContextToken = 0;
};

class AnalyticBackend final : public ServingBackend {
public:
  /// Checks the config (positive counts, non-negative times, some time per iteration);
  /// messages name the field.
  static Result<AnalyticBackend> create(const AnalyticBackendConfig &config);

  std::string name() const override { return config.name; }
  uint32_t maxSequences() const override { return config.maxSequences; }
  uint32_t devices() const override { return config.devices; }
  double idleWatts() const override { return config.idleWatts; }
  Result<IterationCost> iterationCost(std::span<const SequenceWork> work) override;
  const AnalyticBackendConfig &settings() const { return config; }

private:
  explicit AnalyticBackend(AnalyticBackendConfig config) : config(std::move(config)) {}
  AnalyticBackendConfig config;
};

} // namespace conveyor::runtime
