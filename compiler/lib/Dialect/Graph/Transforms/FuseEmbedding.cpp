// Embedding lookup and LM head recognition for conveyor-graph-fuse-transformer.
#include "TransformerPatterns.h"

#include "PatternSupport.h"

#include "conveyor/Dialect/Graph/TiedCopy.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::graph::patterns {

bool fuseEmbedding(GatherOp gather, llvm::DenseSet<Operation *> &erased) {
  auto table = cast<RankedTensorType>(gather.getData().getType());
  // Token ids come straight from the caller; a gather at computed positions (rotary
  // tables at iota + past) is not an embedding.
  if (gather.getAxis() != 0 || table.getRank() != 2 ||
      !isa<FloatType>(table.getElementType()) || !isa<BlockArgument>(gather.getIndices()) ||
      !isa<IntegerType>(cast<RankedTensorType>(gather.getIndices().getType()).getElementType())) {
    return false;
  }
  OpBuilder builder(gather);
  auto embedding = builder.create<EmbeddingOp>(gather.getLoc(), gather.getType(),
                                               gather.getData(), gather.getIndices());
  replaceChain(gather, embedding, erased);
  return true;
}

bool fuseLmHead(MatMulOp matmul, llvm::DenseSet<Operation *> &erased) {
  auto weight = cast<RankedTensorType>(matmul.getRhs().getType());
  auto input = cast<RankedTensorType>(matmul.getLhs().getType());
  if (weight.getRank() != 2 || input.getRank() < 1 || matmul.getResult().use_empty() ||
      !llvm::all_of(matmul.getResult().getUsers(),
                    [](Operation *user) { return isa<func::ReturnOp>(user); })) {
    return false;
  }
  OpBuilder builder(matmul);
  Value table = matmul.getRhs();
  // A tied LM head reads the embedding table through a transpose (x @ E^T). A shape-only
  // table gets its own transposed copy, `<name>.lm_head_t` [hidden, vocab]: the layout the
  // MXM installs, which the shard pass splits by vocabulary columns like an untied head
  // (otherwise the whole table stays on every rank and is transposed every step). The chip
  // then holds the table twice, once per use; the planner counts both (docs/partition.md).
  if (auto transpose = table.getDefiningOp<TransposeOp>()) {
    auto source = transpose.getInput().getDefiningOp<WeightOp>();
    if (source && transpose.getPerm().size() == 2 && transpose.getPerm()[0] == 1 &&
        transpose.getPerm()[1] == 0) {
      auto copy = builder.create<WeightOp>(transpose.getLoc(), transpose.getType(),
                                           builder.getStringAttr(source.getName() + ".lm_head_t"));
      copy->setAttr(kTiedCopyOfAttr, source.getNameAttr());
      table = copy.getResult();
    }
  }
  auto head = builder.create<LmHeadOp>(matmul.getLoc(), matmul.getType(), matmul.getLhs(),
                                       table);
  replaceChain(matmul, head, erased);
  return true;
}

} // namespace conveyor::graph::patterns
