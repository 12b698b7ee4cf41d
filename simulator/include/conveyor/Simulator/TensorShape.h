// Shape arithmetic shared by the timing rules and the functional executor: element counts,
// numpy broadcasting, matmul dimensions and transposed shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace conveyor::sim {

using Shape = std::vector<int64_t>;
/// A read-only view of dimensions (a Shape, or a buffer's shape inside the schedule).
using ShapeRef = std::span<const int64_t>;

/// Product of the dimensions (1 for a scalar).
uint64_t elementCount(ShapeRef shape);
/// "[2x3x4]" for messages.
std::string shapeText(ShapeRef shape);
/// Same dimensions. Inline, a loop: the fabric engine compares a template's and each
/// instance's shapes per buffer, and ranks are small (a library call per pair cost more than
/// the comparison).
inline bool sameShape(ShapeRef a, ShapeRef b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t axis = 0; axis < a.size(); ++axis) {
    if (a[axis] != b[axis]) {
      return false;
    }
  }
  return true;
}

/// numpy broadcasting of two shapes; nullopt when a pair of dimensions is incompatible.
std::optional<Shape> broadcastShapes(ShapeRef lhs, ShapeRef rhs);

/// Dimensions of a numpy matmul lhs[..., M, K] @ rhs[..., K, N]. A 1-D lhs is [1, K] and a
/// 1-D rhs is [K, 1] (dropped again from `result`, as numpy does).
struct MatmulDims {
  Shape batchShape;   // broadcast batch dimensions
  uint64_t batch = 1; // product of batchShape
  uint64_t m = 0, k = 0, n = 0;
  Shape result;
};
/// nullopt when an operand is a scalar, K differs, or the batch dimensions do not broadcast.
std::optional<MatmulDims> matmulDims(ShapeRef lhs, ShapeRef rhs);

/// Shape of `shape` permuted by `perm` (perm assumed valid).
Shape transposedShape(ShapeRef shape, std::span<const int64_t> perm);

// Allocation-free forms of the above for the timing engine's per-instruction path; each
// agrees exactly with the allocating function it mirrors (unit-tested).

/// batch, M, K, N of lhs @ rhs, as matmulDims gives them; nullopt exactly when it does.
struct MatmulSizes {
  uint64_t batch = 1, m = 0, k = 0, n = 0;
};
std::optional<MatmulSizes> matmulSizes(ShapeRef lhs, ShapeRef rhs);
/// matmulDims(lhs, rhs) exists and its result equals `result`.
bool isMatmulResult(ShapeRef lhs, ShapeRef rhs, ShapeRef result);
/// broadcastShapes(lhs, rhs) exists and equals `result`.
bool isBroadcastResult(ShapeRef lhs, ShapeRef rhs, ShapeRef result);
/// transposedShape(shape, perm) equals `result` (perm assumed valid for `shape`).
bool isTransposedResult(ShapeRef shape, std::span<const int64_t> perm, ShapeRef result);

} // namespace conveyor::sim
