// Functional numerics with Eigen: numpy-broadcast matmul and binary ops, relu/gelu, softmax,
// transpose, copies; views share their root's storage.
#include "conveyor/Simulator/FunctionalExecutor.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/HardwareModel.h"

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

} // namespace

std::string FunctionalExecutor::unsupportedReason(const BufferTable &buffers) {
  for (const BufferInfo &buffer : buffers.all()) {
    if (buffer.dtype != schedule::F32) {
      return fmt::format("buffer {} is {}; the functional executor runs f32 models only",
                         buffer.label(), dtypeName(buffer.dtype));
    }
    if (buffer.kind == schedule::WEIGHT && !buffer.isView() && buffer.proto->data().empty() &&
        buffer.elements > 0) {
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
    storage[index].assign(buffer.elements, 0.0f);
    const std::string &data = buffer.proto->data();
    if (!data.empty()) {
      // Little-endian f32 (validated: data size == elements * 4); x86 and ARM hosts agree.
      std::memcpy(storage[index].data(), data.data(), data.size());
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
    known += fmt::format("{}'{}' {}", known.empty() ? "" : ", ", name, shapeText(buffer->shape));
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
    if (!sameShape(tensor.shape, found->second->shape)) {
      return makeError(fmt::format("input '{}' has shape {}, but the model expects {}", tensor.name,
                                   shapeText(tensor.shape), shapeText(found->second->shape)));
    }
    if (tensor.values.size() != found->second->elements) {
      return makeError(fmt::format("input '{}' has {} values, but its shape {} holds {}",
                                   tensor.name, tensor.values.size(), shapeText(tensor.shape),
                                   found->second->elements));
    }
  }
  for (const auto &[name, buffer] : needed) {
    if (!boundInputs.count(name)) {
      return makeError(fmt::format("model input '{}' (f32 {}) was not given; pass every model "
                                   "input for a functional run (inputs: {})",
                                   name, shapeText(buffer->shape), known));
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
      break;
    }
    case schedule::MEM_READ:
      outputs.push_back(TensorData{operand(0).proto->name(),
                                   Shape(operand(0).shape.begin(), operand(0).shape.end()),
                                   values(0)});
      continue;
    case schedule::MEM_COPY:
      result = values(0);
      break;
    case schedule::MXM_MATMUL:
      result = matmul(values(0), operand(0).shape, values(1), operand(1).shape);
      break;
    case schedule::VXM_BINARY:
      result = binary(inst.kind(), values(0), operand(0).shape, values(1), operand(1).shape);
      break;
    case schedule::VXM_UNARY:
      result.resize(values(0).size());
      std::transform(values(0).begin(), values(0).end(), result.begin(),
                     [&](float x) { return applyUnary(inst.kind(), x); });
      break;
    case schedule::VXM_SOFTMAX:
      result = softmax(values(0), operand(0).shape, inst.axis());
      break;
    case schedule::SXM_TRANSPOSE:
      result =
          transpose(values(0), operand(0).shape, {inst.perm().data(), size_t(inst.perm_size())});
      break;
    case schedule::OPCODE_UNSPECIFIED:
    case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
    case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
      return makeError(fmt::format("program '{}': opcode {} cannot be executed", program.name(),
                                   int(inst.opcode())));
    }
    // Results are computed into a temporary first, so an instruction may overwrite the
    // storage it reads.
    storage[buffers.byIdRef(inst.results(0)).root] = std::move(result);
  }
  return Status::success();
}

std::vector<float> FunctionalExecutor::contents(uint32_t bufferId) const {
  return storage[buffers.byIdRef(bufferId).root];
}

} // namespace conveyor::sim
