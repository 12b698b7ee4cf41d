// Public API of the MLIR-free simulator: check and run a schedule, load ONNX test tensors,
// render the report as text or JSON, and its activity as a Chrome/Perfetto trace.
#pragma once

#include "conveyor/Simulator/InstructionTrace.h"
#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"
#include "schedule.pb.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace conveyor::sim {

/// A dense row-major f32 tensor exchanged with the caller (model inputs and outputs).
struct TensorData {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct SimulationOptions {
  /// Run the numerics too (needs every weight's data and every input); timing is always
  /// checked.
  bool functional = true;
  /// Keep one InstructionTrace per instruction in ProgramReport::trace (for renderTrace).
  /// Off by default so that a plain run allocates nothing per instruction.
  bool collectTrace = false;
  /// With collectTrace: record the instructions of these chips only (empty: every chip).
  /// The other chips' programs are still simulated and reported, without records.
  std::set<uint32_t> traceChips;
  /// Try the one-pass form first (docs/simulator.md "Speed": the single-chip decoder, or
  /// for a multi-chip schedule without `structureValidated` PreparedFabric::simulateInOnePass);
  /// false runs only the plain sequence of checks. Both give the same report or the same
  /// message; tests and benchmarks compare them.
  bool onePass = true;
  /// The caller has had schedule::validateSchedule accept this very schedule, unchanged
  /// since: schedule::readScheduleFile and readScheduleFileToArena do, and the CLI
  /// simulates what they return. The fabric engine then skips its repeat of that check
  /// (a tenth of a 576-chip run); verdicts and messages are the same, since the reader has
  /// made it. A schedule built or edited in code must leave this false.
  bool structureValidated = false;
};

struct UnitStats {
  uint64_t instructions = 0, busyCycles = 0;
  double energyJoules = 0; // dynamic energy of this unit's instructions
};

struct ProgramReport {
  std::string name;
  uint32_t chip = 0;
  uint64_t cycles = 0;         // end cycle re-derived by the simulator
  uint64_t compilerCycles = 0; // the compiler's own estimate, from the schedule
  double seconds = 0;
  uint64_t tokensPerStep = 0;
  double tokensPerSecond = 0;
  double energyJoules = 0;
  double joulesPerToken = 0;
  std::map<std::string, UnitStats> units;        // MEM MXM VXM SXM
  std::map<std::string, double> energyBreakdown; // host mac sram_read sram_write static stream vxm
  uint64_t instructions = 0;
  /// One record per instruction, in program order, when SimulationOptions::collectTrace.
  std::vector<InstructionTrace> trace;
};

struct SimulationReport {
  std::string modelName, systemName;
  uint32_t chips = 1;
  double clockHz = 0;
  std::vector<uint64_t> sramBytesUsedPerChip; // bytes reserved by non-view buffers
  uint64_t sramBytesPerChip = 0;
  std::vector<ProgramReport> programs;
  std::vector<TensorData> outputs; // MEM_READ results, in program and issue order
  bool functional = false;         // numerics were run
  std::string timingOnlyReason;    // why not, when functional is false
  bool traced = false;             // programs carry their instruction traces
};

/// Checks and runs every program of `schedule` on `system`. Fails if the schedule was
/// built for another system (fingerprint mismatch: says both names) or breaks a rule.
Result<SimulationReport> simulate(const schedule::Schedule &schedule,
                                  const system::SystemConfig &system,
                                  const std::vector<TensorData> &inputs,
                                  const SimulationOptions &options);

/// Simulates disjoint groups of the schedule's programs (its steps: one per length bucket)
/// one after another, each as a run of its own: element g is what simulate() returns for a
/// copy of `schedule` that holds only the programs at positions `groups[g]`, in that order.
/// Stops after the first group that fails, whose error is then the last element. The checks
/// the groups share (the whole schedule's structure, system, buffers, SRAM) run once when
/// every group is timed by the fabric engine and the whole schedule passes them; otherwise
/// each group is copied out and simulated alone.
std::vector<Result<SimulationReport>>
simulateGroups(const schedule::Schedule &schedule, const system::SystemConfig &system,
               const std::vector<std::vector<int>> &groups, const std::vector<TensorData> &inputs,
               const SimulationOptions &options);

/// Loads ONNX TensorProto files in the ONNX backend-test layout (dir/input_0.pb,
/// dir/input_1.pb, ... or output_*.pb), f32 only; errors name the file.
Result<std::vector<TensorData>> loadTensorDir(const std::string &dir, const std::string &prefix);

/// A readable table of every number in the report.
std::string renderText(const SimulationReport &report);
/// The same numbers as JSON with a fixed key order (bit-identical for identical reports).
std::string renderJson(const SimulationReport &report);
/// The activity of a traced report (SimulationOptions::collectTrace) in the Chrome trace
/// event format, which ui.perfetto.dev and chrome://tracing open: one process per chip, one
/// thread per unit queue, one complete ("X") event per instruction and per program, times
/// in microseconds from cycles and the clock (see docs/simulator.md "Activity trace").
/// An untraced report gives the metadata and program events only. `onlyChips`, when not
/// empty, keeps the tracks of those chips only (a 576-chip trace is hundreds of MB).
std::string renderTrace(const SimulationReport &report, const std::set<uint32_t> &onlyChips = {});

} // namespace conveyor::sim
