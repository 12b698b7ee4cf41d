// The GPU roofline behind the runtime's ServingBackend interface (see GpuServingBackend.h).

#include "conveyor/Gpu/GpuServingBackend.h"

#include "conveyor/Gpu/Roofline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace conveyor::gpu {

Result<GpuServingBackend> GpuServingBackend::create(GpuConfig gpu, WorkloadProfile profile,
                                                    GpuServingOptions options) {
  const std::string where = fmt::format("gpu backend ({} on {})", profile.name, gpu.name);
  if (options.tensorParallel == 0 || options.replicas == 0 || options.maxBatchPerReplica == 0 ||
      options.maxContextTokens == 0) {
    return makeError(fmt::format("{}: tensor_parallel, replicas, max_batch_per_replica and "
                                 "max_context_tokens must all be at least 1",
                                 where));
  }
  if (Status valid = validateGpuConfig(gpu); !valid.ok()) {
    return makeError(valid.error());
  }
  if (Status valid = validateWorkloadProfile(profile); !valid.ok()) {
    return makeError(valid.error());
  }
  if (Result<double> peak = gpu.peakFlops(profile.computeType); !peak.ok()) {
    return makeError(fmt::format("{}: {}", where, peak.error()));
  }
  if (options.tensorParallel > gpu.interconnect.gpusPerNode) {
    return makeError(fmt::format("{}: tensor parallelism {} exceeds interconnect.gpus_per_node {}",
                                 where, options.tensorParallel, gpu.interconnect.gpusPerNode));
  }
  Result<MemoryPlan> plan = planMemory(gpu, profile, options.tensorParallel);
  if (!plan.ok()) {
    return makeError(plan.error());
  }
  double fitting = std::floor(plan->kvTokenCapacity / double(options.maxContextTokens));
  if (fitting < 1) {
    return makeError(fmt::format("{}: not one sequence of max_context_tokens {} fits next to the "
                                 "weights ({:.0f} KV tokens free per replica); lower "
                                 "max_context_tokens or add tensor parallelism",
                                 where, options.maxContextTokens, plan->kvTokenCapacity));
  }
  double perReplica = std::min<double>(options.maxBatchPerReplica, fitting);
  double total = perReplica * options.replicas;
  uint32_t limit = uint32_t(std::min<double>(total, 4294967295.0));
  return GpuServingBackend(std::move(gpu), std::move(profile), options, limit,
                           plan->kvTokenCapacity);
}

std::string GpuServingBackend::name() const {
  return fmt::format("gpu:{} x{} tp{}", gpu.name, devices(), options.tensorParallel);
}

Result<runtime::IterationCost>
GpuServingBackend::iterationCost(std::span<const runtime::SequenceWork> work) {
  if (work.empty()) {
    return makeError(fmt::format("{}: asked to cost an empty iteration", name()));
  }
  const uint32_t replicas = options.replicas;
  std::vector<std::vector<SequenceGroup>> shares(replicas);
  std::vector<double> kvTokens(replicas, 0);
  for (size_t i = 0; i < work.size(); ++i) {
    const runtime::SequenceWork &sequence = work[i];
    Phase phase =
        sequence.phase == runtime::SequencePhase::Prefill ? Phase::Prefill : Phase::Decode;
    size_t replica = i % replicas;
    shares[replica].push_back({phase, sequence.newTokens, sequence.contextTokens, 1});
    kvTokens[replica] += double(sequence.contextTokens) + sequence.newTokens;
  }
  runtime::IterationCost cost;
  double busyGpuSeconds = 0;
  for (uint32_t replica = 0; replica < replicas; ++replica) {
    if (shares[replica].empty()) {
      continue;
    }
    if (kvTokens[replica] > kvTokenCapacity) {
      return makeError(fmt::format("{}: replica {} would hold {:.0f} KV tokens, its HBM fits "
                                   "{:.0f}; lower the admission limit or max_context_tokens",
                                   name(), replica, kvTokens[replica], kvTokenCapacity));
    }
    Result<StepCost> step = evaluateStep(gpu, profile, options.tensorParallel, shares[replica]);
    if (!step.ok()) {
      return makeError(step.error());
    }
    cost.seconds = std::max(cost.seconds, step->seconds);
    cost.dynamicJoules += step->dynamicJoules;
    busyGpuSeconds += step->seconds * options.tensorParallel;
  }
  cost.busyDeviceFraction =
      std::clamp(busyGpuSeconds / (cost.seconds * double(devices())), 0.0, 1.0);
  return cost;
}

} // namespace conveyor::gpu
