// `conveyor compile` planning flags: precisions, partition overrides, --min-chips, --explain.
#pragma once

#include "conveyor/Support/Result.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::cli {

struct PlanningFlags {
  std::string weights, activations = "fp16", kv = "fp16"; // weights "" = every precision
  int64_t maxContext = 4096, seqs = 1;
  bool maxContextGiven = false; // --max-context on the command line (else the default)
  std::optional<uint32_t> tp, layersPerStage;
  bool minChips = false, explain = false, alignStages = false;
  bool explainAll = false; // --explain-all: every tensor of the memory map, not the largest
  /// --sram-reserve; unset: partition::kCompiledSramReserve on a multi-chip system (and for
  /// --min-chips), 2% for a one-chip plan.
  std::optional<double> reserve;
  double reserveOr(double fallback) const { return reserve.value_or(fallback); }

  /// True when any flag asks for planning on a one-chip system too.
  bool requested() const {
    return minChips || explain || explainAll || !weights.empty() || tp || layersPerStage;
  }
};

/// A multi-chip plan that fits, for the shard pass (CompileOptions::tensorParallel and
/// pipelineStages); zeros when the compile is single-chip.
struct PlannedPartition {
  uint32_t tp = 0, stages = 0;
  /// Layers of each stage, in order (the plan's split: near-equal, or the greedy unequal one
  /// when no near-equal split fits); empty for one chip.
  std::vector<uint32_t> stageLayers;
  /// The context the plan was sized for (the default capped at the model's learned
  /// positions); 0 when planning did not run.
  int64_t maxContext = 0;
};

/// Adds the flags to `compile`.
void addPlanningFlags(CLI::App &compile, PlanningFlags &flags);

/// Runs the planning part of `conveyor compile`. Returns the exit code when planning decided
/// the outcome (--min-chips, --explain or a multi-chip plan without output wanted, a
/// refusal), or std::nullopt when the compile should go on; then `planned` holds the
/// multi-chip partition (tp x stages, near-equal layer ranges, chip = stage * tp + rank: what
/// the shard pass builds), or zeros for one chip. `wantsOutput`: -o given or IR emitted.
std::optional<int> runPlanning(const std::string &modelPath, const std::string &systemPath,
                               bool json, bool wantsOutput, const PlanningFlags &flags,
                               PlannedPartition &planned);

/// The multi-chip partition `conveyor compile -o` builds for these flags (runPlanning's plan
/// with output wanted), printing nothing: a refusal or a bad flag is the error. Zeros for a
/// one-chip system.
Result<PlannedPartition> planCompiledPartition(const std::string &modelPath,
                                               const std::string &systemPath,
                                               const PlanningFlags &flags);

} // namespace conveyor::cli
