// The per-operation GPU roofline: time, utilisation and energy of one inference step of a
// tensor-parallel group of GPUs over a batch of sequences.
//
// For each op of the profile (per GPU, all repeats):
//   compute = sum over phases of FLOPs_phase / (peak[computeType] x eff[phase].compute)
//   memory  = bytes / (HBM bandwidth x eff[step phase].bandwidth)
//   time    = max(compute, memory)
// where a step reads every weight once, the KV cache of each sequence once, and activations
// per token. The step phase is Decode if the step decodes any sequence (its weight streaming
// is decode-like), else Prefill. Under tensor parallelism T, sharded ops do 1/T of the
// work; the step adds `allReducesPerStep` ring all-reduces of the step's hidden states:
//   allreduce(bytes) = 2 (T-1)/T x bytes / link bandwidth + latency.
// Power per GPU = idle + (TDP - idle) x utilisation, utilisation = max(FLOPs / (time x peak),
// bytes / (time x bandwidth)): the busier of the two units as a fraction of its spec peak.
#pragma once

#include "conveyor/Gpu/GpuConfig.h"
#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Support/Result.h"

#include <span>
#include <string>
#include <vector>

namespace conveyor::gpu {

/// `count` identical sequences doing the same work in one step. `count` may be fractional
/// when a caller models a steady-state average step.
struct SequenceGroup {
  Phase phase = Phase::Decode;
  uint32_t newTokens = 1;     // prompt tokens to prefill, or 1 for a decode step
  uint64_t contextTokens = 0; // tokens already in the KV cache before this step
  double count = 1;
};

/// One op's share of a step, per GPU, all repeats included.
struct OpTime {
  std::string name;
  double seconds = 0;
  double computeSeconds = 0;
  double memorySeconds = 0;
  double flops = 0;
  double bytes = 0; // weightBytes + activationBytes + kvBytes
  double weightBytes = 0, activationBytes = 0, kvBytes = 0;
  bool computeBound() const { return computeSeconds >= memorySeconds; }
};

struct StepCost {
  double seconds = 0;              // wall time: ops + communication
  double communicationSeconds = 0; // tensor-parallel all-reduces
  double flopsPerGpu = 0;
  double bytesPerGpu = 0;
  double newTokens = 0; // tokens processed (prompt tokens + decoded tokens)
  double sequences = 0;
  double utilisation = 0; // in [0, 1], see the file comment
  double wattsPerGpu = 0;
  double joules = 0;        // whole group, idle power included
  double dynamicJoules = 0; // whole group, above idle power
  std::vector<OpTime> ops;
};

/// Evaluates one step of a `tensorParallel`-GPU group. Errors: empty work, a group with
/// no tokens, T of 0 or beyond the GPU's node, a compute precision the GPU lacks.
Result<StepCost> evaluateStep(const GpuConfig &gpu, const WorkloadProfile &profile,
                              uint32_t tensorParallel, std::span<const SequenceGroup> work);

/// Ring all-reduce of `messageBytes` over `gpus` GPUs: 2 (gpus-1)/gpus x bytes / link
/// bandwidth + latency; 0 for one GPU.
double ringAllReduceSeconds(double messageBytes, uint32_t gpus, double linkBytesPerSecond,
                            double latencySeconds);

/// Expected number of distinct experts that `tokens` tokens touch when each picks `topK` of
/// `experts` uniformly: experts x (1 - (1 - topK/experts)^tokens). topK for one token;
/// tends to `experts` for a large batch.
double expectedDistinctExperts(uint32_t experts, uint32_t topK, double tokens);

/// idle + (TDP - idle) x utilisation, utilisation clamped to [0, 1].
double gpuWatts(const PowerConfig &power, double utilisation);

/// How a model occupies the HBM of a tensor-parallel group.
struct MemoryPlan {
  double weightBytesPerGpu = 0;
  double kvBytesPerTokenPerGpu = 0; // one token of one sequence
  double kvTokenCapacity = 0;       // cached tokens (all sequences) the group can hold;
                                    // infinite for a profile without a KV cache
};

/// Weights and KV per GPU; an error when the weights alone overflow the usable HBM.
Result<MemoryPlan> planMemory(const GpuConfig &gpu, const WorkloadProfile &profile,
                              uint32_t tensorParallel);

} // namespace conveyor::gpu
