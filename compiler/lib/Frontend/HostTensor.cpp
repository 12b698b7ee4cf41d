// Host-side tensors and folding kernels for the ONNX importer.
#include "HostTensor.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

using namespace mlir;
using conveyor::graph::DimExpr;

namespace conveyor::frontend {

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

static int64_t product(ArrayRef<int64_t> shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

int64_t saturatingElementCount(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim <= 0) {
      return 0;
    }
    if (count > std::numeric_limits<int64_t>::max() / dim) {
      return std::numeric_limits<int64_t>::max();
    }
    count *= dim;
  }
  return count;
}

HostTensor HostTensor::emptyTensor(Type elementType, ArrayRef<int64_t> shape) {
  HostTensor tensor;
  tensor.elementType = elementType;
  tensor.shape.assign(shape.begin(), shape.end());
  return tensor;
}

HostTensor HostTensor::fromFloats(Type elementType, ArrayRef<int64_t> shape,
                                  std::vector<double> values) {
  HostTensor tensor = emptyTensor(elementType, shape);
  tensor.floats = std::move(values);
  return tensor;
}

HostTensor HostTensor::fromInts(Type elementType, ArrayRef<int64_t> shape,
                                std::vector<int64_t> values) {
  HostTensor tensor = emptyTensor(elementType, shape);
  tensor.ints = std::move(values);
  return tensor;
}

HostTensor HostTensor::fromDims(Type elementType, ArrayRef<int64_t> shape,
                                std::vector<DimExpr> values) {
  bool symbolic = llvm::any_of(values, [](const DimExpr &dim) { return !dim.isConstant(); });
  if (!symbolic) {
    std::vector<int64_t> ints;
    ints.reserve(values.size());
    for (const DimExpr &dim : values) {
      ints.push_back(*dim.getConstant());
    }
    return fromInts(elementType, shape, std::move(ints));
  }
  HostTensor tensor = emptyTensor(elementType, shape);
  tensor.dims = std::move(values);
  return tensor;
}

HostTensor HostTensor::fromAttr(DenseElementsAttr attr) {
  auto type = cast<RankedTensorType>(attr.getType());
  Type elementType = type.getElementType();
  if (isa<FloatType>(elementType)) {
    std::vector<double> values;
    values.reserve(attr.getNumElements());
    for (const APFloat &value : attr.getValues<APFloat>()) {
      APFloat wide = value;
      bool losesInfo = false;
      wide.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
      values.push_back(wide.convertToDouble());
    }
    return fromFloats(elementType, type.getShape(), std::move(values));
  }
  std::vector<int64_t> values;
  values.reserve(attr.getNumElements());
  bool isBool = elementType.isInteger(1);
  for (const APInt &value : attr.getValues<APInt>()) {
    values.push_back(isBool ? static_cast<int64_t>(value.getZExtValue()) : value.getSExtValue());
  }
  return fromInts(elementType, type.getShape(), std::move(values));
}

int64_t HostTensor::getNumElements() const { return product(shape); }

double HostTensor::getFloat(int64_t index) const {
  if (isFloat()) {
    return floats[index];
  }
  return static_cast<double>(ints[index]);
}

/// Float to int64 with truncation toward zero. ONNX leaves out-of-range casts undefined;
/// they saturate here and NaN becomes 0, so a hostile constant cannot trigger C++ UB.
static int64_t truncateToInt64(double value) {
  if (std::isnan(value)) {
    return 0;
  }
  constexpr double kLimit = 9223372036854775808.0; // 2^63
  if (value >= kLimit) {
    return std::numeric_limits<int64_t>::max();
  }
  if (value < -kLimit) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(value);
}

int64_t HostTensor::getInt(int64_t index) const {
  if (isFloat()) {
    return truncateToInt64(floats[index]);
  }
  return ints[index];
}

DimExpr HostTensor::getDim(int64_t index) const {
  if (isSymbolic()) {
    return dims[index];
  }
  return DimExpr(getInt(index));
}

std::optional<std::vector<int64_t>> HostTensor::getIntVector() const {
  if (isSymbolic() || isFloat()) {
    return std::nullopt;
  }
  return ints;
}

std::vector<DimExpr> HostTensor::getDimVector() const {
  if (isSymbolic()) {
    return dims;
  }
  std::vector<DimExpr> values;
  values.reserve(getNumElements());
  for (int64_t i = 0, e = getNumElements(); i < e; ++i) {
    values.push_back(DimExpr(getInt(i)));
  }
  return values;
}

HostTensor HostTensor::reshaped(ArrayRef<int64_t> newShape) const {
  HostTensor copy = *this;
  copy.shape.assign(newShape.begin(), newShape.end());
  return copy;
}

DenseElementsAttr HostTensor::toAttr() const {
  auto type = RankedTensorType::get(shape, elementType);
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    if (floatType.isF32()) {
      std::vector<float> values(floats.begin(), floats.end());
      return DenseElementsAttr::get(type, ArrayRef<float>(values));
    }
    if (floatType.isF64()) {
      return DenseElementsAttr::get(type, ArrayRef<double>(floats));
    }
    SmallVector<APFloat> values;
    values.reserve(floats.size());
    for (double value : floats) {
      APFloat converted(value);
      bool losesInfo = false;
      converted.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
      values.push_back(converted);
    }
    return DenseElementsAttr::get(type, values);
  }
  if (elementType.isInteger(1)) {
    SmallVector<bool> values(ints.begin(), ints.end());
    return DenseElementsAttr::get(type, ArrayRef<bool>(values));
  }
  if (elementType.isInteger(64)) {
    return DenseElementsAttr::get(type, ArrayRef<int64_t>(ints));
  }
  unsigned width = elementType.getIntOrFloatBitWidth();
  SmallVector<APInt> values;
  values.reserve(ints.size());
  for (int64_t value : ints) {
    values.push_back(APInt(64, static_cast<uint64_t>(value)).trunc(width));
  }
  return DenseElementsAttr::get(type, values);
}

std::string HostTensor::describeSymbolic() const {
  std::vector<std::string> entries;
  for (const DimExpr &dim : getDimVector()) {
    entries.push_back(dim.str());
  }
  return "[" + llvm::join(entries, ", ") + "]";
}

//===----------------------------------------------------------------------===//
// Index helpers
//===----------------------------------------------------------------------===//

namespace {

SmallVector<int64_t> rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

/// Strides of `input` seen through a broadcast to `output` (0 on broadcast dimensions).
SmallVector<int64_t> broadcastStrides(ArrayRef<int64_t> input, ArrayRef<int64_t> output) {
  SmallVector<int64_t> inputStrides = rowMajorStrides(input);
  SmallVector<int64_t> strides(output.size(), 0);
  size_t offset = output.size() - input.size();
  for (size_t i = 0; i < input.size(); ++i) {
    strides[offset + i] = input[i] == 1 ? 0 : inputStrides[i];
  }
  return strides;
}

/// Calls fn(outputIndex, inputOffsets) for each element of `output` in row-major order,
/// where inputOffsets[k] is the linear index into the k-th broadcast input.
template <typename Fn>
void forEachBroadcast(ArrayRef<int64_t> output, ArrayRef<SmallVector<int64_t>> strides, Fn fn) {
  int64_t count = product(output);
  size_t rank = output.size();
  SmallVector<int64_t> index(rank, 0);
  SmallVector<int64_t> offsets(strides.size(), 0);
  for (int64_t linear = 0; linear < count; ++linear) {
    fn(linear, ArrayRef<int64_t>(offsets));
    // Increment the multi-index, updating the offsets incrementally.
    for (int64_t dim = static_cast<int64_t>(rank) - 1; dim >= 0; --dim) {
      if (++index[dim] < output[dim]) {
        for (size_t k = 0; k < strides.size(); ++k) {
          offsets[k] += strides[k][dim];
        }
        break;
      }
      for (size_t k = 0; k < strides.size(); ++k) {
        offsets[k] -= strides[k][dim] * (output[dim] - 1);
      }
      index[dim] = 0;
    }
  }
}

std::string formatShapeText(ArrayRef<int64_t> shape) {
  std::vector<std::string> parts;
  for (int64_t dim : shape) {
    parts.push_back(std::to_string(dim));
  }
  return "[" + llvm::join(parts, ", ") + "]";
}

} // namespace

std::optional<SmallVector<int64_t>> broadcastHostShapes(ArrayRef<int64_t> lhs,
                                                        ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t a = i < lhs.size() ? lhs[lhs.size() - 1 - i] : 1;
    int64_t b = i < rhs.size() ? rhs[rhs.size() - 1 - i] : 1;
    if (a != b && a != 1 && b != 1) {
      return std::nullopt;
    }
    result[rank - 1 - i] = a == 1 ? b : a;
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

HostResult hostUnary(HostUnary op, const HostTensor &input) {
  int64_t count = input.getNumElements();
  if (input.isSymbolic()) {
    if (op != HostUnary::Neg) {
      return HostResult::fail("it applies a math function to symbolic sizes " +
                              input.describeSymbolic());
    }
    std::vector<DimExpr> values;
    for (const DimExpr &dim : input.getDimVector()) {
      values.push_back(-dim);
    }
    return HostTensor::fromDims(input.getElementType(), input.getShape(), std::move(values));
  }
  if (!input.isFloat()) {
    std::vector<int64_t> values(count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t x = input.getInt(i);
      switch (op) {
      case HostUnary::Neg:
        values[i] = -x;
        break;
      case HostUnary::Abs:
        values[i] = x < 0 ? -x : x;
        break;
      case HostUnary::Not:
        values[i] = x == 0;
        break;
      case HostUnary::Relu:
        values[i] = std::max<int64_t>(x, 0);
        break;
      case HostUnary::Floor:
      case HostUnary::Ceil:
        values[i] = x;
        break;
      default:
        return HostResult::fail("it applies a floating-point function to integers");
      }
    }
    return HostTensor::fromInts(input.getElementType(), input.getShape(), std::move(values));
  }
  std::vector<double> values(count);
  for (int64_t i = 0; i < count; ++i) {
    double x = input.getFloat(i);
    switch (op) {
    case HostUnary::Neg:
      values[i] = -x;
      break;
    case HostUnary::Abs:
      values[i] = std::fabs(x);
      break;
    case HostUnary::Sqrt:
      values[i] = std::sqrt(x);
      break;
    case HostUnary::Reciprocal:
      values[i] = 1.0 / x;
      break;
    case HostUnary::Exp:
      values[i] = std::exp(x);
      break;
    case HostUnary::Log:
      values[i] = std::log(x);
      break;
    case HostUnary::Cos:
      values[i] = std::cos(x);
      break;
    case HostUnary::Sin:
      values[i] = std::sin(x);
      break;
    case HostUnary::Tanh:
      values[i] = std::tanh(x);
      break;
    case HostUnary::Sigmoid:
      values[i] = 1.0 / (1.0 + std::exp(-x));
      break;
    case HostUnary::Erf:
      values[i] = std::erf(x);
      break;
    case HostUnary::Relu:
      values[i] = x > 0 ? x : 0.0;
      break;
    case HostUnary::Floor:
      values[i] = std::floor(x);
      break;
    case HostUnary::Ceil:
      values[i] = std::ceil(x);
      break;
    case HostUnary::Not:
      return HostResult::fail("it applies Not to floating-point values");
    }
  }
  return HostTensor::fromFloats(input.getElementType(), input.getShape(), std::move(values));
}

/// Symbolic integer arithmetic (shape math): what DimExpr can express exactly.
static std::optional<DimExpr> symbolicBinary(HostBinary op, const DimExpr &a, const DimExpr &b,
                                             std::string &why) {
  switch (op) {
  case HostBinary::Add:
    return a + b;
  case HostBinary::Sub:
    return a - b;
  case HostBinary::Mul:
    return a * b;
  case HostBinary::Div:
    if (std::optional<DimExpr> quotient = a.divideExact(b)) {
      return quotient;
    }
    why = "(" + a.str() + ") / (" + b.str() + ") is not exact for every size";
    return std::nullopt;
  case HostBinary::Max:
  case HostBinary::Min:
    if (std::optional<int> order = a.compare(b)) {
      bool takeA = op == HostBinary::Max ? *order >= 0 : *order <= 0;
      return takeA ? a : b;
    }
    why = "the larger of " + a.str() + " and " + b.str() + " depends on the sizes";
    return std::nullopt;
  default:
    why = "the operation is not defined on symbolic sizes";
    return std::nullopt;
  }
}

HostResult hostBinary(HostBinary op, const HostTensor &lhs, const HostTensor &rhs) {
  std::optional<SmallVector<int64_t>> shape = broadcastHostShapes(lhs.getShape(), rhs.getShape());
  if (!shape) {
    return HostResult::fail("shapes " + formatShapeText(lhs.getShape()) + " and " +
                            formatShapeText(rhs.getShape()) + " do not broadcast");
  }
  SmallVector<SmallVector<int64_t>> strides = {broadcastStrides(lhs.getShape(), *shape),
                                               broadcastStrides(rhs.getShape(), *shape)};
  int64_t count = product(*shape);
  Type elementType = lhs.getElementType();
  if (lhs.isSymbolic() || rhs.isSymbolic()) {
    std::vector<DimExpr> values(count);
    std::string why;
    bool ok = true;
    forEachBroadcast(*shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
      if (!ok) {
        return;
      }
      std::optional<DimExpr> value =
          symbolicBinary(op, lhs.getDim(offsets[0]), rhs.getDim(offsets[1]), why);
      ok = value.has_value();
      if (ok) {
        values[i] = *value;
      }
    });
    if (!ok) {
      return HostResult::fail(why);
    }
    return HostTensor::fromDims(elementType, *shape, std::move(values));
  }
  if (lhs.isFloat()) {
    std::vector<double> values(count);
    bool ok = true;
    forEachBroadcast(*shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
      double a = lhs.getFloat(offsets[0]);
      double b = rhs.getFloat(offsets[1]);
      switch (op) {
      case HostBinary::Add:
        values[i] = a + b;
        break;
      case HostBinary::Sub:
        values[i] = a - b;
        break;
      case HostBinary::Mul:
        values[i] = a * b;
        break;
      case HostBinary::Div:
        values[i] = a / b;
        break;
      case HostBinary::Pow:
        values[i] = std::pow(a, b);
        break;
      case HostBinary::Max:
        values[i] = std::max(a, b);
        break;
      case HostBinary::Min:
        values[i] = std::min(a, b);
        break;
      case HostBinary::Mod:
        values[i] = std::fmod(a, b);
        break;
      default:
        ok = false;
      }
    });
    if (!ok) {
      return HostResult::fail("the logical operation needs boolean operands");
    }
    return HostTensor::fromFloats(elementType, *shape, std::move(values));
  }
  std::vector<int64_t> values(count);
  std::string why;
  forEachBroadcast(*shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
    int64_t a = lhs.getInt(offsets[0]);
    int64_t b = rhs.getInt(offsets[1]);
    switch (op) {
    case HostBinary::Add:
      values[i] = a + b;
      break;
    case HostBinary::Sub:
      values[i] = a - b;
      break;
    case HostBinary::Mul:
      values[i] = a * b;
      break;
    case HostBinary::Div:
    case HostBinary::Mod:
      if (b == 0) {
        why = "it divides an integer by zero";
        values[i] = 0;
      } else if (op == HostBinary::Div) {
        values[i] = a / b; // ONNX integer Div truncates toward zero
      } else {
        // ONNX Mod with fmod = 0 takes the sign of the divisor.
        int64_t remainder = a % b;
        values[i] = remainder != 0 && ((remainder < 0) != (b < 0)) ? remainder + b : remainder;
      }
      break;
    case HostBinary::Pow: {
      int64_t result = 1;
      for (int64_t e = 0; e < b; ++e) {
        result *= a;
      }
      values[i] = b < 0 ? 0 : result;
      break;
    }
    case HostBinary::Max:
      values[i] = std::max(a, b);
      break;
    case HostBinary::Min:
      values[i] = std::min(a, b);
      break;
    case HostBinary::And:
      values[i] = (a != 0) && (b != 0);
      break;
    case HostBinary::Or:
      values[i] = (a != 0) || (b != 0);
      break;
    case HostBinary::Xor:
      values[i] = (a != 0) != (b != 0);
      break;
    }
  });
  if (!why.empty()) {
    return HostResult::fail(why);
  }
  return HostTensor::fromInts(elementType, *shape, std::move(values));
}

HostResult hostCompare(HostCompare op, const HostTensor &lhs, const HostTensor &rhs) {
  std::optional<SmallVector<int64_t>> shape = broadcastHostShapes(lhs.getShape(), rhs.getShape());
  if (!shape) {
    return HostResult::fail("shapes " + formatShapeText(lhs.getShape()) + " and " +
                            formatShapeText(rhs.getShape()) + " do not broadcast");
  }
  SmallVector<SmallVector<int64_t>> strides = {broadcastStrides(lhs.getShape(), *shape),
                                               broadcastStrides(rhs.getShape(), *shape)};
  std::vector<int64_t> values(product(*shape));
  auto decide = [op](int order) {
    switch (op) {
    case HostCompare::Equal:
      return order == 0;
    case HostCompare::Less:
      return order < 0;
    case HostCompare::LessEqual:
      return order <= 0;
    case HostCompare::Greater:
      return order > 0;
    case HostCompare::GreaterEqual:
      return order >= 0;
    }
    return false;
  };
  std::string why;
  bool symbolic = lhs.isSymbolic() || rhs.isSymbolic();
  forEachBroadcast(*shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
    int order = 0;
    if (symbolic) {
      DimExpr a = lhs.getDim(offsets[0]);
      DimExpr b = rhs.getDim(offsets[1]);
      std::optional<int> known = a.compare(b);
      if (!known && why.empty()) {
        why = "comparing " + a.str() + " with " + b.str() + " depends on the sizes";
      }
      order = known.value_or(0);
    } else if (lhs.isFloat()) {
      double a = lhs.getFloat(offsets[0]);
      double b = rhs.getFloat(offsets[1]);
      if (std::isnan(a) || std::isnan(b)) {
        values[i] = 0; // every comparison with NaN is false
        return;
      }
      order = a < b ? -1 : (a > b ? 1 : 0);
    } else {
      int64_t a = lhs.getInt(offsets[0]);
      int64_t b = rhs.getInt(offsets[1]);
      order = a < b ? -1 : (a > b ? 1 : 0);
    }
    values[i] = decide(order);
  });
  if (!why.empty()) {
    return HostResult::fail(why);
  }
  return HostTensor::fromInts(IntegerType::get(lhs.getElementType().getContext(), 1), *shape,
                              std::move(values));
}

HostResult hostWhere(const HostTensor &condition, const HostTensor &lhs, const HostTensor &rhs) {
  if (condition.isSymbolic()) {
    return HostResult::fail("its condition is symbolic");
  }
  std::optional<SmallVector<int64_t>> values = broadcastHostShapes(lhs.getShape(), rhs.getShape());
  std::optional<SmallVector<int64_t>> shape =
      values ? broadcastHostShapes(condition.getShape(), *values) : std::nullopt;
  if (!shape) {
    return HostResult::fail("the condition and value shapes do not broadcast");
  }
  SmallVector<SmallVector<int64_t>> strides = {broadcastStrides(condition.getShape(), *shape),
                                               broadcastStrides(lhs.getShape(), *shape),
                                               broadcastStrides(rhs.getShape(), *shape)};
  int64_t count = product(*shape);
  Type elementType = lhs.getElementType();
  if (lhs.isFloat()) {
    std::vector<double> result(count);
    forEachBroadcast(*shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
      result[i] =
          condition.getInt(offsets[0]) ? lhs.getFloat(offsets[1]) : rhs.getFloat(offsets[2]);
    });
    return HostTensor::fromFloats(elementType, *shape, std::move(result));
  }
  std::vector<DimExpr> result(count);
  forEachBroadcast(*shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
    result[i] = condition.getInt(offsets[0]) ? lhs.getDim(offsets[1]) : rhs.getDim(offsets[2]);
  });
  return HostTensor::fromDims(elementType, *shape, std::move(result));
}

HostResult hostCast(const HostTensor &input, Type elementType) {
  int64_t count = input.getNumElements();
  if (isa<FloatType>(elementType)) {
    if (input.isSymbolic()) {
      return HostResult::fail("it converts symbolic sizes " + input.describeSymbolic() +
                              " to floating point");
    }
    std::vector<double> values(count);
    for (int64_t i = 0; i < count; ++i) {
      values[i] = input.getFloat(i);
    }
    // Round through the target precision so later folding sees the stored value.
    HostTensor rounded = HostTensor::fromFloats(elementType, input.getShape(), std::move(values));
    return HostTensor::fromAttr(rounded.toAttr());
  }
  if (elementType.isInteger(1)) {
    std::vector<int64_t> values(count);
    for (int64_t i = 0; i < count; ++i) {
      if (input.isSymbolic()) {
        std::optional<int> sign = input.getDim(i).compare(DimExpr(0));
        if (!sign) {
          return HostResult::fail("whether " + input.getDim(i).str() +
                                  " is zero depends on the sizes");
        }
        values[i] = *sign != 0;
      } else {
        values[i] = input.isFloat() ? input.getFloat(i) != 0.0 : input.getInt(i) != 0;
      }
    }
    return HostTensor::fromInts(elementType, input.getShape(), std::move(values));
  }
  if (input.isSymbolic()) {
    return HostTensor::fromDims(elementType, input.getShape(), input.getDimVector());
  }
  unsigned width = elementType.getIntOrFloatBitWidth();
  std::vector<int64_t> values(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t value = input.getInt(i);
    if (width < 64) {
      // Wrap like a C cast to the narrower signed type.
      value = APInt(64, static_cast<uint64_t>(value)).trunc(width).getSExtValue();
    }
    values[i] = value;
  }
  return HostTensor::fromInts(elementType, input.getShape(), std::move(values));
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

/// Builds the result by copying input element `sourceIndex(i)` to output element i.
template <typename IndexFn>
static HostTensor gatherElementsBy(const HostTensor &input, ArrayRef<int64_t> shape,
                                   IndexFn sourceIndex) {
  int64_t count = product(shape);
  if (input.isFloat()) {
    std::vector<double> values(count);
    for (int64_t i = 0; i < count; ++i) {
      values[i] = input.getFloat(sourceIndex(i));
    }
    return HostTensor::fromFloats(input.getElementType(), shape, std::move(values));
  }
  if (input.isSymbolic()) {
    std::vector<DimExpr> values(count);
    for (int64_t i = 0; i < count; ++i) {
      values[i] = input.getDim(sourceIndex(i));
    }
    return HostTensor::fromDims(input.getElementType(), shape, std::move(values));
  }
  std::vector<int64_t> values(count);
  for (int64_t i = 0; i < count; ++i) {
    values[i] = input.getInt(sourceIndex(i));
  }
  return HostTensor::fromInts(input.getElementType(), shape, std::move(values));
}

/// Converts a row-major linear index into a multi-index over `shape`.
static void unflatten(int64_t linear, ArrayRef<int64_t> shape, SmallVectorImpl<int64_t> &index) {
  index.resize(shape.size());
  for (int64_t dim = static_cast<int64_t>(shape.size()) - 1; dim >= 0; --dim) {
    index[dim] = shape[dim] == 0 ? 0 : linear % shape[dim];
    linear = shape[dim] == 0 ? 0 : linear / shape[dim];
  }
}

HostResult hostTranspose(const HostTensor &input, ArrayRef<int64_t> perm) {
  ArrayRef<int64_t> inputShape = input.getShape();
  SmallVector<int64_t> shape;
  for (int64_t dim : perm) {
    shape.push_back(inputShape[dim]);
  }
  SmallVector<int64_t> inputStrides = rowMajorStrides(inputShape);
  SmallVector<int64_t> index;
  return gatherElementsBy(input, shape, [&](int64_t linear) {
    unflatten(linear, shape, index);
    int64_t offset = 0;
    for (size_t i = 0; i < perm.size(); ++i) {
      offset += index[i] * inputStrides[perm[i]];
    }
    return offset;
  });
}

HostResult hostSlice(const HostTensor &input, ArrayRef<int64_t> axes, ArrayRef<int64_t> starts,
                     ArrayRef<int64_t> sizes, ArrayRef<int64_t> steps) {
  SmallVector<int64_t> shape(input.getShape());
  SmallVector<int64_t> start(shape.size(), 0), step(shape.size(), 1);
  for (size_t i = 0; i < axes.size(); ++i) {
    shape[axes[i]] = sizes[i];
    start[axes[i]] = starts[i];
    step[axes[i]] = steps[i];
  }
  SmallVector<int64_t> inputStrides = rowMajorStrides(input.getShape());
  SmallVector<int64_t> index;
  return gatherElementsBy(input, shape, [&](int64_t linear) {
    unflatten(linear, shape, index);
    int64_t offset = 0;
    for (size_t dim = 0; dim < shape.size(); ++dim) {
      offset += (start[dim] + index[dim] * step[dim]) * inputStrides[dim];
    }
    return offset;
  });
}

HostResult hostGather(const HostTensor &data, const HostTensor &indices, int64_t axis) {
  if (indices.isSymbolic()) {
    return HostResult::fail("its indices are symbolic");
  }
  ArrayRef<int64_t> dataShape = data.getShape();
  int64_t extent = dataShape[axis];
  int64_t indexCount = indices.getNumElements();
  std::vector<int64_t> resolved(indexCount);
  for (int64_t i = 0; i < indexCount; ++i) {
    int64_t index = indices.getInt(i);
    if (index < -extent || index >= extent) {
      return HostResult::fail("index " + std::to_string(index) + " is outside [" +
                              std::to_string(-extent) + ", " + std::to_string(extent) + ")");
    }
    resolved[i] = index < 0 ? index + extent : index;
  }
  SmallVector<int64_t> shape(dataShape.take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, dataShape.drop_front(axis + 1));
  int64_t inner = product(dataShape.drop_front(axis + 1));
  return gatherElementsBy(data, shape, [&](int64_t linear) {
    int64_t innerIndex = linear % inner;
    int64_t rest = linear / inner;
    int64_t which = rest % std::max<int64_t>(indexCount, 1);
    int64_t outer = rest / std::max<int64_t>(indexCount, 1);
    return (outer * extent + resolved[which]) * inner + innerIndex;
  });
}

HostResult hostConcat(ArrayRef<const HostTensor *> inputs, int64_t axis) {
  const HostTensor &first = *inputs.front();
  SmallVector<int64_t> shape(first.getShape());
  shape[axis] = 0;
  SmallVector<int64_t> offsets; // start of each input along the axis
  for (const HostTensor *input : inputs) {
    if (input->getRank() != first.getRank()) {
      return HostResult::fail("its inputs differ in rank");
    }
    for (int64_t dim = 0; dim < first.getRank(); ++dim) {
      if (dim != axis && input->getShape()[dim] != first.getShape()[dim]) {
        return HostResult::fail("its inputs differ in dimension " + std::to_string(dim));
      }
    }
    offsets.push_back(shape[axis]);
    shape[axis] += input->getShape()[axis];
  }
  int64_t inner = product(ArrayRef<int64_t>(shape).drop_front(axis + 1));
  int64_t count = product(shape);
  bool symbolic = llvm::any_of(inputs, [](const HostTensor *t) { return t->isSymbolic(); });
  std::vector<double> floats;
  std::vector<DimExpr> dims;
  if (first.isFloat()) {
    floats.resize(count);
  } else {
    dims.resize(count);
  }
  for (int64_t linear = 0; linear < count; ++linear) {
    int64_t innerIndex = linear % inner;
    int64_t axisIndex = (linear / inner) % shape[axis];
    int64_t outer = linear / (inner * shape[axis]);
    size_t which =
        std::upper_bound(offsets.begin(), offsets.end(), axisIndex) - offsets.begin() - 1;
    // Skip empty inputs that share an offset with the next one.
    const HostTensor &input = *inputs[which];
    int64_t local = axisIndex - offsets[which];
    int64_t source = (outer * input.getShape()[axis] + local) * inner + innerIndex;
    if (first.isFloat()) {
      floats[linear] = input.getFloat(source);
    } else {
      dims[linear] = input.getDim(source);
    }
  }
  if (first.isFloat()) {
    return HostTensor::fromFloats(first.getElementType(), shape, std::move(floats));
  }
  if (!symbolic) {
    std::vector<int64_t> ints;
    ints.reserve(count);
    for (const DimExpr &dim : dims) {
      ints.push_back(*dim.getConstant());
    }
    return HostTensor::fromInts(first.getElementType(), shape, std::move(ints));
  }
  return HostTensor::fromDims(first.getElementType(), shape, std::move(dims));
}

HostResult hostBroadcastTo(const HostTensor &input, ArrayRef<int64_t> shape) {
  if (input.getRank() > static_cast<int64_t>(shape.size())) {
    return HostResult::fail("it would lower the rank");
  }
  SmallVector<SmallVector<int64_t>> strides = {broadcastStrides(input.getShape(), shape)};
  std::vector<int64_t> source(product(shape));
  forEachBroadcast(shape, strides,
                   [&](int64_t i, ArrayRef<int64_t> offsets) { source[i] = offsets[0]; });
  return gatherElementsBy(input, shape, [&](int64_t linear) { return source[linear]; });
}

HostResult hostTrilu(const HostTensor &input, bool upper, int64_t k) {
  if (input.isSymbolic()) {
    return HostResult::fail("its input is symbolic");
  }
  ArrayRef<int64_t> shape = input.getShape();
  int64_t rows = shape[shape.size() - 2];
  int64_t cols = shape.back();
  int64_t count = input.getNumElements();
  auto keep = [&](int64_t linear) {
    int64_t col = linear % cols;
    int64_t row = (linear / cols) % rows;
    return upper ? col - row >= k : col - row <= k;
  };
  if (input.isFloat()) {
    std::vector<double> values(count);
    for (int64_t i = 0; i < count; ++i) {
      values[i] = keep(i) ? input.getFloat(i) : 0.0;
    }
    return HostTensor::fromFloats(input.getElementType(), shape, std::move(values));
  }
  std::vector<int64_t> values(count);
  for (int64_t i = 0; i < count; ++i) {
    values[i] = keep(i) ? input.getInt(i) : 0;
  }
  return HostTensor::fromInts(input.getElementType(), shape, std::move(values));
}

//===----------------------------------------------------------------------===//
// Reductions and products
//===----------------------------------------------------------------------===//

HostResult hostReduce(HostReduce op, const HostTensor &input, ArrayRef<int64_t> axes,
                      bool keepdims) {
  if (input.isSymbolic()) {
    return HostResult::fail("its input is symbolic");
  }
  ArrayRef<int64_t> shape = input.getShape();
  SmallVector<int64_t> keptShape(shape);
  for (int64_t axis : axes) {
    keptShape[axis] = 1;
  }
  int64_t outCount = product(keptShape);
  SmallVector<int64_t> outStrides = broadcastStrides(keptShape, shape);
  std::vector<double> accumulator(outCount, 0.0);
  std::vector<bool> seen(outCount, false);
  int64_t perOutput = outCount == 0 ? 0 : input.getNumElements() / std::max<int64_t>(outCount, 1);
  SmallVector<SmallVector<int64_t>> strides = {outStrides};
  forEachBroadcast(shape, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
    double x = input.getFloat(i);
    double &acc = accumulator[offsets[0]];
    if (!seen[offsets[0]]) {
      seen[offsets[0]] = true;
      acc = x;
      return;
    }
    switch (op) {
    case HostReduce::Sum:
    case HostReduce::Mean:
      acc += x;
      break;
    case HostReduce::Max:
      acc = std::max(acc, x);
      break;
    case HostReduce::Min:
      acc = std::min(acc, x);
      break;
    case HostReduce::Prod:
      acc *= x;
      break;
    }
  });
  if (op == HostReduce::Mean && perOutput > 0) {
    for (double &value : accumulator) {
      value /= static_cast<double>(perOutput);
    }
  }
  SmallVector<int64_t> resultShape;
  for (int64_t dim = 0; dim < input.getRank(); ++dim) {
    if (!llvm::is_contained(axes, dim)) {
      resultShape.push_back(shape[dim]);
    } else if (keepdims) {
      resultShape.push_back(1);
    }
  }
  if (input.isFloat()) {
    return HostTensor::fromFloats(input.getElementType(), resultShape, std::move(accumulator));
  }
  std::vector<int64_t> ints(accumulator.begin(), accumulator.end());
  return HostTensor::fromInts(input.getElementType(), resultShape, std::move(ints));
}

HostResult hostMatMul(const HostTensor &lhs, const HostTensor &rhs) {
  if (lhs.getRank() < 2 || rhs.getRank() < 2 || !lhs.isFloat() || !rhs.isFloat()) {
    return HostResult::fail("only floating-point operands of rank >= 2 are folded");
  }
  ArrayRef<int64_t> a = lhs.getShape(), b = rhs.getShape();
  int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  if (b[b.size() - 2] != k) {
    return HostResult::fail("the contraction dimensions differ");
  }
  std::optional<SmallVector<int64_t>> batch = broadcastHostShapes(a.drop_back(2), b.drop_back(2));
  if (!batch) {
    return HostResult::fail("the batch dimensions do not broadcast");
  }
  SmallVector<int64_t> shape = *batch;
  shape.push_back(m);
  shape.push_back(n);
  SmallVector<SmallVector<int64_t>> strides = {broadcastStrides(a.drop_back(2), *batch),
                                               broadcastStrides(b.drop_back(2), *batch)};
  std::vector<double> values(product(shape), 0.0);
  forEachBroadcast(*batch, strides, [&](int64_t batchIndex, ArrayRef<int64_t> offsets) {
    int64_t lhsBase = offsets[0] * m * k, rhsBase = offsets[1] * k * n;
    int64_t outBase = batchIndex * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t p = 0; p < k; ++p) {
        double x = lhs.getFloat(lhsBase + i * k + p);
        for (int64_t j = 0; j < n; ++j) {
          values[outBase + i * n + j] += x * rhs.getFloat(rhsBase + p * n + j);
        }
      }
    }
  });
  return HostTensor::fromFloats(lhs.getElementType(), shape, std::move(values));
}

HostResult hostSoftmax(const HostTensor &input, int64_t axis) {
  if (!input.isFloat()) {
    return HostResult::fail("softmax needs floating-point values");
  }
  ArrayRef<int64_t> shape = input.getShape();
  int64_t extent = shape[axis];
  int64_t inner = product(shape.drop_front(axis + 1));
  int64_t count = input.getNumElements();
  std::vector<double> values(count);
  for (int64_t base = 0; base < count; ++base) {
    if ((base / inner) % extent != 0) {
      continue; // visit each softmax row once, from its first element
    }
    double peak = -INFINITY;
    for (int64_t j = 0; j < extent; ++j) {
      peak = std::max(peak, input.getFloat(base + j * inner));
    }
    double total = 0.0;
    for (int64_t j = 0; j < extent; ++j) {
      values[base + j * inner] = std::exp(input.getFloat(base + j * inner) - peak);
      total += values[base + j * inner];
    }
    for (int64_t j = 0; j < extent; ++j) {
      values[base + j * inner] /= total;
    }
  }
  return HostTensor::fromFloats(input.getElementType(), shape, std::move(values));
}

HostResult hostRange(const HostTensor &start, const HostTensor &limit, const HostTensor &delta) {
  if (start.getNumElements() != 1 || limit.getNumElements() != 1 || delta.getNumElements() != 1) {
    return HostResult::fail("start, limit and delta must be scalars");
  }
  if (start.isSymbolic() || limit.isSymbolic() || delta.isSymbolic()) {
    return HostResult::fail("its bounds are symbolic");
  }
  Type elementType = start.getElementType();
  if (start.isFloat()) {
    double first = start.getFloat(0), last = limit.getFloat(0), step = delta.getFloat(0);
    if (step == 0.0) {
      return HostResult::fail("delta is 0");
    }
    double span = std::ceil((last - first) / step);
    if (!(span < static_cast<double>(int64_t{1} << 31))) {
      return HostResult::fail("it would have more than 2^31 elements");
    }
    int64_t count = std::max<int64_t>(static_cast<int64_t>(span), 0);
    std::vector<double> values(count);
    for (int64_t i = 0; i < count; ++i) {
      values[i] = first + static_cast<double>(i) * step;
    }
    return HostTensor::fromFloats(elementType, {count}, std::move(values));
  }
  int64_t first = start.getInt(0), last = limit.getInt(0), step = delta.getInt(0);
  if (step == 0) {
    return HostResult::fail("delta is 0");
  }
  // In double first: the bounds may be near the int64 limits.
  double estimate = (static_cast<double>(last) - static_cast<double>(first)) / step;
  if (estimate > static_cast<double>(int64_t{1} << 31)) {
    return HostResult::fail("it would have more than 2^31 elements");
  }
  int64_t span = last - first;
  int64_t count = std::max<int64_t>((span + step + (step > 0 ? -1 : 1)) / step, 0);
  std::vector<int64_t> values(count);
  for (int64_t i = 0; i < count; ++i) {
    values[i] = first + i * step;
  }
  return HostTensor::fromInts(elementType, {count}, std::move(values));
}

} // namespace conveyor::frontend

//===----------------------------------------------------------------------===//
// Normalisation, top-k and element-wise indexing
//===----------------------------------------------------------------------===//

namespace conveyor::frontend {

HostResult hostLayerNorm(const HostTensor &input, const HostTensor &scale, const HostTensor *bias,
                         int64_t axis, double epsilon) {
  if (!input.isFloat()) {
    return HostResult::fail("LayerNormalization needs floating-point values");
  }
  ArrayRef<int64_t> shape = input.getShape();
  ArrayRef<int64_t> normalized = shape.drop_front(axis);
  int64_t inner = product(normalized);
  SmallVector<SmallVector<int64_t>> strides = {broadcastStrides(scale.getShape(), normalized)};
  if (bias) {
    strides.push_back(broadcastStrides(bias->getShape(), normalized));
  }
  if (scale.getRank() > static_cast<int64_t>(normalized.size()) ||
      (bias && bias->getRank() > static_cast<int64_t>(normalized.size()))) {
    return HostResult::fail("scale or bias has more dimensions than the normalised ones");
  }
  // Offsets of scale and bias for each position inside one normalised block.
  std::vector<int64_t> scaleOffset(inner), biasOffset(inner);
  forEachBroadcast(normalized, strides, [&](int64_t i, ArrayRef<int64_t> offsets) {
    scaleOffset[i] = offsets[0];
    biasOffset[i] = bias ? offsets[1] : 0;
  });
  int64_t count = input.getNumElements();
  std::vector<double> values(count);
  for (int64_t base = 0; base < count; base += std::max<int64_t>(inner, 1)) {
    double mean = 0.0;
    for (int64_t j = 0; j < inner; ++j) {
      mean += input.getFloat(base + j);
    }
    mean /= static_cast<double>(inner);
    double variance = 0.0;
    for (int64_t j = 0; j < inner; ++j) {
      double centered = input.getFloat(base + j) - mean;
      variance += centered * centered;
    }
    variance /= static_cast<double>(inner);
    double inverse = 1.0 / std::sqrt(variance + epsilon);
    for (int64_t j = 0; j < inner; ++j) {
      double y = (input.getFloat(base + j) - mean) * inverse * scale.getFloat(scaleOffset[j]);
      values[base + j] = bias ? y + bias->getFloat(biasOffset[j]) : y;
    }
  }
  return HostTensor::fromFloats(input.getElementType(), shape, std::move(values));
}

std::optional<std::pair<HostTensor, HostTensor>> hostTopK(const HostTensor &input, int64_t k,
                                                          int64_t axis, bool largest) {
  if (input.isSymbolic()) {
    return std::nullopt;
  }
  ArrayRef<int64_t> shape = input.getShape();
  int64_t extent = shape[axis];
  int64_t inner = product(shape.drop_front(axis + 1));
  int64_t outer = product(shape.take_front(axis));
  if (k < 0 || k > extent) {
    return std::nullopt;
  }
  SmallVector<int64_t> resultShape(shape);
  resultShape[axis] = k;
  std::vector<double> values(product(resultShape));
  std::vector<int64_t> indices(values.size());
  std::vector<int64_t> order(extent);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return input.getFloat((o * extent + j) * inner + i); };
      std::iota(order.begin(), order.end(), 0);
      // Stable sort keeps the lower index first among equal values.
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return largest ? at(a) > at(b) : at(a) < at(b);
      });
      for (int64_t j = 0; j < k; ++j) {
        int64_t out = (o * k + j) * inner + i;
        values[out] = at(order[j]);
        indices[out] = order[j];
      }
    }
  }
  HostTensor valueTensor =
      input.isFloat()
          ? HostTensor::fromFloats(input.getElementType(), resultShape, std::move(values))
          : HostTensor::fromInts(input.getElementType(), resultShape,
                                 std::vector<int64_t>(values.begin(), values.end()));
  return std::make_pair(
      std::move(valueTensor),
      HostTensor::fromInts(IntegerType::get(input.getElementType().getContext(), 64), resultShape,
                           std::move(indices)));
}

/// For GatherElements/ScatterElements: the linear index into `data` that element
/// `linear` of `indices` addresses along `axis`, or -1 when it is out of range.
static int64_t elementsTarget(ArrayRef<int64_t> dataShape, ArrayRef<int64_t> indexShape,
                              const HostTensor &indices, int64_t linear, int64_t axis) {
  SmallVector<int64_t> position;
  unflatten(linear, indexShape, position);
  int64_t index = indices.getInt(linear);
  int64_t extent = dataShape[axis];
  if (index < -extent || index >= extent) {
    return -1;
  }
  position[axis] = index < 0 ? index + extent : index;
  SmallVector<int64_t> strides = rowMajorStrides(dataShape);
  int64_t offset = 0;
  for (size_t dim = 0; dim < position.size(); ++dim) {
    if (position[dim] >= dataShape[dim]) {
      return -1;
    }
    offset += position[dim] * strides[dim];
  }
  return offset;
}

HostResult hostGatherElements(const HostTensor &data, const HostTensor &indices, int64_t axis) {
  if (indices.isSymbolic() || data.getRank() != indices.getRank()) {
    return HostResult::fail("indices must be known numbers of data's rank");
  }
  std::vector<int64_t> source(indices.getNumElements());
  for (int64_t i = 0, e = indices.getNumElements(); i < e; ++i) {
    source[i] = elementsTarget(data.getShape(), indices.getShape(), indices, i, axis);
    if (source[i] < 0) {
      return HostResult::fail("an index is out of range");
    }
  }
  return gatherElementsBy(data, indices.getShape(), [&](int64_t i) { return source[i]; });
}

HostResult hostScatterElements(const HostTensor &data, const HostTensor &indices,
                               const HostTensor &updates, int64_t axis, StringRef reduction) {
  if (indices.isSymbolic() || data.isSymbolic() || updates.isSymbolic() ||
      data.getRank() != indices.getRank() || updates.getShape() != indices.getShape()) {
    return HostResult::fail("data, indices and updates must be known, of one rank");
  }
  int64_t count = data.getNumElements();
  std::vector<double> values(count);
  for (int64_t i = 0; i < count; ++i) {
    values[i] = data.getFloat(i);
  }
  for (int64_t i = 0, e = indices.getNumElements(); i < e; ++i) {
    int64_t target = elementsTarget(data.getShape(), indices.getShape(), indices, i, axis);
    if (target < 0) {
      return HostResult::fail("an index is out of range");
    }
    double update = updates.getFloat(i);
    double &slot = values[target];
    if (reduction == "add") {
      slot += update;
    } else if (reduction == "mul") {
      slot *= update;
    } else if (reduction == "max") {
      slot = std::max(slot, update);
    } else if (reduction == "min") {
      slot = std::min(slot, update);
    } else {
      slot = update;
    }
  }
  if (data.isFloat()) {
    return HostTensor::fromFloats(data.getElementType(), data.getShape(), std::move(values));
  }
  return HostTensor::fromInts(data.getElementType(), data.getShape(),
                              std::vector<int64_t>(values.begin(), values.end()));
}

} // namespace conveyor::frontend
