// Rotary position embedding (rotate-half form) recognition for conveyor-graph-fuse-transformer.
#include "TransformerPatterns.h"

#include "PatternSupport.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace conveyor::graph;

namespace conveyor::graph::patterns {

namespace {

/// slice(x) taking [start, start + size) with step 1 on the last axis only, used once.
bool isLastAxisSlice(Value value, Value x, int64_t start, int64_t size) {
  auto slice = value.getDefiningOp<SliceOp>();
  if (!slice || !value.hasOneUse() || slice.getInput() != x) {
    return false;
  }
  int64_t last = cast<RankedTensorType>(x.getType()).getRank() - 1;
  return slice.getAxes().size() == 1 && slice.getAxes()[0] == last &&
         slice.getStarts()[0] == start && slice.getSizes()[0] == size && slice.getSteps()[0] == 1;
}

/// True when `value` (used once) is concat(neg(x[..., d/2:]), x[..., :d/2]) on the last axis.
bool isRotateHalf(Value value, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t headDim = type.getRank() > 0 ? type.getDimSize(type.getRank() - 1) : 0;
  auto concat = value.getDefiningOp<ConcatOp>();
  if (!concat || !value.hasOneUse() || ShapedType::isDynamic(headDim) || headDim % 2 != 0 ||
      concat.getAxis() != type.getRank() - 1 || concat.getInputs().size() != 2 ||
      concat.getType() != type) {
    return false;
  }
  auto neg = concat.getInputs()[0].getDefiningOp<NegOp>();
  return neg && concat.getInputs()[0].hasOneUse() &&
         isLastAxisSlice(neg.getInput(), x, headDim / 2, headDim / 2) &&
         isLastAxisSlice(concat.getInputs()[1], x, 0, headDim / 2);
}

} // namespace

bool fuseRotary(AddOp add, llvm::DenseSet<Operation *> &erased) {
  for (auto [direct, rotated] :
       {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())}) {
    auto cosProduct = direct.getDefiningOp<MulOp>();
    auto sinProduct = rotated.getDefiningOp<MulOp>();
    if (!cosProduct || !sinProduct || cosProduct == sinProduct || !direct.hasOneUse() ||
        !rotated.hasOneUse()) {
      continue;
    }
    for (auto [x, cos] : {std::pair(cosProduct.getLhs(), cosProduct.getRhs()),
                          std::pair(cosProduct.getRhs(), cosProduct.getLhs())}) {
      for (auto [rotation, sin] : {std::pair(sinProduct.getLhs(), sinProduct.getRhs()),
                                   std::pair(sinProduct.getRhs(), sinProduct.getLhs())}) {
        // No broadcasting may enlarge x: every product and the sum keep its type, and
        // cos / sin (one type) then broadcast to x as the verifier requires.
        auto xType = cast<RankedTensorType>(x.getType());
        if (!isa<FloatType>(xType.getElementType()) || add.getType() != xType ||
            cosProduct.getType() != xType || sinProduct.getType() != xType ||
            cos.getType() != sin.getType() || !isRotateHalf(rotation, x)) {
          continue;
        }
        OpBuilder builder(add);
        auto rotary = builder.create<RotaryOp>(add.getLoc(), add.getType(), x, cos, sin);
        replaceChain(add, rotary, erased);
        return true;
      }
    }
  }
  return false;
}

} // namespace conveyor::graph::patterns
