// Shape arithmetic: element counts, numpy broadcasting, matmul dimensions, transposes.
#include "conveyor/Simulator/TensorShape.h"

#include <fmt/format.h>

#include <algorithm>

namespace conveyor::sim {

uint64_t elementCount(const Shape &shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    count *= uint64_t(dim);
  }
  return count;
}

std::string shapeText(const Shape &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += fmt::format("{}{}", i ? "x" : "", shape[i]);
  }
  return text + "]";
}

std::optional<Shape> broadcastShapes(const Shape &lhs, const Shape &rhs) {
  const size_t rank = std::max(lhs.size(), rhs.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right; missing leading dimensions count as 1.
    const int64_t a = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    const int64_t b = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (a != b && a != 1 && b != 1) {
      return std::nullopt;
    }
    result[i] = a == 1 ? b : a;
  }
  return result;
}

std::optional<MatmulDims> matmulDims(const Shape &lhs, const Shape &rhs) {
  if (lhs.empty() || rhs.empty()) {
    return std::nullopt;
  }
  MatmulDims dims;
  const bool lhsVector = lhs.size() == 1;
  const bool rhsVector = rhs.size() == 1;
  dims.m = lhsVector ? 1 : uint64_t(lhs[lhs.size() - 2]);
  dims.k = uint64_t(lhs.back());
  const uint64_t rhsK = rhsVector ? uint64_t(rhs[0]) : uint64_t(rhs[rhs.size() - 2]);
  dims.n = rhsVector ? 1 : uint64_t(rhs.back());
  if (dims.k != rhsK) {
    return std::nullopt;
  }
  const Shape lhsBatch(lhs.begin(), lhs.end() - std::min<size_t>(lhs.size(), 2));
  const Shape rhsBatch(rhs.begin(), rhs.end() - std::min<size_t>(rhs.size(), 2));
  std::optional<Shape> batch = broadcastShapes(lhsBatch, rhsBatch);
  if (!batch) {
    return std::nullopt;
  }
  dims.batchShape = *batch;
  dims.batch = elementCount(*batch);
  dims.result = *batch;
  if (!lhsVector) {
    dims.result.push_back(int64_t(dims.m));
  }
  if (!rhsVector) {
    dims.result.push_back(int64_t(dims.n));
  }
  return dims;
}

Shape transposedShape(const Shape &shape, const std::vector<int64_t> &perm) {
  Shape result(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    result[i] = shape[size_t(perm[i])];
  }
  return result;
}

} // namespace conveyor::sim
