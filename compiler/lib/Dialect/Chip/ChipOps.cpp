// cv.chip op verifiers: every instruction checks its shapes, kinds and placement attributes.
#include "conveyor/Dialect/Chip/ChipOps.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/SwapByteOrder.h"

using namespace mlir;
using namespace conveyor::chip;

namespace {

/// Renders a shape as "[2, 3, 4]" for messages.
std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += std::to_string(dim); }, [&] { text += ", "; });
  return text + "]";
}

/// Every SRAM tensor needs a static shape: addresses and timings are computed from it.
LogicalResult verifyStatic(Operation *op, Value value, StringRef role) {
  auto type = cast<RankedTensorType>(value.getType());
  if (!type.hasStaticShape()) {
    return op->emitOpError() << role << " must have a static shape, got " << type;
  }
  return success();
}

/// Placement attributes are cycle counts and byte addresses: never negative.
LogicalResult verifyPlacement(Operation *op) {
  for (StringRef name : {"issue", "sram_addr", "chip"}) {
    if (auto attr = op->getAttrOfType<IntegerAttr>(name)) {
      if (attr.getValue().isNegative()) {
        return op->emitOpError() << "attribute '" << name << "' must be non-negative, got "
                                 << attr.getValue().getSExtValue();
      }
    }
  }
  return success();
}

/// Checks the static shape of every operand and result, then the placement attributes.
LogicalResult verifyCommon(Operation *op) {
  for (auto [index, operand] : llvm::enumerate(op->getOperands())) {
    if (failed(verifyStatic(op, operand, "operand #" + std::to_string(index)))) {
      return failure();
    }
  }
  for (Value result : op->getResults()) {
    if (failed(verifyStatic(op, result, "result"))) {
      return failure();
    }
  }
  return verifyPlacement(op);
}

/// Numpy (multidirectional) broadcasting of two shapes; failure when incompatible.
FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> result(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t l = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t r = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (l != r && l != 1 && r != 1) {
      return failure();
    }
    result[i] = l == 1 ? r : l;
  }
  return result;
}

LogicalResult verifyName(Operation *op, StringRef name) {
  if (name.empty()) {
    return op->emitOpError("needs a non-empty 'name' (the model tensor it holds)");
  }
  return success();
}

} // namespace

LogicalResult WeightOp::verify() {
  if (failed(verifyCommon(*this)) || failed(verifyName(*this, getName()))) {
    return failure();
  }
  Type valueType = getValue().getType();
  if (valueType != getResult().getType()) {
    return emitOpError() << "value type " << valueType << " differs from result type "
                         << getResult().getType();
  }
  return success();
}

LogicalResult MemWriteOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  return verifyName(*this, getName());
}

LogicalResult MemReadOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  if (getSramAddrAttr()) {
    return emitOpError("result lives on the host and must not carry 'sram_addr'");
  }
  return verifyName(*this, getName());
}

LogicalResult MemCopyOp::verify() { return verifyCommon(*this); }

LogicalResult ViewOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (inputType.getElementType() != resultType.getElementType()) {
    return emitOpError() << "cannot change the element type (" << inputType.getElementType()
                         << " -> " << resultType.getElementType() << "); a view moves no data";
  }
  if (inputType.getNumElements() != resultType.getNumElements()) {
    return emitOpError() << "element count changes from " << inputType.getNumElements() << " "
                         << shapeString(inputType.getShape()) << " to "
                         << resultType.getNumElements() << " "
                         << shapeString(resultType.getShape());
  }
  return success();
}

LogicalResult MatMulOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  auto lhsType = cast<RankedTensorType>(getLhs().getType());
  auto rhsType = cast<RankedTensorType>(getRhs().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (lhsType.getRank() < 2 || rhsType.getRank() < 2) {
    return emitOpError() << "operands must have rank >= 2 ([.., M, K] x [.., K, N]), got "
                         << shapeString(lhsType.getShape()) << " x "
                         << shapeString(rhsType.getShape());
  }
  ArrayRef<int64_t> lhs = lhsType.getShape();
  ArrayRef<int64_t> rhs = rhsType.getShape();
  int64_t m = lhs[lhs.size() - 2], k = lhs.back();
  int64_t rhsK = rhs[rhs.size() - 2], n = rhs.back();
  if (k != rhsK) {
    return emitOpError() << "contraction sizes differ: lhs " << shapeString(lhs) << " has K = " << k
                         << ", rhs " << shapeString(rhs) << " has K = " << rhsK;
  }
  auto batch = broadcastShapes(lhs.drop_back(2), rhs.drop_back(2));
  if (failed(batch)) {
    return emitOpError() << "batch dimensions of " << shapeString(lhs) << " and "
                         << shapeString(rhs) << " do not broadcast";
  }
  SmallVector<int64_t> expected = *batch;
  expected.append({m, n});
  if (resultType.getShape() != ArrayRef<int64_t>(expected)) {
    return emitOpError() << "result shape " << shapeString(resultType.getShape()) << " should be "
                         << shapeString(expected);
  }
  if (lhsType.getElementType() != rhsType.getElementType()) {
    return emitOpError() << "operand element types differ: " << lhsType.getElementType() << " vs "
                         << rhsType.getElementType();
  }
  // Integer products accumulate in i32 on the MXM; float products keep their type.
  Type resultElement = resultType.getElementType();
  bool integerAccumulate =
      isa<IntegerType>(lhsType.getElementType()) && resultElement.isInteger(32);
  if (resultElement != lhsType.getElementType() && !integerAccumulate) {
    return emitOpError() << "result element type " << resultElement
                         << " should be the operand element type " << lhsType.getElementType()
                         << " (or i32 for integer operands)";
  }
  return success();
}

LogicalResult BinaryOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  StringRef kind = getKind();
  // Pow, max, min
  if (kind != "add" && kind != "sub" && kind != "mul" && kind != "div" && kind != "pow" &&
      kind != "max" && kind != "min") {
    return emitOpError() << "unknown kind '" << kind
                         << "'; expected one of add, sub, mul, div, pow, max, min";
  }
  auto lhsType = cast<RankedTensorType>(getLhs().getType());
  auto rhsType = cast<RankedTensorType>(getRhs().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  if (lhsType.getElementType() != rhsType.getElementType() ||
      lhsType.getElementType() != resultType.getElementType()) {
    return emitOpError() << "element types must match: " << lhsType.getElementType() << ", "
                         << rhsType.getElementType() << " -> " << resultType.getElementType();
  }
  auto shape = broadcastShapes(lhsType.getShape(), rhsType.getShape());
  if (failed(shape)) {
    return emitOpError() << "operand shapes " << shapeString(lhsType.getShape()) << " and "
                         << shapeString(rhsType.getShape()) << " do not broadcast";
  }
  if (resultType.getShape() != ArrayRef<int64_t>(*shape)) {
    return emitOpError() << "result shape " << shapeString(resultType.getShape())
                         << " should be the broadcast shape " << shapeString(*shape);
  }
  return success();
}

LogicalResult UnaryOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  StringRef kind = getKind();
  // Math kinds (conveyor::chip::isUnaryKind)
  if (!isUnaryKind(kind)) {
    return emitOpError() << "unknown kind '" << kind
                         << "'; expected one of relu, gelu, gelu_tanh, exp, log, sqrt, rsqrt, "
                            "reciprocal, neg, abs, sin, cos, tanh, sigmoid, silu, erf";
  }
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  int64_t rank = cast<RankedTensorType>(getInput().getType()).getRank();
  int64_t axis = getAxis();
  if (axis < 0 || axis >= rank) {
    return emitOpError() << "axis " << axis << " is out of range [0, " << rank
                         << ") (cv.chip axes are non-negative)";
  }
  return success();
}

LogicalResult TransposeOp::verify() {
  if (failed(verifyCommon(*this))) {
    return failure();
  }
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  ArrayRef<int64_t> perm = getPerm();
  int64_t rank = inputType.getRank();
  if (static_cast<int64_t>(perm.size()) != rank) {
    return emitOpError() << "perm has " << perm.size() << " entries, input rank is " << rank;
  }
  SmallVector<bool> seen(rank, false);
  for (int64_t dim : perm) {
    if (dim < 0 || dim >= rank || seen[dim]) {
      return emitOpError() << "perm " << shapeString(perm) << " is not a permutation of [0, "
                           << rank << ")";
    }
    seen[dim] = true;
  }
  if (inputType.getElementType() != resultType.getElementType()) {
    return emitOpError() << "cannot change the element type (" << inputType.getElementType()
                         << " -> " << resultType.getElementType() << ")";
  }
  SmallVector<int64_t> expected;
  for (int64_t dim : perm) {
    expected.push_back(inputType.getDimSize(dim));
  }
  if (resultType.getShape() != ArrayRef<int64_t>(expected)) {
    return emitOpError() << "result shape " << shapeString(resultType.getShape()) << " should be "
                         << shapeString(expected);
  }
  return success();
}

DenseElementsAttr conveyor::chip::getDenseElements(ElementsAttr value) {
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    return dense;
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(value);
  if (!resource) {
    return {};
  }
  const AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob) {
    return {};
  }
  ArrayRef<char> data = blob->getData();
  auto type = cast<ShapedType>(resource.getType());
  bool isSplat = false;
  if (!DenseElementsAttr::isValidRawBuffer(type, data, isSplat)) {
    return {};
  }
  return DenseElementsAttr::getFromRawBuffer(type, data);
}

FailureOr<std::string> WeightOp::getDataBytes() {
  if (!llvm::sys::IsLittleEndianHost) {
    return emitOpError("weight data export needs a little-endian host");
  }
  auto type = cast<RankedTensorType>(getResult().getType());
  unsigned bits = type.getElementTypeBitWidth();
  // Int4 weights pack two two's-complement nibbles per byte, the even element low
  if (bits == 4 && type.getElementType().isInteger(4)) {
    DenseElementsAttr dense = getDenseElements(getValue());
    if (!dense) {
      return std::string();
    }
    std::string bytes(size_t((type.getNumElements() + 1) / 2), '\0');
    int64_t index = 0;
    for (const APInt &element : dense.getValues<APInt>()) {
      auto nibble = static_cast<unsigned char>(element.getZExtValue() & 0xf);
      bytes[size_t(index / 2)] |= static_cast<char>(index % 2 == 0 ? nibble : nibble << 4);
      ++index;
    }
    return bytes;
  }
  if (bits == 0 || bits % 8 != 0) {
    return emitOpError() << "cannot store " << type.getElementType()
                         << " weights: only whole-byte element types have a data layout yet";
  }
  DenseElementsAttr dense = getDenseElements(getValue());
  if (!dense) {
    // A resource without a blob (elided) or a non-dense attribute: shape-only weight.
    if (isa<DenseResourceElementsAttr>(getValue())) {
      return std::string();
    }
    return emitOpError("weight value must be a dense elements attribute or a dense resource");
  }
  ArrayRef<char> raw = dense.getRawData();
  size_t elementBytes = bits / 8;
  size_t totalBytes = static_cast<size_t>(type.getNumElements()) * elementBytes;
  if (dense.isSplat()) {
    // A splat stores one element; the schedule file stores every element.
    std::string bytes;
    bytes.reserve(totalBytes);
    for (int64_t i = 0; i < type.getNumElements(); ++i) {
      bytes.append(raw.data(), elementBytes);
    }
    return bytes;
  }
  if (raw.size() != totalBytes) {
    return emitOpError() << "weight data holds " << raw.size() << " bytes, expected " << totalBytes;
  }
  return std::string(raw.data(), raw.size());
}

#define GET_OP_CLASSES
#include "conveyor/Dialect/Chip/ChipOps.cpp.inc"
