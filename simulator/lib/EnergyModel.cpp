// Energy per instruction by category, and static energy; see docs/simulator.md "Energy".
#include "conveyor/Simulator/EnergyModel.h"

#include "conveyor/Schedule/ScheduleFormat.h"

#include <fmt/format.h>

namespace conveyor::sim {
namespace {

constexpr double kJoulesPerPicojoule = 1e-12;

void charge(EnergyParts &parts, EnergyCategory category, double picojoules) {
  parts[size_t(category)] += picojoules * kJoulesPerPicojoule;
}

/// SRAM read, SRAM write and stream energy of moving `readBytes` out of SRAM and
/// `writtenBytes` into it.
void chargeTraffic(const HardwareModel &model, EnergyParts &parts, uint64_t readBytes,
                   uint64_t writtenBytes) {
  charge(parts, EnergyCategory::SramRead, double(readBytes) * 8 * model.sramReadPicojoulesPerBit);
  charge(parts, EnergyCategory::SramWrite,
         double(writtenBytes) * 8 * model.sramWritePicojoulesPerBit);
  charge(parts, EnergyCategory::Stream,
         double(readBytes + writtenBytes) * 8 * model.streamPicojoulesPerBit);
}

} // namespace

const char *energyCategoryName(EnergyCategory category) {
  switch (category) {
  case EnergyCategory::Host:
    return "host";
  case EnergyCategory::Mac:
    return "mac";
  case EnergyCategory::SramRead:
    return "sram_read";
  case EnergyCategory::SramWrite:
    return "sram_write";
  case EnergyCategory::Static:
    return "static";
  case EnergyCategory::Stream:
    return "stream";
  case EnergyCategory::Vxm:
    return "vxm";
  }
  return "unknown";
}

namespace {

/// The activation dtype's MAC energy of a matmul, or a reason when the system has none.
Result<double> matmulPicojoules(const HardwareModel &model, const BufferTable &buffers,
                                const schedule::Instruction &inst) {
  const schedule::DType activations = buffers.byIdRef(inst.operands(0)).dtype();
  const double macPicojoules = model.macPicojoules[size_t(activations)];
  if (macPicojoules < 0) {
    return makeError(fmt::format("system '{}' gives no MAC energy for {} activations; add "
                                 "a '{}' entry to chip.energy.mac_picojoules",
                                 model.systemName, dtypeName(activations), dtypeName(activations)));
  }
  return macPicojoules;
}

/// Adds the dynamic energy of one instruction to `parts` (all zero on entry); false for an
/// opcode without an energy rule. `macPicojoules` is used by matmuls only.
bool chargeInstruction(const HardwareModel &model, schedule::Opcode opcode,
                       const InstructionCost &cost, double macPicojoules, EnergyParts &parts) {
  const uint64_t readBytes = cost.readBytes;
  const uint64_t writtenBytes = cost.writtenBytes;
  switch (opcode) {
  case schedule::MEM_WRITE:
  case schedule::MEM_READ:
    // Host traffic crosses the host link, then the streams into or out of SRAM.
    charge(parts, EnergyCategory::Host,
           double(readBytes + writtenBytes) * 8 * model.hostPicojoulesPerBit);
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return true;
  case schedule::MEM_COPY:
  case schedule::SXM_TRANSPOSE:
  // Data movement
  case schedule::MEM_GATHER:
  case schedule::MEM_SLICE:
  case schedule::MEM_CONCAT:
  case schedule::MEM_KV_APPEND:
  case schedule::SXM_BROADCAST:
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return true;
  case schedule::MXM_MATMUL:
  case schedule::MXM_MATMUL_DQ:
  case schedule::MXM_EXPERT_MATMUL:
  case schedule::MXM_EXPERT_MATMUL_DQ:
    charge(parts, EnergyCategory::Mac, double(cost.macs) * macPicojoules);
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return true;
  case schedule::VXM_BINARY:
  case schedule::VXM_UNARY:
  case schedule::VXM_SOFTMAX:
  // Transformer VXM ops (their vxmOps come from InstructionCost)
  case schedule::VXM_REDUCE:
  case schedule::VXM_RMS_NORM:
  case schedule::VXM_LAYER_NORM:
  case schedule::VXM_SELECT:
  case schedule::VXM_TOPK:
  case schedule::VXM_CAST:
  case schedule::VXM_ROTARY:
  case schedule::VXM_SUM:
    charge(parts, EnergyCategory::Vxm, double(cost.vxmOps) * model.vxmOpPicojoules);
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return true;
  // Multi-chip opcodes: SRAM and stream traffic only (link energy is not modelled)
  case schedule::C2C_SEND:
  case schedule::C2C_RECV:
  case schedule::SYNC:
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return true;
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return false;
}

/// Adds one instruction's parts to the program's categories and its unit, in the order
/// programEnergy has always used.
void accumulate(const EnergyParts &parts, schedule::Unit unit, ProgramEnergy &energy) {
  double instructionTotal = 0;
  for (size_t category = 0; category < kEnergyCategories; ++category) {
    energy.categories[category] += parts[category];
    instructionTotal += parts[category];
  }
  energy.units[unitSlot(unit)] += instructionTotal;
}

} // namespace

bool chargesMacEnergy(schedule::Opcode opcode) {
  return opcode == schedule::MXM_MATMUL || opcode == schedule::MXM_MATMUL_DQ ||
         opcode == schedule::MXM_EXPERT_MATMUL || opcode == schedule::MXM_EXPERT_MATMUL_DQ;
}

bool addInstructionEnergy(const HardwareModel &model, const InstructionCost &cost,
                          schedule::DType activations, ProgramEnergy &energy) {
  // The same products and sums as chargeInstruction + accumulate, bit for bit, without the
  // categories an opcode never charges: those parts are +0.0, and adding +0.0 changes no sum
  // here (none is ever -0.0). The instruction's total adds its parts in category order.
  const uint64_t readBytes = cost.readBytes, writtenBytes = cost.writtenBytes;
  double total = 0;
  bool charged = false; // stays false for an opcode without an energy rule (as chargeInstruction)
  auto add = [&](EnergyCategory category, double picojoules) {
    const double joules = picojoules * kJoulesPerPicojoule;
    energy.categories[size_t(category)] += joules;
    total += joules;
  };
  auto traffic = [&] { // SramRead, SramWrite, Stream: chargeTraffic's expressions
    add(EnergyCategory::SramRead, double(readBytes) * 8 * model.sramReadPicojoulesPerBit);
    add(EnergyCategory::SramWrite, double(writtenBytes) * 8 * model.sramWritePicojoulesPerBit);
    add(EnergyCategory::Stream,
        double(readBytes + writtenBytes) * 8 * model.streamPicojoulesPerBit);
  };
  switch (cost.opcode) {
  case schedule::MEM_WRITE:
  case schedule::MEM_READ:
    add(EnergyCategory::Host, double(readBytes + writtenBytes) * 8 * model.hostPicojoulesPerBit);
    traffic();
    charged = true;
    break;
  case schedule::MEM_COPY:
  case schedule::SXM_TRANSPOSE:
  case schedule::MEM_GATHER:
  case schedule::MEM_SLICE:
  case schedule::MEM_CONCAT:
  case schedule::MEM_KV_APPEND:
  case schedule::SXM_BROADCAST:
  case schedule::C2C_SEND:
  case schedule::C2C_RECV:
  case schedule::SYNC:
    traffic();
    charged = true;
    break;
  case schedule::MXM_MATMUL:
  case schedule::MXM_MATMUL_DQ:
  case schedule::MXM_EXPERT_MATMUL:
  case schedule::MXM_EXPERT_MATMUL_DQ: {
    if (size_t(activations) >= kDTypeSlots) {
      return false;
    }
    const double macPicojoules = model.macPicojoules[size_t(activations)];
    if (macPicojoules < 0) {
      return false;
    }
    add(EnergyCategory::Mac, double(cost.macs) * macPicojoules);
    traffic();
    charged = true;
    break;
  }
  case schedule::VXM_BINARY:
  case schedule::VXM_UNARY:
  case schedule::VXM_SOFTMAX:
  case schedule::VXM_REDUCE:
  case schedule::VXM_RMS_NORM:
  case schedule::VXM_LAYER_NORM:
  case schedule::VXM_SELECT:
  case schedule::VXM_TOPK:
  case schedule::VXM_CAST:
  case schedule::VXM_ROTARY:
  case schedule::VXM_SUM:
    traffic(); // Vxm comes after Stream in category order
    add(EnergyCategory::Vxm, double(cost.vxmOps) * model.vxmOpPicojoules);
    charged = true;
    break;
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  if (!charged) {
    return false; // also every value outside the enum, which no case matches
  }
  energy.units[unitSlot(cost.unit)] += total;
  return true;
}

Result<EnergyParts> instructionEnergy(const HardwareModel &model, const BufferTable &buffers,
                                      const schedule::Instruction &inst,
                                      const InstructionCost &cost) {
  double macPicojoules = 0;
  if (chargesMacEnergy(inst.opcode())) {
    Result<double> picojoules = matmulPicojoules(model, buffers, inst);
    if (!picojoules) {
      return picojoules.takeError();
    }
    macPicojoules = *picojoules;
  }
  EnergyParts parts{};
  if (!chargeInstruction(model, inst.opcode(), cost, macPicojoules, parts)) {
    return makeError(fmt::format("opcode {} has no energy rule", int(inst.opcode())));
  }
  return parts;
}

Result<ProgramEnergy> programEnergy(const HardwareModel &model, const BufferTable &buffers,
                                    const schedule::Program &program,
                                    const std::vector<InstructionCost> &costs) {
  ProgramEnergy energy;
  // Reads the costs, not the instructions (but for a matmul's activation dtype).
  for (int index = 0; index < program.instructions_size(); ++index) {
    const InstructionCost &cost = costs[size_t(index)];
    auto fail = [&](const std::string &reason) {
      const schedule::Instruction &inst = program.instructions(index);
      return makeError(fmt::format("chip {}, program '{}', instruction {} ({} '{}'): {}",
                                   program.chip(), program.name(), index,
                                   schedule::opcodeName(inst.opcode()), inst.location(), reason));
    };
    double macPicojoules = 0;
    if (chargesMacEnergy(cost.opcode)) {
      Result<double> picojoules = matmulPicojoules(model, buffers, program.instructions(index));
      if (!picojoules) {
        return fail(picojoules.error());
      }
      macPicojoules = *picojoules;
    }
    EnergyParts parts{};
    if (!chargeInstruction(model, cost.opcode, cost, macPicojoules, parts)) {
      return fail(fmt::format("opcode {} has no energy rule", int(cost.opcode)));
    }
    accumulate(parts, cost.unit, energy);
  }
  return energy;
}

double staticEnergy(const HardwareModel &model, double seconds) {
  return model.staticWatts * double(model.chips) * seconds;
}

} // namespace conveyor::sim
