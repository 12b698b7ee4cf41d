// The compiler's implementation of docs/timing-model.md (durations and occupancies).
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Dialect/Chip/ChipOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using conveyor::system::DType;

namespace conveyor::chip {

namespace {

uint64_t ceilDiv(uint64_t numerator, uint64_t denominator) {
  return (numerator + denominator - 1) / denominator;
}

} // namespace

const char *unitName(Unit unit) {
  switch (unit) {
  case Unit::Mem:
    return "MEM";
  case Unit::Mxm:
    return "MXM";
  case Unit::Vxm:
    return "VXM";
  case Unit::Sxm:
    return "SXM";
  }
  return "?";
}

std::optional<DType> toSystemDType(Type elementType) {
  if (elementType.isF32()) {
    return DType::F32;
  }
  if (elementType.isF16()) {
    return DType::F16;
  }
  if (elementType.isBF16()) {
    return DType::BF16;
  }
  if (auto floatType = dyn_cast<FloatType>(elementType); floatType && floatType.getWidth() == 8) {
    return DType::FP8;
  }
  if (auto intType = dyn_cast<IntegerType>(elementType)) {
    switch (intType.getWidth()) {
    case 4:
      return DType::INT4;
    case 8:
      return DType::INT8;
    case 32:
      return DType::INT32;
    default:
      return std::nullopt;
    }
  }
  return std::nullopt;
}

uint64_t tensorBytes(uint64_t elements, unsigned bits) { return ceilDiv(elements * bits, 8); }

std::optional<uint64_t> tensorBytes(Type tensorType) {
  auto type = dyn_cast<RankedTensorType>(tensorType);
  if (!type || !type.hasStaticShape()) {
    return std::nullopt;
  }
  auto dtype = toSystemDType(type.getElementType());
  if (!dtype) {
    return std::nullopt;
  }
  return tensorBytes(static_cast<uint64_t>(type.getNumElements()), system::dtypeBits(*dtype));
}

std::optional<uint64_t> vxmOpsPerElement(llvm::StringRef kind) {
  // docs/timing-model.md: DIV is a reciprocal and a multiply; GELU evaluates erf by a
  // rational approximation; GELU_TANH a tanh polynomial.
  return llvm::StringSwitch<std::optional<uint64_t>>(kind)
      .Case("add", 1)
      .Case("sub", 1)
      .Case("mul", 1)
      .Case("div", 2)
      .Case("relu", 1)
      .Case("gelu", 12)
      .Case("gelu_tanh", 8)
      // Math kinds (docs/timing-model.md, "Transformer ops")
      .Cases("neg", "abs", "max", "min", 1)
      .Case("reciprocal", 2)
      .Cases("sqrt", "rsqrt", 3)
      .Cases("exp", "log", 4)
      .Case("sigmoid", 5)
      .Cases("silu", "sin", "cos", "tanh", 6)
      .Case("pow", 9)
      .Case("erf", 10)
      .Default(std::nullopt);
}

bool isInstruction(Operation *op) {
  return isa<MemWriteOp, MemReadOp, MemCopyOp, MatMulOp, BinaryOp, UnaryOp, SoftmaxOp, TransposeOp>(
             op) ||
         isa<GatherOp, SliceOp, ConcatOp, BroadcastOp, ReduceOp, RmsNormOp, LayerNormOp, SelectOp,
             TopKOp, CastOp, RotaryOp, MatMulDqOp>(op) ||
         isa<ExpertMatMulOp, KvAppendOp, SumOp>(op);
}

uint64_t ChipCostModel::vectors(uint64_t bytes) const { return ceilDiv(bytes, config.vectorBytes); }

uint64_t ChipCostModel::hostTransferCycles(uint64_t bytes) const {
  // The exact expression of docs/timing-model.md, so that rounding agrees with the simulator.
  return (uint64_t)std::ceil((double)bytes * config.clockHz / config.host.bytesPerSecond);
}

InstructionCost ChipCostModel::memWrite(uint64_t resultBytes) const {
  uint64_t occupancy = hostTransferCycles(resultBytes);
  return {Unit::Mem, occupancy, config.host.latencyCycles + occupancy};
}

InstructionCost ChipCostModel::memRead(uint64_t operandBytes) const {
  uint64_t occupancy = hostTransferCycles(operandBytes);
  return {Unit::Mem, occupancy,
          uint64_t(config.host.latencyCycles) + config.mem.latencyCycles + occupancy};
}

InstructionCost ChipCostModel::memCopy(uint64_t resultBytes) const {
  uint64_t occupancy = vectors(resultBytes);
  return {Unit::Mem, occupancy, config.mem.latencyCycles + occupancy};
}

std::optional<InstructionCost> ChipCostModel::matmul(uint64_t batch, uint64_t m, uint64_t k,
                                                     uint64_t n, DType activation,
                                                     DType weight) const {
  // The TSP MXM has no fp32 input mode: f32 models are timed at the `floatTimingAs` rate.
  DType rateType = activation == DType::F32 ? config.mxm.floatTimingAs : activation;
  auto rate = config.mxm.macsPerCycle.find(rateType);
  if (rate == config.mxm.macsPerCycle.end() || rate->second == 0 ||
      config.mxm.weightLoadBytesPerCycle == 0) {
    return std::nullopt;
  }
  // Every weight enters the MXM once, as T tile sets of planes x rows x cols bytes; set i + 1
  // installs while set i computes, so only the first install and the last compute show.
  uint64_t weightBytes = tensorBytes(batch * k * n, system::dtypeBits(weight));
  uint64_t install = ceilDiv(weightBytes, config.mxm.weightLoadBytesPerCycle);
  uint64_t compute = ceilDiv(batch * m * k * n, rate->second);
  uint64_t setBytes = uint64_t(config.mxm.planes) * config.mxm.rows * config.mxm.cols;
  uint64_t sets = setBytes == 0 ? 1 : std::max<uint64_t>(1, ceilDiv(weightBytes, setBytes));
  uint64_t occupancy = std::max(install, compute) + ceilDiv(std::min(install, compute), sets);
  // The first set installs before the activations are needed.
  uint64_t lead =
      setBytes == 0 ? 0 : std::min(install, ceilDiv(setBytes, config.mxm.weightLoadBytesPerCycle));
  return InstructionCost{Unit::Mxm, occupancy,
                         uint64_t(config.mem.latencyCycles) + config.mxm.latencyCycles + occupancy,
                         lead};
}

InstructionCost ChipCostModel::vxmElementwise(uint64_t resultBytes, uint64_t opsPerElement) const {
  // A chain of up to alusPerLane ops runs in one pass of the ALU mesh.
  uint64_t passes = ceilDiv(opsPerElement, config.vxm.alusPerLane);
  uint64_t occupancy = vectors(resultBytes) * passes;
  return {Unit::Vxm, occupancy,
          uint64_t(config.mem.latencyCycles) + config.vxm.latencyCycles + occupancy};
}

InstructionCost ChipCostModel::vxmSoftmax(uint64_t resultBytes) const {
  // Three passes over the data: max, exp-and-sum, normalise.
  uint64_t occupancy = 3 * vectors(resultBytes);
  return {Unit::Vxm, occupancy,
          uint64_t(config.mem.latencyCycles) + config.vxm.latencyCycles + occupancy};
}

InstructionCost ChipCostModel::sxmTranspose(uint64_t resultBytes) const {
  uint64_t occupancy = vectors(resultBytes);
  return {Unit::Sxm, occupancy,
          uint64_t(config.mem.latencyCycles) + config.sxm.latencyCycles + occupancy};
}

namespace {
/// The MXM cost of `product`: `lhs` [..., M, K] x `rhs` [..., K, N] -> `result` [batch..., M, N].
/// An error on `product` when the chip has no MXM rate for the operand types.
FailureOr<InstructionCost> mxmProductCost(const ChipCostModel &model, Operation *product,
                                          Value lhs, Value rhs, Value result) {
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  auto resultType = cast<RankedTensorType>(result.getType());
  uint64_t batch = 1;
  for (int64_t dim : resultType.getShape().drop_back(2)) {
    batch *= static_cast<uint64_t>(dim);
  }
  uint64_t m = lhsType.getDimSize(lhsType.getRank() - 2);
  uint64_t k = lhsType.getDimSize(lhsType.getRank() - 1);
  uint64_t n = rhsType.getDimSize(rhsType.getRank() - 1);
  auto activation = toSystemDType(lhsType.getElementType());
  auto weight = toSystemDType(rhsType.getElementType());
  std::optional<InstructionCost> cost;
  if (activation && weight) {
    cost = model.matmul(batch, m, k, n, *activation, *weight);
  }
  if (!cost) {
    return product->emitOpError()
           << "cannot be timed: chip '" << model.chip().name << "' has no MXM rate for "
           << lhsType.getElementType()
           << " (chip.mxm.macs_per_cycle); use a system that supports it";
  }
  return *cost;
}
} // namespace

FailureOr<InstructionCost> ChipCostModel::costOf(Operation *op) const {
  if (!isInstruction(op)) {
    return op->emitOpError("is not a functional-unit instruction and has no cost");
  }
  if (config.vectorBytes == 0 || config.host.bytesPerSecond <= 0 || config.clockHz <= 0 ||
      config.vxm.alusPerLane == 0) {
    return op->emitOpError() << "cannot be timed: chip '" << config.name
                             << "' has a zero vector width, clock, host rate or VXM ALU count";
  }
  // The timing rules size every instruction by its result, except mem_read (its operand).
  Value sized = isa<MemReadOp>(op) ? op->getOperand(0) : op->getResult(0);
  std::optional<uint64_t> bytes = tensorBytes(sized.getType());
  if (!bytes) {
    return op->emitOpError() << "cannot be timed: " << sized.getType()
                             << " is not a statically shaped tensor of a chip element type "
                                "(f32, f16, bf16, fp8, i8, i4, i32)";
  }
  return llvm::TypeSwitch<Operation *, FailureOr<InstructionCost>>(op)
      .Case<MemWriteOp>([&](auto) { return memWrite(*bytes); })
      .Case<MemReadOp>([&](auto) { return memRead(*bytes); })
      .Case<MemCopyOp>([&](auto) { return memCopy(*bytes); })
      .Case<MatMulOp>([&](MatMulOp product) {
        return mxmProductCost(*this, product, product.getLhs(), product.getRhs(),
                              product.getResult());
      })
      .Case<BinaryOp, UnaryOp>([&](auto elementwise) -> FailureOr<InstructionCost> {
        std::optional<uint64_t> ops = vxmOpsPerElement(elementwise.getKind());
        if (!ops) {
          return elementwise.emitOpError()
                 << "cannot be timed: unknown kind '" << elementwise.getKind() << "'";
        }
        return vxmElementwise(*bytes, *ops);
      })
      .Case<SoftmaxOp>([&](auto) { return vxmSoftmax(*bytes); })
      .Case<TransposeOp>([&](auto) { return sxmTranspose(*bytes); })
      .Default([&](Operation *other) -> FailureOr<InstructionCost> {
        return transformerOpCost(other, *bytes);
      });
}

// Transformer ops (docs/timing-model.md, "Transformer ops")

namespace {
/// Fixed latency + occupancy of one streaming burst on `unit`.
InstructionCost burst(const system::ChipConfig &config, Unit unit, uint64_t occupancy) {
  uint64_t latency = config.mem.latencyCycles;
  if (unit == Unit::Vxm) {
    latency += config.vxm.latencyCycles;
  } else if (unit == Unit::Sxm) {
    latency += config.sxm.latencyCycles;
  } else if (unit == Unit::Mxm) {
    latency += config.mxm.latencyCycles;
  }
  return {unit, occupancy, latency + occupancy};
}
} // namespace

FailureOr<InstructionCost> ChipCostModel::transformerOpCost(Operation *op,
                                                            uint64_t resultBytes) const {
  uint64_t resultVectors = vectors(resultBytes);
  auto operandVectors = [&](unsigned index) {
    return vectors(tensorBytes(op->getOperand(index).getType()).value_or(0));
  };
  auto aluPasses = [&](uint64_t ops) { return ceilDiv(ops, config.vxm.alusPerLane); };
  return llvm::TypeSwitch<Operation *, FailureOr<InstructionCost>>(op)
      .Case<GatherOp, SliceOp, ConcatOp>(
          [&](auto) { return burst(config, Unit::Mem, resultVectors); })
      .Case<BroadcastOp>([&](auto) { return burst(config, Unit::Sxm, resultVectors); })
      // One pass over the input, whatever the reduced shape.
      .Case<ReduceOp>([&](auto) { return burst(config, Unit::Vxm, operandVectors(0)); })
      // Statistics pass + normalise pass (RMS); mean, variance, normalise (layer norm).
      .Case<RmsNormOp>([&](auto) { return burst(config, Unit::Vxm, 2 * resultVectors); })
      .Case<LayerNormOp>([&](auto) { return burst(config, Unit::Vxm, 3 * resultVectors); })
      .Case<SelectOp>([&](auto) { return burst(config, Unit::Vxm, resultVectors); })
      // k max-and-mask passes over the input.
      .Case<TopKOp>([&](TopKOp topk) {
        return burst(config, Unit::Vxm, uint64_t(topk.getK()) * operandVectors(0));
      })
      .Case<CastOp>([&](auto) {
        return burst(config, Unit::Vxm, std::max(resultVectors, operandVectors(0)));
      })
      // Two products and a sum per element plus the half-rotation's negation.
      .Case<RotaryOp>([&](auto) { return burst(config, Unit::Vxm, resultVectors * aluPasses(4)); })
      // n addends on n streams, n - 1 chained adds per element.
      .Case<SumOp>([&](SumOp sum) {
        return burst(config, Unit::Vxm, resultVectors * aluPasses(sum.getAddends().size() - 1));
      })
      // Installs the narrow weights; the per-channel scale rides on the accumulator.
      .Case<MatMulDqOp>([&](MatMulDqOp product) {
        return mxmProductCost(*this, product, product.getLhs(), product.getWeight(),
                              product.getResult());
      })
      // MoE: one chosen expert's K x N weights installed per (token, slot), read in place.
      .Case<ExpertMatMulOp>([&](ExpertMatMulOp product) {
        return mxmProductCost(*this, product, product.getLhs(), product.getTable(),
                              product.getResult());
      })
      // KV append: writes only the new rows (a MEM scatter when the cache is transposed).
      .Case<KvAppendOp>([&](auto) { return burst(config, Unit::Mem, operandVectors(1)); })
      .Default([&](Operation *other) -> FailureOr<InstructionCost> {
        return other->emitOpError("has no cost model");
      });
}

} // namespace conveyor::chip
