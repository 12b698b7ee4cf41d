// Energy of each instruction by category (MAC, VXM ops, SRAM read/write bits, stream bits,
// host bits) and of static power over a program's run time.
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "conveyor/Support/Result.h"

#include <array>
#include <vector>

namespace conveyor::sim {

/// Energy categories, in report (alphabetical) order; `Static` is never charged to a unit.
enum class EnergyCategory { Host, Mac, SramRead, SramWrite, Static, Stream, Vxm };
inline constexpr size_t kEnergyCategories = 7;
/// Report key of a category: "host", "mac", "sram_read", "sram_write", "static", "stream", "vxm".
const char *energyCategoryName(EnergyCategory category);

/// Joules by category (indexed by EnergyCategory).
using EnergyParts = std::array<double, kEnergyCategories>;

/// Dynamic energy of one instruction, from the work counts in `cost` (as instructionCost
/// computed them for `inst`). Fails when the system gives no MAC energy for the matmul's
/// activation dtype.
Result<EnergyParts> instructionEnergy(const HardwareModel &model, const BufferTable &buffers,
                                      const schedule::Instruction &inst,
                                      const InstructionCost &cost);

/// Dynamic energy of a whole program by category and by unit.
struct ProgramEnergy {
  EnergyParts categories{}; // `Static` stays 0: it depends on run time, see staticEnergy()
  std::array<double, kReportedUnits.size()> units{}; // indexed by unitSlot()
};

/// Sums instructionEnergy() over `program` in instruction order, with the same additions in
/// the same order (so bit for bit the same sums), but without a Result per instruction.
/// `costs` are checkProgram's, one per instruction. The error names chip, program and
/// instruction.
Result<ProgramEnergy> programEnergy(const HardwareModel &model, const BufferTable &buffers,
                                    const schedule::Program &program,
                                    const std::vector<InstructionCost> &costs);

/// True for the opcodes charged MAC energy (the MXM products), by their activations' dtype.
bool chargesMacEnergy(schedule::Opcode opcode);

/// Adds one instruction's dynamic energy to `energy` with exactly the additions, in the same
/// order, that programEnergy makes for it (so a program summed this way is bit for bit the
/// same). `activations` is operand 0's dtype (read for matmuls only). False, adding nothing,
/// when the opcode has no energy rule or the system has no MAC energy for `activations`:
/// programEnergy words those errors.
bool addInstructionEnergy(const HardwareModel &model, const InstructionCost &cost,
                          schedule::DType activations, ProgramEnergy &energy);

/// Static energy: staticWatts x chips x seconds.
double staticEnergy(const HardwareModel &model, double seconds);

} // namespace conveyor::sim
