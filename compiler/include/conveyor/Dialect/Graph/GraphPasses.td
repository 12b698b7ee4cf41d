// Passes on cv.graph.
#ifndef CONVEYOR_DIALECT_GRAPH_GRAPHPASSES_TD
#define CONVEYOR_DIALECT_GRAPH_GRAPHPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Graph cleanup
//===----------------------------------------------------------------------===//

def GraphCanonicalizeShapes : Pass<"conveyor-graph-verify-shapes", "mlir::ModuleOp"> {
  let summary = "Check that every tensor in the graph has a static shape";
  let description = [{
    The walking-skeleton lowering needs static shapes. This pass reports the first
    value with a dynamic dimension, naming the op, and fails.
  }];
}

def GraphSpecializeDims : Pass<"conveyor-graph-specialize-dims", "mlir::ModuleOp"> {
  let summary = "Give named (symbolic) dimensions fixed sizes: one bucket of a dynamic graph";
  let description = [{
    Imported graphs keep ONNX's named dimensions (batch, seq, past) dynamic; the
    lowering needs static shapes. Given a size for each name, this pass makes the
    arguments named in `cv.dim_names` static, re-infers every op's result type, takes
    the sizes of reshapes and expands from their `cv.dims`, and turns
    `cv.graph.dim_value` and `cv.graph.iota` into constants. A name without a size, or
    an op whose type cannot be re-derived, is an error naming it.
  }];
  let options = [
    ListOption<"sizes", "sizes", "std::string",
               "Dimension sizes as name=size, comma separated (batch=1,seq=128,past=0)">
  ];
}

//===----------------------------------------------------------------------===//
// Pattern recognition
//===----------------------------------------------------------------------===//

def GraphFuseNorms : Pass<"conveyor-graph-fuse-norms", "mlir::ModuleOp"> {
  let summary = "Recognise decomposed RMSNorm and LayerNorm and fuse them";
  let description = [{
    Exporters write normalisations as elementwise chains. This pass replaces

      x * (1 / sqrt(mean(x^2) + eps)) * scale          (Llama's RMSNorm, any order of
      x / sqrt(mean(x^2) + eps) * scale                 the products; rsqrt as
                                                        reciprocal(sqrt) or 1 / sqrt)
    by `cv.graph.rms_norm`, and

      d = x - mean(x); d / sqrt(mean(d^2) + eps) * scale + bias

    by `cv.graph.layer_norm`, when the means run over the trailing dimensions with
    kept dimensions, eps is a scalar constant, the exponent is 2 and scale/bias
    broadcast to the normalised dimensions. Ops of the chain that have other users
    stay.
  }];
  let statistics = [
    Statistic<"numRmsNorms", "rms-norms", "Number of RMSNorm chains fused">,
    Statistic<"numLayerNorms", "layer-norms", "Number of LayerNorm chains fused">
  ];
}

def GraphFuseActivations : Pass<"conveyor-graph-fuse-activations", "mlir::ModuleOp"> {
  let summary = "Recognise decomposed GELU and SiLU and fuse them";
  let description = [{
    Replaces

      0.5 * x * (1 + erf(x / sqrt(2)))                     by cv.graph.gelu
      0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
                                                 by cv.graph.gelu {approximate = "tanh"}
      x * sigmoid(x)                                       by cv.graph.silu

    in the operand orders exporters write (GPT-2's NewGELU, torch's F.gelu before opset
    20, F.silu), with the constants checked to within float rounding. Ops of a chain
    that other ops use stay.
  }];
  let statistics = [
    Statistic<"numGelus", "gelus", "Number of GELU chains fused">,
    Statistic<"numSilus", "silus", "Number of SiLU products fused">
  ];
}

def GraphFuseTransformer : Pass<"conveyor-graph-fuse-transformer", "mlir::ModuleOp"> {
  let summary = "Recognise transformer blocks: embedding, rotary, attention, MoE, gated MLP and LM head";
  let description = [{
    Run after conveyor-graph-fuse-norms and conveyor-graph-fuse-activations (it matches
    their cv.graph.silu / cv.graph.gelu). Replaces

      gather(table [vocab, hidden], ids)   with ids a function argument
                                                         by cv.graph.embedding
      matmul(act(matmul(x, Wg)) * matmul(x, Wu), Wd)     by cv.graph.gated_mlp
                                           (act: silu, gelu or tanh gelu; either order)
      matmul(x, W [hidden, vocab]) whose only users are the return
                                                         by cv.graph.lm_head
      x * cos + concat(-x[..., d/2:], x[..., :d/2]) * sin   by cv.graph.rotary
                                           (either operand order)
      softmax(mask(matmul(q, transpose(k)) * c)) @ v      by cv.graph.attention
                                           (c: a scalar multiplier or divisor; k and v
                                           may go through the GQA repeat, which is
                                           absorbed; mask: where(m, fill, s),
                                           where(m, s, fill) or s + m. A mask computed
                                           only from sizes is evaluated for a few size
                                           bindings: a causal or sliding-window one
                                           becomes `causal` / `sliding_window`; another
                                           additive one stays the `mask` operand; a
                                           boolean one that is not causal is not fused)
      sum_k(w_k * expert(x @ gather(W, topk(softmax(x @ Wr))))) by cv.graph.moe
                                           (gather-dispatched experts, gpt-fast style;
                                           gated or not; weights renormalised or not, or
                                           softmax over the top-k logits)

    Intermediate ops of a chain must have no other users; otherwise the graph is left
    as it is.
  }];
  let statistics = [
    Statistic<"numEmbeddings", "embeddings", "Number of embedding lookups fused">,
    Statistic<"numGatedMlps", "gated-mlps", "Number of gated MLPs fused">,
    Statistic<"numLmHeads", "lm-heads", "Number of LM heads fused">,
    Statistic<"numRotaries", "rotaries", "Number of rotary embeddings fused">,
    // Attention and MoE
    Statistic<"numAttentions", "attentions", "Number of attention cores fused">,
    Statistic<"numMoes", "moes", "Number of mixture-of-experts blocks fused">
  ];
}

def GraphLastTokenLogits : Pass<"conveyor-graph-last-token-logits", "mlir::ModuleOp"> {
  let summary = "A prompt's logits at its last position only (PREFILL programs)";
  let description = [{
    Run after conveyor-graph-fuse-transformer. Serving needs the logits of a prompt's last
    position only (they pick its first output token); the other positions' logits are
    vocab-wide work and SRAM (Llama-3-70B, 128 tokens: 32.8 MB of logits and their gather
    tree on the LM-head stage). Each cv.graph.lm_head whose input has more than one
    position (axis rank - 2) reads a cv.graph.slice of the last one instead, and the
    function returns [..., 1, vocab]. The multi-chip compile runs it on PREFILL buckets.
  }];
  let statistics = [
    Statistic<"numSliced", "sliced-heads", "LM heads narrowed to the last position">
  ];
}

#endif // CONVEYOR_DIALECT_GRAPH_GRAPHPASSES_TD
