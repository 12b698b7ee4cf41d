// LpuServingBackend: iteration costs from simulated program runs (see the header for the model).
#include "conveyor/Runtime/LpuServingBackend.h"

#include <fmt/format.h>

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
