// Gated MLP (SwiGLU / GeGLU) recognition for conveyor-graph-fuse-transformer.
#include "TransformerPatterns.h"

#include "PatternSupport.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::graph::patterns {

namespace {

/// A projection x @ W with a 2-D W whose result feeds only the chain being fused.
MatMulOp matchProjection(Value value) {
  auto matmul = value.getDefiningOp<MatMulOp>();
  if (!matmul || !value.hasOneUse() ||
      cast<RankedTensorType>(matmul.getRhs().getType()).getRank() != 2) {
    return nullptr;
  }
  return matmul;
}

/// The activation name gated_mlp uses for `value`'s producer (used only here), or "".
StringRef matchActivation(Value value, Value &activationInput) {
  if (!value.hasOneUse()) {
    return "";
  }
  if (auto silu = value.getDefiningOp<SiluOp>()) {
    activationInput = silu.getInput();
    return "silu";
  }
  if (auto gelu = value.getDefiningOp<GeluOp>()) {
    activationInput = gelu.getInput();
    return gelu.getApproximate() == "tanh" ? "gelu_tanh" : "gelu";
  }
  return "";
}

} // namespace

bool fuseGatedMlp(MatMulOp down, llvm::DenseSet<Operation *> &erased) {
  auto product = down.getLhs().getDefiningOp<MulOp>();
  if (!product || !down.getLhs().hasOneUse() ||
      cast<RankedTensorType>(down.getRhs().getType()).getRank() != 2) {
    return false;
  }
  for (auto [gated, other] : {std::pair(product.getLhs(), product.getRhs()),
                              std::pair(product.getRhs(), product.getLhs())}) {
    Value activationInput;
    StringRef activation = matchActivation(gated, activationInput);
    MatMulOp gate = activation.empty() ? nullptr : matchProjection(activationInput);
    MatMulOp up = matchProjection(other);
    // Both projections read the same x, and the product has no broadcasting.
    if (!gate || !up || gate == up || gate.getLhs() != up.getLhs() ||
        gate.getType() != up.getType() || product.getType() != gate.getType()) {
      continue;
    }
    OpBuilder builder(down);
    auto mlp = builder.create<GatedMlpOp>(down.getLoc(), down.getType(), gate.getLhs(),
                                          gate.getRhs(), up.getRhs(), down.getRhs(),
                                          builder.getStringAttr(activation));
    replaceChain(down, mlp, erased);
    return true;
  }
  return false;
}

} // namespace conveyor::graph::patterns
