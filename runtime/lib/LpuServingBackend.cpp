// LpuServingBackend: iteration costs from simulated program runs (see the header for the model).
#include "conveyor/Runtime/LpuServingBackend.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <iterator>
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

// ---- v2 layer pipelines of DECODE programs -------------------------------------------------

namespace conveyor::runtime {

bool hasDecodePrograms(const schedule::Schedule &schedule) {
  for (const schedule::Program &program : schedule.programs()) {
    if (program.kind() == schedule::DECODE) {
      return true;
    }
  }
  return false;
}

Result<std::vector<DecodeBucket>> decodeBuckets(const schedule::Schedule &schedule,
                                                const sim::SimulationReport &report) {
  std::vector<DecodeBucket> buckets;
  std::set<std::string> seen;
  for (const schedule::Program &program : schedule.programs()) {
    if (program.kind() != schedule::DECODE) {
      continue;
    }
    // Runs are matched to programs by name, so two DECODE programs must not share one.
    if (!seen.insert(program.name()).second) {
      return makeError(fmt::format("DECODE program name '{}' appears twice in the schedule; "
                                   "give every stage program a unique name",
                                   program.name()));
    }
    // A template's runs are reported under its name, one per chip it runs on.
    DecodeStage stage;
    stage.program = program.name();
    for (const sim::ProgramReport &run : report.programs) {
      if (run.name != program.name()) {
        continue;
      }
      ++stage.chips;
      stage.endCycle = std::max(stage.endCycle, run.cycles);
      for (const auto &[unit, stats] : run.units) {
        stage.busyCycles = std::max(stage.busyCycles, stats.busyCycles);
      }
      double staticJoules = 0;
      if (auto it = run.energyBreakdown.find("static"); it != run.energyBreakdown.end()) {
        staticJoules = it->second;
      }
      stage.dynamicJoules += std::max(0.0, run.energyJoules - staticJoules);
    }
    if (stage.chips == 0 || stage.endCycle == 0) {
      return makeError(fmt::format("DECODE program '{}' has no simulated run with a nonzero end "
                                   "cycle; simulate the whole schedule before serving from it",
                                   program.name()));
    }
    auto bucket = std::find_if(buckets.begin(), buckets.end(), [&](const DecodeBucket &b) {
      return b.kvLength == program.kv_length();
    });
    if (bucket == buckets.end()) {
      buckets.push_back({program.kv_length(), {}});
      bucket = std::prev(buckets.end());
    }
    bucket->stages.push_back(std::move(stage));
  }
  return buckets;
}

Result<LpuPipelineBackend> LpuPipelineBackend::create(const schedule::Schedule &schedule,
                                                      const sim::SimulationReport &report,
                                                      const system::SystemConfig &system,
                                                      const LpuServingOptions &options) {
  Result<std::vector<DecodeBucket>> grouped = decodeBuckets(schedule, report);
  if (!grouped) {
    return makeError(grouped.error());
  }
  return create(std::move(*grouped), report.clockHz, report.systemName, system, options);
}

Result<LpuPipelineBackend> LpuPipelineBackend::create(std::vector<DecodeBucket> decode,
                                                      double clockHz,
                                                      const std::string &systemName,
                                                      const system::SystemConfig &system,
                                                      const LpuServingOptions &options) {
  if (decode.empty()) {
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
  for (const DecodeBucket &bucket : decode) {
    Priced priced;
    priced.kvLength = bucket.kvLength;
    priced.stages = uint32_t(bucket.stages.size());
    uint64_t previousEnd = 0;
    for (const DecodeStage &stage : bucket.stages) {
      // Stages run in sequence: a stage holds a token from the previous stage's end to its
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
      return makeError(fmt::format("system '{}': the DECODE pipeline for kv length {} takes 0 "
                                   "cycles; cannot price traffic with it",
                                   systemName, bucket.kvLength));
    }
    anyDynamic = anyDynamic || priced.dynamicJoules > 0;
    fewestStages = std::min(fewestStages, priced.stages);
    backend.buckets.push_back(priced);
  }
  std::sort(backend.buckets.begin(), backend.buckets.end(),
            [](const Priced &a, const Priced &b) { return a.kvLength < b.kvLength; });
  // One sequence per stage at most: a stage works on one token at a time.
  backend.sequenceLimit = std::min(options.maxSequences, fewestStages);
  backend.modelNotes.push_back(
      "prefill is approximated: no PREFILL program in the schedule, so a prompt runs token by "
      "token through the DECODE pipeline (latency + (tokens - 1) x stage time)");
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

Result<IterationCost> LpuPipelineBackend::iterationCost(std::span<const SequenceWork> work) {
  uint64_t totalTokens = 0, longestSequence = 0, longestContext = 0;
  for (const SequenceWork &sequence : work) {
    uint64_t tokens = std::max<uint64_t>(sequence.newTokens, 1);
    totalTokens += tokens;
    longestSequence = std::max(longestSequence, tokens);
    longestContext = std::max(longestContext, sequence.contextTokens + tokens);
  }
  // The smallest bucket that holds every sequence's KV after this iteration.
  const Priced *bucket = nullptr;
  for (const Priced &candidate : buckets) {
    if (candidate.kvLength == 0 || candidate.kvLength >= longestContext) {
      bucket = &candidate;
      break;
    }
  }
  if (!bucket) {
    return makeError(fmt::format("{}: a sequence reaches {} tokens of context but the longest "
                                 "compiled DECODE bucket holds {}; compile a longer kv length or "
                                 "shorten prompts/outputs",
                                 backendName, longestContext, buckets.back().kvLength));
  }
  double latency = double(bucket->latency), stage = double(bucket->stage);
  double cycles = std::max(latency + double(longestSequence - 1) * stage,
                           double(totalTokens) * stage);
  IterationCost cost;
  cost.seconds = cycles / clockHz;
  cost.dynamicJoules = double(totalTokens) * bucket->dynamicJoules;
  cost.busyDeviceFraction =
      std::clamp(double(totalTokens) * bucket->busyChipCycles / (double(chips) * cycles), 0.0, 1.0);
  return cost;
}

} // namespace conveyor::runtime
