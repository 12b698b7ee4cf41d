// Partition planner: chooses tensor-parallel degree and pipeline stages under SRAM capacity.
//
// Every formula here is written out in docs/partition.md; keep the two in step.
#include "conveyor/Partition/Planner.h"
#include "conveyor/System/SramMap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace conveyor::partition {

namespace {

constexpr uint64_t kInt4ScaleGroup = 128; // one fp16 scale per 128 int4 weights (GPTQ/AWQ-style)
constexpr uint64_t kScaleBytes = 2;       // scales are fp16
// Units a decode layer runs in sequence (docs/partition.md, "fixed latencies"): the matmul
// groups qkv, o, gate+up, down, and the VXM ops 2 norms x 3, rope, softmax x 3, activation,
// 2 residual adds.
constexpr uint64_t kMatmulsPerLayer = 4;
constexpr uint64_t kVxmOpsPerLayer = 13;
// Attention logits are held in fp32 (GB25: FP32 attention logits).
constexpr uint64_t kLogitBytes = 4;

uint64_t ceilDiv(uint64_t a, uint64_t b) { return b == 0 ? 0 : (a + b - 1) / b; }

uint64_t bytesOf(uint64_t elements, DType type) {
  return ceilDiv(elements * system::dtypeBits(type), 8);
}

bool isQuantised(DType type) {
  return type == DType::INT8 || type == DType::INT4 || type == DType::FP8;
}

/// Weight bytes at the stored precision plus quantisation scales. `scaleGroup` is the number
/// of weights that share one fp16 scale for int8/fp8 (per output channel: the input length).
struct WeightBytes {
  uint64_t bytes = 0, scales = 0;
  WeightBytes &operator+=(const WeightBytes &other) {
    bytes += other.bytes;
    scales += other.scales;
    return *this;
  }
};

WeightBytes matrixBytes(uint64_t elements, DType type, uint64_t channelLength) {
  WeightBytes out;
  out.bytes = bytesOf(elements, type);
  if (isQuantised(type)) {
    const uint64_t group =
        type == DType::INT4 ? kInt4ScaleGroup : std::max<uint64_t>(1, channelLength);
    out.scales = ceilDiv(elements, group) * kScaleBytes;
    out.bytes += out.scales;
  }
  return out;
}

/// The precision the MXM runs a matmul at: int8 when both operands are 8-bit integers (int4
/// weights widen to int8 on the way in), the chip's 8-bit float mode when it has one and both
/// are fp8, otherwise the chip's float rate (TSP: fp16; f32 is timed at fp16).
DType mxmTiming(DType weights, DType activations, const system::ChipConfig &chip) {
  auto has = [&](DType type) { return chip.mxm.macsPerCycle.count(type) != 0; };
  const bool intWeights = weights == DType::INT8 || weights == DType::INT4;
  if (intWeights && activations == DType::INT8 && has(DType::INT8)) {
    return DType::INT8;
  }
  if (weights == DType::FP8 && activations == DType::FP8 && has(DType::FP8)) {
    return DType::FP8;
  }
  if ((weights == DType::BF16 || activations == DType::BF16) && has(DType::BF16)) {
    return DType::BF16;
  }
  return chip.mxm.floatTimingAs;
}

/// Everything the layout search needs, precomputed for one tp degree.
struct Shards {
  uint32_t tp = 1;
  uint32_t kvSplit = 1;                      // min(tp, kvHeads): how many ways K/V are split
  // The shard pass splits a weight only along a dimension tp divides, else keeps it whole on
  // every rank: the MLP / experts by ffn columns, the embedding and LM head by vocab rows.
  uint32_t ffnSplit = 1, vocabSplit = 1;
  std::vector<WeightBytes> layerWeights;     // per layer, one chip's shard
  std::vector<uint64_t> layerKv;             // per layer, one chip's KV bytes
  std::vector<uint64_t> layerActiveElements; // per layer, weights one chip reads per step
  std::vector<uint64_t> layerKvElementsRead; // per layer, K/V elements one chip reads per step
  WeightBytes embedding, lmHead;             // one chip's shard of each table
  uint64_t finalNorm = 0;                    // final norm bytes (replicated on the last stage)
  uint64_t lmHeadElements = 0;               // one chip's LM head elements (read each step)
  uint64_t activation = 0;                   // working set of any chip
  uint64_t logits = 0;                       // extra working set on the last stage
};

} // namespace

uint32_t maxLowerableTp(const system::ChipConfig &chip) { return chip.c2c.links + 1; }

bool lowerableTpGroup(const system::SystemConfig &system, uint32_t firstChip, uint32_t tp) {
  if (tp <= 1) {
    return true;
  }
  if (tp > maxLowerableTp(system.chip)) {
    return false;
  }
  const system::FabricConfig &fabric = system.fabric;
  const uint32_t perNode = std::max<uint32_t>(1, fabric.chipsPerNode);
  if ((fabric.topology == system::Topology::FullyConnected &&
       fabric.chips <= system.chip.c2c.links + 1) ||
      tp <= perNode) {
    return true;
  }
  // Wider than a node: the peers of one other node take ports perNode-1 .. 2*perNode-2; a
  // third node would reuse them, and the pipeline link (the last port) must stay free.
  return firstChip % perNode == 0 && tp <= 2 * perNode && 2 * perNode - 1 <= system.chip.c2c.links - 1;
}

namespace {

bool validTp(const ModelSummary &model, uint32_t tp) {
  if (tp == 0 || model.heads == 0 || model.heads % tp != 0) {
    return false;
  }
  const uint64_t kvHeads = model.kvHeads ? model.kvHeads : model.heads;
  return kvHeads % tp == 0 || tp % kvHeads == 0;
}

Shards makeShards(const ModelSummary &model, const PlanOptions &options, uint32_t tp,
                  const system::ChipConfig &chip) {
  Shards s;
  s.tp = tp;
  const uint64_t kvHeads = model.kvHeads ? model.kvHeads : model.heads;
  s.kvSplit = uint32_t(std::min<uint64_t>(tp, kvHeads));
  s.ffnSplit = model.ffn % tp == 0 ? tp : 1;
  s.vocabSplit = model.vocab % tp == 0 ? tp : 1;
  const DType w = options.weights;
  const uint64_t hidden = std::max<uint64_t>(1, model.hidden);
  const uint64_t ffnLength = std::max<uint64_t>(1, model.ffn);
  const uint64_t seqs = uint64_t(std::max<int64_t>(1, options.seqsInFlight));
  for (const LayerSummary &layer : model.layers) {
    WeightBytes shard;
    shard += matrixBytes(ceilDiv(layer.attnQ, tp), w, hidden);
    shard += matrixBytes(ceilDiv(layer.attnK, s.kvSplit), w, hidden);
    shard += matrixBytes(ceilDiv(layer.attnV, s.kvSplit), w, hidden);
    shard += matrixBytes(ceilDiv(layer.attnO, tp), w, hidden);
    shard += matrixBytes(ceilDiv(layer.mlpGate, s.ffnSplit), w, hidden);
    shard += matrixBytes(ceilDiv(layer.mlpUp, s.ffnSplit), w, hidden);
    shard += matrixBytes(ceilDiv(layer.mlpDown, s.ffnSplit), w, ffnLength);
    shard += matrixBytes(ceilDiv(layer.experts, s.ffnSplit), w, hidden);
    shard += matrixBytes(layer.router, w, hidden);            // replicated: every rank routes
    shard.bytes += bytesOf(layer.norms, options.activations); // replicated, not quantised
    s.layerWeights.push_back(shard);

    const uint64_t context =
        uint64_t(layer.slidingWindow > 0 ? std::min(layer.slidingWindow, options.maxContext)
                                         : options.maxContext);
    const uint64_t kvPerToken = ceilDiv(layer.kvElementsPerToken, s.kvSplit);
    s.layerKv.push_back(bytesOf(kvPerToken * context * seqs, options.kv));
    s.layerKvElementsRead.push_back(kvPerToken * context * seqs);

    // Weights read per step: with B sequences, up to min(E, B * topK) experts are touched.
    uint64_t experts = 0;
    if (layer.experts > 0 && layer.numExperts > 0) {
      const uint64_t touched =
          std::min<uint64_t>(layer.numExperts, uint64_t(std::max<uint32_t>(1, layer.topK)) * seqs);
      experts = ceilDiv(layer.experts * touched / layer.numExperts, s.ffnSplit);
    }
    s.layerActiveElements.push_back(
        ceilDiv(layer.attnQ, tp) + ceilDiv(layer.attnK, s.kvSplit) +
        ceilDiv(layer.attnV, s.kvSplit) + ceilDiv(layer.attnO, tp) +
        ceilDiv(layer.mlpGate, s.ffnSplit) + ceilDiv(layer.mlpUp, s.ffnSplit) +
        ceilDiv(layer.mlpDown, s.ffnSplit) + experts + layer.router);
  }
  s.embedding = matrixBytes(ceilDiv(model.embeddingElements, s.vocabSplit), w, hidden);
  const uint64_t lmHeadElements =
      model.tiedEmbedding ? model.embeddingElements : model.lmHeadElements;
  s.lmHeadElements = ceilDiv(lmHeadElements, s.vocabSplit);
  s.lmHead = matrixBytes(s.lmHeadElements, w, hidden);
  s.finalNorm = bytesOf(model.finalNormElements, options.activations);

  // Decode working set per chip: residual stream, normed input, attention output and
  // residual sum (4 x hidden), q/k/v of this rank's heads, the MLP's intermediate values
  // (gate, up, product: 3 x ffn/tp, x top_k for MoE), fp32 logits over the context.
  const uint64_t actBytes =
      system::dtypeBits(options.activations) / 8 ? system::dtypeBits(options.activations) / 8 : 1;
  const uint64_t headsPerRank = ceilDiv(model.heads, tp);
  const uint64_t mlpWidth = ceilDiv(model.ffn, s.ffnSplit) * std::max<uint32_t>(1, model.topK);
  uint64_t maxContext = 0;
  for (const LayerSummary &layer : model.layers) {
    maxContext = std::max<uint64_t>(
        maxContext, layer.slidingWindow > 0 ? std::min(layer.slidingWindow, options.maxContext)
                                            : options.maxContext);
  }
  s.activation =
      seqs * (actBytes * (4 * model.hidden + 3 * headsPerRank * model.headDim + 3 * mlpWidth) +
              kLogitBytes * headsPerRank * maxContext);
  s.logits = seqs * kLogitBytes * ceilDiv(model.vocab, s.vocabSplit);
  (void)chip;
  return s;
}

/// A layout: stage boundaries (layer counts) for one tp.
struct Layout {
  std::vector<uint32_t> layerCounts; // one per stage (a stage may hold 0 layers)
  bool uniform = false;
  uint32_t layersPerStage = 0;
};

/// Bytes one chip of a stage holds (everything but the reserve).
struct StageBytes {
  uint64_t weights = 0, scales = 0, kv = 0, activation = 0;
  uint64_t total() const { return weights + kv + activation; }
};

StageBytes stageBytes(const Shards &s, uint32_t first, uint32_t count, bool isFirst,
                      bool isLast) {
  StageBytes b;
  for (uint32_t l = first; l < first + count; ++l) {
    b.weights += s.layerWeights[l].bytes;
    b.scales += s.layerWeights[l].scales;
    b.kv += s.layerKv[l];
  }
  if (isFirst) {
    b.weights += s.embedding.bytes;
    b.scales += s.embedding.scales;
  }
  // A tied table is stored once per use: the embedding's rows and the LM head's transposed
  // copy (graph fuse-transformer gives the head its own `<table>.lm_head_t`).
  if (isLast) {
    b.weights += s.lmHead.bytes;
    b.scales += s.lmHead.scales;
  }
  if (isLast) {
    b.weights += s.finalNorm;
  }
  b.activation = s.activation + (isLast ? s.logits : 0);
  return b;
}

uint64_t usableBytes(uint64_t capacity, const PlanOptions &options) {
  const uint64_t reserve = uint64_t(std::floor(double(capacity) * options.sramReserveFraction));
  return capacity > reserve ? capacity - reserve : 0;
}

bool layoutFits(const ModelSummary &model, const Shards &s, const Layout &layout, uint64_t usable) {
  uint32_t first = 0;
  const size_t stages = layout.layerCounts.size();
  for (size_t i = 0; i < stages; ++i) {
    StageBytes b =
        stageBytes(s, first, layout.layerCounts[i], i == 0, i + 1 == stages);
    if (b.total() > usable) {
      return false;
    }
    first += layout.layerCounts[i];
  }
  return true;
}

/// Fewest contiguous stages for this tp: fill each stage with as many layers as fit. Greedy
/// is optimal for splitting an ordered list into the fewest segments under one capacity.
/// A stage may hold no layer: the embedding alone first, or the LM head alone last.
/// Stages filled front to back, each with as many layers as fit. `layersEverywhere` (the
/// compile's fallback: the shard pass builds a stage from its layer body) gives every stage
/// at least one layer: an LM head that fits beside no layer of the last full stage takes the
/// last layer of that stage with it instead of a stage of its own, and an embedding that
/// fits beside no layer makes the layout fail.
std::optional<Layout> greedyLayout(const ModelSummary &model, const Shards &s, uint64_t usable,
                                   bool layersEverywhere = false) {
  const uint32_t layers = uint32_t(model.layers.size());
  Layout layout;
  uint32_t first = 0;
  while (true) {
    const bool isFirst = layout.layerCounts.empty();
    uint32_t count = 0;
    while (first + count < layers &&
           stageBytes(s, first, count + 1, isFirst, false).total() <= usable) {
      ++count;
    }
    if (first + count == layers) {
      if (stageBytes(s, first, count, isFirst, true).total() <= usable) {
        layout.layerCounts.push_back(count);
        return layout;
      }
      // The LM head does not fit beside the last layers: it gets a stage of its own.
      if (count == 0 && !isFirst) {
        return std::nullopt;
      }
      if (layersEverywhere) {
        // ... with the last layer of the stage before it, which keeps at least one.
        if (count < 2 || stageBytes(s, layers - 1, 1, false, true).total() > usable) {
          return std::nullopt;
        }
        layout.layerCounts.push_back(count - 1);
        layout.layerCounts.push_back(1);
        return layout;
      }
      layout.layerCounts.push_back(count);
      if (stageBytes(s, layers, 0, false, true).total() > usable) {
        return std::nullopt;
      }
      layout.layerCounts.push_back(0);
      return layout;
    }
    if (count == 0) {
      // Not one more layer fits a fresh stage; only an embedding-only first stage is useful.
      if (!isFirst || layersEverywhere || stageBytes(s, first, 0, true, false).total() > usable ||
          stageBytes(s, first, 1, false, false).total() > usable) {
        return std::nullopt;
      }
    }
    layout.layerCounts.push_back(count);
    first += count;
  }
}

Layout uniformLayout(uint32_t layers, uint32_t perStage) {
  Layout layout;
  layout.uniform = true;
  layout.layersPerStage = perStage;
  for (uint32_t first = 0; first < layers; first += perStage) {
    layout.layerCounts.push_back(std::min(perStage, layers - first));
  }
  if (layout.layerCounts.empty()) {
    layout.layerCounts.push_back(0);
  }
  return layout;
}

/// `stages` contiguous ranges of near-equal size, the longer ones first (what the shard pass
/// does with a stage count alone).
Layout balancedLayout(uint32_t layers, uint32_t stages) {
  Layout layout;
  for (uint32_t i = 0; i < stages; ++i) {
    layout.layerCounts.push_back(layers / stages + (i < layers % stages ? 1 : 0));
  }
  return layout;
}

std::vector<uint32_t> candidateTps(const ModelSummary &model, const PlanOptions &options,
                                   const system::ChipConfig &chip, uint32_t maxChips) {
  std::vector<uint32_t> tps;
  if (options.tensorParallel) {
    if (*options.tensorParallel <= maxLowerableTp(chip)) {
      tps.push_back(*options.tensorParallel);
    }
    return tps;
  }
  const uint32_t lowerable = maxLowerableTp(chip);
  for (uint32_t tp = 1; tp <= std::max<uint64_t>(1, model.heads) && tp <= maxChips && tp <= lowerable;
       ++tp) {
    if (validTp(model, tp)) {
      tps.push_back(tp);
    }
  }
  return tps;
}

/// The compile's fallback applies: near-equal ranges only, none forced, greedy allowed when
/// none fits (PlanOptions::unequalFallback).
bool greedyFallback(const PlanOptions &options) {
  return options.unequalFallback && options.nearEqualStagesOnly && !options.layersPerStage &&
         !options.pipelineStages && options.stageLayers.empty();
}

/// Stage ranges to try for `tp`: the forced uniform size, or near-equal ranges for every
/// stage count, under the options' layout rule (the greedy layout is added by the callers).
std::vector<Layout> optionLayouts(uint32_t layers, const PlanOptions &options) {
  std::vector<Layout> layouts;
  if (!options.stageLayers.empty()) {
    Layout forced;
    forced.layerCounts = options.stageLayers;
    layouts.push_back(forced);
  } else if (options.pipelineStages) {
    layouts.push_back(balancedLayout(layers, *options.pipelineStages));
  } else if (options.layersPerStage && options.nearEqualStagesOnly) {
    // The shard pass gets a stage count: K layers per stage is ceil(layers / K) near-equal
    // stages, whose longest range is K or less.
    layouts.push_back(balancedLayout(
        layers, uint32_t(ceilDiv(layers, std::max<uint32_t>(1, *options.layersPerStage)))));
  } else if (options.layersPerStage) {
    layouts.push_back(uniformLayout(layers, *options.layersPerStage));
  } else {
    for (uint32_t stages = 1; stages <= layers; ++stages) {
      layouts.push_back(balancedLayout(layers, stages));
    }
    for (uint32_t k = 1; k <= layers && !options.nearEqualStagesOnly; ++k) {
      layouts.push_back(uniformLayout(layers, k));
    }
  }
  return layouts;
}

/// A system of `system`'s kind holds `chips` chips only in whole nodes above one node.
uint32_t wholeSystemSize(const system::SystemConfig &system, uint32_t chips) {
  const uint32_t perNode = std::max<uint32_t>(1, system.fabric.chipsPerNode);
  if (system.fabric.chips <= 1 || chips <= perNode) {
    return chips;
  }
  return (chips + perNode - 1) / perNode * perNode;
}

std::optional<std::vector<StagePlan>> makeStages(const Layout &layout, uint32_t tp,
                                                 const system::SystemConfig &system,
                                                 bool alignToGroups, bool align = true);

/// Fewest chips for this capacity over every tp (0 when none fits). With `fabric`: the
/// smallest system of its kind (whole nodes) on which the layout can also be placed.
uint32_t minimumChipsAt(const ModelSummary &model, const system::ChipConfig &chip,
                        const PlanOptions &options, uint64_t capacity,
                        const system::SystemConfig *fabric = nullptr) {
  const uint64_t usable = usableBytes(capacity, options);
  const uint32_t layers = uint32_t(model.layers.size());
  uint64_t best = 0;
  for (uint32_t tp : candidateTps(model, options, chip, std::numeric_limits<uint32_t>::max())) {
    if (!validTp(model, tp)) {
      continue;
    }
    Shards s = makeShards(model, options, tp, chip);
    std::optional<Layout> layout;
    if (options.layersPerStage || options.pipelineStages || options.nearEqualStagesOnly) {
      // Fewest stages first: near-equal layouts come in stage-count order.
      for (const Layout &candidate : optionLayouts(layers, options)) {
        if (layoutFits(model, s, candidate, usable) &&
            (!layout || candidate.layerCounts.size() < layout->layerCounts.size())) {
          layout = candidate;
          if (options.nearEqualStagesOnly) {
            break;
          }
        }
      }
    } else {
      layout = greedyLayout(model, s, usable);
    }
    if (greedyFallback(options)) {
      // The compile falls back to the greedy layout when no near-equal one fits: on the
      // fewest chips that is the greedy one whenever it needs fewer stages.
      if (std::optional<Layout> greedy = greedyLayout(model, s, usable, true);
          greedy && (!layout || greedy->layerCounts.size() < layout->layerCounts.size())) {
        layout = greedy;
      }
    }
    if (!layout) {
      continue;
    }
    uint64_t chips = uint64_t(tp) * layout->layerCounts.size();
    if (fabric && fabric->fabric.chips > 1) {
      // The tp groups must be lowerable where the layout puts them on such a system.
      chips = wholeSystemSize(*fabric, uint32_t(std::min<uint64_t>(chips, UINT32_MAX)));
      if (!makeStages(*layout, tp, resizedSystem(*fabric, uint32_t(chips)),
                      options.alignStagesToGroups)) {
        continue;
      }
    }
    if (best == 0 || chips < best) {
      best = chips;
    }
  }
  return best > std::numeric_limits<uint32_t>::max() ? 0 : uint32_t(best);
}

// --- latency ---------------------------------------------------------------------------

struct Fabric {
  const system::SystemConfig &system;
  double hopSeconds() const { return double(system.chip.c2c.latencyCycles) / system.chip.clockHz; }
  double linkBytesPerSecond() const {
    return double(system.chip.c2c.lanesPerLink) * system.chip.c2c.gbpsPerLane * 1e9 / 8.0;
  }
};

/// All-reduce of `bytes` among `chips` (one tp group): reduce-scatter + all-gather, direct on
/// the full mesh inside a node, hierarchical (node, then between nodes over global links)
/// when the group spans nodes.
double allReduceSeconds(const std::vector<uint32_t> &chips, double bytes, const Fabric &fabric) {
  if (chips.size() <= 1) {
    return 0;
  }
  const system::FabricConfig &f = fabric.system.fabric;
  const double hop = fabric.hopSeconds(), link = fabric.linkBytesPerSecond();
  std::vector<uint32_t> nodes;
  uint32_t worstHops = 1;
  for (uint32_t c : chips) {
    if (std::find(nodes.begin(), nodes.end(), f.nodeOf(c)) == nodes.end()) {
      nodes.push_back(f.nodeOf(c));
    }
    worstHops = std::max(worstHops, f.hopsBetween(chips.front(), c));
  }
  const double perNode = double(chips.size()) / double(nodes.size());
  const double inside = perNode > 1 ? 2.0 * (hop + bytes / perNode / link) : 0;
  if (nodes.size() == 1 || worstHops == 1) {
    // One node, or a fully connected fabric: one direct exchange per phase.
    return nodes.size() == 1 ? inside : 2.0 * (hop + bytes / double(chips.size()) / link);
  }
  const double n = double(nodes.size());
  const double global = std::max<uint32_t>(1, f.effectiveGlobalLinks(fabric.system.chip.c2c.links));
  const double shard = bytes / perNode;
  const double between =
      2.0 * (worstHops * hop + shard * (n - 1) / n / (std::min(global, n - 1) * link));
  return inside + between;
}

double sendSeconds(uint32_t from, uint32_t to, double bytes, const Fabric &fabric) {
  if (from == to) {
    return 0;
  }
  return fabric.system.fabric.hopsBetween(from, to) * fabric.hopSeconds() +
         bytes / fabric.linkBytesPerSecond();
}

LatencyEstimate estimateLatency(const ModelSummary &model, const Shards &s,
                                const std::vector<StagePlan> &stages,
                                const system::SystemConfig &system, const PlanOptions &options) {
  const system::ChipConfig &chip = system.chip;
  const Fabric fabric{system};
  const double hz = chip.clockHz;
  const DType weightTiming = mxmTiming(options.weights, options.activations, chip);
  const DType kvTiming = mxmTiming(options.kv, options.activations, chip);
  const double sramBytesPerCycle =
      double(chip.mem.slices) * chip.mem.banksPerSlice * chip.vectorBytes;
  const double installBytesPerCycle =
      std::min<double>(double(chip.mxm.weightLoadBytesPerCycle), sramBytesPerCycle);
  const double weightMacs = double(chip.mxm.macsPerCycle.count(weightTiming)
                                       ? chip.mxm.macsPerCycle.at(weightTiming)
                                       : chip.mxm.macsPerCycle.at(chip.mxm.floatTimingAs));
  const double kvMacs = double(chip.mxm.macsPerCycle.count(kvTiming)
                                   ? chip.mxm.macsPerCycle.at(kvTiming)
                                   : chip.mxm.macsPerCycle.at(chip.mxm.floatTimingAs));
  const double weightElementBytes = system::dtypeBits(weightTiming) / 8.0;
  const double kvElementBytes = system::dtypeBits(kvTiming) / 8.0;
  const double seqs = double(std::max<int64_t>(1, options.seqsInFlight));
  const double actBytes = std::max(1.0, system::dtypeBits(options.activations) / 8.0);
  const double activationMessage = seqs * double(model.hidden) * actBytes;
  const double fixedPerLayer =
      double(kMatmulsPerLayer * (chip.mem.latencyCycles + chip.mxm.latencyCycles) +
             kVxmOpsPerLayer * chip.vxm.latencyCycles) /
      hz;

  LatencyEstimate est;
  auto addMatmul = [&](double elements, double elementBytes, double macs, double macRate) {
    const double load = elements * elementBytes / installBytesPerCycle;
    const double compute = macs / macRate;
    est.weightLoad += load / hz;
    est.compute += std::max(0.0, compute - load) / hz;
  };
  for (const StagePlan &stage : stages) {
    for (uint32_t l = stage.firstLayer; l < stage.firstLayer + stage.layerCount; ++l) {
      const double active = double(s.layerActiveElements[l]);
      addMatmul(active, weightElementBytes, active * seqs, weightMacs);
      // Attention: QK^T and PV read this rank's K and V once per step, through the MXM.
      const double kvRead = double(s.layerKvElementsRead[l]);
      addMatmul(kvRead, kvElementBytes, kvRead * double(s.tp) / double(s.kvSplit), kvMacs);
      est.fixed += fixedPerLayer;
      est.collectives += 2 * allReduceSeconds(stage.chips, activationMessage, fabric);
    }
    if (stage.holdsLmHead) {
      const double elements = double(s.lmHeadElements);
      addMatmul(elements, weightElementBytes, elements * seqs, weightMacs);
      // Argmax across the vocab shards: a tiny all-reduce (value + index per sequence).
      est.collectives += allReduceSeconds(stage.chips, seqs * 8, fabric);
    }
  }
  // Activations hop from each stage to the next; the sampled token returns to the first.
  for (size_t i = 0; i + 1 < stages.size(); ++i) {
    double worst = 0;
    for (size_t r = 0; r < stages[i].chips.size(); ++r) {
      worst = std::max(worst, sendSeconds(stages[i].chips[r], stages[i + 1].chips[r],
                                          activationMessage, fabric));
    }
    est.pipelineHops += worst;
  }
  if (stages.size() > 1) {
    est.pipelineHops +=
        sendSeconds(stages.back().chips.front(), stages.front().chips.front(), seqs * 4, fabric);
  }
  return est;
}

uint32_t roundUp(uint32_t value, uint32_t unit) {
  return unit ? (value + unit - 1) / unit * unit : value;
}

/// Places stages on consecutive chip ids, but never lets a tensor-parallel group straddle a
/// node (when it fits in one) or a dragonfly group (when it fits in one): its all-reduces
/// would then take 3 or 5 hops instead of 1 or 3. std::nullopt when the fabric runs out.
std::optional<std::vector<StagePlan>> makeStages(const Layout &layout, uint32_t tp,
                                                 const system::SystemConfig &system,
                                                 bool alignToGroups, bool align) {
  const system::FabricConfig &fabric = system.fabric;
  const uint32_t perNode = std::max<uint32_t>(1, fabric.chipsPerNode);
  const uint32_t perGroup = fabric.topology == system::Topology::Dragonfly
                                ? perNode * std::max<uint32_t>(1, fabric.nodesPerGroup)
                                : 0;
  std::vector<StagePlan> stages;
  uint32_t first = 0, nextChip = 0;
  for (size_t i = 0; i < layout.layerCounts.size(); ++i) {
    uint32_t start = nextChip;
    if (!align || !alignToGroups) {
      // Dense placement: used when the aligned one runs out of chips.
    } else if (tp <= perNode) {
      if (start / perNode != (start + tp - 1) / perNode) {
        start = roundUp(start, perNode);
      }
    } else {
      start = roundUp(start, perNode);
      if (perGroup && tp <= perGroup && start / perGroup != (start + tp - 1) / perGroup) {
        start = roundUp(start, perGroup);
      }
    }
    if (uint64_t(start) + tp > fabric.chips) {
      return align && alignToGroups ? makeStages(layout, tp, system, true, false) : std::nullopt;
    }
    if (!lowerableTpGroup(system, start, tp)) {
      return std::nullopt;
    }
    StagePlan stage;
    stage.index = uint32_t(i);
    stage.firstLayer = first;
    stage.layerCount = layout.layerCounts[i];
    stage.tp = tp;
    for (uint32_t r = 0; r < tp; ++r) {
      stage.chips.push_back(start + r);
    }
    stage.holdsEmbedding = i == 0;
    stage.holdsLmHead = i + 1 == layout.layerCounts.size();
    first += stage.layerCount;
    nextChip = start + tp;
    stages.push_back(std::move(stage));
  }
  return stages;
}

std::string gigabytes(uint64_t bytes) { return fmt::format("{:.1f} GB", double(bytes) / 1e9); }
std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", double(bytes) / 1e6); }

std::string refusalMessage(const ModelSummary &model, const system::SystemConfig &system,
                           const PlanOptions &options, const Footprint &footprint,
                           uint32_t minChips, uint64_t sramNeeded) {
  const uint32_t chips = system.fabric.chips;
  const uint64_t sram = system.chip.sramBytes();
  const char *precision = system::dtypeName(options.weights);
  std::string message = fmt::format(
      "{} at {} needs {} of weights + {} KV ({} tokens x {} seqs at {}) but {} has {} of SRAM "
      "({} x {})",
      model.name, precision, gigabytes(footprint.weightBytes), gigabytes(footprint.kvBytes),
      options.maxContext, options.seqsInFlight, system::dtypeName(options.kv), system.name,
      gigabytes(uint64_t(chips) * sram), chips, megabytes(sram));
  if (minChips > 0) {
    message += fmt::format(
        "; the minimum is {} chips at {} with tp <= {} (a direct all-reduce needs one of the "
        "chip's {} C2C links per peer){}",
        minChips, precision, maxLowerableTp(system.chip), system.chip.c2c.links,
        options.nearEqualStagesOnly
            ? fmt::format(", near-equal layer ranges or, when none fits, stages filled front to "
                          "back with at least one layer each (the layouts the shard pass "
                          "builds) and {:.0f}% of SRAM reserved, as the compile plans "
                          "(--min-chips reports the same)",
                          options.sramReserveFraction * 100)
            : "");
    if (sramNeeded > 0) {
      message += fmt::format(" (or {} of SRAM per chip on {} chips)", megabytes(sramNeeded), chips);
    }
  } else if (options.tensorParallel || options.layersPerStage || options.pipelineStages) {
    std::string forced;
    if (options.tensorParallel) {
      forced += fmt::format(" --tp {}", *options.tensorParallel);
    }
    if (options.layersPerStage) {
      forced += fmt::format(" --layers-per-stage {}", *options.layersPerStage);
    }
    if (options.pipelineStages) {
      forced += fmt::format(" {} pipeline stages", *options.pipelineStages);
    }
    message += fmt::format("; no layout fits at {} with{}: drop or change them", precision, forced);
  } else {
    message += fmt::format("; no chip count fits at {}: one layer's shard exceeds a chip even at "
                           "the widest tensor split the compiler can lower (tp <= {}: a direct "
                           "all-reduce needs one of the chip's {} C2C links per peer, and a tp "
                           "group spans at most two nodes)",
                           precision, maxLowerableTp(system.chip), system.chip.c2c.links);
  }
  // Suggest the widest narrower weight precision that fits this system.
  std::string hint;
  for (DType narrower : {DType::INT8, DType::FP8, DType::INT4}) {
    if (system::dtypeBits(narrower) >= system::dtypeBits(options.weights)) {
      continue;
    }
    PlanOptions other = options;
    other.weights = narrower;
    const uint32_t need = minimumChips(model, system, other);
    if (need > 0 && need <= chips) {
      hint = fmt::format("try --weights {}", system::dtypeName(narrower));
      break;
    }
  }
  message += "; " + (hint.empty() ? std::string("try") : hint + " or") +
             " a larger --system, a shorter --max-context or fewer --seqs";
  return message;
}

} // namespace

bool Plan::nearEqualStages() const {
  if (stages.empty()) {
    return false;
  }
  uint32_t layers = 0;
  for (const StagePlan &stage : stages) {
    layers += stage.layerCount;
  }
  return balancedLayout(layers, uint32_t(stages.size())).layerCounts == [&] {
    std::vector<uint32_t> counts;
    for (const StagePlan &stage : stages) {
      counts.push_back(stage.layerCount);
    }
    return counts;
  }();
}

bool Plan::denseChips() const {
  for (const StagePlan &stage : stages) {
    for (uint32_t r = 0; r < stage.chips.size(); ++r) {
      if (stage.chips[r] != stage.index * stage.tp + r) {
        return false;
      }
    }
  }
  return true;
}

uint64_t LayerSummary::activeWeights() const {
  uint64_t routed = experts;
  if (numExperts > 0 && topK > 0) {
    routed = experts / numExperts * topK;
  }
  return attentionWeights() + mlpGate + mlpUp + mlpDown + routed + router + norms;
}

uint64_t ModelSummary::totalWeights() const {
  uint64_t total = embeddingElements + (tiedEmbedding ? 0 : lmHeadElements) + finalNormElements;
  for (const LayerSummary &layer : layers) {
    total += layer.totalWeights();
  }
  return total;
}

uint64_t ModelSummary::kvElementsPerToken() const {
  uint64_t total = 0;
  for (const LayerSummary &layer : layers) {
    total += layer.kvElementsPerToken;
  }
  return total;
}

ModelSummary makeDecoderSummary(const DecoderShape &shape) {
  ModelSummary m;
  m.name = shape.name;
  m.hidden = shape.hidden;
  m.heads = shape.heads;
  m.kvHeads = shape.kvHeads ? shape.kvHeads : shape.heads;
  m.headDim = shape.headDim ? shape.headDim : (shape.heads ? shape.hidden / shape.heads : 0);
  m.ffn = shape.ffn;
  m.vocab = shape.vocab;
  m.experts = shape.experts;
  m.topK = shape.topK;
  m.tiedEmbedding = shape.tiedEmbedding;
  m.embeddingElements = shape.vocab * shape.hidden + shape.positionEmbedding * shape.hidden;
  m.maxPositions = shape.positionEmbedding;
  m.lmHeadElements = shape.tiedEmbedding ? 0 : shape.vocab * shape.hidden;
  const uint64_t normElements = shape.layerNorm ? 2 * shape.hidden : shape.hidden;
  m.finalNormElements = normElements;
  const uint64_t qWidth = m.heads * m.headDim, kvWidth = m.kvHeads * m.headDim;
  for (uint32_t i = 0; i < shape.layers; ++i) {
    LayerSummary layer;
    const uint64_t attnBias = shape.attentionBias ? 1 : 0, mlpBias = shape.mlpBias ? 1 : 0;
    layer.attnQ = shape.hidden * qWidth + attnBias * qWidth;
    layer.attnK = shape.hidden * kvWidth + attnBias * kvWidth;
    layer.attnV = shape.hidden * kvWidth + attnBias * kvWidth;
    layer.attnO = qWidth * shape.hidden + attnBias * shape.hidden;
    const uint64_t up = shape.hidden * shape.ffn + mlpBias * shape.ffn;
    const uint64_t down = shape.ffn * shape.hidden + mlpBias * shape.hidden;
    const uint64_t expertWeights = (shape.gatedMlp ? 2 * up : up) + down;
    if (shape.experts > 0) {
      layer.experts = shape.experts * expertWeights;
      layer.router = shape.hidden * shape.experts;
      layer.numExperts = shape.experts;
      layer.topK = shape.topK;
    } else {
      layer.mlpGate = shape.gatedMlp ? up : 0;
      layer.mlpUp = up;
      layer.mlpDown = down;
    }
    layer.norms = 2 * normElements;
    layer.kvElementsPerToken = 2 * kvWidth;
    layer.slidingWindow = (shape.slidingWindow > 0 && i % 2 == 0) ? shape.slidingWindow : 0;
    m.layers.push_back(layer);
  }
  return m;
}

Footprint modelFootprint(const ModelSummary &model, const PlanOptions &options) {
  Footprint f;
  const system::ChipConfig unused;
  Shards s = makeShards(model, options, 1, unused);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    f.weightBytes += s.layerWeights[l].bytes;
    f.kvBytes += s.layerKv[l];
  }
  f.weightBytes += s.embedding.bytes + (model.tiedEmbedding ? 0 : s.lmHead.bytes) + s.finalNorm;
  return f;
}

uint32_t minimumChips(const ModelSummary &model, const system::ChipConfig &chip,
                      const PlanOptions &options) {
  return minimumChipsAt(model, chip, options, chip.sramBytes());
}

system::SystemConfig resizedSystem(const system::SystemConfig &system, uint32_t chips) {
  system::SystemConfig out = system;
  out.fabric.chips = chips;
  if (system.fabric.chips <= 1 && chips > 1) {
    // A one-chip file has no fabric to extend: one node of every chip, so that only the
    // chip's own limits (C2C links per tp group) apply, as minimumChips counts them.
    out.fabric.chipsPerNode = chips;
    out.fabric.topology = system::Topology::FullyConnected;
  } else if (chips <= std::max<uint32_t>(1, system.fabric.chipsPerNode)) {
    out.fabric.chipsPerNode = std::max<uint32_t>(1, chips);
    out.fabric.topology =
        chips <= 1 ? system::Topology::Single : system::Topology::FullyConnected;
  }
  return out;
}

uint32_t minimumChips(const ModelSummary &model, const system::SystemConfig &system,
                      const PlanOptions &options) {
  return minimumChipsAt(model, system.chip, options, system.chip.sramBytes(), &system);
}

PlanOptions compiledPlanOptions(PlanOptions options, bool reserveGiven) {
  options.compiledLayout = true;
  options.nearEqualStagesOnly = true;
  options.unequalFallback = true;
  options.alignStagesToGroups = false;
  if (!reserveGiven) {
    options.sramReserveFraction = kCompiledSramReserve;
  }
  return options;
}

static uint64_t minimumSramPerChipOn(const ModelSummary &model, const system::ChipConfig &chip,
                                     uint32_t chips, const PlanOptions &options,
                                     const system::SystemConfig *fabric) {
  auto fitsWith = [&](uint64_t capacity) {
    const uint32_t need = minimumChipsAt(model, chip, options, capacity, fabric);
    return need > 0 && need <= chips;
  };
  // Upper bound: everything on every chip twice over is certainly enough if anything is.
  Footprint f = modelFootprint(model, options);
  uint64_t high = std::max<uint64_t>(chip.sramBytes(), 2 * (f.totalBytes() + (1ull << 30)));
  if (!fitsWith(high)) {
    return 0;
  }
  uint64_t low = 0; // does not fit
  while (high - low > 1) {
    const uint64_t mid = low + (high - low) / 2;
    (fitsWith(mid) ? high : low) = mid;
  }
  return high;
}

uint64_t minimumSramPerChip(const ModelSummary &model, const system::ChipConfig &chip,
                            uint32_t chips, const PlanOptions &options) {
  return minimumSramPerChipOn(model, chip, chips, options, nullptr);
}

uint64_t minimumSramPerChip(const ModelSummary &model, const system::SystemConfig &system,
                            uint32_t chips, const PlanOptions &options) {
  return minimumSramPerChipOn(model, system.chip, chips, options, &system);
}

/// One search under `options` (planPartition adds the compile's tp preference).
static Result<Plan> planOnce(const ModelSummary &model, const system::SystemConfig &system,
                             const PlanOptions &options) {
  const std::string where = model.name.empty() ? std::string("model") : model.name;
  if (model.layers.empty()) {
    return makeError(where + ": no decoder layers found; the planner needs a decoder model");
  }
  if (model.heads == 0 || model.hidden == 0) {
    return makeError(where + ": attention heads and hidden size are unknown; cannot plan");
  }
  if (options.maxContext < 1 || options.seqsInFlight < 1) {
    return makeError(where + ": --max-context and --seqs must be at least 1");
  }
  if (options.tensorParallel && !validTp(model, *options.tensorParallel)) {
    return makeError(fmt::format(
        "{}: --tp {} must divide the {} attention heads, and divide or be a multiple of the {} "
        "KV heads",
        where, *options.tensorParallel, model.heads, model.kvHeads));
  }
  if (options.tensorParallel && *options.tensorParallel > maxLowerableTp(system.chip)) {
    return makeError(fmt::format(
        "{}: --tp {} cannot be lowered on {}: a direct all-reduce needs one C2C link per peer "
        "({} links) and the chip has {} (chip.c2c.links); use --tp {} or less",
        where, *options.tensorParallel, system.name, *options.tensorParallel - 1,
        system.chip.c2c.links, maxLowerableTp(system.chip)));
  }
  if (options.layersPerStage &&
      (*options.layersPerStage == 0 || *options.layersPerStage > model.layers.size())) {
    return makeError(fmt::format("{}: --layers-per-stage {} must be between 1 and the {} layers",
                                 where, options.layersPerStage.value_or(0), model.layers.size()));
  }
  if (options.pipelineStages &&
      (*options.pipelineStages == 0 || *options.pipelineStages > model.layers.size())) {
    return makeError(fmt::format("{}: {} pipeline stages must be between 1 and the {} layers",
                                 where, options.pipelineStages.value_or(0), model.layers.size()));
  }
  if (options.sramReserveFraction < 0 || options.sramReserveFraction >= 1) {
    return makeError(where + ": the SRAM reserve fraction must be in [0, 1)");
  }

  Plan plan;
  plan.modelName = model.name;
  plan.systemName = system.name;
  plan.chipsAvailable = system.fabric.chips;
  plan.options = options;
  plan.footprint = modelFootprint(model, options);

  const uint64_t capacity = system.chip.sramBytes();
  const uint64_t usable = usableBytes(capacity, options);
  const uint32_t layers = uint32_t(model.layers.size());
  double bestLatency = std::numeric_limits<double>::infinity();
  std::optional<std::pair<Shards, Layout>> best;
  // With the compile's fallback (planPartition calls it once near-equal ranges have failed
  // on every tp) only the greedy layout with a layer in every stage is tried.
  const bool fallback = greedyFallback(options);
  for (uint32_t tp : candidateTps(model, options, system.chip, system.fabric.chips)) {
    Shards s = makeShards(model, options, tp, system.chip);
    // Near-equal ranges first, so that on a tie in latency the balanced layout wins.
    std::vector<Layout> layouts;
    if (!fallback) {
      layouts = optionLayouts(layers, options);
    }
    if (fallback || (!options.layersPerStage && !options.pipelineStages &&
                     options.stageLayers.empty() && !options.nearEqualStagesOnly)) {
      if (auto greedy = greedyLayout(model, s, usable, /*layersEverywhere=*/fallback)) {
        layouts.push_back(*greedy);
      }
    }
    for (const Layout &layout : layouts) {
      ++plan.candidatesTried;
      const uint64_t chips = uint64_t(tp) * layout.layerCounts.size();
      if (chips > system.fabric.chips || !layoutFits(model, s, layout, usable)) {
        continue;
      }
      std::optional<std::vector<StagePlan>> placed =
          makeStages(layout, tp, system, options.alignStagesToGroups);
      if (!placed) {
        continue;
      }
      const double latency = estimateLatency(model, s, *placed, system, options).total();
      const bool better = !best || latency < bestLatency * (1 - 1e-9) ||
                          (latency <= bestLatency * (1 + 1e-9) &&
                           chips < uint64_t(best->first.tp) * best->second.layerCounts.size());
      if (better) {
        bestLatency = latency;
        best = std::make_pair(s, layout);
      }
    }
  }

  if (!best) {
    plan.fits = false;
    plan.minimumChips = minimumChips(model, system, options);
    plan.sramPerChipNeeded = minimumSramPerChip(model, system, system.fabric.chips, options);
    plan.refusal = refusalMessage(model, system, options, plan.footprint, plan.minimumChips,
                                  plan.sramPerChipNeeded);
    return plan;
  }

  const Shards &s = best->first;
  const Layout &layout = best->second;
  plan.fits = true;
  plan.tp = s.tp;
  plan.stages = *makeStages(layout, s.tp, system, options.alignStagesToGroups);
  plan.stageCount = uint32_t(plan.stages.size());
  plan.chipsUsed = plan.stageCount * s.tp;
  plan.decode = estimateLatency(model, s, plan.stages, system, options);
  plan.minimumChips = minimumChips(model, system, options);
  const uint64_t reserve = capacity - usable;
  for (const StagePlan &stage : plan.stages) {
    StageBytes b = stageBytes(s, stage.firstLayer, stage.layerCount, stage.holdsEmbedding,
                              stage.holdsLmHead);
    for (uint32_t r = 0; r < stage.tp; ++r) {
      ChipMemory mem;
      mem.chip = stage.chips[r];
      mem.stage = stage.index;
      mem.tpRank = r;
      mem.weightBytes = b.weights;
      mem.scaleBytes = b.scales;
      mem.kvBytes = b.kv;
      mem.activationBytes = b.activation;
      mem.reservedBytes = reserve;
      mem.capacityBytes = capacity;
      mem.slicesUsed = uint32_t(ceilDiv(mem.usedBytes(), system.chip.mem.bytesPerSlice));
      plan.chips.push_back(mem);
    }
  }
  return plan;
}

namespace {
Result<Plan> planPartitionOnce(const ModelSummary &model, const system::SystemConfig &system,
                               const PlanOptions &options);
} // namespace

Result<Plan> planPartition(const ModelSummary &model, const system::SystemConfig &system,
                           const PlanOptions &options) {
  if (!greedyFallback(options)) {
    return planPartitionOnce(model, system, options);
  }
  // The compile's rule: near-equal ranges when any fits (on any tp), else the greedy split
  // with at least one layer per stage. The refusal and the minimum count both.
  PlanOptions nearEqual = options;
  nearEqual.unequalFallback = false;
  Result<Plan> plan = planPartitionOnce(model, system, nearEqual);
  if (plan && plan->fits) {
    plan->options.unequalFallback = true;
    plan->minimumChips = minimumChips(model, system, options);
    return plan;
  }
  return planPartitionOnce(model, system, options);
}

namespace {
Result<Plan> planPartitionOnce(const ModelSummary &model, const system::SystemConfig &system,
                               const PlanOptions &options) {
  const uint32_t perNode = system.fabric.chipsPerNode;
  if (!options.compiledLayout || options.tensorParallel || perNode <= 1) {
    Result<Plan> plan = planOnce(model, system, options);
    if (plan && plan->fits && options.compiledLayout) {
      plan->tpChoice = options.tensorParallel ? "forced by --tp" : "the fastest lowerable tp";
    }
    return plan;
  }
  // The compile's tp: collectives are direct exchanges, one port per peer, so a group of one
  // node when one fits, else of two nodes, else the fastest tp the fabric can lower.
  std::string skipped;
  for (uint32_t nodes : {1u, 2u}) {
    PlanOptions node = options;
    node.tensorParallel = nodes * perNode;
    Result<Plan> trial = planOnce(model, system, node);
    if (trial && trial->fits) {
      trial->options.tensorParallel = options.tensorParallel;
      trial->minimumChips = minimumChips(model, system, options); // over every tp, not this one
      trial->tpChoice = nodes == 1 ? fmt::format("one node ({} chips)", perNode)
                                   : fmt::format("two nodes ({}: tp {} does not fit)",
                                                 2 * perNode, perNode);
      return trial;
    }
    skipped += fmt::format("{}{}", skipped.empty() ? "" : " or ", nodes * perNode);
  }
  Result<Plan> plan = planOnce(model, system, options);
  if (plan && plan->fits) {
    plan->tpChoice =
        fmt::format("the fastest lowerable tp (a node-sized tp {} does not fit)", skipped);
  }
  return plan;
}
} // namespace

// Memory map (--explain): every tensor of one chip per role, placed in address order.

const char *placedKindName(PlacedTensor::Kind kind) {
  switch (kind) {
  case PlacedTensor::Kind::Weight:
    return "weights";
  case PlacedTensor::Kind::Scale:
    return "scales";
  case PlacedTensor::Kind::KvCache:
    return "kv cache";
  case PlacedTensor::Kind::Activation:
    return "activations";
  }
  return "?";
}

namespace {

/// Slice, row and bank totals of a role's tensors, in whole vectors (SramMap.h).
void addSliceUsage(StageMemoryMap &map, const system::SramMap &sram) {
  const uint32_t slices = sram.slices();
  std::vector<uint64_t> perSlice(slices, 0);
  map.bankVectors.assign(sram.banksPerSlice(), 0);
  for (const PlacedTensor &t : map.tensors) {
    const uint64_t first = sram.locate(t.address).vector;
    const uint64_t last = sram.locate(t.address + t.bytes - 1).vector;
    const uint64_t vectors = last - first + 1;
    const uint64_t everySlice = vectors / slices, rest = vectors % slices;
    const uint32_t firstSlice = sram.locate(t.address).slice;
    for (uint32_t k = 0; k < slices; ++k) {
      perSlice[(firstSlice + k) % slices] += everySlice + (k < rest ? 1 : 0);
    }
    // Vectors per bank: rows alternate banks; walk the rows the range covers.
    for (uint64_t row = first / slices; row <= last / slices; ++row) {
      const uint64_t from = std::max(first, row * slices);
      const uint64_t to = std::min(last, row * slices + slices - 1);
      map.bankVectors[row % sram.banksPerSlice()] += to - from + 1;
    }
    map.rowsUsed = std::max(map.rowsUsed, last / slices + 1);
  }
  map.slicesUsed = uint32_t(std::count_if(perSlice.begin(), perSlice.end(),
                                          [](uint64_t v) { return v > 0; }));
  const auto [least, most] = std::minmax_element(perSlice.begin(), perSlice.end());
  map.sliceBytesMin = *least * sram.vectorBytes();
  map.sliceBytesMax = *most * sram.vectorBytes();
}

} // namespace

std::vector<StageMemoryMap> planMemoryMaps(const ModelSummary &model, const Plan &plan,
                                           const system::ChipConfig &chip) {
  std::vector<StageMemoryMap> maps;
  if (!plan.fits || plan.stages.empty()) {
    return maps;
  }
  const PlanOptions &options = plan.options;
  const Shards s = makeShards(model, options, plan.tp, chip);
  const DType w = options.weights;
  const uint64_t hidden = std::max<uint64_t>(1, model.hidden);
  const uint64_t ffnLength = std::max<uint64_t>(1, model.ffn);
  const uint64_t align = std::max<uint64_t>(1, chip.vectorBytes);
  const system::SramMap sramMap(chip);
  const uint64_t capacity = chip.sramBytes();

  for (const StagePlan &stage : plan.stages) {
    // Stages with the same layer count and role share one map (the first one's names).
    auto same = [&](const StageMemoryMap &m) {
      const StagePlan &first = plan.stages[m.stages.front()];
      return first.layerCount == stage.layerCount && first.holdsEmbedding == stage.holdsEmbedding &&
             first.holdsLmHead == stage.holdsLmHead;
    };
    auto found = std::find_if(maps.begin(), maps.end(), same);
    if (found != maps.end()) {
      found->stages.push_back(stage.index);
      found->chips.insert(found->chips.end(), stage.chips.begin(), stage.chips.end());
      continue;
    }
    StageMemoryMap map;
    map.stages.push_back(stage.index);
    map.chips = stage.chips;
    map.capacityBytes = capacity;
    map.reservedBytes =
        uint64_t(std::floor(double(capacity) * options.sramReserveFraction));
    uint64_t next = 0;
    auto place = [&](std::string name, PlacedTensor::Kind kind, uint64_t bytes) {
      if (bytes == 0) {
        return;
      }
      PlacedTensor t;
      t.name = std::move(name);
      t.kind = kind;
      t.address = next;
      t.bytes = bytes;
      const system::SliceSpan span = sramMap.span(next, bytes);
      t.firstSlice = span.first;
      t.sliceCount = span.count;
      t.lastSlice = (span.first + span.count - 1) % sramMap.slices();
      const uint64_t padded = ceilDiv(bytes, align) * align;
      map.alignmentBytes += padded - bytes;
      next += padded;
      map.tensors.push_back(std::move(t));
    };
    // A matrix at the stored precision, then its quantisation scales.
    auto matrix = [&](const std::string &name, uint64_t elements, uint64_t channelLength) {
      WeightBytes b = matrixBytes(elements, w, channelLength);
      place(name, PlacedTensor::Kind::Weight, b.bytes - b.scales);
      place(name + ".scale", PlacedTensor::Kind::Scale, b.scales);
    };
    if (stage.holdsEmbedding) {
      matrix("embedding", ceilDiv(model.embeddingElements, s.vocabSplit), hidden);
    }
    for (uint32_t l = stage.firstLayer; l < stage.firstLayer + stage.layerCount; ++l) {
      const LayerSummary &layer = model.layers[l];
      const std::string p = fmt::format("layer {} ", l);
      matrix(p + "attn.q", ceilDiv(layer.attnQ, plan.tp), hidden);
      matrix(p + "attn.k", ceilDiv(layer.attnK, s.kvSplit), hidden);
      matrix(p + "attn.v", ceilDiv(layer.attnV, s.kvSplit), hidden);
      matrix(p + "attn.o", ceilDiv(layer.attnO, plan.tp), hidden);
      matrix(p + "mlp.gate", ceilDiv(layer.mlpGate, s.ffnSplit), hidden);
      matrix(p + "mlp.up", ceilDiv(layer.mlpUp, s.ffnSplit), hidden);
      matrix(p + "mlp.down", ceilDiv(layer.mlpDown, s.ffnSplit), ffnLength);
      matrix(p + "moe.experts", ceilDiv(layer.experts, s.ffnSplit), hidden);
      matrix(p + "moe.router", layer.router, hidden);
      place(p + "norms", PlacedTensor::Kind::Weight, bytesOf(layer.norms, options.activations));
    }
    if (stage.holdsLmHead) {
      // A tied table's LM head is its own transposed copy (stored beside the embedding).
      matrix("lm_head", s.lmHeadElements, hidden);
      place("final norm", PlacedTensor::Kind::Weight, s.finalNorm);
    }
    for (uint32_t l = stage.firstLayer; l < stage.firstLayer + stage.layerCount; ++l) {
      const uint64_t kv = s.layerKv[l];
      place(fmt::format("layer {} kv.k", l), PlacedTensor::Kind::KvCache, kv - kv / 2);
      place(fmt::format("layer {} kv.v", l), PlacedTensor::Kind::KvCache, kv / 2);
    }
    place("working set", PlacedTensor::Kind::Activation, s.activation);
    if (stage.holdsLmHead) {
      place("logits (fp32)", PlacedTensor::Kind::Activation, s.logits);
    }
    map.endAddress = next;
    addSliceUsage(map, sramMap);
    maps.push_back(std::move(map));
  }
  return maps;
}

} // namespace conveyor::partition
