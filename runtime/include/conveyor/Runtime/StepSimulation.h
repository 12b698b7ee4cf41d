// Simulates a serving schedule one step kind at a time: the programs of one length bucket
// (PREFILL for a prompt length, DECODE for a KV length) run together as one fabric step;
// different buckets are different steps that a chip runs one after another, never at once.
#pragma once

#include "conveyor/Simulator/Simulator.h"

#include <string>
#include <vector>

namespace conveyor::runtime {

/// The step a program belongs to: its kind and bucket, e.g. "decode kv 4096", "prefill
/// prompt 512", or "forward" for unbucketed programs.
std::string stepOf(const schedule::Program &program);

/// Runs sim::simulate once per step of `schedule` (each time with every buffer, so SRAM is
/// checked for the whole file, and only that step's programs) and concatenates the program
/// reports in file order. SRAM use per chip is the largest over steps. A schedule with one
/// step is simulated as it is. The first failing step's error is returned, naming the step.
Result<sim::SimulationReport> simulateSteps(const schedule::Schedule &schedule,
                                            const system::SystemConfig &system,
                                            const std::vector<sim::TensorData> &inputs,
                                            const sim::SimulationOptions &options);

} // namespace conveyor::runtime
