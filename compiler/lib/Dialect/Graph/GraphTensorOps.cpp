// cv.graph shape-changing ops: reductions, normalisation, gather/scatter, concat,
// split, slice, expand, trilu and topk. Each checks its operands in inferReturnTypes
// (or verify, for ops with an explicit result type) and reports the first problem.
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "GraphOpsSupport.h"

#include "llvm/ADT/SmallBitVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <limits>

using namespace mlir;
using namespace conveyor::graph;
using namespace conveyor::graph::detail;

namespace {

/// Sum of two dimensions, dynamic if either is.
int64_t addDims(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) ? ShapedType::kDynamic : a + b;
}

/// An integer (not i1) element type, as indices must have.
bool isIndexElementType(Type type) { return type.isSignlessInteger() && !type.isInteger(1); }

} // namespace

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

static LogicalResult inferReduceType(ValueRange operands, ArrayRef<int64_t> axes, bool keepdims,
                                     std::optional<Location> location, StringRef opName,
                                     SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RankedTensorType> input = getRankedOperand(operands, 0, location, opName, "input");
  if (failed(input)) {
    return failure();
  }
  int64_t rank = input->getRank();
  if (axes.empty()) {
    return emitShapeError(location, opName, "needs at least one axis to reduce");
  }
  for (auto [index, axis] : llvm::enumerate(axes)) {
    if (axis < 0 || axis >= rank) {
      return emitShapeError(
          location, opName,
          llvm::formatv("axes[{0}] = {1} is outside [0, {2})", index, axis, rank));
    }
    if (index > 0 && axis <= axes[index - 1]) {
      return emitShapeError(location, opName,
                            llvm::formatv("axes must be strictly increasing; axes[{0}] = {1} "
                                          "follows {2}",
                                          index, axis, axes[index - 1]));
    }
  }
  SmallVector<int64_t> shape;
  for (int64_t dim = 0; dim < rank; ++dim) {
    if (!llvm::is_contained(axes, dim)) {
      shape.push_back(input->getDimSize(dim));
    } else if (keepdims) {
      shape.push_back(1);
    }
  }
  inferredReturnTypes.push_back(RankedTensorType::get(shape, input->getElementType()));
  return success();
}

#define CONVEYOR_REDUCE_INFER(OP)                                                                  \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> location,              \
                                     ValueRange operands, DictionaryAttr attributes,               \
                                     OpaqueProperties properties, RegionRange regions,             \
                                     SmallVectorImpl<Type> &inferredReturnTypes) {                 \
    Adaptor adaptor(operands, attributes, properties, regions);                                    \
    if (!adaptor.getAxesAttr()) {                                                                  \
      return emitShapeError(location, getOperationName(), "requires an 'axes' attribute");         \
    }                                                                                              \
    return inferReduceType(operands, adaptor.getAxes(), adaptor.getKeepdims(), location,           \
                           getOperationName(), inferredReturnTypes);                               \
  }
CONVEYOR_REDUCE_INFER(ReduceSumOp)
CONVEYOR_REDUCE_INFER(ReduceMeanOp)
CONVEYOR_REDUCE_INFER(ReduceMaxOp)
CONVEYOR_REDUCE_INFER(ReduceMinOp)
#undef CONVEYOR_REDUCE_INFER

LogicalResult ArgMaxOp::inferReturnTypes(MLIRContext *context, std::optional<Location> location,
                                         ValueRange operands, DictionaryAttr attributes,
                                         OpaqueProperties properties, RegionRange regions,
                                         SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  if (!adaptor.getAxisAttr()) {
    return emitShapeError(location, opName, "requires an 'axis' attribute");
  }
  SmallVector<Type> reduced;
  int64_t axis = adaptor.getAxis();
  FailureOr<RankedTensorType> input = getRankedOperand(operands, 0, location, opName, "input");
  if (failed(input) || failed(checkAxis(axis, input->getRank(), location, opName)) ||
      failed(inferReduceType(operands, {axis}, adaptor.getKeepdims(), location, opName, reduced))) {
    return failure();
  }
  inferredReturnTypes.push_back(
      cast<RankedTensorType>(reduced.front()).clone(IntegerType::get(context, 64)));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

/// Checks that a scale/bias operand broadcasts (unidirectionally) to the normalised
/// trailing dimensions [axis, rank) of `input`.
static LogicalResult checkNormParameter(RankedTensorType input, int64_t axis, Value parameter,
                                        StringRef what, std::optional<Location> location,
                                        StringRef opName) {
  auto type = dyn_cast<RankedTensorType>(parameter.getType());
  if (!type) {
    return emitShapeError(location, opName, llvm::formatv("{0} must be a ranked tensor", what));
  }
  if (type.getElementType() != input.getElementType()) {
    return emitShapeError(location, opName,
                          llvm::formatv("{0} element type {1} differs from the input's {2}", what,
                                        type.getElementType(), input.getElementType()));
  }
  ArrayRef<int64_t> normalized = input.getShape().drop_front(axis);
  ArrayRef<int64_t> shape = type.getShape();
  bool broadcastable = shape.size() <= normalized.size();
  for (size_t i = 0; broadcastable && i < shape.size(); ++i) {
    int64_t target = normalized[normalized.size() - shape.size() + i];
    broadcastable = shape[i] == 1 || dimsCompatible(shape[i], target);
  }
  if (!broadcastable) {
    return emitShapeError(location, opName,
                          llvm::formatv("{0} of shape {1} does not broadcast to the normalised "
                                        "dimensions {2} (axis {3})",
                                        what, formatShape(shape), formatShape(normalized), axis));
  }
  return success();
}

/// Shared by layer_norm and rms_norm: a float input, axis in [-rank, rank), epsilon > 0
/// and parameters that broadcast; the result has the input's type.
static LogicalResult inferNormType(ValueRange operands, int64_t axis, float epsilon,
                                   std::optional<Location> location, StringRef opName,
                                   SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RankedTensorType> input = getRankedOperand(operands, 0, location, opName, "input");
  if (failed(input)) {
    return failure();
  }
  if (!isa<FloatType>(input->getElementType())) {
    return emitShapeError(location, opName,
                          llvm::formatv("needs a floating-point input, got '{0}'", *input));
  }
  int64_t rank = input->getRank();
  if (rank == 0 || axis < -rank || axis >= rank) {
    return emitShapeError(location, opName,
                          llvm::formatv("axis {0} is outside [{1}, {2}] for an input of rank {3}",
                                        axis, -rank, rank - 1, rank));
  }
  if (!(epsilon > 0.0f)) {
    return emitShapeError(location, opName,
                          llvm::formatv("epsilon must be positive, got {0}", epsilon));
  }
  int64_t normalizedAxis = axis < 0 ? axis + rank : axis;
  static constexpr llvm::StringLiteral names[] = {"scale", "bias"};
  for (size_t i = 1; i < operands.size(); ++i) {
    if (failed(checkNormParameter(*input, normalizedAxis, operands[i],
                                  names[std::min<size_t>(i - 1, 1)], location, opName))) {
      return failure();
    }
  }
  inferredReturnTypes.push_back(*input);
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                            ValueRange operands, DictionaryAttr attributes,
                                            OpaqueProperties properties, RegionRange regions,
                                            SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  return inferNormType(operands, adaptor.getAxis(), adaptor.getEpsilon().convertToFloat(), location,
                       getOperationName(), inferredReturnTypes);
}

LogicalResult RmsNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                          ValueRange operands, DictionaryAttr attributes,
                                          OpaqueProperties properties, RegionRange regions,
                                          SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  return inferNormType(operands, adaptor.getAxis(), adaptor.getEpsilon().convertToFloat(), location,
                       getOperationName(), inferredReturnTypes);
}

//===----------------------------------------------------------------------===//
// Gather and scatter
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                         ValueRange operands, DictionaryAttr attributes,
                                         OpaqueProperties properties, RegionRange regions,
                                         SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> data = getRankedOperand(operands, 0, location, opName, "data");
  FailureOr<RankedTensorType> indices =
      failed(data) ? FailureOr<RankedTensorType>(failure())
                   : getRankedOperand(operands, 1, location, opName, "indices");
  if (failed(indices)) {
    return failure();
  }
  int64_t axis = adaptor.getAxis();
  if (data->getRank() == 0) {
    return emitShapeError(location, opName, "data must have rank >= 1");
  }
  if (failed(checkAxis(axis, data->getRank(), location, opName))) {
    return failure();
  }
  if (!isIndexElementType(indices->getElementType())) {
    return emitShapeError(location, opName,
                          llvm::formatv("indices must be integers, got '{0}'", *indices));
  }
  SmallVector<int64_t> shape(data->getShape().take_front(axis));
  llvm::append_range(shape, indices->getShape());
  llvm::append_range(shape, data->getShape().drop_front(axis + 1));
  inferredReturnTypes.push_back(RankedTensorType::get(shape, data->getElementType()));
  return success();
}

/// GatherElements/ScatterElements: data and indices of one rank, integer indices,
/// axis in range.
static LogicalResult checkElementsIndexing(RankedTensorType data, RankedTensorType indices,
                                           int64_t axis, std::optional<Location> location,
                                           StringRef opName) {
  if (data.getRank() == 0) {
    return emitShapeError(location, opName, "data must have rank >= 1");
  }
  if (indices.getRank() != data.getRank()) {
    return emitShapeError(location, opName,
                          llvm::formatv("indices {0} and data {1} must have the same rank",
                                        formatShape(indices.getShape()),
                                        formatShape(data.getShape())));
  }
  if (!isIndexElementType(indices.getElementType())) {
    return emitShapeError(location, opName,
                          llvm::formatv("indices must be integers, got '{0}'", indices));
  }
  return checkAxis(axis, data.getRank(), location, opName);
}

LogicalResult GatherElementsOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                                 ValueRange operands, DictionaryAttr attributes,
                                                 OpaqueProperties properties, RegionRange regions,
                                                 SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> data = getRankedOperand(operands, 0, location, opName, "data");
  FailureOr<RankedTensorType> indices =
      failed(data) ? FailureOr<RankedTensorType>(failure())
                   : getRankedOperand(operands, 1, location, opName, "indices");
  if (failed(indices) ||
      failed(checkElementsIndexing(*data, *indices, adaptor.getAxis(), location, opName))) {
    return failure();
  }
  inferredReturnTypes.push_back(indices->clone(data->getElementType()));
  return success();
}

LogicalResult ScatterElementsOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                                  ValueRange operands, DictionaryAttr attributes,
                                                  OpaqueProperties properties, RegionRange regions,
                                                  SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> data = getRankedOperand(operands, 0, location, opName, "data");
  FailureOr<RankedTensorType> indices =
      failed(data) ? FailureOr<RankedTensorType>(failure())
                   : getRankedOperand(operands, 1, location, opName, "indices");
  FailureOr<RankedTensorType> updates =
      failed(indices) ? FailureOr<RankedTensorType>(failure())
                      : getRankedOperand(operands, 2, location, opName, "updates");
  if (failed(updates) ||
      failed(checkElementsIndexing(*data, *indices, adaptor.getAxis(), location, opName))) {
    return failure();
  }
  if (updates->getElementType() != data->getElementType()) {
    return emitShapeError(location, opName,
                          llvm::formatv("updates element type {0} differs from data's {1}",
                                        updates->getElementType(), data->getElementType()));
  }
  bool sameShape = updates->getRank() == indices->getRank();
  for (int64_t i = 0; sameShape && i < updates->getRank(); ++i) {
    sameShape = dimsCompatible(updates->getDimSize(i), indices->getDimSize(i));
  }
  if (!sameShape) {
    return emitShapeError(location, opName,
                          llvm::formatv("updates {0} and indices {1} must have the same shape",
                                        formatShape(updates->getShape()),
                                        formatShape(indices->getShape())));
  }
  StringRef reduction = adaptor.getReduction();
  if (!llvm::is_contained({"none", "add", "mul", "max", "min"}, reduction)) {
    return emitShapeError(location, opName,
                          llvm::formatv("reduction = \"{0}\" is not one of \"none\", \"add\", "
                                        "\"mul\", \"max\", \"min\"",
                                        reduction));
  }
  inferredReturnTypes.push_back(*data);
  return success();
}

//===----------------------------------------------------------------------===//
// Concat and split
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                         ValueRange operands, DictionaryAttr attributes,
                                         OpaqueProperties properties, RegionRange regions,
                                         SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  if (operands.empty()) {
    return emitShapeError(location, opName, "needs at least one input");
  }
  if (!adaptor.getAxisAttr()) {
    return emitShapeError(location, opName, "requires an 'axis' attribute");
  }
  FailureOr<RankedTensorType> first = getRankedOperand(operands, 0, location, opName, "input #0");
  if (failed(first)) {
    return failure();
  }
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(axis, first->getRank(), location, opName))) {
    return failure();
  }
  SmallVector<int64_t> shape(first->getShape());
  for (unsigned i = 1; i < operands.size(); ++i) {
    FailureOr<RankedTensorType> type =
        getRankedOperand(operands, i, location, opName, "input #" + std::to_string(i));
    if (failed(type)) {
      return failure();
    }
    if (type->getElementType() != first->getElementType()) {
      return emitShapeError(location, opName,
                            llvm::formatv("input #{0} has element type {1}, input #0 has {2}", i,
                                          type->getElementType(), first->getElementType()));
    }
    if (type->getRank() != first->getRank()) {
      return emitShapeError(location, opName,
                            llvm::formatv("input #{0} {1} and input #0 {2} differ in rank", i,
                                          formatShape(type->getShape()),
                                          formatShape(first->getShape())));
    }
    for (int64_t dim = 0; dim < type->getRank(); ++dim) {
      int64_t size = type->getDimSize(dim);
      if (dim == axis) {
        shape[dim] = addDims(shape[dim], size);
      } else if (!dimsCompatible(shape[dim], size)) {
        return emitShapeError(location, opName,
                              llvm::formatv("input #{0} {1} differs from input #0 {2} in "
                                            "dimension {3}, which is not the concat axis {4}",
                                            i, formatShape(type->getShape()),
                                            formatShape(first->getShape()), dim, axis));
      } else if (ShapedType::isDynamic(shape[dim])) {
        shape[dim] = size;
      }
    }
  }
  inferredReturnTypes.push_back(RankedTensorType::get(shape, first->getElementType()));
  return success();
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                        ValueRange operands, DictionaryAttr attributes,
                                        OpaqueProperties properties, RegionRange regions,
                                        SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> input = getRankedOperand(operands, 0, location, opName, "input");
  if (failed(input)) {
    return failure();
  }
  if (!adaptor.getAxisAttr() || !adaptor.getSizesAttr()) {
    return emitShapeError(location, opName, "requires 'axis' and 'sizes' attributes");
  }
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(axis, input->getRank(), location, opName))) {
    return failure();
  }
  ArrayRef<int64_t> sizes = adaptor.getSizes();
  if (sizes.empty()) {
    return emitShapeError(location, opName, "needs at least one piece in 'sizes'");
  }
  int64_t total = 0;
  for (auto [index, size] : llvm::enumerate(sizes)) {
    if (size < 0) {
      return emitShapeError(location, opName,
                            llvm::formatv("sizes[{0}] = {1} is negative", index, size));
    }
    if (size > std::numeric_limits<int64_t>::max() - total) {
      return emitShapeError(location, opName,
                            llvm::formatv("sizes add up to more than 2^63 - 1 at sizes[{0}] = "
                                          "{1}",
                                          index, size));
    }
    total += size;
  }
  int64_t extent = input->getDimSize(axis);
  if (!ShapedType::isDynamic(extent) && total != extent) {
    return emitShapeError(location, opName,
                          llvm::formatv("sizes add up to {0} but dimension {1} of {2} is {3}",
                                        total, axis, formatShape(input->getShape()), extent));
  }
  for (int64_t size : sizes) {
    SmallVector<int64_t> shape(input->getShape());
    shape[axis] = size;
    inferredReturnTypes.push_back(RankedTensorType::get(shape, input->getElementType()));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// SliceOp
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                                        ValueRange operands, DictionaryAttr attributes,
                                        OpaqueProperties properties, RegionRange regions,
                                        SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> input = getRankedOperand(operands, 0, location, opName, "input");
  if (failed(input)) {
    return failure();
  }
  if (!adaptor.getAxesAttr() || !adaptor.getStartsAttr() || !adaptor.getSizesAttr() ||
      !adaptor.getStepsAttr()) {
    return emitShapeError(location, opName,
                          "requires 'axes', 'starts', 'sizes' and 'steps' attributes");
  }
  ArrayRef<int64_t> axes = adaptor.getAxes();
  ArrayRef<int64_t> starts = adaptor.getStarts();
  ArrayRef<int64_t> sizes = adaptor.getSizes();
  ArrayRef<int64_t> steps = adaptor.getSteps();
  if (starts.size() != axes.size() || sizes.size() != axes.size() || steps.size() != axes.size()) {
    return emitShapeError(location, opName,
                          llvm::formatv("axes, starts, sizes and steps must have one entry per "
                                        "sliced axis; got {0}, {1}, {2} and {3}",
                                        axes.size(), starts.size(), sizes.size(), steps.size()));
  }
  int64_t rank = input->getRank();
  llvm::SmallBitVector seen(rank);
  SmallVector<int64_t> shape(input->getShape());
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t axis = axes[i];
    if (axis < 0 || axis >= rank) {
      return emitShapeError(location, opName,
                            llvm::formatv("axes[{0}] = {1} is outside [0, {2})", i, axis, rank));
    }
    if (seen.test(axis)) {
      return emitShapeError(location, opName, llvm::formatv("axes repeats axis {0}", axis));
    }
    seen.set(axis);
    if (steps[i] == 0) {
      return emitShapeError(location, opName, llvm::formatv("steps[{0}] is 0", i));
    }
    if (sizes[i] < 0) {
      return emitShapeError(location, opName,
                            llvm::formatv("sizes[{0}] = {1} is negative", i, sizes[i]));
    }
    int64_t extent = input->getDimSize(axis);
    if (!ShapedType::isDynamic(extent) && sizes[i] > 0) {
      int64_t last = starts[i] + (sizes[i] - 1) * steps[i];
      if (starts[i] < 0 || starts[i] >= extent || last < 0 || last >= extent) {
        return emitShapeError(
            location, opName,
            llvm::formatv("slice of axis {0} takes indices {1} to {2} (step {3}), outside "
                          "[0, {4})",
                          axis, starts[i], last, steps[i], extent));
      }
    }
    shape[axis] = sizes[i];
  }
  inferredReturnTypes.push_back(RankedTensorType::get(shape, input->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// ExpandOp
//===----------------------------------------------------------------------===//

LogicalResult ExpandOp::verify() {
  auto inputType = getInput().getType();
  auto resultType = getType();
  if (inputType.getElementType() != resultType.getElementType()) {
    return emitOpError() << "changes the element type from " << inputType.getElementType() << " to "
                         << resultType.getElementType();
  }
  ArrayRef<int64_t> input = inputType.getShape();
  ArrayRef<int64_t> result = resultType.getShape();
  bool broadcastable = input.size() <= result.size();
  for (size_t i = 0; broadcastable && i < input.size(); ++i) {
    int64_t target = result[result.size() - input.size() + i];
    broadcastable = input[i] == 1 || dimsCompatible(input[i], target);
  }
  if (!broadcastable) {
    return emitOpError() << "input shape " << formatShape(input)
                         << " does not broadcast to the result shape " << formatShape(result);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TriluOp
//===----------------------------------------------------------------------===//

LogicalResult TriluOp::verify() {
  if (getType().getRank() < 2) {
    return emitOpError() << "needs an input of rank >= 2, got " << getType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TopKOp
//===----------------------------------------------------------------------===//

LogicalResult TopKOp::inferReturnTypes(MLIRContext *context, std::optional<Location> location,
                                       ValueRange operands, DictionaryAttr attributes,
                                       OpaqueProperties properties, RegionRange regions,
                                       SmallVectorImpl<Type> &inferredReturnTypes) {
  Adaptor adaptor(operands, attributes, properties, regions);
  StringRef opName = getOperationName();
  FailureOr<RankedTensorType> input = getRankedOperand(operands, 0, location, opName, "input");
  if (failed(input)) {
    return failure();
  }
  if (!adaptor.getKAttr() || !adaptor.getAxisAttr()) {
    return emitShapeError(location, opName, "requires 'k' and 'axis' attributes");
  }
  int64_t axis = adaptor.getAxis();
  int64_t k = adaptor.getK();
  if (failed(checkAxis(axis, input->getRank(), location, opName))) {
    return failure();
  }
  int64_t extent = input->getDimSize(axis);
  if (k < 1 || (!ShapedType::isDynamic(extent) && k > extent)) {
    return emitShapeError(location, opName,
                          llvm::formatv("k = {0} is outside [1, {1}] (dimension {2} of {3})", k,
                                        extent, axis, formatShape(input->getShape())));
  }
  SmallVector<int64_t> shape(input->getShape());
  shape[axis] = k;
  inferredReturnTypes.push_back(RankedTensorType::get(shape, input->getElementType()));
  inferredReturnTypes.push_back(RankedTensorType::get(shape, IntegerType::get(context, 64)));
  return success();
}
