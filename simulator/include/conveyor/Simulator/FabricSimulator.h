// The multi-chip timing engine: decodes a schedule once into compact per-program images,
// runs every chip's program (templates on each instance chip, repeat blocks without
// unrolling) and checks the fabric: link slots, arrivals, drift and SYNC, SRAM spans.
#pragma once

#include "conveyor/Simulator/EnergyModel.h"
#include "conveyor/Simulator/InstructionTrace.h"
#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"
#include "schedule.pb.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace conveyor::sim {

/// Resources a chip's instructions occupy, in report order: the four v1 units plus ICU.
inline constexpr size_t kFabricUnits = 5; // MEM MXM VXM SXM ICU

/// One program as it ran on one chip (a template gives one run per chip it runs on).
struct ChipRun {
  std::string program;
  uint32_t programIndex = 0; // position in the programs run (Schedule.programs, all of them)
  uint32_t chip = 0;
  uint64_t endCycle = 0;     // chip-local: last result ready / last link slot ended
  uint64_t instructions = 0; // executed, every iteration counted
  uint64_t sends = 0, recvs = 0, syncs = 0;
  uint64_t sentBytes = 0;
  std::array<uint64_t, kFabricUnits> unitInstructions{};
  std::array<uint64_t, kFabricUnits> unitBusyCycles{};
  /// Dynamic energy of every executed instruction (each iteration of a repeat block counted),
  /// joules, by category as in a single-chip program (EnergyCategory; Static stays 0).
  /// C2C_SEND reads its payload from SRAM and streams it, C2C_RECV streams it into SRAM.
  EnergyParts energy{};
  /// Link energy of this run's sends: payload bits x route hops x c2c_picojoules_per_bit
  /// (charged to the sending chip for every link of the route).
  double c2cJoules = 0;
  /// The same dynamic energy by resource: MEM MXM VXM SXM ICU, then C2C (the C2C
  /// instructions' SRAM and stream traffic plus c2cJoules). Sums to energy + c2cJoules up to
  /// rounding.
  std::array<double, kFabricUnits + 1> unitEnergy{};
};

struct FabricReport {
  uint32_t chips = 0;
  double clockHz = 0;
  uint64_t endCycle = 0;            // max over runs and transfer arrivals (reference cycles)
  uint64_t instructions = 0;        // simulated (executed) instructions, all chips
  uint64_t decodedInstructions = 0; // stored instructions run, before repetition (a template
                                    // counts once per chip it runs on)
  uint64_t transfers = 0;
  uint64_t transferBytes = 0;
  /// Runs whose local checks were those of an equivalent earlier run of the same program
  /// (FabricRunOptions::replayEquivalentRuns): only their transfers were executed.
  uint64_t replayedRuns = 0;
  std::vector<ChipRun> runs; // in program order, template chip first, then instances
  /// When FabricRunOptions::collectTrace: per run (as `runs`), every instruction it executed,
  /// in execution order. Empty otherwise.
  std::vector<std::vector<InstructionTrace>> traces;
};

/// Checks and times every program of `schedule` on `system` in timing mode. Works for any
/// valid v2 schedule (single-chip ones too). Fails at the first violation with chip,
/// program, instruction (and iteration), opcode, location, cycle and reason.
/// Deterministic: the same inputs give the same report or the same message.
Result<FabricReport> simulateFabric(const schedule::Schedule &schedule,
                                    const system::SystemConfig &system);

class BufferTable;
struct HardwareModel;

/// How PreparedFabric::run goes about its work; the report (but replayedRuns) and every
/// message are the same either way.
struct FabricRunOptions {
  /// A run's local checks (units, data readiness, single writer, write after read, MEM
  /// ports) read only the program and, per buffer slot, its address, bytes, stride, kind
  /// and which slots share storage. A later run of the same program (a template instance)
  /// whose chip maps the slots to buffers equal in all of these passes them exactly as the
  /// first run did, and ends with the same counters: it executes only its transfers (peers,
  /// links, drift, link slots and records), replaying the first run's C2C instructions at
  /// their cycles. Off: every run executes every instruction (tests compare the two).
  bool replayEquivalentRuns = true;
  /// Record every executed instruction of every run (ChipRun::trace) for the activity trace.
  /// Every run is then executed in full (no replay).
  bool collectTrace = false;
  /// With collectTrace: record the runs on these chips only (empty: every chip); the other
  /// runs' entries of FabricReport::traces stay empty.
  std::set<uint32_t> traceChips;
};

struct OnePassFabric;

/// The checks of simulateFabric that do not depend on which programs run (header, the whole
/// schedule's structure, system, buffer table, SRAM), made once, so that disjoint groups of
/// programs (a schedule's steps, one per length bucket) each run without repeating them.
class PreparedFabric {
public:
  /// Fails exactly where simulateFabric(schedule, system) fails before running a program,
  /// with the same message. `schedule` must outlive the result, unchanged.
  /// `structureValidated`: schedule::validateSchedule has accepted this very schedule (see
  /// SimulationOptions::structureValidated), so it is not run again.
  static Result<PreparedFabric> prepare(const schedule::Schedule &schedule,
                                        const system::SystemConfig &system,
                                        bool structureValidated = false);
  /// simulateFabric of a copy of the schedule that holds only the programs at `programs`
  /// (positions in Schedule.programs, run in that order): the same report or the same
  /// message. (The copy passes every check prepare made, since they hold for the whole
  /// schedule.) ChipRun::programIndex is a position in `programs`. Runs share a cache of
  /// the buffer layout: one thread at a time.
  Result<FabricReport> run(const std::vector<int> &programs,
                           const FabricRunOptions &options = {}) const;
  /// simulateFabric(schedule, system) of every program without the reader's separate walk
  /// over the schedule: the buffer rules are made while the buffer table is built, the
  /// program and instruction rules while each program is decoded (as the single-chip
  /// decoder does, docs/simulator.md "Speed"). Every check answers yes or no only: nullopt
  /// wherever simulateFabric would fail, for whatever reason, and the caller then takes
  /// the plain path (prepare, run), which words the message. Otherwise the same report
  /// as that path, and a PreparedFabric as prepare would have returned.
  static std::optional<OnePassFabric> simulateInOnePass(const schedule::Schedule &schedule,
                                                        const system::SystemConfig &system,
                                                        const FabricRunOptions &options = {});

  const BufferTable &buffers() const;
  const HardwareModel &hardware() const;

  PreparedFabric(PreparedFabric &&) noexcept;
  PreparedFabric &operator=(PreparedFabric &&) noexcept;
  ~PreparedFabric();

private:
  struct State;
  explicit PreparedFabric(std::unique_ptr<State> state);
  std::unique_ptr<State> state;
};

/// A schedule checked and run by PreparedFabric::simulateInOnePass.
struct OnePassFabric {
  PreparedFabric prepared;
  FabricReport report;
};

/// Positions 0 .. n-1 of a schedule's n programs: every program, for PreparedFabric::run.
std::vector<int> allPrograms(const schedule::Schedule &schedule);

/// True when a schedule uses v2 multi-chip features (repeat blocks, template instances,
/// C2C or SYNC instructions): simulate() then times it with simulateFabric.
bool usesFabricFeatures(const schedule::Schedule &schedule);
/// The same for one program.
bool usesFabricFeatures(const schedule::Program &program);

} // namespace conveyor::sim
