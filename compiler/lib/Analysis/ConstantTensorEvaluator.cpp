// ConstantTensorEvaluator: lazy, cached evaluation of input-independent cv.graph tensors.
#include "ConstantTensorEvaluator.h"

#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/SymbolicDim.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace conveyor::analysis::detail {

namespace {

/// Tensors up to this many elements are computed once and kept; bigger ones (a 4096 x
/// 4096 mask) are computed element by element from their (cached) operands.
constexpr int64_t kMaterializeLimit = int64_t{1} << 20;

RankedTensorType staticTensorType(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.hasStaticShape() ? type : RankedTensorType();
}

/// Row-major coordinates of `index` in `dims`.
SmallVector<int64_t, 6> coordinates(ArrayRef<int64_t> dims, int64_t index) {
  SmallVector<int64_t, 6> coords(dims.size(), 0);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
    if (dims[i] > 0) {
      coords[i] = index % dims[i];
      index /= dims[i];
    }
  }
  return coords;
}

int64_t flatIndex(ArrayRef<int64_t> dims, ArrayRef<int64_t> coords) {
  int64_t index = 0;
  for (auto [dim, coord] : llvm::zip(dims, coords)) {
    index = index * dim + coord;
  }
  return index;
}

/// Converts a computed value to what the result element type can hold (ONNX Cast and
/// integer arithmetic semantics: toward zero for integers, != 0 for i1).
double toElementType(double value, Type elementType) {
  if (elementType.isInteger(1)) {
    return value != 0.0 ? 1.0 : 0.0;
  }
  if (isa<IntegerType, IndexType>(elementType)) {
    return std::trunc(value);
  }
  return value;
}

bool isSupportedOp(Operation *op) {
  return isa<graph::ConstantOp, graph::IotaOp, graph::DimValueOp, graph::ReshapeOp, graph::CastOp,
             graph::ExpandOp, graph::TransposeOp, graph::SliceOp, graph::ConcatOp, graph::GatherOp,
             graph::AddOp, graph::SubOp, graph::MulOp, graph::DivOp, graph::MaxOp, graph::MinOp,
             graph::PowOp, graph::AndOp, graph::OrOp, graph::EqualOp, graph::LessOp,
             graph::LessEqualOp, graph::GreaterOp, graph::GreaterEqualOp, graph::NegOp,
             graph::AbsOp, graph::NotOp, graph::WhereOp, graph::TriluOp>(op);
}

} // namespace

bool ConstantTensorEvaluator::canEvaluate(Value value) {
  if (auto it = evaluable.find(value); it != evaluable.end()) {
    return it->second;
  }
  // Mark first so that a (malformed) cycle terminates as "not evaluable".
  evaluable[value] = false;
  Operation *op = value.getDefiningOp();
  bool ok = op && staticTensorType(value) && isSupportedOp(op);
  if (ok) {
    if (auto dimValue = dyn_cast<graph::DimValueOp>(op)) {
      for (Attribute expr : dimValue.getExprs()) {
        std::optional<graph::DimExpr> parsed =
            graph::DimExpr::parse(cast<StringAttr>(expr).getValue());
        ok = ok && parsed && parsed->isConstant();
      }
    }
    if (auto constant = dyn_cast<graph::ConstantOp>(op)) {
      ok = isa<DenseElementsAttr>(constant.getValue());
    }
  }
  if (ok) {
    for (Value operand : op->getOperands()) {
      if (!canEvaluate(operand)) {
        ok = false;
        break;
      }
    }
  }
  evaluable[value] = ok;
  return ok;
}

double ConstantTensorEvaluator::at(Value value, int64_t index) {
  if (auto it = materialized.find(value); it != materialized.end()) {
    return it->second[index];
  }
  auto result = cast<OpResult>(value);
  Operation *op = result.getOwner();
  int64_t elements = staticTensorType(value).getNumElements();
  if (elements <= kMaterializeLimit && !isa<graph::ConstantOp>(op)) {
    std::vector<double> values(elements);
    for (int64_t i = 0; i < elements; ++i) {
      values[i] = compute(op, result.getResultNumber(), i);
    }
    double element = values[index];
    materialized[value] = std::move(values);
    return element;
  }
  return compute(op, result.getResultNumber(), index);
}

const std::vector<double> &ConstantTensorEvaluator::constantValues(Operation *op) {
  auto it = constants.find(op);
  if (it != constants.end()) {
    return it->second;
  }
  auto attr = cast<DenseElementsAttr>(cast<graph::ConstantOp>(op).getValue());
  std::vector<double> values;
  values.reserve(attr.getNumElements());
  Type elementType = attr.getElementType();
  if (elementType.isInteger(1)) {
    for (bool element : attr.getValues<bool>()) {
      values.push_back(element ? 1.0 : 0.0);
    }
  } else if (auto intType = dyn_cast<IntegerType>(elementType)) {
    for (const APInt &element : attr.getValues<APInt>()) {
      values.push_back(intType.isUnsigned() ? double(element.getZExtValue())
                                            : double(element.getSExtValue()));
    }
  } else if (isa<FloatType>(elementType)) {
    for (const APFloat &element : attr.getValues<APFloat>()) {
      values.push_back(element.convertToDouble());
    }
  }
  if (attr.isSplat() && !values.empty()) {
    values.resize(attr.getNumElements(), values.front());
  }
  return constants[op] = std::move(values);
}

const ConstantTensorEvaluator::BroadcastMap &
ConstantTensorEvaluator::broadcastMap(Operation *op, unsigned operandNumber) {
  auto key = std::make_pair(op, operandNumber);
  auto it = broadcastMaps.find(key);
  if (it != broadcastMaps.end()) {
    return it->second;
  }
  ArrayRef<int64_t> resultDims = staticTensorType(op->getResult(0)).getShape();
  ArrayRef<int64_t> operandDims = staticTensorType(op->getOperand(operandNumber)).getShape();
  BroadcastMap map;
  map.resultDims.assign(resultDims.begin(), resultDims.end());
  map.operandStrides.assign(resultDims.size(), 0);
  // Numpy broadcasting aligns shapes from the right; a size-1 operand dim repeats.
  int64_t stride = 1;
  size_t offset = resultDims.size() - operandDims.size();
  for (int64_t i = static_cast<int64_t>(operandDims.size()) - 1; i >= 0; --i) {
    if (operandDims[i] != 1) {
      map.operandStrides[offset + i] = stride;
    }
    stride *= operandDims[i];
  }
  return broadcastMaps[key] = std::move(map);
}

double ConstantTensorEvaluator::operandAt(Operation *op, unsigned operandNumber, int64_t index) {
  const BroadcastMap &map = broadcastMap(op, operandNumber);
  int64_t operandIndex = 0;
  for (int64_t i = static_cast<int64_t>(map.resultDims.size()) - 1; i >= 0 && index > 0; --i) {
    int64_t dim = map.resultDims[i];
    operandIndex += (index % dim) * map.operandStrides[i];
    index /= dim;
  }
  return at(op->getOperand(operandNumber), operandIndex);
}

double ConstantTensorEvaluator::compute(Operation *op, unsigned resultNumber, int64_t index) {
  Type resultElementType =
      cast<RankedTensorType>(op->getResult(resultNumber).getType()).getElementType();
  auto binary = [&](auto function) {
    double result = function(operandAt(op, 0, index), operandAt(op, 1, index));
    return toElementType(result, resultElementType);
  };
  ArrayRef<int64_t> resultDims =
      cast<RankedTensorType>(op->getResult(resultNumber).getType()).getShape();

  return llvm::TypeSwitch<Operation *, double>(op)
      .Case([&](graph::ConstantOp) { return constantValues(op)[index]; })
      .Case([&](graph::IotaOp) { return double(index); })
      .Case([&](graph::DimValueOp dimValue) {
        auto text = cast<StringAttr>(dimValue.getExprs()[index]).getValue();
        return double(*graph::DimExpr::parse(text)->getConstant());
      })
      .Case([&](graph::ReshapeOp) { return at(op->getOperand(0), index); })
      .Case([&](graph::CastOp) {
        return toElementType(at(op->getOperand(0), index), resultElementType);
      })
      .Case([&](graph::ExpandOp) { return operandAt(op, 0, index); })
      .Case([&](graph::TransposeOp transpose) {
        SmallVector<int64_t, 6> coords = coordinates(resultDims, index);
        ArrayRef<int64_t> inputDims = staticTensorType(transpose.getInput()).getShape();
        SmallVector<int64_t, 6> inputCoords(inputDims.size(), 0);
        for (auto [i, axis] : llvm::enumerate(transpose.getPerm())) {
          inputCoords[axis] = coords[i];
        }
        return at(transpose.getInput(), flatIndex(inputDims, inputCoords));
      })
      .Case([&](graph::SliceOp slice) {
        SmallVector<int64_t, 6> coords = coordinates(resultDims, index);
        ArrayRef<int64_t> inputDims = staticTensorType(slice.getInput()).getShape();
        for (auto [i, axis] : llvm::enumerate(slice.getAxes())) {
          int64_t start = slice.getStarts()[i];
          if (start < 0) {
            start += inputDims[axis];
          }
          coords[axis] = start + coords[axis] * slice.getSteps()[i];
        }
        return at(slice.getInput(), flatIndex(inputDims, coords));
      })
      .Case([&](graph::ConcatOp concat) {
        SmallVector<int64_t, 6> coords = coordinates(resultDims, index);
        int64_t axis = concat.getAxis();
        for (Value input : concat.getInputs()) {
          ArrayRef<int64_t> inputDims = staticTensorType(input).getShape();
          if (coords[axis] < inputDims[axis]) {
            return at(input, flatIndex(inputDims, coords));
          }
          coords[axis] -= inputDims[axis];
        }
        return 0.0; // unreachable for a verified concat
      })
      .Case([&](graph::GatherOp gather) {
        // result = data[:axis] + indices + data[axis+1:]
        SmallVector<int64_t, 6> coords = coordinates(resultDims, index);
        ArrayRef<int64_t> dataDims = staticTensorType(gather.getData()).getShape();
        ArrayRef<int64_t> indexDims = staticTensorType(gather.getIndices()).getShape();
        int64_t axis = gather.getAxis();
        SmallVector<int64_t, 6> indexCoords(coords.begin() + axis,
                                            coords.begin() + axis + indexDims.size());
        auto position =
            static_cast<int64_t>(at(gather.getIndices(), flatIndex(indexDims, indexCoords)));
        if (position < 0) {
          position += dataDims[axis];
        }
        SmallVector<int64_t, 6> dataCoords(coords.begin(), coords.begin() + axis);
        dataCoords.push_back(position);
        dataCoords.append(coords.begin() + axis + indexDims.size(), coords.end());
        return at(gather.getData(), flatIndex(dataDims, dataCoords));
      })
      .Case([&](graph::AddOp) { return binary([](double a, double b) { return a + b; }); })
      .Case([&](graph::SubOp) { return binary([](double a, double b) { return a - b; }); })
      .Case([&](graph::MulOp) { return binary([](double a, double b) { return a * b; }); })
      .Case([&](graph::DivOp) { return binary([](double a, double b) { return a / b; }); })
      .Case([&](graph::MaxOp) { return binary([](double a, double b) { return std::max(a, b); }); })
      .Case([&](graph::MinOp) { return binary([](double a, double b) { return std::min(a, b); }); })
      .Case([&](graph::PowOp) { return binary([](double a, double b) { return std::pow(a, b); }); })
      .Case([&](graph::AndOp) { return binary([](double a, double b) { return double(a && b); }); })
      .Case([&](graph::OrOp) { return binary([](double a, double b) { return double(a || b); }); })
      .Case(
          [&](graph::EqualOp) { return binary([](double a, double b) { return double(a == b); }); })
      .Case([&](graph::LessOp) { return binary([](double a, double b) { return double(a < b); }); })
      .Case([&](graph::LessEqualOp) {
        return binary([](double a, double b) { return double(a <= b); });
      })
      .Case([&](graph::GreaterOp) {
        return binary([](double a, double b) { return double(a > b); });
      })
      .Case([&](graph::GreaterEqualOp) {
        return binary([](double a, double b) { return double(a >= b); });
      })
      .Case([&](graph::NegOp) { return -at(op->getOperand(0), index); })
      .Case([&](graph::AbsOp) { return std::fabs(at(op->getOperand(0), index)); })
      .Case([&](graph::NotOp) { return at(op->getOperand(0), index) != 0.0 ? 0.0 : 1.0; })
      .Case([&](graph::WhereOp) {
        return operandAt(op, 0, index) != 0.0 ? operandAt(op, 1, index) : operandAt(op, 2, index);
      })
      .Case([&](graph::TriluOp trilu) {
        int64_t rank = static_cast<int64_t>(resultDims.size());
        int64_t column = index % resultDims[rank - 1];
        int64_t row = (index / resultDims[rank - 1]) % resultDims[rank - 2];
        int64_t offset = column - row;
        bool keep = trilu.getUpper() ? offset >= trilu.getK() : offset <= trilu.getK();
        return keep ? at(trilu.getInput(), index) : 0.0;
      })
      .Default([](Operation *) { return 0.0; }); // excluded by canEvaluate
}

} // namespace conveyor::analysis::detail
