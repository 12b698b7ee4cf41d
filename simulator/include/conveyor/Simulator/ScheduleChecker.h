// The timing engine: re-derives every instruction's timing from the hardware model and
// rejects a schedule that breaks a rule of docs/timing-model.md.
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Support/Result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::sim {

/// Units in report order, indexed by `unitSlot`.
inline constexpr std::array<schedule::Unit, 4> kReportedUnits = {schedule::MEM, schedule::MXM,
                                                                 schedule::VXM, schedule::SXM};
/// Position of `unit` in kReportedUnits; kReportedUnits.size() for a unit v1 has no queue for.
/// Inline: asked once or more per instruction.
inline size_t unitSlot(schedule::Unit unit) {
  static_assert(schedule::MEM == 1 && schedule::MXM == 2 && schedule::VXM == 3 &&
                schedule::SXM == 4 && kReportedUnits.size() == 4);
  const auto value = uint32_t(unit); // MEM..SXM are 1..4, in report order
  return value - 1 < kReportedUnits.size() ? value - 1 : kReportedUnits.size();
}

/// For a walk over `program`'s instructions in order, at `index` of `count`: asks for every
/// cache line of the message `distance` ahead (the fields read span about four) and, half as
/// far ahead, for its operand and result arrays. Messages and their id arrays are separate
/// heap blocks; used by the single-chip decoder and the fabric engine's decode.
inline void prefetchInstructionAhead(const schedule::Program &program, int index, int count,
                                     int distance) {
  if (index + distance < count) {
    const char *ahead = reinterpret_cast<const char *>(&program.instructions(index + distance));
    for (size_t offset = 0; offset < sizeof(schedule::Instruction); offset += 64) {
      __builtin_prefetch(ahead + offset);
    }
  }
  if (index + distance / 2 < count) {
    const schedule::Instruction &ahead = program.instructions(index + distance / 2);
    __builtin_prefetch(ahead.operands().data());
    __builtin_prefetch(ahead.results().data());
  }
}

struct ProgramTiming {
  uint64_t endCycle = 0;              // max(issue + duration)
  std::vector<InstructionCost> costs; // one per instruction, in program order
  std::array<uint64_t, 4> unitInstructions{};
  std::array<uint64_t, 4> unitBusyCycles{}; // sum of occupancies
};

/// Rule 4 (SRAM bounds, reserved size, no overlap between non-view buffers of one chip;
/// a view must lie inside its storage root). Messages name chip and buffer(s).
Status checkSram(const HardwareModel &model, const BufferTable &buffers);

/// Rules 1-3 for one program, plus per-opcode shape consistency and buffer-kind rules
/// (MEM_WRITE fills an INPUT, MEM_READ reads an OUTPUT, nothing writes a WEIGHT).
/// Structural problems (shapes, missing MXM rate, second writer) are reported first, in
/// instruction order; then timing violations, in instruction order. The message names
/// chip, program, instruction index, opcode, location, issue cycle and the reason.
Result<ProgramTiming> checkProgram(const HardwareModel &model, const BufferTable &buffers,
                                   const schedule::Program &program);

/// Per-opcode shape and buffer-kind consistency of one instruction (the first check of
/// checkProgram): the reason, or nullopt. C2C and SYNC instructions have no shape rule.
std::optional<std::string> instructionShapeProblem(const BufferTable &buffers,
                                                   const schedule::Instruction &inst);
/// The same, with `inst`'s operands and results already resolved to their table entries
/// (`operands[i]` is operand i), as the one-pass decoder has them.
std::optional<std::string> instructionShapeProblem(const BufferTable &buffers,
                                                   const schedule::Instruction &inst,
                                                   const BufferInfo *const *operands,
                                                   const BufferInfo *const *results);

} // namespace conveyor::sim
