// conveyor-graph-fuse-transformer: runs the transformer pattern families (embedding,
// rotary, attention, MoE, gated MLP, LM head), each in its own file, over the module.
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"

#include "TransformerPatterns.h"

namespace conveyor::graph {
#define GEN_PASS_DEF_GRAPHFUSETRANSFORMER
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph

using namespace mlir;
using namespace conveyor::graph;
using namespace conveyor::graph::patterns;

namespace {

struct FuseTransformerPass
    : public conveyor::graph::impl::GraphFuseTransformerBase<FuseTransformerPass> {
  void runOnOperation() override {
    // Roots are collected first and skipped once erased: a fusion erases the chain's
    // inner ops, which may be roots of another family.
    llvm::DenseSet<Operation *> erased;
    SmallVector<GatherOp> gathers;
    getOperation().walk([&](GatherOp gather) { gathers.push_back(gather); });
    for (GatherOp gather : gathers) {
      if (fuseEmbedding(gather, erased)) {
        ++numEmbeddings;
      }
    }
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      if (!erased.contains(add.getOperation()) && fuseRotary(add, erased)) {
        ++numRotaries;
      }
    }
    // Attention and MoE (before the matmul families: MoE experts and attention
    // products are matmuls too)
    numAttentions += fuseAttentions(getOperation(), erased);
    SmallVector<ReduceSumOp> sums;
    getOperation().walk([&](ReduceSumOp sum) { sums.push_back(sum); });
    for (ReduceSumOp sum : sums) {
      if (!erased.contains(sum.getOperation()) && fuseMoe(sum, erased)) {
        ++numMoes;
      }
    }
    SmallVector<MatMulOp> matmuls;
    getOperation().walk([&](MatMulOp matmul) { matmuls.push_back(matmul); });
    for (MatMulOp matmul : matmuls) {
      if (erased.contains(matmul.getOperation())) {
        continue;
      }
      if (fuseGatedMlp(matmul, erased)) {
        ++numGatedMlps;
      } else if (fuseLmHead(matmul, erased)) {
        ++numLmHeads;
      }
    }
  }
};

} // namespace
