// simulateSteps: one fabric simulation per length bucket (see the header).
#include "conveyor/Runtime/StepSimulation.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace conveyor::runtime {

namespace {

using StepKey = std::tuple<int, uint64_t, uint64_t>; // kind, kv_length, prompt_length

StepKey keyOf(const schedule::Program &program) {
  return {int(program.kind()), program.kv_length(), program.prompt_length()};
}

} // namespace

std::string stepOf(const schedule::Program &program) {
  switch (program.kind()) {
  case schedule::PREFILL:
    return fmt::format("prefill prompt {}", program.prompt_length());
  case schedule::DECODE:
    return fmt::format("decode kv {}", program.kv_length());
  case schedule::FORWARD:
  case schedule::PROGRAM_KIND_UNSPECIFIED:
  case schedule::ProgramKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::ProgramKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "forward";
}

Result<sim::SimulationReport> simulateSteps(const schedule::Schedule &schedule,
                                            const system::SystemConfig &system,
                                            const std::vector<sim::TensorData> &inputs,
                                            const sim::SimulationOptions &options) {
  // Steps in order of first appearance; programs keep their file order within a step.
  std::vector<StepKey> order;
  std::map<StepKey, std::vector<int>> programsOf;
  for (int p = 0; p < schedule.programs_size(); ++p) {
    StepKey key = keyOf(schedule.programs(p));
    auto [it, inserted] = programsOf.try_emplace(key);
    if (inserted) {
      order.push_back(key);
    }
    it->second.push_back(p);
  }
  if (order.size() <= 1) {
    return sim::simulate(schedule, system, inputs, options);
  }
  std::vector<std::vector<int>> groups;
  groups.reserve(order.size());
  for (const StepKey &key : order) {
    groups.push_back(std::move(programsOf[key]));
  }
  std::vector<Result<sim::SimulationReport>> reports =
      sim::simulateGroups(schedule, system, groups, inputs, options);
  sim::SimulationReport merged;
  bool first = true;
  for (size_t step = 0; step < reports.size(); ++step) {
    Result<sim::SimulationReport> &report = reports[step];
    if (!report) {
      const std::vector<int> &members = groups[step];
      return makeError(fmt::format("step '{}' (program '{}' and {} more): {}",
                                   stepOf(schedule.programs(members.front())),
                                   schedule.programs(members.front()).name(),
                                   members.size() - 1, report.error()));
    }
    if (first) {
      merged = std::move(*report);
      first = false;
      continue;
    }
    for (sim::ProgramReport &program : report->programs) {
      merged.programs.push_back(std::move(program));
    }
    for (sim::TensorData &output : report->outputs) {
      merged.outputs.push_back(std::move(output));
    }
    merged.sramBytesUsedPerChip.resize(
        std::max(merged.sramBytesUsedPerChip.size(), report->sramBytesUsedPerChip.size()), 0);
    for (size_t chip = 0; chip < report->sramBytesUsedPerChip.size(); ++chip) {
      merged.sramBytesUsedPerChip[chip] =
          std::max(merged.sramBytesUsedPerChip[chip], report->sramBytesUsedPerChip[chip]);
    }
    merged.functional = merged.functional && report->functional;
  }
  return merged;
}

} // namespace conveyor::runtime
