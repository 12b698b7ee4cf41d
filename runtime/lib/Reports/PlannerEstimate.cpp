// Planner-based LPU estimates, model lookup, compare systems and the explore evaluator.
#include "conveyor/Reports/PlannerEstimate.h"

#include "conveyor/Reports/GraphWorkload.h"

#include "conveyor/Gpu/GpuConfig.h"
#include "conveyor/Gpu/GpuServingBackend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

namespace conveyor::reports {
namespace fs = std::filesystem;

namespace {

std::string zooNames(const std::string &root) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto &entry : fs::directory_iterator(fs::path(root) / "models/zoo/configs", error)) {
    if (entry.path().extension() == ".json") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string &name : names) {
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

/// The MXM input type a matmul of `weights` runs at, as the planner times it.
system::DType mxmType(system::DType weights, const system::ChipConfig &chip) {
  return chip.mxm.macsPerCycle.count(weights) ? weights : chip.mxm.floatTimingAs;
}

double macPicojoules(system::DType type, const system::ChipConfig &chip) {
  auto found = chip.energy.macPicojoules.find(type);
  if (found != chip.energy.macPicojoules.end()) {
    return found->second;
  }
  found = chip.energy.macPicojoules.find(chip.mxm.floatTimingAs);
  return found != chip.energy.macPicojoules.end() ? found->second : 0.0;
}

double bytesPerElement(system::DType type) { return system::dtypeBits(type) / 8.0; }

} // namespace

std::optional<std::string> findRepoRoot(const std::string &executablePath) {
  if (const char *root = std::getenv("CONVEYOR_ROOT"); root && *root) {
    return std::string(root);
  }
  auto search = [](fs::path dir) -> std::optional<std::string> {
    std::error_code error;
    for (int depth = 0; depth < 8 && !dir.empty(); ++depth) {
      if (fs::is_directory(dir / "models/zoo/configs", error)) {
        return dir.string();
      }
      if (dir == dir.parent_path()) {
        break;
      }
      dir = dir.parent_path();
    }
    return std::nullopt;
  };
  std::error_code error;
  fs::path executable = fs::weakly_canonical(fs::path(executablePath), error);
  if (!error) {
    if (auto root = search(executable.parent_path())) {
      return root;
    }
  }
  return search(fs::current_path(error));
}

Result<partition::ModelSummary> resolveModel(const std::string &model, const std::string &root) {
  fs::path path(model);
  fs::path config;
  if (path.extension() == ".json") {
    config = path;
  } else if (path.extension() == ".onnx") {
    config = path.parent_path().parent_path() / "configs" / (path.stem().string() + ".json");
    if (!fs::exists(config)) {
      return makeError(fmt::format(
          "--model {}: compare and explore read the model's shape from its zoo config, and "
          "{} does not exist; pass a zoo name ({}) or a config JSON",
          model, config.string(), zooNames(root)));
    }
  } else {
    config = fs::path(root) / "models/zoo/configs" / (model + ".json");
    if (!fs::exists(config)) {
      return makeError(fmt::format("--model {}: no such zoo model (looked for {}); known: {}",
                                   model, config.string(), zooNames(root)));
    }
  }
  Result<partition::DecoderShape> shape = loadZooDecoderShape(config.string());
  if (!shape) {
    return makeError(shape.error());
  }
  return partition::makeDecoderSummary(*shape);
}

Result<system::SystemConfig> resizedSystem(const system::SystemConfig &base, uint32_t chips,
                                           uint64_t sramBytes) {
  system::SystemConfig config = base;
  config.name = fmt::format("{}-{}x{}MB", base.chip.name, chips, sramBytes / 1000000);
  config.fabric.chips = chips;
  uint32_t perNode = std::max<uint32_t>(1, base.fabric.chipsPerNode);
  if (chips == 1) {
    config.fabric.topology = system::Topology::Single;
    config.fabric.chipsPerNode = 1;
  } else if (chips <= perNode) {
    config.fabric.topology = system::Topology::FullyConnected;
    config.fabric.chipsPerNode = chips;
  } else {
    config.fabric.topology = system::Topology::Dragonfly;
    config.fabric.chipsPerNode = perNode;
    if (config.fabric.nodesPerGroup <= 1) {
      config.fabric.nodesPerGroup = 9; // a GroqRack, as groq-576.yaml
    }
  }
  uint32_t slices = std::max<uint32_t>(1, base.chip.mem.slices);
  config.chip.mem.bytesPerSlice = (sramBytes + slices - 1) / slices;
  if (Status valid = system::validateSystemConfig(config); !valid) {
    return makeError(fmt::format("system resized to {} chips of {} MB: {}", chips, sramBytes / 1e6,
                                 valid.error()));
  }
  return config;
}

Result<LpuEstimate> estimateLpu(const partition::ModelSummary &model,
                                const system::SystemConfig &system, const LpuSettings &settings,
                                const std::string &name) {
  Result<partition::Plan> plan = partition::planPartition(model, system, settings.plan);
  if (!plan) {
    return makeError(plan.error());
  }
  LpuEstimate result{std::move(*plan), std::nullopt};
  if (!result.plan.fits) {
    return result;
  }
  const partition::Plan &chosen = result.plan;
  const system::ChipConfig &chip = system.chip;

  // Per-token decode latency of one sequence, with the chosen tensor parallelism: linear in
  // the context between a 1-token and a maxContext-token KV read.
  auto oneSequence = [&](int64_t context) -> Result<double> {
    partition::PlanOptions options = settings.plan;
    options.seqsInFlight = 1;
    options.maxContext = context;
    options.tensorParallel = chosen.tp;
    options.layersPerStage.reset();
    if (options.compiledLayout) {
      // The chosen plan's own layout (the one the compile builds), not the fastest one that
      // one short sequence would allow.
      options.pipelineStages = chosen.stageCount;
      options.stageLayers.clear();
      for (const partition::StagePlan &stage : chosen.stages) {
        options.stageLayers.push_back(stage.layerCount);
      }
    }
    Result<partition::Plan> single = partition::planPartition(model, system, options);
    if (!single) {
      return makeError(single.error());
    }
    if (!single->fits) {
      return makeError(fmt::format("{}: one sequence at context {} does not fit with tp {} "
                                   "although {} sequences do (planner inconsistency)",
                                   name, context, chosen.tp, settings.plan.seqsInFlight));
    }
    return single->decode.total();
  };
  const int64_t maxContext = std::max<int64_t>(2, settings.plan.maxContext);
  Result<double> shortLatency = oneSequence(1);
  if (!shortLatency) {
    return makeError(shortLatency.error());
  }
  Result<double> longLatency = oneSequence(maxContext);
  if (!longLatency) {
    return makeError(longLatency.error());
  }
  const double perContext = std::max(0.0, (*longLatency - *shortLatency) / double(maxContext - 1));

  // Bytes and MACs of one token (whole model; MoE: the active experts).
  double activeElements = 0, kvElementsPerToken = 0;
  for (const partition::LayerSummary &layer : model.layers) {
    activeElements += double(layer.activeWeights());
    kvElementsPerToken += double(layer.kvElementsPerToken);
  }
  activeElements += double(model.tiedEmbedding ? model.embeddingElements : model.lmHeadElements);
  const system::DType weights = settings.plan.weights;
  const double weightBytes = activeElements * bytesPerElement(weights);
  const double kvBytesPerToken = kvElementsPerToken * bytesPerElement(settings.plan.kv);
  const double actBytes = std::max(1.0, bytesPerElement(settings.plan.activations));
  const double tp = chosen.tp;
  // C2C bytes per token: two all-reduces per layer (each chip sends 2 (tp-1)/tp of the
  // message, tp chips) and one activation send per stage boundary.
  const double c2cBytes =
      double(model.layers.size()) * 2 * 2 * (tp - 1) * double(model.hidden) * actBytes +
      double(chosen.stageCount > 0 ? chosen.stageCount - 1 : 0) * tp * double(model.hidden) *
          actBytes;
  const double pj = 1e-12;
  const double readPjPerBit =
      chip.energy.sramReadPicojoulesPerBit + chip.energy.streamPicojoulesPerBit;
  const double weightReadJoules = weightBytes * 8 * readPjPerBit * pj;
  const double macJoules = activeElements * macPicojoules(mxmType(weights, chip), chip) * pj;
  const double c2cJoules = c2cBytes * 8 * chip.energy.c2cPicojoulesPerBit * pj;
  const double kvWriteJoules =
      kvBytesPerToken * 8 *
      (chip.energy.sramWritePicojoulesPerBit + chip.energy.streamPicojoulesPerBit) * pj;

  // Prefill: prompt tokens stream through; the busiest chip's MACs per token set the pace.
  uint64_t busiestWeightBytes = 0;
  for (const partition::ChipMemory &memory : chosen.chips) {
    busiestWeightBytes = std::max(busiestWeightBytes, memory.weightBytes - memory.scaleBytes);
  }
  const system::DType timing = mxmType(weights, chip);
  const double macsPerSecond = double(chip.mxm.macsPerCycle.at(timing)) * chip.clockHz;
  const double prefillPerToken =
      double(busiestWeightBytes) / bytesPerElement(weights) / macsPerSecond;

  LpuDeploymentEstimate estimate;
  estimate.name = name;
  // The whole system: chips the plan leaves unused are still bought and powered.
  estimate.chips = system.fabric.chips;
  estimate.pipelineStages = std::max<uint32_t>(1, chosen.stageCount);
  estimate.maxSequences = uint32_t(std::max<int64_t>(1, settings.plan.seqsInFlight));
  estimate.staticWattsPerChip = chip.energy.staticWatts;
  estimate.decodeSeconds = std::max(1e-9, *shortLatency - perContext);
  estimate.decodeSecondsPerContextToken = perContext;
  estimate.prefillSecondsPerToken = prefillPerToken;
  estimate.decodeJoules = weightReadJoules + macJoules + c2cJoules + kvWriteJoules;
  estimate.joulesPerContextToken = kvBytesPerToken * 8 * readPjPerBit * pj;
  estimate.prefillFixedJoules = weightReadJoules;
  estimate.prefillJoulesPerToken = macJoules + c2cJoules + kvWriteJoules;
  if (Status valid = validateEstimate(estimate); !valid) {
    return makeError(valid.error());
  }
  result.estimate = estimate;
  return result;
}

namespace {

struct GpuSpec {
  std::string name;
  uint32_t count = 1;
  std::optional<uint32_t> tp;
};

Result<GpuSpec> parseGpuSpec(const std::string &spec, const std::string &body) {
  GpuSpec parsed;
  std::string rest = body;
  if (size_t colon = rest.find(':'); colon != std::string::npos) {
    std::string tpText = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (tpText.size() < 3 || tpText.size() > 8 || tpText.compare(0, 2, "tp") != 0 ||
        tpText.find_first_not_of("0123456789", 2) != std::string::npos) {
      return makeError(fmt::format("--systems {}: expected ':tpN' after the GPU count", spec));
    }
    parsed.tp = uint32_t(std::stoul(tpText.substr(2)));
  }
  size_t x = rest.find_last_of('x');
  if (x == std::string::npos || x + 1 >= rest.size() || rest.size() - x > 7 ||
      rest.find_first_not_of("0123456789", x + 1) != std::string::npos) {
    return makeError(fmt::format("--systems {}: write gpu:NAMExCOUNT, e.g. gpu:h100x8", spec));
  }
  parsed.name = rest.substr(0, x);
  parsed.count = uint32_t(std::stoul(rest.substr(x + 1)));
  if (parsed.count == 0 || (parsed.tp && *parsed.tp == 0)) {
    return makeError(fmt::format("--systems {}: the GPU count and tp must be at least 1", spec));
  }
  static const std::map<std::string, std::string> aliases = {{"h100", "h100-sxm"},
                                                             {"a100", "a100-sxm-80g"},
                                                             {"a100-80g", "a100-sxm-80g"},
                                                             {"a100-40g", "a100-sxm-40g"}};
  if (auto alias = aliases.find(parsed.name); alias != aliases.end()) {
    parsed.name = alias->second;
  }
  return parsed;
}

Result<CompareSystem> makeLpuSystem(const std::string &spec, const std::string &name,
                                    const partition::ModelSummary &model,
                                    const CompareSettings &settings) {
  fs::path path = fs::path(settings.root) / "systems" / (name + ".yaml");
  Result<system::SystemConfig> system = system::loadSystemConfig(path.string());
  if (!system) {
    return makeError(fmt::format("--systems {}: {}", spec, system.error()));
  }
  std::vector<system::DType> candidates;
  if (settings.lpuWeights == "auto") {
    candidates = {system::DType::F16, system::DType::FP8, system::DType::INT8};
  } else {
    Result<system::DType> type = system::parseDType(settings.lpuWeights);
    if (!type) {
      return makeError("--lpu-weights: " + type.error());
    }
    candidates = {*type};
  }
  std::string lastRefusal;
  // Sequences in flight: as asked, or (auto) the most, 64 down to 1 by halves, that fit.
  std::vector<int64_t> sequenceChoices = {settings.lpu.plan.seqsInFlight};
  if (settings.lpuSequencesAuto) {
    sequenceChoices = {64, 32, 16, 8, 4, 2, 1};
  }
  std::vector<std::pair<system::DType, int64_t>> choices;
  for (system::DType weights : candidates) {
    for (int64_t sequences : sequenceChoices) {
      choices.push_back({weights, sequences});
    }
  }
  // A multi-chip system is planned by the compile's rule, so that the deployment chosen here
  // is the one `conveyor compile -o` builds (and its estimate, the fallback, is of that plan).
  LpuSettings planned = settings.lpu;
  if (system->fabric.chips > 1) {
    planned.plan = partition::compiledPlanOptions(planned.plan, /*reserveGiven=*/false);
  }
  for (const auto &[weights, sequences] : choices) {
    LpuSettings lpu = planned;
    lpu.plan.weights = weights;
    lpu.plan.seqsInFlight = sequences;
    Result<LpuEstimate> estimate = estimateLpu(model, *system, lpu, spec);
    if (!estimate) {
      return makeError(fmt::format("--systems {}: {}", spec, estimate.error()));
    }
    if (!estimate->estimate) {
      lastRefusal = estimate->plan.refusal;
      continue;
    }
    auto step = EstimatedLpuStepModel::create(*estimate->estimate);
    if (!step) {
      return makeError(fmt::format("--systems {}: {}", spec, step.error()));
    }
    const partition::Plan &plan = estimate->plan;
    const LpuDeploymentEstimate &e = *estimate->estimate;
    CompareSystem result;
    result.label = spec;
    result.kind = "LPU";
    result.backend =
        std::make_shared<LpuStepBackend>(std::shared_ptr<const LpuStepModel>(std::move(*step)));
    result.source = "estimated: partition planner";
    CompareSystem::LpuDeployment deployment;
    deployment.systemPath = path.string();
    deployment.weights = system::dtypeName(weights);
    deployment.activations = system::dtypeName(lpu.plan.activations);
    deployment.kv = system::dtypeName(lpu.plan.kv);
    deployment.weightsAuto = settings.lpuWeights == "auto";
    deployment.sequencesAuto = settings.lpuSequencesAuto;
    deployment.sequences = lpu.plan.seqsInFlight;
    deployment.maxContext = lpu.plan.maxContext;
    result.lpu = deployment;
    result.notes = {
        fmt::format("{} chips of {:.1f} MB ({} used: tp {} x {} pipeline stages)",
                    system->fabric.chips, system->chip.sramBytes() / 1e6, plan.chipsUsed, plan.tp,
                    plan.stageCount),
        fmt::format("weights {}, activations {}, KV {}{}", system::dtypeName(weights),
                    system::dtypeName(lpu.plan.activations), system::dtypeName(lpu.plan.kv),
                    settings.lpuWeights == "auto" ? " (widest precision that fits)" : ""),
        fmt::format("{} sequences in flight{}, KV for {} tokens each", lpu.plan.seqsInFlight,
                    settings.lpuSequencesAuto ? " (most of 64, 32, ..., 1 that fit)" : "",
                    lpu.plan.maxContext),
        fmt::format("decode latency {:.3f} ms per token at context 0 + {:.3g} us per context "
                    "token (planner estimate, not simulated)",
                    e.decodeSeconds * 1e3, e.decodeSecondsPerContextToken * 1e6)};
    return result;
  }
  return makeError(fmt::format("--systems {}: {}", spec, lastRefusal));
}

Result<CompareSystem> makeGpuSystem(const std::string &spec, const std::string &body,
                                    const partition::ModelSummary &model,
                                    const CompareSettings &settings) {
  Result<GpuSpec> parsed = parseGpuSpec(spec, body);
  if (!parsed) {
    return makeError(parsed.error());
  }
  Result<gpu::GpuConfig> config =
      gpu::loadGpuByName((fs::path(settings.root) / "systems/gpu").string(), parsed->name);
  if (!config) {
    return makeError(fmt::format("--systems {}: {}", spec, config.error()));
  }
  uint32_t tp = parsed->tp.value_or(std::min(parsed->count, config->interconnect.gpusPerNode));
  if (tp == 0 || parsed->count % tp != 0) {
    return makeError(fmt::format("--systems {}: tensor parallel {} must divide the {} GPUs", spec,
                                 tp, parsed->count));
  }
  gpu::ProfileOptions profileOptions;
  if (settings.gpuPrecision == "fp8") {
    profileOptions.precision.weights = system::DType::FP8;
    profileOptions.precision.compute = system::DType::FP8;
  } else if (settings.gpuPrecision != "bf16") {
    return makeError("--gpu-precision must be bf16 or fp8, got '" + settings.gpuPrecision + "'");
  }
  // The per-op profile of the graph when the caller imported it, else of the config's
  // summary (the same per-op rules either way).
  Result<gpu::WorkloadProfile> profile =
      buildGraphWorkloadProfile(settings.graphModel ? *settings.graphModel : model, profileOptions);
  if (!profile) {
    return makeError(fmt::format("--systems {}: {}", spec, profile.error()));
  }
  gpu::GpuServingOptions options;
  options.tensorParallel = tp;
  options.replicas = parsed->count / tp;
  options.maxContextTokens = settings.maxContextTokens;
  Result<gpu::GpuServingBackend> backend =
      gpu::GpuServingBackend::create(*config, *profile, options);
  if (!backend) {
    return makeError(fmt::format("--systems {}: {}", spec, backend.error()));
  }
  CompareSystem result;
  result.label = spec;
  result.kind = "GPU";
  result.source = "roofline";
  result.notes = {fmt::format("{} x {} ({} replicas of tp {})", parsed->count, config->name,
                              options.replicas, tp),
                  fmt::format("weights {} (roofline, docs/gpu-model.md); per-op profile of {}",
                              settings.gpuPrecision,
                              settings.graphModel ? settings.graphSource
                                                  : std::string("the zoo config (no graph)")),
                  fmt::format("up to {} sequences in flight", backend->maxSequences())};
  result.backend = std::make_shared<gpu::GpuServingBackend>(std::move(*backend));
  return result;
}

} // namespace

Result<CompareSystem> makeCompareSystem(const std::string &spec,
                                        const partition::ModelSummary &model,
                                        const CompareSettings &settings) {
  if (spec.rfind("lpu:", 0) == 0 && spec.size() > 4) {
    return makeLpuSystem(spec, spec.substr(4), model, settings);
  }
  if (spec.rfind("gpu:", 0) == 0 && spec.size() > 4) {
    return makeGpuSystem(spec, spec.substr(4), model, settings);
  }
  return makeError(fmt::format("--systems: '{}' must start with lpu: or gpu: (e.g. "
                               "lpu:groq-576, gpu:h100x8)",
                               spec));
}

system::SystemConfig withSramPerChip(const system::SystemConfig &system, uint64_t sramBytes) {
  system::SystemConfig out = system;
  const uint32_t slices = std::max<uint32_t>(1, system.chip.mem.slices);
  out.chip.mem.bytesPerSlice = (sramBytes + slices - 1) / slices;
  return out;
}

PointEvaluator makePlannerEvaluator(partition::ModelSummary model, system::SystemConfig base,
                                    LpuSettings settings, uint64_t meanContext) {
  // Every point is planned by the compile's rule (docs/partition.md, "The compile's rule"):
  // its fit, minimum and plan are what `conveyor compile` says for the same system.
  settings.plan = partition::compiledPlanOptions(settings.plan, /*reserveGiven=*/false);
  auto minimumCache = std::make_shared<std::map<std::string, uint32_t>>();
  auto cacheMutex = std::make_shared<std::mutex>();
  return [model = std::move(model), base = std::move(base), settings, meanContext, minimumCache,
          cacheMutex](const ExplorePoint &point) -> Result<ExploreResult> {
    Result<system::DType> weights = system::parseDType(point.precision);
    if (!weights) {
      return makeError("--precisions: " + weights.error());
    }
    uint64_t sramBytes = uint64_t(std::llround(point.sramMegabytes * 1e6));
    Result<system::SystemConfig> system = resizedSystem(base, point.chips, sramBytes);
    if (!system) {
      return makeError(system.error());
    }
    LpuSettings lpu = settings;
    lpu.plan.weights = *weights;
    lpu.plan.seqsInFlight = point.sequences;
    ExploreResult result;
    result.point = point;
    {
      // The minimum at this SRAM size, precision and sequences: what `conveyor compile
      // --min-chips` prints for the base system file with this SRAM per chip.
      std::string key = fmt::format("{}|{}|{}", point.precision, sramBytes, point.sequences);
      std::unique_lock<std::mutex> lock(*cacheMutex);
      auto found = minimumCache->find(key);
      if (found == minimumCache->end()) {
        lock.unlock();
        uint32_t minimum =
            partition::minimumChips(model, withSramPerChip(base, sramBytes), lpu.plan);
        lock.lock();
        found = minimumCache->emplace(key, minimum).first;
      }
      result.minimumChips = found->second;
    }
    if (result.minimumChips == 0 || result.minimumChips > point.chips) {
      result.fits = false;
      partition::Footprint footprint = partition::modelFootprint(model, lpu.plan);
      result.weightBytes = double(footprint.weightBytes);
      result.kvBytes = double(footprint.kvBytes);
      result.reason = result.minimumChips == 0
                          ? "no chip count fits (a layer shard exceeds one chip)"
                          : fmt::format("needs at least {} chips", result.minimumChips);
      return result;
    }
    Result<LpuEstimate> estimate =
        estimateLpu(model, *system, lpu, fmt::format("lpu:{}", system->name));
    if (!estimate) {
      return makeError(estimate.error());
    }
    result.weightBytes = double(estimate->plan.footprint.weightBytes);
    result.kvBytes = double(estimate->plan.footprint.kvBytes);
    if (!estimate->estimate) {
      result.fits = false;
      result.reason = "the compile's plan finds no layout on this fabric";
      return result;
    }
    auto step = EstimatedLpuStepModel::create(*estimate->estimate);
    if (!step) {
      return makeError(step.error());
    }
    LpuStepBackend backend(std::shared_ptr<const LpuStepModel>(std::move(*step)));
    Result<SteadyDecode> steady = steadyDecode(backend, point.sequences, meanContext);
    if (!steady) {
      return makeError(steady.error());
    }
    result.fits = true;
    result.tensorParallel = estimate->plan.tp;
    result.pipelineStages = estimate->plan.stageCount;
    result.decodeStepSeconds =
        estimate->estimate->decodeSeconds +
        double(meanContext) * estimate->estimate->decodeSecondsPerContextToken;
    result.perUserTokensPerSecond = steady->perUserTokensPerSecond;
    result.aggregateTokensPerSecond = steady->aggregateTokensPerSecond;
    result.joulesPerToken = steady->joulesPerToken;
    result.watts = steady->watts;
    if (estimate->plan.chipsUsed < point.chips) {
      result.reason =
          fmt::format("plan uses {} of {} chips", estimate->plan.chipsUsed, point.chips);
    }
    return result;
  };
}

} // namespace conveyor::reports
