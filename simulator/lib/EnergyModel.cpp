// Energy per instruction by category, and static energy; see docs/simulator.md "Energy".
#include "conveyor/Simulator/EnergyModel.h"

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

Result<EnergyParts> instructionEnergy(const HardwareModel &model, const BufferTable &buffers,
                                      const schedule::Instruction &inst,
                                      const InstructionCost &cost) {
  EnergyParts parts{};
  uint64_t readBytes = 0;
  for (uint32_t id : inst.operands()) {
    readBytes += buffers.byIdRef(id).bytes;
  }
  uint64_t writtenBytes = 0;
  for (uint32_t id : inst.results()) {
    writtenBytes += buffers.byIdRef(id).bytes;
  }
  switch (inst.opcode()) {
  case schedule::MEM_WRITE:
  case schedule::MEM_READ:
    // Host traffic crosses the host link, then the streams into or out of SRAM.
    charge(parts, EnergyCategory::Host,
           double(readBytes + writtenBytes) * 8 * model.hostPicojoulesPerBit);
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return parts;
  case schedule::MEM_COPY:
  case schedule::SXM_TRANSPOSE:
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return parts;
  case schedule::MXM_MATMUL: {
    const schedule::DType activations = buffers.byIdRef(inst.operands(0)).dtype;
    const double macPicojoules = model.macPicojoules[size_t(activations)];
    if (macPicojoules < 0) {
      return makeError(fmt::format("system '{}' gives no MAC energy for {} activations; add "
                                   "a '{}' entry to chip.energy.mac_picojoules",
                                   model.systemName, dtypeName(activations),
                                   dtypeName(activations)));
    }
    charge(parts, EnergyCategory::Mac, double(cost.macs) * macPicojoules);
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return parts;
  }
  case schedule::VXM_BINARY:
  case schedule::VXM_UNARY:
  case schedule::VXM_SOFTMAX:
    charge(parts, EnergyCategory::Vxm, double(cost.vxmOps) * model.vxmOpPicojoules);
    chargeTraffic(model, parts, readBytes, writtenBytes);
    return parts;
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return makeError(fmt::format("opcode {} has no energy rule", int(inst.opcode())));
}

double staticEnergy(const HardwareModel &model, double seconds) {
  return model.staticWatts * double(model.chips) * seconds;
}

} // namespace conveyor::sim
