// The per-operation GPU roofline (formulas in conveyor/Gpu/Roofline.h and docs/gpu-model.md).

#include "conveyor/Gpu/Roofline.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace conveyor::gpu {

double ringAllReduceSeconds(double messageBytes, uint32_t gpus, double linkBytesPerSecond,
                            double latencySeconds) {
  if (gpus <= 1) {
    return 0;
  }
  double transferFactor = 2.0 * double(gpus - 1) / double(gpus);
  return transferFactor * messageBytes / linkBytesPerSecond + latencySeconds;
}

double expectedDistinctExperts(uint32_t experts, uint32_t topK, double tokens) {
  if (experts == 0 || topK == 0 || tokens <= 0) {
    return 0;
  }
  if (topK >= experts) {
    return experts;
  }
  double missOne = 1.0 - double(topK) / double(experts);
  return double(experts) * (1.0 - std::pow(missOne, tokens));
}

double gpuWatts(const PowerConfig &power, double utilisation) {
  double busy = std::clamp(utilisation, 0.0, 1.0);
  return power.idleWatts + (power.tdpWatts - power.idleWatts) * busy;
}

namespace {

/// How many ways tensor parallelism splits an op's work on each GPU.
double shardsOf(const OpCost &op, uint32_t tensorParallel) {
  return op.tensorParallel ? double(tensorParallel) : 1.0;
}

/// KV heads cannot split finer than one head per GPU: beyond that the cache is replicated.
double kvShardsOf(const OpCost &op, uint32_t tensorParallel) {
  if (!op.tensorParallel) {
    return 1.0;
  }
  return double(std::min<uint32_t>(tensorParallel, std::max<uint32_t>(op.kvHeads, 1)));
}

/// Token and pair counts of one phase's sequences in a step.
struct PhaseTotals {
  double tokens = 0; // new tokens
  double sequences = 0;
  double contextPairs = 0; // (query, key) pairs attention scores
  double kvTokens = 0;     // key tokens whose K and V are read (cached + new)
};

constexpr std::array<Phase, 2> kPhases = {Phase::Prefill, Phase::Decode};

/// Attention pairs and key tokens read of one phase's sequences under a sliding window of
/// `window` keys: new token i (1-based) at position context + i sees min(context + i, W) keys.
PhaseTotals windowedTotals(std::span<const SequenceGroup> work, Phase phase, double window) {
  PhaseTotals totals;
  for (const SequenceGroup &group : work) {
    if (group.phase != phase) {
      continue;
    }
    double n = group.newTokens;
    double context = double(group.contextTokens);
    double pairs = 0;
    if (context + n <= window) {
      pairs = n * context + n * (n + 1) / 2;
    } else if (context >= window) {
      pairs = n * window;
    } else {
      double k = window - context; // tokens that still see their whole context
      pairs = k * context + k * (k + 1) / 2 + (n - k) * window;
    }
    totals.tokens += group.count * n;
    totals.sequences += group.count;
    totals.contextPairs += group.count * pairs;
    totals.kvTokens += group.count * std::min(context + n, window);
  }
  return totals;
}

} // namespace

Result<StepCost> evaluateStep(const GpuConfig &gpu, const WorkloadProfile &profile,
                              uint32_t tensorParallel, std::span<const SequenceGroup> work) {
  auto fail = [&](const std::string &what) -> Error {
    return makeError(fmt::format("gpu roofline ({} on {}): {}", profile.name, gpu.name, what));
  };
  if (tensorParallel == 0) {
    return fail("tensor parallelism must be at least 1");
  }
  if (tensorParallel > gpu.interconnect.gpusPerNode) {
    return fail(fmt::format("tensor parallelism {} exceeds the {} GPUs that {} joins "
                            "(interconnect.gpus_per_node); use at most {}",
                            tensorParallel, gpu.interconnect.gpusPerNode, gpu.interconnect.name,
                            gpu.interconnect.gpusPerNode));
  }
  if (work.empty()) {
    return fail("a step needs at least one sequence");
  }
  Result<double> peak = gpu.peakFlops(profile.computeType);
  if (!peak.ok()) {
    return fail(peak.error());
  }

  std::array<PhaseTotals, 2> totals{};
  for (const SequenceGroup &group : work) {
    if (!std::isfinite(group.count) || group.count < 0) {
      return fail(
          fmt::format("a sequence group has count {}; expected a finite count >= 0", group.count));
    }
    if (group.newTokens == 0) {
      return fail("a sequence group has no new tokens; a decode step has 1, a prefill its "
                  "prompt length");
    }
    PhaseTotals &phase = totals[size_t(group.phase)];
    double n = group.newTokens;
    double context = double(group.contextTokens);
    phase.tokens += group.count * n;
    phase.sequences += group.count;
    // Causal attention: new token i (1-based) attends to the context and to tokens 1..i.
    phase.contextPairs += group.count * (n * context + n * (n + 1) / 2);
    phase.kvTokens += group.count * (context + n);
  }
  const PhaseTotals &decodeTotals = totals[size_t(Phase::Decode)];
  const double allTokens = totals[0].tokens + totals[1].tokens;
  const double allSequences = totals[0].sequences + totals[1].sequences;
  if (allTokens <= 0) {
    return fail("every sequence group has count 0; nothing to do");
  }
  const Phase stepPhase = decodeTotals.sequences > 0 ? Phase::Decode : Phase::Prefill;
  const double bandwidth = gpu.memoryBytesPerSecond * gpu.efficiency(stepPhase).bandwidth;

  StepCost cost;
  cost.newTokens = allTokens;
  cost.sequences = allSequences;
  double opSeconds = 0;
  for (const OpCost &op : profile.ops) {
    const double shards = shardsOf(op, tensorParallel);
    const double repeats = op.repeats;
    OpTime time;
    time.name = op.name;
    double activationBytes = 0, kvBytes = 0;
    double computeSeconds = 0;
    for (Phase phase : kPhases) {
      const PhaseTotals &t = op.kind == OpKind::Attention && op.slidingWindow > 0
                                 ? windowedTotals(work, phase, double(op.slidingWindow))
                                 : totals[size_t(phase)];
      if (t.sequences <= 0) {
        continue;
      }
      double tokens = op.perSequence ? t.sequences : t.tokens;
      double flops = 0;
      switch (op.kind) {
      case OpKind::Dense:
        flops = op.flopsPerToken * tokens;
        break;
      case OpKind::Attention:
        flops = op.flopsPerToken * tokens + op.flopsPerContextPair * t.contextPairs;
        kvBytes += op.kvBytesPerContextToken * t.kvTokens / kvShardsOf(op, tensorParallel);
        break;
      case OpKind::Expert:
        flops = op.flopsPerToken * profile.topK * tokens;
        break;
      }
      activationBytes +=
          op.activationBytesPerToken * tokens * (op.kind == OpKind::Expert ? profile.topK : 1);
      flops = flops / shards * repeats;
      time.flops += flops;
      computeSeconds += flops / (*peak * gpu.efficiency(phase).compute);
    }
    // Weights: read once per step whatever the batch; experts only where some token went.
    double stepTokens = op.perSequence ? allSequences : allTokens;
    double weightReads = op.kind == OpKind::Expert
                             ? expectedDistinctExperts(profile.experts, profile.topK, stepTokens)
                             : 1.0;
    time.weightBytes = op.weightBytes * weightReads / shards * repeats;
    time.activationBytes = activationBytes * repeats;
    time.kvBytes = kvBytes * repeats;
    const double bytes = time.weightBytes + time.activationBytes + time.kvBytes;
    time.bytes = bytes;
    time.computeSeconds = computeSeconds;
    time.memorySeconds = bytes / bandwidth;
    time.seconds = std::max(time.computeSeconds, time.memorySeconds);
    opSeconds += time.seconds;
    cost.flopsPerGpu += time.flops;
    cost.bytesPerGpu += time.bytes;
    cost.ops.push_back(std::move(time));
  }

  cost.communicationSeconds = profile.allReducesPerStep *
                              ringAllReduceSeconds(profile.allReduceBytesPerToken * allTokens,
                                                   tensorParallel, gpu.interconnect.bytesPerSecond,
                                                   gpu.interconnect.allReduceLatencySeconds);
  cost.seconds = opSeconds + cost.communicationSeconds;
  if (!(cost.seconds > 0) || !std::isfinite(cost.seconds)) {
    return fail(fmt::format("step time {} s is not a positive finite number; check the "
                            "profile's FLOPs and bytes",
                            cost.seconds));
  }
  double computeFraction = cost.flopsPerGpu / (cost.seconds * *peak);
  double bandwidthFraction = cost.bytesPerGpu / (cost.seconds * gpu.memoryBytesPerSecond);
  cost.utilisation = std::clamp(std::max(computeFraction, bandwidthFraction), 0.0, 1.0);
  cost.wattsPerGpu = gpuWatts(gpu.power, cost.utilisation);
  cost.joules = cost.wattsPerGpu * cost.seconds * tensorParallel;
  cost.dynamicJoules =
      (cost.wattsPerGpu - gpu.power.idleWatts) * cost.seconds * double(tensorParallel);
  return cost;
}

Result<MemoryPlan> planMemory(const GpuConfig &gpu, const WorkloadProfile &profile,
                              uint32_t tensorParallel) {
  if (tensorParallel == 0) {
    return makeError("memory plan: tensor parallelism must be at least 1");
  }
  MemoryPlan plan;
  // Sharded storage divides by T; ops that every GPU runs whole keep a full copy each.
  double replicated = 0;
  uint32_t kvHeads = 0;
  for (const OpCost &op : profile.ops) {
    if (!op.tensorParallel) {
      double copies = op.kind == OpKind::Expert ? profile.experts : 1.0;
      replicated += op.weightBytes * copies * op.repeats;
    }
    if (op.kind == OpKind::Attention) {
      kvHeads = std::max(kvHeads, op.kvHeads);
    }
  }
  double t = tensorParallel;
  plan.weightBytesPerGpu = profile.weightBytes / t + replicated * (1.0 - 1.0 / t);
  double kvShards = std::min<double>(t, std::max<uint32_t>(kvHeads, 1));
  plan.kvBytesPerTokenPerGpu = profile.kvBytesPerToken / kvShards;
  double usable = gpu.memoryBytes * gpu.usableMemoryFraction;
  double free = usable - plan.weightBytesPerGpu;
  if (free <= 0) {
    return makeError(fmt::format(
        "{} does not fit on {} x {}: {:.1f} GB of weights per GPU, {:.1f} GB usable "
        "(memory.bytes x memory.usable_fraction); use more tensor parallelism or smaller "
        "weights",
        profile.name, tensorParallel, gpu.name, plan.weightBytesPerGpu / 1e9, usable / 1e9));
  }
  // A profile without a KV cache (e.g. a bare matmul in a test) never runs out of it.
  plan.kvTokenCapacity = plan.kvBytesPerTokenPerGpu > 0 ? free / plan.kvBytesPerTokenPerGpu
                                                        : std::numeric_limits<double>::infinity();
  return plan;
}

} // namespace conveyor::gpu
