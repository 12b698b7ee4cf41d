// Occupancy and duration of one instruction under docs/timing-model.md, plus the work counts
// (MACs, VXM ALU ops) the energy model charges.
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <optional>
#include <string>

namespace conveyor::sim {

struct InstructionCost {
  // What ran where, so that later accounting passes need not reread the instruction.
  schedule::Opcode opcode = schedule::OPCODE_UNSPECIFIED;
  schedule::Unit unit = schedule::UNIT_UNSPECIFIED;
  uint64_t occupancy = 0;    // cycles the unit is busy
  uint64_t duration = 0;     // cycles from issue until the result is readable
  uint64_t macs = 0;         // MXM multiply-accumulates
  uint64_t vxmOps = 0;       // VXM ALU operations (elements x ops per element)
  uint64_t readBytes = 0;    // bytes of all operands (SRAM reads, or host reads for MEM_READ)
  uint64_t writtenBytes = 0; // bytes of all results
  // Cycles after issue by which operand 0 may still be arriving: an MXM product installs its
  // first tile set (its weights are read at issue) before it needs its activations.
  uint64_t operandLead = 0;
};

/// Host transfer cycles for `bytes`: exactly the timing doc's expression
/// (uint64_t)std::ceil((double)n * clockHz / hostBytesPerSecond), so rounding agrees.
uint64_t hostTransferCycles(const HardwareModel &model, uint64_t bytes);

/// Cost of `inst`, whose operand and result shapes must already be consistent
/// (ScheduleChecker checks them first). Fails with a reason, without the instruction's
/// context, e.g. when the MXM has no rate for the activation dtype.
Result<InstructionCost> instructionCost(const HardwareModel &model, const BufferTable &buffers,
                                        const schedule::Instruction &inst);
/// The same, with `inst`'s operands and results already resolved to their table entries
/// (`operands[i]` is operand i): the one-pass decoder has looked them up once.
Result<InstructionCost> instructionCost(const HardwareModel &model,
                                        const schedule::Instruction &inst,
                                        const BufferInfo *const *operands,
                                        const BufferInfo *const *results);

/// Operand/result shape, dtype and field consistency of the transformer opcodes (MEM_GATHER
/// .. MXM_MATMUL_DQ, schedule.proto section E): the reason, or nullopt. ScheduleChecker calls
/// it before instructionCost.
std::optional<std::string> transformerShapeProblem(const BufferTable &buffers,
                                                   const schedule::Instruction &inst);

} // namespace conveyor::sim
