// conveyor-chip-shorten-chains: unit-axis transposes become views, add chains one vxm_sum.
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <algorithm>

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

/// The most addends one vxm_sum takes (the schedule's VXM_SUM limit: one stream each).
constexpr size_t kMaxAddends = 32;

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
        if (leaves.size() < 3) {
          continue; // one add already
        }
        // One vxm_sum reads every addend on its own stream and chains the adds in the ALU
        // mesh; past kMaxAddends, each further sum takes the previous one and the next
        // kMaxAddends - 1 addends.
        OpBuilder builder(root);
        Value sum;
        for (size_t next = 0; next < leaves.size();) {
          SmallVector<Value> addends;
          if (sum) {
            addends.push_back(sum);
          }
          size_t take = std::min(kMaxAddends - addends.size(), leaves.size() - next);
          addends.append(leaves.begin() + next, leaves.begin() + next + take);
          next += take;
          sum = builder.create<SumOp>(root.getLoc(), root.getType(), addends, IntegerAttr(),
                                      IntegerAttr(), IntegerAttr());
        }
        root.getResult().replaceAllUsesWith(sum);
        root.erase();
        for (Operation *op : inner) { // users first: the chain was collected top-down
          op->erase();
        }
      }
    });
  }
};

} // namespace
