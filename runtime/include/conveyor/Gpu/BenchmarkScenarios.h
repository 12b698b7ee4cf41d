// The two ways published GPU inference numbers are measured, replayed on the roofline:
// a static batch (every sequence prefills, then all decode together: gpt-fast, lmdeploy's
// profile_generation, TensorRT-LLM's gptSessionBenchmark, single-stream NIM runs) and an
// offline continuous-batching steady state (MLPerf Offline, TensorRT-LLM in-flight batching).
#pragma once

#include "conveyor/Gpu/GpuConfig.h"
#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Support/Result.h"

#include <cstdint>

namespace conveyor::gpu {

/// `replicas` independent tensor-parallel groups of `tensorParallel` GPUs each.
struct Deployment {
  uint32_t tensorParallel = 1;
  uint32_t replicas = 1;
  uint32_t gpus() const { return tensorParallel * replicas; }
};

struct ScenarioResult {
  double outputTokensPerSecond = 0; // whole deployment
  double batch = 0;                 // sequences in flight per replica
  double firstTokenSeconds = 0;     // static: the prefill step; offline: one prompt's prefill
  double decodeStepSeconds = 0;     // mean decode step
  double joulesPerOutputToken = 0;  // idle power included
  double meanWattsPerGpu = 0;
};

/// Each replica prefills `batch` prompts of `promptTokens` in one step, then decodes
/// `outputTokens - 1` steps together (the prefill yields the first token). Throughput =
/// batch x outputTokens x replicas / total time. Errors if weights + KV do not fit.
struct StaticBatchRun {
  uint32_t batch = 1;
  uint32_t promptTokens = 1;
  uint32_t outputTokens = 1;
};
Result<ScenarioResult> runStaticBatch(const GpuConfig &gpu, const WorkloadProfile &profile,
                                      Deployment deployment, const StaticBatchRun &run);

/// Continuous batching in steady state: B sequences decode every step at the mean context
/// promptTokens + (outputTokens - 1) / 2, and B / (outputTokens - 1) new prompts prefill in
/// the same step so the batch stays full. B = min(maxBatch, sequences whose mean-context KV
/// fits in the group's free HBM). Throughput = B x outputTokens / (outputTokens - 1) output
/// tokens per step x replicas / step time.
struct OfflineRun {
  uint32_t promptTokens = 1;
  uint32_t outputTokens = 2;
  uint32_t maxBatch = 1;
};
Result<ScenarioResult> runOffline(const GpuConfig &gpu, const WorkloadProfile &profile,
                                  Deployment deployment, const OfflineRun &run);

} // namespace conveyor::gpu
