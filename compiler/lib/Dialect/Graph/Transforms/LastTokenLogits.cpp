// conveyor-graph-last-token-logits: a prompt's LM head reads its last position only.
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace conveyor::graph {
#define GEN_PASS_DEF_GRAPHLASTTOKENLOGITS
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph

using namespace mlir;
using namespace conveyor::graph;

namespace {

struct LastTokenLogitsPass
    : public conveyor::graph::impl::GraphLastTokenLogitsBase<LastTokenLogitsPass> {
  void runOnOperation() override {
    SmallVector<LmHeadOp> heads;
    getOperation().walk([&](LmHeadOp head) { heads.push_back(head); });
    for (LmHeadOp head : heads) {
      auto input = cast<RankedTensorType>(head.getInput().getType());
      const int64_t rank = input.getRank();
      if (rank < 2 || input.isDynamicDim(rank - 2) || input.getDimSize(rank - 2) <= 1 ||
          !llvm::all_of(head->getUsers(), [](Operation *user) {
            return isa<func::ReturnOp>(user);
          })) {
        continue;
      }
      const int64_t positions = input.getDimSize(rank - 2);
      OpBuilder builder(head);
      auto last = builder.create<SliceOp>(
          head.getLoc(), head.getInput(), builder.getDenseI64ArrayAttr({rank - 2}),
          builder.getDenseI64ArrayAttr({positions - 1}), builder.getDenseI64ArrayAttr({1}),
          builder.getDenseI64ArrayAttr({1}));
      SmallVector<int64_t> shape(cast<RankedTensorType>(head.getType()).getShape());
      shape[shape.size() - 2] = 1;
      auto type = RankedTensorType::get(
          shape, cast<RankedTensorType>(head.getType()).getElementType());
      auto narrow = builder.create<LmHeadOp>(head.getLoc(), type, last.getResult(),
                                             head.getWeight());
      narrow->setAttrs(head->getAttrs());
      head.getResult().replaceAllUsesWith(narrow.getResult());
      head.erase();
      ++numSliced;
    }
    // Returned types changed: the functions' result types follow their returns.
    getOperation().walk([&](func::FuncOp func) {
      if (func.getBody().empty()) {
        return;
      }
      auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
      func.setFunctionType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                             ret.getOperandTypes()));
    });
  }
};

} // namespace
