// Verifier of cv.chip.mxm_expert_matmul: MoE expert products that read the selected experts'
// weights in place from the resident [E, K, N] expert stack.
#include "conveyor/Dialect/Chip/ChipOps.h"

#include <string>

using namespace mlir;
using namespace conveyor::chip;

namespace {
std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + "]";
}
} // namespace

LogicalResult ExpertMatMulOp::verify() {
  for (Value value : getOperation()->getOperands()) {
    if (!cast<RankedTensorType>(value.getType()).hasStaticShape()) {
      return emitOpError() << "operands must have static shapes, got " << value.getType();
    }
  }
  for (StringRef name : {"issue", "sram_addr", "chip"}) {
    if (auto attr = (*this)->getAttrOfType<IntegerAttr>(name); attr && attr.getValue().isNegative()) {
      return emitOpError() << "attribute '" << name << "' must be non-negative";
    }
  }
  ArrayRef<int64_t> lhs = getLhs().getType().getShape();
  ArrayRef<int64_t> table = getTable().getType().getShape();
  ArrayRef<int64_t> indices = getIndices().getType().getShape();
  if (!isa<FloatType>(getLhs().getType().getElementType())) {
    return emitOpError() << "lhs must be a float tensor, got " << getLhs().getType();
  }
  if (!getIndices().getType().getElementType().isInteger(32) || indices.size() != 2) {
    return emitOpError() << "indices must be i32 [tokens, k], got " << getIndices().getType();
  }
  if (table.size() != 3) {
    return emitOpError() << "table must be the expert stack [experts, K, N], got "
                         << shapeString(table);
  }
  int64_t tokens = indices[0], slots = indices[1];
  if (lhs.size() != 4 || lhs[0] != tokens || (lhs[1] != slots && lhs[1] != 1) ||
      lhs[3] != table[1]) {
    return emitOpError() << "lhs " << shapeString(lhs) << " must be [" << tokens << ", " << slots
                         << " or 1, M, " << table[1] << "] for indices " << shapeString(indices)
                         << " and table " << shapeString(table);
  }
  if (Value scale = getScale()) {
    ArrayRef<int64_t> shape = cast<RankedTensorType>(scale.getType()).getShape();
    if (shape != ArrayRef<int64_t>{table[0], 1, table[2]} ||
        !cast<RankedTensorType>(scale.getType()).getElementType().isF32()) {
      return emitOpError() << "scale must be f32 [" << table[0] << ", 1, " << table[2]
                           << "], got " << scale.getType();
    }
  } else if (getTable().getType().getElementType() != getLhs().getType().getElementType()) {
    return emitOpError("without a scale the table must have lhs's element type");
  }
  if (getType().getElementType() != getLhs().getType().getElementType()) {
    return emitOpError("result element type must be lhs's");
  }
  SmallVector<int64_t> expected{tokens, slots, lhs[2], table[2]};
  if (getType().getShape() != ArrayRef<int64_t>(expected)) {
    return emitOpError() << "result must be " << shapeString(expected) << ", got "
                         << shapeString(getType().getShape());
  }
  return success();
}
