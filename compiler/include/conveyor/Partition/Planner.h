// Partition planner: maps a decoder model onto a multi-chip fabric (pipeline x tensor parallel).
//
// MLIR-free on purpose: the CLI, the explore/compare reports and the shard pass all include
// it. The model is described by a `ModelSummary` (built from a fused cv.graph by
// conveyor/Partition/ModelSummaryAnalysis.h, from a zoo config, or by hand for sweeps); the
// hardware by a system::SystemConfig. The planner chooses a tensor-parallel degree and a
// contiguous layer-to-stage assignment that fits SRAM and minimises the estimated decode step
// latency. Formulas, overheads and a worked example: docs/partition.md.
#pragma once

#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::partition {

using system::DType;

/// Weight elements of one decoder layer by role, and its KV-cache growth.
/// Matrices are counted in elements (not bytes); biases go with their matrix's role.
struct LayerSummary {
  uint64_t attnQ = 0, attnK = 0, attnV = 0, attnO = 0; // attention projections
  uint64_t mlpGate = 0, mlpUp = 0, mlpDown = 0;        // dense MLP (0 for an MoE layer)
  uint64_t experts = 0;              // all routed experts' weights together (gate + up + down)
  uint64_t router = 0;               // MoE router (gating) matrix
  uint64_t norms = 0;                // norm scales/biases and other small vectors (attention sinks)
  uint32_t numExperts = 0, topK = 0; // 0 for a dense layer
  /// KV-cache elements per token of context for this layer (K and V together, batch 1).
  uint64_t kvElementsPerToken = 0;
  int64_t slidingWindow = 0; // > 0: the layer keeps only the last W tokens of KV

  uint64_t attentionWeights() const { return attnQ + attnK + attnV + attnO; }
  uint64_t mlpWeights() const { return mlpGate + mlpUp + mlpDown + experts + router; }
  uint64_t totalWeights() const { return attentionWeights() + mlpWeights() + norms; }
  /// Weights one token reads: top_k / numExperts of the experts, everything else whole.
  uint64_t activeWeights() const;
};

/// What the planner needs to know about a decoder-only model.
struct ModelSummary {
  std::string name; // e.g. "llama2-70b" (used in messages)
  uint64_t hidden = 0, heads = 0, kvHeads = 0, headDim = 0, ffn = 0, vocab = 0;
  uint32_t experts = 0, topK = 0; // 0 for dense models
  uint64_t embeddingElements = 0; // token (+ learned position) tables
  uint64_t lmHeadElements = 0;    // 0 when the LM head is tied to the embedding table
  uint64_t maxPositions = 0;      // rows of a learned position table (GPT-2: 1024); 0 = none
  bool tiedEmbedding = false;
  uint64_t finalNormElements = 0; // final norm (and any other weight outside the layers)
  std::vector<LayerSummary> layers;

  uint64_t totalWeights() const; // every element once (a tied table once)
  uint64_t kvElementsPerToken() const;
};

/// A uniform decoder described by its config numbers (what a HF config.json or a zoo
/// config holds). Lets tests and design-space sweeps build summaries without a graph.
struct DecoderShape {
  std::string name;
  uint32_t layers = 0;
  uint64_t hidden = 0, heads = 0, kvHeads = 0, headDim = 0, ffn = 0, vocab = 0;
  uint32_t experts = 0, topK = 0; // experts > 0: every layer's MLP is an MoE of `experts`
  bool gatedMlp = true;           // gate + up + down (SwiGLU); false: up + down (GPT-2)
  bool tiedEmbedding = false;
  bool attentionBias = false, mlpBias = false;
  uint64_t positionEmbedding = 0; // learned position table rows (GPT-2: 1024), 0 for RoPE
  bool layerNorm = false;         // LayerNorm (scale + bias) instead of RMSNorm (scale)
  int64_t slidingWindow = 0;      // applied to every other layer (gpt-oss style) when > 0
};
ModelSummary makeDecoderSummary(const DecoderShape &shape);

/// What to plan for. Defaults are the CLI's defaults.
struct PlanOptions {
  DType weights = DType::INT8;            // stored weight precision (accumulation is always wider)
  DType activations = DType::F16;         // activations moved between units and chips
  DType kv = DType::F16;                  // KV-cache elements
  int64_t maxContext = 4096;              // KV cache sized for this many tokens per sequence
  int64_t seqsInFlight = 1;               // sequences whose KV cache is resident at once
  std::optional<uint32_t> tensorParallel; // force tp (must divide heads; see docs)
  std::optional<uint32_t> layersPerStage; // force a uniform pipeline stage size
  /// Force the stage count: near-equal layer ranges, longer first (what the shard pass builds
  /// from `conveyor-partition stages=N`). With tensorParallel it names one compiled layout,
  /// e.g. to re-price a chosen plan at another context (reports' estimateLpu).
  std::optional<uint32_t> pipelineStages;
  /// Force the layers of each stage (sums to the model's layers), e.g. to re-price a chosen
  /// plan whose split is the greedy unequal one; overrides pipelineStages and layersPerStage.
  std::vector<uint32_t> stageLayers;
  /// Fraction of each chip's SRAM kept back for instructions, alignment waste and bank
  /// conflicts (quantisation scales and activations are counted separately, exactly).
  double sramReserveFraction = 0.02;
  /// Stage chips are `stage * tp + rank` (the shard pass's convention) unless this is set:
  /// then a stage that fits in one node / one dragonfly group never straddles two (fewer
  /// hops per all-reduce), leaving gaps in the chip ids.
  bool alignStagesToGroups = false;
  /// Consider only near-equal layer ranges (longer first): the layouts the shard pass builds
  /// from tp and a stage count alone. `layersPerStage` K then means ceil(layers / K) such
  /// stages (the shard pass gets only the stage count).
  bool nearEqualStagesOnly = false;
  /// With nearEqualStagesOnly: when no near-equal layout fits, fall back to the greedy
  /// unequal one (stages filled front to back; the shard pass builds it from its per-stage
  /// layer counts, `conveyor-partition stage-layers=...`). Set by compiledPlanOptions.
  bool unequalFallback = false;
  /// Plan the way the multi-chip compile does (set by compiledPlanOptions): near-equal ranges
  /// on chips stage * tp + rank, and, unless tp is forced, a tensor-parallel group of one node
  /// when one fits, else of two nodes, else the fastest lowerable tp.
  bool compiledLayout = false;
};

/// SRAM fraction the multi-chip compile keeps back unless --sram-reserve is given: the
/// compiled decode step holds temporaries the planner's working set leaves out (attention
/// intermediates, bucket buffers); see docs/partition.md, "The compile's rule".
constexpr double kCompiledSramReserve = 0.08;

/// `options` restricted to what `conveyor compile -o` builds on a multi-chip system: the one
/// rule behind the compiled plan, --explain, the refusal and --min-chips.
PlanOptions compiledPlanOptions(PlanOptions options, bool reserveGiven);

/// One pipeline stage: a contiguous range of layers on `tp` chips.
struct StagePlan {
  uint32_t index = 0;
  uint32_t firstLayer = 0, layerCount = 0; // [firstLayer, firstLayer + layerCount)
  uint32_t tp = 1;
  std::vector<uint32_t> chips; // fabric chip ids, tp of them, tensor-parallel rank order
  bool holdsEmbedding = false, holdsLmHead = false;
};

/// Bytes resident on one chip (all numbers per chip).
struct ChipMemory {
  uint32_t chip = 0, stage = 0, tpRank = 0;
  uint64_t weightBytes = 0;     // weights at the stored precision + quantisation scales
  uint64_t scaleBytes = 0;      // of which quantisation scales
  uint64_t kvBytes = 0;         // KV cache for maxContext x seqsInFlight
  uint64_t activationBytes = 0; // working set of one decode step (see docs/partition.md)
  uint64_t reservedBytes = 0;   // sramReserveFraction of capacity
  uint64_t capacityBytes = 0;   // the chip's SRAM
  uint64_t usedBytes() const { return weightBytes + kvBytes + activationBytes + reservedBytes; }
  int64_t freeBytes() const { return int64_t(capacityBytes) - int64_t(usedBytes()); }
  uint32_t slicesUsed = 0; // MEM slices touched, ceil(used / bytesPerSlice)
};

/// Estimated time of one decode step (one new token for each sequence in flight), seconds.
struct LatencyEstimate {
  double weightLoad = 0;   // weights (and K/V) through the MXM weight-install path
  double compute = 0;      // MXM MACs beyond what overlaps with loading
  double fixed = 0;        // per-layer unit latencies (MEM, MXM, VXM pipeline fill)
  double collectives = 0;  // tensor-parallel all-reduces over C2C
  double pipelineHops = 0; // stage-to-stage sends
  double total() const { return weightLoad + compute + fixed + collectives + pipelineHops; }
  double tokensPerSecondPerSeq() const { return total() > 0 ? 1.0 / total() : 0; }
};

/// Bytes the whole model needs at the options' precisions, before any partitioning.
struct Footprint {
  uint64_t weightBytes = 0; // incl. quantisation scales
  uint64_t kvBytes = 0;     // all layers, maxContext x seqsInFlight
  uint64_t totalBytes() const { return weightBytes + kvBytes; }
};
Footprint modelFootprint(const ModelSummary &model, const PlanOptions &options);

struct Plan {
  bool fits = false;
  std::string modelName, systemName;
  uint32_t tp = 1, stageCount = 0, chipsUsed = 0, chipsAvailable = 0;
  std::vector<StagePlan> stages;
  std::vector<ChipMemory> chips; // one per used chip, in chip-id order
  LatencyEstimate decode;
  Footprint footprint;
  PlanOptions options;
  uint32_t candidatesTried = 0; // (tp, stage layout) pairs evaluated
  /// With options.compiledLayout: why this tp ("one node", "two nodes (tp 8 does not fit)",
  /// ...); empty otherwise.
  std::string tpChoice;
  /// When !fits: the smallest chip count of this chip type that fits, and the SRAM per chip
  /// that would fit on chipsAvailable chips (0 when none would, e.g. one layer is too big
  /// for any tp). `refusal` is the one-line message the CLI prints.
  uint32_t minimumChips = 0;
  uint64_t sramPerChipNeeded = 0;
  std::string refusal;

  /// True when the stages split the layers into near-equal contiguous ranges, longer ones
  /// first: what the shard pass (conveyor-partition tp=.. stages=..) does by itself.
  bool nearEqualStages() const;
  /// True when every stage's chips are `stage * tp + rank`.
  bool denseChips() const;
};

/// Plans `model` on `system`. An Error only for invalid input (empty model, forced tp that
/// does not divide the heads, ...); a model that does not fit gives a Plan with fits=false
/// and the refusal filled in.
Result<Plan> planPartition(const ModelSummary &model, const system::SystemConfig &system,
                           const PlanOptions &options);

/// Largest tensor-parallel degree the multi-chip lowering can build on `chip`: its all-reduce
/// is direct (one C2C link per peer, conveyor-lower-collectives), so tp - 1 <= chip.c2c.links.
uint32_t maxLowerableTp(const system::ChipConfig &chip);

/// Whether one tensor-parallel group on `chips` (consecutive ids) can be lowered on `system`:
/// tp <= maxLowerableTp, and, outside a fully connected fabric, a group wider than a node
/// must start on a node boundary and span two nodes (MultiChip's port numbering gives the
/// peers of the other node ports chipsPerNode-1 .. 2*chipsPerNode-2, below the pipeline port).
bool lowerableTpGroup(const system::SystemConfig &system, uint32_t firstChip, uint32_t tp);

/// Smallest number of `chip`s with a feasible plan (any tp, any layout), ignoring the
/// fabric's size; 0 when no count fits (a single layer shard is larger than a chip).
uint32_t minimumChips(const ModelSummary &model, const system::ChipConfig &chip,
                      const PlanOptions &options);

/// `system` with `chips` chips of the same kind: the same chip and fabric, or one fully
/// connected node of `chips` when that is at most a node (or the system has one chip, so no
/// fabric to extend). Not validated (a YAML file needs whole nodes: `chips` a multiple of
/// chips_per_node).
system::SystemConfig resizedSystem(const system::SystemConfig &system, uint32_t chips);

/// Smallest system size N of `system`'s kind (whole nodes above one node; resizedSystem)
/// on which planPartition(options) finds a plan: N fits and N - chips_per_node (the next
/// smaller system) does not. Counts the fabric's placement rules (lowerableTpGroup); a
/// one-chip system file has no fabric, so there only the chip's limits apply. 0: none.
uint32_t minimumChips(const ModelSummary &model, const system::SystemConfig &system,
                      const PlanOptions &options);

/// Smallest SRAM per chip (bytes) for which `chips` chips hold the model; 0 if none does.
uint64_t minimumSramPerChip(const ModelSummary &model, const system::ChipConfig &chip,
                            uint32_t chips, const PlanOptions &options);
/// The same on `system`'s fabric (placement rules as minimumChips(system)).
uint64_t minimumSramPerChip(const ModelSummary &model, const system::SystemConfig &system,
                            uint32_t chips, const PlanOptions &options);

/// One tensor of a chip's SRAM in the planner's memory map.
struct PlacedTensor {
  enum class Kind { Weight, Scale, KvCache, Activation };
  std::string name; // "layer 3 attn.q", "layer 3 kv.k", "embedding", "working set", ...
  Kind kind = Kind::Weight;
  uint64_t address = 0, bytes = 0; // [address, address + bytes) in the chip's SRAM
  // MEM slices the range touches in the vector-interleaved map (SramMap.h): `sliceCount`
  // consecutive slices from firstSlice to lastSlice, wrapping past the last slice to 0.
  uint32_t firstSlice = 0, lastSlice = 0, sliceCount = 0;
};
const char *placedKindName(PlacedTensor::Kind kind);

/// The SRAM map of one chip role: the stages whose chips hold the same tensors (same layer
/// count, embedding / LM head), shown for the first of them (rank 0; every tp rank holds
/// the same shapes).
struct StageMemoryMap {
  std::vector<uint32_t> stages; // stages sharing this layout (layer names are the first's)
  std::vector<uint32_t> chips;  // their chips
  std::vector<PlacedTensor> tensors; // in address order
  uint64_t capacityBytes = 0, reservedBytes = 0;
  uint64_t endAddress = 0; // first byte after the last tensor
  uint64_t alignmentBytes = 0; // bytes lost to aligning tensors to vectors
  // The tensors in the SRAM address map (SramMap.h), counted in whole 320-byte vectors.
  uint32_t slicesUsed = 0;                    // slices holding at least one vector
  uint64_t sliceBytesMin = 0, sliceBytesMax = 0; // bytes of vectors held, least / most loaded slice
  uint64_t rowsUsed = 0;                      // highest row in use + 1 (rows per slice: bytes_per_slice / vector)
  std::vector<uint64_t> bankVectors;          // vectors held per bank (row mod banks_per_slice)
};

/// Places every tensor the plan counts on one chip of each role: weights layer by layer
/// (attention, MLP or experts, router, norms; quantisation scales after their matrix), the
/// embedding / LM head / final norm on the first / last stage, then each layer's K and V
/// cache, then the decode working set (and logits on the last stage). Addresses are
/// vector-aligned (chip.vectorBytes) from 0 upward, the reserve at the top of SRAM; a
/// tensor's slices come from the vector-interleaved SRAM map (SramMap.h), and each role gets
/// its slice, row and bank totals. The sums per kind equal the plan's
/// ChipMemory. Empty for a plan that does not fit.
std::vector<StageMemoryMap> planMemoryMaps(const ModelSummary &model, const Plan &plan,
                                           const system::ChipConfig &chip);

/// The maps as text: per role the totals per kind (bytes, slices) and the `top` largest
/// tensors with slice and address ranges (all of them when top is 0).
std::string renderMemoryMapsText(const std::vector<StageMemoryMap> &maps,
                                 const system::ChipConfig &chip, size_t top);
/// renderPlanJson with a "tensor_map" array: every role's tensors (name, kind, address,
/// bytes, first and last slice), for `--explain --json`.
std::string renderPlanJson(const Plan &plan, const system::SystemConfig &system,
                           const std::vector<StageMemoryMap> &maps);

/// Human-readable plan and per-chip memory map (identical chips grouped): `--explain`.
std::string renderPlanText(const Plan &plan, const system::SystemConfig &system);
/// The same as one JSON object (`--explain --json`).
std::string renderPlanJson(const Plan &plan, const system::SystemConfig &system);

} // namespace conveyor::partition
