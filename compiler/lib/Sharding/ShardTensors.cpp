// shardFunction: propagates a tensor-parallel layout through one function, op by op,
// choosing Megatron's column/row splits and inserting the collectives they need.
#include "ShardTensors.h"

#include "conveyor/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::sharding {

namespace {

/// How the ranks of a tensor-parallel group hold one value.
struct Layout {
  enum Kind { Replicated, Split, Partial, Free } kind = Replicated;
  int64_t axis = -1; // Split: the dimension cut into `parts` equal pieces
  int64_t parts = 1; // Split: distinct pieces; tp / parts consecutive ranks share one
  /// Split of a fused projection (GPT-2's q|k|v): the dimension is `sections` equal
  /// sections and a rank holds its part of each, side by side.
  int64_t sections = 1;
  static Layout split(int64_t axis, int64_t parts, int64_t sections = 1) {
    return {Split, axis, parts, sections};
  }
  bool operator==(const Layout &other) const {
    return kind == other.kind && axis == other.axis && parts == other.parts &&
           sections == other.sections;
  }
};

RankedTensorType tensorType(Value value) { return cast<RankedTensorType>(value.getType()); }

bool isParameter(Value value) {
  return isa_and_nonnull<WeightOp, ConstantOp>(value.getDefiningOp());
}

class FunctionSharder {
public:
  FunctionSharder(func::FuncOp func, int64_t tp, ShardStats &stats,
                  const llvm::DenseSet<Operation *> &replicated)
      : func(func), funcOp(func.getOperation()), tp(tp), stats(stats), replicated(replicated),
        builder(func.getContext()) {}

  LogicalResult run() {
    if (failed(visitBlock(func.getBody().front()))) {
      return failure();
    }
    if (badGather) {
      return badGather->emitOpError("needs a whole fused projection (q|k|v) that is split per "
                                    "section; conveyor-partition cannot gather it");
    }
    applyTypes();
    for (Operation *op : replaced) {
      if (op->use_empty()) {
        op->erase();
      }
    }
    return success();
  }

private:
  func::FuncOp func;
  Operation *funcOp;
  int64_t tp;
  ShardStats &stats;
  const llvm::DenseSet<Operation *> &replicated;
  OpBuilder builder;
  llvm::DenseMap<Value, Layout> layouts;
  llvm::DenseMap<Value, Value> gathered;
  llvm::SetVector<Operation *> replaced;
  Operation *badGather = nullptr;

  Layout get(Value value) const {
    if (auto it = layouts.find(value); it != layouts.end()) {
      return it->second;
    }
    auto argument = dyn_cast<BlockArgument>(value);
    if (argument && argument.getOwner()->getParentOp() == funcOp) {
      return {Layout::Free};
    }
    return {};
  }

  bool divisible(Value value, int64_t axis, int64_t parts, int64_t sections = 1) const {
    RankedTensorType type = tensorType(value);
    return axis >= 0 && axis < type.getRank() && parts >= 2 &&
           type.getDimSize(axis) % (parts * sections) == 0;
  }

  /// Lets a function argument not yet used take `layout` (its type becomes the shard).
  bool adopt(Value value, Layout layout) {
    if (get(value).kind != Layout::Free || !divisible(value, layout.axis, layout.parts)) {
      return false;
    }
    layouts[value] = layout;
    return true;
  }

  /// Makes `use` read a full copy: a split value goes through one all_gather.
  void makeReplicated(OpOperand &use) {
    Value value = use.get();
    Layout layout = get(value);
    if (layout.kind == Layout::Free) {
      layouts[value] = Layout{};
      return;
    }
    if (layout.kind != Layout::Split) {
      return;
    }
    if (layout.sections > 1 && !badGather) {
      badGather = use.getOwner(); // an all_gather would interleave the sections wrongly
    }
    Value full = gathered.lookup(value);
    if (!full) {
      builder.setInsertionPointAfterValue(value);
      full = builder.create<AllGatherOp>(value.getLoc(), value.getType(), value, layout.axis, tp,
                                         layout.parts);
      layouts[full] = Layout{};
      gathered[value] = full;
      ++stats.allGathers;
    }
    use.set(full);
  }

  void replicateOperands(Operation *op) {
    for (OpOperand &use : op->getOpOperands()) {
      makeReplicated(use);
    }
  }

  /// Every rank holds a partial sum of `value`: reduce it right after `op`.
  void reduceAfter(Operation *op, Value value) {
    builder.setInsertionPointAfter(op);
    auto reduce = builder.create<AllReduceOp>(op->getLoc(), value.getType(), value, tp, "sum");
    value.replaceAllUsesExcept(reduce.getResult(), reduce);
    layouts[value] = {Layout::Partial};
    layouts[reduce.getResult()] = Layout{};
    ++stats.allReduces;
  }

  /// Gives `use` its own shape-only weight holding one rank's shard along `axis`.
  bool shardParameter(OpOperand &use, int64_t axis, int64_t parts, int64_t sections = 1) {
    Value value = use.get();
    Operation *producer = value.getDefiningOp();
    if (!isParameter(value) || !divisible(value, axis, parts, sections)) {
      return false;
    }
    std::string name = "parameter";
    if (auto weight = dyn_cast<WeightOp>(producer)) {
      name = weight.getName().str();
    } else if (auto constant = dyn_cast<ConstantOp>(producer); constant && constant.getName()) {
      name = constant.getName()->str();
    }
    builder.setInsertionPoint(use.getOwner());
    auto weight =
        builder.create<WeightOp>(producer->getLoc(), value.getType(), builder.getStringAttr(name));
    for (NamedAttribute attribute : producer->getDiscardableAttrs()) {
      weight->setAttr(attribute.getName(), attribute.getValue());
    }
    weight->setAttr("shard", sections > 1 ? builder.getDenseI64ArrayAttr({axis, parts, sections})
                                          : builder.getDenseI64ArrayAttr({axis, parts}));
    use.set(weight.getResult());
    layouts[weight.getResult()] = Layout::split(axis, parts, sections);
    replaced.insert(producer);
    ++stats.shardedWeights;
    return true;
  }

  LogicalResult visitBlock(Block &block) {
    SmallVector<Operation *> ops;
    for (Operation &op : block) {
      ops.push_back(&op);
    }
    for (Operation *op : ops) {
      if (failed(visit(op))) {
        return failure();
      }
    }
    return success();
  }

  LogicalResult visit(Operation *op) {
    if (isa<WeightOp, ConstantOp, AllReduceOp, AllGatherOp, RecvOp, YieldOp>(op)) {
      return success(); // a yield is handled by its cv.graph.repeat
    }
    if (replicated.contains(op)) {
      replicateOperands(op);
      return success();
    }
    for (Value operand : op->getOperands()) {
      if (get(operand).sections > 1 && !isa<AddOp, SplitOp>(op)) {
        // An all_gather would interleave the sections wrongly.
        return op->emitOpError("reads a fused projection split per section (q|k|v); "
                               "conveyor-partition supports only a bias add and a split after it");
      }
    }
    if (auto split = dyn_cast<SplitOp>(op)) {
      visitSplit(split);
      return success();
    }
    if (auto matmul = dyn_cast<MatMulOp>(op)) {
      visitMatMul(matmul);
    } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      visitReshape(reshape);
    } else if (auto transpose = dyn_cast<TransposeOp>(op)) {
      Layout in = get(transpose.getInput());
      if (in.kind == Layout::Split) {
        ArrayRef<int64_t> perm = transpose.getPerm();
        int64_t axis = llvm::find(perm, in.axis) - perm.begin();
        layouts[transpose.getResult()] = Layout::split(axis, in.parts);
      } else {
        replicateOperands(op);
      }
    } else if (auto expand = dyn_cast<ExpandOp>(op)) {
      visitExpand(expand);
    } else if (auto concat = dyn_cast<ConcatOp>(op)) {
      visitConcat(concat);
    } else if (isa<RmsNormOp, LayerNormOp>(op)) {
      visitNorm(op);
    } else if (auto mlp = dyn_cast<GatedMlpOp>(op)) {
      visitGatedMlp(mlp);
    } else if (auto moe = dyn_cast<MoeOp>(op)) {
      visitMoe(moe);
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      visitAttention(attention);
    } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
      makeReplicated(op->getOpOperand(1));
      if (shardParameter(op->getOpOperand(0), 0, tp)) {
        reduceAfter(op, embedding.getResult());
      }
    } else if (auto head = dyn_cast<LmHeadOp>(op)) {
      makeReplicated(op->getOpOperand(0));
      if (shardParameter(op->getOpOperand(1), 1, tp)) {
        layouts[head.getResult()] = Layout::split(tensorType(head.getResult()).getRank() - 1, tp);
      }
    } else if (auto repeat = dyn_cast<RepeatOp>(op)) {
      return visitRepeat(repeat);
    } else if (isa<func::ReturnOp>(op)) {
      visitReturn(op);
    } else if (isElementwise(op)) {
      visitElementwise(op);
    } else {
      replicateOperands(op); // send, norms, gathers, slices, ...: run on full values
    }
    return success();
  }

  static bool isElementwise(Operation *op) {
    return op->getNumResults() == 1 &&
           (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, WhereOp, EqualOp, LessOp,
                LessEqualOp, GreaterOp, GreaterEqualOp, AndOp, OrOp, CastOp, RotaryOp, SoftmaxOp>(
                op) ||
            op->hasTrait<OpTrait::SameOperandsAndResultType>());
  }

  void visitMatMul(MatMulOp matmul) {
    Value lhs = matmul.getLhs(), rhs = matmul.getRhs(), result = matmul.getResult();
    RankedTensorType lhsType = tensorType(lhs), rhsType = tensorType(rhs);
    int64_t rank = tensorType(result).getRank();
    Layout left = get(lhs);
    if (isParameter(rhs) && rhsType.getRank() == 2) {
      // Row split: the input is already split along the contraction (o_proj, down_proj).
      if (left.kind == Layout::Split && left.axis == lhsType.getRank() - 1 && left.parts == tp &&
          shardParameter(matmul->getOpOperand(1), 0, tp)) {
        reduceAfter(matmul, result);
        return;
      }
      makeReplicated(matmul->getOpOperand(0));
      // Column split, keeping heads whole when a reshape to [.., heads, head_dim] follows;
      // a fused q|k|v projection (an equal split after it, maybe after a bias) is split
      // per section.
      int64_t sections = 1;
      Value piece = result;
      Operation *consumer = result.hasOneUse() ? *result.getUsers().begin() : nullptr;
      if (isa_and_nonnull<AddOp>(consumer) && consumer->getResult(0).hasOneUse()) {
        consumer = *consumer->getResult(0).getUsers().begin();
      }
      if (auto split = dyn_cast_or_null<SplitOp>(consumer)) {
        ArrayRef<int64_t> sizes = split.getSizes();
        if (split.getAxis() == static_cast<uint64_t>(rank - 1) && sizes.size() >= 2 &&
            llvm::all_equal(sizes)) {
          sections = sizes.size();
          piece = split.getResult(0);
        }
      }
      int64_t columns = rhsType.getDimSize(1) / sections, groups = columns;
      if (piece.hasOneUse()) {
        if (auto reshape = dyn_cast<ReshapeOp>(*piece.getUsers().begin())) {
          RankedTensorType out = reshape.getType();
          if (out.getRank() == rank + 1 &&
              out.getDimSize(rank) * out.getDimSize(rank - 1) == columns) {
            groups = out.getDimSize(rank - 1);
          }
        }
      }
      int64_t parts = groups % tp == 0 ? tp : (tp % groups == 0 ? groups : 0);
      if (parts >= 2 && shardParameter(matmul->getOpOperand(1), 1, parts, sections)) {
        layouts[result] = Layout::split(rank - 1, parts, sections);
      }
      return;
    }
    // Two activations (attention scores, context): split along a shared batch dim (heads).
    Layout right = get(rhs);
    if (left.kind == Layout::Split && right.kind == Layout::Free) {
      adopt(rhs, left);
      right = get(rhs);
    } else if (right.kind == Layout::Split && left.kind == Layout::Free) {
      adopt(lhs, right);
      left = get(lhs);
    }
    if (left.kind == Layout::Split && left == right && lhsType.getRank() == rank &&
        rhsType.getRank() == rank && left.axis < rank - 2) {
      layouts[result] = left;
      return;
    }
    replicateOperands(matmul);
  }

  void visitReshape(ReshapeOp reshape) {
    Layout in = get(reshape.getInput());
    if (in.kind != Layout::Split) {
      replicateOperands(reshape);
      return;
    }
    ArrayRef<int64_t> from = tensorType(reshape.getInput()).getShape();
    ArrayRef<int64_t> to = reshape.getType().getShape();
    int64_t prefix = 1;
    for (int64_t i = 0; i < in.axis; ++i) {
      prefix *= from[i];
    }
    int64_t outPrefix = 1;
    for (int64_t j = 0; j < static_cast<int64_t>(to.size()); ++j) {
      if (outPrefix == prefix && to[j] > 1 && to[j] % in.parts == 0) {
        layouts[reshape.getResult()] = Layout::split(j, in.parts);
        return;
      }
      outPrefix *= to[j];
      if (outPrefix > prefix) {
        break;
      }
    }
    replicateOperands(reshape);
  }

  /// A split along the split dimension of a per-section layout gives each section's part
  /// (the fused q|k|v); along another dimension every piece keeps the split.
  void visitSplit(SplitOp split) {
    Layout in = get(split.getInput());
    int64_t axis = split.getAxis();
    if (in.kind == Layout::Split && in.axis == axis &&
        in.sections == static_cast<int64_t>(split.getNumResults())) {
      SmallVector<int64_t> sizes;
      for (int64_t size : split.getSizes()) {
        sizes.push_back(size / in.parts);
      }
      split.setSizes(sizes);
      for (Value piece : split.getResults()) {
        layouts[piece] = Layout::split(axis, in.parts);
      }
      return;
    }
    if (in.kind == Layout::Split && in.axis != axis && in.sections == 1) {
      for (Value piece : split.getResults()) {
        layouts[piece] = in;
      }
      return;
    }
    replicateOperands(split);
  }

  void visitExpand(ExpandOp expand) {
    Layout in = get(expand.getInput());
    RankedTensorType from = tensorType(expand.getInput()), to = expand.getType();
    int64_t axis = in.axis + (to.getRank() - from.getRank());
    if (in.kind == Layout::Split && from.getDimSize(in.axis) == to.getDimSize(axis)) {
      layouts[expand.getResult()] = Layout::split(axis, in.parts);
      return;
    }
    replicateOperands(expand);
  }

  void visitConcat(ConcatOp concat) {
    std::optional<Layout> split;
    for (Value input : concat.getInputs()) {
      if (get(input).kind == Layout::Split) {
        split = get(input);
        break;
      }
    }
    bool ok = split && split->axis != static_cast<int64_t>(concat.getAxis());
    for (Value input : concat.getInputs()) {
      if (!ok) {
        break;
      }
      ok = get(input) == *split || adopt(input, *split);
    }
    if (ok) {
      layouts[concat.getResult()] = *split;
      return;
    }
    replicateOperands(concat);
  }

  /// Elementwise ops (numpy broadcasting), softmax and rotary: the result keeps a split
  /// when every operand is split the same way or broadcasts along the split dimension.
  void visitElementwise(Operation *op) {
    Value result = op->getResult(0);
    int64_t rank = tensorType(result).getRank();
    std::optional<Layout> split;
    for (Value operand : op->getOperands()) {
      Layout layout = get(operand);
      if (layout.kind == Layout::Split) {
        split = Layout::split(layout.axis + rank - tensorType(operand).getRank(), layout.parts,
                              layout.sections);
        break;
      }
    }
    bool ok = split.has_value();
    if (ok) {
      if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
        int64_t axis = softmax.getAxis() < 0 ? softmax.getAxis() + rank : softmax.getAxis();
        ok = axis != split->axis;
      }
      if (isa<RotaryOp>(op)) {
        ok = split->axis != rank - 1;
      }
    }
    for (Value operand : op->getOperands()) {
      if (!ok) {
        break;
      }
      RankedTensorType type = tensorType(operand);
      int64_t axis = split->axis - (rank - type.getRank());
      Layout layout = get(operand);
      Layout local = Layout::split(axis, split->parts, split->sections);
      if (layout.kind == Layout::Split) {
        ok = layout == local;
      } else if (axis < 0 || type.getDimSize(axis) == 1) {
        ok = true; // broadcasts along the split dimension: every rank uses all of it
      } else if (isParameter(operand) && !replicated.contains(operand.getDefiningOp())) {
        // A bias after a column split: each rank adds its columns.
        OpOperand *use = nullptr;
        for (OpOperand &each : op->getOpOperands()) {
          if (each.get() == operand) {
            use = &each;
          }
        }
        ok = shardParameter(*use, axis, split->parts, split->sections);
      } else {
        ok = split->sections == 1 && adopt(operand, local);
      }
    }
    if (ok) {
      layouts[result] = *split;
      return;
    }
    replicateOperands(op);
  }

  /// A norm over trailing dimensions keeps a split of a leading one (Qwen3's per-head
  /// q/k norms); its scale and bias cover only the trailing dimensions.
  void visitNorm(Operation *op) {
    Value input = op->getOperand(0);
    Layout in = get(input);
    int64_t rank = tensorType(input).getRank();
    int64_t axis = op->getAttrOfType<IntegerAttr>("axis").getInt();
    axis = axis < 0 ? axis + rank : axis;
    bool ok = in.kind == Layout::Split && in.axis < axis;
    for (Value operand : op->getOperands().drop_front()) {
      ok = ok && get(operand).kind != Layout::Split;
    }
    if (ok) {
      layouts[op->getResult(0)] = in;
      return;
    }
    replicateOperands(op);
  }

  void visitGatedMlp(GatedMlpOp mlp) {
    makeReplicated(mlp->getOpOperand(0));
    int64_t ffn = tensorType(mlp.getWGate()).getDimSize(1);
    if (isParameter(mlp.getWGate()) && isParameter(mlp.getWUp()) && isParameter(mlp.getWDown()) &&
        ffn % tp == 0) {
      shardParameter(mlp->getOpOperand(1), 1, tp);
      shardParameter(mlp->getOpOperand(2), 1, tp);
      shardParameter(mlp->getOpOperand(3), 0, tp);
      reduceAfter(mlp, mlp.getResult());
    }
  }

  void visitMoe(MoeOp moe) {
    makeReplicated(moe->getOpOperand(0));
    RankedTensorType gate = tensorType(moe.getWGate());
    bool params = isParameter(moe.getWGate()) && isParameter(moe.getWDown()) &&
                  (!moe.getWUp() || isParameter(moe.getWUp()));
    if (!params || gate.getRank() != 3 || gate.getDimSize(2) % tp != 0) {
      return;
    }
    // Every expert split by ffn columns: each rank runs all chosen experts on its columns.
    shardParameter(moe.getWGateMutable(), 2, tp);
    if (moe.getWUp()) {
      shardParameter(moe.getWUpMutable()[0], 2, tp);
    }
    shardParameter(moe.getWDownMutable(), 1, tp);
    reduceAfter(moe, moe.getResult());
  }

  void visitAttention(AttentionOp attention) {
    Layout query = get(attention.getQuery());
    bool ok = query.kind == Layout::Split && query.axis == 1;
    for (Value kv : {attention.getKey(), attention.getValue()}) {
      if (!ok) {
        break;
      }
      Layout layout = get(kv);
      if (layout.kind == Layout::Free) {
        ok = adopt(kv, query);
        layout = get(kv);
      }
      ok =
          ok && layout.kind == Layout::Split && layout.axis == 1 && query.parts % layout.parts == 0;
    }
    if (ok && attention.getMask()) {
      RankedTensorType mask = tensorType(attention.getMask());
      ok = get(attention.getMask()).kind != Layout::Split &&
           (mask.getRank() < 3 || mask.getDimSize(mask.getRank() - 3) == 1);
    }
    if (ok && attention.getSinks()) {
      ok = shardParameter(attention.getSinksMutable()[0], 0, query.parts);
    }
    if (ok) {
      layouts[attention.getResult()] = query;
      return;
    }
    replicateOperands(attention);
  }

  LogicalResult visitRepeat(RepeatOp repeat) {
    Block &body = repeat.getBody().front();
    for (OpOperand &init : repeat.getInitsMutable()) {
      makeReplicated(init);
    }
    for (BlockArgument argument : body.getArguments()) {
      layouts[argument] = Layout{};
    }
    if (failed(visitBlock(body))) {
      return failure();
    }
    auto yield = cast<YieldOp>(body.getTerminator());
    for (unsigned i = 0; i < yield.getValues().size(); ++i) {
      if (i < repeat.getInits().size()) {
        makeReplicated(yield->getOpOperand(i));
      }
      layouts[repeat.getResult(i)] = get(yield.getValues()[i]);
    }
    return success();
  }

  void visitReturn(Operation *ret) {
    for (OpOperand &use : ret->getOpOperands()) {
      bool perLayer = func.getResultAttr(use.getOperandNumber(), kPerLayerAttr) != nullptr;
      Layout layout = get(use.get());
      if (perLayer && layout.kind == Layout::Split) {
        func.setResultAttr(use.getOperandNumber(), kShardAttr,
                           builder.getDenseI64ArrayAttr({layout.axis, layout.parts}));
        continue; // each rank returns (keeps) its own heads of the KV cache
      }
      makeReplicated(use);
    }
  }

  void applyTypes() {
    auto shardType = [](Value value, const Layout &layout) {
      RankedTensorType type = tensorType(value);
      SmallVector<int64_t> shape(type.getShape());
      shape[layout.axis] /= layout.parts;
      value.setType(RankedTensorType::get(shape, type.getElementType()));
    };
    for (auto &[value, layout] : layouts) {
      if (layout.kind == Layout::Split) {
        shardType(value, layout);
      }
    }
    Block &entry = func.getBody().front();
    for (BlockArgument argument : entry.getArguments()) {
      Layout layout = get(argument);
      if (layout.kind == Layout::Split) {
        func.setArgAttr(argument.getArgNumber(), kShardAttr,
                        builder.getDenseI64ArrayAttr({layout.axis, layout.parts}));
      }
    }
    func.setFunctionType(FunctionType::get(func.getContext(), entry.getArgumentTypes(),
                                           entry.getTerminator()->getOperandTypes()));
  }
};

} // namespace

LogicalResult shardFunction(func::FuncOp func, int64_t tp, ShardStats &stats,
                            const llvm::DenseSet<Operation *> &replicated) {
  if (tp < 2) {
    return success();
  }
  return FunctionSharder(func, tp, stats, replicated).run();
}

} // namespace conveyor::sharding
