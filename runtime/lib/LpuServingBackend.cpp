// LpuServingBackend: iteration costs from simulated program runs (see the header for the model).
#include "conveyor/Runtime/LpuServingBackend.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string>

namespace conveyor::runtime {

Result<LpuServingBackend> LpuServingBackend::create(const sim::SimulationReport &report,
                                                    const system::SystemConfig &system,
                                                    const LpuServingOptions &options) {
  if (report.programs.empty()) {
    return makeError(fmt::format("model '{}': the schedule has no program to serve traffic with",
                                 report.modelName));
  }
  // v1: one program on one chip is the step; the slowest program bounds a multi-program step.
  const sim::ProgramReport *step = &report.programs.front();
  for (const sim::ProgramReport &program : report.programs) {
    if (program.seconds > step->seconds) {
      step = &program;
    }
  }
  if (!(step->seconds > 0) || step->tokensPerStep == 0) {
    return makeError(fmt::format("model '{}': program '{}' takes {} s for {} tokens; cannot serve "
                                 "traffic with it",
                                 report.modelName, step->name, step->seconds,
                                 step->tokensPerStep));
  }
  if (options.maxSequences == 0) {
    return makeError("lpu backend: the sequences-in-flight limit must be at least 1");
  }
  LpuServingBackend backend;
  backend.backendName = "lpu:" + report.systemName;
  backend.sequenceLimit = options.maxSequences;
  backend.chips = report.chips;
  backend.staticWatts = system.chip.energy.staticWatts * double(system.fabric.chips);
  backend.runSeconds = step->seconds;
  double staticJoules = 0;
  if (auto it = step->energyBreakdown.find("static"); it != step->energyBreakdown.end()) {
    staticJoules = it->second;
  }
  backend.runDynamicJoules = std::max(0.0, step->energyJoules - staticJoules);
  backend.tokensPerRun = step->tokensPerStep;
  return backend;
}

Result<IterationCost> LpuServingBackend::iterationCost(std::span<const SequenceWork> work) {
  uint64_t runs = 0;
  for (const SequenceWork &sequence : work) {
    uint64_t tokens = std::max<uint64_t>(sequence.newTokens, 1);
    runs += (tokens + tokensPerRun - 1) / tokensPerRun;
  }
  IterationCost cost;
  cost.seconds = double(runs) * runSeconds;
  cost.dynamicJoules = double(runs) * runDynamicJoules;
  cost.busyDeviceFraction = 1.0;
  return cost;
}

} // namespace conveyor::runtime

// ---- v2 layer pipelines of PREFILL and DECODE programs -------------------------------------

namespace conveyor::runtime {

bool hasDecodePrograms(const schedule::Schedule &schedule) {
  for (const schedule::Program &program : schedule.programs()) {
    if (program.kind() == schedule::DECODE) {
      return true;
    }
  }
  return false;
}

Result<std::vector<DecodeBucket>> pipelineBuckets(const schedule::Schedule &schedule,
                                                  const sim::SimulationReport &report) {
  // A template's runs are reported under its name, one per chip it runs on.
  std::map<std::string, std::vector<const sim::ProgramReport *>> runsOf;
  for (const sim::ProgramReport &run : report.programs) {
    runsOf[run.name].push_back(&run);
  }
  std::vector<DecodeBucket> buckets;
  std::set<std::string> seen;
  for (const schedule::Program &program : schedule.programs()) {
    const bool prefill = program.kind() == schedule::PREFILL;
    if (program.kind() != schedule::DECODE && !prefill) {
      continue;
    }
    const char *kind = prefill ? "PREFILL" : "DECODE";
    // Runs are matched to programs by name, so two programs must not share one.
    if (!seen.insert(program.name()).second) {
      return makeError(fmt::format("{} program name '{}' appears twice in the schedule; "
                                   "give every stage program a unique name",
                                   kind, program.name()));
    }
    DecodeStage stage;
    stage.program = program.name();
    for (const sim::ProgramReport *run : runsOf[program.name()]) {
      ++stage.chips;
      stage.endCycle = std::max(stage.endCycle, run->cycles);
      for (const auto &[unit, stats] : run->units) {
        stage.busyCycles = std::max(stage.busyCycles, stats.busyCycles);
      }
      double staticJoules = 0;
      if (auto it = run->energyBreakdown.find("static"); it != run->energyBreakdown.end()) {
        staticJoules = it->second;
      }
      stage.dynamicJoules += std::max(0.0, run->energyJoules - staticJoules);
    }
    if (stage.chips == 0 || stage.endCycle == 0) {
      return makeError(fmt::format("{} program '{}' has no simulated run with a nonzero end "
                                   "cycle; simulate the whole schedule before serving from it",
                                   kind, program.name()));
    }
    auto bucket = std::find_if(buckets.begin(), buckets.end(), [&](const DecodeBucket &b) {
      return b.prefill == prefill && (prefill ? b.promptLength == program.prompt_length()
                                              : b.kvLength == program.kv_length());
    });
    if (bucket == buckets.end()) {
      DecodeBucket added;
      added.prefill = prefill;
      added.kvLength = prefill ? 0 : program.kv_length();
      added.promptLength = prefill ? program.prompt_length() : 0;
      buckets.push_back(std::move(added));
      bucket = std::prev(buckets.end());
    }
    bucket->stages.push_back(std::move(stage));
  }
  return buckets;
}

Result<std::vector<DecodeBucket>> decodeBuckets(const schedule::Schedule &schedule,
                                                const sim::SimulationReport &report) {
  Result<std::vector<DecodeBucket>> all = pipelineBuckets(schedule, report);
  if (!all) {
    return all;
  }
  std::vector<DecodeBucket> decode;
  for (DecodeBucket &bucket : *all) {
    if (!bucket.prefill) {
      decode.push_back(std::move(bucket));
    }
  }
  return decode;
}

Result<LpuPipelineBackend> LpuPipelineBackend::create(const schedule::Schedule &schedule,
                                                      const sim::SimulationReport &report,
                                                      const system::SystemConfig &system,
                                                      const LpuServingOptions &options) {
  Result<std::vector<DecodeBucket>> grouped = pipelineBuckets(schedule, report);
  if (!grouped) {
    return makeError(grouped.error());
  }
  return create(std::move(*grouped), report.clockHz, report.systemName, system, options);
}

Result<LpuPipelineBackend> LpuPipelineBackend::create(std::vector<DecodeBucket> grouped,
                                                      double clockHz,
                                                      const std::string &systemName,
                                                      const system::SystemConfig &system,
                                                      const LpuServingOptions &options) {
  if (std::none_of(grouped.begin(), grouped.end(),
                   [](const DecodeBucket &bucket) { return !bucket.prefill; })) {
    return makeError(fmt::format("system '{}': the schedule has no DECODE program to serve "
                                 "traffic with; compile it for a multi-chip system",
                                 systemName));
  }
  if (!(clockHz > 0)) {
    return makeError(fmt::format("system '{}': clock {} Hz; cannot turn cycles into time",
                                 systemName, clockHz));
  }
  if (options.maxSequences == 0) {
    return makeError("lpu backend: the sequences-in-flight limit must be at least 1");
  }
  LpuPipelineBackend backend;
  backend.backendName = "lpu:" + systemName;
  backend.clockHz = clockHz;
  backend.chips = std::max<uint32_t>(1, system.fabric.chips);
  backend.staticWatts = system.chip.energy.staticWatts * double(backend.chips);
  uint32_t fewestStages = UINT32_MAX;
  bool anyDynamic = false;
  for (const DecodeBucket &bucket : grouped) {
    Priced priced;
    priced.length = bucket.prefill ? bucket.promptLength : bucket.kvLength;
    priced.stages = uint32_t(bucket.stages.size());
    uint64_t previousEnd = 0;
    for (const DecodeStage &stage : bucket.stages) {
      // Stages run in sequence: a stage holds a step from the previous stage's end to its
      // own end, and no less than its busiest unit needs.
      uint64_t occupancy =
          std::max(stage.endCycle > previousEnd ? stage.endCycle - previousEnd : 0,
                   stage.busyCycles);
      priced.stage = std::max(priced.stage, occupancy);
      priced.latency = std::max(priced.latency, stage.endCycle);
      priced.busyChipCycles += double(stage.chips) * double(occupancy);
      priced.dynamicJoules += stage.dynamicJoules;
      previousEnd = std::max(previousEnd, stage.endCycle);
    }
    if (priced.stage == 0 || priced.latency == 0) {
      return makeError(fmt::format("system '{}': the {} pipeline for {} length {} takes 0 "
                                   "cycles; cannot price traffic with it",
                                   systemName, bucket.prefill ? "PREFILL" : "DECODE",
                                   bucket.prefill ? "prompt" : "kv", priced.length));
    }
    if (bucket.prefill && priced.length == 0) {
      return makeError(fmt::format("system '{}': a PREFILL program has prompt length 0; "
                                   "recompile the schedule",
                                   systemName));
    }
    anyDynamic = anyDynamic || priced.dynamicJoules > 0;
    fewestStages = std::min(fewestStages, priced.stages);
    (bucket.prefill ? backend.prefills : backend.buckets).push_back(priced);
  }
  auto byLength = [](const Priced &a, const Priced &b) { return a.length < b.length; };
  std::sort(backend.buckets.begin(), backend.buckets.end(), byLength);
  std::sort(backend.prefills.begin(), backend.prefills.end(), byLength);
  // One sequence per stage at most: a stage works on one step at a time.
  backend.sequenceLimit = std::min(options.maxSequences, fewestStages);
  if (backend.prefills.empty()) {
    backend.modelNotes.push_back(
        "prefill is approximated: no PREFILL program in the schedule, so a prompt runs token "
        "by token through the DECODE pipeline (latency + (tokens - 1) x stage time)");
  } else {
    std::string lengths;
    for (const Priced &prefill : backend.prefills) {
      lengths += fmt::format("{}{}", lengths.empty() ? "" : ", ", prefill.length);
    }
    backend.modelNotes.push_back(fmt::format(
        "prefill from PREFILL programs (prompt buckets {}): a prompt takes the smallest bucket "
        "that holds it, or token-by-token DECODE steps when those end sooner; a prompt longer "
        "than {} runs as several PREFILL runs of {} (attention to the earlier runs not priced)",
        lengths, backend.prefills.back().length, backend.prefills.back().length));
  }
  if (!anyDynamic) {
    backend.modelNotes.push_back(
        "energy is static power only (all chips x time): the simulator reports no dynamic "
        "energy for these programs");
  }
  if (backend.sequenceLimit < options.maxSequences) {
    backend.modelNotes.push_back(fmt::format("sequences in flight capped at {} (pipeline stages)",
                                             backend.sequenceLimit));
  }
  return backend;
}

Result<LpuPipelineBackend::StepCost> LpuPipelineBackend::decodeCost(uint64_t tokens,
                                                                    uint64_t context) const {
  // The smallest bucket that holds the sequence's KV after this step.
  const uint64_t needed = context + tokens;
  const Priced *bucket = nullptr;
  for (const Priced &candidate : buckets) {
    if (candidate.length == 0 || candidate.length >= needed) {
      bucket = &candidate;
      break;
    }
  }
  if (!bucket) {
    return makeError(fmt::format("{}: a sequence reaches {} tokens of context but the longest "
                                 "compiled DECODE bucket holds {}; compile a longer kv length or "
                                 "shorten prompts/outputs",
                                 backendName, needed, buckets.back().length));
  }
  StepCost cost;
  cost.latency = double(bucket->latency) + double(tokens - 1) * double(bucket->stage);
  cost.occupancy = double(tokens) * double(bucket->stage);
  cost.busyChipCycles = double(tokens) * bucket->busyChipCycles;
  cost.dynamicJoules = double(tokens) * bucket->dynamicJoules;
  return cost;
}

Result<IterationCost> LpuPipelineBackend::iterationCost(std::span<const SequenceWork> work) {
  double longestLatency = 0, occupancy = 0, busyChipCycles = 0, dynamicJoules = 0;
  for (const SequenceWork &sequence : work) {
    const uint64_t tokens = std::max<uint64_t>(sequence.newTokens, 1);
    Result<StepCost> step = decodeCost(tokens, sequence.contextTokens);
    if (sequence.phase == SequencePhase::Prefill && !prefills.empty()) {
      // The smallest PREFILL bucket that holds the prompt, or runs of the largest.
      const Priced *bucket = &prefills.back();
      for (const Priced &candidate : prefills) {
        if (candidate.length >= tokens) {
          bucket = &candidate;
          break;
        }
      }
      const uint64_t runs = (tokens + bucket->length - 1) / bucket->length;
      StepCost prefill;
      prefill.latency = double(bucket->latency) + double(runs - 1) * double(bucket->stage);
      prefill.occupancy = double(runs) * double(bucket->stage);
      prefill.busyChipCycles = double(runs) * bucket->busyChipCycles;
      prefill.dynamicJoules = double(runs) * bucket->dynamicJoules;
      if (!step || prefill.latency <= step->latency) {
        step = prefill;
      }
    }
    if (!step) {
      return makeError(step.error());
    }
    longestLatency = std::max(longestLatency, step->latency);
    occupancy += step->occupancy;
    busyChipCycles += step->busyChipCycles;
    dynamicJoules += step->dynamicJoules;
  }
  const double cycles = std::max(longestLatency, occupancy);
  IterationCost cost;
  cost.seconds = cycles / clockHz;
  cost.dynamicJoules = dynamicJoules;
  cost.busyDeviceFraction = std::clamp(busyChipCycles / (double(chips) * cycles), 0.0, 1.0);
  return cost;
}

} // namespace conveyor::runtime
