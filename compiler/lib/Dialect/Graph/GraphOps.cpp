// cv.graph op verifiers, shape inference and folders.
//
// Every op with InferTypeOpInterface checks its operands in inferReturnTypes, which
// runs both when the importer builds the op and when the verifier re-checks it, so a
// shape error is reported once, at the op (or ONNX node) that caused it.
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "GraphOpsSupport.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::graph::detail {

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += ShapedType::isDynamic(dim) ? "?" : std::to_string(dim); },
      [&] { text += ", "; });
  return text + "]";
}

LogicalResult emitShapeError(std::optional<Location> location, StringRef opName,
                             const Twine &message) {
  return emitOptionalError(location, "'", opName, "' op ", message);
}

FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs,
                                                std::optional<Location> location, StringRef opName,
                                                StringRef what) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t lhsDim = i < lhs.size() ? lhs[lhs.size() - 1 - i] : 1;
    int64_t rhsDim = i < rhs.size() ? rhs[rhs.size() - 1 - i] : 1;
    int64_t &out = result[rank - 1 - i];
    if (lhsDim == rhsDim || rhsDim == 1) {
      out = lhsDim;
    } else if (lhsDim == 1) {
      out = rhsDim;
    } else if (ShapedType::isDynamic(lhsDim)) {
      out = rhsDim;
    } else if (ShapedType::isDynamic(rhsDim)) {
      out = lhsDim;
    } else {
      (void)emitShapeError(location, opName,
                           llvm::formatv("{0} {1} and {2} do not broadcast: dimension {3} "
                                         "(from the right) is {4} vs {5}",
                                         what, formatShape(lhs), formatShape(rhs), i, lhsDim,
                                         rhsDim));
      return failure();
    }
  }
  return result;
}

FailureOr<RankedTensorType> getRankedOperand(ValueRange operands, unsigned index,
                                             std::optional<Location> location, StringRef opName,
                                             StringRef what) {
  if (index >= operands.size()) {
    (void)emitShapeError(location, opName, llvm::formatv("is missing its {0} operand", what));
    return failure();
  }
  auto type = dyn_cast<RankedTensorType>(operands[index].getType());
  if (!type) {
    (void)emitShapeError(location, opName, llvm::formatv("{0} must be a ranked tensor", what));
    return failure();
  }
  return type;
}

LogicalResult checkAxis(int64_t axis, int64_t rank, std::optional<Location> location,
                        StringRef opName, StringRef attributeName) {
  if (axis < 0 || axis >= rank) {
    return emitShapeError(location, opName,
                          llvm::formatv("{0} {1} is outside [0, {2}) for an input of rank {2}",
                                        attributeName, axis, rank));
  }
  return success();
}

} // namespace conveyor::graph::detail

using namespace conveyor::graph::detail;

namespace {

/// Shared by the broadcasting binary ops: same element type, broadcast shapes.
LogicalResult inferBinaryType(ValueRange operands, std::optional<Location> location,
                              StringRef opName, SmallVectorImpl<Type> &inferredReturnTypes) {
  if (operands.size() != 2) {
    return emitShapeError(location, opName, "expects 2 operands");
  }
  auto lhsType = dyn_cast<RankedTensorType>(operands[0].getType());
  auto rhsType = dyn_cast<RankedTensorType>(operands[1].getType());
  if (!lhsType || !rhsType) {
    return emitShapeError(location, opName, "operands must be ranked tensors");
  }
  if (lhsType.getElementType() != rhsType.getElementType()) {
    return emitShapeError(location, opName,
                          llvm::formatv("operand element types differ: {0} vs {1}",
                                        lhsType.getElementType(), rhsType.getElementType())
                              .str());
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShapes(lhsType.getShape(), rhsType.getShape(), location, opName, "operand shapes");
  if (failed(shape)) {
    return failure();
  }
  inferredReturnTypes.push_back(RankedTensorType::get(*shape, lhsType.getElementType()));
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  if (getValue().getType() != getType()) {
    return emitOpError() << "value has type " << getValue().getType() << " but the result type is "
                         << getType() << "; they must be identical";
  }
  if (!getType().hasStaticShape()) {
    return emitOpError() << "result type " << getType() << " must have a static shape";
  }
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }

//===----------------------------------------------------------------------===//
// ReshapeOp
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto inputType = getInput().getType();
  auto resultType = getResult().getType();
  if (inputType.getElementType() != resultType.getElementType()) {
    return emitOpError() << "changes the element type from " << inputType.getElementType() << " to "
                         << resultType.getElementType() << "; reshape must keep it";
  }
  // A symbolic reshape ([batch, seq, 64] -> [batch, seq, 4, 16]) keeps dynamic
  // dimensions; the importer names them with a `cv.dims` attribute. A static input
  // has a known element count, so its result must be static too.
  if (!resultType.hasStaticShape() && inputType.hasStaticShape()) {
    return emitOpError() << "result shape " << formatShape(resultType.getShape())
                         << " must be static when the input " << formatShape(inputType.getShape())
                         << " is";
  }
  if (inputType.hasStaticShape() && inputType.getNumElements() != resultType.getNumElements()) {
    return emitOpError() << "changes the element count: input " << formatShape(inputType.getShape())
                         << " has " << inputType.getNumElements() << " elements, result "
                         << formatShape(resultType.getShape()) << " has "
                         << resultType.getNumElements();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TransposeOp
//===----------------------------------------------------------------------===//

/// Checks that `perm` is a permutation of [0, rank); the message names the problem.
static LogicalResult checkPermutation(ArrayRef<int64_t> perm, int64_t rank,
                                      std::optional<Location> location, StringRef opName) {
  if (static_cast<int64_t>(perm.size()) != rank) {
    return emitShapeError(
        location, opName,
        llvm::formatv("perm has {0} entries but the input has rank {1}", perm.size(), rank).str());
  }
  llvm::SmallBitVector seen(rank);
  for (auto [index, dim] : llvm::enumerate(perm)) {
    if (dim < 0 || dim >= rank) {
      return emitShapeError(
          location, opName,
          llvm::formatv("perm[{0}] = {1} is outside [0, {2})", index, dim, rank).str());
    }
    if (seen.test(dim)) {
      return emitShapeError(location, opName,
                            llvm::formatv("perm repeats dimension {0}; it must be a "
                                          "permutation of 0..{1}",
                                          dim, rank - 1)
                                .str());
    }
    seen.set(dim);
  }
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                            ValueRange operands, DictionaryAttr attributes,
                                            OpaqueProperties properties, RegionRange regions,
                                            SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  auto inputType = dyn_cast<RankedTensorType>(adaptor.getInput().getType());
  if (!inputType) {
    return emitShapeError(location, opName, "input must be a ranked tensor");
  }
  if (!adaptor.getPermAttr()) {
    return emitShapeError(location, opName, "requires a 'perm' attribute");
  }
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if (failed(checkPermutation(perm, inputType.getRank(), location, opName))) {
    return failure();
  }
  SmallVector<int64_t> shape;
  for (int64_t dim : perm) {
    shape.push_back(inputType.getDimSize(dim));
  }
  inferredReturnTypes.push_back(RankedTensorType::get(shape, inputType.getElementType()));
  return success();
}

LogicalResult TransposeOp::verify() {
  // The permutation itself is checked by inferReturnTypes (run before this hook).
  return success();
}

//===----------------------------------------------------------------------===//
// MatMulOp
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                         ValueRange operands, DictionaryAttr attributes,
                                         OpaqueProperties properties, RegionRange regions,
                                         SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  auto lhsType = dyn_cast<RankedTensorType>(adaptor.getLhs().getType());
  auto rhsType = dyn_cast<RankedTensorType>(adaptor.getRhs().getType());
  if (!lhsType || !rhsType) {
    return emitShapeError(location, opName, "operands must be ranked tensors");
  }
  if (lhsType.getRank() < 2 || rhsType.getRank() < 2) {
    return emitShapeError(
        location, opName,
        llvm::formatv("operands must have rank >= 2 ([..., M, K] x [..., K, N]); got {0} x "
                      "{1} (reshape rank-1 operands first)",
                      formatShape(lhsType.getShape()), formatShape(rhsType.getShape()))
            .str());
  }
  if (lhsType.getElementType() != rhsType.getElementType()) {
    return emitShapeError(location, opName,
                          llvm::formatv("operand element types differ: {0} vs {1}",
                                        lhsType.getElementType(), rhsType.getElementType())
                              .str());
  }
  ArrayRef<int64_t> lhsShape = lhsType.getShape();
  ArrayRef<int64_t> rhsShape = rhsType.getShape();
  int64_t lhsK = lhsShape.back();
  int64_t rhsK = rhsShape[rhsShape.size() - 2];
  if (!dimsCompatible(lhsK, rhsK)) {
    return emitShapeError(location, opName,
                          llvm::formatv("contraction dimensions differ: lhs {0} has K = {1}, "
                                        "rhs {2} has K = {3}",
                                        formatShape(lhsShape), lhsK, formatShape(rhsShape), rhsK)
                              .str());
  }
  FailureOr<SmallVector<int64_t>> shape = broadcastShapes(
      lhsShape.drop_back(2), rhsShape.drop_back(2), location, opName, "batch dimensions");
  if (failed(shape)) {
    return failure();
  }
  shape->push_back(lhsShape[lhsShape.size() - 2]);
  shape->push_back(rhsShape.back());
  inferredReturnTypes.push_back(RankedTensorType::get(*shape, lhsType.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// GemmOp
//===----------------------------------------------------------------------===//

LogicalResult GemmOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                       ValueRange operands, DictionaryAttr attributes,
                                       OpaqueProperties properties, RegionRange regions,
                                       SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  auto aType = dyn_cast<RankedTensorType>(adaptor.getA().getType());
  auto bType = dyn_cast<RankedTensorType>(adaptor.getB().getType());
  if (!aType || !bType) {
    return emitShapeError(location, opName, "operands must be ranked tensors");
  }
  if (aType.getRank() != 2 || bType.getRank() != 2) {
    return emitShapeError(location, opName,
                          llvm::formatv("a and b must be rank 2; got {0} and {1}",
                                        formatShape(aType.getShape()),
                                        formatShape(bType.getShape()))
                              .str());
  }
  Type elementType = aType.getElementType();
  if (bType.getElementType() != elementType) {
    return emitShapeError(location, opName,
                          llvm::formatv("a and b element types differ: {0} vs {1}", elementType,
                                        bType.getElementType())
                              .str());
  }
  bool transA = adaptor.getTransA();
  bool transB = adaptor.getTransB();
  int64_t m = aType.getDimSize(transA ? 1 : 0);
  int64_t aK = aType.getDimSize(transA ? 0 : 1);
  int64_t bK = bType.getDimSize(transB ? 1 : 0);
  int64_t n = bType.getDimSize(transB ? 0 : 1);
  if (!dimsCompatible(aK, bK)) {
    return emitShapeError(
        location, opName,
        llvm::formatv("contraction dimensions differ: op(a) is {0}x{1} (transA = {2}), op(b) "
                      "is {3}x{4} (transB = {5})",
                      m, aK, transA, bK, n, transB)
            .str());
  }
  SmallVector<int64_t> resultShape = {m, n};
  if (Value c = adaptor.getC()) {
    auto cType = dyn_cast<RankedTensorType>(c.getType());
    if (!cType) {
      return emitShapeError(location, opName, "c must be a ranked tensor");
    }
    if (cType.getElementType() != elementType) {
      return emitShapeError(location, opName,
                            llvm::formatv("c element type {0} differs from a's {1}",
                                          cType.getElementType(), elementType)
                                .str());
    }
    // C broadcasts unidirectionally to [M, N]: it may not grow the result.
    ArrayRef<int64_t> cShape = cType.getShape();
    bool broadcastable = cShape.size() <= 2;
    for (size_t i = 0; broadcastable && i < cShape.size(); ++i) {
      int64_t target = resultShape[2 - cShape.size() + i];
      broadcastable = cShape[i] == 1 || dimsCompatible(cShape[i], target);
    }
    if (!broadcastable) {
      return emitShapeError(location, opName,
                            llvm::formatv("c of shape {0} does not broadcast to the result "
                                          "shape {1}",
                                          formatShape(cShape), formatShape(resultShape))
                                .str());
    }
  }
  inferredReturnTypes.push_back(RankedTensorType::get(resultShape, elementType));
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise binary ops
//===----------------------------------------------------------------------===//

#define CONVEYOR_BINARY_INFER(OP)                                                                  \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> location,              \
                                     ValueRange operands, DictionaryAttr, OpaqueProperties,        \
                                     RegionRange, SmallVectorImpl<Type> &inferredReturnTypes) {    \
    return inferBinaryType(operands, location, getOperationName(), inferredReturnTypes);           \
  }
CONVEYOR_BINARY_INFER(AddOp)
CONVEYOR_BINARY_INFER(SubOp)
CONVEYOR_BINARY_INFER(MulOp)
CONVEYOR_BINARY_INFER(DivOp)
CONVEYOR_BINARY_INFER(PowOp)
CONVEYOR_BINARY_INFER(MaxOp)
CONVEYOR_BINARY_INFER(MinOp)
CONVEYOR_BINARY_INFER(AndOp)
CONVEYOR_BINARY_INFER(OrOp)
#undef CONVEYOR_BINARY_INFER

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

LogicalResult GeluOp::verify() {
  if (!isa<FloatType>(getType().getElementType())) {
    return emitOpError() << "needs a floating-point tensor, got " << getType();
  }
  StringRef approximate = getApproximate();
  if (approximate != "none" && approximate != "tanh") {
    return emitOpError() << "approximate = \"" << approximate
                         << "\" is not one of \"none\", \"tanh\"";
  }
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (!isa<FloatType>(getType().getElementType())) {
    return emitOpError() << "needs a floating-point tensor, got " << getType();
  }
  int64_t rank = getType().getRank();
  int64_t axis = getAxis();
  if (rank == 0) {
    return emitOpError() << "needs an input of rank >= 1, got " << getType();
  }
  if (axis < -rank || axis >= rank) {
    return emitOpError() << "axis " << axis << " is outside [" << -rank << ", " << rank - 1
                         << "] for an input of rank " << rank;
  }
  return success();
}

#define GET_OP_CLASSES
#include "conveyor/Dialect/Graph/GraphOps.cpp.inc"
