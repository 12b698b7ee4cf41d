// The LPU serving backend: prices token-loop iterations from the simulator's per-program
// results, so that served traffic runs on cycles the simulator checked.
#pragma once

#include "conveyor/Runtime/ServingBackend.h"
#include "conveyor/Simulator/Simulator.h"

namespace conveyor::runtime {

struct LpuServingOptions {
  /// Sequences the system may hold in flight (KV capacity and pipeline slots).
  uint32_t maxSequences = 1;
};

/// v1 schedules hold one fixed-shape FORWARD program per chip that processes
/// `tokensPerStep` token positions of one sequence per run, with no KV cache. An iteration
/// therefore runs, one after another on the chip, ceil(newTokens / tokensPerStep) program
/// runs for each sequence in it (a decode step is one run); the context length does not
/// change the cost. Dynamic energy is the program's energy less its static share; static
/// power is `idleWatts()`. When decode/prefill programs per length bucket exist (issue 5)
/// this backend prices iterations from those instead.
class LpuServingBackend final : public ServingBackend {
public:
  /// Fails if the report holds no program, or a program with zero time or tokens.
  static Result<LpuServingBackend> create(const sim::SimulationReport &report,
                                          const system::SystemConfig &system,
                                          const LpuServingOptions &options = {});

  std::string name() const override { return backendName; }
  uint32_t maxSequences() const override { return sequenceLimit; }
  uint32_t devices() const override { return chips; }
  double idleWatts() const override { return staticWatts; }
  Result<IterationCost> iterationCost(std::span<const SequenceWork> work) override;

private:
  LpuServingBackend() = default;
  std::string backendName;
  uint32_t sequenceLimit = 1, chips = 1;
  double staticWatts = 0;
  double runSeconds = 0;       // one run of the step program
  double runDynamicJoules = 0; // its energy above static power
  uint64_t tokensPerRun = 1;
};

} // namespace conveyor::runtime
