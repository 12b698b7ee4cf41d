// Verifiers of the transformer-level cv.graph ops (embedding, lm_head, gated_mlp, rotary) that
// conveyor-graph-fuse-transformer creates: their shapes must be those of the matched chain.
#include "conveyor/Dialect/Graph/GraphOps.h"

using namespace mlir;
using namespace conveyor::graph;

namespace {

/// Two sizes agree unless both are known and differ (symbolic dims are checked later,
/// when conveyor-graph-specialize-dims makes them static).
bool sizesAgree(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) || ShapedType::isDynamic(rhs) || lhs == rhs;
}

/// Checks that `result` is `leading` (all but the last dim of `input`) + [lastSize].
LogicalResult verifyProjectedShape(Operation *op, RankedTensorType input, RankedTensorType result,
                                   int64_t lastSize, StringRef lastName) {
  if (result.getRank() != input.getRank()) {
    return op->emitOpError() << "result type " << result << " must have the rank of the input "
                             << input;
  }
  for (int64_t i = 0; i + 1 < input.getRank(); ++i) {
    if (!sizesAgree(input.getDimSize(i), result.getDimSize(i))) {
      return op->emitOpError() << "result dimension " << i << " (" << result.getDimSize(i)
                               << ") differs from the input's (" << input.getDimSize(i) << ")";
    }
  }
  if (!sizesAgree(result.getDimSize(input.getRank() - 1), lastSize)) {
    return op->emitOpError() << "result's last dimension " << result.getDimSize(input.getRank() - 1)
                             << " must be the " << lastName << " size " << lastSize;
  }
  return success();
}

/// `weight` must be a 2-D [rows, cols] float matrix; `rows` must match `expectedRows`.
LogicalResult verifyMatrix(Operation *op, RankedTensorType weight, StringRef name,
                           int64_t expectedRows) {
  if (weight.getRank() != 2 || !isa<FloatType>(weight.getElementType())) {
    return op->emitOpError() << name << " " << weight << " must be a 2-D float matrix";
  }
  if (!sizesAgree(weight.getDimSize(0), expectedRows)) {
    return op->emitOpError() << name << " has " << weight.getDimSize(0)
                             << " rows; the input's feature size is " << expectedRows;
  }
  return success();
}

} // namespace

LogicalResult EmbeddingOp::verify() {
  auto table = cast<RankedTensorType>(getTable().getType());
  auto ids = cast<RankedTensorType>(getIds().getType());
  auto result = cast<RankedTensorType>(getType());
  if (table.getRank() != 2) {
    return emitOpError() << "table " << table << " must be 2-D [vocab, hidden]";
  }
  if (!isa<IntegerType>(ids.getElementType())) {
    return emitOpError() << "ids " << ids << " must be an integer tensor";
  }
  if (result.getElementType() != table.getElementType() ||
      result.getRank() != ids.getRank() + 1) {
    return emitOpError() << "result type " << result << " must be ids.shape + [hidden] of "
                         << table.getElementType();
  }
  for (int64_t i = 0; i < ids.getRank(); ++i) {
    if (!sizesAgree(ids.getDimSize(i), result.getDimSize(i))) {
      return emitOpError() << "result dimension " << i << " differs from the ids'";
    }
  }
  if (!sizesAgree(result.getDimSize(ids.getRank()), table.getDimSize(1))) {
    return emitOpError() << "result's last dimension must be the table's hidden size "
                         << table.getDimSize(1);
  }
  return success();
}

LogicalResult LmHeadOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto weight = cast<RankedTensorType>(getWeight().getType());
  auto result = cast<RankedTensorType>(getType());
  if (input.getRank() < 1) {
    return emitOpError() << "input " << input << " must have a feature dimension";
  }
  if (failed(verifyMatrix(*this, weight, "weight", input.getDimSize(input.getRank() - 1)))) {
    return failure();
  }
  return verifyProjectedShape(*this, input, result, weight.getDimSize(1), "vocabulary");
}

LogicalResult GatedMlpOp::verify() {
  StringRef activation = getActivation();
  if (activation != "silu" && activation != "gelu" && activation != "gelu_tanh") {
    return emitOpError() << "activation \"" << activation
                         << "\" must be one of silu, gelu, gelu_tanh";
  }
  auto input = cast<RankedTensorType>(getInput().getType());
  auto gate = cast<RankedTensorType>(getWGate().getType());
  auto up = cast<RankedTensorType>(getWUp().getType());
  auto down = cast<RankedTensorType>(getWDown().getType());
  auto result = cast<RankedTensorType>(getType());
  if (input.getRank() < 1) {
    return emitOpError() << "input " << input << " must have a feature dimension";
  }
  int64_t hidden = input.getDimSize(input.getRank() - 1);
  if (failed(verifyMatrix(*this, gate, "w_gate", hidden)) ||
      failed(verifyMatrix(*this, up, "w_up", hidden)) ||
      failed(verifyMatrix(*this, down, "w_down", gate.getDimSize(1)))) {
    return failure();
  }
  if (!sizesAgree(gate.getDimSize(1), up.getDimSize(1))) {
    return emitOpError() << "w_gate " << gate << " and w_up " << up
                         << " must have the same FFN size";
  }
  return verifyProjectedShape(*this, input, result, down.getDimSize(1), "w_down output");
}

LogicalResult RotaryOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto cos = cast<RankedTensorType>(getCos().getType());
  auto sin = cast<RankedTensorType>(getSin().getType());
  if (getType() != input) {
    return emitOpError() << "result type " << getType() << " must be the input's type " << input;
  }
  if (cos != sin) {
    return emitOpError() << "cos " << cos << " and sin " << sin << " must have one type";
  }
  if (!isa<FloatType>(input.getElementType()) || cos.getElementType() != input.getElementType()) {
    return emitOpError() << "input " << input << " and cos " << cos
                         << " must have one float element type";
  }
  if (input.getRank() < 1 || cos.getRank() < 1 || cos.getRank() > input.getRank()) {
    return emitOpError() << "cos/sin " << cos << " must have a rank from 1 to the input's "
                         << input.getRank();
  }
  int64_t headDim = input.getDimSize(input.getRank() - 1);
  if (!ShapedType::isDynamic(headDim) && headDim % 2 != 0) {
    return emitOpError() << "head dimension " << headDim << " must be even";
  }
  // cos and sin broadcast to the input without enlarging it.
  int64_t offset = input.getRank() - cos.getRank();
  for (int64_t i = 0; i < cos.getRank(); ++i) {
    int64_t size = cos.getDimSize(i), target = input.getDimSize(offset + i);
    if (size != 1 && !sizesAgree(size, target)) {
      return emitOpError() << "cos/sin dimension " << i << " (" << size
                           << ") does not broadcast to the input's " << target;
    }
  }
  return success();
}
