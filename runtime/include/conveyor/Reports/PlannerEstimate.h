// Glue between the partition planner (compiler/include/conveyor/Partition/Planner.h, MLIR-
// free), the GPU roofline and the reports: model lookup, the LPU estimate of a plan, the
// systems named on `conveyor compare --systems`, the explore point evaluator and the LPU
// rows of the validation table. Library ConveyorReportsPlanning.
#pragma once

#include "conveyor/Gpu/Calibration.h"
#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Partition/Planner.h"
#include "conveyor/Reports/Compare.h"
#include "conveyor/Reports/Explore.h"
#include "conveyor/Reports/LpuStepModel.h"
#include "conveyor/System/SystemConfig.h"

#include <functional>
#include <optional>
#include <string>

namespace conveyor::reports {

/// The repository root (holding models/zoo and systems/): $CONVEYOR_ROOT when set, else the
/// first folder above `executablePath` (then above the working directory) that holds
/// models/zoo/configs. nullopt when neither does.
std::optional<std::string> findRepoRoot(const std::string &executablePath);

/// The DecoderShape of a zoo config (models/zoo/configs/*.json): its top-level numbers;
/// errors name the file and member.
Result<partition::DecoderShape> loadZooDecoderShape(const std::string &path);

/// A model by zoo name ("llama2-70b": models/zoo/configs/llama2-70b.json), by zoo config
/// path (*.json), or by a zoo ONNX path (models/zoo/onnx/NAME.onnx: its config beside it in
/// ../configs). Errors list the zoo names.
Result<partition::ModelSummary> resolveModel(const std::string &model, const std::string &root);

/// `base` with `chips` chips (nodes of base's chipsPerNode; a dragonfly once it spans nodes)
/// and `sramBytes` per chip (MEM slices unchanged, slice size scaled). Static power per chip
/// is kept: the sweep varies capacity, not the power model.
Result<system::SystemConfig> resizedSystem(const system::SystemConfig &base, uint32_t chips,
                                           uint64_t sramBytes);

/// What an LPU deployment is evaluated at.
struct LpuSettings {
  partition::PlanOptions plan;   // weights, activations, KV precision, max context, sequences
  uint64_t referenceContext = 0; // where decode latency is quoted; 0 = plan.maxContext
};

/// A plan and the step-model estimate derived from it (estimate only when plan.fits).
struct LpuEstimate {
  partition::Plan plan;
  std::optional<LpuDeploymentEstimate> estimate;
};

/// Plans `model` on `system` with `settings.plan` (the fit, KV capacity and stage count),
/// then derives per-token costs (docs/reports.md, "LPU step model from the planner"):
///   decode latency L(c) from two one-sequence plans with the chosen tp at context c = 1 and
///   c = maxContext (linear in c), prefill per token from the busiest chip's MACs, energies
///   from the chip's energy constants.
Result<LpuEstimate> estimateLpu(const partition::ModelSummary &model,
                                const system::SystemConfig &system, const LpuSettings &settings,
                                const std::string &name);

/// Builds the systems of `--systems`: "lpu:NAME" (systems/NAME.yaml, planned with
/// `lpu`; weights "auto" picks the widest of fp16, fp8, int8 that fits) and
/// "gpu:NAMExN[:tpT]" (systems/gpu/NAME.yaml or an alias: h100 = h100-sxm, a100 =
/// a100-sxm-80g; N GPUs as N/T replicas of T-way tensor parallel, T = N by default).
struct CompareSettings {
  std::string root; // repository root
  LpuSettings lpu;
  std::string lpuWeights = "auto"; // or a dtype name
  /// Sequences in flight: lpu.plan.seqsInFlight, or when set the most of 64, 32, ..., 1 that
  /// fit (after the weight precision is chosen).
  bool lpuSequencesAuto = false;
  std::string gpuPrecision = "bf16"; // weights and compute precision on GPUs: bf16 or fp8
  uint64_t maxContextTokens = 4096;
  /// The summary of the model's imported cv.graph (models/zoo/onnx/NAME.onnx), when the
  /// caller could import it: GPU systems then time the graph's per-op profile
  /// (buildGraphWorkloadProfile) instead of the config's. `graphSource` names the file.
  std::optional<partition::ModelSummary> graphModel;
  std::string graphSource;
};
Result<CompareSystem> makeCompareSystem(const std::string &spec,
                                        const partition::ModelSummary &model,
                                        const CompareSettings &settings);

/// `system` with `sramBytes` per chip (MEM slices unchanged, slice size scaled), fabric kept.
system::SystemConfig withSramPerChip(const system::SystemConfig &system, uint64_t sramBytes);

/// The explore evaluator: plans each point by the compile's rule (partition::
/// compiledPlanOptions over `settings.plan`, its default reserve) on `base` resized to the
/// point's chips and SRAM, and prices steady-state decode at `meanContext` with the point's
/// sequences in flight. The point's minimum is partition::minimumChips on `base` with the
/// point's SRAM per chip: what `conveyor compile --min-chips` prints for that system file.
PointEvaluator makePlannerEvaluator(partition::ModelSummary model, system::SystemConfig base,
                                    LpuSettings settings, uint64_t meanContext);

/// What the fabric model leaves out when a tensor-parallel group spans nodes: every C2C
/// transfer gets a link of its own, so a direct all-reduce (each chip sends its partial to
/// every peer) puts chipsPerNode^2 concurrent transfers on each ordered pair of nodes and
/// (tp - chipsPerNode) remote transfers on each chip, while a chip has `globalLinksPerChip`
/// ports that leave its node and, if a group of `nodesPerGroup` nodes is fully connected
/// (an assumption: the wiring is not published), a node pair shares
/// chipsPerNode * globalLinksPerChip / (nodesPerGroup - 1) links. Serialised over those
/// links the all-reduce takes `rounds` sends of `sendCycles` each instead of one.
/// docs/hardware-model.md "Known gap: links between nodes are not shared".
struct InterNodeLinkGap {
  uint32_t nodesSpanned = 0;       // nodes one tp group covers
  uint32_t globalPorts = 0;        // a chip's ports that leave its node
  uint32_t remoteFlowsPerChip = 0; // concurrent sends leaving a chip's node
  uint32_t flowsPerNodePair = 0;   // concurrent sends from one node to another
  uint32_t linksPerNodePair = 0;   // under the fully-connected-group assumption
  uint32_t rounds = 1;             // max(ceil(per chip / global ports), ceil(per pair / links))
  uint32_t chipRounds = 1;         // the per-chip term alone (needs no wiring assumption)
  uint64_t sendCycles = 0;         // one partial over one link
  /// Cycles per token the serialisation would add: (rounds - 1) * sendCycles per all-reduce.
  uint64_t extraCyclesPerToken = 0;
  uint64_t extraCyclesPerTokenChipOnly = 0; // the same with chipRounds
};
/// nullopt when the tp group fits in one node (no transfer leaves it) or the fabric has one
/// node. `messageBytes`: one all-reduce's partial; `allReduces`: per token (2 per layer).
std::optional<InterNodeLinkGap> interNodeLinkGap(const system::SystemConfig &system, uint32_t tp,
                                                 uint64_t messageBytes, uint64_t allReduces);

/// One LPU validation row as compiled and simulated by the caller (the `conveyor` tool: the
/// multi-chip compile needs MLIR, which this library must not link).
struct SimulatedLpuRun {
  uint32_t tp = 0, stages = 0, chips = 0; // the compiled partition
  uint64_t kvLength = 0;                  // decode bucket compiled (past tokens)
  double clockHz = 0;
  uint64_t latencyCycles = 0;     // one token of one sequence through every stage (simulated)
  uint64_t stageCycles = 0;       // pipeline interval (simulated)
  uint64_t compilerCycles = 0;    // the compiler's own end cycle of the last stage
  uint64_t boundCycles = 0;       // the compiler's decode lower bound (0: not reported)
  std::string weights;            // stored weight precision compiled
};
/// Compiles `onnxPath` for `systemPath` at `settings` and simulates one decode step.
using LpuRunner = std::function<Result<SimulatedLpuRun>(
    const std::string &onnxPath, const std::string &systemPath, const LpuSettings &settings,
    uint64_t kvLength)>;

/// What docs/validation.md is computed from. Without a runner the LPU rows are the planner's
/// estimate; without GPU profiles the GPU rows use the model cards' shapes.
struct ValidationInputs {
  LpuRunner simulate;
  gpu::ProfileProvider gpuProfiles;
  std::string gpuProfileSource; // how the document names the GPU profiles' origin
};

/// docs/validation.md: Groq's published per-user tokens/s next to the simulated multi-chip
/// schedule (and the planner estimate), the GPU roofline's published rows, every error and
/// the cause of every miss.
Result<std::string> renderLpuValidationMarkdown(const std::string &root,
                                                const ValidationInputs &inputs = {});

} // namespace conveyor::reports
