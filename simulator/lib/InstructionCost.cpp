// Per-opcode occupancy and duration (docs/timing-model.md "Durations"), re-derived here
// independently of the compiler's scheduler.
#include "conveyor/Simulator/InstructionCost.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace conveyor::sim {
namespace {

using Wide = unsigned __int128;

constexpr Wide kMaxCycles = std::numeric_limits<uint64_t>::max() / 4;

Wide ceilDiv(Wide value, Wide divisor) {
  // 128-bit division is a library call; nearly every real operand fits 64 bits.
  if (value <= std::numeric_limits<uint64_t>::max() / 2 &&
      divisor <= std::numeric_limits<uint64_t>::max() / 2) {
    const uint64_t v = uint64_t(value), d = uint64_t(divisor);
    return (v + d - 1) / d;
  }
  return (value + divisor - 1) / divisor;
}

} // namespace

uint64_t hostTransferCycles(const HardwareModel &model, uint64_t bytes) {
  return (uint64_t)std::ceil((double)bytes * model.clockHz / model.hostBytesPerSecond);
}

Result<InstructionCost> instructionCost(const HardwareModel &model, const BufferTable &buffers,
                                        const schedule::Instruction &inst) {
  auto operand = [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.operands(i)); };
  auto result = [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.results(i)); };
  InstructionCost cost;
  cost.opcode = inst.opcode();
  cost.unit = inst.unit();
  for (uint32_t id : inst.operands()) {
    cost.readBytes += buffers.byIdRef(id).bytes;
  }
  for (uint32_t id : inst.results()) {
    cost.writtenBytes += buffers.byIdRef(id).bytes;
  }
  switch (inst.opcode()) {
  case schedule::MEM_WRITE:
    cost.occupancy = hostTransferCycles(model, result(0).bytes);
    cost.duration = model.hostLatency + cost.occupancy;
    return cost;
  case schedule::MEM_READ:
    cost.occupancy = hostTransferCycles(model, operand(0).bytes);
    cost.duration = model.hostLatency + model.memLatency + cost.occupancy;
    return cost;
  case schedule::MEM_COPY:
    cost.occupancy = result(0).vectors;
    cost.duration = model.memLatency + cost.occupancy;
    return cost;
  case schedule::MXM_MATMUL: {
    const BufferInfo &activations = operand(0);
    const BufferInfo &weights = operand(1);
    std::optional<MatmulSizes> dims = matmulSizes(activations.shape, weights.shape);
    if (!dims) {
      return makeError(fmt::format("operands {} and {} cannot be multiplied",
                                   shapeText(activations.shape), shapeText(weights.shape)));
    }
    const uint64_t rate = model.macsPerCycle[size_t(activations.dtype)];
    if (rate == 0) {
      if (activations.dtype == schedule::F32) {
        return makeError(fmt::format(
            "the MXM has no rate for {} activations (f32 is timed as {}; add a '{}' entry "
            "to chip.mxm.macs_per_cycle of system '{}')",
            dtypeName(activations.dtype), dtypeName(model.floatTimingAs),
            dtypeName(model.floatTimingAs), model.systemName));
      }
      return makeError(fmt::format("the MXM has no rate for {} activations (add a '{}' entry "
                                   "to chip.mxm.macs_per_cycle of system '{}')",
                                   dtypeName(activations.dtype), dtypeName(activations.dtype),
                                   model.systemName));
    }
    const Wide weightElements = Wide(dims->batch) * dims->k * dims->n;
    const Wide install = ceilDiv(ceilDiv(weightElements * dtypeBits(weights.dtype), 8),
                                 model.weightLoadBytesPerCycle);
    const Wide macs = weightElements * dims->m;
    const Wide compute = ceilDiv(macs, rate);
    if (install + compute > kMaxCycles) {
      return makeError(fmt::format("the matmul {} x {} takes more than 2^62 cycles",
                                   shapeText(activations.shape), shapeText(weights.shape)));
    }
    cost.macs = uint64_t(macs);
    cost.occupancy = uint64_t(install + compute);
    cost.duration = model.memLatency + model.mxmLatency + cost.occupancy;
    return cost;
  }
  case schedule::VXM_BINARY:
  case schedule::VXM_UNARY: {
    const uint64_t ops = vxmOpsPerElement(inst.kind());
    // One pass whenever the chain fits the ALU mesh, without dividing.
    const uint64_t passes = ops == 0 ? 0
                            : ops <= model.alusPerLane
                                ? 1
                                : (ops + model.alusPerLane - 1) / model.alusPerLane;
    cost.occupancy = result(0).vectors * passes;
    cost.duration = model.memLatency + model.vxmLatency + cost.occupancy;
    cost.vxmOps = result(0).elements * ops;
    return cost;
  }
  case schedule::VXM_SOFTMAX:
    cost.occupancy = kSoftmaxPasses * result(0).vectors;
    cost.duration = model.memLatency + model.vxmLatency + cost.occupancy;
    cost.vxmOps = result(0).elements * kSoftmaxOpsPerElement;
    return cost;
  case schedule::SXM_TRANSPOSE:
    cost.occupancy = result(0).vectors;
    cost.duration = model.memLatency + model.sxmLatency + cost.occupancy;
    return cost;
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return makeError(fmt::format("opcode {} has no timing rule", int(inst.opcode())));
}

} // namespace conveyor::sim
