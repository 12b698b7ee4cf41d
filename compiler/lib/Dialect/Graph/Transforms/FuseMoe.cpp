// Mixture-of-experts recognition (router, top-k, gather-dispatched experts, weighted sum)
// for conveyor-graph-fuse-transformer.
//
// The matched form is what torch.onnx exports for gpt-fast's ConditionalFeedForward and
// what the zoo generator emits: tokens [T, d] = reshape(x); logits = tokens @ Wr; the top-k
// experts' matrices are gathered per token (W[idx]: [T, k, in, out]) and multiplied with
// the token row [T, 1, 1, d]; the k outputs are summed with the routing weights.
#include "TransformerPatterns.h"

#include "PatternSupport.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::graph::patterns {

namespace {

/// Follows reshapes up from `value` (stopping at `stop`), adding them to `chain`.
Value stripReshapes(Value value, llvm::SetVector<Operation *> &chain, Value stop = Value()) {
  while (auto reshape = value.getDefiningOp<ReshapeOp>()) {
    if (value == stop) {
      break;
    }
    chain.insert(reshape);
    value = reshape.getInput();
  }
  return value;
}

/// matmul(rows, gather(W [E, in, out], indices) on axis 0): one expert projection.
/// Sets `weight` and `rows`.
bool matchExpertProjection(Value value, Value indices, Value &rows, Value &weight,
                           llvm::SetVector<Operation *> &chain) {
  auto matmul = value.getDefiningOp<MatMulOp>();
  auto gather = matmul ? matmul.getRhs().getDefiningOp<GatherOp>() : nullptr;
  if (!gather || gather.getAxis() != 0 || gather.getIndices() != indices ||
      cast<RankedTensorType>(gather.getData().getType()).getRank() != 3 ||
      cast<RankedTensorType>(matmul.getType()).getRank() != 4) {
    return false;
  }
  chain.insert(matmul);
  chain.insert(gather);
  rows = matmul.getLhs();
  weight = gather.getData();
  return true;
}

/// The activation name moe uses for `value`'s producer, or "" (sets `input`).
StringRef matchActivation(Value value, Value &input, llvm::SetVector<Operation *> &chain) {
  if (auto silu = value.getDefiningOp<SiluOp>()) {
    chain.insert(silu);
    input = silu.getInput();
    return "silu";
  }
  if (auto gelu = value.getDefiningOp<GeluOp>()) {
    chain.insert(gelu);
    input = gelu.getInput();
    return gelu.getApproximate() == "tanh" ? "gelu_tanh" : "gelu";
  }
  return "";
}

/// The routing: (indices, weights) from the router logits `tokens @ Wr`.
struct Routing {
  Value tokens, router;
  int64_t topK = 0;
  bool normalize = false, softmaxAfterTopk = false;
};

/// Matches the weights [T, k] and the top-k that also produced `indices`.
std::optional<Routing> matchRouting(Value weights, Value indices,
                                    llvm::SetVector<Operation *> &chain) {
  auto topk = indices.getDefiningOp<TopKOp>();
  if (!topk || indices != topk.getIndices() || !topk.getLargest()) {
    return std::nullopt;
  }
  auto scoresType = cast<RankedTensorType>(topk.getInput().getType());
  if (scoresType.getRank() != 2 || topk.getAxis() != 1) {
    return std::nullopt;
  }
  chain.insert(topk);
  Routing routing;
  routing.topK = topk.getK();
  Value logits;
  if (auto softmax = weights.getDefiningOp<SoftmaxOp>()) {
    // gpt-oss: softmax over the top-k logits.
    if (softmax.getInput() != topk.getValues() ||
        (softmax.getAxis() != -1 && softmax.getAxis() != 1)) {
      return std::nullopt;
    }
    chain.insert(softmax);
    routing.softmaxAfterTopk = true;
    logits = topk.getInput();
  } else {
    // Mixtral / Qwen3-MoE: top-k of softmax(logits), optionally renormalised.
    if (auto div = weights.getDefiningOp<DivOp>()) {
      auto total = div.getRhs().getDefiningOp<ReduceSumOp>();
      if (div.getLhs() != topk.getValues() || !total || total.getInput() != topk.getValues() ||
          total.getAxes().size() != 1 || total.getAxes()[0] != 1 || !total.getKeepdims()) {
        return std::nullopt;
      }
      chain.insert(div);
      chain.insert(total);
      routing.normalize = true;
    } else if (weights != topk.getValues()) {
      return std::nullopt;
    }
    auto probabilities = topk.getInput().getDefiningOp<SoftmaxOp>();
    if (!probabilities || (probabilities.getAxis() != -1 && probabilities.getAxis() != 1)) {
      return std::nullopt;
    }
    chain.insert(probabilities);
    logits = probabilities.getInput();
  }
  auto router = logits.getDefiningOp<MatMulOp>();
  if (!router || cast<RankedTensorType>(router.getRhs().getType()).getRank() != 2) {
    return std::nullopt;
  }
  chain.insert(router);
  routing.tokens = router.getLhs();
  routing.router = router.getRhs();
  return routing;
}

} // namespace

bool fuseMoe(ReduceSumOp sum, llvm::DenseSet<Operation *> &erased) {
  llvm::SetVector<Operation *> chain;
  auto sumInput = cast<RankedTensorType>(sum.getInput().getType());
  if (sum.getKeepdims() || sum.getAxes().size() != 1 || sum.getAxes()[0] != 1 ||
      sumInput.getRank() != 3) {
    return false;
  }
  chain.insert(sum);
  auto weighted = sum.getInput().getDefiningOp<MulOp>();
  if (!weighted || weighted.getType() != sumInput) {
    return false;
  }
  chain.insert(weighted);
  for (auto [outputs, weightColumn] : {std::pair(weighted.getLhs(), weighted.getRhs()),
                                       std::pair(weighted.getRhs(), weighted.getLhs())}) {
    llvm::SetVector<Operation *> candidate = chain;
    // Expert outputs [T, k, d] = squeeze(matmul(hidden, gather(Wd, idx))).
    auto squeeze = outputs.getDefiningOp<ReshapeOp>();
    auto column = weightColumn.getDefiningOp<ReshapeOp>();
    if (!squeeze || !column || outputs.getType() != sumInput) {
      continue;
    }
    candidate.insert(squeeze);
    Value weights = stripReshapes(weightColumn, candidate);
    auto down = squeeze.getInput().getDefiningOp<MatMulOp>();
    auto downGather = down ? down.getRhs().getDefiningOp<GatherOp>() : nullptr;
    if (!downGather) {
      continue;
    }
    Value indices = downGather.getIndices();
    Value hidden, downWeight;
    if (!matchExpertProjection(squeeze.getInput(), indices, hidden, downWeight, candidate)) {
      continue;
    }
    // hidden = act(x @ Wg[idx]) * (x @ Wu[idx]) in either order, or act(x @ Wg[idx]).
    Value rowsGate, rowsUp, gateWeight, upWeight;
    StringRef activation;
    if (auto product = hidden.getDefiningOp<MulOp>()) {
      candidate.insert(product);
      for (auto [gated, other] : {std::pair(product.getLhs(), product.getRhs()),
                                  std::pair(product.getRhs(), product.getLhs())}) {
        llvm::SetVector<Operation *> trial = candidate;
        Value activationInput;
        activation = matchActivation(gated, activationInput, trial);
        if (!activation.empty() &&
            matchExpertProjection(activationInput, indices, rowsGate, gateWeight, trial) &&
            matchExpertProjection(other, indices, rowsUp, upWeight, trial) && rowsGate == rowsUp &&
            product.getLhs().getType() == product.getRhs().getType()) {
          candidate = trial;
          break;
        }
        activation = "";
      }
    } else {
      Value activationInput;
      activation = matchActivation(hidden, activationInput, candidate);
      if (!activation.empty() &&
          !matchExpertProjection(activationInput, indices, rowsGate, gateWeight, candidate)) {
        activation = "";
      }
    }
    if (activation.empty()) {
      continue;
    }
    std::optional<Routing> routing = matchRouting(weights, indices, candidate);
    // The expert rows [T, 1, 1, d] are reshapes of the router's tokens [T, d].
    if (!routing || stripReshapes(rowsGate, candidate, routing->tokens) != routing->tokens) {
      continue;
    }
    auto tokensType = cast<RankedTensorType>(routing->tokens.getType());
    if (tokensType.getRank() != 2 || sum.getType() != tokensType) {
      continue;
    }
    // The op works on x [..., d]: absorb tokens = reshape(x) and the reshape back to x.
    Value input = routing->tokens;
    Operation *root = sum;
    auto flatten = input.getDefiningOp<ReshapeOp>();
    if (flatten && sum->hasOneUse()) {
      auto restore = dyn_cast<ReshapeOp>(*sum->getUsers().begin());
      if (restore && restore.getType() == flatten.getInput().getType()) {
        candidate.insert(flatten);
        candidate.insert(restore);
        input = flatten.getInput();
        root = restore;
      }
    }
    // Every op of the chain but the root feeds only the chain.
    bool contained = true;
    for (Operation *op : candidate) {
      for (Operation *user : op->getUsers()) {
        contained &= op == root || candidate.contains(user);
      }
    }
    if (!contained) {
      continue;
    }
    OpBuilder builder(root);
    auto moe = builder.create<MoeOp>(
        root->getLoc(), root->getResult(0).getType(), input, routing->router, gateWeight, upWeight,
        downWeight, builder.getI64IntegerAttr(routing->topK), builder.getStringAttr(activation),
        builder.getBoolAttr(routing->normalize), builder.getBoolAttr(routing->softmaxAfterTopk));
    replaceChain(root, moe, erased);
    return true;
  }
  return false;
}

} // namespace conveyor::graph::patterns
