// `conveyor compile` planning: --min-chips, --explain, the does-not-fit refusal, precisions.
#include "CompilePlanning.h"

#include "conveyor/Partition/ModelSummaryAnalysis.h"
#include "conveyor/Partition/Planner.h"
#include "conveyor/System/SystemConfig.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace conveyor::cli {

namespace {

using partition::PlanOptions;
using system::DType;

int failWith(const std::string &message) {
  std::fflush(stdout);
  fmt::print(stderr, "conveyor: error: {}\n", message);
  return 1;
}

/// Weight precisions --min-chips reports when --weights is not given.
const DType kWeightPrecisions[] = {DType::F16, DType::BF16, DType::FP8, DType::INT8, DType::INT4};

Result<DType> parsePrecision(const std::string &flag, const std::string &value) {
  Result<DType> type = system::parseDType(value);
  if (!type || *type == DType::INT32) {
    return makeError(
        fmt::format("{} '{}': expected one of fp32, fp16, bf16, fp8, int8, int4", flag, value));
  }
  return type;
}

Result<PlanOptions> planOptionsOf(const PlanningFlags &flags, DType weights) {
  PlanOptions o;
  o.weights = weights;
  Result<DType> activations = parsePrecision("--activations", flags.activations);
  if (!activations) {
    return activations.takeError();
  }
  Result<DType> kv = parsePrecision("--kv", flags.kv);
  if (!kv) {
    return kv.takeError();
  }
  if (*activations == DType::INT4) {
    return makeError("--activations int4: activations are at least 8 bits; use int8 or wider");
  }
  o.activations = *activations;
  o.kv = *kv;
  o.maxContext = flags.maxContext;
  o.seqsInFlight = flags.seqs;
  o.tensorParallel = flags.tp;
  o.layersPerStage = flags.layersPerStage;
  o.sramReserveFraction = flags.reserveOr(0.02);
  o.alignStagesToGroups = flags.alignStages;
  return o;
}

std::string jsonEscape(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

/// The smallest system next to `systemPath` (same folder, *.yaml) on which the model fits.
std::string smallestFittingSibling(const partition::ModelSummary &model,
                                   const std::string &systemPath, const PlanOptions &options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path folder = fs::path(systemPath).parent_path();
  if (folder.empty()) {
    folder = ".";
  }
  std::string best;
  uint32_t bestChips = 0;
  for (const fs::directory_entry &entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().extension() != ".yaml") {
      continue;
    }
    Result<system::SystemConfig> other = system::loadSystemConfig(entry.path().string());
    if (!other || (bestChips && other->fabric.chips >= bestChips)) {
      continue;
    }
    Result<partition::Plan> plan = partition::planPartition(model, *other, options);
    if (plan && plan->fits) {
      best = entry.path().string();
      bestChips = other->fabric.chips;
    }
  }
  return best;
}

int runMinChips(const partition::ModelSummary &model, const system::SystemConfig &system, bool json,
                const PlanningFlags &flags) {
  std::vector<DType> precisions;
  if (flags.weights.empty()) {
    precisions.assign(std::begin(kWeightPrecisions), std::end(kWeightPrecisions));
  } else {
    Result<DType> w = parsePrecision("--weights", flags.weights);
    if (!w) {
      return failWith(w.error());
    }
    precisions.push_back(*w);
  }
  // The compile's rule (partition::compiledPlanOptions): the count printed is the smallest
  // system of this kind that `conveyor compile -o` plans and builds, and the refusal on a
  // smaller one names the same count.
  const double reserve = flags.reserveOr(partition::kCompiledSramReserve);
  const uint32_t perNode = std::max<uint32_t>(1, system.fabric.chipsPerNode);
  std::string text = fmt::format(
      "{}: fewest {} chips ({:.1f} MB SRAM, {:.0f}% reserved) that `conveyor compile -o` builds "
      "the model on, with KV for {} tokens x {} sequences at {}, activations {}\n",
      model.name, system.chip.name, system.chip.sramBytes() / 1e6, reserve * 100,
      flags.maxContext, flags.seqs, flags.kv, flags.activations);
  text += fmt::format("  {:<8} {:>10} {:>7} {:>9} {:>10} {:>9} {:>11}  fits {}\n", "weights",
                      "weights GB", "KV GB", "min chips", "plan", "any split", "lower bound",
                      system.name);
  std::string rows;
  for (DType w : precisions) {
    Result<PlanOptions> given = planOptionsOf(flags, w);
    if (!given) {
      return failWith(given.error());
    }
    const PlanOptions options = partition::compiledPlanOptions(*given, flags.reserve.has_value());
    if (options.tensorParallel || options.layersPerStage) {
      // Validate the overrides the way a plan would.
      Result<partition::Plan> check = partition::planPartition(model, system, options);
      if (!check) {
        return failWith(check.error());
      }
    }
    partition::Footprint f = partition::modelFootprint(model, options);
    const uint32_t chips = partition::minimumChips(model, system, options);
    // The plan the compile makes on a system of exactly that many chips.
    std::string planText = "-";
    uint32_t planTp = 0, planStages = 0;
    if (chips > 0) {
      Result<partition::Plan> atMinimum =
          partition::planPartition(model, partition::resizedSystem(system, chips), options);
      if (atMinimum && atMinimum->fits) {
        planTp = atMinimum->tp;
        planStages = atMinimum->stageCount;
        planText = fmt::format("{}x{}", planTp, planStages);
      }
    }
    // What a shard pass free to give stages unequal layer ranges would need (the planner's
    // greedy layout under the same reserve and tp limits), and the capacity bound.
    PlanOptions anySplit = options;
    anySplit.nearEqualStagesOnly = false;
    anySplit.compiledLayout = false;
    const uint32_t unequal = partition::minimumChips(model, system, anySplit);
    const uint64_t usable = uint64_t(double(system.chip.sramBytes()) * (1 - reserve));
    const uint64_t bound = usable ? (f.totalBytes() + usable - 1) / usable : 0;
    const bool fits = chips > 0 && chips <= system.fabric.chips;
    text += fmt::format("  {:<8} {:>10.2f} {:>7.2f} {:>9} {:>10} {:>9} {:>11}  {}\n",
                        system::dtypeName(w), f.weightBytes / 1e9, f.kvBytes / 1e9,
                        chips ? std::to_string(chips) : std::string("none"), planText,
                        unequal ? std::to_string(unequal) : std::string("none"), bound,
                        fits ? "yes" : "no");
    rows += fmt::format(
        "{}    {{\"weights\": \"{}\", \"weight_bytes\": {}, \"kv_bytes\": {}, "
        "\"minimum_chips\": {}, \"tp\": {}, \"stages\": {}, \"any_split_chips\": {}, "
        "\"capacity_lower_bound\": {}, \"fits_system\": {}}}",
        rows.empty() ? "" : ",\n", system::dtypeName(w), f.weightBytes, f.kvBytes, chips, planTp,
        planStages, unequal, bound, fits ? "true" : "false");
  }
  text += fmt::format(
      "min chips: the smallest system of this kind ({}) on which the compile's plan fits: "
      "near-equal layer ranges, or when none fits stages filled front to back with at least "
      "one layer each, on chips stage * tp + rank, tp <= {} (one C2C link per all-reduce "
      "peer); plan: its tp x stages. any split: the same with any unequal layer ranges, an "
      "embedding- or LM-head-only stage included (not built by the shard pass). lower bound: "
      "ceil(bytes / usable SRAM per chip)\n",
      system.fabric.chips > 1
          ? fmt::format("whole nodes of {} above one node", perNode)
          : std::string("one chip in this file, so no fabric: chips of its type in one group"),
      partition::maxLowerableTp(system.chip));
  if (json) {
    fmt::print("{{\n  \"model\": \"{}\",\n  \"system\": \"{}\",\n  \"chip\": \"{}\",\n"
               "  \"sram_bytes_per_chip\": {},\n  \"sram_reserve\": {},\n"
               "  \"chips_in_system\": {},\n  \"activations\": "
               "\"{}\",\n  \"kv\": \"{}\",\n  \"max_context\": {},\n  \"seqs\": {},\n"
               "  \"precisions\": [\n{}\n  ]\n}}\n",
               jsonEscape(model.name), jsonEscape(system.name), jsonEscape(system.chip.name),
               system.chip.sramBytes(), reserve, system.fabric.chips, flags.activations, flags.kv,
               flags.maxContext, flags.seqs, rows);
  } else {
    fmt::print("{}", text);
  }
  return 0;
}

} // namespace

void addPlanningFlags(CLI::App &compile, PlanningFlags &flags) {
  compile.add_option("--weights", flags.weights,
                     "Weight precision: fp16, bf16, fp8, int8 or int4 (accumulation is wider); "
                     "plans the model for a multi-chip system");
  compile.add_option("--activations", flags.activations, "Activation precision (default fp16)");
  compile.add_option("--kv", flags.kv, "KV-cache precision (default fp16)");
  compile
      .add_option("--max-context", flags.maxContext,
                  "Tokens of context the KV cache is sized for (default 4096, or the "
                  "model's learned positions when fewer)")
      ->check(CLI::PositiveNumber)
      ->each([&flags](const std::string &) { flags.maxContextGiven = true; });
  compile
      .add_option("--seqs", flags.seqs, "Sequences in flight, each with its KV cache (default 1)")
      ->check(CLI::PositiveNumber);
  compile.add_option("--tp", flags.tp,
                     "Force the tensor-parallel degree (must divide the attention heads)");
  compile.add_option("--layers-per-stage", flags.layersPerStage,
                     "Force a uniform pipeline stage size (layers per stage)");
  compile
      .add_option("--sram-reserve", flags.reserve,
                  "Fraction of each chip's SRAM kept for instructions, alignment and the "
                  "compiled step's temporaries (default 0.08 on a multi-chip system, else 0.02)")
      ->check(CLI::Range(0.0, 0.9));
  compile.add_flag("--align-stages", flags.alignStages,
                   "Start each tensor-parallel group on a node / rack boundary (fewer hops per "
                   "all-reduce; chip ids get gaps) instead of chip = stage * tp + rank");
  compile.add_flag("--min-chips", flags.minChips,
                   "Print the fewest chips of the system's chip type that hold the model, per "
                   "weight precision (all of them unless --weights), and exit");
  compile.add_flag("--explain", flags.explain,
                   "Print the partition plan and the per-chip memory map (with --json: as JSON)");
  compile.add_flag("--explain-all", flags.explainAll,
                   "With --explain: list every tensor of each chip role's memory map (default: "
                   "the largest 8 and the totals per kind)");
}

std::optional<int> runPlanning(const std::string &modelPath, const std::string &systemPath,
                               bool json, bool wantsOutput, const PlanningFlags &givenFlags,
                               PlannedPartition &planned) {
  PlanningFlags flags = givenFlags; // --max-context may be capped below
  Result<system::SystemConfig> system = system::loadSystemConfig(systemPath);
  if (!system) {
    return failWith(system.error());
  }
  const bool multiChip = system->fabric.chips > 1;
  if (!multiChip && !flags.requested()) {
    return std::nullopt; // the one-chip compile as before
  }
  Result<partition::ModelSummary> model = partition::summarizeOnnxModel(modelPath);
  if (!model) {
    // One chip and only precision flags: a graph the planner cannot summarise (no KV cache,
    // unnamed heads) still compiles; the one-chip SRAM allocator checks that it fits.
    if (!multiChip && !flags.minChips && !flags.explain && !flags.explainAll) {
      return std::nullopt;
    }
    return failWith(model.error());
  }
  // A learned position table bounds the context: the decode step after N cached tokens reads
  // position N, so N < the table's rows. Cap the default; refuse an explicit value above it.
  if (model->maxPositions > 0 && uint64_t(flags.maxContext) >= model->maxPositions) {
    const uint64_t limit = model->maxPositions - 1;
    if (flags.maxContextGiven) {
      return failWith(fmt::format(
          "{}: --max-context {} is too long for the model's {} positions (rows of its learned "
          "position-embedding table; the next token after {} cached ones reads position {}); "
          "pass --max-context {} or less",
          modelPath, flags.maxContext, model->maxPositions, flags.maxContext, flags.maxContext,
          limit));
    }
    fmt::print(stderr,
               "note: {} has {} positions (rows of its learned position-embedding table): "
               "--max-context defaults to {} instead of {}\n",
               model->name.empty() ? modelPath : model->name, model->maxPositions, limit,
               flags.maxContext);
    flags.maxContext = int64_t(limit);
  }
  planned.maxContext = flags.maxContext;
  if (flags.minChips) {
    return runMinChips(*model, *system, json, flags);
  }
  // Without --weights the plan keeps 16-bit weights (the zoo checkpoints' precision):
  // quantising is the user's choice, and the refusal says which precision would fit.
  Result<DType> weights =
      parsePrecision("--weights", flags.weights.empty() ? "fp16" : flags.weights);
  if (!weights) {
    return failWith(weights.error());
  }
  Result<PlanOptions> options = planOptionsOf(flags, *weights);
  if (!options) {
    return failWith(options.error());
  }
  if (multiChip) {
    // Plan by the compile's rule whether or not an output is wanted, so that --explain and
    // the one-line plan show what `-o` builds.
    *options = partition::compiledPlanOptions(*options, flags.reserve.has_value());
    if (flags.alignStages) {
      if (wantsOutput) {
        return failWith("--align-stages: the multi-chip compile places stage s, rank r on chip "
                        "s * tp + r; drop --align-stages (it only shows the aligned plan with "
                        "--explain)");
      }
      options->alignStagesToGroups = true; // a what-if plan; the text says -o does not build it
    }
  }
  Result<partition::Plan> plan = partition::planPartition(*model, *system, *options);
  if (!plan) {
    return failWith(modelPath + ": " + plan.error());
  }
  if (!plan->fits) {
    std::string message = plan->refusal;
    std::string sibling = smallestFittingSibling(*model, systemPath, *options);
    if (!sibling.empty()) {
      message += fmt::format(" (--system {} fits at {})", sibling, system::dtypeName(*weights));
    }
    if (flags.explain && json) {
      fmt::print("{}", partition::renderPlanJson(*plan, *system));
    }
    return failWith(message);
  }
  if (flags.explain || flags.explainAll) {
    const std::vector<partition::StageMemoryMap> maps =
        partition::planMemoryMaps(*model, *plan, system->chip);
    if (json) {
      fmt::print("{}", partition::renderPlanJson(*plan, *system, maps));
    } else {
      fmt::print("{}{}", partition::renderPlanText(*plan, *system),
                 partition::renderMemoryMapsText(maps, system->chip, flags.explainAll ? 0 : 8));
    }
  }
  if (!multiChip) {
    // The plan is one chip: the normal compile writes the schedule when asked for one.
    return wantsOutput ? std::nullopt : std::optional<int>(0);
  }
  if (!wantsOutput) {
    if (!flags.explain && !flags.explainAll) {
      fmt::print("planned {} on {}: tp {} x {} stages = {} of {} chips (tp: {}), decode step "
                 "~{:.1f} us (--explain for the memory map)\n",
                 plan->modelName, system->name, plan->tp, plan->stageCount, plan->chipsUsed,
                 plan->chipsAvailable, plan->tpChoice, plan->decode.total() * 1e6);
    }
    return 0;
  }
  planned.tp = plan->tp;
  planned.stages = plan->stageCount;
  for (const partition::StagePlan &stage : plan->stages) {
    planned.stageLayers.push_back(stage.layerCount);
  }
  return std::nullopt;
}

Result<PlannedPartition> planCompiledPartition(const std::string &modelPath,
                                               const std::string &systemPath,
                                               const PlanningFlags &flags) {
  Result<system::SystemConfig> system = system::loadSystemConfig(systemPath);
  if (!system) {
    return system.takeError();
  }
  if (system->fabric.chips <= 1) {
    return PlannedPartition{};
  }
  Result<partition::ModelSummary> model = partition::summarizeOnnxModel(modelPath);
  if (!model) {
    return model.takeError();
  }
  Result<DType> weights =
      parsePrecision("--weights", flags.weights.empty() ? "fp16" : flags.weights);
  if (!weights) {
    return weights.takeError();
  }
  Result<PlanOptions> options = planOptionsOf(flags, *weights);
  if (!options) {
    return options.takeError();
  }
  *options = partition::compiledPlanOptions(*options, flags.reserve.has_value());
  Result<partition::Plan> plan = partition::planPartition(*model, *system, *options);
  if (!plan) {
    return makeError(modelPath + ": " + plan.error());
  }
  if (!plan->fits) {
    return makeError(plan->refusal);
  }
  PlannedPartition planned{plan->tp, plan->stageCount};
  for (const partition::StagePlan &stage : plan->stages) {
    planned.stageLayers.push_back(stage.layerCount);
  }
  return planned;
}

} // namespace conveyor::cli
