// Shape arithmetic: element counts, numpy broadcasting, matmul dimensions, transposes.
#include "conveyor/Simulator/TensorShape.h"

#include <fmt/format.h>

#include <algorithm>

namespace conveyor::sim {

uint64_t elementCount(ShapeRef shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    count *= uint64_t(dim);
  }
  return count;
}

std::string shapeText(ShapeRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += fmt::format("{}{}", i ? "x" : "", shape[i]);
  }
  return text + "]";
}

std::optional<Shape> broadcastShapes(ShapeRef lhs, ShapeRef rhs) {
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

std::optional<MatmulDims> matmulDims(ShapeRef lhs, ShapeRef rhs) {
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

namespace {

/// Dimension `i` of `shape` aligned right in a `rank`-dimensional frame (missing leading
/// dimensions count as 1).
int64_t alignedDim(const int64_t *shape, size_t size, size_t rank, size_t i) {
  return i < rank - size ? 1 : shape[i - (rank - size)];
}

/// numpy broadcasting of two dimension lists; writes each output dimension to `visit`.
/// False when a pair is incompatible.
template <typename Visit>
bool broadcastEach(const int64_t *lhs, size_t lhsSize, const int64_t *rhs, size_t rhsSize,
                   Visit visit) {
  const size_t rank = std::max(lhsSize, rhsSize);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t a = alignedDim(lhs, lhsSize, rank, i);
    const int64_t b = alignedDim(rhs, rhsSize, rank, i);
    if (a != b && a != 1 && b != 1) {
      return false;
    }
    if (!visit(i, a == 1 ? b : a)) {
      return false;
    }
  }
  return true;
}

struct MatmulFrame {
  bool lhsVector, rhsVector;
  size_t lhsBatch, rhsBatch; // leading batch dimensions of each operand
  MatmulSizes sizes;
};

std::optional<MatmulFrame> matmulFrame(ShapeRef lhs, ShapeRef rhs) {
  if (lhs.empty() || rhs.empty()) {
    return std::nullopt;
  }
  MatmulFrame frame;
  frame.lhsVector = lhs.size() == 1;
  frame.rhsVector = rhs.size() == 1;
  frame.sizes.m = frame.lhsVector ? 1 : uint64_t(lhs[lhs.size() - 2]);
  frame.sizes.k = uint64_t(lhs.back());
  const uint64_t rhsK = frame.rhsVector ? uint64_t(rhs[0]) : uint64_t(rhs[rhs.size() - 2]);
  frame.sizes.n = frame.rhsVector ? 1 : uint64_t(rhs.back());
  if (frame.sizes.k != rhsK) {
    return std::nullopt;
  }
  frame.lhsBatch = lhs.size() - std::min<size_t>(lhs.size(), 2);
  frame.rhsBatch = rhs.size() - std::min<size_t>(rhs.size(), 2);
  return frame;
}

} // namespace

std::optional<MatmulSizes> matmulSizes(ShapeRef lhs, ShapeRef rhs) {
  std::optional<MatmulFrame> frame = matmulFrame(lhs, rhs);
  if (!frame) {
    return std::nullopt;
  }
  uint64_t batch = 1;
  if (!broadcastEach(lhs.data(), frame->lhsBatch, rhs.data(), frame->rhsBatch,
                     [&](size_t, int64_t dim) {
                       batch *= uint64_t(dim);
                       return true;
                     })) {
    return std::nullopt;
  }
  frame->sizes.batch = batch;
  return frame->sizes;
}

bool isMatmulResult(ShapeRef lhs, ShapeRef rhs, ShapeRef result) {
  std::optional<MatmulFrame> frame = matmulFrame(lhs, rhs);
  if (!frame) {
    return false;
  }
  const size_t batchRank = std::max(frame->lhsBatch, frame->rhsBatch);
  if (result.size() != batchRank + (frame->lhsVector ? 0 : 1) + (frame->rhsVector ? 0 : 1)) {
    return false;
  }
  if (!broadcastEach(lhs.data(), frame->lhsBatch, rhs.data(), frame->rhsBatch,
                     [&](size_t i, int64_t dim) { return result[i] == dim; })) {
    return false;
  }
  size_t next = batchRank;
  if (!frame->lhsVector && result[next++] != int64_t(frame->sizes.m)) {
    return false;
  }
  return frame->rhsVector || result[next] == int64_t(frame->sizes.n);
}

bool isBroadcastResult(ShapeRef lhs, ShapeRef rhs, ShapeRef result) {
  if (result.size() != std::max(lhs.size(), rhs.size())) {
    return false;
  }
  return broadcastEach(lhs.data(), lhs.size(), rhs.data(), rhs.size(),
                       [&](size_t i, int64_t dim) { return result[i] == dim; });
}

bool isTransposedResult(ShapeRef shape, std::span<const int64_t> perm, ShapeRef result) {
  if (result.size() != perm.size()) {
    return false;
  }
  for (size_t i = 0; i < perm.size(); ++i) {
    if (result[i] != shape[size_t(perm[i])]) {
      return false;
    }
  }
  return true;
}

Shape transposedShape(ShapeRef shape, std::span<const int64_t> perm) {
  Shape result(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    result[i] = shape[size_t(perm[i])];
  }
  return result;
}

} // namespace conveyor::sim
