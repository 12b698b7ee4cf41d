// conveyor-graph-fuse-norms: recognise decomposed RMSNorm and LayerNorm chains (as
// torch and Hugging Face export them) and replace them by cv.graph.rms_norm and
// cv.graph.layer_norm.
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"

#include "PatternSupport.h"

namespace conveyor::graph {
#define GEN_PASS_DEF_GRAPHFUSENORMS
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph

using namespace mlir;
using namespace conveyor::graph;
using namespace conveyor::graph::patterns;

namespace {

/// If `value` is reduce_mean(input) over the trailing dimensions with keepdims, returns
/// input and sets `count` to the number of reduced dimensions.
Value matchTrailingMean(Value value, int64_t &count) {
  auto mean = value.getDefiningOp<ReduceMeanOp>();
  if (!mean || !mean.getKeepdims()) {
    return nullptr;
  }
  int64_t rank = mean.getInput().getType().getRank();
  ArrayRef<int64_t> axes = mean.getAxes();
  for (auto [index, axis] : llvm::enumerate(axes)) {
    if (axis != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(index)) {
      return nullptr;
    }
  }
  count = static_cast<int64_t>(axes.size());
  return mean.getInput();
}

/// If `value` is x^2 (pow(x, 2) or x * x), returns x.
Value matchSquare(Value value) {
  if (auto pow = value.getDefiningOp<PowOp>()) {
    std::optional<double> exponent = getScalarFloat(pow.getRhs());
    return exponent && *exponent == 2.0 ? pow.getLhs() : nullptr;
  }
  if (auto mul = value.getDefiningOp<MulOp>()) {
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : nullptr;
  }
  return nullptr;
}

/// The pieces of sqrt(mean(square(x)) + eps) over the trailing `count` dimensions.
struct RootMeanSquare {
  Value input; // x
  double epsilon = 0.0;
  int64_t count = 0;
};

/// Matches sqrt(mean(x^2) + eps) (eps a scalar constant, on either side of the add).
std::optional<RootMeanSquare> matchRootMeanSquare(Value value) {
  auto sqrt = value.getDefiningOp<SqrtOp>();
  auto add = sqrt ? sqrt.getInput().getDefiningOp<AddOp>() : AddOp();
  if (!add) {
    return std::nullopt;
  }
  for (auto [mean, eps] :
       {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())}) {
    std::optional<double> epsilon = getScalarFloat(eps);
    int64_t count = 0;
    Value squared = epsilon ? matchTrailingMean(mean, count) : nullptr;
    Value input = squared ? matchSquare(squared) : nullptr;
    if (input) {
      return RootMeanSquare{input, *epsilon, count};
    }
  }
  return std::nullopt;
}

/// Matches 1 / rms as div(1, rms) or reciprocal(rms).
std::optional<RootMeanSquare> matchInverseRms(Value value) {
  if (auto reciprocal = value.getDefiningOp<ReciprocalOp>()) {
    return matchRootMeanSquare(reciprocal.getInput());
  }
  if (auto div = value.getDefiningOp<DivOp>()) {
    std::optional<double> one = getScalarFloat(div.getLhs());
    if (one && *one == 1.0) {
      return matchRootMeanSquare(div.getRhs());
    }
  }
  return std::nullopt;
}

/// Matches x normalised by its root mean square: x * (1 / rms(x)), (1 / rms(x)) * x or
/// x / rms(x).
std::optional<RootMeanSquare> matchRmsNormalized(Value value) {
  if (auto mul = value.getDefiningOp<MulOp>()) {
    for (auto [x, inverse] :
         {std::pair(mul.getLhs(), mul.getRhs()), std::pair(mul.getRhs(), mul.getLhs())}) {
      std::optional<RootMeanSquare> rms = matchInverseRms(inverse);
      if (rms && rms->input == x) {
        return rms;
      }
    }
  }
  if (auto div = value.getDefiningOp<DivOp>()) {
    std::optional<RootMeanSquare> rms = matchRootMeanSquare(div.getRhs());
    if (rms && rms->input == div.getLhs()) {
      return rms;
    }
  }
  return std::nullopt;
}

/// Matches (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps): LayerNorm before its
/// affine part. `input` is set to x.
std::optional<RootMeanSquare> matchLayerNormalized(Value value) {
  auto div = value.getDefiningOp<DivOp>();
  std::optional<RootMeanSquare> rms = div ? matchRootMeanSquare(div.getRhs()) : std::nullopt;
  if (!rms || rms->input != div.getLhs()) {
    return std::nullopt;
  }
  auto centered = div.getLhs().getDefiningOp<SubOp>();
  int64_t count = 0;
  Value input = centered ? matchTrailingMean(centered.getRhs(), count) : nullptr;
  if (!input || input != centered.getLhs() || count != rms->count) {
    return std::nullopt;
  }
  rms->input = input;
  return rms;
}

/// Creates `OpTy`(x, parameters...) in place of `root` when its inferred type equals
/// the root's (so scale and bias broadcast only over the normalised dimensions).
template <typename OpTy>
LogicalResult replaceWithNorm(Operation *root, const RootMeanSquare &rms, ValueRange parameters,
                              llvm::DenseSet<Operation *> &erased) {
  MLIRContext *context = root->getContext();
  auto inputType = cast<RankedTensorType>(rms.input.getType());
  if (!isa<FloatType>(inputType.getElementType())) {
    return failure();
  }
  SmallVector<Value> operands = {rms.input};
  llvm::append_range(operands, parameters);
  Builder builder(context);
  NamedAttrList attributes;
  attributes.append("axis", builder.getI64IntegerAttr(-rms.count));
  attributes.append("epsilon", builder.getF32FloatAttr(static_cast<float>(rms.epsilon)));
  // Check shapes first: a failing inference would report an error, and a scale that
  // broadcasts the result beyond x's shape is not a normalisation parameter.
  SmallVector<Type> inferred;
  {
    ScopedDiagnosticHandler silence(context, [](Diagnostic &) { return success(); });
    DictionaryAttr dictionary = attributes.getDictionary(context);
    typename OpTy::Properties properties;
    if (failed(OpTy::setPropertiesFromAttr(properties, dictionary, nullptr)) ||
        failed(OpTy::inferReturnTypes(context, root->getLoc(), operands, dictionary,
                                      OpaqueProperties(&properties), {}, inferred)) ||
        TypeRange(inferred) != root->getResultTypes()) {
      return failure();
    }
  }
  OpBuilder opBuilder(root);
  OperationState state(root->getLoc(), OpTy::getOperationName(), operands, inferred, attributes);
  replaceChain(root, opBuilder.create(state), erased);
  return success();
}

/// scale * rmsnorm(x) (either order) -> cv.graph.rms_norm(x, scale).
bool fuseRmsNorm(MulOp mul, llvm::DenseSet<Operation *> &erased) {
  for (auto [normalized, scale] :
       {std::pair(mul.getLhs(), mul.getRhs()), std::pair(mul.getRhs(), mul.getLhs())}) {
    std::optional<RootMeanSquare> rms = matchRmsNormalized(normalized);
    if (rms && succeeded(replaceWithNorm<RmsNormOp>(mul, *rms, {scale}, erased))) {
      return true;
    }
  }
  return false;
}

/// layernorm(x) * scale [+ bias] -> cv.graph.layer_norm(x, scale[, bias]).
bool fuseLayerNorm(MulOp mul, llvm::DenseSet<Operation *> &erased) {
  for (auto [normalized, scale] :
       {std::pair(mul.getLhs(), mul.getRhs()), std::pair(mul.getRhs(), mul.getLhs())}) {
    std::optional<RootMeanSquare> norm = matchLayerNormalized(normalized);
    if (!norm) {
      continue;
    }
    // Take a following bias add into the same op when it is the product's only use.
    if (mul->hasOneUse()) {
      if (auto add = dyn_cast<AddOp>(*mul->user_begin())) {
        Value bias = add.getLhs() == mul.getResult() ? add.getRhs() : add.getLhs();
        if (succeeded(replaceWithNorm<LayerNormOp>(add, *norm, {scale, bias}, erased))) {
          return true;
        }
      }
    }
    if (succeeded(replaceWithNorm<LayerNormOp>(mul, *norm, {scale}, erased))) {
      return true;
    }
  }
  return false;
}

struct FuseNormsPass : public conveyor::graph::impl::GraphFuseNormsBase<FuseNormsPass> {
  void runOnOperation() override {
    // Products are visited in program order. A fusion erases its root and the chain
    // before it, so products in the list may be gone by the time they come up; the
    // set remembers them (an erased op's address is never dereferenced again).
    SmallVector<MulOp> products;
    getOperation().walk([&](MulOp mul) { products.push_back(mul); });
    llvm::DenseSet<Operation *> erased;
    for (MulOp mul : products) {
      if (erased.contains(mul.getOperation())) {
        continue;
      }
      // LayerNorm first: it is an RMSNorm of x - mean(x), which is the wider match.
      if (fuseLayerNorm(mul, erased)) {
        ++numLayerNorms;
      } else if (fuseRmsNorm(mul, erased)) {
        ++numRmsNorms;
      }
    }
  }
};

} // namespace
