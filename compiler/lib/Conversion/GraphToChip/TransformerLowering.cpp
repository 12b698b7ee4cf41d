// convert-graph-to-chip, transformer part: lowers embedding, gather, norms, rotary, gated MLP,
// LM head, attention, MoE, KV-cache concat/split/slice, expand, where, top-k, reductions,
// elementwise math and casts to cv.chip burst instructions (one functional unit each).
#include "LoweringSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <limits>

namespace conveyor::lowering {

Type chipElementType(Type type) {
  if (auto integer = dyn_cast<IntegerType>(type)) {
    if (integer.getWidth() == 1) {
      return IntegerType::get(type.getContext(), 8);
    }
    if (integer.getWidth() > 32) {
      return IntegerType::get(type.getContext(), 32);
    }
  }
  return type;
}

RankedTensorType chipType(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  return RankedTensorType::get(tensor.getShape(), chipElementType(tensor.getElementType()));
}

namespace {

namespace graph = conveyor::graph;

RankedTensorType tensorType(Value value) { return cast<RankedTensorType>(value.getType()); }

RankedTensorType withShape(Value like, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, tensorType(like).getElementType());
}

int64_t normalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

Value view(OpBuilder &builder, Location loc, Value input, ArrayRef<int64_t> shape) {
  if (tensorType(input).getShape() == shape) {
    return input;
  }
  return createInstruction<chip::ViewOp>(builder, loc, withShape(input, shape), input);
}

Value matmul(OpBuilder &builder, Location loc, Value lhs, Value rhs) {
  ArrayRef<int64_t> a = tensorType(lhs).getShape(), b = tensorType(rhs).getShape();
  // Batch dimensions broadcast (numpy); both operands have rank >= 2 here.
  size_t batchRank = std::max(a.size(), b.size()) - 2;
  SmallVector<int64_t> shape(batchRank, 1);
  auto mergeBatch = [&](ArrayRef<int64_t> dims) {
    ArrayRef<int64_t> batch = dims.drop_back(2);
    for (size_t i = 0; i < batch.size(); ++i) {
      int64_t &out = shape[batchRank - batch.size() + i];
      out = std::max(out, batch[i]);
    }
  };
  mergeBatch(a);
  mergeBatch(b);
  shape.append({a[a.size() - 2], b.back()});
  return createInstruction<chip::MatMulOp>(builder, loc, withShape(lhs, shape), lhs, rhs);
}

Value binary(OpBuilder &builder, Location loc, StringRef kind, Value lhs, Value rhs) {
  ArrayRef<int64_t> a = tensorType(lhs).getShape(), b = tensorType(rhs).getShape();
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> shape(rank, 1);
  for (ArrayRef<int64_t> dims : {a, b}) {
    for (size_t i = 0; i < dims.size(); ++i) {
      int64_t &out = shape[rank - dims.size() + i];
      out = dims[i] == 1 ? out : dims[i];
    }
  }
  return createInstruction<chip::BinaryOp>(builder, loc, withShape(lhs, shape), lhs, rhs,
                                           builder.getStringAttr(kind));
}

Value unary(OpBuilder &builder, Location loc, StringRef kind, Value input) {
  return createInstruction<chip::UnaryOp>(builder, loc, input.getType(), input,
                                          builder.getStringAttr(kind));
}

/// A `kind` reduction (sum, max, ...) of `input` over `axes`, keeping them as size-1 axes.
Value reduceKeepingAxes(OpBuilder &builder, Location loc, StringRef kind, Value input,
                        ArrayRef<int64_t> axes) {
  SmallVector<int64_t> kept(tensorType(input).getShape());
  for (int64_t axis : axes) {
    kept[axis] = 1;
  }
  return createInstruction<chip::ReduceOp>(builder, loc, withShape(input, kept), input,
                                           builder.getStringAttr(kind),
                                           builder.getDenseI64ArrayAttr(axes));
}

/// A weight of `shape` filled with `value` (scalars, zero biases), of `like`'s element type.
Value splatWeight(OpBuilder &builder, Location loc, Value like, ArrayRef<int64_t> shape,
                  double value, StringRef name, LoweringState &state) {
  auto type = withShape(like, shape);
  auto floatType = cast<FloatType>(type.getElementType());
  auto attr = DenseElementsAttr::get(type, builder.getFloatAttr(floatType, value));
  return createWeight(builder, loc, attr, state.names.unique(name)).getResult();
}

/// A kind -> graph op unary lowering (exp, sqrt, silu, ...).
template <typename SourceOp> struct UnaryKindLowering : LoweringPattern<SourceOp> {
  UnaryKindLowering(MLIRContext *context, LoweringState &state, StringRef kind)
      : LoweringPattern<SourceOp>(context, state), kind(kind) {}
  LogicalResult matchAndRewrite(SourceOp op, typename SourceOp::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, unary(rewriter, op.getLoc(), kind, adaptor.getInput()));
    return success();
  }
  std::string kind;
};

template <typename SourceOp> struct BinaryKindLowering : LoweringPattern<SourceOp> {
  BinaryKindLowering(MLIRContext *context, LoweringState &state, StringRef kind)
      : LoweringPattern<SourceOp>(context, state), kind(kind) {}
  LogicalResult matchAndRewrite(SourceOp op, typename SourceOp::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::BinaryOp>(
                               rewriter, op.getLoc(), op.getType(), adaptor.getLhs(),
                               adaptor.getRhs(), rewriter.getStringAttr(kind)));
    return success();
  }
  std::string kind;
};

struct EmbeddingLowering : LoweringPattern<graph::EmbeddingOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::EmbeddingOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::GatherOp>(
                               rewriter, op.getLoc(), chipType(op.getType()), adaptor.getTable(),
                               adaptor.getIds(), rewriter.getI64IntegerAttr(0)));
    return success();
  }
};

struct GatherLowering : LoweringPattern<graph::GatherOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::GatherOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    int64_t rank = tensorType(op.getData()).getRank();
    int64_t axis = normalizeAxis(static_cast<int64_t>(op.getAxis()), rank);
    rewriter.replaceOp(op, createInstruction<chip::GatherOp>(
                               rewriter, op.getLoc(), chipType(op.getType()), adaptor.getData(),
                               adaptor.getIndices(), rewriter.getI64IntegerAttr(axis)));
    return success();
  }
};

struct RmsNormLowering : LoweringPattern<graph::RmsNormOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::RmsNormOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    int64_t axis = normalizeAxis(op.getAxis(), tensorType(op.getInput()).getRank());
    rewriter.replaceOp(op, createInstruction<chip::RmsNormOp>(
                               rewriter, op.getLoc(), op.getType(), adaptor.getInput(),
                               adaptor.getScale(), rewriter.getI64IntegerAttr(axis),
                               rewriter.getF32FloatAttr(op.getEpsilon().convertToFloat())));
    return success();
  }
};

struct LayerNormLowering : LoweringPattern<graph::LayerNormOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::LayerNormOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    int64_t axis = normalizeAxis(op.getAxis(), tensorType(op.getInput()).getRank());
    Value bias = adaptor.getBias();
    if (!bias) {
      // The instruction always adds a bias: a zero one costs a few bytes of SRAM.
      bias = splatWeight(rewriter, op.getLoc(), adaptor.getScale(),
                         tensorType(adaptor.getScale()).getShape(), 0.0, "layer_norm.zero_bias",
                         state);
    }
    rewriter.replaceOp(op, createInstruction<chip::LayerNormOp>(
                               rewriter, op.getLoc(), op.getType(), adaptor.getInput(),
                               adaptor.getScale(), bias, rewriter.getI64IntegerAttr(axis),
                               rewriter.getF32FloatAttr(op.getEpsilon().convertToFloat())));
    return success();
  }
};

struct RotaryLowering : LoweringPattern<graph::RotaryOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::RotaryOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::RotaryOp>(rewriter, op.getLoc(), op.getType(),
                                                             adaptor.getInput(), adaptor.getCos(),
                                                             adaptor.getSin()));
    return success();
  }
};

/// Maps an activation name of gated_mlp / moe to a vxm_unary kind.
FailureOr<StringRef> activationKind(Operation *op, StringRef activation) {
  if (activation == "silu" || activation == "gelu" || activation == "gelu_tanh") {
    return activation;
  }
  return op->emitOpError() << "activation '" << activation
                           << "' has no cv.chip lowering; expected silu, gelu or gelu_tanh";
}

/// (act(x @ Wg) * (x @ Wu)) @ Wd: three MXM products, one activation and one product on
/// the VXM.
struct GatedMlpLowering : LoweringPattern<graph::GatedMlpOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::GatedMlpOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    FailureOr<StringRef> kind = activationKind(op, op.getActivation());
    if (failed(kind)) {
      return failure();
    }
    Location loc = op.getLoc();
    Value gate = unary(rewriter, loc, *kind, matmul(rewriter, loc, adaptor.getInput(),
                                                    adaptor.getWGate()));
    Value up = matmul(rewriter, loc, adaptor.getInput(), adaptor.getWUp());
    Value hidden = binary(rewriter, loc, "mul", gate, up);
    rewriter.replaceOp(op, matmul(rewriter, loc, hidden, adaptor.getWDown()));
    return success();
  }
};

struct LmHeadLowering : LoweringPattern<graph::LmHeadOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::LmHeadOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, matmul(rewriter, op.getLoc(), adaptor.getInput(), adaptor.getWeight()));
    return success();
  }
};

/// The decode KV cache, kept resident: when `key` (the graph value) is concat(past, rows) on
/// the sequence axis, `past` a shape-only constant (the multi-chip decode step keeps each
/// layer's cache in SRAM) and the attention its only user, the cache of the full length
/// ([b, kv, d, T] when `transposed`, for keys) with `rows` written in place at T - s by
/// cv.chip.kv_append. No copy of the cache per step. Null when the pattern does not apply.
Value appendToResidentCache(ConversionPatternRewriter &rewriter, Location loc, Value key,
                            Value converted, bool transposed) {
  auto concat = key.getDefiningOp<graph::ConcatOp>();
  if (!concat || !key.hasOneUse() || concat.getInputs().size() != 2 ||
      normalizeAxis(static_cast<int64_t>(concat.getAxis()), 4) != 2) {
    return {};
  }
  auto joined = converted.getDefiningOp<chip::ConcatOp>();
  auto past = joined ? joined.getLhs().getDefiningOp<chip::WeightOp>() : chip::WeightOp();
  if (!past || chip::getDenseElements(past.getValue()) || tensorType(converted).getRank() != 4) {
    return {};
  }
  Value rows = joined.getRhs();
  ArrayRef<int64_t> shape = tensorType(converted).getShape(); // [b, kv, T, d]
  SmallVector<int64_t> cacheShape(shape);
  if (transposed) {
    std::swap(cacheShape[2], cacheShape[3]);
  }
  auto cacheType = withShape(converted, cacheShape);
  auto &resources = DenseResourceElementsHandle::getManagerInterface(rewriter.getContext());
  auto contents = DenseResourceElementsAttr::get(cacheType, resources.insert("shape_only"));
  Value cache = createWeight(rewriter, past.getLoc(), contents, past.getName()).getResult();
  int64_t position = shape[2] - tensorType(rows).getDimSize(2);
  Value appended = createInstruction<chip::KvAppendOp>(
      rewriter, loc, cacheType, cache, rows, rewriter.getI64IntegerAttr(transposed ? 3 : 2),
      rewriter.getI64IntegerAttr(position));
  rewriter.eraseOp(joined);
  if (past->use_empty()) {
    rewriter.eraseOp(past);
  }
  return appended;
}

/// softmax(q k^T * scale + mask) v as MXM products and VXM steps. Grouped-query heads share
/// their KV head through a view of the queries ([b, kv, rep * s, d]), not a copy of K and V;
/// the scale multiplies whichever of q and the scores is smaller; causal and sliding-window
/// masks become a constant additive mask weight (0 or -inf), left out when it hides nothing
/// (a decode step sees every cached position). A resident decode cache is appended in place
/// and K is kept transposed, so nothing of the cache is copied or transposed per step.
struct AttentionLowering : LoweringPattern<graph::AttentionOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::AttentionOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (adaptor.getSinks()) {
      return op.emitOpError("attention sinks have no cv.chip lowering yet");
    }
    Location loc = op.getLoc();
    Value query = adaptor.getQuery();
    ArrayRef<int64_t> q = tensorType(query).getShape();
    ArrayRef<int64_t> k = tensorType(adaptor.getKey()).getShape();
    if (q.size() != 4 || k.size() != 4 || k[1] == 0 || q[1] % k[1] != 0) {
      return op.emitOpError("expects [b, heads, s, d] queries on [b, kv_heads, t, d] keys");
    }
    int64_t b = q[0], heads = q[1], kvHeads = k[1], rep = heads / kvHeads, s = q[2], t = k[2];
    Value keyT = appendToResidentCache(rewriter, loc, op.getKey(), adaptor.getKey(), true);
    if (!keyT) {
      keyT = createInstruction<chip::TransposeOp>(
          rewriter, loc, withShape(adaptor.getKey(), {k[0], k[1], k[3], k[2]}), adaptor.getKey(),
          rewriter.getDenseI64ArrayAttr({0, 1, 3, 2}));
    }
    Value value = appendToResidentCache(rewriter, loc, op.getValue(), adaptor.getValue(), false);
    if (!value) {
      value = adaptor.getValue();
    }
    double scale = op.getScale().convertToDouble();
    bool scaleQuery = q[3] <= t; // scale the smaller of q [.., s, d] and the scores [.., s, t]
    if (scaleQuery && scale != 1.0) {
      query = binary(rewriter, loc, "mul", query,
                     splatWeight(rewriter, loc, query, {}, scale, "attention.scale", state));
    }
    // Heads of one KV head in a row: [b, h, s, d] -> [b, kv, rep * s, d] (row-major view).
    Value grouped = view(rewriter, loc, query, {b, kvHeads, rep * s, q[3]});
    Value scores = view(rewriter, loc, matmul(rewriter, loc, grouped, keyT), {b, heads, s, t});
    if (!scaleQuery && scale != 1.0) {
      scores = binary(rewriter, loc, "mul", scores,
                      splatWeight(rewriter, loc, scores, {}, scale, "attention.scale", state));
    }
    int64_t window = static_cast<int64_t>(op.getSlidingWindow());
    if (op.getCausal() || window > 0) {
      auto floatType = cast<FloatType>(tensorType(scores).getElementType());
      SmallVector<APFloat> mask;
      mask.reserve(size_t(s * t));
      bool hides = false;
      for (int64_t i = 0; i < s; ++i) {
        int64_t position = t - s + i;
        for (int64_t j = 0; j < t; ++j) {
          bool masked = (op.getCausal() && j > position) || (window > 0 && j <= position - window);
          hides |= masked;
          mask.push_back(masked ? APFloat::getInf(floatType.getFloatSemantics(), true)
                                : APFloat::getZero(floatType.getFloatSemantics()));
        }
      }
      if (hides) {
        auto maskType = RankedTensorType::get({s, t}, floatType);
        Value maskWeight = createWeight(rewriter, loc, DenseElementsAttr::get(maskType, mask),
                                        state.names.unique("attention.causal_mask"));
        scores = binary(rewriter, loc, "add", scores, maskWeight);
      }
    }
    if (Value mask = adaptor.getMask()) {
      scores = binary(rewriter, loc, "add", scores, mask);
    }
    Value probabilities = createInstruction<chip::SoftmaxOp>(
        rewriter, loc, scores.getType(), scores,
        rewriter.getI64IntegerAttr(tensorType(scores).getRank() - 1));
    Value groupedProbabilities = view(rewriter, loc, probabilities, {b, kvHeads, rep * s, t});
    Value output = matmul(rewriter, loc, groupedProbabilities, value);
    rewriter.replaceOp(op, view(rewriter, loc, output, {b, heads, s, tensorType(value).getDimSize(3)}));
    return success();
  }
};

/// Router, top-k and in-place dispatch: each expert product installs only the chosen
/// experts' weights, read from the resident expert stack by index, over [tokens, k].
struct MoeLowering : LoweringPattern<graph::MoeOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::MoeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    FailureOr<StringRef> kind = activationKind(op, op.getActivation());
    if (failed(kind)) {
      return failure();
    }
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    ArrayRef<int64_t> inputShape = tensorType(input).getShape();
    int64_t hidden = inputShape.back();
    int64_t tokens = 1;
    for (int64_t dim : inputShape.drop_back()) {
      tokens *= dim;
    }
    auto topK = static_cast<int64_t>(op.getTopK());
    Value rows = view(rewriter, loc, input, {tokens, hidden});
    Value logits = matmul(rewriter, loc, rows, adaptor.getWRouter());
    auto indexType = RankedTensorType::get({tokens, topK}, rewriter.getI32Type());
    auto topk = [&](Value scores, bool indices) -> Value {
      Type type = indices ? Type(indexType) : Type(withShape(scores, {tokens, topK}));
      return createInstruction<chip::TopKOp>(rewriter, loc, type, scores,
                                             rewriter.getI64IntegerAttr(topK),
                                             rewriter.getI64IntegerAttr(1),
                                             rewriter.getBoolAttr(indices));
    };
    auto softmax = [&](Value scores) -> Value {
      return createInstruction<chip::SoftmaxOp>(rewriter, loc, scores.getType(), scores,
                                                rewriter.getI64IntegerAttr(1));
    };
    Value weights, experts;
    if (op.getSoftmaxAfterTopk()) {
      weights = softmax(topk(logits, false));
      experts = topk(logits, true);
    } else {
      Value probabilities = softmax(logits);
      weights = topk(probabilities, false);
      experts = topk(probabilities, true);
      if (op.getNormalizeWeights()) {
        Value sum = reduceKeepingAxes(rewriter, loc, "sum", weights, {1});
        weights = binary(rewriter, loc, "div", weights, sum);
      }
    }
    // Each product reads the chosen experts' rows where they live in the resident expert
    // stack (mxm_expert_matmul): no gathered copy of the weights per token.
    auto expertProduct = [&](Value lhs, Value table) -> Value {
      ArrayRef<int64_t> l = tensorType(lhs).getShape();  // [tokens, k or 1, M, K]
      ArrayRef<int64_t> t = tensorType(table).getShape(); // [E, K, N]
      return createInstruction<chip::ExpertMatMulOp>(
          rewriter, loc, withShape(lhs, {tokens, topK, l[2], t[2]}), lhs, table, experts,
          Value());
    };
    Value x = view(rewriter, loc, rows, {tokens, 1, 1, hidden});
    Value hiddenActivations =
        unary(rewriter, loc, *kind, expertProduct(x, adaptor.getWGate()));
    if (Value up = adaptor.getWUp()) {
      hiddenActivations =
          binary(rewriter, loc, "mul", hiddenActivations, expertProduct(x, up));
    }
    Value down = expertProduct(hiddenActivations, adaptor.getWDown());
    int64_t outWidth = tensorType(down).getShape().back();
    Value perExpert = view(rewriter, loc, down, {tokens, topK, outWidth});
    Value weighted =
        binary(rewriter, loc, "mul", perExpert, view(rewriter, loc, weights, {tokens, topK, 1}));
    Value sum = reduceKeepingAxes(rewriter, loc, "sum", weighted, {1});
    rewriter.replaceOp(op, view(rewriter, loc, sum, tensorType(op.getResult()).getShape()));
    return success();
  }
};

struct ConcatLowering : LoweringPattern<graph::ConcatOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::ConcatOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    ValueRange inputs = adaptor.getInputs();
    auto axis = static_cast<int64_t>(op.getAxis());
    // Pairwise MEM concats, left to right (KV caches join two tensors).
    Value joined = inputs.front();
    for (Value next : inputs.drop_front()) {
      SmallVector<int64_t> shape(tensorType(joined).getShape());
      shape[axis] += tensorType(next).getDimSize(axis);
      joined = createInstruction<chip::ConcatOp>(rewriter, op.getLoc(), withShape(joined, shape),
                                                 joined, next, rewriter.getI64IntegerAttr(axis));
    }
    if (inputs.size() == 1) {
      joined = createInstruction<chip::MemCopyOp>(rewriter, op.getLoc(), joined.getType(), joined);
    }
    rewriter.replaceOp(op, joined);
    return success();
  }
};

Value slice(OpBuilder &builder, Location loc, Value input, ArrayRef<int64_t> starts,
            ArrayRef<int64_t> steps, ArrayRef<int64_t> shape) {
  return createInstruction<chip::SliceOp>(builder, loc, withShape(input, shape), input,
                                          builder.getDenseI64ArrayAttr(starts),
                                          builder.getDenseI64ArrayAttr(steps));
}

struct SplitLowering : LoweringPattern<graph::SplitOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::SplitOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value input = adaptor.getInput();
    int64_t rank = tensorType(input).getRank();
    auto axis = static_cast<int64_t>(op.getAxis());
    SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
    SmallVector<Value> pieces;
    for (Value result : op.getResults()) {
      pieces.push_back(slice(rewriter, op.getLoc(), input, starts, steps,
                             tensorType(result).getShape()));
      starts[axis] += tensorType(result).getDimSize(axis);
    }
    rewriter.replaceOp(op, pieces);
    return success();
  }
};

struct SliceLowering : LoweringPattern<graph::SliceOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::SliceOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value input = adaptor.getInput();
    ArrayRef<int64_t> shape = tensorType(input).getShape();
    SmallVector<int64_t> starts(shape.size(), 0), steps(shape.size(), 1);
    for (auto [axis, start, step] : llvm::zip(op.getAxes(), op.getStarts(), op.getSteps())) {
      starts[axis] = start < 0 ? start + shape[axis] : start;
      steps[axis] = step;
    }
    rewriter.replaceOp(op, slice(rewriter, op.getLoc(), input, starts, steps,
                                 tensorType(op.getResult()).getShape()));
    return success();
  }
};

struct ExpandLowering : LoweringPattern<graph::ExpandOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::ExpandOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::BroadcastOp>(
                               rewriter, op.getLoc(), chipType(op.getType()), adaptor.getInput()));
    return success();
  }
};

struct WhereLowering : LoweringPattern<graph::WhereOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::WhereOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::SelectOp>(
                               rewriter, op.getLoc(), chipType(op.getType()),
                               adaptor.getCondition(), adaptor.getLhs(), adaptor.getRhs()));
    return success();
  }
};

struct TopKLowering : LoweringPattern<graph::TopKOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::TopKOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!op.getLargest()) {
      return op.emitOpError("top-k of the smallest entries has no cv.chip lowering");
    }
    int64_t axis =
        normalizeAxis(static_cast<int64_t>(op.getAxis()), tensorType(op.getInput()).getRank());
    auto make = [&](Type type, bool indices) -> Value {
      return createInstruction<chip::TopKOp>(
          rewriter, op.getLoc(), chipType(type), adaptor.getInput(),
          rewriter.getI64IntegerAttr(static_cast<int64_t>(op.getK())),
          rewriter.getI64IntegerAttr(axis), rewriter.getBoolAttr(indices));
    };
    rewriter.replaceOp(op, ValueRange{make(op.getValues().getType(), false),
                                      make(op.getIndices().getType(), true)});
    return success();
  }
};

struct ArgMaxLowering : LoweringPattern<graph::ArgMaxOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::ArgMaxOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value input = adaptor.getInput();
    SmallVector<int64_t> shape(tensorType(input).getShape());
    auto axis = static_cast<int64_t>(op.getAxis());
    shape[axis] = 1;
    Value index = createInstruction<chip::TopKOp>(
        rewriter, op.getLoc(), RankedTensorType::get(shape, rewriter.getI32Type()), input,
        rewriter.getI64IntegerAttr(1), rewriter.getI64IntegerAttr(axis),
        rewriter.getBoolAttr(true));
    rewriter.replaceOp(
        op, view(rewriter, op.getLoc(), index, tensorType(op.getResult()).getShape()));
    return success();
  }
};

template <typename SourceOp> struct ReduceLowering : LoweringPattern<SourceOp> {
  ReduceLowering(MLIRContext *context, LoweringState &state, StringRef kind)
      : LoweringPattern<SourceOp>(context, state), kind(kind) {}
  LogicalResult matchAndRewrite(SourceOp op, typename SourceOp::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value reduced = reduceKeepingAxes(rewriter, op.getLoc(), kind, adaptor.getInput(),
                                      op.getAxes());
    // keepdims = false drops the size-1 axes: a view, no data movement.
    rewriter.replaceOp(op, view(rewriter, op.getLoc(), reduced,
                                tensorType(op.getResult()).getShape()));
    return success();
  }
  std::string kind;
};

struct CastLowering : LoweringPattern<graph::CastOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::CastOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    RankedTensorType type = chipType(op.getType());
    Value input = adaptor.getInput();
    if (input.getType() == type) {
      rewriter.replaceOp(op, input); // e.g. i64 -> i32 ids: already i32 on the chip
      return success();
    }
    rewriter.replaceOp(op, createInstruction<chip::CastOp>(rewriter, op.getLoc(), type, input));
    return success();
  }
};

/// Rebuilds a return whose operands changed type (i64 -> i32 results).
struct ReturnLowering : OpConversionPattern<func::ReturnOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(func::ReturnOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<func::ReturnOp>(op, adaptor.getOperands());
    return success();
  }
};

} // namespace

void populateTransformerLoweringPatterns(RewritePatternSet &patterns, LoweringState &state) {
  MLIRContext *context = patterns.getContext();
  patterns.add<EmbeddingLowering, GatherLowering, RmsNormLowering, LayerNormLowering,
               RotaryLowering, GatedMlpLowering, LmHeadLowering, AttentionLowering, MoeLowering,
               ConcatLowering, SplitLowering, SliceLowering, ExpandLowering, WhereLowering,
               TopKLowering, ArgMaxLowering, CastLowering>(context, state);
  patterns.add<ReturnLowering>(context);
  patterns.add<UnaryKindLowering<graph::ExpOp>>(context, state, "exp");
  patterns.add<UnaryKindLowering<graph::LogOp>>(context, state, "log");
  patterns.add<UnaryKindLowering<graph::ErfOp>>(context, state, "erf");
  patterns.add<UnaryKindLowering<graph::TanhOp>>(context, state, "tanh");
  patterns.add<UnaryKindLowering<graph::SigmoidOp>>(context, state, "sigmoid");
  patterns.add<UnaryKindLowering<graph::SqrtOp>>(context, state, "sqrt");
  patterns.add<UnaryKindLowering<graph::ReciprocalOp>>(context, state, "reciprocal");
  patterns.add<UnaryKindLowering<graph::CosOp>>(context, state, "cos");
  patterns.add<UnaryKindLowering<graph::SinOp>>(context, state, "sin");
  patterns.add<UnaryKindLowering<graph::SiluOp>>(context, state, "silu");
  patterns.add<UnaryKindLowering<graph::NegOp>>(context, state, "neg");
  patterns.add<UnaryKindLowering<graph::AbsOp>>(context, state, "abs");
  patterns.add<BinaryKindLowering<graph::PowOp>>(context, state, "pow");
  patterns.add<BinaryKindLowering<graph::MaxOp>>(context, state, "max");
  patterns.add<BinaryKindLowering<graph::MinOp>>(context, state, "min");
  patterns.add<ReduceLowering<graph::ReduceSumOp>>(context, state, "sum");
  patterns.add<ReduceLowering<graph::ReduceMeanOp>>(context, state, "mean");
  patterns.add<ReduceLowering<graph::ReduceMaxOp>>(context, state, "max");
  patterns.add<ReduceLowering<graph::ReduceMinOp>>(context, state, "min");
}

} // namespace conveyor::lowering
