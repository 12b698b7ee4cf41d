// The GPU roofline as a ServingBackend, so the runtime's token loop (continuous batching
// under the same traces as the LPU) can drive it.
//
// A deployment of R replicas of T-way tensor-parallel groups. Each iteration the loop's
// sequences are dealt round-robin to the replicas (sequence i to replica i mod R); every
// replica runs one batched roofline step over its share; the iteration lasts as long as the
// slowest replica. Dynamic energy is each replica's energy above idle; busy devices are the
// replicas' GPU-seconds over all GPUs x the iteration time.
#pragma once

#include "conveyor/Gpu/GpuConfig.h"
#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Runtime/ServingBackend.h"

#include <cstdint>
#include <string>

namespace conveyor::gpu {

struct GpuServingOptions {
  uint32_t tensorParallel = 1;
  uint32_t replicas = 1;
  /// Batch cap per replica (the serving engine's max_num_seqs / max_batch_size).
  uint32_t maxBatchPerReplica = 256;
  /// Longest context a sequence may reach; sizes how many sequences' KV fit per replica.
  uint64_t maxContextTokens = 4096;
};

class GpuServingBackend final : public runtime::ServingBackend {
public:
  /// Checks the options and that the weights and at least one max-context sequence fit.
  static Result<GpuServingBackend> create(GpuConfig gpu, WorkloadProfile profile,
                                          GpuServingOptions options);

  /// "gpu:<gpu> x<gpus> tp<T>".
  std::string name() const override;
  /// replicas x min(maxBatchPerReplica, sequences of maxContextTokens whose KV fits).
  uint32_t maxSequences() const override { return sequenceLimit; }
  uint32_t devices() const override { return options.tensorParallel * options.replicas; }
  double idleWatts() const override { return gpu.power.idleWatts * devices(); }
  Result<runtime::IterationCost>
  iterationCost(std::span<const runtime::SequenceWork> work) override;

  const GpuConfig &gpuConfig() const { return gpu; }
  const WorkloadProfile &workload() const { return profile; }

private:
  GpuServingBackend(GpuConfig gpu, WorkloadProfile profile, GpuServingOptions options,
                    uint32_t sequenceLimit, double kvTokenCapacity)
      : gpu(std::move(gpu)), profile(std::move(profile)), options(options),
        sequenceLimit(sequenceLimit), kvTokenCapacity(kvTokenCapacity) {}

  GpuConfig gpu;
  WorkloadProfile profile;
  GpuServingOptions options;
  uint32_t sequenceLimit;
  double kvTokenCapacity; // per replica
};

} // namespace conveyor::gpu
