// Verifiers of the cv.chip transformer ops (gather, slice, concat, broadcast, reduce, norms,
// select, top-k, cast, rotary, dequantising matmul): shapes, kinds and element types.
#include "conveyor/Dialect/Chip/ChipOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace conveyor::chip;

namespace {

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += std::to_string(dim); }, [&] { text += ", "; });
  return text + "]";
}

RankedTensorType typeOf(Value value) { return cast<RankedTensorType>(value.getType()); }

/// Static shapes everywhere (addresses and timings are computed from them) and
/// non-negative placement attributes.
LogicalResult verifyStaticAndPlaced(Operation *op) {
  for (auto [index, operand] : llvm::enumerate(op->getOperands())) {
    if (!typeOf(operand).hasStaticShape()) {
      return op->emitOpError() << "operand #" << index << " must have a static shape, got "
                               << operand.getType();
    }
  }
  for (Value result : op->getResults()) {
    if (!typeOf(result).hasStaticShape()) {
      return op->emitOpError() << "result must have a static shape, got " << result.getType();
    }
  }
  for (StringRef name : {"issue", "sram_addr", "chip"}) {
    if (auto attr = op->getAttrOfType<IntegerAttr>(name); attr && attr.getValue().isNegative()) {
      return op->emitOpError() << "attribute '" << name << "' must be non-negative";
    }
  }
  return success();
}

LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank) {
    return op->emitOpError() << "axis " << axis << " is out of range [0, " << rank << ")";
  }
  return success();
}

/// numpy broadcasting of `shapes`; failure when two dimensions disagree.
FailureOr<SmallVector<int64_t>> broadcast(ArrayRef<ArrayRef<int64_t>> shapes) {
  size_t rank = 0;
  for (ArrayRef<int64_t> shape : shapes) {
    rank = std::max(rank, shape.size());
  }
  SmallVector<int64_t> result(rank, 1);
  for (ArrayRef<int64_t> shape : shapes) {
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t &out = result[rank - shape.size() + i];
      int64_t dim = shape[i];
      if (dim != 1 && out != 1 && dim != out) {
        return failure();
      }
      if (dim != 1) {
        out = dim;
      }
    }
  }
  return result;
}

LogicalResult expectShape(Operation *op, ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> actual = typeOf(op->getResult(0)).getShape();
  if (actual != expected) {
    return op->emitOpError() << "result shape " << shapeText(actual) << " should be "
                             << shapeText(expected);
  }
  return success();
}

LogicalResult expectFloat(Operation *op, Value value, StringRef role) {
  if (!isa<FloatType>(typeOf(value).getElementType())) {
    return op->emitOpError() << role << " must be floating point, got " << value.getType();
  }
  return success();
}

LogicalResult expectInteger(Operation *op, Value value, StringRef role) {
  if (!isa<IntegerType>(typeOf(value).getElementType())) {
    return op->emitOpError() << role << " must be an integer tensor, got " << value.getType();
  }
  return success();
}

/// The normalised trailing dimensions [axis, rank) must be what scale/bias broadcast to.
LogicalResult verifyNorm(Operation *op, int64_t axis, ValueRange params) {
  auto inputType = typeOf(op->getOperand(0));
  if (failed(verifyAxis(op, axis, inputType.getRank())) ||
      failed(expectFloat(op, op->getOperand(0), "input"))) {
    return failure();
  }
  ArrayRef<int64_t> trailing = inputType.getShape().drop_front(axis);
  for (Value param : params) {
    auto shape = broadcast({typeOf(param).getShape(), trailing});
    if (failed(shape) || ArrayRef<int64_t>(*shape) != trailing) {
      return op->emitOpError() << "parameter " << shapeText(typeOf(param).getShape())
                               << " does not broadcast to the normalised dimensions "
                               << shapeText(trailing);
    }
  }
  return expectShape(op, inputType.getShape());
}

} // namespace

bool conveyor::chip::isUnaryKind(StringRef kind) {
  return llvm::StringSwitch<bool>(kind)
      .Cases("relu", "gelu", "gelu_tanh", "exp", "log", "sqrt", "rsqrt", true)
      .Cases("reciprocal", "neg", "abs", "sin", "cos", "tanh", "sigmoid", true)
      .Cases("silu", "erf", true)
      .Default(false);
}

LogicalResult GatherOp::verify() {
  if (failed(verifyStaticAndPlaced(*this)) ||
      failed(expectInteger(*this, getIndices(), "indices"))) {
    return failure();
  }
  ArrayRef<int64_t> table = getTable().getType().getShape();
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, int64_t(table.size())))) {
    return failure();
  }
  SmallVector<int64_t> expected(table.begin(), table.begin() + axis);
  llvm::append_range(expected, getIndices().getType().getShape());
  expected.append(table.begin() + axis + 1, table.end());
  if (getTable().getType().getElementType() != getType().getElementType()) {
    return emitOpError("result element type must be the table's");
  }
  return expectShape(*this, expected);
}

LogicalResult SliceOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  auto inputType = getInput().getType();
  ArrayRef<int64_t> input = inputType.getShape();
  ArrayRef<int64_t> result = getType().getShape();
  if (getStarts().size() != input.size() || getSteps().size() != input.size() ||
      result.size() != input.size()) {
    return emitOpError() << "starts, steps and the result need one entry per input axis ("
                         << input.size() << ")";
  }
  for (size_t axis = 0; axis < input.size(); ++axis) {
    int64_t start = getStarts()[axis], step = getSteps()[axis], size = result[axis];
    int64_t last = start + (size - 1) * step;
    if (step == 0 ||
        (size > 0 && (start < 0 || start >= input[axis] || last < 0 || last >= input[axis]))) {
      return emitOpError() << "axis " << axis << ": " << size << " elements from " << start
                           << " by " << step << " leave the input's " << input[axis];
    }
  }
  if (inputType.getElementType() != getType().getElementType()) {
    return emitOpError("cannot change the element type");
  }
  return success();
}

LogicalResult ConcatOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  ArrayRef<int64_t> lhs = getLhs().getType().getShape(), rhs = getRhs().getType().getShape();
  int64_t axis = getAxis();
  if (lhs.size() != rhs.size() || failed(verifyAxis(*this, axis, int64_t(lhs.size())))) {
    return emitOpError() << "operands " << shapeText(lhs) << " and " << shapeText(rhs)
                         << " cannot be joined on axis " << axis;
  }
  SmallVector<int64_t> expected(lhs);
  for (size_t i = 0; i < lhs.size(); ++i) {
    if (int64_t(i) != axis && lhs[i] != rhs[i]) {
      return emitOpError() << "operands " << shapeText(lhs) << " and " << shapeText(rhs)
                           << " differ outside axis " << axis;
    }
  }
  expected[axis] += rhs[axis];
  if (getLhs().getType().getElementType() != getRhs().getType().getElementType() ||
      getLhs().getType().getElementType() != getType().getElementType()) {
    return emitOpError("operands and result need one element type");
  }
  return expectShape(*this, expected);
}

LogicalResult BroadcastOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  ArrayRef<int64_t> result = getType().getShape();
  auto shape = broadcast({getInput().getType().getShape(), result});
  if (failed(shape) || ArrayRef<int64_t>(*shape) != result ||
      getInput().getType().getRank() > getType().getRank()) {
    return emitOpError() << "input " << shapeText(getInput().getType().getShape())
                         << " does not broadcast to " << shapeText(result);
  }
  return success();
}

LogicalResult ReduceOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  StringRef kind = getKind();
  if (kind != "sum" && kind != "mean" && kind != "max" && kind != "min") {
    return emitOpError() << "unknown kind '" << kind << "'; expected sum, mean, max or min";
  }
  SmallVector<int64_t> expected(getInput().getType().getShape());
  int64_t previous = -1;
  for (int64_t axis : getAxes()) {
    if (axis <= previous || failed(verifyAxis(*this, axis, int64_t(expected.size())))) {
      return emitOpError("axes must be increasing and within the input's rank");
    }
    expected[axis] = 1;
    previous = axis;
  }
  return expectShape(*this, expected);
}

LogicalResult RmsNormOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  return verifyNorm(*this, getAxis(), ValueRange{getScale()});
}

LogicalResult LayerNormOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  return verifyNorm(*this, getAxis(), ValueRange{getScale(), getBias()});
}

LogicalResult SelectOp::verify() {
  if (failed(verifyStaticAndPlaced(*this)) ||
      failed(expectInteger(*this, getCondition(), "condition"))) {
    return failure();
  }
  auto shape = broadcast({getCondition().getType().getShape(), getLhs().getType().getShape(),
                          getRhs().getType().getShape()});
  if (failed(shape)) {
    return emitOpError("condition and operands do not broadcast");
  }
  if (getLhs().getType().getElementType() != getRhs().getType().getElementType() ||
      getLhs().getType().getElementType() != getType().getElementType()) {
    return emitOpError("operands and result need one element type");
  }
  return expectShape(*this, *shape);
}

LogicalResult TopKOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  SmallVector<int64_t> expected(getInput().getType().getShape());
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, int64_t(expected.size())))) {
    return failure();
  }
  if (getK() < 1 || getK() > expected[axis]) {
    return emitOpError() << "k = " << getK() << " must be in [1, " << expected[axis] << "]";
  }
  expected[axis] = getK();
  if (getIndices() ? !getType().getElementType().isInteger(32)
                   : getType().getElementType() != getInput().getType().getElementType()) {
    return emitOpError("values keep the input's element type; indices are i32");
  }
  return expectShape(*this, expected);
}

LogicalResult CastOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  return expectShape(*this, getInput().getType().getShape());
}

LogicalResult SumOp::verify() {
  if (failed(verifyStaticAndPlaced(*this))) {
    return failure();
  }
  // 2..32: the limits of the schedule reader's VXM_SUM (one stream per addend).
  if (getAddends().size() < 2 || getAddends().size() > 32) {
    return emitOpError() << "takes 2 to 32 addends, not " << getAddends().size();
  }
  for (Value addend : getAddends()) {
    if (addend.getType() != getType()) {
      return emitOpError() << "addend of type " << addend.getType()
                           << " differs from the result type " << getType();
    }
  }
  return success();
}

LogicalResult RotaryOp::verify() {
  if (failed(verifyStaticAndPlaced(*this)) || failed(expectFloat(*this, getInput(), "input"))) {
    return failure();
  }
  ArrayRef<int64_t> input = getInput().getType().getShape();
  if (input.empty() || input.back() % 2 != 0) {
    return emitOpError("input needs an even last dimension (head_dim)");
  }
  auto shape =
      broadcast({input, getCos().getType().getShape(), getSin().getType().getShape()});
  if (failed(shape) || ArrayRef<int64_t>(*shape) != input) {
    return emitOpError("cos and sin must broadcast to the input without enlarging it");
  }
  return expectShape(*this, input);
}

LogicalResult MatMulDqOp::verify() {
  if (failed(verifyStaticAndPlaced(*this)) || failed(expectFloat(*this, getLhs(), "lhs"))) {
    return failure();
  }
  ArrayRef<int64_t> lhs = getLhs().getType().getShape();
  ArrayRef<int64_t> weight = getWeight().getType().getShape();
  if (lhs.size() < 2 || weight.size() < 2 || lhs.back() != weight[weight.size() - 2]) {
    return emitOpError() << "operands " << shapeText(lhs) << " x " << shapeText(weight)
                         << " cannot be multiplied";
  }
  auto batch = broadcast({lhs.drop_back(2), weight.drop_back(2)});
  if (failed(batch)) {
    return emitOpError("batch dimensions do not broadcast");
  }
  SmallVector<int64_t> expected = *batch;
  expected.append({lhs[lhs.size() - 2], weight.back()});
  ArrayRef<int64_t> scale = getScale().getType().getShape();
  if (scale.size() != 1 || scale[0] != weight.back() ||
      !getScale().getType().getElementType().isF32()) {
    return emitOpError() << "scale must be f32 [" << weight.back() << "], got "
                         << getScale().getType();
  }
  if (getType().getElementType() != getLhs().getType().getElementType()) {
    return emitOpError("result element type must be lhs's");
  }
  return expectShape(*this, expected);
}
