// conveyor-chip-fold-attention-scale: the queries' scalar scale goes into q's weights.
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace conveyor::chip {
#define GEN_PASS_DEF_FOLDATTENTIONSCALE
#include "conveyor/Dialect/Chip/ChipPasses.h.inc"
} // namespace conveyor::chip

using namespace mlir;
using namespace conveyor::chip;

namespace {

/// The value of a one-element float constant weight, if `value` is one.
std::optional<double> scalarConstant(Value value) {
  auto weight = value.getDefiningOp<WeightOp>();
  if (!weight) {
    return std::nullopt;
  }
  DenseElementsAttr data = getDenseElements(weight.getValue());
  if (!data || data.getNumElements() != 1 || !isa<FloatType>(data.getElementType())) {
    return std::nullopt;
  }
  APFloat element = *data.getValues<APFloat>().begin();
  bool losesInfo = false;
  element.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
  return element.convertToDouble();
}

/// The weight whose data carries a projection's output scale: the rhs of an mxm_matmul by
/// a rank-2 weight, or the per-channel scales of an mxm_matmul_dq. Null for anything else.
OpOperand *scaleCarrier(Operation *op) {
  if (auto product = dyn_cast<MatMulOp>(op)) {
    auto weight = product.getRhs().getDefiningOp<WeightOp>();
    if (weight && cast<RankedTensorType>(weight.getType()).getRank() == 2) {
      return &op->getOpOperand(1);
    }
    return nullptr;
  }
  if (auto product = dyn_cast<MatMulDqOp>(op)) {
    return product.getScale().getDefiningOp<WeightOp>() ? &op->getOpOperand(2) : nullptr;
  }
  return nullptr;
}

/// Walks back from `value` through ops linear in it, each result used once, to the
/// projection that produces it; the operand whose weight takes the factor, or null.
OpOperand *findProjection(Value value) {
  while (value.hasOneUse()) {
    Operation *op = value.getDefiningOp();
    if (!op) {
      return nullptr;
    }
    if (OpOperand *carrier = scaleCarrier(op)) {
      return carrier;
    }
    if (isa<ViewOp, TransposeOp, RotaryOp>(op)) {
      value = op->getOperand(0);
      continue;
    }
    // The scores q k^T: scaling them scales the queries (k is not a weight: the cache).
    if (auto scores = dyn_cast<MatMulOp>(op); scores && scores.getLhs() != scores.getRhs()) {
      value = scores.getLhs();
      continue;
    }
    return nullptr;
  }
  return nullptr;
}

/// Multiplies `carrier`'s weight data by `factor` (a copy of the weight when others read
/// it). Shape-only weights have no data: nothing to change, but then the weight must be
/// this projection's alone. False when the fold cannot be made.
bool scaleWeight(OpOperand &carrier, double factor) {
  auto weight = carrier.get().getDefiningOp<WeightOp>();
  DenseElementsAttr data = getDenseElements(weight.getValue());
  if (!data) {
    return weight->hasOneUse();
  }
  auto floatType = dyn_cast<FloatType>(data.getElementType());
  if (!floatType) {
    return false;
  }
  DenseElementsAttr scaled = data.mapValues(floatType, [&](const APFloat &value) {
    APFloat wide = value;
    bool losesInfo = false;
    wide.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
    APFloat product(wide.convertToDouble() * factor);
    product.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
    return product.bitcastToAPInt();
  });
  if (!weight->hasOneUse()) {
    OpBuilder builder(weight);
    auto copy = cast<WeightOp>(builder.clone(*weight));
    copy.setNameAttr(builder.getStringAttr(weight.getName().str() + ".scaled"));
    carrier.set(copy.getResult());
    weight = copy;
  }
  weight.setValueAttr(scaled);
  return true;
}

struct FoldAttentionScalePass
    : public conveyor::chip::impl::FoldAttentionScaleBase<FoldAttentionScalePass> {
  using FoldAttentionScaleBase::FoldAttentionScaleBase;

  void runOnOperation() override {
    SmallVector<BinaryOp> multiplies;
    getOperation().walk([&](BinaryOp op) {
      if (op.getKind() == "mul") {
        multiplies.push_back(op);
      }
    });
    for (BinaryOp mul : multiplies) {
      for (auto [input, factor] : {std::pair(mul.getLhs(), mul.getRhs()),
                                   std::pair(mul.getRhs(), mul.getLhs())}) {
        std::optional<double> scale = scalarConstant(factor);
        if (!scale || input.getType() != mul.getType()) {
          continue;
        }
        OpOperand *carrier = findProjection(input);
        if (!carrier || !scaleWeight(*carrier, *scale)) {
          continue;
        }
        Operation *scalar = factor.getDefiningOp();
        mul.getResult().replaceAllUsesWith(input);
        mul.erase();
        if (scalar->use_empty()) {
          scalar->erase();
        }
        ++numFolded;
        break;
      }
    }
  }
};

} // namespace
