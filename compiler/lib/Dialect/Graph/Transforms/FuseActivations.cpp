// conveyor-graph-fuse-activations: recognise GELU (erf and tanh forms) and SiLU written
// as elementwise chains, and replace them by cv.graph.gelu and cv.graph.silu.
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"

#include "PatternSupport.h"

#include "mlir/IR/Builders.h"

#include <cmath>

namespace conveyor::graph {
#define GEN_PASS_DEF_GRAPHFUSEACTIVATIONS
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph

using namespace mlir;
using namespace conveyor::graph;
using namespace conveyor::graph::patterns;

namespace {

/// A product c * v1 * v2 * ... with the scalar constants multiplied into c.
struct Product {
  double constant = 1.0;
  SmallVector<Value> factors;

  /// True when the factors are exactly `x` repeated `count` times.
  bool isPowerOf(Value x, size_t count) const {
    return factors.size() == count && llvm::all_of(factors, [&](Value v) { return v == x; });
  }
};

/// Flattens products, divisions by scalar constants and small integer powers into one
/// Product. Intermediate ops are only looked through when this chain is their only user
/// (the root is always looked through), so fusing never duplicates work.
void flattenProduct(Value value, Product &product, bool isRoot) {
  Operation *op = value.getDefiningOp();
  bool inner = op && (isRoot || value.hasOneUse());
  if (std::optional<double> scalar = getScalarFloat(value)) {
    product.constant *= *scalar;
    return;
  }
  if (auto mul = dyn_cast_or_null<MulOp>(op); mul && inner) {
    flattenProduct(mul.getLhs(), product, false);
    flattenProduct(mul.getRhs(), product, false);
    return;
  }
  if (auto div = dyn_cast_or_null<DivOp>(op); div && inner) {
    std::optional<double> divisor = getScalarFloat(div.getRhs());
    if (divisor && *divisor != 0.0) {
      product.constant /= *divisor;
      flattenProduct(div.getLhs(), product, false);
      return;
    }
  }
  if (auto pow = dyn_cast_or_null<PowOp>(op); pow && inner) {
    std::optional<double> exponent = getScalarFloat(pow.getRhs());
    if (exponent && (*exponent == 2.0 || *exponent == 3.0)) {
      for (int i = 0; i < static_cast<int>(*exponent); ++i) {
        product.factors.push_back(pow.getLhs());
      }
      return;
    }
  }
  product.factors.push_back(value);
}

Product flatten(Value value, bool isRoot = false) {
  Product product;
  flattenProduct(value, product, isRoot);
  return product;
}

/// If `value` is 1 + f (either order, f's producer used only here), returns f.
Value matchOnePlus(Value value) {
  auto add = value.getDefiningOp<AddOp>();
  if (!add || !value.hasOneUse()) {
    return nullptr;
  }
  for (auto [one, rest] :
       {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())}) {
    std::optional<double> constant = getScalarFloat(one);
    if (constant && *constant == 1.0) {
      return rest;
    }
  }
  return nullptr;
}

/// erf(x / sqrt(2)) -> the exact GELU's inner term.
bool isErfTerm(Value value, Value x) {
  auto erf = value.getDefiningOp<ErfOp>();
  if (!erf || !value.hasOneUse()) {
    return false;
  }
  Product argument = flatten(erf.getInput());
  return argument.isPowerOf(x, 1) && approximately(argument.constant, 1.0 / std::sqrt(2.0));
}

/// tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)) -> the tanh approximation's inner term.
bool isTanhTerm(Value value, Value x) {
  auto tanh = value.getDefiningOp<TanhOp>();
  if (!tanh || !value.hasOneUse()) {
    return false;
  }
  Product scaled = flatten(tanh.getInput());
  if (!approximately(scaled.constant, std::sqrt(2.0 / M_PI)) || scaled.factors.size() != 1) {
    return false;
  }
  auto sum = scaled.factors.front().getDefiningOp<AddOp>();
  if (!sum || !scaled.factors.front().hasOneUse()) {
    return false;
  }
  for (auto [linear, cubic] :
       {std::pair(sum.getLhs(), sum.getRhs()), std::pair(sum.getRhs(), sum.getLhs())}) {
    Product cube = flatten(cubic);
    if (linear == x && cube.isPowerOf(x, 3) && approximately(cube.constant, 0.044715)) {
      return true;
    }
  }
  return false;
}

/// 0.5 * x * (1 + erf(...)) or (1 + tanh(...)), in any association, -> gelu.
bool fuseGelu(MulOp root, llvm::DenseSet<Operation *> &erased) {
  Product product = flatten(root.getResult(), /*isRoot=*/true);
  if (product.factors.size() != 2 || !approximately(product.constant, 0.5, 1e-6)) {
    return false;
  }
  for (auto [x, onePlus] : {std::pair(product.factors[0], product.factors[1]),
                            std::pair(product.factors[1], product.factors[0])}) {
    Value term = matchOnePlus(onePlus);
    if (!term || x.getType() != root.getType() ||
        !isa<FloatType>(cast<RankedTensorType>(x.getType()).getElementType())) {
      continue;
    }
    StringRef approximate;
    if (isErfTerm(term, x)) {
      approximate = "none";
    } else if (isTanhTerm(term, x)) {
      approximate = "tanh";
    } else {
      continue;
    }
    OpBuilder builder(root);
    auto gelu = builder.create<GeluOp>(root.getLoc(), root.getType(), x, approximate);
    replaceChain(root, gelu, erased);
    return true;
  }
  return false;
}

/// x * sigmoid(x) (either order) -> silu.
bool fuseSilu(MulOp root, llvm::DenseSet<Operation *> &erased) {
  for (auto [x, gate] :
       {std::pair(root.getLhs(), root.getRhs()), std::pair(root.getRhs(), root.getLhs())}) {
    auto sigmoid = gate.getDefiningOp<SigmoidOp>();
    if (!sigmoid || sigmoid.getInput() != x || x.getType() != root.getType()) {
      continue;
    }
    OpBuilder builder(root);
    auto silu = builder.create<SiluOp>(root.getLoc(), root.getType(), x);
    replaceChain(root, silu, erased);
    return true;
  }
  return false;
}

struct FuseActivationsPass
    : public conveyor::graph::impl::GraphFuseActivationsBase<FuseActivationsPass> {
  void runOnOperation() override {
    // As in conveyor-graph-fuse-norms: roots in program order, skipping erased ones.
    // Later roots come first so that a GELU's outer product is tried before the
    // products inside it.
    SmallVector<MulOp> products;
    getOperation().walk([&](MulOp mul) { products.push_back(mul); });
    llvm::DenseSet<Operation *> erased;
    for (MulOp mul : llvm::reverse(products)) {
      if (erased.contains(mul.getOperation())) {
        continue;
      }
      if (fuseGelu(mul, erased)) {
        ++numGelus;
      } else if (fuseSilu(mul, erased)) {
        ++numSilus;
      }
    }
  }
};

} // namespace
