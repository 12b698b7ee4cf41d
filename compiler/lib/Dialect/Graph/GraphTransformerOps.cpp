// Verifiers of the transformer-level cv.graph ops (embedding, lm_head, gated_mlp, rotary,
// attention, moe) that conveyor-graph-fuse-transformer creates: their shapes must be those
// of the matched chain.
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

// Attention and MoE

LogicalResult AttentionOp::verify() {
  auto query = cast<RankedTensorType>(getQuery().getType());
  auto key = cast<RankedTensorType>(getKey().getType());
  auto value = cast<RankedTensorType>(getValue().getType());
  auto result = cast<RankedTensorType>(getType());
  for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"query", query},
                            {"key", key}, {"value", value}, {"result", result}}) {
    if (type.getRank() != 4 || !isa<FloatType>(type.getElementType())) {
      return emitOpError() << name << " " << type << " must be a 4-D float tensor "
                           << "[batch, heads, positions, head_dim]";
    }
  }
  if (key.getElementType() != query.getElementType() ||
      value.getElementType() != query.getElementType() ||
      result.getElementType() != query.getElementType()) {
    return emitOpError() << "query, key, value and result must have one element type";
  }
  if (!sizesAgree(key.getDimSize(0), query.getDimSize(0)) ||
      !sizesAgree(value.getDimSize(0), query.getDimSize(0))) {
    return emitOpError() << "query, key and value must have one batch size";
  }
  if (!sizesAgree(key.getDimSize(1), value.getDimSize(1)) ||
      !sizesAgree(key.getDimSize(2), value.getDimSize(2))) {
    return emitOpError() << "key " << key << " and value " << value
                         << " must have the same KV heads and positions";
  }
  if (!sizesAgree(key.getDimSize(3), query.getDimSize(3))) {
    return emitOpError() << "key head_dim " << key.getDimSize(3) << " must equal the query's "
                         << query.getDimSize(3);
  }
  int64_t heads = query.getDimSize(1), kvHeads = key.getDimSize(1);
  if (!ShapedType::isDynamic(heads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads == 0 || heads % kvHeads != 0)) {
    return emitOpError() << "query heads " << heads << " must be a multiple of the KV heads "
                         << kvHeads;
  }
  if (!sizesAgree(result.getDimSize(0), query.getDimSize(0)) ||
      !sizesAgree(result.getDimSize(1), heads) ||
      !sizesAgree(result.getDimSize(2), query.getDimSize(2)) ||
      !sizesAgree(result.getDimSize(3), value.getDimSize(3))) {
    return emitOpError() << "result type " << result
                         << " must be [batch, heads, query positions, value head_dim]";
  }
  if (!(getScale().convertToDouble() > 0.0)) {
    return emitOpError() << "scale " << getScale().convertToDouble() << " must be positive";
  }
  if (getSlidingWindow() < 0 || (getSlidingWindow() > 0 && !getCausal())) {
    return emitOpError() << "sliding_window " << getSlidingWindow()
                         << " must be 0, or positive together with causal";
  }
  if (Value mask = getMask()) {
    auto maskType = cast<RankedTensorType>(mask.getType());
    if (maskType.getElementType() != query.getElementType() || maskType.getRank() > 4) {
      return emitOpError() << "mask " << maskType << " must be a float tensor of the query's "
                           << "element type with rank <= 4";
    }
    // The mask broadcasts to [batch, heads, s, t] (numpy rules, aligned from the right).
    int64_t target[4] = {query.getDimSize(0), heads, query.getDimSize(2), key.getDimSize(2)};
    int64_t offset = 4 - maskType.getRank();
    for (int64_t i = 0; i < maskType.getRank(); ++i) {
      int64_t size = maskType.getDimSize(i);
      if (size != 1 && !sizesAgree(size, target[offset + i])) {
        return emitOpError() << "mask dimension " << i << " (" << size
                             << ") does not broadcast to the scores' " << target[offset + i];
      }
    }
  }
  if (Value sinks = getSinks()) {
    auto sinkType = cast<RankedTensorType>(sinks.getType());
    if (sinkType.getRank() != 1 || sinkType.getElementType() != query.getElementType() ||
        !sizesAgree(sinkType.getDimSize(0), heads)) {
      return emitOpError() << "sinks " << sinkType << " must be [heads] (" << heads << ") of "
                           << query.getElementType();
    }
  }
  return success();
}

LogicalResult MoeOp::verify() {
  StringRef activation = getActivation();
  if (activation != "silu" && activation != "gelu" && activation != "gelu_tanh") {
    return emitOpError() << "activation \"" << activation
                         << "\" must be one of silu, gelu, gelu_tanh";
  }
  auto input = cast<RankedTensorType>(getInput().getType());
  auto router = cast<RankedTensorType>(getWRouter().getType());
  auto gate = cast<RankedTensorType>(getWGate().getType());
  auto down = cast<RankedTensorType>(getWDown().getType());
  if (getType() != input) {
    return emitOpError() << "result type " << getType() << " must be the input's type " << input;
  }
  if (input.getRank() < 1 || !isa<FloatType>(input.getElementType())) {
    return emitOpError() << "input " << input << " must be a float tensor [..., hidden]";
  }
  int64_t hidden = input.getDimSize(input.getRank() - 1);
  if (failed(verifyMatrix(*this, router, "w_router", hidden))) {
    return failure();
  }
  int64_t experts = router.getDimSize(1);
  auto verifyExperts = [&](RankedTensorType weight, StringRef name,
                           int64_t rows) -> LogicalResult {
    if (weight.getRank() != 3 || !isa<FloatType>(weight.getElementType())) {
      return emitOpError() << name << " " << weight
                           << " must be a 3-D float tensor [experts, in, out]";
    }
    if (!sizesAgree(weight.getDimSize(0), experts)) {
      return emitOpError() << name << " has " << weight.getDimSize(0)
                           << " experts; the router has " << experts;
    }
    if (!sizesAgree(weight.getDimSize(1), rows)) {
      return emitOpError() << name << " has input size " << weight.getDimSize(1) << "; expected "
                           << rows;
    }
    return success();
  };
  if (failed(verifyExperts(gate, "w_gate", hidden))) {
    return failure();
  }
  if (Value up = getWUp()) {
    auto upType = cast<RankedTensorType>(up.getType());
    if (failed(verifyExperts(upType, "w_up", hidden))) {
      return failure();
    }
    if (!sizesAgree(upType.getDimSize(2), gate.getDimSize(2))) {
      return emitOpError() << "w_gate " << gate << " and w_up " << upType
                           << " must have the same FFN size";
    }
  }
  if (failed(verifyExperts(down, "w_down", gate.getDimSize(2)))) {
    return failure();
  }
  if (!sizesAgree(down.getDimSize(2), hidden)) {
    return emitOpError() << "w_down " << down << " must project back to the hidden size "
                         << hidden;
  }
  int64_t topK = getTopK();
  if (topK < 1 || (!ShapedType::isDynamic(experts) && topK > experts)) {
    return emitOpError() << "top_k " << topK << " must be in [1, experts = " << experts << "]";
  }
  if (getSoftmaxAfterTopk() && getNormalizeWeights()) {
    return emitOpError() << "normalize_weights is meaningless with softmax_after_topk "
                         << "(the weights already sum to 1); unset it";
  }
  return success();
}
