// ONNX importers for shape and layout ops: Constant, Identity, Shape, Size,
// ConstantOfShape, Range, Reshape, Flatten, Squeeze/Unsqueeze, Transpose, Concat,
// Split, Slice, Gather(Elements), ScatterElements, Expand and Tile. Shape computations
// are evaluated at import time (symbolically where a dimension is named); ops on
// run-time tensors become cv.graph ops.
#include "OnnxImporterImpl.h"

#include "llvm/ADT/STLExtras.h"

#include <functional>
#include <limits>
#include <numeric>

using namespace mlir;
namespace graph = conveyor::graph;
using graph::DimExpr;

namespace conveyor::frontend::detail {

namespace {

DimExpr productOf(ArrayRef<DimExpr> dims) {
  DimExpr total(1);
  for (const DimExpr &dim : dims) {
    total = total * dim;
  }
  return total;
}

std::string formatDims(ArrayRef<DimExpr> dims) {
  std::string text = "[";
  llvm::interleave(
      dims, [&](const DimExpr &dim) { text += dim.str(); }, [&] { text += ", "; });
  return text + "]";
}

/// Reads a 1-D (or scalar) integer input known at import time, possibly symbolic.
FailureOr<std::vector<DimExpr>> readDimsInput(OnnxImporter &importer, const NodeContext &node,
                                              int index, StringRef what) {
  const HostTensor *value = importer.requireHostInput(node, index, what);
  if (!value) {
    return failure();
  }
  if (value->isFloat() || value->getRank() > 1) {
    return importer.emitNodeError(node)
           << "needs " << what << " '" << node.node->input(index)
           << "' to be a 1-D integer tensor, got " << formatShape(value->getShape()) << " of "
           << value->getElementType();
  }
  return value->getDimVector();
}

/// Reads a 1-D integer input whose entries must all be constant.
FailureOr<SmallVector<int64_t>> readIntsInput(OnnxImporter &importer, const NodeContext &node,
                                              int index, StringRef what) {
  FailureOr<std::vector<DimExpr>> dims = readDimsInput(importer, node, index, what);
  if (failed(dims)) {
    return failure();
  }
  SmallVector<int64_t> values;
  for (const DimExpr &dim : *dims) {
    std::optional<int64_t> value = dim.getConstant();
    if (!value) {
      return importer.emitNodeError(node)
             << "needs " << what << " '" << node.node->input(index)
             << "' to be constant, but it is " << formatDims(*dims)
             << " (symbolic); bind the dimension sizes to import this graph";
    }
    values.push_back(*value);
  }
  return values;
}

} // namespace

/// Defines output 0 as `input` reshaped to `dims`, on the host when the input is
/// known there, else with a cv.graph.reshape.
static LogicalResult defineReshaped(OnnxImporter &importer, const NodeContext &node,
                                    ArrayRef<DimExpr> dims) {
  if (const HostTensor *host = importer.getHostInput(node, 0)) {
    SmallVector<int64_t> shape;
    for (const DimExpr &dim : dims) {
      std::optional<int64_t> value = dim.getConstant();
      if (!value) {
        return importer.emitNodeError(node) << "gives a value known at import time the symbolic "
                                               "shape "
                                            << formatDims(dims);
      }
      shape.push_back(*value);
    }
    return importer.defineHostOutput(node, host->reshaped(shape));
  }
  FailureOr<Value> input = importer.getInput(node, 0);
  FailureOr<Value> result =
      failed(input) ? FailureOr<Value>(failure()) : importer.reshapeTo(node, *input, dims);
  return failed(result) ? failure() : importer.defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Constants and identity
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importConstant(const NodeContext &node) {
  if (failed(checkArity(node, 0, 0))) {
    return failure();
  }
  if (node.node->attribute_size() != 1) {
    return emitNodeError(node) << "must have exactly one value attribute, has "
                               << node.node->attribute_size();
  }
  const onnx::AttributeProto &attribute = node.node->attribute(0);
  StringRef attributeName = attribute.name();
  FailureOr<DenseElementsAttr> data = failure();
  Builder &b = builder;
  if (attributeName == "value" && attribute.type() == onnx::AttributeProto::TENSOR) {
    data = convertTensorProto(context, attribute.t(),
                              [&] { return emitNodeError(node) << "has a value tensor that "; });
  } else if (attributeName == "value_float" && attribute.type() == onnx::AttributeProto::FLOAT) {
    data = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()), attribute.f());
  } else if (attributeName == "value_floats" && attribute.type() == onnx::AttributeProto::FLOATS) {
    SmallVector<float> floats(attribute.floats().begin(), attribute.floats().end());
    data = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(floats.size())}, b.getF32Type()),
        ArrayRef<float>(floats));
  } else if (attributeName == "value_int" && attribute.type() == onnx::AttributeProto::INT) {
    data = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()),
                                  static_cast<int64_t>(attribute.i()));
  } else if (attributeName == "value_ints" && attribute.type() == onnx::AttributeProto::INTS) {
    SmallVector<int64_t> ints(attribute.ints().begin(), attribute.ints().end());
    data = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(ints.size())}, b.getI64Type()),
        ArrayRef<int64_t>(ints));
  } else {
    return emitNodeError(node) << "carries its value as attribute '" << attributeName
                               << "', which Conveyor's importer does not handle (use "
                                  "value, value_float(s) or value_int(s))";
  }
  if (failed(data)) {
    return failure();
  }
  if (data->getNumElements() > kMaxFoldElements) {
    // Too big to take part in folding: keep it as an IR constant straight away.
    FailureOr<Value> result = createTyped<graph::ConstantOp>(node, data->getType(), *data,
                                                             b.getStringAttr(node.node->output(0)));
    return failed(result) ? failure() : defineOutput(node, *result);
  }
  return defineHostOutput(node, HostTensor::fromAttr(*data));
}

LogicalResult OnnxImporter::importIdentity(const NodeContext &node) {
  bool dropout = node.opType() == "Dropout";
  if (failed(checkArity(node, 1, dropout ? 3 : 1, 1, dropout ? 2 : 1)) ||
      failed(checkAttributes(node, dropout ? std::initializer_list<StringRef>{"seed", "ratio"}
                                           : std::initializer_list<StringRef>{}))) {
    return failure();
  }
  if (dropout) {
    // Inference graphs: Dropout passes its input through unless training_mode is on.
    if (hasOutput(node, 1)) {
      return emitNodeError(node) << "uses its mask output; Conveyor imports inference graphs, "
                                    "where Dropout is an identity";
    }
    if (hasInput(node, 2)) {
      const HostTensor *training = requireHostInput(node, 2, "training_mode");
      if (!training) {
        return failure();
      }
      if (training->getNumElements() != 1 || training->getInt(0) != 0) {
        return emitNodeError(node) << "runs in training mode; Conveyor imports inference graphs";
      }
    }
  }
  if (const HostTensor *host = getHostInput(node, 0)) {
    return defineHostOutput(node, *host);
  }
  FailureOr<Value> input = getInput(node, 0);
  return failed(input) ? failure() : defineOutput(node, *input);
}

//===----------------------------------------------------------------------===//
// Shape computations
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importShape(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"start", "end"}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> shape = getInputShape(node, 0);
  if (failed(shape)) {
    return failure();
  }
  int64_t rank = static_cast<int64_t>(shape->size());
  FailureOr<int64_t> start = getIntAttribute(node, "start", 0);
  FailureOr<int64_t> end =
      failed(start) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "end", rank);
  if (failed(end)) {
    return failure();
  }
  // Opset 15: negative bounds count from the end; both are clamped to [0, rank].
  auto clampBound = [rank](int64_t bound) {
    bound = bound < 0 ? bound + rank : bound;
    return std::clamp<int64_t>(bound, 0, rank);
  };
  int64_t first = clampBound(*start), last = clampBound(*end);
  std::vector<DimExpr> dims;
  for (int64_t i = first; i < last; ++i) {
    dims.push_back((*shape)[i]);
  }
  int64_t count = static_cast<int64_t>(dims.size());
  return defineHostOutput(node, HostTensor::fromDims(builder.getI64Type(), {count}, dims));
}

LogicalResult OnnxImporter::importSize(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> shape = getInputShape(node, 0);
  if (failed(shape)) {
    return failure();
  }
  return defineHostOutput(node,
                          HostTensor::fromDims(builder.getI64Type(), {}, {productOf(*shape)}));
}

LogicalResult OnnxImporter::importConstantOfShape(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"value"}))) {
    return failure();
  }
  FailureOr<std::vector<DimExpr>> dims = readDimsInput(*this, node, 0, "shape");
  if (failed(dims)) {
    return failure();
  }
  // The fill value: a one-element tensor attribute, float 0 by default.
  HostTensor fill = HostTensor::fromFloats(builder.getF32Type(), {}, {0.0});
  if (const onnx::AttributeProto *attribute = findAttribute(node, "value")) {
    if (attribute->type() != onnx::AttributeProto::TENSOR) {
      return emitNodeError(node) << "has attribute 'value' of the wrong type; expected TENSOR";
    }
    FailureOr<DenseElementsAttr> data = convertTensorProto(
        context, attribute->t(), [&] { return emitNodeError(node) << "has a value tensor that "; });
    if (failed(data)) {
      return failure();
    }
    if (data->getNumElements() != 1) {
      return emitNodeError(node) << "has a value tensor with " << data->getNumElements()
                                 << " elements; it must hold exactly one";
    }
    fill = HostTensor::fromAttr(*data).reshaped({});
  }
  SmallVector<int64_t> shape;
  bool symbolic = false;
  for (const DimExpr &dim : *dims) {
    std::optional<int64_t> value = dim.getConstant();
    if (value && *value < 0) {
      return emitNodeError(node) << "has a negative size in shape " << formatDims(*dims);
    }
    shape.push_back(value.value_or(ShapedType::kDynamic));
    symbolic |= !value;
  }
  if (!symbolic && saturatingElementCount(shape) <= kMaxFoldElements) {
    return defineFolded(node, hostBroadcastTo(fill, shape));
  }
  // A symbolic (or very large) fill: one scalar constant broadcast to the shape.
  Value scalar = materialize(fill, node.node->output(0) + ".value");
  FailureOr<Value> result = expandTo(node, scalar, *dims);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importRange(const NodeContext &node) {
  if (failed(checkArity(node, 3, 3)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  const HostTensor *start = requireHostInput(node, 0, "start");
  const HostTensor *limit = start ? requireHostInput(node, 1, "limit") : nullptr;
  const HostTensor *delta = limit ? requireHostInput(node, 2, "delta") : nullptr;
  if (!delta) {
    return failure();
  }
  if (!start->isSymbolic() && !limit->isSymbolic() && !delta->isSymbolic()) {
    return defineFolded(node, hostRange(*start, *limit, *delta));
  }
  // Symbolic bounds (positions past .. past + seq): start + iota(n) * delta, with
  // n = (limit - start) / delta, which must divide exactly.
  if (start->getNumElements() != 1 || limit->getNumElements() != 1 ||
      delta->getNumElements() != 1 || start->isFloat()) {
    return emitNodeError(node) << "needs integer scalar start, limit and delta";
  }
  DimExpr first = start->getDim(0), last = limit->getDim(0), step = delta->getDim(0);
  std::optional<DimExpr> count = (last - first).divideExact(step);
  std::optional<int64_t> stepValue = step.getConstant();
  if (!count || !stepValue || *stepValue <= 0) {
    return emitNodeError(node) << "ranges from " << first.str() << " to " << last.str() << " by "
                               << step.str()
                               << ", whose length Conveyor's importer cannot express for every "
                                  "size; bind the dimension sizes to import this graph";
  }
  Type elementType = start->getElementType();
  FailureOr<Value> result = createIota(node, *count, elementType);
  if (succeeded(result) && *stepValue != 1) {
    Value scale = materialize(HostTensor::fromInts(elementType, {}, {*stepValue}),
                              node.node->output(0) + ".delta");
    result = firstResult(createInferred<graph::MulOp>(node, *result, scale));
  }
  if (succeeded(result) && first != DimExpr(0)) {
    Value offset = materialize(HostTensor::fromDims(elementType, {}, {first}),
                               node.node->output(0) + ".start");
    result = firstResult(createInferred<graph::AddOp>(node, *result, offset));
  }
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Reshapes
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importReshape(const NodeContext &node) {
  bool legacy = node.opset < 5; // before opset 5 the shape was an attribute
  if (failed(checkArity(node, legacy ? 1 : 2, legacy ? 1 : 2)) ||
      failed(checkAttributes(node, legacy ? std::initializer_list<StringRef>{"shape"}
                                          : std::initializer_list<StringRef>{"allowzero"}))) {
    return failure();
  }
  std::vector<DimExpr> requested;
  if (legacy) {
    FailureOr<std::optional<SmallVector<int64_t>>> attribute = getIntsAttribute(node, "shape");
    if (failed(attribute)) {
      return failure();
    }
    if (!*attribute) {
      return emitNodeError(node) << "needs an INTS attribute 'shape'";
    }
    requested.assign((*attribute)->begin(), (*attribute)->end());
  } else {
    const HostTensor *shapeValue = getHostInput(node, 1);
    if (!shapeValue) {
      return emitNodeError(node) << "takes its shape from '" << node.node->input(1)
                                 << "', which is not a constant; Conveyor's importer needs "
                                    "the shape as an initializer or Constant node (or computed "
                                    "from shapes)";
    }
    if (shapeValue->getRank() != 1 || !shapeValue->getElementType().isInteger(64)) {
      return emitNodeError(node) << "has shape input '" << node.node->input(1) << "' of type "
                                 << RankedTensorType::get(shapeValue->getShape(),
                                                          shapeValue->getElementType())
                                 << "; it must be a 1-D INT64 tensor";
    }
    requested = shapeValue->getDimVector();
  }
  FailureOr<int64_t> allowZero = getIntAttribute(node, "allowzero", 0);
  FailureOr<SmallVector<DimExpr>> inputShape =
      failed(allowZero) ? FailureOr<SmallVector<DimExpr>>(failure()) : getInputShape(node, 0);
  if (failed(inputShape)) {
    return failure();
  }
  // Resolve 0 (copy the input dimension) and -1 (whatever is left).
  SmallVector<DimExpr> shape;
  int64_t inferredIndex = -1;
  DimExpr knownProduct(1);
  for (auto [index, dim] : llvm::enumerate(requested)) {
    std::optional<int64_t> value = dim.getConstant();
    if (value && *value == 0 && *allowZero == 0) {
      if (index >= inputShape->size()) {
        return emitNodeError(node)
               << "has shape entry " << index << " = 0 (copy the input dimension) but the input "
               << formatDims(*inputShape) << " has rank " << inputShape->size();
      }
      dim = (*inputShape)[index];
    } else if (value && *value == -1) {
      if (inferredIndex >= 0) {
        return emitNodeError(node) << "has more than one -1 in shape " << formatDims(requested);
      }
      inferredIndex = static_cast<int64_t>(index);
      shape.push_back(DimExpr(1));
      continue;
    } else if (value && *value < 0) {
      return emitNodeError(node) << "has shape entry " << index << " = " << *value
                                 << "; only -1 may be negative";
    }
    shape.push_back(dim);
    knownProduct = knownProduct * dim;
  }
  DimExpr total = productOf(*inputShape);
  if (inferredIndex >= 0) {
    std::optional<DimExpr> rest = total.divideExact(knownProduct);
    if (!rest) {
      return emitNodeError(node) << "cannot reshape " << formatDims(*inputShape) << " ("
                                 << total.str() << " elements) to " << formatDims(requested);
    }
    shape[inferredIndex] = *rest;
  } else if (total != knownProduct) {
    return emitNodeError(node) << "cannot reshape " << formatDims(*inputShape) << " ("
                               << total.str() << " elements) to " << formatDims(shape) << " ("
                               << knownProduct.str() << " elements)";
  }
  return defineReshaped(*this, node, shape);
}

LogicalResult OnnxImporter::importFlatten(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"axis"}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  FailureOr<int64_t> axis =
      failed(inputShape) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "axis", 1);
  if (failed(axis)) {
    return failure();
  }
  int64_t rank = static_cast<int64_t>(inputShape->size());
  int64_t split = *axis < 0 ? *axis + rank : *axis;
  if (split < 0 || split > rank) {
    return emitNodeError(node) << "has axis " << *axis << ", outside [" << -rank << ", " << rank
                               << "] for an input of rank " << rank;
  }
  ArrayRef<DimExpr> dims(*inputShape);
  SmallVector<DimExpr> shape = {productOf(dims.take_front(split)),
                                productOf(dims.drop_front(split))};
  return defineReshaped(*this, node, shape);
}

/// Reads Squeeze/Unsqueeze axes: an input since opset 13, an attribute before.
static FailureOr<std::optional<SmallVector<int64_t>>> readAxes(OnnxImporter &importer,
                                                               const NodeContext &node) {
  if (node.opset >= 13) {
    if (!importer.hasInput(node, 1)) {
      return std::optional<SmallVector<int64_t>>();
    }
    FailureOr<SmallVector<int64_t>> axes = readIntsInput(importer, node, 1, "axes");
    if (failed(axes)) {
      return failure();
    }
    return std::optional<SmallVector<int64_t>>(*axes);
  }
  return importer.getIntsAttribute(node, "axes");
}

LogicalResult OnnxImporter::importSqueeze(const NodeContext &node) {
  bool axesInput = node.opset >= 13;
  if (failed(checkArity(node, 1, axesInput ? 2 : 1)) ||
      failed(checkAttributes(node, axesInput ? std::initializer_list<StringRef>{}
                                             : std::initializer_list<StringRef>{"axes"}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  FailureOr<std::optional<SmallVector<int64_t>>> axes =
      failed(inputShape) ? FailureOr<std::optional<SmallVector<int64_t>>>(failure())
                         : readAxes(*this, node);
  if (failed(axes)) {
    return failure();
  }
  int64_t rank = static_cast<int64_t>(inputShape->size());
  SmallVector<int64_t> squeezed;
  if (!*axes) {
    // No axes: remove every dimension of size 1 (a named size is taken to be > 1).
    for (int64_t dim = 0; dim < rank; ++dim) {
      if ((*inputShape)[dim] == DimExpr(1)) {
        squeezed.push_back(dim);
      }
    }
  }
  for (int64_t axis : axes->value_or(SmallVector<int64_t>())) {
    FailureOr<int64_t> normalized = normalizeAxis(node, axis, rank, "squeeze axis");
    if (failed(normalized)) {
      return failure();
    }
    if ((*inputShape)[*normalized] != DimExpr(1)) {
      return emitNodeError(node) << "squeezes dimension " << *normalized << " of "
                                 << formatDims(*inputShape) << ", which is not 1";
    }
    squeezed.push_back(*normalized);
  }
  SmallVector<DimExpr> shape;
  for (int64_t dim = 0; dim < rank; ++dim) {
    if (!llvm::is_contained(squeezed, dim)) {
      shape.push_back((*inputShape)[dim]);
    }
  }
  return defineReshaped(*this, node, shape);
}

LogicalResult OnnxImporter::importUnsqueeze(const NodeContext &node) {
  bool axesInput = node.opset >= 13;
  if (failed(checkArity(node, axesInput ? 2 : 1, axesInput ? 2 : 1)) ||
      failed(checkAttributes(node, axesInput ? std::initializer_list<StringRef>{}
                                             : std::initializer_list<StringRef>{"axes"}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  FailureOr<std::optional<SmallVector<int64_t>>> axes =
      failed(inputShape) ? FailureOr<std::optional<SmallVector<int64_t>>>(failure())
                         : readAxes(*this, node);
  if (failed(axes)) {
    return failure();
  }
  if (!*axes) {
    return emitNodeError(node) << "needs axes";
  }
  int64_t rank = static_cast<int64_t>(inputShape->size() + (*axes)->size());
  SmallVector<int64_t> inserted;
  for (int64_t axis : **axes) {
    FailureOr<int64_t> normalized = normalizeAxis(node, axis, rank, "unsqueeze axis");
    if (failed(normalized)) {
      return failure();
    }
    if (llvm::is_contained(inserted, *normalized)) {
      return emitNodeError(node) << "inserts axis " << *normalized << " twice";
    }
    inserted.push_back(*normalized);
  }
  SmallVector<DimExpr> shape;
  size_t next = 0;
  for (int64_t dim = 0; dim < rank; ++dim) {
    shape.push_back(llvm::is_contained(inserted, dim) ? DimExpr(1) : (*inputShape)[next++]);
  }
  return defineReshaped(*this, node, shape);
}

//===----------------------------------------------------------------------===//
// Layout, joining and splitting
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importTranspose(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"perm"}))) {
    return failure();
  }
  FailureOr<int64_t> rank = getInputRank(node, 0);
  FailureOr<std::optional<SmallVector<int64_t>>> permAttribute =
      failed(rank) ? FailureOr<std::optional<SmallVector<int64_t>>>(failure())
                   : getIntsAttribute(node, "perm");
  if (failed(permAttribute)) {
    return failure();
  }
  SmallVector<int64_t> perm;
  if (*permAttribute) {
    perm = **permAttribute;
  } else {
    // ONNX's default reverses the dimensions.
    for (int64_t dim = *rank - 1; dim >= 0; --dim) {
      perm.push_back(dim);
    }
  }
  if (allInputsKnown(node)) {
    SmallVector<int64_t> sorted(perm);
    llvm::sort(sorted);
    for (int64_t i = 0; i < static_cast<int64_t>(sorted.size()); ++i) {
      if (sorted.size() != static_cast<size_t>(*rank) || sorted[i] != i) {
        return emitNodeError(node) << "has perm that is not a permutation of 0.." << *rank - 1;
      }
    }
    return defineFolded(node, hostTranspose(*getHostInput(node, 0), perm));
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  FailureOr<Value> result =
      firstResult(createInferred<graph::TransposeOp>(node, *input, ArrayRef<int64_t>(perm)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importConcat(const NodeContext &node) {
  if (failed(checkArity(node, 1, std::numeric_limits<int>::max())) ||
      failed(checkAttributes(node, {"axis"}))) {
    return failure();
  }
  const onnx::AttributeProto *axisAttribute = findAttribute(node, "axis");
  if (!axisAttribute) {
    return emitNodeError(node) << "needs an 'axis' attribute";
  }
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", 0);
  FailureOr<int64_t> rank = failed(axis) ? FailureOr<int64_t>(failure()) : getInputRank(node, 0);
  FailureOr<int64_t> normalized =
      failed(rank) ? FailureOr<int64_t>(failure()) : normalizeAxis(node, *axis, *rank);
  if (failed(normalized)) {
    return failure();
  }
  int inputCount = node.node->input_size();
  if (allInputsKnown(node)) {
    SmallVector<const HostTensor *> inputs;
    for (int i = 0; i < inputCount; ++i) {
      inputs.push_back(getHostInput(node, i));
    }
    return defineFolded(node, hostConcat(inputs, *normalized));
  }
  SmallVector<Value> inputs;
  for (int i = 0; i < inputCount; ++i) {
    FailureOr<Value> input = getInput(node, i);
    if (failed(input)) {
      return failure();
    }
    inputs.push_back(*input);
  }
  if (inputs.size() == 1) {
    return defineOutput(node, inputs.front());
  }
  FailureOr<Value> result = firstResult(createInferred<graph::ConcatOp>(
      node, ValueRange(inputs), builder.getI64IntegerAttr(*normalized)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importSplit(const NodeContext &node) {
  bool splitInput = node.opset >= 13;
  if (failed(checkArity(node, 1, splitInput ? 2 : 1, 1, std::numeric_limits<int>::max())) ||
      failed(checkAttributes(node, splitInput
                                       ? std::initializer_list<StringRef>{"axis", "num_outputs"}
                                       : std::initializer_list<StringRef>{"axis", "split"}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  FailureOr<int64_t> axis =
      failed(inputShape) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "axis", 0);
  FailureOr<int64_t> normalized =
      failed(axis) ? FailureOr<int64_t>(failure())
                   : normalizeAxis(node, *axis, static_cast<int64_t>(inputShape->size()));
  if (failed(normalized)) {
    return failure();
  }
  int outputs = node.node->output_size();
  SmallVector<int64_t> sizes;
  if (splitInput && hasInput(node, 1)) {
    FailureOr<SmallVector<int64_t>> split = readIntsInput(*this, node, 1, "split sizes");
    if (failed(split)) {
      return failure();
    }
    sizes = *split;
  } else if (!splitInput) {
    FailureOr<std::optional<SmallVector<int64_t>>> split = getIntsAttribute(node, "split");
    if (failed(split)) {
      return failure();
    }
    if (*split) {
      sizes = **split;
    }
  }
  if (sizes.empty()) {
    // Equal pieces (opset 18's num_outputs makes the last one smaller if need be).
    std::optional<int64_t> extent = (*inputShape)[*normalized].getConstant();
    if (!extent) {
      return emitNodeError(node) << "splits the symbolic dimension "
                                 << (*inputShape)[*normalized].str()
                                 << " into equal pieces; Conveyor's importer needs its size";
    }
    int64_t piece = (*extent + outputs - 1) / outputs;
    for (int i = 0; i < outputs; ++i) {
      sizes.push_back(std::max<int64_t>(std::min(piece, *extent - piece * i), 0));
    }
  }
  if (static_cast<int>(sizes.size()) != outputs) {
    return emitNodeError(node) << "has " << sizes.size() << " split sizes but " << outputs
                               << " outputs";
  }
  for (int64_t size : sizes) {
    if (size < 0) {
      return emitNodeError(node) << "has a negative split size " << size;
    }
  }
  if (allInputsKnown(node)) {
    const HostTensor *input = getHostInput(node, 0);
    int64_t offset = 0;
    for (int i = 0; i < outputs; ++i) {
      if (offset + sizes[i] > input->getShape()[*normalized]) {
        return emitNodeError(node) << "has split sizes that exceed dimension " << *normalized
                                   << " of " << formatShape(input->getShape());
      }
      HostResult piece = hostSlice(*input, {*normalized}, {offset}, {sizes[i]}, {1});
      offset += sizes[i];
      if (hasOutput(node, i) && failed(defineFolded(node, std::move(piece), i))) {
        return failure();
      }
    }
    return success();
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  FailureOr<Operation *> op = createInferred<graph::SplitOp>(
      node, *input, builder.getI64IntegerAttr(*normalized), builder.getDenseI64ArrayAttr(sizes));
  if (failed(op)) {
    return failure();
  }
  for (int i = 0; i < outputs; ++i) {
    if (hasOutput(node, i) && failed(defineOutput(node, (*op)->getResult(i), i))) {
      return failure();
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

namespace {

/// One axis of an ONNX Slice after resolving negative and out-of-range bounds. A
/// static slice has constant `start` and `size`; a dynamic one (symbolic bounds) is
/// taken with a gather of start + iota(size).
struct SliceAxis {
  int64_t axis;
  DimExpr start;
  DimExpr size;
  int64_t step;
  bool isStatic() const { return start.isConstant() && size.isConstant(); }
};

/// Bounds at or beyond this are "to the end" (exporters write INT64_MAX or INT32_MAX).
constexpr int64_t kToEnd = int64_t{1} << 30;

} // namespace

/// Resolves ONNX Slice bounds on one axis of extent `extent`; std::nullopt when the
/// slice keeps the whole axis. Symbolic bounds need step 1 and are assumed to lie
/// within the axis at run time (ONNX would clamp them).
static FailureOr<std::optional<SliceAxis>> resolveSliceAxis(OnnxImporter &importer,
                                                            const NodeContext &node, int64_t axis,
                                                            const DimExpr &extent,
                                                            const DimExpr &startExpr,
                                                            const DimExpr &endExpr, int64_t step) {
  if (step == 0) {
    return importer.emitNodeError(node) << "has step 0 on axis " << axis;
  }
  std::optional<int64_t> start = startExpr.getConstant();
  std::optional<int64_t> end = endExpr.getConstant();
  std::optional<int64_t> size = extent.getConstant();
  if (size && start && end) {
    // Everything static: ONNX's clamping rules.
    int64_t first = *start < 0 ? *start + *size : *start;
    int64_t last = *end < 0 ? *end + *size : *end;
    if (step > 0) {
      first = std::clamp<int64_t>(first, 0, *size);
      last = std::clamp<int64_t>(last, 0, *size);
    } else {
      first = std::clamp<int64_t>(first, 0, *size - 1);
      last = std::clamp<int64_t>(last, -1, *size - 1);
    }
    int64_t count = step > 0 ? (last - first + step - 1) / step : (first - last - step - 1) / -step;
    count = std::max<int64_t>(count, 0);
    if (first == 0 && step == 1 && count == *size) {
      return std::optional<SliceAxis>(); // the whole axis
    }
    return std::optional<SliceAxis>(
        SliceAxis{axis, DimExpr(count > 0 ? first : 0), DimExpr(count), step});
  }
  if (step != 1) {
    return importer.emitNodeError(node)
           << "slices axis " << axis << " (size " << extent.str() << ") from " << startExpr.str()
           << " to " << endExpr.str() << " with step " << step
           << "; Conveyor's importer handles symbolic bounds only with step 1";
  }
  // Resolve the end: "to the end", counted from the end, or as given.
  bool endIsEnd = (end && *end >= kToEnd) || endExpr == extent ||
                  (!end && endExpr.compare(extent).value_or(-1) >= 0);
  DimExpr last = endIsEnd ? extent : (end && *end < 0 ? extent + endExpr : endExpr);
  if (!size && start && *start < 0 && endIsEnd) {
    // The last -start elements (x[:, -1:]): a negative start counts from the end.
    return std::optional<SliceAxis>(SliceAxis{axis, DimExpr(*start), DimExpr(-*start), 1});
  }
  DimExpr first = start && *start < 0 ? extent + startExpr : startExpr;
  if (first == DimExpr(0) && last == extent) {
    return std::optional<SliceAxis>(); // the whole axis
  }
  DimExpr count = last - first;
  if (std::optional<int> sign = count.compare(DimExpr(0)); sign && *sign < 0) {
    return importer.emitNodeError(node) << "slices axis " << axis << " from " << first.str()
                                        << " to " << last.str() << ", which is empty or reversed";
  }
  return std::optional<SliceAxis>(SliceAxis{axis, first, count, 1});
}

LogicalResult OnnxImporter::importSlice(const NodeContext &node) {
  bool legacy = node.opset < 10; // before opset 10 the bounds were attributes
  if (failed(checkArity(node, legacy ? 1 : 3, legacy ? 1 : 5)) ||
      failed(checkAttributes(node, legacy
                                       ? std::initializer_list<StringRef>{"starts", "ends", "axes"}
                                       : std::initializer_list<StringRef>{}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  if (failed(inputShape)) {
    return failure();
  }
  int64_t rank = static_cast<int64_t>(inputShape->size());
  std::vector<DimExpr> starts, ends;
  SmallVector<int64_t> axes, steps;
  if (legacy) {
    FailureOr<std::optional<SmallVector<int64_t>>> startAttr = getIntsAttribute(node, "starts");
    FailureOr<std::optional<SmallVector<int64_t>>> endAttr = getIntsAttribute(node, "ends");
    FailureOr<std::optional<SmallVector<int64_t>>> axesAttr = getIntsAttribute(node, "axes");
    if (failed(startAttr) || failed(endAttr) || failed(axesAttr)) {
      return failure();
    }
    if (!*startAttr || !*endAttr) {
      return emitNodeError(node) << "needs 'starts' and 'ends' attributes";
    }
    starts.assign((*startAttr)->begin(), (*startAttr)->end());
    ends.assign((*endAttr)->begin(), (*endAttr)->end());
    if (*axesAttr) {
      axes = **axesAttr;
    }
  } else {
    FailureOr<std::vector<DimExpr>> startInput = readDimsInput(*this, node, 1, "starts");
    FailureOr<std::vector<DimExpr>> endInput = failed(startInput)
                                                   ? FailureOr<std::vector<DimExpr>>(failure())
                                                   : readDimsInput(*this, node, 2, "ends");
    if (failed(endInput)) {
      return failure();
    }
    starts = *startInput;
    ends = *endInput;
    if (hasInput(node, 3)) {
      FailureOr<SmallVector<int64_t>> axesInput = readIntsInput(*this, node, 3, "axes");
      if (failed(axesInput)) {
        return failure();
      }
      axes = *axesInput;
    }
    if (hasInput(node, 4)) {
      FailureOr<SmallVector<int64_t>> stepsInput = readIntsInput(*this, node, 4, "steps");
      if (failed(stepsInput)) {
        return failure();
      }
      steps = *stepsInput;
    }
  }
  if (axes.empty()) {
    for (int64_t i = 0; i < static_cast<int64_t>(starts.size()); ++i) {
      axes.push_back(i);
    }
  }
  if (steps.empty()) {
    steps.assign(starts.size(), 1);
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return emitNodeError(node) << "has " << starts.size() << " starts, " << ends.size() << " ends, "
                               << axes.size() << " axes and " << steps.size()
                               << " steps; they must have one entry each per sliced axis";
  }
  SmallVector<int64_t> sliceAxes, sliceStarts, sliceSizes, sliceSteps;
  SmallVector<SliceAxis> dynamicAxes;
  for (size_t i = 0; i < axes.size(); ++i) {
    FailureOr<int64_t> axis = normalizeAxis(node, axes[i], rank, "slice axis");
    if (failed(axis)) {
      return failure();
    }
    if (llvm::is_contained(sliceAxes, *axis)) {
      return emitNodeError(node) << "slices axis " << *axis << " twice";
    }
    FailureOr<std::optional<SliceAxis>> resolved =
        resolveSliceAxis(*this, node, *axis, (*inputShape)[*axis], starts[i], ends[i], steps[i]);
    if (failed(resolved)) {
      return failure();
    }
    if (!*resolved) {
      continue;
    }
    if (!(*resolved)->isStatic()) {
      dynamicAxes.push_back(**resolved);
      continue;
    }
    sliceAxes.push_back((*resolved)->axis);
    sliceStarts.push_back(*(*resolved)->start.getConstant());
    sliceSizes.push_back(*(*resolved)->size.getConstant());
    sliceSteps.push_back((*resolved)->step);
  }
  const HostTensor *host = getHostInput(node, 0);
  if (host && dynamicAxes.empty()) {
    return defineFolded(node, hostSlice(*host, sliceAxes, sliceStarts, sliceSizes, sliceSteps));
  }
  FailureOr<Value> result = getInput(node, 0);
  if (succeeded(result) && !sliceAxes.empty()) {
    result = firstResult(createInferred<graph::SliceOp>(
        node, *result, builder.getDenseI64ArrayAttr(sliceAxes),
        builder.getDenseI64ArrayAttr(sliceStarts), builder.getDenseI64ArrayAttr(sliceSizes),
        builder.getDenseI64ArrayAttr(sliceSteps)));
  }
  // Symbolic bounds: gather start + iota(size) along the axis.
  for (const SliceAxis &slice : dynamicAxes) {
    if (failed(result)) {
      return failure();
    }
    Type indexType = builder.getI64Type();
    FailureOr<Value> indices = createIota(node, slice.size, indexType);
    if (succeeded(indices) && slice.start != DimExpr(0)) {
      Value offset = materialize(HostTensor::fromDims(indexType, {}, {slice.start}),
                                 node.node->output(0) + ".start" + std::to_string(slice.axis));
      indices = firstResult(createInferred<graph::AddOp>(node, *indices, offset));
    }
    result = failed(indices) ? FailureOr<Value>(failure())
                             : firstResult(createInferred<graph::GatherOp>(
                                   node, *result, *indices, builder.getI64IntegerAttr(slice.axis)));
  }
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Indexing
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importGather(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {"axis"}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> dataShape = getInputShape(node, 0);
  FailureOr<int64_t> axis =
      failed(dataShape) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "axis", 0);
  FailureOr<int64_t> normalized =
      failed(axis) ? FailureOr<int64_t>(failure())
                   : normalizeAxis(node, *axis, static_cast<int64_t>(dataShape->size()));
  if (failed(normalized)) {
    return failure();
  }
  const HostTensor *hostIndices = getHostInput(node, 1);
  if (allInputsKnown(node)) {
    return defineFolded(node, hostGather(*getHostInput(node, 0), *hostIndices, *normalized));
  }
  FailureOr<Value> data = getInput(node, 0);
  if (failed(data)) {
    return failure();
  }
  FailureOr<Value> indices = failure();
  std::optional<int64_t> extent = (*dataShape)[*normalized].getConstant();
  if (hostIndices && !hostIndices->isSymbolic() && extent) {
    // Constant indices: check them and store them non-negative, as i64 (a changed
    // tensor gets a name of its own, since it is no longer the ONNX value).
    std::vector<int64_t> resolved;
    bool changed = !hostIndices->getElementType().isInteger(64);
    for (int64_t i = 0, e = hostIndices->getNumElements(); i < e; ++i) {
      int64_t index = hostIndices->getInt(i);
      if (index < -*extent || index >= *extent) {
        return emitNodeError(node) << "has index " << index << ", outside [" << -*extent << ", "
                                   << *extent << ") for axis " << *normalized;
      }
      changed |= index < 0;
      resolved.push_back(index < 0 ? index + *extent : index);
    }
    if (changed) {
      indices = materialize(
          HostTensor::fromInts(builder.getI64Type(), hostIndices->getShape(), std::move(resolved)),
          node.node->input(1) + ".resolved");
    } else {
      indices = getInput(node, 1);
    }
  } else {
    indices = getInput(node, 1);
  }
  if (failed(indices)) {
    return failure();
  }
  FailureOr<Value> result = firstResult(createInferred<graph::GatherOp>(
      node, *data, *indices, builder.getI64IntegerAttr(*normalized)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importGatherElements(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {"axis"}))) {
    return failure();
  }
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", 0);
  FailureOr<int64_t> rank = failed(axis) ? FailureOr<int64_t>(failure()) : getInputRank(node, 0);
  FailureOr<int64_t> normalized =
      failed(rank) ? FailureOr<int64_t>(failure()) : normalizeAxis(node, *axis, *rank);
  if (failed(normalized)) {
    return failure();
  }
  if (allInputsKnown(node)) {
    return defineFolded(
        node, hostGatherElements(*getHostInput(node, 0), *getHostInput(node, 1), *normalized));
  }
  FailureOr<Value> data = getInput(node, 0);
  FailureOr<Value> indices = failed(data) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(indices)) {
    return failure();
  }
  FailureOr<Value> result = firstResult(createInferred<graph::GatherElementsOp>(
      node, *data, *indices, builder.getI64IntegerAttr(*normalized)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importScatterElements(const NodeContext &node) {
  if (failed(checkArity(node, 3, 3)) || failed(checkAttributes(node, {"axis", "reduction"}))) {
    return failure();
  }
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", 0);
  FailureOr<std::string> reduction = failed(axis) ? FailureOr<std::string>(failure())
                                                  : getStringAttribute(node, "reduction", "none");
  if (succeeded(reduction) &&
      !llvm::is_contained({"none", "add", "mul", "max", "min"}, StringRef(*reduction))) {
    return emitNodeError(node) << "has reduction '" << *reduction
                               << "'; expected none, add, mul, max or min";
  }
  FailureOr<int64_t> rank =
      failed(reduction) ? FailureOr<int64_t>(failure()) : getInputRank(node, 0);
  FailureOr<int64_t> normalized =
      failed(rank) ? FailureOr<int64_t>(failure()) : normalizeAxis(node, *axis, *rank);
  if (failed(normalized)) {
    return failure();
  }
  if (allInputsKnown(node)) {
    return defineFolded(node, hostScatterElements(*getHostInput(node, 0), *getHostInput(node, 1),
                                                  *getHostInput(node, 2), *normalized, *reduction));
  }
  FailureOr<Value> data = getInput(node, 0);
  FailureOr<Value> indices = failed(data) ? FailureOr<Value>(failure()) : getInput(node, 1);
  FailureOr<Value> updates = failed(indices) ? FailureOr<Value>(failure()) : getInput(node, 2);
  if (failed(updates)) {
    return failure();
  }
  FailureOr<Value> result = firstResult(createInferred<graph::ScatterElementsOp>(
      node, *data, *indices, *updates, builder.getI64IntegerAttr(*normalized),
      builder.getStringAttr(*reduction)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Broadcasting
//===----------------------------------------------------------------------===//

/// ONNX Expand's bidirectional broadcast of `input` against the requested `shape`.
static FailureOr<SmallVector<DimExpr>> expandedShape(OnnxImporter &importer,
                                                     const NodeContext &node,
                                                     ArrayRef<DimExpr> input,
                                                     ArrayRef<DimExpr> shape) {
  size_t rank = std::max(input.size(), shape.size());
  SmallVector<DimExpr> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    DimExpr a = i < input.size() ? input[input.size() - 1 - i] : DimExpr(1);
    DimExpr b = i < shape.size() ? shape[shape.size() - 1 - i] : DimExpr(1);
    DimExpr &out = result[rank - 1 - i];
    if (a == b || b == DimExpr(1)) {
      out = a;
    } else if (a == DimExpr(1)) {
      out = b;
    } else {
      return importer.emitNodeError(node)
             << "expands " << formatDims(input) << " to " << formatDims(shape)
             << ", which do not broadcast: dimension " << i << " (from the right) is " << a.str()
             << " vs " << b.str();
    }
  }
  return result;
}

LogicalResult OnnxImporter::importExpand(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  FailureOr<std::vector<DimExpr>> requested = failed(inputShape)
                                                  ? FailureOr<std::vector<DimExpr>>(failure())
                                                  : readDimsInput(*this, node, 1, "shape");
  if (succeeded(requested)) {
    for (const DimExpr &dim : *requested) {
      if (dim.compare(DimExpr(0)).value_or(1) < 0) {
        return emitNodeError(node) << "has a negative size in shape " << formatDims(*requested);
      }
    }
  }
  FailureOr<SmallVector<DimExpr>> shape = failed(requested)
                                              ? FailureOr<SmallVector<DimExpr>>(failure())
                                              : expandedShape(*this, node, *inputShape, *requested);
  if (failed(shape)) {
    return failure();
  }
  const HostTensor *host = getHostInput(node, 0);
  if (host && llvm::all_of(*shape, [](const DimExpr &dim) { return dim.isConstant(); })) {
    SmallVector<int64_t> staticShape;
    for (const DimExpr &dim : *shape) {
      staticShape.push_back(*dim.getConstant());
    }
    if (saturatingElementCount(staticShape) <= kMaxFoldElements) {
      return defineFolded(node, hostBroadcastTo(*host, staticShape));
    }
  }
  FailureOr<Value> input = getInput(node, 0);
  FailureOr<Value> result =
      failed(input) ? FailureOr<Value>(failure()) : expandTo(node, *input, *shape);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importTile(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  FailureOr<SmallVector<DimExpr>> inputShape = getInputShape(node, 0);
  FailureOr<SmallVector<int64_t>> repeats = failed(inputShape)
                                                ? FailureOr<SmallVector<int64_t>>(failure())
                                                : readIntsInput(*this, node, 1, "repeats");
  if (failed(repeats)) {
    return failure();
  }
  if (repeats->size() != inputShape->size()) {
    return emitNodeError(node) << "has " << repeats->size() << " repeats for an input of rank "
                               << inputShape->size();
  }
  // Tile = reshape to [1, d0, 1, d1, ...], expand to [r0, d0, r1, d1, ...], then merge
  // each pair: the same layout as numpy.tile.
  SmallVector<DimExpr> spread, expanded, merged;
  for (auto [dim, repeat] : llvm::zip(*inputShape, *repeats)) {
    if (repeat < 0) {
      return emitNodeError(node) << "has a negative repeat count " << repeat;
    }
    spread.append({DimExpr(1), dim});
    expanded.append({DimExpr(repeat), dim});
    merged.push_back(DimExpr(repeat) * dim);
  }
  const HostTensor *host = getHostInput(node, 0);
  if (host && host->getNumElements() > 0) {
    int64_t growth = 1;
    for (int64_t repeat : *repeats) {
      growth = saturatingElementCount({growth, std::max<int64_t>(repeat, 1)});
    }
    if (growth > kMaxFoldElements / host->getNumElements()) {
      host = nullptr; // too big to fold: tile at run time
    }
  }
  if (host) {
    SmallVector<int64_t> spreadShape, expandedShape, mergedShape;
    for (size_t i = 0; i < spread.size(); ++i) {
      spreadShape.push_back(*spread[i].getConstant());
      expandedShape.push_back(*expanded[i].getConstant());
    }
    for (const DimExpr &dim : merged) {
      mergedShape.push_back(*dim.getConstant());
    }
    HostResult tiled = hostBroadcastTo(host->reshaped(spreadShape), expandedShape);
    if (tiled) {
      tiled = tiled.value->reshaped(mergedShape);
    }
    return defineFolded(node, std::move(tiled));
  }
  FailureOr<Value> input = getInput(node, 0);
  FailureOr<Value> reshaped =
      failed(input) ? FailureOr<Value>(failure()) : reshapeTo(node, *input, spread);
  FailureOr<Value> broadcast =
      failed(reshaped) ? FailureOr<Value>(failure()) : expandTo(node, *reshaped, expanded);
  FailureOr<Value> result =
      failed(broadcast) ? FailureOr<Value>(failure()) : reshapeTo(node, *broadcast, merged);
  return failed(result) ? failure() : defineOutput(node, *result);
}

} // namespace conveyor::frontend::detail
