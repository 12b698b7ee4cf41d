// Shape arithmetic shared by the timing rules and the functional executor: element counts,
// numpy broadcasting, matmul dimensions and transposed shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::sim {

using Shape = std::vector<int64_t>;

/// Product of the dimensions (1 for a scalar).
uint64_t elementCount(const Shape &shape);
/// "[2x3x4]" for messages.
std::string shapeText(const Shape &shape);

/// numpy broadcasting of two shapes; nullopt when a pair of dimensions is incompatible.
std::optional<Shape> broadcastShapes(const Shape &lhs, const Shape &rhs);

/// Dimensions of a numpy matmul lhs[..., M, K] @ rhs[..., K, N]. A 1-D lhs is [1, K] and a
/// 1-D rhs is [K, 1] (dropped again from `result`, as numpy does).
struct MatmulDims {
  Shape batchShape;   // broadcast batch dimensions
  uint64_t batch = 1; // product of batchShape
  uint64_t m = 0, k = 0, n = 0;
  Shape result;
};
/// nullopt when an operand is a scalar, K differs, or the batch dimensions do not broadcast.
std::optional<MatmulDims> matmulDims(const Shape &lhs, const Shape &rhs);

/// Shape of `shape` permuted by `perm` (perm assumed valid).
Shape transposedShape(const Shape &shape, const std::vector<int64_t> &perm);

} // namespace conveyor::sim
