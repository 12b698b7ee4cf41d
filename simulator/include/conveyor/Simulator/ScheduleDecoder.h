// The single-chip fast path: one pass over a schedule's messages that validates them (the
// reader's structural rules), resolves the buffers and decodes every program into its
// instruction costs, checking the timing rules and summing the energy on the way.
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/EnergyModel.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/ScheduleChecker.h"

#include <optional>
#include <vector>

namespace conveyor::sim {

/// A schedule decoded once: the buffer table, and per program (in schedule order) its
/// timing totals, the dynamic energy and, when asked for, its instruction image
/// (`ProgramTiming::costs`: opcode, unit, occupancy, duration, work counts and bytes of
/// every instruction; empty otherwise).
struct DecodedSchedule {
  BufferTable buffers;
  std::vector<ProgramTiming> timings;
  std::vector<ProgramEnergy> energies;
};

/// Decodes a plain single-chip schedule in one pass over its buffer messages and one over
/// each program's instruction messages. Returns nullopt, without saying why, at the first
/// thing out of the ordinary: anything schedule::validateSchedule, checkSram, checkProgram or
/// programEnergy would reject, an operand written by a later instruction, a repeat block,
/// template instance, C2C or SYNC instruction. The caller then runs the plain sequence of
/// checks, which decides and words the verdict; so the verdict and every message are those
/// of the plain sequence, and only their cost differs. `model` must be built from the
/// system the schedule's fingerprint names (the caller checks it). `keepCosts` keeps each
/// instruction's cost in `ProgramTiming::costs` (the activity trace needs them; the report
/// alone does not, and storing them is a write per instruction).
std::optional<DecodedSchedule> decodeInOnePass(const schedule::Schedule &schedule,
                                               const HardwareModel &model, bool keepCosts);

} // namespace conveyor::sim
