// Verifier of cv.chip.kv_append: the in-place write of new K/V rows into a resident cache.
#include "conveyor/Dialect/Chip/ChipOps.h"

using namespace mlir;
using namespace conveyor::chip;

LogicalResult KvAppendOp::verify() {
  auto cache = cast<RankedTensorType>(getCache().getType());
  auto rows = cast<RankedTensorType>(getRows().getType());
  if (!cache.hasStaticShape() || !rows.hasStaticShape()) {
    return emitOpError("needs statically shaped cache and rows");
  }
  if (getResult().getType() != cache) {
    return emitOpError() << "result " << getResult().getType()
                         << " must have the cache's type " << cache << " (same storage)";
  }
  if (cache.getElementType() != rows.getElementType()) {
    return emitOpError() << "rows " << rows << " and cache " << cache
                         << " must have the same element type";
  }
  if (cache.getRank() != 4 || rows.getRank() != 4) {
    return emitOpError("expects a [b, kv, T, d] (axis 2) or [b, kv, d, T] (axis 3) cache and "
                       "[b, kv, s, d] rows");
  }
  int64_t axis = static_cast<int64_t>(getAxis());
  if (axis != 2 && axis != 3) {
    return emitOpError() << "axis must be 2 (rows of [b, kv, T, d]) or 3 (columns of a "
                            "transposed [b, kv, d, T] cache), got "
                         << axis;
  }
  ArrayRef<int64_t> c = cache.getShape(), r = rows.getShape();
  int64_t length = c[size_t(axis)], depth = axis == 2 ? c[3] : c[2];
  if (c[0] != r[0] || c[1] != r[1] || depth != r[3]) {
    return emitOpError() << "rows " << rows << " do not fit cache " << cache << " on axis "
                         << axis;
  }
  int64_t position = static_cast<int64_t>(getPosition());
  if (position < 0 || position + r[2] > length) {
    return emitOpError() << "writes positions [" << position << ", " << position + r[2]
                         << ") outside the cache's " << length;
  }
  for (StringRef name : {"issue", "sram_addr", "chip"}) {
    if (auto attr = (*this)->getAttrOfType<IntegerAttr>(name); attr && attr.getValue().isNegative()) {
      return emitOpError() << "attribute '" << name << "' must be non-negative";
    }
  }
  return success();
}
