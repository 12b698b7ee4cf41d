// conveyor-chip-shorten-chains: unit-axis transposes become views, add chains balanced trees.
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace conveyor::chip {
#define GEN_PASS_DEF_SHORTENCHAINS
#include "conveyor/Dialect/Chip/ChipPasses.h.inc"
} // namespace conveyor::chip

using namespace mlir;
using namespace conveyor::chip;

namespace {

/// True when `perm` keeps the order of the axes longer than 1 (the row-major bytes are the
/// same before and after: only size-1 axes move).
bool movesOnlyUnitAxes(ArrayRef<int64_t> shape, ArrayRef<int64_t> perm) {
  int64_t last = -1;
  for (int64_t axis : perm) {
    if (axis < 0 || size_t(axis) >= shape.size()) {
      return false;
    }
    if (shape[size_t(axis)] == 1) {
      continue;
    }
    if (axis < last) {
      return false;
    }
    last = axis;
  }
  return true;
}

bool isAdd(Operation *op) {
  auto add = dyn_cast_or_null<BinaryOp>(op);
  return add && add.getKind() == "add" && add.getLhs().getType() == add.getType() &&
         add.getRhs().getType() == add.getType();
}

/// The leaves of the add tree rooted at `root`: operands of adds whose result feeds only
/// the next add of the chain.
void collectLeaves(BinaryOp add, SmallVectorImpl<Value> &leaves, SmallVectorImpl<Operation *> &inner) {
  for (Value operand : {add.getLhs(), add.getRhs()}) {
    Operation *producer = operand.getDefiningOp();
    if (isAdd(producer) && operand.hasOneUse() && producer->getBlock() == add->getBlock()) {
      inner.push_back(producer);
      collectLeaves(cast<BinaryOp>(producer), leaves, inner);
    } else {
      leaves.push_back(operand);
    }
  }
}

struct ShortenChainsPass : public conveyor::chip::impl::ShortenChainsBase<ShortenChainsPass> {
  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) {
      SmallVector<TransposeOp> transposes;
      func.walk([&](TransposeOp op) {
        auto type = cast<RankedTensorType>(op.getInput().getType());
        if (type.hasStaticShape() && movesOnlyUnitAxes(type.getShape(), op.getPerm())) {
          transposes.push_back(op);
        }
      });
      for (TransposeOp op : transposes) {
        OpBuilder builder(op);
        auto view = builder.create<ViewOp>(op.getLoc(), op.getType(), op.getInput(),
                                           IntegerAttr(), IntegerAttr(), IntegerAttr());
        op.getResult().replaceAllUsesWith(view.getResult());
        op.erase();
      }
      // Roots: adds whose result is not itself folded into a longer chain.
      SmallVector<BinaryOp> roots;
      func.walk([&](BinaryOp op) {
        if (!isAdd(op)) {
          return;
        }
        bool inner = op.getResult().hasOneUse() && isAdd(*op.getResult().getUsers().begin()) &&
                     (*op.getResult().getUsers().begin())->getBlock() == op->getBlock();
        if (!inner) {
          roots.push_back(op);
        }
      });
      for (BinaryOp root : roots) {
        SmallVector<Value> leaves;
        SmallVector<Operation *> inner;
        collectLeaves(root, leaves, inner);
        if (leaves.size() < 4) {
          continue; // already as short as it gets
        }
        // Pairwise levels, in the chain's order: depth ceil(log2(n)).
        OpBuilder builder(root);
        SmallVector<Value> level(leaves.begin(), leaves.end());
        while (level.size() > 1) {
          SmallVector<Value> next;
          for (size_t i = 0; i + 1 < level.size(); i += 2) {
            next.push_back(builder.create<BinaryOp>(root.getLoc(), root.getType(), level[i],
                                                    level[i + 1], builder.getStringAttr("add"),
                                                    IntegerAttr(), IntegerAttr(), IntegerAttr()));
          }
          if (level.size() % 2 == 1) {
            next.push_back(level.back());
          }
          level = std::move(next);
        }
        root.getResult().replaceAllUsesWith(level.front());
        root.erase();
        for (Operation *op : inner) { // users first: the chain was collected top-down
          op->erase();
        }
      }
    });
  }
};

} // namespace
