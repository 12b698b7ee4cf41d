// Functional numerics with Eigen: numpy-broadcast matmul and binary ops, elementwise math,
// softmax, norms, rotary, gather/slice/concat/broadcast, top-k, casts and dequantising
// matmuls; views share their root's storage. Every buffer is held as f32 values that its
// dtype can represent: weights are decoded from their bytes, and every instruction result
// (and every bound input) is rounded to its buffer's dtype, which is how f16/bf16/fp8
// activations and int weights are emulated (products accumulate in fp32).
#include "conveyor/Simulator/FunctionalExecutor.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/Numerics.h"

#include <Eigen/Core>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace conveyor::sim {
namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Strides (in elements) of `in`, laid out for the rank of `out` with numpy broadcasting:
/// leading missing dimensions and dimensions of size 1 get stride 0.
std::vector<uint64_t> broadcastStrides(ShapeRef in, ShapeRef out) {
  std::vector<uint64_t> strides(out.size(), 0);
  uint64_t stride = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    const size_t inAxis = in.size() - 1 - i;
    const size_t outAxis = out.size() - 1 - i;
    strides[outAxis] = in[inAxis] == 1 ? 0 : stride;
    stride *= uint64_t(in[inAxis]);
  }
  return strides;
}

/// Calls visit(outIndex, offsetA, offsetB) for every element of `out` in row-major order,
/// with offsets into two inputs whose per-axis strides are `stridesA` and `stridesB`.
template <typename Visit>
void forEachIndex(ShapeRef out, const std::vector<uint64_t> &stridesA,
                  const std::vector<uint64_t> &stridesB, Visit visit) {
  const uint64_t total = elementCount(out);
  if (total == 0) {
    return;
  }
  std::vector<int64_t> index(out.size(), 0);
  uint64_t offsetA = 0, offsetB = 0;
  for (uint64_t flat = 0; flat < total; ++flat) {
    visit(flat, offsetA, offsetB);
    // Odometer increment from the last axis.
    for (size_t axis = out.size(); axis-- > 0;) {
      if (++index[axis] < out[axis]) {
        offsetA += stridesA[axis];
        offsetB += stridesB[axis];
        break;
      }
      offsetA -= stridesA[axis] * uint64_t(out[axis] - 1);
      offsetB -= stridesB[axis] * uint64_t(out[axis] - 1);
      index[axis] = 0;
    }
  }
}

float applyBinary(schedule::ElementwiseKind kind, float a, float b) {
  switch (kind) {
  case schedule::ADD:
    return a + b;
  case schedule::SUB:
    return a - b;
  case schedule::MUL:
    return a * b;
  case schedule::DIV:
    return a / b;
  case schedule::POW:
    return std::pow(a, b);
  case schedule::MAX:
    return std::max(a, b);
  case schedule::MIN:
    return std::min(a, b);
  default:
    break;
  case schedule::RELU:
  case schedule::GELU:
  case schedule::GELU_TANH:
  case schedule::ELEMENTWISE_UNSPECIFIED:
  case schedule::ElementwiseKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::ElementwiseKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return std::nanf("");
}

float applyUnary(schedule::ElementwiseKind kind, float x) {
  switch (kind) {
  case schedule::RELU:
    return x > 0.0f ? x : 0.0f;
  case schedule::GELU:
    return 0.5f * x * (1.0f + std::erf(x * float(M_SQRT1_2)));
  case schedule::GELU_TANH: {
    const float inner = float(std::sqrt(2.0 / M_PI)) * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + std::tanh(inner));
  }
  case schedule::EXP:
    return std::exp(x);
  case schedule::LOG:
    return std::log(x);
  case schedule::SQRT:
    return std::sqrt(x);
  case schedule::RSQRT:
    return 1.0f / std::sqrt(x);
  case schedule::RECIPROCAL:
    return 1.0f / x;
  case schedule::NEG:
    return -x;
  case schedule::ABS:
    return std::fabs(x);
  case schedule::SIN:
    return std::sin(x);
  case schedule::COS:
    return std::cos(x);
  case schedule::TANH:
    return std::tanh(x);
  case schedule::SIGMOID:
    return 1.0f / (1.0f + std::exp(-x));
  case schedule::SILU:
    return x / (1.0f + std::exp(-x));
  case schedule::ERF:
    return std::erf(x);
  default:
    break;
  case schedule::ADD:
  case schedule::SUB:
  case schedule::MUL:
  case schedule::DIV:
  case schedule::ELEMENTWISE_UNSPECIFIED:
  case schedule::ElementwiseKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::ElementwiseKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return std::nanf("");
}

std::vector<float> matmul(const std::vector<float> &lhs, ShapeRef lhsShape,
                          const std::vector<float> &rhs, ShapeRef rhsShape) {
  const MatmulDims dims = *matmulDims(lhsShape, rhsShape);
  std::vector<float> out(dims.batch * dims.m * dims.n);
  const Shape lhsBatch(lhsShape.begin(), lhsShape.end() - std::min<size_t>(lhsShape.size(), 2));
  const Shape rhsBatch(rhsShape.begin(), rhsShape.end() - std::min<size_t>(rhsShape.size(), 2));
  const std::vector<uint64_t> lhsStrides = broadcastStrides(lhsBatch, dims.batchShape);
  const std::vector<uint64_t> rhsStrides = broadcastStrides(rhsBatch, dims.batchShape);
  const auto m = Eigen::Index(dims.m), k = Eigen::Index(dims.k), n = Eigen::Index(dims.n);
  forEachIndex(dims.batchShape, lhsStrides, rhsStrides,
               [&](uint64_t batch, uint64_t lhsBatchIndex, uint64_t rhsBatchIndex) {
                 Eigen::Map<const RowMajorMatrix> a(lhs.data() + lhsBatchIndex * m * k, m, k);
                 Eigen::Map<const RowMajorMatrix> b(rhs.data() + rhsBatchIndex * k * n, k, n);
                 Eigen::Map<RowMajorMatrix> c(out.data() + batch * m * n, m, n);
                 c.noalias() = a * b;
               });
  return out;
}

std::vector<float> binary(schedule::ElementwiseKind kind, const std::vector<float> &lhs,
                          ShapeRef lhsShape, const std::vector<float> &rhs, ShapeRef rhsShape) {
  const Shape outShape = *broadcastShapes(lhsShape, rhsShape);
  std::vector<float> out(elementCount(outShape));
  if (sameShape(lhsShape, rhsShape)) {
    // Same shapes: plain elementwise arrays, vectorised by Eigen.
    const auto size = Eigen::Index(out.size());
    Eigen::Map<const Eigen::ArrayXf> a(lhs.data(), size), b(rhs.data(), size);
    Eigen::Map<Eigen::ArrayXf> c(out.data(), size);
    switch (kind) {
    case schedule::ADD:
      c = a + b;
      return out;
    case schedule::SUB:
      c = a - b;
      return out;
    case schedule::MUL:
      c = a * b;
      return out;
    case schedule::DIV:
      c = a / b;
      return out;
    default: // pow, max, min take the general path below
      break;
    case schedule::RELU:
    case schedule::GELU:
    case schedule::GELU_TANH:
    case schedule::ELEMENTWISE_UNSPECIFIED:
    case schedule::ElementwiseKind_INT_MIN_SENTINEL_DO_NOT_USE_:
    case schedule::ElementwiseKind_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
    }
  }
  forEachIndex(outShape, broadcastStrides(lhsShape, outShape), broadcastStrides(rhsShape, outShape),
               [&](uint64_t flat, uint64_t a, uint64_t b) {
                 out[flat] = applyBinary(kind, lhs[a], rhs[b]);
               });
  return out;
}

std::vector<float> softmax(const std::vector<float> &in, ShapeRef shape, int64_t axis) {
  uint64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) {
    outer *= uint64_t(shape[size_t(i)]);
  }
  for (size_t i = size_t(axis) + 1; i < shape.size(); ++i) {
    inner *= uint64_t(shape[i]);
  }
  const uint64_t length = uint64_t(shape[size_t(axis)]);
  std::vector<float> out(in.size());
  for (uint64_t o = 0; o < outer; ++o) {
    for (uint64_t i = 0; i < inner; ++i) {
      const uint64_t base = o * length * inner + i;
      // Subtract the maximum so that exp never overflows (numerically stable softmax).
      float maximum = -INFINITY;
      for (uint64_t j = 0; j < length; ++j) {
        maximum = std::max(maximum, in[base + j * inner]);
      }
      double sum = 0;
      for (uint64_t j = 0; j < length; ++j) {
        const float e = std::exp(in[base + j * inner] - maximum);
        out[base + j * inner] = e;
        sum += e;
      }
      const float scale = float(1.0 / sum);
      for (uint64_t j = 0; j < length; ++j) {
        out[base + j * inner] *= scale;
      }
    }
  }
  return out;
}

std::vector<float> transpose(const std::vector<float> &in, ShapeRef shape,
                             std::span<const int64_t> perm) {
  const Shape outShape = transposedShape(shape, perm);
  std::vector<uint64_t> inStrides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) {
    inStrides[i - 1] = inStrides[i] * uint64_t(shape[i]);
  }
  // Output axis d walks input axis perm[d].
  std::vector<uint64_t> walk(outShape.size());
  for (size_t d = 0; d < outShape.size(); ++d) {
    walk[d] = inStrides[size_t(perm[d])];
  }
  std::vector<float> out(in.size());
  forEachIndex(outShape, walk, walk,
               [&](uint64_t flat, uint64_t source, uint64_t) { out[flat] = in[source]; });
  return out;
}

// Transformer ops

/// Row-major strides (in elements) of `shape`.
std::vector<uint64_t> rowMajorStrides(ShapeRef shape) {
  std::vector<uint64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) {
    strides[i - 1] = strides[i] * uint64_t(shape[i]);
  }
  return strides;
}

uint64_t product(ShapeRef shape, size_t begin, size_t end) {
  uint64_t result = 1;
  for (size_t i = begin; i < end; ++i) {
    result *= uint64_t(shape[i]);
  }
  return result;
}

/// `in` broadcast (numpy rules) to `outShape`.
std::vector<float> broadcastTo(const std::vector<float> &in, ShapeRef inShape, ShapeRef outShape) {
  std::vector<float> out(elementCount(outShape));
  const std::vector<uint64_t> strides = broadcastStrides(inShape, outShape);
  forEachIndex(outShape, strides, strides,
               [&](uint64_t flat, uint64_t source, uint64_t) { out[flat] = in[source]; });
  return out;
}

Result<std::vector<float>> gather(const std::vector<float> &table, ShapeRef tableShape,
                                  const std::vector<float> &indices, int64_t axis) {
  const uint64_t outer = product(tableShape, 0, size_t(axis));
  const auto length = int64_t(tableShape[size_t(axis)]);
  const uint64_t inner = product(tableShape, size_t(axis) + 1, tableShape.size());
  std::vector<float> out(outer * indices.size() * inner);
  for (uint64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < indices.size(); ++i) {
      auto index = int64_t(indices[i]);
      if (index < 0) {
        index += length;
      }
      if (index < 0 || index >= length) {
        return makeError(fmt::format("index {} is outside [0, {}) of the gathered axis",
                                     int64_t(indices[i]), length));
      }
      std::copy_n(table.begin() + int64_t((o * uint64_t(length) + uint64_t(index)) * inner),
                  inner, out.begin() + int64_t((o * indices.size() + i) * inner));
    }
  }
  return out;
}

std::vector<float> slice(const std::vector<float> &in, ShapeRef inShape, ShapeRef outShape,
                         const schedule::Instruction &inst) {
  const std::vector<uint64_t> strides = rowMajorStrides(inShape);
  std::vector<uint64_t> walk(inShape.size());
  uint64_t base = 0;
  for (size_t axis = 0; axis < inShape.size(); ++axis) {
    base += uint64_t(inst.starts(int(axis))) * strides[axis];
    // Negative steps wrap in unsigned arithmetic and still add up to the right offset.
    walk[axis] = uint64_t(inst.steps(int(axis))) * strides[axis];
  }
  std::vector<float> out(elementCount(outShape));
  forEachIndex(outShape, walk, walk,
               [&](uint64_t flat, uint64_t offset, uint64_t) { out[flat] = in[base + offset]; });
  return out;
}

std::vector<float> concat(const std::vector<float> &lhs, ShapeRef lhsShape,
                          const std::vector<float> &rhs, ShapeRef rhsShape, int64_t axis) {
  const uint64_t outer = product(lhsShape, 0, size_t(axis));
  const uint64_t lhsRow = product(lhsShape, size_t(axis), lhsShape.size());
  const uint64_t rhsRow = product(rhsShape, size_t(axis), rhsShape.size());
  std::vector<float> out;
  out.reserve(lhs.size() + rhs.size());
  for (uint64_t o = 0; o < outer; ++o) {
    out.insert(out.end(), lhs.begin() + int64_t(o * lhsRow), lhs.begin() + int64_t((o + 1) * lhsRow));
    out.insert(out.end(), rhs.begin() + int64_t(o * rhsRow), rhs.begin() + int64_t((o + 1) * rhsRow));
  }
  return out;
}

std::vector<float> reduce(const std::vector<float> &in, ShapeRef inShape, ShapeRef outShape,
                          schedule::ElementwiseKind kind) {
  const uint64_t total = elementCount(outShape);
  const bool isMax = kind == schedule::REDUCE_MAX, isMin = kind == schedule::REDUCE_MIN;
  std::vector<double> accumulator(total, isMax   ? -INFINITY
                                         : isMin ? INFINITY
                                                 : 0.0);
  // Each input element lands on the output element with its reduced axes set to 0.
  const std::vector<uint64_t> toOut = broadcastStrides(outShape, inShape);
  const std::vector<uint64_t> none(inShape.size(), 0);
  forEachIndex(inShape, toOut, none, [&](uint64_t flat, uint64_t target, uint64_t) {
    double &slot = accumulator[target];
    const double value = in[flat];
    slot = isMax ? std::max(slot, value) : isMin ? std::min(slot, value) : slot + value;
  });
  const double count = double(in.size()) / double(std::max<uint64_t>(total, 1));
  std::vector<float> out(total);
  for (uint64_t i = 0; i < total; ++i) {
    out[i] = float(kind == schedule::REDUCE_MEAN ? accumulator[i] / count : accumulator[i]);
  }
  return out;
}

/// RMS norm (no bias) or layer norm over the trailing axes [axis, rank), f32 statistics.
std::vector<float> normalize(const std::vector<float> &in, ShapeRef shape, int64_t axis,
                             float epsilon, const std::vector<float> &scale, ShapeRef scaleShape,
                             const std::vector<float> *bias, ShapeRef biasShape, bool layer) {
  const ShapeRef trailing = shape.subspan(size_t(axis));
  const uint64_t length = elementCount(trailing);
  const uint64_t rows = length == 0 ? 0 : in.size() / length;
  const std::vector<float> gamma = broadcastTo(scale, scaleShape, trailing);
  const std::vector<float> beta =
      bias ? broadcastTo(*bias, biasShape, trailing) : std::vector<float>(length, 0.0f);
  std::vector<float> out(in.size());
  for (uint64_t r = 0; r < rows; ++r) {
    const float *x = in.data() + r * length;
    float *y = out.data() + r * length;
    double mean = 0;
    if (layer) {
      for (uint64_t i = 0; i < length; ++i) {
        mean += x[i];
      }
      mean /= double(length);
    }
    double squares = 0;
    for (uint64_t i = 0; i < length; ++i) {
      const double centred = x[i] - mean;
      squares += centred * centred;
    }
    const float inverse = float(1.0 / std::sqrt(squares / double(length) + double(epsilon)));
    for (uint64_t i = 0; i < length; ++i) {
      y[i] = float(x[i] - mean) * inverse * gamma[i] + beta[i];
    }
  }
  return out;
}

std::vector<float> select(const std::vector<float> &condition, ShapeRef conditionShape,
                          const std::vector<float> &lhs, ShapeRef lhsShape,
                          const std::vector<float> &rhs, ShapeRef rhsShape, ShapeRef outShape) {
  const std::vector<float> c = broadcastTo(condition, conditionShape, outShape);
  const std::vector<float> a = broadcastTo(lhs, lhsShape, outShape);
  const std::vector<float> b = broadcastTo(rhs, rhsShape, outShape);
  std::vector<float> out(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    out[i] = c[i] != 0.0f ? a[i] : b[i];
  }
  return out;
}

/// The k largest along `axis` (largest first; ties keep the lower index first), as values or
/// as indices.
std::vector<float> topk(const std::vector<float> &in, ShapeRef shape, int64_t axis, int64_t k,
                        bool indices) {
  const uint64_t outer = product(shape, 0, size_t(axis));
  const auto length = uint64_t(shape[size_t(axis)]);
  const uint64_t inner = product(shape, size_t(axis) + 1, shape.size());
  std::vector<float> out(outer * uint64_t(k) * inner);
  std::vector<uint64_t> order(length);
  for (uint64_t o = 0; o < outer; ++o) {
    for (uint64_t i = 0; i < inner; ++i) {
      auto at = [&](uint64_t j) { return in[(o * length + j) * inner + i]; };
      for (uint64_t j = 0; j < length; ++j) {
        order[j] = j;
      }
      std::stable_sort(order.begin(), order.end(),
                       [&](uint64_t a, uint64_t b) { return at(a) > at(b); });
      for (uint64_t j = 0; j < uint64_t(k); ++j) {
        out[(o * uint64_t(k) + j) * inner + i] = indices ? float(order[j]) : at(order[j]);
      }
    }
  }
  return out;
}

std::vector<float> rotary(const std::vector<float> &x, ShapeRef shape,
                          const std::vector<float> &cos, ShapeRef cosShape,
                          const std::vector<float> &sin, ShapeRef sinShape) {
  const std::vector<float> c = broadcastTo(cos, cosShape, shape);
  const std::vector<float> s = broadcastTo(sin, sinShape, shape);
  const auto width = uint64_t(shape.back()), half = width / 2;
  std::vector<float> out(x.size());
  for (uint64_t row = 0; row < x.size() / width; ++row) {
    const uint64_t base = row * width;
    for (uint64_t j = 0; j < width; ++j) {
      // rotate_half(x) = concat(-x[half:], x[:half]).
      const float rotated = j < half ? -x[base + j + half] : x[base + j - half];
      out[base + j] = x[base + j] * c[base + j] + rotated * s[base + j];
    }
  }
  return out;
}

/// lhs @ weight (already decoded to its integer or fp8 values) in fp32, then column n times
/// scale[n]: symmetric per-output-channel dequantisation after fp32 accumulation.
std::vector<float> matmulDequantized(const std::vector<float> &lhs, ShapeRef lhsShape,
                                     const std::vector<float> &weight, ShapeRef weightShape,
                                     const std::vector<float> &scale) {
  std::vector<float> out = matmul(lhs, lhsShape, weight, weightShape);
  const size_t n = scale.size();
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] *= scale[i % n];
  }
  return out;
}

/// MoE expert products read in place: out[t, j] = lhs[t, j or 0] @ table[indices[t, j]]
/// (lhs [T, k or 1, M, K], table [E, K, N], out [T, k, M, N]), times that expert's
/// per-channel scale row ([E, 1, N]) when `scale` is given; fp32 accumulation.
Result<std::vector<float>> expertMatmul(const std::vector<float> &lhs, ShapeRef lhsShape,
                                        const std::vector<float> &table, ShapeRef tableShape,
                                        const std::vector<float> &indices, ShapeRef indexShape,
                                        const std::vector<float> *scale) {
  const auto tokens = uint64_t(indexShape[0]), slots = uint64_t(indexShape[1]);
  const auto experts = int64_t(tableShape[0]);
  const auto m = Eigen::Index(lhsShape[2]), k = Eigen::Index(tableShape[1]),
             n = Eigen::Index(tableShape[2]);
  const bool perSlotLhs = uint64_t(lhsShape[1]) == slots;
  std::vector<float> out(tokens * slots * uint64_t(m * n));
  for (uint64_t t = 0; t < tokens; ++t) {
    for (uint64_t j = 0; j < slots; ++j) {
      auto expert = int64_t(indices[t * slots + j]);
      if (expert < 0 || expert >= experts) {
        return makeError(fmt::format("expert index {} is outside [0, {})", expert, experts));
      }
      const uint64_t lhsSlot = t * uint64_t(lhsShape[1]) + (perSlotLhs ? j : 0);
      Eigen::Map<const RowMajorMatrix> a(lhs.data() + lhsSlot * uint64_t(m * k), m, k);
      Eigen::Map<const RowMajorMatrix> b(table.data() + uint64_t(expert) * uint64_t(k * n), k, n);
      Eigen::Map<RowMajorMatrix> c(out.data() + (t * slots + j) * uint64_t(m * n), m, n);
      c.noalias() = a * b;
      if (scale != nullptr) {
        Eigen::Map<const Eigen::RowVectorXf> row(scale->data() + uint64_t(expert) * uint64_t(n), n);
        c.array().rowwise() *= row.array();
      }
    }
  }
  return out;
}

/// MEM_KV_APPEND: `cache` with the new rows [b, kv, s, d] written from `position` on the
/// sequence axis: axis 2, cache [b, kv, T, d]; axis 3, cache kept transposed [b, kv, d, T].
std::vector<float> kvAppend(std::vector<float> cache, ShapeRef cacheShape,
                            const std::vector<float> &rows, ShapeRef rowShape, int64_t axis,
                            int64_t position) {
  const auto heads = uint64_t(rowShape[0] * rowShape[1]), s = uint64_t(rowShape[2]),
             d = uint64_t(rowShape[3]);
  const auto length = uint64_t(cacheShape[size_t(axis)]);
  for (uint64_t h = 0; h < heads; ++h) {
    for (uint64_t i = 0; i < s; ++i) {
      const uint64_t p = uint64_t(position) + i;
      for (uint64_t j = 0; j < d; ++j) {
        const uint64_t at = axis == 2 ? (h * length + p) * d + j : (h * d + j) * length + p;
        cache[at] = rows[(h * s + i) * d + j];
      }
    }
  }
  return cache;
}

} // namespace

std::string FunctionalExecutor::unsupportedReason(const BufferTable &buffers) {
  for (const BufferInfo &buffer : buffers.all()) {
    if (dtypeBits(buffer.dtype()) == 0) {
      return fmt::format("buffer {} has no element type the functional executor knows",
                         buffer.label());
    }
    if (buffer.kind() == schedule::WEIGHT && !buffer.isView() && buffer.proto->data().empty() &&
        buffer.elements() > 0) {
      return fmt::format("weight {} has no data (shape-only model)", buffer.label());
    }
  }
  return {};
}

FunctionalExecutor::FunctionalExecutor(const BufferTable &buffers) : buffers(buffers) {
  storage.resize(buffers.all().size());
  for (size_t index = 0; index < buffers.all().size(); ++index) {
    const BufferInfo &buffer = buffers.at(index);
    if (buffer.root != index) {
      continue;
    }
    const std::string &data = buffer.proto->data();
    if (data.empty()) {
      storage[index].assign(buffer.elements(), 0.0f);
    } else {
      // Little-endian bytes of the buffer's dtype (validated: size == ceil(elements * bits / 8)).
      storage[index] = decodeElements(data, buffer.dtype(), buffer.elements());
    }
  }
}

Status FunctionalExecutor::bindInputs(const std::vector<TensorData> &inputs,
                                      const std::vector<const schedule::Program *> &programs) {
  std::map<std::string, const BufferInfo *> needed;
  for (const schedule::Program *program : programs) {
    for (const schedule::Instruction &inst : program->instructions()) {
      if (inst.opcode() == schedule::MEM_WRITE) {
        const BufferInfo &buffer = buffers.byIdRef(inst.results(0));
        needed.emplace(buffer.proto->name(), &buffer);
      }
    }
  }
  std::string known;
  for (const auto &[name, buffer] : needed) {
    known += fmt::format("{}'{}' {}", known.empty() ? "" : ", ", name, shapeText(buffer->shape()));
  }
  boundInputs.clear();
  for (const TensorData &tensor : inputs) {
    auto found = needed.find(tensor.name);
    if (found == needed.end()) {
      return makeError(fmt::format("input '{}' is not an input of the model (inputs: {})",
                                   tensor.name, known.empty() ? "none" : known));
    }
    if (!boundInputs.emplace(tensor.name, &tensor).second) {
      return makeError(fmt::format("input '{}' is given twice", tensor.name));
    }
    if (!sameShape(tensor.shape, found->second->shape())) {
      return makeError(fmt::format("input '{}' has shape {}, but the model expects {}", tensor.name,
                                   shapeText(tensor.shape), shapeText(found->second->shape())));
    }
    if (tensor.values.size() != found->second->elements()) {
      return makeError(fmt::format("input '{}' has {} values, but its shape {} holds {}",
                                   tensor.name, tensor.values.size(), shapeText(tensor.shape),
                                   found->second->elements()));
    }
  }
  for (const auto &[name, buffer] : needed) {
    if (!boundInputs.count(name)) {
      return makeError(fmt::format("model input '{}' ({} {}) was not given; pass every model "
                                   "input for a functional run (inputs: {})",
                                   name, dtypeName(buffer->dtype()), shapeText(buffer->shape()),
                                   known));
    }
  }
  return Status::success();
}

Status FunctionalExecutor::run(const schedule::Program &program, std::vector<TensorData> &outputs) {
  for (const schedule::Instruction &inst : program.instructions()) {
    auto operand = [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.operands(i)); };
    auto values = [&](int i) -> const std::vector<float> & { return storage[operand(i).root]; };
    std::vector<float> result;
    switch (inst.opcode()) {
    case schedule::MEM_WRITE: {
      const BufferInfo &target = buffers.byIdRef(inst.results(0));
      auto bound = boundInputs.find(target.proto->name());
      if (bound == boundInputs.end()) {
        return makeError(fmt::format("model input {} was not bound", target.label()));
      }
      result = bound->second->values;
      // The host converts to the buffer's dtype as it writes (f16 activations, i32 ids).
      roundInPlace(result, target.dtype());
      break;
    }
    case schedule::MEM_READ:
      outputs.push_back(TensorData{operand(0).proto->name(),
                                   Shape(operand(0).shape().begin(), operand(0).shape().end()),
                                   values(0)});
      continue;
    case schedule::MEM_COPY:
      result = values(0);
      break;
    case schedule::MXM_MATMUL:
      result = matmul(values(0), operand(0).shape(), values(1), operand(1).shape());
      break;
    case schedule::VXM_BINARY:
      result = binary(inst.kind(), values(0), operand(0).shape(), values(1), operand(1).shape());
      break;
    case schedule::VXM_SUM: // f32 accumulation in operand order, one rounding at the end
      result = values(0);
      for (int i = 1; i < inst.operands_size(); ++i) {
        const std::vector<float> &addend = values(i);
        for (size_t e = 0; e < result.size(); ++e) {
          result[e] += addend[e];
        }
      }
      break;
    case schedule::VXM_UNARY:
      result.resize(values(0).size());
      std::transform(values(0).begin(), values(0).end(), result.begin(),
                     [&](float x) { return applyUnary(inst.kind(), x); });
      break;
    case schedule::VXM_SOFTMAX:
      result = softmax(values(0), operand(0).shape(), inst.axis());
      break;
    case schedule::SXM_TRANSPOSE:
      result =
          transpose(values(0), operand(0).shape(), {inst.perm().data(), size_t(inst.perm_size())});
      break;
    // Transformer ops
    case schedule::MEM_GATHER: {
      Result<std::vector<float>> gathered = gather(values(0), operand(0).shape(), values(1),
                                                   inst.axis());
      if (!gathered) {
        return makeError(fmt::format("program '{}', MEM_GATHER '{}': {}", program.name(),
                                     inst.location(), gathered.error()));
      }
      result = std::move(*gathered);
      break;
    }
    case schedule::MEM_SLICE:
      result = slice(values(0), operand(0).shape(), buffers.byIdRef(inst.results(0)).shape(), inst);
      break;
    case schedule::MEM_CONCAT:
      result = concat(values(0), operand(0).shape(), values(1), operand(1).shape(), inst.axis());
      break;
    case schedule::SXM_BROADCAST:
      result = broadcastTo(values(0), operand(0).shape(), buffers.byIdRef(inst.results(0)).shape());
      break;
    case schedule::VXM_REDUCE:
      result = reduce(values(0), operand(0).shape(), buffers.byIdRef(inst.results(0)).shape(),
                      inst.kind());
      break;
    case schedule::VXM_RMS_NORM:
      result = normalize(values(0), operand(0).shape(), inst.axis(), inst.epsilon(), values(1),
                         operand(1).shape(), nullptr, {}, false);
      break;
    case schedule::VXM_LAYER_NORM:
      result = normalize(values(0), operand(0).shape(), inst.axis(), inst.epsilon(), values(1),
                         operand(1).shape(), &values(2), operand(2).shape(), true);
      break;
    case schedule::VXM_SELECT:
      result = select(values(0), operand(0).shape(), values(1), operand(1).shape(), values(2),
                      operand(2).shape(), buffers.byIdRef(inst.results(0)).shape());
      break;
    case schedule::VXM_TOPK:
      result = topk(values(0), operand(0).shape(), inst.axis(), inst.k(), inst.topk_indices());
      break;
    case schedule::VXM_CAST:
      result = values(0); // rounded to the result dtype below
      break;
    case schedule::VXM_ROTARY:
      result = rotary(values(0), operand(0).shape(), values(1), operand(1).shape(), values(2),
                      operand(2).shape());
      break;
    case schedule::MXM_MATMUL_DQ:
      result = matmulDequantized(values(0), operand(0).shape(), values(1), operand(1).shape(),
                                 values(2));
      break;
    case schedule::MXM_EXPERT_MATMUL:
    case schedule::MXM_EXPERT_MATMUL_DQ: {
      Result<std::vector<float>> products = expertMatmul(
          values(0), operand(0).shape(), values(1), operand(1).shape(), values(2), operand(2).shape(),
          inst.opcode() == schedule::MXM_EXPERT_MATMUL_DQ ? &values(3) : nullptr);
      if (!products) {
        return makeError(fmt::format("program '{}', {} '{}': {}", program.name(),
                                     schedule::opcodeName(inst.opcode()), inst.location(),
                                     products.error()));
      }
      result = std::move(*products);
      break;
    }
    case schedule::MEM_KV_APPEND: {
      // In place: the result views the cache, whose other positions keep their values.
      const BufferInfo &cache = buffers.byIdRef(inst.results(0));
      result = kvAppend(storage[cache.root], cache.shape(), values(0), operand(0).shape(),
                        inst.axis(), inst.starts(0));
      break;
    }
    default:
      return makeError(fmt::format("program '{}': opcode {} cannot be executed", program.name(),
                                   int(inst.opcode())));
    }
    // Results are computed into a temporary first, so an instruction may overwrite the
    // storage it reads. Each result is stored in its buffer's number format.
    const BufferInfo &target = buffers.byIdRef(inst.results(0));
    roundInPlace(result, target.dtype());
    storage[target.root] = std::move(result);
  }
  return Status::success();
}

std::vector<float> FunctionalExecutor::contents(uint32_t bufferId) const {
  return storage[buffers.byIdRef(bufferId).root];
}

} // namespace conveyor::sim
