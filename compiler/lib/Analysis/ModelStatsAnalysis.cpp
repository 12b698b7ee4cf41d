// Model statistics over a cv.graph module: parameters, matmul MACs (masks read), KV cache.
//
// Everything here is read off the graph, not from a model config: which tensors are
// parameters, which matmuls multiply weights and which multiply two activations
// (attention), how many (query, key) pairs a mask leaves, and which inputs are KV caches.
// docs/model-stats.md states each rule; this file is their implementation.
#include "conveyor/Analysis/ModelStatsAnalysis.h"

#include "ConstantTensorEvaluator.h"

#include "conveyor/Dialect/Graph/GraphOps.h"

#include "conveyor/Dialect/Graph/TiedCopy.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

using namespace mlir;

namespace conveyor::analysis {

namespace {

/// An additive mask entry at or below this hides its key: exp() of a score shifted this
/// far underflows to 0 in every float format, so the pair contributes nothing.
constexpr double kMaskedAdditiveValue = -1.0e4;

/// How far backward a PV matmul is searched for the score matmul whose mask it shares.
constexpr unsigned kMaskSearchLimit = 256;

/// Names of buffers that exports store as float initializers but that are not
/// parameters (computed from constants: RoPE tables, HF's causal-mask buffers).
bool isBufferName(StringRef name) {
  for (StringRef suffix : {"inv_freq", "cos_cached", "sin_cached", "cos_cache", "sin_cache",
                           "masked_bias", "attn.bias", "causal_mask"}) {
    // Whole name components only: "h.0.attn.bias" is a buffer, "h.0.c_attn.bias" is not.
    if (name == suffix || (name.ends_with(suffix) &&
                           StringRef(".:/").contains(name[name.size() - suffix.size() - 1]))) {
      return true;
    }
  }
  return false;
}

RankedTensorType staticType(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.hasStaticShape() ? type : RankedTensorType();
}

uint64_t elementCount(RankedTensorType type) {
  uint64_t count = 1;
  for (int64_t dim : type.getShape()) {
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

uint64_t storedBytes(uint64_t elements, Type elementType) {
  unsigned bits = elementType.isIntOrFloat() ? elementType.getIntOrFloatBitWidth() : 32;
  return (elements * bits + 7) / 8;
}

/// Ops that only move or retype elements: a value passed through them is still "the
/// same tensor" for deciding what is a weight, a table or a cache.
bool isDataMovement(Operation *op) {
  return isa<graph::ReshapeOp, graph::TransposeOp, graph::ExpandOp, graph::CastOp, graph::SliceOp,
             graph::SplitOp, graph::ConcatOp>(op);
}

/// Matrix products: matmul and gemm, and the fused transformer ops made of them
/// (conveyor-graph-fuse-transformer's lm_head and gated_mlp), so that the analysis gives
/// the same numbers before and after fusion.
bool isMatmul(Operation *op) {
  return isa<graph::MatMulOp, graph::GemmOp, graph::LmHeadOp, graph::GatedMlpOp,
             // Attention and MoE
             graph::AttentionOp, graph::MoeOp>(op);
}

/// One way a mask hides (query, key) pairs of attention scores.
enum class MaskKind {
  Additive,   // scores + mask: hidden where mask <= kMaskedAdditiveValue
  KeepIfTrue, // where(cond, scores, very negative): hidden where cond is false
  KeepIfFalse // where(cond, very negative, scores): hidden where cond is true
};
using MaskTerm = std::pair<Value, MaskKind>;
using MaskSet = SmallVector<MaskTerm, 2>;

/// What a mask leaves: `allowed` of `total` entries of the broadcast mask, and the most
/// keys any one query row keeps (the sliding window, when below the key count).
struct MaskCount {
  uint64_t allowed = 0, total = 0;
  int64_t maxKeysPerRow = 0, keysPerRow = 0;
  bool resolved = false;
};

enum class MatmulKind { Weight, Attention, ConstantOperands, BufferOperand };

struct MatmulInfo {
  Operation *op;
  MatmulKind kind;
  uint64_t denseMacs = 0;
  int64_t keys = 0;            // attention: keys per query (K of QK^T, contraction of PV)
  std::optional<MaskSet> mask; // attention: the mask applied to its scores, if any
  // Attention and MoE
  unsigned products = 1;            // matmuls a fused op stands for (attention: QK and PV)
  std::optional<MaskCount> builtIn; // cv.graph.attention's causal / window mask, counted
};

class GraphAnalyzer {
public:
  explicit GraphAnalyzer(func::FuncOp main) : main(main) {
    computeDataDependence();
    findParameterCandidates();
  }

  /// Sorts matmuls into weight / attention / other and finds attention masks. With
  /// `requireStaticShapes`, a dynamic matmul is an error (MACs need sizes); without, its
  /// MACs are left 0 (parameter analysis of a symbolic module).
  LogicalResult classifyMatmuls(bool requireStaticShapes);
  ParameterStats parameters();
  CallMacs macs();
  FailureOr<std::optional<KvCacheStats>> kvCache();

private:
  void computeDataDependence();
  void findParameterCandidates();
  bool meetsData(Value value);
  void findTiedCopies();
  bool isParameterDerived(Value value);
  MaskSet forwardMasks(Value scores);
  std::optional<MaskSet> inheritedMask(Operation *matmul);
  const MaskCount &countMask(const MaskSet &mask);
  bool isVeryNegative(Value value);
  void classifyFusedOp(Operation *op, bool isStatic, MatmulInfo &info);
  SmallVector<Operation *> sourceParameters(Value value);
  bool reachesReturn(Value value, bool throughBiasAdds);

  bool dependsOnInputs(Value value) const { return dataDependent.contains(value); }

  func::FuncOp main;
  DenseSet<Value> dataDependent;
  SetVector<Operation *> parameterOps;           // in block order, tied copies included
  DenseMap<Operation *, Operation *> tiedCopies; // copy -> the parameter it copies
  DenseMap<Value, bool> parameterDerived;
  std::vector<MatmulInfo> matmuls;
  DenseMap<Operation *, size_t> matmulIndex;
  std::map<std::vector<std::pair<void *, int>>, MaskCount> maskCounts;
  detail::ConstantTensorEvaluator evaluator;
};

void GraphAnalyzer::computeDataDependence() {
  for (BlockArgument argument : main.getArguments()) {
    dataDependent.insert(argument);
  }
  main.walk([&](Operation *op) {
    if (llvm::any_of(op->getOperands(), [&](Value v) { return dataDependent.contains(v); })) {
      dataDependent.insert(op->getResults().begin(), op->getResults().end());
    }
  });
}

/// A constant "meets data" when it, or a pure copy of it, is an operand of an op whose
/// result depends on the model inputs: a norm scale multiplies activations, a table is
/// gathered by token ids. RoPE's inverse frequencies only meet positions, so they don't.
bool GraphAnalyzer::meetsData(Value value) {
  SmallVector<Value> worklist{value};
  DenseSet<Value> seen{value};
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    for (Operation *user : current.getUsers()) {
      if (llvm::any_of(user->getResults(), [&](Value r) { return dependsOnInputs(r); })) {
        return true;
      }
      if (isDataMovement(user) || isa<graph::GatherOp>(user)) {
        for (Value result : user->getResults()) {
          if (seen.insert(result).second) {
            worklist.push_back(result);
          }
        }
      }
    }
  }
  return false;
}

void GraphAnalyzer::findParameterCandidates() {
  main.walk([&](Operation *op) {
    if (isa<graph::WeightOp>(op)) {
      parameterOps.insert(op);
      return;
    }
    auto constant = dyn_cast<graph::ConstantOp>(op);
    if (!constant) {
      return;
    }
    auto type = cast<RankedTensorType>(constant.getType());
    if (!isa<FloatType>(type.getElementType()) || type.getNumElements() < 2) {
      return;
    }
    if (constant.getName() && isBufferName(*constant.getName())) {
      return;
    }
    if (meetsData(constant.getResult())) {
      parameterOps.insert(op);
    }
  });
  findTiedCopies();
}

/// True when two dense constants hold the same elements, `transposed` comparing a 2-D
/// [a, b] tensor with a [b, a] one element (i, j) against (j, i).
bool sameElements(DenseElementsAttr a, DenseElementsAttr b, bool transposed) {
  if (a.getElementType() != b.getElementType() || a.isSplat() || b.isSplat() ||
      a.getElementType().isInteger(1)) {
    return false;
  }
  ArrayRef<char> rawA = a.getRawData(), rawB = b.getRawData();
  if (rawA.size() != rawB.size()) {
    return false;
  }
  if (!transposed) {
    return std::memcmp(rawA.data(), rawB.data(), rawA.size()) == 0;
  }
  int64_t rows = a.getType().getDimSize(0), columns = a.getType().getDimSize(1);
  size_t width = rawA.size() / static_cast<size_t>(rows * columns);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < columns; ++j) {
      if (std::memcmp(rawA.data() + (i * columns + j) * width, rawB.data() + (j * rows + i) * width,
                      width) != 0) {
        return false;
      }
    }
  }
  return true;
}

/// torch.onnx.export's constant folding can store one tensor twice (a tied embedding
/// table and its transposed copy for the LM head): such copies count once.
void GraphAnalyzer::findTiedCopies() {
  // A shape-only tied LM head (fuse-transformer's `<table>.lm_head_t`) names its table.
  llvm::StringMap<Operation *> weightsByName;
  for (Operation *op : parameterOps) {
    if (auto weight = dyn_cast<graph::WeightOp>(op)) {
      weightsByName.try_emplace(weight.getName(), op);
    }
  }
  for (Operation *op : parameterOps) {
    if (auto of = op->getAttrOfType<StringAttr>(graph::kTiedCopyOfAttr)) {
      if (auto it = weightsByName.find(of.getValue()); it != weightsByName.end()) {
        tiedCopies[op] = it->second;
      }
    }
  }
  SmallVector<graph::ConstantOp> candidates;
  for (Operation *op : parameterOps) {
    auto constant = dyn_cast<graph::ConstantOp>(op);
    if (!constant || cast<RankedTensorType>(constant.getType()).getRank() < 2) {
      continue;
    }
    auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
    if (!dense || dense.isSplat()) {
      continue;
    }
    auto shape = cast<RankedTensorType>(constant.getType()).getShape();
    for (graph::ConstantOp earlier : candidates) {
      auto earlierDense = cast<DenseElementsAttr>(earlier.getValue());
      auto earlierShape = cast<RankedTensorType>(earlier.getType()).getShape();
      bool copy = (shape == earlierShape && sameElements(earlierDense, dense, false)) ||
                  (shape.size() == 2 && earlierShape.size() == 2 && shape[0] == earlierShape[1] &&
                   shape[1] == earlierShape[0] && sameElements(earlierDense, dense, true));
      if (copy) {
        tiedCopies[op] = earlier.getOperation();
        break;
      }
    }
    if (!tiedCopies.contains(op)) {
      candidates.push_back(constant);
    }
  }
}

/// A value is parameter-derived when it is a parameter, or a copy / slice / gather of one
/// (the gathered experts of an MoE layer, a transposed tied table).
bool GraphAnalyzer::isParameterDerived(Value value) {
  if (auto it = parameterDerived.find(value); it != parameterDerived.end()) {
    return it->second;
  }
  parameterDerived[value] = false;
  bool derived = false;
  if (Operation *op = value.getDefiningOp()) {
    if (parameterOps.contains(op) || tiedCopies.contains(op)) {
      derived = true;
    } else if (auto gather = dyn_cast<graph::GatherOp>(op)) {
      derived = isParameterDerived(gather.getData());
    } else if (isDataMovement(op)) {
      derived = llvm::any_of(op->getOperands(), [&](Value v) { return isParameterDerived(v); });
    }
  }
  parameterDerived[value] = derived;
  return derived;
}

/// The parameter ops a value is a copy, slice or gather of.
SmallVector<Operation *> GraphAnalyzer::sourceParameters(Value value) {
  SmallVector<Operation *> sources;
  SmallVector<Value> worklist{value};
  DenseSet<Value> seen{value};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val().getDefiningOp();
    if (!op) {
      continue;
    }
    if (auto copy = tiedCopies.find(op); copy != tiedCopies.end()) {
      sources.push_back(copy->second); // a tied copy stands for its original
      continue;
    }
    if (parameterOps.contains(op)) {
      sources.push_back(op);
      continue;
    }
    SmallVector<Value> next;
    if (auto gather = dyn_cast<graph::GatherOp>(op)) {
      next.push_back(gather.getData());
    } else if (isDataMovement(op)) {
      next.append(op->operand_begin(), op->operand_end());
    }
    for (Value v : next) {
      if (seen.insert(v).second) {
        worklist.push_back(v);
      }
    }
  }
  return sources;
}

/// True when every element of a (small) input-independent tensor hides a score.
bool GraphAnalyzer::isVeryNegative(Value value) {
  RankedTensorType type = staticType(value);
  if (!type || dependsOnInputs(value) || !evaluator.canEvaluate(value) ||
      type.getNumElements() > 64) {
    return false;
  }
  for (int64_t i = 0; i < type.getNumElements(); ++i) {
    if (evaluator.at(value, i) > kMaskedAdditiveValue) {
      return false;
    }
  }
  return true;
}

/// Masks applied to attention scores between the score matmul and the softmax: scaling
/// by an input-independent factor passes through; adding an input-independent tensor or
/// selecting with an input-independent condition against a very negative fill is a mask.
MaskSet GraphAnalyzer::forwardMasks(Value scores) {
  MaskSet masks;
  SmallVector<Value> worklist{scores};
  DenseSet<Value> seen{scores};
  auto sameShape = [](Value a, Value b) { return a.getType() == b.getType(); };
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    for (OpOperand &use : current.getUses()) {
      Operation *user = use.getOwner();
      Value next;
      if (isa<graph::MulOp, graph::DivOp>(user) && sameShape(user->getResult(0), current)) {
        Value other = user->getOperand(1 - use.getOperandNumber());
        if (!dependsOnInputs(other) && (isa<graph::MulOp>(user) || use.getOperandNumber() == 0)) {
          next = user->getResult(0);
        }
      } else if (isa<graph::AddOp>(user) && sameShape(user->getResult(0), current)) {
        Value other = user->getOperand(1 - use.getOperandNumber());
        if (!dependsOnInputs(other)) {
          masks.push_back({other, MaskKind::Additive});
          next = user->getResult(0);
        }
      } else if (auto where = dyn_cast<graph::WhereOp>(user);
                 where && sameShape(where.getResult(), current) &&
                 !dependsOnInputs(where.getCondition()) && use.getOperandNumber() != 0) {
        bool scoresIfTrue = use.getOperandNumber() == 1;
        Value fill = scoresIfTrue ? where.getRhs() : where.getLhs();
        if (isVeryNegative(fill)) {
          masks.push_back(
              {where.getCondition(), scoresIfTrue ? MaskKind::KeepIfTrue : MaskKind::KeepIfFalse});
          next = where.getResult();
        }
      }
      if (next && seen.insert(next).second) {
        worklist.push_back(next);
      }
    }
  }
  return masks;
}

/// For an attention matmul with no mask of its own (P x V), the mask of the score matmul
/// its operands come from: searched backward through non-matmul ops on activations.
std::optional<MaskSet> GraphAnalyzer::inheritedMask(Operation *matmul) {
  SmallVector<Value> worklist(matmul->operand_begin(), matmul->operand_end());
  DenseSet<Value> seen(worklist.begin(), worklist.end());
  SetVector<Operation *> found;
  unsigned steps = 0;
  while (!worklist.empty() && steps++ < kMaskSearchLimit) {
    Value current = worklist.pop_back_val();
    Operation *op = current.getDefiningOp();
    if (!op || !dependsOnInputs(current)) {
      continue;
    }
    if (isMatmul(op)) {
      auto it = matmulIndex.find(op);
      if (it != matmulIndex.end() && matmuls[it->second].kind == MatmulKind::Attention &&
          matmuls[it->second].mask && !matmuls[it->second].mask->empty()) {
        found.insert(op);
      }
      continue;
    }
    for (Value operand : op->getOperands()) {
      if (seen.insert(operand).second) {
        worklist.push_back(operand);
      }
    }
  }
  if (found.size() != 1) {
    return std::nullopt;
  }
  return matmuls[matmulIndex.lookup(found.front())].mask;
}

/// Counts the entries every term of `mask` keeps, over the terms' broadcast shape.
const MaskCount &GraphAnalyzer::countMask(const MaskSet &mask) {
  std::vector<std::pair<void *, int>> key;
  for (auto [value, kind] : mask) {
    key.push_back({value.getAsOpaquePointer(), static_cast<int>(kind)});
  }
  auto it = maskCounts.find(key);
  if (it != maskCounts.end()) {
    return it->second;
  }
  MaskCount count;
  SmallVector<int64_t> shape;
  bool ok = true;
  for (auto [value, kind] : mask) {
    RankedTensorType type = staticType(value);
    if (!type || !evaluator.canEvaluate(value)) {
      ok = false;
      break;
    }
    ArrayRef<int64_t> dims = type.getShape();
    if (dims.size() > shape.size()) {
      shape.insert(shape.begin(), dims.size() - shape.size(), 1);
    }
    for (size_t i = 0; i < dims.size(); ++i) {
      int64_t &slot = shape[shape.size() - dims.size() + i];
      slot = std::max(slot, dims[i]);
    }
  }
  if (ok && !shape.empty()) {
    // Per term: its strides in the broadcast shape (0 where it repeats).
    SmallVector<SmallVector<int64_t>> strides;
    for (auto [value, kind] : mask) {
      ArrayRef<int64_t> dims = staticType(value).getShape();
      SmallVector<int64_t> termStrides(shape.size(), 0);
      int64_t stride = 1;
      for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
        if (dims[i] != 1) {
          termStrides[shape.size() - dims.size() + i] = stride;
        }
        stride *= dims[i];
      }
      strides.push_back(std::move(termStrides));
    }
    int64_t keys = shape.back();
    uint64_t total = 1;
    for (int64_t dim : shape) {
      total *= static_cast<uint64_t>(dim);
    }
    count.total = total;
    count.keysPerRow = keys;
    int64_t rowAllowed = 0;
    SmallVector<int64_t> coords(shape.size(), 0);
    for (uint64_t flat = 0; flat < total; ++flat) {
      bool allowed = true;
      for (size_t t = 0; t < mask.size() && allowed; ++t) {
        int64_t index = 0;
        for (size_t d = 0; d < shape.size(); ++d) {
          index += coords[d] * strides[t][d];
        }
        double element = evaluator.at(mask[t].first, index);
        switch (mask[t].second) {
        case MaskKind::Additive:
          allowed = element > kMaskedAdditiveValue;
          break;
        case MaskKind::KeepIfTrue:
          allowed = element != 0.0;
          break;
        case MaskKind::KeepIfFalse:
          allowed = element == 0.0;
          break;
        }
      }
      if (allowed) {
        ++count.allowed;
        ++rowAllowed;
      }
      // Advance the row-major coordinates; a row ends when the key coordinate wraps.
      for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        if (++coords[d] < shape[d]) {
          break;
        }
        coords[d] = 0;
        if (d == static_cast<int64_t>(shape.size()) - 1) {
          count.maxKeysPerRow = std::max(count.maxKeysPerRow, rowAllowed);
          rowAllowed = 0;
        }
      }
    }
    count.resolved = true;
  }
  return maskCounts[key] = count;
}

// Attention and MoE
/// cv.graph.attention: QK^T and PV as one attention entry (their mask counted in closed
/// form for `causal` / `sliding_window`, by the evaluator for a `mask` operand);
/// cv.graph.moe: the router and top_k experts' matmuls per token, as weight matmuls.
void GraphAnalyzer::classifyFusedOp(Operation *op, bool isStatic, MatmulInfo &info) {
  if (auto attention = dyn_cast<graph::AttentionOp>(op)) {
    info.kind = MatmulKind::Attention;
    info.products = 2;
    RankedTensorType query = staticType(attention.getQuery());
    RankedTensorType key = staticType(attention.getKey());
    RankedTensorType value = staticType(attention.getValue());
    if (!isStatic || !query || !key || !value) {
      return;
    }
    uint64_t rows = static_cast<uint64_t>(query.getDimSize(2));
    int64_t keys = key.getDimSize(2);
    uint64_t pairs = elementCount(query) / static_cast<uint64_t>(query.getDimSize(3)) *
                     static_cast<uint64_t>(keys); // b * heads * s * t
    info.denseMacs =
        pairs * static_cast<uint64_t>(query.getDimSize(3) + value.getDimSize(3));
    info.keys = keys;
    if (attention.getMask()) {
      info.mask = MaskSet{{attention.getMask(), MaskKind::Additive}};
      if (attention.getCausal()) {
        info.builtIn = MaskCount(); // both kinds at once: reported as unresolved
      }
      return;
    }
    if (!attention.getCausal()) {
      return;
    }
    // Query row i sits at position t - s + i and sees keys (p - window, p].
    MaskCount count;
    int64_t window = attention.getSlidingWindow();
    int64_t firstPosition = keys - static_cast<int64_t>(rows);
    for (uint64_t i = 0; i < rows; ++i) {
      int64_t visible = std::max<int64_t>(0, std::min(firstPosition + int64_t(i) + 1, keys));
      if (window > 0) {
        visible = std::min(visible, window);
      }
      count.allowed += static_cast<uint64_t>(visible);
      count.maxKeysPerRow = std::max(count.maxKeysPerRow, visible);
    }
    count.total = rows * static_cast<uint64_t>(keys);
    count.keysPerRow = keys;
    count.resolved = true;
    info.builtIn = count;
    return;
  }
  auto moe = cast<graph::MoeOp>(op);
  info.kind = MatmulKind::Weight;
  info.products = moe.getWUp() ? 4 : 3;
  RankedTensorType input = staticType(moe.getInput()), router = staticType(moe.getWRouter());
  RankedTensorType gate = staticType(moe.getWGate()), down = staticType(moe.getWDown());
  RankedTensorType up = moe.getWUp() ? staticType(moe.getWUp()) : RankedTensorType();
  if (!isStatic || !input || !router || !gate || !down || (moe.getWUp() && !up)) {
    return;
  }
  uint64_t hidden = static_cast<uint64_t>(router.getDimSize(0));
  uint64_t experts = static_cast<uint64_t>(router.getDimSize(1));
  uint64_t tokens = elementCount(input) / hidden;
  uint64_t perExpert = (elementCount(gate) + (up ? elementCount(up) : 0) + elementCount(down)) /
                       experts;
  uint64_t chosen = std::min<uint64_t>(moe.getTopK(), experts);
  info.denseMacs = tokens * (hidden * experts + chosen * perExpert);
}

LogicalResult GraphAnalyzer::classifyMatmuls(bool requireStaticShapes) {
  WalkResult walk = main.walk([&](Operation *op) {
    if (!isMatmul(op)) {
      return WalkResult::advance();
    }
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    RankedTensorType resultType = staticType(op->getResult(0));
    RankedTensorType lhsType = staticType(lhs), rhsType = staticType(rhs);
    bool isStatic = resultType && lhsType && rhsType;
    if (!isStatic && requireStaticShapes) {
      op->emitOpError("has a dynamic shape; bind the symbolic dimensions (batch, seq, past) "
                      "when importing before counting FLOPs");
      return WalkResult::interrupt();
    }
    MatmulInfo info{op, MatmulKind::Weight};
    // Attention and MoE
    if (isa<graph::AttentionOp, graph::MoeOp>(op)) {
      classifyFusedOp(op, isStatic, info);
      matmulIndex[op] = matmuls.size();
      matmuls.push_back(std::move(info));
      return WalkResult::advance();
    }
    if (auto mlp = dyn_cast<graph::GatedMlpOp>(op)) {
      // (act(x W_gate) * (x W_up)) W_down: three weight matmuls per token.
      RankedTensorType gate = staticType(mlp.getWGate()), down = staticType(mlp.getWDown());
      if (isStatic && gate && down) {
        uint64_t tokens = elementCount(lhsType) / static_cast<uint64_t>(gate.getDimSize(0));
        info.denseMacs = tokens * (2 * elementCount(gate) + elementCount(down));
      }
      matmulIndex[op] = matmuls.size();
      matmuls.push_back(std::move(info));
      return WalkResult::advance();
    }
    if (isStatic) {
      int64_t contraction = lhsType.getShape().back();
      if (auto gemm = dyn_cast<graph::GemmOp>(op)) {
        contraction = gemm.getTransA() ? lhsType.getDimSize(0) : lhsType.getDimSize(1);
      }
      info.denseMacs = elementCount(resultType) * static_cast<uint64_t>(contraction);
    }
    bool lhsData = dependsOnInputs(lhs), rhsData = dependsOnInputs(rhs);
    if (!lhsData && !rhsData) {
      info.kind = MatmulKind::ConstantOperands;
    } else if (isParameterDerived(lhs) || isParameterDerived(rhs)) {
      info.kind = MatmulKind::Weight;
    } else if (lhsData && rhsData) {
      info.kind = MatmulKind::Attention;
    } else {
      info.kind = MatmulKind::BufferOperand;
    }
    matmulIndex[op] = matmuls.size();
    matmuls.push_back(std::move(info));
    return WalkResult::advance();
  });
  if (walk.wasInterrupted()) {
    return failure();
  }
  // Score matmuls first (their masks follow them), then the P x V ones inherit.
  for (MatmulInfo &info : matmuls) {
    if (info.kind == MatmulKind::Attention && !isa<graph::AttentionOp>(info.op)) {
      MaskSet mask = forwardMasks(info.op->getResult(0));
      if (!mask.empty()) {
        info.mask = std::move(mask);
        if (RankedTensorType type = staticType(info.op->getResult(0))) {
          info.keys = type.getShape().back();
        }
      }
    }
  }
  for (MatmulInfo &info : matmuls) {
    if (info.kind == MatmulKind::Attention && !info.mask && !isa<graph::AttentionOp>(info.op)) {
      info.mask = inheritedMask(info.op);
      if (RankedTensorType type = staticType(info.op->getOperand(0))) {
        info.keys = type.getShape().back();
      }
    }
  }
  return success();
}

ParameterStats GraphAnalyzer::parameters() {
  // Constants that only build masks (tiny exports store the causal mask as a float
  // initializer) are buffers, not parameters.
  DenseSet<Operation *> maskBuffers;
  for (const MatmulInfo &info : matmuls) {
    if (!info.mask) {
      continue;
    }
    for (auto [value, kind] : *info.mask) {
      SmallVector<Value> worklist{value};
      DenseSet<Value> seen{value};
      while (!worklist.empty()) {
        Operation *op = worklist.pop_back_val().getDefiningOp();
        if (!op) {
          continue;
        }
        maskBuffers.insert(op);
        for (Value operand : op->getOperands()) {
          if (seen.insert(operand).second) {
            worklist.push_back(operand);
          }
        }
      }
    }
  }

  // Tables read by Gather, and the ones gathered by a router's top-k indices (experts).
  DenseMap<Operation *, uint64_t> activeElements; // routed tables: elements per token
  DenseSet<Operation *> tables;
  main.walk([&](Operation *lookup) {
    // A fused MoE's expert tensors are routed tables, top_k of E active
    if (auto moe = dyn_cast<graph::MoeOp>(lookup)) {
      for (Value weight : {moe.getWGate(), moe.getWUp(), moe.getWDown()}) {
        int64_t experts = weight ? cast<RankedTensorType>(weight.getType()).getDimSize(0) : 0;
        if (experts <= 0 || ShapedType::isDynamic(experts)) {
          continue;
        }
        for (Operation *source : sourceParameters(weight)) {
          uint64_t elements = elementCount(cast<RankedTensorType>(source->getResult(0).getType()));
          activeElements[source] = elements / static_cast<uint64_t>(experts) *
                                   static_cast<uint64_t>(std::min<int64_t>(moe.getTopK(), experts));
        }
      }
      return;
    }
    Value data, indices;
    int64_t axis = 0;
    if (auto gather = dyn_cast<graph::GatherOp>(lookup)) {
      data = gather.getData();
      indices = gather.getIndices();
      axis = gather.getAxis();
    } else if (auto embedding = dyn_cast<graph::EmbeddingOp>(lookup)) {
      data = embedding.getTable();
      indices = embedding.getIds();
    }
    if (!data || !isParameterDerived(data)) {
      return;
    }
    // Do the indices come from TopK (through reshapes)?
    std::optional<int64_t> topK;
    SmallVector<Value> worklist{indices};
    DenseSet<Value> seen{indices};
    while (!worklist.empty() && !topK) {
      Value current = worklist.pop_back_val();
      if (auto topk = current.getDefiningOp<graph::TopKOp>()) {
        if (current == topk.getIndices()) {
          topK = topk.getK();
        }
        continue;
      }
      Operation *op = current.getDefiningOp();
      if (op && isDataMovement(op)) {
        for (Value operand : op->getOperands()) {
          if (seen.insert(operand).second) {
            worklist.push_back(operand);
          }
        }
      }
    }
    int64_t experts = cast<RankedTensorType>(data.getType()).getDimSize(axis);
    for (Operation *source : sourceParameters(data)) {
      uint64_t elements = elementCount(cast<RankedTensorType>(source->getResult(0).getType()));
      if (topK && experts > 0 && !ShapedType::isDynamic(experts)) {
        activeElements[source] = elements / static_cast<uint64_t>(experts) *
                                 static_cast<uint64_t>(std::min<int64_t>(*topK, experts));
      } else {
        tables.insert(source);
      }
    }
  });

  // The LM head: weights of the matmuls whose result is a graph output.
  DenseSet<Operation *> lmHead;
  for (const MatmulInfo &info : matmuls) {
    if (info.kind != MatmulKind::Weight || !reachesReturn(info.op->getResult(0), true)) {
      continue;
    }
    for (Value operand : info.op->getOperands()) {
      for (Operation *source : sourceParameters(operand)) {
        lmHead.insert(source);
      }
    }
  }

  ParameterStats stats;
  for (auto [copy, original] : tiedCopies) {
    ++stats.tiedCopies;
    stats.tiedCopyElements += elementCount(cast<RankedTensorType>(copy->getResult(0).getType()));
  }
  uint64_t untiedInputTables = 0;
  for (Operation *op : parameterOps) {
    if (tiedCopies.contains(op) || maskBuffers.contains(op)) {
      continue;
    }
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    uint64_t elements = elementCount(type);
    ++stats.tensors;
    stats.total += elements;
    stats.storedBytes += storedBytes(elements, type.getElementType());
    bool isTable = tables.contains(op);
    bool isHead = lmHead.contains(op);
    if (isTable) {
      stats.embedding += elements;
      if (!isHead) {
        untiedInputTables += elements;
      }
    } else if (isHead) {
      stats.lmHead += elements;
    }
    if (auto it = activeElements.find(op); it != activeElements.end() && !isTable) {
      stats.routedExperts += elements;
      stats.active += it->second;
    } else {
      stats.active += elements;
    }
  }
  stats.nonEmbedding = stats.total - stats.embedding - stats.lmHead;
  stats.activeExcludingInputEmbedding = stats.active - untiedInputTables;
  return stats;
}

/// Whether `value` reaches a graph output through data movement only. For the LM head
/// (`throughBiasAdds`): also through adds of parameter-derived biases, but not through
/// concats (a projection concatenated into a KV-cache output is no LM head).
bool GraphAnalyzer::reachesReturn(Value value, bool throughBiasAdds) {
  SmallVector<Value> worklist{value};
  DenseSet<Value> seen{value};
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    for (OpOperand &use : current.getUses()) {
      Operation *user = use.getOwner();
      if (isa<func::ReturnOp>(user)) {
        return true;
      }
      // A KV-cache update (concat with the past) is not a path to the logits.
      bool follow = isDataMovement(user) && !(throughBiasAdds && isa<graph::ConcatOp>(user));
      if (throughBiasAdds && isa<graph::AddOp>(user)) {
        follow = isParameterDerived(user->getOperand(1 - use.getOperandNumber()));
      }
      if (follow) {
        for (Value result : user->getResults()) {
          if (seen.insert(result).second) {
            worklist.push_back(result);
          }
        }
      }
    }
  }
  return false;
}

CallMacs GraphAnalyzer::macs() {
  CallMacs macs;
  for (const MatmulInfo &info : matmuls) {
    switch (info.kind) {
    case MatmulKind::Weight:
      macs.weightMatmul += info.denseMacs;
      macs.weightMatmuls += info.products;
      break;
    case MatmulKind::ConstantOperands:
      macs.constantOperands += info.denseMacs;
      break;
    case MatmulKind::BufferOperand:
      macs.bufferOperand += info.denseMacs;
      break;
    case MatmulKind::Attention: {
      macs.attentionMatmuls += info.products;
      macs.attentionDense += info.denseMacs;
      uint64_t useful = info.denseMacs;
      if (info.builtIn || (info.mask && !info.mask->empty())) {
        const MaskCount &count = info.builtIn ? *info.builtIn : countMask(*info.mask);
        if (count.resolved && count.total > 0 && info.denseMacs % count.total == 0) {
          useful = info.denseMacs / count.total * count.allowed;
          macs.maskedAttentionMatmuls += info.products;
        } else {
          macs.unresolvedMasks += info.products;
        }
      }
      macs.attention += useful;
      break;
    }
    }
  }
  return macs;
}

FailureOr<std::optional<KvCacheStats>> GraphAnalyzer::kvCache() {
  KvCacheStats stats;
  bool failedShape = false;
  main.walk([&](graph::ConcatOp concat) {
    bool fromArgument =
        llvm::any_of(concat.getInputs(), [](Value v) { return isa<BlockArgument>(v); });
    if (!fromArgument || !reachesReturn(concat.getResult(), false)) {
      return WalkResult::advance();
    }
    RankedTensorType type = staticType(concat.getResult());
    if (!type) {
      concat.emitOpError("is a KV-cache update with a dynamic shape; bind the symbolic "
                         "dimensions (batch, seq, past) when importing");
      failedShape = true;
      return WalkResult::interrupt();
    }
    int64_t length = type.getDimSize(concat.getAxis());
    if (length <= 0) {
      return WalkResult::advance();
    }
    uint64_t perToken = elementCount(type) / static_cast<uint64_t>(length);
    ++stats.cacheTensors;
    stats.elementsPerToken += perToken;
    stats.storedBytesPerToken += storedBytes(perToken, type.getElementType());
    // Read only through a sliding window? Follow the cache to the attention matmuls.
    int64_t window = 0;
    SmallVector<Value> worklist{concat.getResult()};
    DenseSet<Value> seen{concat.getResult()};
    while (!worklist.empty()) {
      Value current = worklist.pop_back_val();
      for (Operation *user : current.getUsers()) {
        if (isMatmul(user)) {
          auto it = matmulIndex.find(user);
          if (it == matmulIndex.end()) {
            continue;
          }
          const MatmulInfo &info = matmuls[it->second];
          if (info.kind == MatmulKind::Attention &&
              (info.builtIn || (info.mask && !info.mask->empty()))) {
            const MaskCount &count = info.builtIn ? *info.builtIn : countMask(*info.mask);
            if (count.resolved && count.keysPerRow == info.keys &&
                count.maxKeysPerRow < info.keys) {
              window = std::max(window, count.maxKeysPerRow);
            }
          }
        } else if (isDataMovement(user)) {
          for (Value result : user->getResults()) {
            if (seen.insert(result).second) {
              worklist.push_back(result);
            }
          }
        }
      }
    }
    if (window > 0) {
      ++stats.windowedCacheTensors;
      stats.windowedElementsPerToken += perToken;
      stats.slidingWindow = std::max(stats.slidingWindow, window);
    }
    return WalkResult::advance();
  });
  if (failedShape) {
    return failure();
  }
  if (stats.cacheTensors == 0) {
    return std::optional<KvCacheStats>();
  }
  return std::optional<KvCacheStats>(stats);
}

FailureOr<func::FuncOp> findMain(ModuleOp module) {
  if (auto main = module.lookupSymbol<func::FuncOp>("main")) {
    return main;
  }
  auto functions = module.getOps<func::FuncOp>();
  if (!functions.empty() && std::next(functions.begin()) == functions.end()) {
    return *functions.begin();
  }
  module.emitError("has no func.func @main to analyse (the ONNX importer creates one)");
  return failure();
}

} // namespace

//===----------------------------------------------------------------------===//
// Precision helpers (MLIR-free declarations in ModelStats.h)
//===----------------------------------------------------------------------===//

const char *precisionName(Precision precision) {
  switch (precision) {
  case Precision::FP32:
    return "fp32";
  case Precision::BF16:
    return "bf16";
  case Precision::FP16:
    return "fp16";
  case Precision::FP8:
    return "fp8";
  case Precision::INT8:
    return "int8";
  case Precision::INT4:
    return "int4";
  }
  return "?";
}

unsigned precisionBits(Precision precision) {
  switch (precision) {
  case Precision::FP32:
    return 32;
  case Precision::BF16:
  case Precision::FP16:
    return 16;
  case Precision::FP8:
  case Precision::INT8:
    return 8;
  case Precision::INT4:
    return 4;
  }
  return 0;
}

std::optional<Precision> parsePrecision(std::string_view name) {
  std::string lower(name);
  for (char &c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (Precision precision : kAllPrecisions) {
    if (lower == precisionName(precision)) {
      return precision;
    }
  }
  return std::nullopt;
}

Status parseDimAssignments(std::string_view text, std::map<std::string, int64_t> &dims) {
  StringRef rest(text.data(), text.size());
  while (!rest.trim().empty()) {
    auto [entry, tail] = rest.split(',');
    rest = tail;
    auto [name, size] = entry.trim().split('=');
    int64_t value = 0;
    if (name.trim().empty() || size.trim().getAsInteger(10, value) || value < 0) {
      return Status(makeError("--dims: '" + entry.trim().str() +
                              "' is not name=size with a size >= 0 (e.g. --dims batch=1,seq=8)"));
    }
    dims[name.trim().str()] = value;
  }
  return Status::success();
}

uint64_t bytesAtPrecision(uint64_t elements, Precision precision) {
  return (elements * precisionBits(precision) + 7) / 8;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

FailureOr<ParameterStats> analyzeParameters(ModuleOp module) {
  FailureOr<func::FuncOp> main = findMain(module);
  if (failed(main)) {
    return failure();
  }
  GraphAnalyzer analyzer(*main);
  // Shapes may be symbolic: the matmuls are only needed to find mask buffers.
  if (failed(analyzer.classifyMatmuls(/*requireStaticShapes=*/false))) {
    return failure();
  }
  return analyzer.parameters();
}

FailureOr<GraphStats> analyzeGraph(ModuleOp module) {
  FailureOr<func::FuncOp> main = findMain(module);
  if (failed(main)) {
    return failure();
  }
  GraphAnalyzer analyzer(*main);
  if (failed(analyzer.classifyMatmuls(/*requireStaticShapes=*/true))) {
    return failure();
  }
  GraphStats stats;
  stats.params = analyzer.parameters();
  stats.macs = analyzer.macs();
  FailureOr<std::optional<KvCacheStats>> kv = analyzer.kvCache();
  if (failed(kv)) {
    return failure();
  }
  stats.kvCache = *kv;
  return stats;
}

} // namespace conveyor::analysis
