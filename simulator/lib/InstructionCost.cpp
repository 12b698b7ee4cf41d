// Per-opcode occupancy and duration (docs/timing-model.md "Durations"), re-derived here
// independently of the compiler's scheduler.
#include "conveyor/Simulator/InstructionCost.h"

#include <fmt/format.h>

#include <algorithm>
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

// Transformer VXM bursts
struct VxmBurst {
  uint64_t occupancy = 0; // cycles
  uint64_t ops = 0;       // ALU operations, for energy
};

VxmBurst vxmBurst(const HardwareModel &model, const BufferInfo &in, const BufferInfo &out,
                  const schedule::Instruction &inst) {
  const uint64_t alus = model.alusPerLane;
  switch (inst.opcode()) {
  case schedule::VXM_REDUCE: // one pass over the input
    return {in.vectors, in.elements()};
  case schedule::VXM_RMS_NORM: // sum of squares, then scale: 2 passes, ~4 ops per element
    return {2 * out.vectors, 4 * out.elements()};
  case schedule::VXM_LAYER_NORM: // mean, variance, normalise: 3 passes, ~6 ops per element
    return {3 * out.vectors, 6 * out.elements()};
  case schedule::VXM_SELECT:
    return {out.vectors, out.elements()};
  case schedule::VXM_TOPK: // k max-and-mask passes over the input
    return {uint64_t(inst.k()) * in.vectors, uint64_t(inst.k()) * in.elements()};
  case schedule::VXM_CAST:
    return {std::max(in.vectors, out.vectors), out.elements()};
  case schedule::VXM_ROTARY: // 2 products, 1 sum, 1 negation per element
    return {out.vectors * ((4 + alus - 1) / alus), 4 * out.elements()};
  default:
    return {};
  }
}

/// MXM occupancy of a product that installs `weightBytes` in `install` cycles and multiplies
/// for `compute`: the weights go in as T = ceil(weightBytes / weightSetBytes) tile sets, and
/// set i + 1 installs while set i computes, so only the first install and the last compute
/// are not hidden: max(install, compute) + ceil(min(install, compute) / T).
/// Cycles an MXM product installs before it needs its activations: its first tile set.
uint64_t mxmLead(const HardwareModel &model, Wide install) {
  if (model.weightSetBytes == 0) {
    return 0;
  }
  return uint64_t(std::min(install, ceilDiv(model.weightSetBytes, model.weightLoadBytesPerCycle)));
}

Wide mxmOccupancy(const HardwareModel &model, Wide install, Wide compute, Wide weightBytes) {
  const Wide sets =
      model.weightSetBytes == 0 ? 1 : std::max<Wide>(1, ceilDiv(weightBytes, model.weightSetBytes));
  return std::max(install, compute) + ceilDiv(std::min(install, compute), sets);
}

} // namespace

uint64_t hostTransferCycles(const HardwareModel &model, uint64_t bytes) {
  return (uint64_t)std::ceil((double)bytes * model.clockHz / model.hostBytesPerSecond);
}

namespace {

/// instructionCost's rules, with the operands and results reached through `operand(i)` and
/// `result(i)` (table lookups by id, or entries the caller has already resolved).
template <class Operand, class ResultBuffer>
Result<InstructionCost> costOf(const HardwareModel &model, const schedule::Instruction &inst,
                               Operand operand, ResultBuffer result) {
  InstructionCost cost;
  cost.opcode = inst.opcode();
  cost.unit = inst.unit();
  for (int i = 0; i < inst.operands_size(); ++i) {
    cost.readBytes += operand(i).bytes;
  }
  for (int i = 0; i < inst.results_size(); ++i) {
    cost.writtenBytes += result(i).bytes;
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
    std::optional<MatmulSizes> dims = matmulSizes(activations.shape(), weights.shape());
    if (!dims) {
      return makeError(fmt::format("operands {} and {} cannot be multiplied",
                                   shapeText(activations.shape()), shapeText(weights.shape())));
    }
    const uint64_t rate = model.macsPerCycle[size_t(activations.dtype())];
    if (rate == 0) {
      if (activations.dtype() == schedule::F32) {
        return makeError(fmt::format(
            "the MXM has no rate for {} activations (f32 is timed as {}; add a '{}' entry "
            "to chip.mxm.macs_per_cycle of system '{}')",
            dtypeName(activations.dtype()), dtypeName(model.floatTimingAs),
            dtypeName(model.floatTimingAs), model.systemName));
      }
      return makeError(fmt::format("the MXM has no rate for {} activations (add a '{}' entry "
                                   "to chip.mxm.macs_per_cycle of system '{}')",
                                   dtypeName(activations.dtype()), dtypeName(activations.dtype()),
                                   model.systemName));
    }
    const Wide weightElements = Wide(dims->batch) * dims->k * dims->n;
    const Wide weightBytes = ceilDiv(weightElements * dtypeBits(weights.dtype()), 8);
    const Wide install = ceilDiv(weightBytes, model.weightLoadBytesPerCycle);
    const Wide macs = weightElements * dims->m;
    const Wide compute = ceilDiv(macs, rate);
    if (install + compute > kMaxCycles) {
      return makeError(fmt::format("the matmul {} x {} takes more than 2^62 cycles",
                                   shapeText(activations.shape()), shapeText(weights.shape())));
    }
    cost.macs = uint64_t(macs);
    cost.occupancy = uint64_t(mxmOccupancy(model, install, compute, weightBytes));
    cost.operandLead = mxmLead(model, install);
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
    cost.vxmOps = result(0).elements() * ops;
    return cost;
  }
  case schedule::VXM_SUM: {
    // n addends, each on its own stream, n - 1 adds per element: one pass of the ALU mesh
    // chains up to alusPerLane of them.
    const uint64_t adds = uint64_t(inst.operands_size()) - 1;
    const uint64_t passes = (adds + model.alusPerLane - 1) / model.alusPerLane;
    cost.occupancy = result(0).vectors * passes;
    cost.duration = model.memLatency + model.vxmLatency + cost.occupancy;
    cost.vxmOps = result(0).elements() * adds;
    return cost;
  }
  case schedule::VXM_SOFTMAX:
    cost.occupancy = kSoftmaxPasses * result(0).vectors;
    cost.duration = model.memLatency + model.vxmLatency + cost.occupancy;
    cost.vxmOps = result(0).elements() * kSoftmaxOpsPerElement;
    return cost;
  case schedule::SXM_TRANSPOSE:
  case schedule::SXM_BROADCAST:
    cost.occupancy = result(0).vectors;
    cost.duration = model.memLatency + model.sxmLatency + cost.occupancy;
    return cost;
  // Transformer ops (docs/timing-model.md, "Transformer ops")
  case schedule::MEM_GATHER:
  case schedule::MEM_SLICE:
  case schedule::MEM_CONCAT:
    cost.occupancy = result(0).vectors;
    cost.duration = model.memLatency + cost.occupancy;
    return cost;
  case schedule::VXM_REDUCE:
  case schedule::VXM_RMS_NORM:
  case schedule::VXM_LAYER_NORM:
  case schedule::VXM_SELECT:
  case schedule::VXM_TOPK:
  case schedule::VXM_CAST:
  case schedule::VXM_ROTARY: {
    const VxmBurst burst = vxmBurst(model, operand(0), result(0), inst);
    cost.occupancy = burst.occupancy;
    cost.vxmOps = burst.ops;
    cost.duration = model.memLatency + model.vxmLatency + cost.occupancy;
    return cost;
  }
  case schedule::MXM_MATMUL_DQ: {
    std::optional<MatmulSizes> dims = matmulSizes(operand(0).shape(), operand(1).shape());
    const uint64_t rate = model.macsPerCycle[size_t(operand(0).dtype())];
    if (!dims || rate == 0) {
      return makeError(fmt::format("the MXM has no rate for {} activations (chip.mxm."
                                   "macs_per_cycle of system '{}')",
                                   dtypeName(operand(0).dtype()), model.systemName));
    }
    // The narrow weights are what the MXM installs; scales ride on the accumulators.
    const Wide weightElements = Wide(dims->batch) * dims->k * dims->n;
    const Wide weightBytes = ceilDiv(weightElements * dtypeBits(operand(1).dtype()), 8);
    const Wide install = ceilDiv(weightBytes, model.weightLoadBytesPerCycle);
    const Wide macs = weightElements * dims->m;
    const Wide compute = ceilDiv(macs, rate);
    if (install + compute > kMaxCycles) {
      return makeError("the matmul takes more than 2^62 cycles");
    }
    cost.macs = uint64_t(macs);
    cost.occupancy = uint64_t(mxmOccupancy(model, install, compute, weightBytes));
    cost.operandLead = mxmLead(model, install);
    cost.duration = model.memLatency + model.mxmLatency + cost.occupancy;
    return cost;
  }
  case schedule::MXM_EXPERT_MATMUL:
  case schedule::MXM_EXPERT_MATMUL_DQ: {
    // MoE: T x k products, each installing one chosen expert's K x N slice of the table
    // where it lives; only those slices (not the whole stack) are read from SRAM.
    const BufferInfo &lhs = operand(0), &table = operand(1), &out = result(0);
    if (table.shape().size() != 3 || out.shape().size() != 4) {
      return makeError(fmt::format("expert product {} x {} has no [E, K, N] table",
                                   shapeText(lhs.shape()), shapeText(table.shape())));
    }
    const uint64_t rate = model.macsPerCycle[size_t(lhs.dtype())];
    if (rate == 0) {
      return makeError(fmt::format("the MXM has no rate for {} activations (chip.mxm."
                                   "macs_per_cycle of system '{}')",
                                   dtypeName(lhs.dtype()), model.systemName));
    }
    const Wide products = Wide(out.shape()[0]) * Wide(out.shape()[1]);
    const Wide sliceElements = Wide(table.shape()[1]) * Wide(table.shape()[2]);
    const Wide sliceBytes = ceilDiv(products * sliceElements * dtypeBits(table.dtype()), 8);
    const Wide install = ceilDiv(sliceBytes, model.weightLoadBytesPerCycle);
    const Wide macs = products * Wide(out.shape()[2]) * sliceElements;
    const Wide compute = ceilDiv(macs, rate);
    if (install + compute > kMaxCycles) {
      return makeError("the expert product takes more than 2^62 cycles");
    }
    cost.readBytes -= table.bytes;
    cost.readBytes += uint64_t(sliceBytes);
    if (inst.opcode() == schedule::MXM_EXPERT_MATMUL_DQ) {
      // Only the chosen experts' scale rows are read.
      const BufferInfo &scale = operand(3);
      cost.readBytes -= scale.bytes;
      cost.readBytes += uint64_t(products) * uint64_t(table.shape()[2]) * 4;
    }
    cost.macs = uint64_t(macs);
    cost.occupancy = uint64_t(mxmOccupancy(model, install, compute, sliceBytes));
    cost.operandLead = mxmLead(model, install);
    cost.duration = model.memLatency + model.mxmLatency + cost.occupancy;
    return cost;
  }
  case schedule::MEM_KV_APPEND:
    // Only the new rows move (a MEM scatter into a transposed cache); the rest stays put.
    cost.writtenBytes = operand(0).bytes;
    cost.occupancy = operand(0).vectors;
    cost.duration = model.memLatency + cost.occupancy;
    return cost;
  case schedule::C2C_SEND: // timed by the fabric engine from the link (FabricSimulator.cpp)
  case schedule::C2C_RECV:
  case schedule::SYNC:
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return makeError(fmt::format("opcode {} has no timing rule", int(inst.opcode())));
}

} // namespace

Result<InstructionCost> instructionCost(const HardwareModel &model, const BufferTable &buffers,
                                        const schedule::Instruction &inst) {
  return costOf(
      model, inst,
      [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.operands(i)); },
      [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.results(i)); });
}

Result<InstructionCost> instructionCost(const HardwareModel &model, const schedule::Instruction &inst,
                                        const BufferInfo *const *operands,
                                        const BufferInfo *const *results) {
  return costOf(
      model, inst, [&](int i) -> const BufferInfo & { return *operands[i]; },
      [&](int i) -> const BufferInfo & { return *results[i]; });
}

} // namespace conveyor::sim

// Shape rules of the transformer opcodes
namespace conveyor::sim {
namespace {

std::string shapesText(const BufferInfo &buffer) {
  return fmt::format("{} {}", buffer.label(), shapeText(buffer.shape()));
}

bool isIndexType(schedule::DType type) {
  return type == schedule::INT32 || type == schedule::INT8;
}

/// params broadcast to shape[axis:] without enlarging it.
bool fitsTrailing(ShapeRef param, ShapeRef shape, int64_t axis) {
  ShapeRef trailing = shape.subspan(size_t(axis));
  return isBroadcastResult(param, trailing, trailing);
}

} // namespace

std::optional<std::string> transformerShapeProblem(const BufferTable &buffers,
                                                   const schedule::Instruction &inst) {
  auto operand = [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.operands(i)); };
  const BufferInfo &result = buffers.byIdRef(inst.results(0));
  const ShapeRef in = operand(0).shape();
  const int64_t rank = int64_t(in.size());
  auto mustBe = [&](ShapeRef expected) -> std::optional<std::string> {
    if (!sameShape(result.shape(), expected)) {
      return fmt::format("result {} should have shape {}", shapesText(result),
                         shapeText(expected));
    }
    return std::nullopt;
  };
  auto axisProblem = [&](int64_t axis) -> std::optional<std::string> {
    if (axis < 0 || axis >= rank) {
      return fmt::format("axis {} is outside [0, {}) of {}", axis, rank, shapesText(operand(0)));
    }
    return std::nullopt;
  };
  switch (inst.opcode()) {
  case schedule::MEM_GATHER: {
    if (auto problem = axisProblem(inst.axis())) {
      return problem;
    }
    if (!isIndexType(operand(1).dtype())) {
      return fmt::format("indices {} must be INT32 or INT8", shapesText(operand(1)));
    }
    Shape expected(in.begin(), in.begin() + inst.axis());
    expected.insert(expected.end(), operand(1).shape().begin(), operand(1).shape().end());
    expected.insert(expected.end(), in.begin() + inst.axis() + 1, in.end());
    return mustBe(expected);
  }
  case schedule::MEM_SLICE: {
    if (inst.starts_size() != rank || inst.steps_size() != rank ||
        int64_t(result.shape().size()) != rank) {
      return fmt::format("starts, steps and the result need one entry per axis of {}",
                         shapesText(operand(0)));
    }
    for (int64_t axis = 0; axis < rank; ++axis) {
      const int64_t start = inst.starts(int(axis)), step = inst.steps(int(axis));
      const int64_t size = result.shape()[size_t(axis)];
      const int64_t last = start + (size - 1) * step;
      if (step == 0 || (size > 0 && (start < 0 || start >= in[size_t(axis)] || last < 0 ||
                                     last >= in[size_t(axis)]))) {
        return fmt::format("axis {}: {} elements from {} by {} leave {}", axis, size, start, step,
                           shapesText(operand(0)));
      }
    }
    return std::nullopt;
  }
  case schedule::MEM_CONCAT: {
    if (auto problem = axisProblem(inst.axis())) {
      return problem;
    }
    const ShapeRef other = operand(1).shape();
    Shape expected(in.begin(), in.end());
    bool fits = other.size() == in.size();
    for (size_t i = 0; fits && i < in.size(); ++i) {
      fits = int64_t(i) == inst.axis() || in[i] == other[i];
    }
    if (!fits) {
      return fmt::format("{} and {} cannot be joined on axis {}", shapesText(operand(0)),
                         shapesText(operand(1)), inst.axis());
    }
    expected[size_t(inst.axis())] += other[size_t(inst.axis())];
    return mustBe(expected);
  }
  case schedule::SXM_BROADCAST:
    if (!isBroadcastResult(in, result.shape(), result.shape())) {
      return fmt::format("{} does not broadcast to {}", shapesText(operand(0)),
                         shapesText(result));
    }
    return std::nullopt;
  case schedule::VXM_REDUCE: {
    if (inst.kind() < schedule::REDUCE_SUM || inst.kind() > schedule::REDUCE_MIN) {
      return fmt::format("kind {} is not a reduction", int(inst.kind()));
    }
    Shape expected(in.begin(), in.end());
    int64_t previous = -1;
    for (int64_t axis : inst.axes()) {
      if (axis <= previous || axis >= rank) {
        return fmt::format("axes must increase within [0, {})", rank);
      }
      expected[size_t(axis)] = 1;
      previous = axis;
    }
    return mustBe(expected);
  }
  case schedule::VXM_RMS_NORM:
  case schedule::VXM_LAYER_NORM: {
    if (auto problem = axisProblem(inst.axis())) {
      return problem;
    }
    for (int i = 1; i < inst.operands_size(); ++i) {
      if (!fitsTrailing(operand(i).shape(), in, inst.axis())) {
        return fmt::format("parameter {} does not fit the normalised axes of {}",
                           shapesText(operand(i)), shapesText(operand(0)));
      }
    }
    return mustBe(in);
  }
  case schedule::VXM_SELECT: {
    std::optional<Shape> shape = broadcastShapes(in, operand(1).shape());
    if (shape) {
      shape = broadcastShapes(*shape, operand(2).shape());
    }
    if (!shape) {
      return fmt::format("{}, {} and {} do not broadcast", shapesText(operand(0)),
                         shapesText(operand(1)), shapesText(operand(2)));
    }
    return mustBe(*shape);
  }
  case schedule::VXM_TOPK: {
    if (auto problem = axisProblem(inst.axis())) {
      return problem;
    }
    if (inst.k() < 1 || inst.k() > in[size_t(inst.axis())]) {
      return fmt::format("k = {} is outside [1, {}]", inst.k(), in[size_t(inst.axis())]);
    }
    if (inst.topk_indices() && result.dtype() != schedule::INT32) {
      return fmt::format("indices result {} must be INT32", result.label());
    }
    Shape expected(in.begin(), in.end());
    expected[size_t(inst.axis())] = inst.k();
    return mustBe(expected);
  }
  case schedule::VXM_CAST:
    return mustBe(in);
  case schedule::VXM_ROTARY:
    if (in.empty() || in.back() % 2 != 0 || !isBroadcastResult(in, operand(1).shape(), in) ||
        !isBroadcastResult(in, operand(2).shape(), in)) {
      return fmt::format("rotary needs an even last axis and cos/sin that broadcast to {}",
                         shapesText(operand(0)));
    }
    return mustBe(in);
  case schedule::MXM_MATMUL_DQ: {
    std::optional<MatmulDims> dims = matmulDims(in, operand(1).shape());
    if (!dims || operand(1).shape().size() < 2) {
      return fmt::format("{} and {} cannot be multiplied", shapesText(operand(0)),
                         shapesText(operand(1)));
    }
    if (operand(2).shape().size() != 1 || uint64_t(operand(2).shape()[0]) != dims->n ||
        operand(2).dtype() != schedule::F32) {
      return fmt::format("scales {} must be F32 [{}]", shapesText(operand(2)), dims->n);
    }
    return mustBe(dims->result);
  }
  case schedule::MXM_EXPERT_MATMUL:
  case schedule::MXM_EXPERT_MATMUL_DQ: {
    const ShapeRef table = operand(1).shape(), indices = operand(2).shape();
    if (table.size() != 3 || indices.size() != 2 || operand(2).dtype() != schedule::INT32) {
      return fmt::format("expert product needs a table [E, K, N] and INT32 indices [T, k], got "
                         "{} and {}",
                         shapesText(operand(1)), shapesText(operand(2)));
    }
    if (rank != 4 || in[0] != indices[0] || (in[1] != indices[1] && in[1] != 1) ||
        in[3] != table[1]) {
      return fmt::format("{} must be [{}, {} or 1, M, {}]", shapesText(operand(0)), indices[0],
                         indices[1], table[1]);
    }
    if (inst.opcode() == schedule::MXM_EXPERT_MATMUL_DQ) {
      const ShapeRef scale = operand(3).shape();
      if (scale.size() != 3 || scale[0] != table[0] || scale[1] != 1 || scale[2] != table[2] ||
          operand(3).dtype() != schedule::F32) {
        return fmt::format("scales {} must be F32 [{}, 1, {}]", shapesText(operand(3)), table[0],
                           table[2]);
      }
    }
    const int64_t expected[] = {indices[0], indices[1], in[2], table[2]};
    return mustBe(expected);
  }
  case schedule::MEM_KV_APPEND: {
    // rows [b, kv, s, d] into a [b, kv, T, d] (axis 2) or transposed [b, kv, d, T] (axis 3) cache
    const int64_t axis = inst.axis();
    if (buffers.at(result.root).kind() != schedule::KV_CACHE) {
      return fmt::format("result {} must be the storage of a KV_CACHE buffer", result.label());
    }
    if ((axis != 2 && axis != 3) || rank != 4 || result.shape().size() != 4 ||
        inst.starts_size() != 1) {
      return fmt::format("needs [b, kv, s, d] rows, a rank-4 cache, axis 2 or 3 and one start "
                         "(the first position written); got rows {} and axis {}",
                         shapesText(operand(0)), axis);
    }
    const ShapeRef cache = result.shape();
    const int64_t depth = axis == 2 ? cache[3] : cache[2];
    const int64_t first = inst.starts(0);
    if (cache[0] != in[0] || cache[1] != in[1] || depth != in[3] || first < 0 ||
        first + in[2] > cache[size_t(axis)] || result.dtype() != operand(0).dtype()) {
      return fmt::format("rows {} do not fit cache {} at position {} on axis {}",
                         shapesText(operand(0)), shapesText(result), first, axis);
    }
    return std::nullopt;
  }
  default:
    break;
  }
  return fmt::format("opcode {} has no transformer shape rule", int(inst.opcode()));
}

} // namespace conveyor::sim
