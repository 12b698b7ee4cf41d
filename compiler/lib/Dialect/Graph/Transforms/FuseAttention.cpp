// Scaled dot-product attention recognition (MHA / GQA, KV cache, causal and sliding-window
// masks) for conveyor-graph-fuse-transformer.
//
// The matched core is softmax(mask(scale * q @ k^T)) @ v with the K/V head repeat of GQA
// (reshape + expand + reshape) absorbed. Masks are recognised by what they compute, not by
// how an exporter spelled them: the mask subgraph depends only on symbolic sizes, so it is
// evaluated for a few bindings of those sizes and compared with the causal (and sliding-
// window) rule. Masks that are neither stay an explicit additive `mask` operand.
#include "TransformerPatterns.h"

#include "PatternSupport.h"

#include "conveyor/Dialect/Graph/SymbolicDim.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <set>

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::graph::patterns {

namespace {

/// An additive mask entry at or below this hides its key (exp underflows to 0 after the
/// softmax's max subtraction in every float format); the same threshold ModelStats uses.
constexpr double kMaskedValue = -1.0e4;

/// Masks up to this many entries (query rows x keys, in one binding) are checked whole;
/// larger ones only in their first and last two rows.
constexpr int64_t kEvaluationBudget = 1 << 20;

/// Longer key rows than this are not evaluated.
constexpr int64_t kMaxKeys = 1 << 17;

using Shape = SmallVector<int64_t>;

/// Evaluates tensors that depend only on constants and symbolic sizes (iota, dim_value)
/// for one binding of the size names, one element at a time.
class SizeOnlyEvaluator {
public:
  explicit SizeOnlyEvaluator(llvm::StringMap<int64_t> sizes) : sizes(std::move(sizes)) {}

  /// The shape of `value` under the binding; std::nullopt when unknown or unsupported.
  std::optional<Shape> shape(Value value) {
    auto found = shapes.find(value);
    if (found != shapes.end()) {
      return found->second;
    }
    std::optional<Shape> result = computeShape(value);
    shapes[value] = result;
    return result;
  }

  /// The element of `value` at `coords` (one per dimension), as a double (i1 is 0 / 1).
  std::optional<double> at(Value value, ArrayRef<int64_t> coords) {
    Operation *op = value.getDefiningOp();
    if (!op) {
      return std::nullopt;
    }
    if (auto constant = dyn_cast<ConstantOp>(op)) {
      return constantAt(constant, coords);
    }
    if (auto dims = dyn_cast<DimValueOp>(op)) {
      std::optional<int64_t> flat = flatIndex(*shape(value), coords);
      auto exprs = dims.getExprs();
      if (!flat || *flat >= static_cast<int64_t>(exprs.size())) {
        return std::nullopt;
      }
      std::optional<DimExpr> expr = DimExpr::parse(cast<StringAttr>(exprs[*flat]).getValue());
      std::optional<int64_t> size = expr ? expr->evaluate(sizes) : std::nullopt;
      return size ? std::optional<double>(static_cast<double>(*size)) : std::nullopt;
    }
    if (isa<IotaOp>(op)) {
      return static_cast<double>(coords[0]);
    }
    if (auto cast = dyn_cast<CastOp>(op)) {
      std::optional<double> input = at(cast.getInput(), coords);
      Type element = cast.getType().getElementType();
      if (!input || !element.isIntOrFloat()) {
        return std::nullopt;
      }
      if (element.isInteger(1)) {
        return *input != 0.0 ? 1.0 : 0.0;
      }
      return isa<IntegerType>(element) ? std::trunc(*input) : *input;
    }
    if (isa<ReshapeOp>(op)) {
      // Row-major order is kept: map through the flat index.
      std::optional<Shape> inputShape = shape(op->getOperand(0));
      std::optional<int64_t> flat = flatIndex(*shape(value), coords);
      if (!inputShape || !flat) {
        return std::nullopt;
      }
      Shape inputCoords(inputShape->size());
      for (int64_t i = static_cast<int64_t>(inputShape->size()) - 1; i >= 0; --i) {
        inputCoords[i] = *flat % (*inputShape)[i];
        *flat /= (*inputShape)[i];
      }
      return at(op->getOperand(0), inputCoords);
    }
    if (auto trilu = dyn_cast<TriluOp>(op)) {
      int64_t rank = coords.size();
      int64_t offset = coords[rank - 1] - coords[rank - 2];
      bool keep = trilu.getUpper() ? offset >= trilu.getK() : offset <= trilu.getK();
      return keep ? at(trilu.getInput(), coords) : std::optional<double>(0.0);
    }
    // Broadcasting ops: each operand is read at the broadcast coordinates.
    SmallVector<double, 3> operands;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      std::optional<double> operand = operandAt(op, i, coords);
      if (!operand) {
        return std::nullopt;
      }
      operands.push_back(*operand);
    }
    return applyElementwise(op, operands);
  }

private:
  llvm::StringMap<int64_t> sizes;
  llvm::DenseMap<Value, std::optional<Shape>> shapes;

  static bool isElementwise(Operation *op) {
    return isa<AddOp, SubOp, MulOp, DivOp, GreaterOp, GreaterEqualOp, LessOp, LessEqualOp, EqualOp,
               AndOp, OrOp, NotOp, NegOp, WhereOp, CastOp, ExpandOp>(op);
  }

  static std::optional<int64_t> flatIndex(ArrayRef<int64_t> shape, ArrayRef<int64_t> coords) {
    if (shape.size() != coords.size()) {
      return std::nullopt;
    }
    int64_t flat = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (coords[i] < 0 || coords[i] >= shape[i]) {
        return std::nullopt;
      }
      flat = flat * shape[i] + coords[i];
    }
    return flat;
  }

  std::optional<Shape> computeShape(Value value) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    Operation *op = value.getDefiningOp();
    if (!type || !op ||
        !(isElementwise(op) || isa<ConstantOp, DimValueOp, IotaOp, ReshapeOp, TriluOp>(op))) {
      return std::nullopt;
    }
    // Every operand must be evaluable too (no model input anywhere below).
    for (Value operand : op->getOperands()) {
      if (!shape(operand)) {
        return std::nullopt;
      }
    }
    if (type.hasStaticShape()) {
      return Shape(type.getShape());
    }
    if (auto dims = op->getAttrOfType<ArrayAttr>(kDimsAttrName)) {
      if (static_cast<int64_t>(dims.size()) != type.getRank()) {
        return std::nullopt;
      }
      Shape result;
      for (auto [i, attr] : llvm::enumerate(dims)) {
        auto text = dyn_cast<StringAttr>(attr);
        if (!text) {
          return std::nullopt;
        }
        if (text.getValue().empty()) {
          if (type.isDynamicDim(i)) {
            return std::nullopt;
          }
          result.push_back(type.getDimSize(i));
          continue;
        }
        std::optional<DimExpr> expr = DimExpr::parse(text.getValue());
        std::optional<int64_t> size = expr ? expr->evaluate(sizes) : std::nullopt;
        if (!size || *size < 0) {
          return std::nullopt;
        }
        result.push_back(*size);
      }
      return result;
    }
    if (isa<TriluOp>(op)) {
      return shape(op->getOperand(0));
    }
    if (!isElementwise(op) || isa<ExpandOp>(op)) {
      return std::nullopt;
    }
    // Numpy broadcasting of the operands, aligned from the right.
    Shape result(type.getRank(), 1);
    for (Value operand : op->getOperands()) {
      Shape operandShape = *shape(operand);
      int64_t offset = type.getRank() - static_cast<int64_t>(operandShape.size());
      if (offset < 0) {
        return std::nullopt;
      }
      for (size_t i = 0; i < operandShape.size(); ++i) {
        int64_t &size = result[offset + i];
        if (operandShape[i] != 1) {
          if (size != 1 && size != operandShape[i]) {
            return std::nullopt;
          }
          size = operandShape[i];
        }
      }
    }
    return result;
  }

  std::optional<double> operandAt(Operation *op, unsigned index, ArrayRef<int64_t> coords) {
    Value operand = op->getOperand(index);
    Shape operandShape = *shape(operand);
    int64_t offset = static_cast<int64_t>(coords.size()) - operandShape.size();
    Shape operandCoords(operandShape.size());
    for (size_t i = 0; i < operandShape.size(); ++i) {
      operandCoords[i] = operandShape[i] == 1 ? 0 : coords[offset + i];
    }
    return at(operand, operandCoords);
  }

  std::optional<double> constantAt(ConstantOp constant, ArrayRef<int64_t> coords) {
    auto attr = dyn_cast<DenseElementsAttr>(constant.getValue());
    std::optional<int64_t> flat = flatIndex(constant.getType().getShape(), coords);
    if (!attr || !flat) {
      return std::nullopt;
    }
    int64_t index = attr.isSplat() ? 0 : *flat;
    Type element = attr.getElementType();
    if (isa<FloatType>(element)) {
      return (*(attr.value_begin<APFloat>() + index)).convertToDouble();
    }
    if (element.isInteger(1)) {
      return (*(attr.value_begin<bool>() + index)) ? 1.0 : 0.0;
    }
    if (isa<IntegerType>(element)) {
      return static_cast<double>((*(attr.value_begin<APInt>() + index)).getSExtValue());
    }
    return std::nullopt;
  }

  static std::optional<double> applyElementwise(Operation *op, ArrayRef<double> x) {
    auto truth = [](bool b) { return std::optional<double>(b ? 1.0 : 0.0); };
    return llvm::TypeSwitch<Operation *, std::optional<double>>(op)
        .Case([&](AddOp) { return x[0] + x[1]; })
        .Case([&](SubOp) { return x[0] - x[1]; })
        .Case([&](MulOp) { return x[0] * x[1]; })
        .Case([&](DivOp div) -> std::optional<double> {
          if (x[1] == 0.0) {
            return std::nullopt;
          }
          bool integer = isa<IntegerType>(div.getType().getElementType());
          return integer ? std::trunc(x[0] / x[1]) : x[0] / x[1];
        })
        .Case([&](GreaterOp) { return truth(x[0] > x[1]); })
        .Case([&](GreaterEqualOp) { return truth(x[0] >= x[1]); })
        .Case([&](LessOp) { return truth(x[0] < x[1]); })
        .Case([&](LessEqualOp) { return truth(x[0] <= x[1]); })
        .Case([&](EqualOp) { return truth(x[0] == x[1]); })
        .Case([&](AndOp) { return truth(x[0] != 0.0 && x[1] != 0.0); })
        .Case([&](OrOp) { return truth(x[0] != 0.0 || x[1] != 0.0); })
        .Case([&](NotOp) { return truth(x[0] == 0.0); })
        .Case([&](NegOp) { return -x[0]; })
        .Case([&](WhereOp) { return x[0] != 0.0 ? x[1] : x[2]; })
        .Case([&](ExpandOp) { return x[0]; })
        .Default([](Operation *) { return std::nullopt; });
  }
};

/// How a mask value hides keys: a boolean that is true where the key is hidden, a
/// boolean that is true where it is visible, or additive float entries.
enum class MaskForm { HiddenWhereTrue, VisibleWhereTrue, Additive };

/// What a mask turned out to compute.
struct MaskMeaning {
  bool causal = false;
  int64_t slidingWindow = 0;
};

/// Collects the size names the subgraph of `value` uses (DimValue and cv.dims texts).
void collectSizeNames(Value value, std::set<std::string> &names,
                      llvm::DenseSet<Operation *> &seen) {
  Operation *op = value.getDefiningOp();
  if (!op || !seen.insert(op).second) {
    return;
  }
  auto addTexts = [&](ArrayAttr texts) {
    for (Attribute attr : texts) {
      auto text = dyn_cast<StringAttr>(attr);
      std::optional<DimExpr> expr =
          text && !text.getValue().empty() ? DimExpr::parse(text.getValue()) : std::nullopt;
      if (expr) {
        for (const std::string &name : expr->getSymbols()) {
          names.insert(name);
        }
      }
    }
  };
  if (auto dims = dyn_cast<DimValueOp>(op)) {
    addTexts(dims.getExprs());
  }
  if (auto dims = op->getAttrOfType<ArrayAttr>(kDimsAttrName)) {
    addTexts(dims);
  }
  for (Value operand : op->getOperands()) {
    collectSizeNames(operand, names, seen);
  }
}

/// Checks one binding: every query row i (absolute position p = t - s + i) must see
/// exactly the keys (p - window, p] (window 0: [0, p]). Updates `window` when a row
/// reveals it. False when the mask is anything else.
bool checkBinding(SizeOnlyEvaluator &evaluator, Value mask, MaskForm form, bool &sawQueryRows,
                  int64_t &window) {
  std::optional<Shape> shape = evaluator.shape(mask);
  if (!shape || shape->size() < 2) {
    return false;
  }
  int64_t rank = shape->size();
  for (int64_t i = 0; i + 2 < rank; ++i) {
    if ((*shape)[i] != 1) {
      return false; // a per-batch or per-head mask is not a plain causal one
    }
  }
  int64_t rows = (*shape)[rank - 2], keys = (*shape)[rank - 1];
  if (rows > keys || keys > kMaxKeys) {
    return false;
  }
  sawQueryRows |= rows > 1;
  // Every row of a small mask; the first and last two of a big one (the last rows reveal
  // a window, the first ones the alignment of queries to the end of the keys).
  SmallVector<int64_t> rowsToCheck;
  for (int64_t i = 0; i < rows; ++i) {
    if (rows * keys <= kEvaluationBudget || i < 2 || i >= rows - 2) {
      rowsToCheck.push_back(i);
    }
  }
  Shape coords(rank, 0);
  for (int64_t i : rowsToCheck) {
    int64_t position = keys - rows + i;
    int64_t oldestVisible = -1; // first visible key of this row
    for (int64_t j = 0; j < keys; ++j) {
      coords[rank - 2] = i;
      coords[rank - 1] = j;
      std::optional<double> entry = evaluator.at(mask, coords);
      if (!entry) {
        return false;
      }
      bool hidden;
      switch (form) {
      case MaskForm::HiddenWhereTrue:
        hidden = *entry != 0.0;
        break;
      case MaskForm::VisibleWhereTrue:
        hidden = *entry == 0.0;
        break;
      case MaskForm::Additive:
        if (*entry != 0.0 && *entry > kMaskedValue) {
          return false; // a bias, not a mask
        }
        hidden = *entry != 0.0;
        break;
      }
      if (j > position) {
        if (!hidden) {
          return false; // a future key is visible
        }
      } else if (!hidden && oldestVisible < 0) {
        oldestVisible = j;
      } else if (hidden && oldestVisible >= 0) {
        return false; // a hole inside the visible range
      }
    }
    if (oldestVisible < 0) {
      return false; // a row that sees nothing (not even itself)
    }
    if (oldestVisible > 0) {
      int64_t rowWindow = position - oldestVisible + 1;
      if (window != 0 && window != rowWindow) {
        return false;
      }
      window = rowWindow;
    } else if (window != 0 && position + 1 > window) {
      return false; // an earlier row showed a window this row does not keep to
    }
  }
  return true;
}

} // namespace

/// The causal / sliding-window meaning of `mask`, or std::nullopt when it is not one.
/// `pastName` is the size name of the cached positions (empty when there is no cache).
static std::optional<MaskMeaning> interpretMask(Value mask, MaskForm form, StringRef pastName,
                                                bool oneQueryRow) {
  std::set<std::string> names;
  llvm::DenseSet<Operation *> seen;
  collectSizeNames(mask, names, seen);
  // (cached positions, every other size): covers an empty cache, single-token decode,
  // and caches long enough to reveal windows up to 65536 keys. Without a cache size name
  // (prefill-only exports) the long probes make every size long instead.
  const std::pair<int64_t, int64_t> probes[] = {{0, 3}, {2, 2}, {5, 4}, {4100, 2}, {65540, 1}};
  bool sawQueryRows = false;
  bool anyProbe = false;
  int64_t window = 0;
  for (auto [past, other] : probes) {
    llvm::StringMap<int64_t> sizes;
    bool usesPast = false;
    for (const std::string &name : names) {
      usesPast |= !pastName.empty() && name == pastName;
    }
    for (const std::string &name : names) {
      bool isPast = usesPast && name == pastName;
      sizes[name] = isPast ? past : (!usesPast && past > 5 ? past : other);
    }
    if (anyProbe && names.empty()) {
      break; // a static mask has one meaning
    }
    SizeOnlyEvaluator evaluator(std::move(sizes));
    if (!checkBinding(evaluator, mask, form, sawQueryRows, window)) {
      return std::nullopt;
    }
    anyProbe = true;
  }
  if (!anyProbe || (!sawQueryRows && !oneQueryRow)) {
    return std::nullopt; // a one-row mask could be broadcast over several query rows
  }
  return MaskMeaning{true, window};
}

/// True when the 1-D `indices` and the last dimension of `mask` have one length under a
/// few bindings of the size names (the dynamic form of "keys 0 .. t-1").
static bool sameLength(Value indices, Value mask, StringRef pastName) {
  std::set<std::string> names;
  llvm::DenseSet<Operation *> seen;
  collectSizeNames(indices, names, seen);
  collectSizeNames(mask, names, seen);
  for (auto [past, other] : {std::pair<int64_t, int64_t>{0, 3}, {2, 2}, {5, 4}}) {
    llvm::StringMap<int64_t> sizes;
    for (const std::string &name : names) {
      sizes[name] = !pastName.empty() && name == pastName ? past : other;
    }
    SizeOnlyEvaluator evaluator(std::move(sizes));
    std::optional<Shape> length = evaluator.shape(indices);
    std::optional<Shape> maskShape = evaluator.shape(mask);
    if (!length || !maskShape || length->size() != 1 || maskShape->empty() ||
        (*length)[0] != maskShape->back()) {
      return false;
    }
  }
  return true;
}

namespace {

/// The absorbed GQA repeat: reshape [b, kv, t, d] -> [b, kv, 1, t, d], expand to
/// [b, kv, n, t, d], reshape to [b, kv * n, t, d]. Returns the un-repeated tensor (or
/// `value` itself when there is no repeat) and adds the repeat's ops to `chain`.
Value stripKvRepeat(Value value, llvm::SetVector<Operation *> &chain) {
  auto merge = value.getDefiningOp<ReshapeOp>();
  auto expand = merge ? merge.getInput().getDefiningOp<ExpandOp>() : nullptr;
  auto split = expand ? expand.getInput().getDefiningOp<ReshapeOp>() : nullptr;
  if (!split) {
    return value;
  }
  auto source = cast<RankedTensorType>(split.getInput().getType());
  auto unsqueezed = cast<RankedTensorType>(split.getType());
  auto expanded = cast<RankedTensorType>(expand.getType());
  auto merged = cast<RankedTensorType>(merge.getType());
  if (source.getRank() != 4 || unsqueezed.getRank() != 5 || expanded.getRank() != 5 ||
      merged.getRank() != 4) {
    return value;
  }
  int64_t kvHeads = source.getDimSize(1), repeat = expanded.getDimSize(2);
  // Sizes compare exactly: a dynamic size only matches the same (dynamic) entry.
  int64_t length = source.getDimSize(2), headDim = source.getDimSize(3);
  bool shapesMatch = !ShapedType::isDynamic(kvHeads) && !ShapedType::isDynamic(repeat) &&
                     unsqueezed.getShape() ==
                         ArrayRef<int64_t>{source.getDimSize(0), kvHeads, 1, length, headDim} &&
                     expanded.getShape() == ArrayRef<int64_t>{source.getDimSize(0), kvHeads, repeat,
                                                              length, headDim} &&
                     merged.getShape() ==
                         ArrayRef<int64_t>{source.getDimSize(0), kvHeads * repeat, length, headDim};
  if (!shapesMatch) {
    return value;
  }
  chain.insert(merge);
  chain.insert(expand);
  chain.insert(split);
  return split.getInput();
}

/// A scalar float constant (any rank, one element) at or below the mask threshold.
bool isMaskFill(Value value) {
  std::optional<double> fill = getScalarFloat(value);
  return fill && *fill <= kMaskedValue;
}

/// One recognised attention core, collected before anything is rewritten.
struct AttentionMatch {
  MatMulOp root;                   // probs @ v
  Value query, keySource, value;   // keySource may need a transpose (see perm)
  Value sinks;                     // gpt-oss: one extra logit per head, or null
  Value sinkColumnLength;          // dynamic case: the iota that drops the sink column
  SmallVector<int64_t, 4> keyPerm; // empty: keySource is already [b, kv, t, d]
  Value mask;                      // additive mask kept as an operand, or null
  double scale = 1.0;
  MaskMeaning meaning;
};

/// The cache size name of `key` when it is concat(past argument, new) on axis 2.
std::string pastSizeName(Value key) {
  auto concat = key.getDefiningOp<ConcatOp>();
  if (!concat || concat.getAxis() != 2 || concat.getInputs().empty()) {
    return "";
  }
  auto past = dyn_cast<BlockArgument>(concat.getInputs()[0]);
  auto func = past ? dyn_cast<FunctionOpInterface>(past.getOwner()->getParentOp()) : nullptr;
  auto names =
      func ? func.getArgAttrOfType<ArrayAttr>(past.getArgNumber(), kDimNamesAttrName) : ArrayAttr();
  if (!names || names.size() != 4) {
    return "";
  }
  auto name = dyn_cast<StringAttr>(names[2]);
  return name ? name.getValue().str() : "";
}

std::optional<AttentionMatch>
matchAttention(MatMulOp root,
               llvm::DenseMap<std::pair<Value, int>, std::optional<MaskMeaning>> &maskCache) {
  llvm::SetVector<Operation *> chain;
  chain.insert(root);
  AttentionMatch match;
  match.root = root;
  // gpt-oss sinks: probs = softmax(concat(s, sink column) - max)[..., :t].
  Value probabilities = root.getLhs();
  bool dropsLastColumn = false;
  if (auto slice = probabilities.getDefiningOp<SliceOp>()) {
    auto input = cast<RankedTensorType>(slice.getInput().getType());
    dropsLastColumn = slice.getAxes().size() == 1 && slice.getAxes()[0] == 3 &&
                      slice.getStarts()[0] == 0 && slice.getSteps()[0] == 1 &&
                      input.getRank() == 4 && !input.isDynamicDim(3) &&
                      slice.getSizes()[0] == input.getDimSize(3) - 1;
    probabilities = slice.getInput();
    chain.insert(slice);
  } else if (auto gather = probabilities.getDefiningOp<GatherOp>()) {
    // Keys 0 .. t-1 of t + 1: an iota whose length is checked against the mask's.
    auto iota = gather.getIndices().getDefiningOp<IotaOp>();
    dropsLastColumn = gather.getAxis() == 3 && iota;
    match.sinkColumnLength = gather.getIndices();
    probabilities = gather.getData();
    chain.insert(gather);
  }
  auto softmax = probabilities.getDefiningOp<SoftmaxOp>();
  if (!softmax || (softmax.getAxis() != -1 && softmax.getAxis() != 3)) {
    return std::nullopt;
  }
  chain.insert(softmax);
  match.value = stripKvRepeat(root.getRhs(), chain);
  Value softmaxInput = softmax.getInput();
  if (probabilities != root.getLhs()) {
    if (!dropsLastColumn) {
      return std::nullopt;
    }
    // The max subtraction changes nothing a softmax computes.
    if (auto sub = softmaxInput.getDefiningOp<SubOp>()) {
      auto peak = sub.getRhs().getDefiningOp<ReduceMaxOp>();
      if (!peak || peak.getInput() != sub.getLhs() || peak.getAxes().size() != 1 ||
          peak.getAxes()[0] != 3 || !peak.getKeepdims()) {
        return std::nullopt;
      }
      chain.insert(sub);
      chain.insert(peak);
      softmaxInput = sub.getLhs();
    }
    auto joined = softmaxInput.getDefiningOp<ConcatOp>();
    if (!joined || joined.getAxis() != 3 || joined.getInputs().size() != 2) {
      return std::nullopt;
    }
    chain.insert(joined);
    // The column is reshape(sinks) to [1, heads, 1, 1], expanded to [b, heads, s, 1] (the
    // expand folds away when b = s = 1).
    Value column = joined.getInputs()[1];
    auto expand = column.getDefiningOp<ExpandOp>();
    auto reshape = (expand ? expand.getInput() : column).getDefiningOp<ReshapeOp>();
    auto sinksType =
        reshape ? cast<RankedTensorType>(reshape.getInput().getType()) : RankedTensorType();
    auto columnType = cast<RankedTensorType>(column.getType());
    if (!reshape || sinksType.getRank() != 1 || columnType.getDimSize(3) != 1 ||
        cast<RankedTensorType>(reshape.getType()).getShape() !=
            ArrayRef<int64_t>{1, sinksType.getDimSize(0), 1, 1}) {
      return std::nullopt;
    }
    if (expand) {
      chain.insert(expand);
    }
    chain.insert(reshape);
    match.sinks = reshape.getInput();
    softmaxInput = joined.getInputs()[0];
  }

  // Masking: where(hidden, fill, s), where(visible, s, fill), s + mask, or none.
  Value scores = softmaxInput;
  auto scoresType = cast<RankedTensorType>(scores.getType());
  Value maskValue;
  MaskForm form = MaskForm::Additive;
  if (auto where = scores.getDefiningOp<WhereOp>()) {
    if (isMaskFill(where.getLhs()) && where.getRhs().getType() == scoresType) {
      maskValue = where.getCondition();
      form = MaskForm::HiddenWhereTrue;
      scores = where.getRhs();
    } else if (isMaskFill(where.getRhs()) && where.getLhs().getType() == scoresType) {
      maskValue = where.getCondition();
      form = MaskForm::VisibleWhereTrue;
      scores = where.getLhs();
    } else {
      return std::nullopt;
    }
    chain.insert(where);
  } else if (auto add = scores.getDefiningOp<AddOp>()) {
    for (auto [product, mask] :
         {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())}) {
      Operation *producer = product.getDefiningOp();
      if (product.getType() == scoresType && producer && isa<MulOp, DivOp, MatMulOp>(producer)) {
        maskValue = mask;
        scores = product;
        break;
      }
    }
    if (!maskValue) {
      return std::nullopt;
    }
    chain.insert(add);
  }

  // Scale: s * c or s / c with a scalar constant c.
  Value product = scores;
  if (auto mul = scores.getDefiningOp<MulOp>()) {
    for (auto [lhs, rhs] :
         {std::pair(mul.getLhs(), mul.getRhs()), std::pair(mul.getRhs(), mul.getLhs())}) {
      if (std::optional<double> factor = getScalarFloat(rhs);
          factor && lhs.getType() == scoresType) {
        match.scale = *factor;
        product = lhs;
        break;
      }
    }
    chain.insert(mul);
  } else if (auto div = scores.getDefiningOp<DivOp>()) {
    std::optional<double> divisor = getScalarFloat(div.getRhs());
    if (divisor && *divisor != 0.0 && div.getLhs().getType() == scoresType) {
      match.scale = 1.0 / *divisor;
      product = div.getLhs();
    }
    chain.insert(div);
  }
  auto qk = product.getDefiningOp<MatMulOp>();
  if (!qk || qk == root || !(match.scale > 0.0)) {
    return std::nullopt;
  }
  chain.insert(qk);
  match.query = qk.getLhs();

  // k^T = transpose(X, perm): the key is transpose(X, perm with the last two swapped).
  auto keyT = qk.getRhs().getDefiningOp<TransposeOp>();
  if (!keyT) {
    return std::nullopt;
  }
  chain.insert(keyT);
  SmallVector<int64_t, 4> perm(keyT.getPerm());
  if (perm.size() != 4) {
    return std::nullopt;
  }
  std::swap(perm[2], perm[3]);
  bool identity = perm == SmallVector<int64_t, 4>{0, 1, 2, 3};
  if (identity) {
    match.keySource = stripKvRepeat(keyT.getInput(), chain);
  } else {
    match.keySource = keyT.getInput();
    match.keyPerm = perm;
  }

  // Every op of the chain but the root feeds only the chain.
  for (Operation *op : chain) {
    if (op == root.getOperation()) {
      continue;
    }
    for (Operation *user : op->getUsers()) {
      if (!chain.contains(user)) {
        return std::nullopt;
      }
    }
  }
  auto rank4Float = [](Value v) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    return type && type.getRank() == 4 && isa<FloatType>(type.getElementType());
  };
  if (!rank4Float(match.query) || !rank4Float(match.keySource) || !rank4Float(match.value) ||
      cast<RankedTensorType>(root.getType()).getRank() != 4) {
    return std::nullopt;
  }
  // Head counts the op accepts: the query heads a static multiple of the KV heads.
  auto queryType = cast<RankedTensorType>(match.query.getType());
  auto valueType = cast<RankedTensorType>(match.value.getType());
  int64_t heads = queryType.getDimSize(1), kvHeads = valueType.getDimSize(1);
  int64_t keyHeads =
      match.keyPerm.empty()
          ? cast<RankedTensorType>(match.keySource.getType()).getDimSize(1)
          : cast<RankedTensorType>(match.keySource.getType()).getDimSize(match.keyPerm[1]);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(kvHeads) || kvHeads != keyHeads ||
      kvHeads == 0 || heads % kvHeads != 0) {
    return std::nullopt;
  }

  if (maskValue) {
    // Causal (with window) masks become attributes; other additive masks stay an operand.
    // The meaning depends on the mask, its form and whether the query has one row.
    bool oneQueryRow = cast<RankedTensorType>(match.query.getType()).getDimSize(2) == 1;
    std::pair<Value, int> key(maskValue, static_cast<int>(form) * 2 + oneQueryRow);
    auto cached = maskCache.find(key);
    if (cached == maskCache.end()) {
      std::string past = match.keyPerm.empty() ? pastSizeName(match.keySource) : "";
      cached = maskCache.try_emplace(key, interpretMask(maskValue, form, past, oneQueryRow)).first;
    }
    if (cached->second) {
      match.meaning = *cached->second;
    } else if (form == MaskForm::Additive &&
               cast<RankedTensorType>(maskValue.getType()).getElementType() ==
                   scoresType.getElementType()) {
      match.mask = maskValue;
    } else {
      return std::nullopt; // a boolean mask that is not causal: left unfused
    }
  }
  if (match.sinkColumnLength &&
      !(maskValue && sameLength(match.sinkColumnLength, maskValue,
                                match.keyPerm.empty() ? pastSizeName(match.keySource) : ""))) {
    return std::nullopt; // cannot show that the gather drops exactly the sink column
  }
  return match;
}

} // namespace

unsigned fuseAttentions(Operation *scope, llvm::DenseSet<Operation *> &erased) {
  // Everything is matched first and rewritten after, so that the shared mask subgraph is
  // interpreted once and no cached value is erased under the cache.
  llvm::DenseMap<std::pair<Value, int>, std::optional<MaskMeaning>> maskCache;
  SmallVector<AttentionMatch> matches;
  scope->walk([&](MatMulOp matmul) {
    if (!erased.contains(matmul.getOperation())) {
      if (std::optional<AttentionMatch> match = matchAttention(matmul, maskCache)) {
        matches.push_back(*match);
      }
    }
  });
  unsigned fused = 0;
  for (AttentionMatch &match : matches) {
    OpBuilder builder(match.root);
    Location loc = match.root.getLoc();
    Value key = match.keySource;
    if (!match.keyPerm.empty()) {
      key = builder.create<TransposeOp>(loc, key, builder.getDenseI64ArrayAttr(match.keyPerm));
    }
    auto attention = builder.create<AttentionOp>(
        loc, match.root.getType(), match.query, key, match.value, match.mask, match.sinks,
        builder.getF64FloatAttr(match.scale), builder.getBoolAttr(match.meaning.causal),
        builder.getI64IntegerAttr(match.meaning.slidingWindow));
    replaceChain(match.root, attention, erased);
    ++fused;
  }
  return fused;
}

} // namespace conveyor::graph::patterns
