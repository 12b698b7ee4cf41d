// cv.graph elementwise ops beyond the core set: float math, logic, comparisons, where,
// cast, and the data-less weight op.
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "GraphOpsSupport.h"

#include "conveyor/Dialect/Graph/SymbolicDim.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace conveyor::graph;
using namespace conveyor::graph::detail;
using conveyor::graph::DimExpr;

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty()) {
    return emitOpError() << "needs a non-empty name (the ONNX initializer it stands for)";
  }
  if (!getType().hasStaticShape()) {
    return emitOpError() << "result type " << getType() << " must have a static shape";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

/// Float-only math (exp, erf, sqrt, ...): integers would silently truncate.
static LogicalResult verifyFloatUnary(Operation *op, RankedTensorType type) {
  if (!isa<FloatType>(type.getElementType())) {
    return op->emitOpError() << "needs a floating-point tensor, got " << type;
  }
  return success();
}

/// Numeric ops (neg, abs) accept integers and floats but not i1.
static LogicalResult verifyNumericUnary(Operation *op, RankedTensorType type) {
  Type elementType = type.getElementType();
  if (!isa<FloatType>(elementType) &&
      !(elementType.isSignlessInteger() && !elementType.isInteger(1))) {
    return op->emitOpError() << "needs an integer or floating-point tensor (not i1), got " << type;
  }
  return success();
}

#define CONVEYOR_FLOAT_UNARY_VERIFY(OP)                                                            \
  LogicalResult OP::verify() { return verifyFloatUnary(getOperation(), getType()); }
CONVEYOR_FLOAT_UNARY_VERIFY(ExpOp)
CONVEYOR_FLOAT_UNARY_VERIFY(LogOp)
CONVEYOR_FLOAT_UNARY_VERIFY(ErfOp)
CONVEYOR_FLOAT_UNARY_VERIFY(TanhOp)
CONVEYOR_FLOAT_UNARY_VERIFY(SigmoidOp)
CONVEYOR_FLOAT_UNARY_VERIFY(SqrtOp)
CONVEYOR_FLOAT_UNARY_VERIFY(ReciprocalOp)
CONVEYOR_FLOAT_UNARY_VERIFY(CosOp)
CONVEYOR_FLOAT_UNARY_VERIFY(SiluOp)
CONVEYOR_FLOAT_UNARY_VERIFY(SinOp)
#undef CONVEYOR_FLOAT_UNARY_VERIFY

LogicalResult NegOp::verify() { return verifyNumericUnary(getOperation(), getType()); }
LogicalResult AbsOp::verify() { return verifyNumericUnary(getOperation(), getType()); }

LogicalResult NotOp::verify() {
  if (!getType().getElementType().isInteger(1)) {
    return emitOpError() << "needs an i1 tensor, got " << getType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Logical binary ops (type inference is shared with add/sub/...)
//===----------------------------------------------------------------------===//

static LogicalResult verifyLogicalBinary(Operation *op) {
  for (Value operand : op->getOperands()) {
    if (!cast<RankedTensorType>(operand.getType()).getElementType().isInteger(1)) {
      return op->emitOpError() << "needs i1 operands, got " << operand.getType();
    }
  }
  return success();
}

LogicalResult AndOp::verify() { return verifyLogicalBinary(getOperation()); }
LogicalResult OrOp::verify() { return verifyLogicalBinary(getOperation()); }

//===----------------------------------------------------------------------===//
// Comparisons
//===----------------------------------------------------------------------===//

static LogicalResult inferCompareType(MLIRContext *context, ValueRange operands,
                                      std::optional<Location> location, StringRef opName,
                                      SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RankedTensorType> lhs = getRankedOperand(operands, 0, location, opName, "lhs");
  FailureOr<RankedTensorType> rhs = failed(lhs)
                                        ? FailureOr<RankedTensorType>(failure())
                                        : getRankedOperand(operands, 1, location, opName, "rhs");
  if (failed(rhs)) {
    return failure();
  }
  if (lhs->getElementType() != rhs->getElementType()) {
    return emitShapeError(location, opName,
                          llvm::formatv("operand element types differ: {0} vs {1}",
                                        lhs->getElementType(), rhs->getElementType()));
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShapes(lhs->getShape(), rhs->getShape(), location, opName, "operand shapes");
  if (failed(shape)) {
    return failure();
  }
  inferredReturnTypes.push_back(RankedTensorType::get(*shape, IntegerType::get(context, 1)));
  return success();
}

#define CONVEYOR_COMPARE_INFER(OP)                                                                 \
  LogicalResult OP::inferReturnTypes(MLIRContext *context, std::optional<Location> location,       \
                                     ValueRange operands, DictionaryAttr, OpaqueProperties,        \
                                     RegionRange, SmallVectorImpl<Type> &inferredReturnTypes) {    \
    return inferCompareType(context, operands, location, getOperationName(), inferredReturnTypes); \
  }
CONVEYOR_COMPARE_INFER(EqualOp)
CONVEYOR_COMPARE_INFER(LessOp)
CONVEYOR_COMPARE_INFER(LessEqualOp)
CONVEYOR_COMPARE_INFER(GreaterOp)
CONVEYOR_COMPARE_INFER(GreaterEqualOp)
#undef CONVEYOR_COMPARE_INFER

//===----------------------------------------------------------------------===//
// WhereOp
//===----------------------------------------------------------------------===//

LogicalResult WhereOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                        ValueRange operands, DictionaryAttr, OpaqueProperties,
                                        RegionRange, SmallVectorImpl<Type> &inferredReturnTypes) {
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> condition =
      getRankedOperand(operands, 0, location, opName, "condition");
  FailureOr<RankedTensorType> lhs = failed(condition)
                                        ? FailureOr<RankedTensorType>(failure())
                                        : getRankedOperand(operands, 1, location, opName, "lhs");
  FailureOr<RankedTensorType> rhs = failed(lhs)
                                        ? FailureOr<RankedTensorType>(failure())
                                        : getRankedOperand(operands, 2, location, opName, "rhs");
  if (failed(rhs)) {
    return failure();
  }
  if (!condition->getElementType().isInteger(1)) {
    return emitShapeError(location, opName,
                          llvm::formatv("condition must be i1, got '{0}'", *condition));
  }
  if (lhs->getElementType() != rhs->getElementType()) {
    return emitShapeError(location, opName,
                          llvm::formatv("lhs and rhs element types differ: {0} vs {1}",
                                        lhs->getElementType(), rhs->getElementType()));
  }
  FailureOr<SmallVector<int64_t>> values =
      broadcastShapes(lhs->getShape(), rhs->getShape(), location, opName, "lhs and rhs shapes");
  if (failed(values)) {
    return failure();
  }
  FailureOr<SmallVector<int64_t>> shape = broadcastShapes(condition->getShape(), *values, location,
                                                          opName, "condition and value shapes");
  if (failed(shape)) {
    return failure();
  }
  inferredReturnTypes.push_back(RankedTensorType::get(*shape, lhs->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// CastOp
//===----------------------------------------------------------------------===//

LogicalResult CastOp::verify() {
  auto inputType = getInput().getType();
  auto resultType = getType();
  if (inputType.getRank() != resultType.getRank()) {
    return emitOpError() << "changes the rank from " << inputType.getRank() << " to "
                         << resultType.getRank() << "; cast keeps the shape";
  }
  for (auto [index, dims] :
       llvm::enumerate(llvm::zip(inputType.getShape(), resultType.getShape()))) {
    auto [inputDim, resultDim] = dims;
    if (inputDim != resultDim) {
      return emitOpError() << "changes dimension " << index << " from "
                           << formatShape(inputType.getShape()) << " to "
                           << formatShape(resultType.getShape()) << "; cast keeps the shape";
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// DimValueOp and IotaOp
//===----------------------------------------------------------------------===//

LogicalResult DimValueOp::verify() {
  RankedTensorType type = getType();
  if (!type.hasStaticShape()) {
    return emitOpError() << "result type " << type << " must have a static shape";
  }
  if (!type.getElementType().isSignlessInteger() || type.getElementType().isInteger(1)) {
    return emitOpError() << "needs an integer result type, got " << type;
  }
  if (static_cast<int64_t>(getExprs().size()) != type.getNumElements()) {
    return emitOpError() << "has " << getExprs().size() << " size expressions for " << type
                         << ", which has " << type.getNumElements() << " elements";
  }
  for (auto [index, attr] : llvm::enumerate(getExprs())) {
    std::string error;
    if (!DimExpr::parse(cast<StringAttr>(attr).getValue(), &error)) {
      return emitOpError() << "exprs[" << index << "]: " << error;
    }
  }
  return success();
}

LogicalResult IotaOp::verify() {
  RankedTensorType type = getType();
  if (type.getRank() != 1) {
    return emitOpError() << "needs a 1-D result, got " << type;
  }
  Type elementType = type.getElementType();
  if (!isa<FloatType>(elementType) &&
      (!elementType.isSignlessInteger() || elementType.isInteger(1))) {
    return emitOpError() << "needs an integer or floating-point result, got " << type;
  }
  return success();
}
