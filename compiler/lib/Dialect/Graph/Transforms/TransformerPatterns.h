// Matchers used by conveyor-graph-fuse-transformer, one file per pattern family (internal).
#pragma once

#include "conveyor/Dialect/Graph/GraphOps.h"

#include "llvm/ADT/DenseSet.h"

namespace conveyor::graph::patterns {

/// gather(table, ids) on axis 0 of a 2-D table, ids a function argument -> embedding.
bool fuseEmbedding(GatherOp gather, llvm::DenseSet<mlir::Operation *> &erased);

/// matmul(x, W) returned as the function's logits -> lm_head.
bool fuseLmHead(MatMulOp matmul, llvm::DenseSet<mlir::Operation *> &erased);

/// matmul(act(matmul(x, Wg)) * matmul(x, Wu), Wd) -> gated_mlp.
bool fuseGatedMlp(MatMulOp down, llvm::DenseSet<mlir::Operation *> &erased);

/// x * cos + concat(-x[..., d/2:], x[..., :d/2]) * sin (rotate-half RoPE) -> rotary.
bool fuseRotary(AddOp add, llvm::DenseSet<mlir::Operation *> &erased);

// Attention and MoE

/// softmax(mask(scale * q @ k^T)) @ v (GQA repeat absorbed, causal / sliding-window masks
/// recognised) -> attention, for every such core under `scope`. Returns how many.
unsigned fuseAttentions(mlir::Operation *scope, llvm::DenseSet<mlir::Operation *> &erased);

/// Router softmax + top-k + gather-dispatched expert MLPs + weighted sum -> moe, rooted at
/// the weighted sum's reduce_sum.
bool fuseMoe(ReduceSumOp sum, llvm::DenseSet<mlir::Operation *> &erased);

} // namespace conveyor::graph::patterns
