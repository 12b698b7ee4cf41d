// docs/validation.md: Groq's published per-user decode speeds next to the simulated multi-chip
// schedule (compiled and simulated by the caller) and the planner estimate, and the GPU
// roofline's published-measurement rows, in one table each, every error shown.
#include "conveyor/Gpu/Calibration.h"
#include "conveyor/Reports/PlannerEstimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace conveyor::reports {
namespace {

struct PublishedLpuRow {
  std::string model;        // zoo name
  std::string display;      // as the source names it
  double low = 0, high = 0; // published per-user tokens/s (a range where one was given)
  std::string source;
};

const std::vector<PublishedLpuRow> &publishedLpuRows() {
  static const std::vector<PublishedLpuRow> rows = {
      {"llama2-70b", "Llama-2-70B", 300, 300,
       "Groq press release and ArtificialAnalysis.ai (2023-24): ~300 tok/s per user on a "
       "576-chip GroqRack deployment (DESIGN.md)"},
      {"llama2-7b", "Llama-2-7B", 750, 750, "Groq public demo, ~750 tok/s per user (DESIGN.md)"},
      {"mixtral-8x7b", "Mixtral-8x7B", 480, 480,
       "Groq public API, ~480 tok/s per user (ArtificialAnalysis.ai, early 2024; DESIGN.md)"},
      {"llama3-8b", "Llama-3-8B", 750, 800,
       "Groq public API, ~750-800 tok/s per user (DESIGN.md quotes up to ~1300 later)"},
  };
  return rows;
}

/// The smallest shipped groq system on which the model fits at the settings (the 70B on the
/// 576-chip system Groq used).
std::vector<std::string> shippedSystems(const std::string &root) {
  std::vector<std::string> names;
  for (const char *name : {"groq-1", "groq-8", "groq-64", "groq-576", "groq-1024"}) {
    if (std::filesystem::exists(std::filesystem::path(root) / "systems" /
                                (std::string(name) + ".yaml"))) {
      names.push_back(name);
    }
  }
  return names;
}

} // namespace

namespace {

uint64_t ceilDivU(uint64_t a, uint64_t b) { return b ? (a + b - 1) / b : 0; }

} // namespace

std::optional<InterNodeLinkGap> interNodeLinkGap(const system::SystemConfig &system, uint32_t tp,
                                                 uint64_t messageBytes, uint64_t allReduces) {
  const system::FabricConfig &fabric = system.fabric;
  const uint32_t perNode = fabric.chipsPerNode;
  if (perNode == 0 || tp <= perNode || fabric.nodes() <= 1) {
    return std::nullopt;
  }
  const uint32_t globalPorts = fabric.effectiveGlobalLinks(system.chip.c2c.links);
  const double linkBytesPerCycle = double(system.chip.c2c.lanesPerLink) *
                                   system.chip.c2c.gbpsPerLane * 1e9 / 8.0 / system.chip.clockHz;
  if (globalPorts == 0 || !(linkBytesPerCycle > 0)) {
    return std::nullopt;
  }
  InterNodeLinkGap gap;
  gap.nodesSpanned = uint32_t(ceilDivU(tp, perNode));
  gap.globalPorts = globalPorts;
  gap.remoteFlowsPerChip = tp - perNode;
  // Chips of one node send to the chips of each other node of the group: perNode x perNode.
  gap.flowsPerNodePair = perNode * perNode;
  const uint32_t peerNodes = std::max<uint32_t>(1, std::min(fabric.nodesPerGroup, fabric.nodes()) - 1);
  gap.linksPerNodePair = std::max<uint32_t>(1, perNode * globalPorts / peerNodes);
  gap.chipRounds = uint32_t(ceilDivU(gap.remoteFlowsPerChip, globalPorts));
  gap.rounds = std::max(gap.chipRounds,
                        uint32_t(ceilDivU(gap.flowsPerNodePair, gap.linksPerNodePair)));
  gap.sendCycles = uint64_t(std::ceil(double(messageBytes) / linkBytesPerCycle));
  gap.extraCyclesPerToken = uint64_t(gap.rounds - 1) * gap.sendCycles * allReduces;
  gap.extraCyclesPerTokenChipOnly = uint64_t(gap.chipRounds - 1) * gap.sendCycles * allReduces;
  return gap;
}

namespace {

/// "why" of a miss of the planner-estimate row (no simulated schedule).
std::string plannerMissCause(const partition::LatencyEstimate &d, double latency, double reference,
                             double modeled, double error, double layers, uint32_t tp) {
  double biggest = std::max({d.weightLoad, d.compute, d.fixed, d.collectives, d.pipelineHops});
  std::string term = biggest == d.collectives    ? "tensor-parallel all-reduces"
                     : biggest == d.pipelineHops ? "pipeline hops"
                     : biggest == d.fixed        ? "per-layer unit latencies"
                     : biggest == d.weightLoad   ? "weight installation into the MXM"
                                                 : "MXM compute";
  return fmt::format(
      " **Cause of the miss**: the estimate is {:.3f} ms per token ({:.1f} us per layer) "
      "against {:.3f} ms ({:.1f} us per layer) published, {:.1f}x {}. Every rate in the "
      "planner's model is a peak figure: weights install at the full MXM rate on every chip "
      "at once, all-reduces run at full C2C link bandwidth with one hop latency per phase, "
      "and nothing is charged for synchronisation, instruction issue or host I/O; its "
      "largest term here is {} (tp {} chosen to minimise that model). So the estimate is a "
      "lower bound on latency, and the gap is the overhead a real deployment pays.",
      latency * 1e3, latency * 1e6 / layers, 1e3 / reference, 1e6 / reference / layers,
      error > 0 ? modeled / reference : reference / modeled, error > 0 ? "faster" : "slower", term,
      tp);
}

/// The inter-node link sharing the fabric model leaves out (interNodeLinkGap), in words.
std::string linkGapText(const SimulatedLpuRun &run, double latency,
                        const std::optional<InterNodeLinkGap> &links) {
  if (!links) {
    return "";
  }
  const double cycleSeconds = latency / double(run.latencyCycles);
  auto tokensPerSecond = [&](uint64_t extra) {
    return 1.0 / (double(run.latencyCycles + extra) * cycleSeconds);
  };
  return fmt::format(
      " **Largest known gap (not modelled yet)**: the tp {} groups span {} nodes, and the "
      "fabric model gives every C2C transfer a link of its own. Each direct all-reduce puts {} "
      "concurrent transfers on each chip's links out of its node (a chip has {} global ports) "
      "and {} on each pair of nodes; if a 9-node rack is fully connected, a node pair shares {} "
      "links. Serialised over those links each all-reduce would take {} sends of {} cycles "
      "instead of one: {:.2f} M cycles more per token ({:.0f} tok/s instead of {:.0f}); the "
      "per-chip port limit alone (no wiring assumption) adds {:.2f} M ({:.0f} tok/s). A "
      "hierarchical all-reduce (reduce-scatter inside each node, exchange between nodes, "
      "all-gather) would move 1/{} of the bytes between nodes (docs/hardware-model.md, "
      "\"Known gap: links between nodes\").",
      run.tp, links->nodesSpanned, links->remoteFlowsPerChip, links->globalPorts,
      links->flowsPerNodePair, links->linksPerNodePair, links->rounds, links->sendCycles,
      double(links->extraCyclesPerToken) / 1e6, tokensPerSecond(links->extraCyclesPerToken),
      tokensPerSecond(0), double(links->extraCyclesPerTokenChipOnly) / 1e6,
      tokensPerSecond(links->extraCyclesPerTokenChipOnly), links->flowsPerNodePair);
}

/// "why" of a miss of a simulated row.
std::string simulatedMissCause(const SimulatedLpuRun &run, double latency, double reference,
                               double modeled, double error, double layers,
                               const std::optional<InterNodeLinkGap> &links) {
  double ratio = error > 0 ? modeled / reference : reference / modeled;
  std::string bound =
      run.boundCycles > 0
          ? fmt::format("the compiler's lower bound for this partition is {} cycles ({:.3f} ms), "
                        "so the schedule reaches {:.0f}% of it",
                        run.boundCycles, double(run.boundCycles) / run.clockHz * 1e3,
                        100.0 * double(run.boundCycles) / double(run.latencyCycles))
          : std::string("the compiler reported no lower bound");
  if (error > 0) {
    return fmt::format(
        " **Cause of the miss**: the simulated decode step is {:.3f} ms per token ({:.1f} us "
        "per layer) against {:.3f} ms ({:.1f} us per layer) published, {:.1f}x faster; {}. "
        "The simulator re-derives every cycle from the system YAML and accepted the schedule, "
        "so the gap lies in what the model leaves out or does differently from Groq's "
        "deployment; possible causes, none measured here: host I/O, sampling and token "
        "streaming are not modelled, the C2C links run at the YAML's cabled rate with no "
        "retries or resynchronisation stalls beyond the schedule's, and Groq's precision and "
        "layout are not published (ours: {} weights, tp {} x {} stages chosen by the "
        "planner).{}",
        latency * 1e3, latency * 1e6 / layers, 1e3 / reference, 1e6 / reference / layers, ratio,
        bound, run.weights, run.tp, run.stages, linkGapText(run, latency, links));
  }
  return fmt::format(
      " **Cause of the miss**: the simulated decode step is {:.3f} ms per token ({:.1f} us per "
      "layer) against {:.3f} ms ({:.1f} us per layer) published, {:.1f}x slower; {}. The time "
      "above the bound is schedule inefficiency (units waiting on each other and on "
      "collectives) that the compiler has not removed yet.",
      latency * 1e3, latency * 1e6 / layers, 1e3 / reference, 1e6 / reference / layers, ratio,
      bound);
}

} // namespace

Result<std::string> renderLpuValidationMarkdown(const std::string &root,
                                                const ValidationInputs &inputs) {
  constexpr uint64_t kContext = 640; // 512-token prompt + half of 256 output tokens
  const bool simulated = bool(inputs.simulate);
  LpuSettings settings;
  settings.plan.weights = system::DType::INT8;
  settings.plan.activations = system::DType::F16;
  settings.plan.kv = system::DType::F16;
  settings.plan.maxContext = 4096;
  settings.plan.seqsInFlight = 1;

  std::string out =
      "# Validation: modeled vs published\n\n"
      "<!-- Generated by `conveyor validation -o docs/validation.md`; do not edit. -->\n\n";
  if (simulated) {
    out += "Two tables from one command. The LPU rows compare Groq's published per-user "
           "decode speeds with Conveyor's **compiled and simulated multi-chip schedule**: "
           "`conveyor validation` compiles the zoo graph (models/zoo/onnx) for the groq system "
           "exactly as `conveyor compile --weights int8 -o` does (partition planner, shard "
           "pass, per-stage decode programs), runs the fabric simulator on it timing-only and "
           "takes per-user tokens/s = clock / simulated decode-step cycles; the partition "
           "planner's peak-rate estimate is shown beside it. The GPU rows are the roofline's "
           "published-measurement table (docs/gpu-calibration.md). Target: every row within "
           "+-25%; misses are shown with their cause.\n\n";
  } else {
    out += "Two tables from one command: the LPU rows compare Groq's published per-user decode "
           "speeds with Conveyor's **partition-planner estimate** (compiler/lib/Partition: "
           "weight install through the MXM, MXM compute, unit latencies, tensor-parallel "
           "all-reduces and pipeline hops over C2C), not with a simulated multi-chip schedule; "
           "the GPU rows are the roofline's published-measurement table "
           "(docs/gpu-calibration.md). Target: every row within +-25%; misses are shown with "
           "their cause.\n\n";
  }
  out += fmt::format(
      "## LPU: per-user decode tokens/s, batch 1\n\n"
      "Setup of every LPU row: int8 weights (fp16 activations and KV cache), one sequence in "
      "flight, KV sized for 4,096 tokens, decode at a KV length of {} tokens (a 512-token prompt "
      "and half of 256 output tokens); per-user tokens/s = 1 / decode latency of one token "
      "through the pipeline. Groq has not published the precision or chip count of any "
      "deployment except the 576 chips of Llama-2-70B; the other models run on the smallest "
      "shipped groq system they fit (`systems/groq-*.yaml`).\n\n",
      kContext);
  out += simulated ? "| model | system | chips used (tp x stages) | published tok/s | simulated "
                     "tok/s | error | status | planner estimate tok/s |\n"
                     "|---|---|---|---|---|---|---|---|\n"
                   : "| model | system | chips used (tp x stages) | published tok/s | modeled "
                     "tok/s | error | status |\n|---|---|---|---|---|---|---|\n";
  std::vector<std::string> notes;
  int within = 0, rows = 0;
  for (const PublishedLpuRow &row : publishedLpuRows()) {
    Result<partition::ModelSummary> model = resolveModel(row.model, root);
    if (!model) {
      return makeError(model.error());
    }
    std::vector<std::string> candidates =
        row.model == "llama2-70b" ? std::vector<std::string>{"groq-576"} : shippedSystems(root);
    std::optional<LpuEstimate> chosen;
    std::string systemName;
    for (const std::string &name : candidates) {
      Result<system::SystemConfig> system = system::loadSystemConfig(
          (std::filesystem::path(root) / "systems" / (name + ".yaml")).string());
      if (!system) {
        return makeError(system.error());
      }
      Result<LpuEstimate> estimate = estimateLpu(*model, *system, settings, "lpu:" + name);
      if (!estimate) {
        return makeError(estimate.error());
      }
      if (estimate->estimate) {
        chosen = std::move(*estimate);
        systemName = name;
        break;
      }
    }
    ++rows;
    std::string published = row.low == row.high
                                ? fmt::format("{:.0f}", row.low)
                                : fmt::format("{:.0f}-{:.0f}", row.low, row.high);
    if (!chosen) {
      out += fmt::format("| {} | - | - | {} | - | - | does not fit any shipped system |{}\n",
                         row.display, published, simulated ? " - |" : "");
      continue;
    }
    const LpuDeploymentEstimate &e = *chosen->estimate;
    const double plannerLatency = e.decodeSeconds + kContext * e.decodeSecondsPerContextToken;
    const double plannerTokens = 1.0 / plannerLatency;
    const double layers = double(model->layers.size());
    auto referenceOf = [&](double modeled) {
      return modeled < row.low ? row.low : (modeled > row.high ? row.high : modeled);
    };
    const partition::LatencyEstimate &d = chosen->plan.decode;
    double total = d.total();
    std::string split = fmt::format(
        "weight load {:.0f}%, compute {:.0f}%, unit latencies {:.0f}%, all-reduces {:.0f}%, "
        "pipeline hops {:.0f}% of {:.3f} ms (planner, {} sequences, context {})",
        100 * d.weightLoad / total, 100 * d.compute / total, 100 * d.fixed / total,
        100 * d.collectives / total, 100 * d.pipelineHops / total, total * 1e3,
        chosen->plan.options.seqsInFlight, chosen->plan.options.maxContext);

    if (!simulated) {
      double modeled = plannerTokens;
      double reference = referenceOf(modeled);
      double error = (modeled - reference) / reference * 100;
      bool ok = std::fabs(error) <= 25;
      within += ok;
      out += fmt::format("| {} | {} | {} ({} x {}) | {} | {:.0f} | {:+.1f}% | {} |\n", row.display,
                         systemName, chosen->plan.chipsUsed, chosen->plan.tp,
                         chosen->plan.stageCount, published, modeled, error,
                         ok ? "within 25%" : "**miss**");
      std::string cause = ok ? "" : plannerMissCause(d, plannerLatency, reference, modeled, error,
                                                     layers, chosen->plan.tp);
      notes.push_back(fmt::format("- **{}** on {}: {}.{}\n  Source: {}.", row.display, systemName,
                                  split, cause, row.source));
      continue;
    }

    std::string onnx =
        (std::filesystem::path(root) / "models/zoo/onnx" / (row.model + ".onnx")).string();
    std::string systemPath =
        (std::filesystem::path(root) / "systems" / (systemName + ".yaml")).string();
    Result<SimulatedLpuRun> run = inputs.simulate(onnx, systemPath, settings, kContext);
    if (!run || run->latencyCycles == 0 || !(run->clockHz > 0)) {
      std::string why = run ? std::string("the simulated decode step has no cycles") : run.error();
      // Paths relative to the repository, so the document reads the same in every checkout.
      for (size_t at = why.find(root + "/"); at != std::string::npos; at = why.find(root + "/")) {
        why.erase(at, root.size() + 1);
      }
      out += fmt::format("| {} | {} | - | {} | - | - | **not simulated** | {:.0f} |\n",
                         row.display, systemName, published, plannerTokens);
      notes.push_back(fmt::format("- **{}** on {}: the multi-chip compile or its simulation "
                                  "failed, so the row has no simulated figure: {}\n  "
                                  "Planner: {}.\n  Source: {}.",
                                  row.display, systemName, why, split, row.source));
      continue;
    }
    double latency = double(run->latencyCycles) / run->clockHz;
    double modeled = 1.0 / latency;
    double reference = referenceOf(modeled);
    double error = (modeled - reference) / reference * 100;
    bool ok = std::fabs(error) <= 25;
    within += ok;
    out += fmt::format("| {} | {} | {} ({} x {}) | {} | {:.0f} | {:+.1f}% | {} | {:.0f} |\n",
                       row.display, systemName, run->chips, run->tp, run->stages, published,
                       modeled, error, ok ? "within 25%" : "**miss**", plannerTokens);
    std::optional<InterNodeLinkGap> links;
    if (Result<system::SystemConfig> system = system::loadSystemConfig(systemPath)) {
      // One partial per all-reduce: hidden activations at the settings' precision; two
      // all-reduces per layer (attention output, MLP output).
      links = interNodeLinkGap(*system, run->tp,
                               model->hidden * uint64_t(system::dtypeBits(settings.plan.activations)) / 8,
                               2 * uint64_t(model->layers.size()));
    }
    std::string cause = ok ? "" : simulatedMissCause(*run, latency, reference, modeled, error,
                                                     layers, links);
    notes.push_back(fmt::format(
        "- **{}** on {}: compiled at {} weights as tp {} x {} stages ({} chips), decode bucket "
        "{} KV tokens; simulated decode step {} cycles at {:.0f} MHz = {:.3f} ms per token "
        "({:.1f} us per layer), compiler's own estimate {} cycles, pipeline interval {} cycles "
        "({:.0f} tok/s aggregate with every stage busy). Planner estimate: {}.{}\n  Source: {}.",
        row.display, systemName, run->weights, run->tp, run->stages, run->chips, run->kvLength,
        run->latencyCycles, run->clockHz / 1e6, latency * 1e3, latency * 1e6 / layers,
        run->compilerCycles, run->stageCycles,
        run->stageCycles > 0 ? run->clockHz / double(run->stageCycles) : 0.0, split, cause,
        row.source));
  }
  out += fmt::format("\n**{} of {} LPU rows within +-25%.**\n\n", within, rows);
  for (const std::string &note : notes) {
    out += note + "\n";
  }

  Result<std::vector<gpu::MeasurementOutcome>> gpuRows =
      gpu::evaluateMeasurements((std::filesystem::path(root) / "systems/gpu").string(),
                                inputs.gpuProfiles ? inputs.gpuProfiles
                                                   : gpu::ProfileProvider(gpu::modelCardProfile));
  if (!gpuRows) {
    return makeError(gpuRows.error());
  }
  out += "\n## GPU: roofline vs published measurements\n\n"
         "Every row of docs/gpu-calibration.md (sources, notes and the calibrated factors are "
         "there), timed on " +
         (inputs.gpuProfiles && !inputs.gpuProfileSource.empty()
              ? inputs.gpuProfileSource
              : std::string("the per-op profiles of the model cards' shapes")) +
         ". Calibration points have zero error by construction.\n\n"
         "| id | workload | GPU | published | modeled | error | status |\n"
         "|---|---|---|---|---|---|---|\n";
  int gpuWithin = 0, gpuPredictions = 0;
  for (const gpu::MeasurementOutcome &outcome : *gpuRows) {
    const gpu::PublishedMeasurement &m = outcome.measurement;
    bool calibration = m.calibrates != gpu::CalibratedFactor::None;
    bool ok = std::fabs(outcome.errorPercent) <= gpu::kTolerancePercent;
    if (!calibration) {
      ++gpuPredictions;
      gpuWithin += ok;
    }
    std::string unit = m.metric == gpu::MeasuredMetric::FirstTokenSeconds ? "ms" : "tok/s";
    double scale = m.metric == gpu::MeasuredMetric::FirstTokenSeconds ? 1e3 : 1.0;
    out += fmt::format("| `{}` | {} | {} | {:.4g} {} | {:.4g} {} | {:+.1f}% | {} |\n", m.id,
                       m.workload, m.gpu, m.published * scale, unit, outcome.modeled * scale, unit,
                       outcome.errorPercent,
                       calibration ? "calibration point" : (ok ? "within 25%" : "**miss**"));
  }
  out += fmt::format("\n**{} of {} GPU predictions within +-25%.**\n", gpuWithin, gpuPredictions);
  return out;
}

} // namespace conveyor::reports
