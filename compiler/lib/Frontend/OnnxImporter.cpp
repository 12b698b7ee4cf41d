// ONNX model -> cv.graph module importer: graph-level work (inputs, initializers,
// outputs), node dispatch, import-time values, symbolic shapes and the shared helpers.
// Errors name the file, node, op and opset.
#include "conveyor/Frontend/OnnxImporter.h"

#include "OnnxImporterImpl.h"

#include "conveyor/Dialect/Graph/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <limits>

using namespace mlir;
namespace graph = conveyor::graph;
using graph::DimExpr;

namespace conveyor::frontend::detail {

/// The oldest default-domain opset whose elementwise ops use numpy broadcasting (and
/// not the legacy `broadcast`/`axis` attributes).
constexpr int64_t minimumDefaultOpset = 7;

/// The external-data location that marks a shape-only initializer (no weight values),
/// as the model zoo writes them.
constexpr llvm::StringLiteral shapeOnlyLocation = "conveyor:shape-only";

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += ShapedType::isDynamic(dim) ? "?" : std::to_string(dim); },
      [&] { text += ", "; });
  return text + "]";
}

DiagnosticCapture::DiagnosticCapture(MLIRContext &context)
    : handler(&context, [this](Diagnostic &diag) {
        if (diag.getSeverity() == DiagnosticSeverity::Error && message.empty()) {
          message = diag.str();
        }
        return success();
      }) {}

OnnxImporter::OnnxImporter(MLIRContext &context, StringRef sourceName, const ImportOptions &options)
    : context(context), builder(&context), sourceName(sourceName.str()),
      fileLoc(FileLineColLoc::get(&context, sourceName, 0, 0)), options(options) {
  // Default-domain ops, by family.
  for (StringRef op : {"Neg", "Abs", "Not", "Sqrt", "Reciprocal", "Exp", "Log", "Cos", "Sin",
                       "Tanh", "Sigmoid", "Erf", "Relu", "Floor", "Ceil"}) {
    handlers[(":" + op).str()] = &OnnxImporter::importUnary;
  }
  for (StringRef op :
       {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "And", "Or", "Xor"}) {
    handlers[(":" + op).str()] = &OnnxImporter::importBinary;
  }
  for (StringRef op : {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"}) {
    handlers[(":" + op).str()] = &OnnxImporter::importCompare;
  }
  for (StringRef op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd"}) {
    handlers[(":" + op).str()] = &OnnxImporter::importReduce;
  }
  std::pair<StringRef, Handler> single[] = {
      {"Where", &OnnxImporter::importWhere},
      {"Clip", &OnnxImporter::importClip},
      {"Cast", &OnnxImporter::importCast},
      {"CastLike", &OnnxImporter::importCast},
      {"Gelu", &OnnxImporter::importGelu},
      {"Softmax", &OnnxImporter::importSoftmax},
      {"ArgMax", &OnnxImporter::importArgMax},
      {"LayerNormalization", &OnnxImporter::importLayerNorm},
      {"MatMul", &OnnxImporter::importMatMul},
      {"Gemm", &OnnxImporter::importGemm},
      {"TopK", &OnnxImporter::importTopK},
      {"Trilu", &OnnxImporter::importTrilu},
      {"Constant", &OnnxImporter::importConstant},
      {"Identity", &OnnxImporter::importIdentity},
      {"Dropout", &OnnxImporter::importIdentity},
      {"Shape", &OnnxImporter::importShape},
      {"Size", &OnnxImporter::importSize},
      {"ConstantOfShape", &OnnxImporter::importConstantOfShape},
      {"Range", &OnnxImporter::importRange},
      {"Reshape", &OnnxImporter::importReshape},
      {"Flatten", &OnnxImporter::importFlatten},
      {"Squeeze", &OnnxImporter::importSqueeze},
      {"Unsqueeze", &OnnxImporter::importUnsqueeze},
      {"Transpose", &OnnxImporter::importTranspose},
      {"Concat", &OnnxImporter::importConcat},
      {"Split", &OnnxImporter::importSplit},
      {"Slice", &OnnxImporter::importSlice},
      {"Gather", &OnnxImporter::importGather},
      {"GatherElements", &OnnxImporter::importGatherElements},
      {"ScatterElements", &OnnxImporter::importScatterElements},
      {"Expand", &OnnxImporter::importExpand},
      {"Tile", &OnnxImporter::importTile},
  };
  for (auto [op, handler] : single) {
    handlers[(":" + op).str()] = handler;
  }
  handlers["com.microsoft:Gelu"] = &OnnxImporter::importGelu;
}

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

std::string OnnxImporter::nodeLabel(const NodeContext &node) const {
  std::string label = node.node->name().empty() ? "node #" + std::to_string(node.index)
                                                : "node '" + node.node->name() + "'";
  std::string opName =
      node.domain.empty() ? node.node->op_type() : node.domain + "." + node.node->op_type();
  return label + " (op '" + opName + "', opset " + std::to_string(node.opset) + ")";
}

InFlightDiagnostic OnnxImporter::emitNodeError(const NodeContext &node) {
  InFlightDiagnostic diag = mlir::emitError(node.loc);
  diag << nodeLabel(node) << " ";
  return diag;
}

LogicalResult OnnxImporter::verifyCreated(const NodeContext &node, Operation *op) {
  std::string message;
  {
    DiagnosticCapture capture(context);
    if (succeeded(mlir::verify(op, /*verifyRecursively=*/false))) {
      return success();
    }
    message = capture.getMessage();
  }
  op->erase();
  emitNodeError(node) << "is invalid: "
                      << (message.empty() ? "the created op does not verify" : message);
  return failure();
}

//===----------------------------------------------------------------------===//
// Node helpers
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::checkArity(const NodeContext &node, int minInputs, int maxInputs,
                                       int minOutputs, int maxOutputs) {
  int count = node.node->input_size();
  // Trailing empty names are absent optional inputs.
  while (count > 0 && node.node->input(count - 1).empty()) {
    --count;
  }
  if (count < minInputs || count > maxInputs) {
    InFlightDiagnostic diag = emitNodeError(node);
    diag << "has " << count << " inputs, expected ";
    if (minInputs == maxInputs) {
      diag << minInputs;
    } else {
      diag << minInputs << " to " << maxInputs;
    }
    return failure();
  }
  for (int i = 0; i < minInputs; ++i) {
    if (node.node->input(i).empty()) {
      return emitNodeError(node) << "has no value for its required input #" << i;
    }
  }
  int outputs = node.node->output_size();
  while (outputs > 0 && node.node->output(outputs - 1).empty()) {
    --outputs;
  }
  if (outputs < minOutputs || outputs > maxOutputs || outputs == 0 ||
      node.node->output(0).empty()) {
    InFlightDiagnostic diag = emitNodeError(node);
    diag << "has " << node.node->output_size() << " outputs; Conveyor's importer handles ";
    if (minOutputs == maxOutputs) {
      diag << "exactly " << minOutputs;
    } else {
      diag << minOutputs << " to " << maxOutputs;
    }
    return failure();
  }
  return success();
}

LogicalResult OnnxImporter::checkAttributes(const NodeContext &node,
                                            std::initializer_list<StringRef> known) {
  // An attribute we do not read could change the op's meaning: refuse it.
  for (const onnx::AttributeProto &attribute : node.node->attribute()) {
    if (!llvm::is_contained(known, StringRef(attribute.name()))) {
      return emitNodeError(node) << "has attribute '" << attribute.name()
                                 << "', which Conveyor's importer does not handle";
    }
  }
  return success();
}

bool OnnxImporter::hasInput(const NodeContext &node, int index) const {
  return index < node.node->input_size() && !node.node->input(index).empty();
}

bool OnnxImporter::hasOutput(const NodeContext &node, int index) const {
  return index < node.node->output_size() && !node.node->output(index).empty();
}

Value OnnxImporter::materialize(const HostTensor &value, StringRef name) {
  Location loc = NameLoc::get(builder.getStringAttr(name), fileLoc);
  if (value.isSymbolic()) {
    SmallVector<Attribute> exprs;
    for (const DimExpr &dim : value.getDimVector()) {
      exprs.push_back(builder.getStringAttr(dim.str()));
    }
    auto type = RankedTensorType::get(value.getShape(), value.getElementType());
    return builder.create<graph::DimValueOp>(loc, type, builder.getArrayAttr(exprs)).getResult();
  }
  DenseElementsAttr data = value.toAttr();
  auto constant =
      builder.create<graph::ConstantOp>(loc, data.getType(), data, builder.getStringAttr(name));
  return constant.getResult();
}

FailureOr<Value> OnnxImporter::createIota(const NodeContext &node, const DimExpr &n,
                                          Type elementType) {
  std::optional<int64_t> size = n.getConstant();
  auto type = RankedTensorType::get({size.value_or(ShapedType::kDynamic)}, elementType);
  auto iota = builder.create<graph::IotaOp>(node.loc, type);
  if (!size) {
    iota->setAttr(graph::kDimsAttrName, builder.getArrayAttr({builder.getStringAttr(n.str())}));
  }
  if (failed(verifyCreated(node, iota))) {
    return failure();
  }
  setSymbolicShape(iota.getResult(), {n});
  return iota.getResult();
}

Value OnnxImporter::lookupValue(StringRef name) {
  auto it = values.find(name);
  if (it != values.end()) {
    return it->second;
  }
  auto host = hostValues.find(name);
  if (host == hostValues.end()) {
    return nullptr;
  }
  Value value = materialize(host->second, name);
  values[name] = value;
  return value;
}

FailureOr<Value> OnnxImporter::getInput(const NodeContext &node, int index) {
  if (!hasInput(node, index)) {
    return emitNodeError(node) << "has no value for input #" << index;
  }
  const std::string &name = node.node->input(index);
  if (Value value = lookupValue(name)) {
    return value;
  }
  return emitNodeError(node) << "reads '" << name
                             << "', which no graph input, initializer or earlier node "
                                "produces (is the graph topologically sorted?)";
}

const HostTensor *OnnxImporter::getHostInput(const NodeContext &node, int index) {
  if (!hasInput(node, index)) {
    return nullptr;
  }
  const std::string &name = node.node->input(index);
  auto host = hostValues.find(name);
  if (host != hostValues.end()) {
    return &host->second;
  }
  auto it = values.find(name);
  if (it == values.end()) {
    return nullptr;
  }
  // Initializers are IR constants; small ones can take part in folding too.
  auto constant = it->second.getDefiningOp<graph::ConstantOp>();
  if (!constant || constant.getType().getNumElements() > kMaxFoldElements) {
    return nullptr;
  }
  auto data = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!data) {
    return nullptr;
  }
  return &(hostValues[name] = HostTensor::fromAttr(data));
}

const HostTensor *OnnxImporter::requireHostInput(const NodeContext &node, int index,
                                                 StringRef what) {
  if (const HostTensor *value = getHostInput(node, index)) {
    return value;
  }
  emitNodeError(node) << "takes its " << what << " from '" << node.node->input(index)
                      << "', which is not known at import time; Conveyor's importer needs it "
                         "constant (an initializer, a Constant node or computed from shapes)";
  return nullptr;
}

SmallVector<DimExpr> OnnxImporter::getSymbolicShape(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  auto known = symbolicShapes.find(value);
  SmallVector<DimExpr> shape;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    int64_t dim = type.getDimSize(i);
    if (!ShapedType::isDynamic(dim)) {
      shape.push_back(DimExpr(dim));
    } else if (known != symbolicShapes.end() && i < static_cast<int64_t>(known->second.size())) {
      shape.push_back(known->second[i]);
    } else {
      // Should not happen: every dynamic result gets its dimensions recorded. Name it
      // after the value so that it at least stays distinct.
      shape.push_back(DimExpr::symbol("unknown" + std::to_string(i)));
    }
  }
  return shape;
}

void OnnxImporter::setSymbolicShape(Value value, ArrayRef<DimExpr> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (!type.hasStaticShape()) {
    symbolicShapes[value] = SmallVector<DimExpr>(shape);
  }
}

FailureOr<SmallVector<DimExpr>> OnnxImporter::getInputShape(const NodeContext &node, int index) {
  if (!hasInput(node, index)) {
    return emitNodeError(node) << "has no value for input #" << index;
  }
  auto host = hostValues.find(node.node->input(index));
  if (host != hostValues.end()) {
    SmallVector<DimExpr> shape;
    for (int64_t dim : host->second.getShape()) {
      shape.push_back(DimExpr(dim));
    }
    return shape;
  }
  auto it = values.find(node.node->input(index));
  if (it == values.end()) {
    return emitNodeError(node) << "reads '" << node.node->input(index)
                               << "', which no graph input, initializer or earlier node "
                                  "produces (is the graph topologically sorted?)";
  }
  return getSymbolicShape(it->second);
}

FailureOr<Type> OnnxImporter::getInputElementType(const NodeContext &node, int index) {
  if (const HostTensor *host = hasInput(node, index) ? getHostInput(node, index) : nullptr) {
    return host->getElementType();
  }
  FailureOr<Value> value = getInput(node, index);
  if (failed(value)) {
    return failure();
  }
  return cast<RankedTensorType>(value->getType()).getElementType();
}

FailureOr<int64_t> OnnxImporter::getInputRank(const NodeContext &node, int index) {
  FailureOr<SmallVector<DimExpr>> shape = getInputShape(node, index);
  if (failed(shape)) {
    return failure();
  }
  return static_cast<int64_t>(shape->size());
}

const onnx::AttributeProto *OnnxImporter::findAttribute(const NodeContext &node, StringRef name) {
  for (const onnx::AttributeProto &attribute : node.node->attribute()) {
    if (attribute.name() == name) {
      return &attribute;
    }
  }
  return nullptr;
}

FailureOr<int64_t> OnnxImporter::getIntAttribute(const NodeContext &node, StringRef name,
                                                 int64_t defaultValue) {
  const onnx::AttributeProto *attribute = findAttribute(node, name);
  if (!attribute) {
    return defaultValue;
  }
  if (attribute->type() != onnx::AttributeProto::INT) {
    return emitNodeError(node) << "has attribute '" << name << "' of the wrong type; expected INT";
  }
  return attribute->i();
}

FailureOr<float> OnnxImporter::getFloatAttribute(const NodeContext &node, StringRef name,
                                                 float defaultValue) {
  const onnx::AttributeProto *attribute = findAttribute(node, name);
  if (!attribute) {
    return defaultValue;
  }
  if (attribute->type() != onnx::AttributeProto::FLOAT) {
    return emitNodeError(node) << "has attribute '" << name
                               << "' of the wrong type; expected FLOAT";
  }
  return attribute->f();
}

FailureOr<std::string> OnnxImporter::getStringAttribute(const NodeContext &node, StringRef name,
                                                        StringRef defaultValue) {
  const onnx::AttributeProto *attribute = findAttribute(node, name);
  if (!attribute) {
    return defaultValue.str();
  }
  if (attribute->type() != onnx::AttributeProto::STRING) {
    return emitNodeError(node) << "has attribute '" << name
                               << "' of the wrong type; expected STRING";
  }
  return attribute->s();
}

FailureOr<std::optional<SmallVector<int64_t>>>
OnnxImporter::getIntsAttribute(const NodeContext &node, StringRef name) {
  const onnx::AttributeProto *attribute = findAttribute(node, name);
  if (!attribute) {
    return std::optional<SmallVector<int64_t>>();
  }
  if (attribute->type() != onnx::AttributeProto::INTS) {
    return emitNodeError(node) << "has attribute '" << name << "' of the wrong type; expected INTS";
  }
  return std::optional<SmallVector<int64_t>>(
      SmallVector<int64_t>(attribute->ints().begin(), attribute->ints().end()));
}

FailureOr<int64_t> OnnxImporter::normalizeAxis(const NodeContext &node, int64_t axis, int64_t rank,
                                               StringRef what) {
  if (axis < -rank || axis >= rank) {
    return emitNodeError(node) << "has " << what << " " << axis << ", outside [" << -rank << ", "
                               << rank - 1 << "] for an input of rank " << rank;
  }
  return axis < 0 ? axis + rank : axis;
}

LogicalResult OnnxImporter::defineOutput(const NodeContext &node, Value value, int index) {
  const std::string &name = node.node->output(index);
  if (values.count(name) || hostValues.count(name)) {
    return emitNodeError(node) << "writes '" << name
                               << "', which is already defined (ONNX values are assigned once)";
  }
  values[name] = value;
  return success();
}

LogicalResult OnnxImporter::defineHostOutput(const NodeContext &node, HostTensor value, int index) {
  const std::string &name = node.node->output(index);
  if (values.count(name) || hostValues.count(name)) {
    return emitNodeError(node) << "writes '" << name
                               << "', which is already defined (ONNX values are assigned once)";
  }
  hostValues[name] = std::move(value);
  return success();
}

LogicalResult OnnxImporter::defineFolded(const NodeContext &node, HostResult result, int index) {
  if (!result) {
    return emitNodeError(node) << "cannot be evaluated at import time: " << result.whyNot;
  }
  return defineHostOutput(node, std::move(*result.value), index);
}

bool OnnxImporter::allInputsKnown(const NodeContext &node) {
  for (int i = 0; i < node.node->input_size(); ++i) {
    if (node.node->input(i).empty()) {
      continue;
    }
    const HostTensor *host = getHostInput(node, i);
    if (!host || host->getNumElements() > kMaxFoldElements) {
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Op creation with symbolic shapes
//===----------------------------------------------------------------------===//

/// The tensor shape for symbolic dimensions (`?` where not constant) and the matching
/// `cv.dims` entries; returns true when some dimension is dynamic.
static bool shapeFromDims(ArrayRef<DimExpr> dims, SmallVectorImpl<int64_t> &shape,
                          SmallVectorImpl<Attribute> &names, Builder &builder) {
  bool dynamic = false;
  for (const DimExpr &dim : dims) {
    std::optional<int64_t> value = dim.getConstant();
    shape.push_back(value ? *value : ShapedType::kDynamic);
    names.push_back(builder.getStringAttr(value ? std::string() : dim.str()));
    dynamic |= !value;
  }
  return dynamic;
}

FailureOr<Value> OnnxImporter::reshapeTo(const NodeContext &node, Value input,
                                         ArrayRef<DimExpr> dims) {
  SmallVector<int64_t> shape;
  SmallVector<Attribute> names;
  bool dynamic = shapeFromDims(dims, shape, names, builder);
  auto inputType = cast<RankedTensorType>(input.getType());
  auto type = RankedTensorType::get(shape, inputType.getElementType());
  if (type == inputType && getSymbolicShape(input) == SmallVector<DimExpr>(dims)) {
    return input; // nothing to do
  }
  auto op = builder.create<graph::ReshapeOp>(node.loc, type, input);
  if (dynamic) {
    op->setAttr(graph::kDimsAttrName, builder.getArrayAttr(names));
  }
  if (failed(verifyCreated(node, op))) {
    return failure();
  }
  setSymbolicShape(op.getResult(), dims);
  return op.getResult();
}

FailureOr<Value> OnnxImporter::reshapeTo(const NodeContext &node, Value input,
                                         ArrayRef<int64_t> shape) {
  SmallVector<DimExpr> dims(shape.begin(), shape.end());
  return reshapeTo(node, input, dims);
}

FailureOr<Value> OnnxImporter::expandTo(const NodeContext &node, Value input,
                                        ArrayRef<DimExpr> dims) {
  SmallVector<int64_t> shape;
  SmallVector<Attribute> names;
  bool dynamic = shapeFromDims(dims, shape, names, builder);
  auto inputType = cast<RankedTensorType>(input.getType());
  auto type = RankedTensorType::get(shape, inputType.getElementType());
  if (type == inputType && getSymbolicShape(input) == SmallVector<DimExpr>(dims)) {
    return input;
  }
  auto op = builder.create<graph::ExpandOp>(node.loc, type, input);
  if (dynamic) {
    op->setAttr(graph::kDimsAttrName, builder.getArrayAttr(names));
  }
  if (failed(verifyCreated(node, op))) {
    return failure();
  }
  setSymbolicShape(op.getResult(), dims);
  return op.getResult();
}

void OnnxImporter::propagateSymbolicDims(Operation *op) {
  for (Value result : op->getResults()) {
    auto resultType = cast<RankedTensorType>(result.getType());
    if (resultType.hasStaticShape() || symbolicShapes.count(result)) {
      continue;
    }
    int64_t rank = resultType.getRank();
    SmallVector<DimExpr> dims(rank);
    auto operandDims = [&](unsigned index) { return getSymbolicShape(op->getOperand(index)); };
    if (auto transpose = dyn_cast<graph::TransposeOp>(op)) {
      SmallVector<DimExpr> input = operandDims(0);
      for (int64_t i = 0; i < rank; ++i) {
        dims[i] = input[transpose.getPerm()[i]];
      }
    } else if (isa<graph::MatMulOp>(op)) {
      SmallVector<DimExpr> lhs = operandDims(0), rhs = operandDims(1);
      // Batch dimensions broadcast like elementwise ops (aligned from the right).
      for (int64_t i = 0; i < rank - 2; ++i) {
        int64_t fromRight = rank - 3 - i;
        int64_t lhsIndex = static_cast<int64_t>(lhs.size()) - 3 - fromRight;
        int64_t rhsIndex = static_cast<int64_t>(rhs.size()) - 3 - fromRight;
        DimExpr lhsDim = lhsIndex >= 0 ? lhs[lhsIndex] : DimExpr(1);
        DimExpr rhsDim = rhsIndex >= 0 ? rhs[rhsIndex] : DimExpr(1);
        dims[i] = lhsDim == DimExpr(1) ? rhsDim : lhsDim;
      }
      dims[rank - 2] = lhs[lhs.size() - 2];
      dims[rank - 1] = rhs.back();
    } else if (auto gemm = dyn_cast<graph::GemmOp>(op)) {
      SmallVector<DimExpr> a = operandDims(0), b = operandDims(1);
      dims[0] = a[gemm.getTransA() ? 1 : 0];
      dims[1] = b[gemm.getTransB() ? 0 : 1];
    } else if (auto gather = dyn_cast<graph::GatherOp>(op)) {
      SmallVector<DimExpr> data = operandDims(0), indices = operandDims(1);
      int64_t axis = gather.getAxis();
      dims.assign(data.begin(), data.begin() + axis);
      llvm::append_range(dims, indices);
      dims.append(data.begin() + axis + 1, data.end());
    } else if (isa<graph::GatherElementsOp>(op)) {
      dims = operandDims(1);
    } else if (auto concat = dyn_cast<graph::ConcatOp>(op)) {
      dims = operandDims(0);
      int64_t axis = concat.getAxis();
      for (unsigned i = 1; i < op->getNumOperands(); ++i) {
        dims[axis] = dims[axis] + operandDims(i)[axis];
      }
    } else if (isa<graph::ReduceSumOp, graph::ReduceMeanOp, graph::ReduceMaxOp, graph::ReduceMinOp,
                   graph::ArgMaxOp>(op)) {
      SmallVector<int64_t> axes;
      bool keepdims = true;
      if (auto argmax = dyn_cast<graph::ArgMaxOp>(op)) {
        axes.push_back(argmax.getAxis());
        keepdims = argmax.getKeepdims();
      } else {
        auto axesAttr = op->getAttrOfType<DenseI64ArrayAttr>("axes");
        axes.assign(axesAttr.asArrayRef().begin(), axesAttr.asArrayRef().end());
        keepdims = op->getAttrOfType<BoolAttr>("keepdims")
                       ? op->getAttrOfType<BoolAttr>("keepdims").getValue()
                       : true;
      }
      SmallVector<DimExpr> input = operandDims(0);
      dims.clear();
      for (int64_t i = 0; i < static_cast<int64_t>(input.size()); ++i) {
        if (!llvm::is_contained(axes, i)) {
          dims.push_back(input[i]);
        } else if (keepdims) {
          dims.push_back(DimExpr(1));
        }
      }
    } else if (isa<graph::SplitOp, graph::SliceOp, graph::TopKOp>(op)) {
      // Cut dimensions are static; the others are the input's.
      SmallVector<DimExpr> input = operandDims(0);
      for (int64_t i = 0; i < rank; ++i) {
        int64_t size = resultType.getDimSize(i);
        dims[i] = ShapedType::isDynamic(size) ? input[i] : DimExpr(size);
      }
    } else {
      // Elementwise ops (and norms, softmax, cast, where, trilu): numpy broadcasting,
      // so each dynamic dimension comes from an operand's aligned dynamic dimension.
      for (int64_t i = 0; i < rank; ++i) {
        int64_t fromRight = rank - 1 - i;
        dims[i] = DimExpr(resultType.getDimSize(i));
        if (!ShapedType::isDynamic(resultType.getDimSize(i))) {
          continue;
        }
        for (Value operand : op->getOperands()) {
          auto operandType = cast<RankedTensorType>(operand.getType());
          int64_t index = operandType.getRank() - 1 - fromRight;
          if (index >= 0 && operandType.isDynamicDim(index)) {
            dims[i] = getSymbolicShape(operand)[index];
            break;
          }
        }
      }
    }
    // Static dimensions are authoritative (inference may have resolved a broadcast).
    for (int64_t i = 0; i < rank && i < static_cast<int64_t>(dims.size()); ++i) {
      if (!resultType.isDynamicDim(i)) {
        dims[i] = DimExpr(resultType.getDimSize(i));
      }
    }
    dims.resize(rank);
    symbolicShapes[result] = dims;
  }
}

//===----------------------------------------------------------------------===//
// Graph
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::dispatchNode(const NodeContext &node) {
  auto handler = handlers.find(node.domain + ":" + node.node->op_type());
  if (handler != handlers.end()) {
    return (this->*(handler->second))(node);
  }
  // List what is supported, grouped by domain, so the user sees what to re-export to.
  SmallVector<std::string> defaultOps, otherOps;
  for (const auto &entry : handlers) {
    auto [domain, op] = entry.getKey().split(':');
    if (domain.empty()) {
      defaultOps.push_back(op.str());
    } else {
      otherOps.push_back(op.str() + " (" + domain.str() + ")");
    }
  }
  llvm::sort(defaultOps);
  llvm::sort(otherOps);
  return emitNodeError(node) << "is not supported by Conveyor's importer; supported ops: "
                             << llvm::join(defaultOps, ", ") << " (default domain), "
                             << llvm::join(otherOps, ", ");
}

LogicalResult OnnxImporter::importNode(const onnx::NodeProto &protoNode, int index) {
  std::string domain = protoNode.domain() == "ai.onnx" ? "" : protoNode.domain();
  std::string locName = protoNode.name().empty()
                            ? "node#" + std::to_string(index) + ":" + protoNode.op_type()
                            : protoNode.name();
  NodeContext node{&protoNode, index, domain, 0,
                   NameLoc::get(builder.getStringAttr(locName), fileLoc)};
  auto opset = opsets.find(domain);
  if (opset != opsets.end()) {
    node.opset = opset->second;
  } else if (domain.empty() || domain == "com.microsoft") {
    // Domains we import ops from need a version; others are rejected by dispatchNode.
    return emitNodeError(node) << "uses domain '" << domain
                               << "', for which the model declares no opset_import";
  }
  if (domain.empty() && node.opset < minimumDefaultOpset) {
    return emitNodeError(node) << "comes from a model with default-domain opset " << node.opset
                               << "; Conveyor's importer needs opset >= " << minimumDefaultOpset
                               << " (numpy broadcasting)";
  }
  return dispatchNode(node);
}

LogicalResult OnnxImporter::readOpsets(const onnx::ModelProto &model) {
  for (const onnx::OperatorSetIdProto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    opsets[domain] = opset.version();
  }
  return success();
}

/// True when `tensor` follows the shape-only convention: EXTERNAL data whose location
/// is "conveyor:shape-only".
static bool isShapeOnly(const onnx::TensorProto &tensor) {
  if (tensor.data_location() != onnx::TensorProto::EXTERNAL) {
    return false;
  }
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    if (entry.key() == "location") {
      return entry.value() == shapeOnlyLocation;
    }
  }
  return false;
}

LogicalResult OnnxImporter::importInitializers(const onnx::GraphProto &graph) {
  if (graph.sparse_initializer_size() > 0) {
    return emitFileError() << "graph '" << graph.name() << "' has sparse initializers ('"
                           << graph.sparse_initializer(0).values().name()
                           << "'), which Conveyor's importer does not support";
  }
  for (const onnx::TensorProto &tensor : graph.initializer()) {
    Location loc = NameLoc::get(builder.getStringAttr(tensor.name()), fileLoc);
    if (tensor.name().empty()) {
      return emitFileError() << "graph '" << graph.name() << "' has an initializer with no name";
    }
    if (isShapeOnly(tensor)) {
      FailureOr<RankedTensorType> type = convertTensorProtoType(context, tensor, [&] {
        return mlir::emitError(loc) << "shape-only initializer '" << tensor.name() << "' ";
      });
      if (failed(type)) {
        return failure();
      }
      auto weight =
          builder.create<graph::WeightOp>(loc, *type, builder.getStringAttr(tensor.name()));
      values[tensor.name()] = weight.getResult();
      continue;
    }
    FailureOr<DenseElementsAttr> data = convertTensorProto(context, tensor, [&] {
      return mlir::emitError(loc) << "initializer '" << tensor.name() << "' ";
    });
    if (failed(data)) {
      return failure();
    }
    auto constant = builder.create<graph::ConstantOp>(loc, data->getType(), *data,
                                                      builder.getStringAttr(tensor.name()));
    values[tensor.name()] = constant.getResult();
  }
  return success();
}

/// Turns an ONNX dim_param into a DimExpr: the expression it spells ("past + seq", as
/// some exporters write for outputs) or a plain name with odd characters replaced.
static DimExpr parseDimParam(StringRef param) {
  if (std::optional<DimExpr> parsed = DimExpr::parse(param)) {
    return *parsed;
  }
  std::string name;
  for (char c : param) {
    name += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ? c : '_';
  }
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
    name = "d_" + name;
  }
  return DimExpr::symbol(name);
}

FailureOr<RankedTensorType> OnnxImporter::convertGraphInputType(const onnx::ValueInfoProto &input,
                                                                SmallVectorImpl<DimExpr> &dims) {
  const std::string &name = input.name();
  if (!input.has_type() || !input.type().has_tensor_type()) {
    return emitFileError() << "graph input '" << name
                           << "' is not a tensor (or has no type); Conveyor's importer "
                              "needs tensor inputs";
  }
  const onnx::TypeProto::Tensor &tensorType = input.type().tensor_type();
  Type elementType = convertElementType(context, tensorType.elem_type());
  if (!elementType) {
    return emitFileError() << "graph input '" << name << "' has element type "
                           << onnxDataTypeName(tensorType.elem_type())
                           << ", which Conveyor's importer does not support (supported: "
                           << supportedDataTypeNames() << ")";
  }
  if (!tensorType.has_shape()) {
    return emitFileError() << "graph input '" << name
                           << "' has no shape; Conveyor's importer needs at least its rank";
  }
  SmallVector<int64_t> shape;
  for (auto [index, dim] : llvm::enumerate(tensorType.shape().dim())) {
    DimExpr expr;
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) {
        return emitFileError() << "graph input '" << name << "' dimension " << index
                               << " is negative (" << dim.dim_value() << ")";
      }
      expr = DimExpr(dim.dim_value());
    } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
      expr = parseDimParam(dim.dim_param());
    } else {
      // An unnamed free dimension: name it after the input so it stays distinct.
      expr = parseDimParam(name + "_dim" + std::to_string(index));
    }
    if (std::optional<int64_t> bound = expr.evaluate(options.dimSizes)) {
      if (*bound < 0) {
        return emitFileError() << "graph input '" << name << "' dimension " << index << " ('"
                               << expr.str() << "') is bound to a negative size (" << *bound << ")";
      }
      expr = DimExpr(*bound);
    }
    std::optional<int64_t> value = expr.getConstant();
    shape.push_back(value ? *value : ShapedType::kDynamic);
    dims.push_back(expr);
  }
  return RankedTensorType::get(shape, elementType);
}

LogicalResult OnnxImporter::checkGraphOutputType(const onnx::ValueInfoProto &output, Value value) {
  if (!output.has_type() || !output.type().has_tensor_type()) {
    return success(); // nothing declared to check against
  }
  auto computed = cast<RankedTensorType>(value.getType());
  const onnx::TypeProto::Tensor &declared = output.type().tensor_type();
  if (declared.elem_type() != 0) {
    Type elementType = convertElementType(context, declared.elem_type());
    if (elementType != computed.getElementType()) {
      return emitFileError() << "graph output '" << output.name() << "' is declared as "
                             << onnxDataTypeName(declared.elem_type()) << " but the graph computes "
                             << computed.getElementType();
    }
  }
  if (!declared.has_shape()) {
    return success();
  }
  // Only static sizes on both sides can disagree; named sizes may have been bound.
  bool mismatch = declared.shape().dim_size() != computed.getRank();
  for (int i = 0; !mismatch && i < declared.shape().dim_size(); ++i) {
    const auto &dim = declared.shape().dim(i);
    mismatch = dim.has_dim_value() && !computed.isDynamicDim(i) &&
               dim.dim_value() != computed.getDimSize(i);
  }
  if (mismatch) {
    std::string declaredText = "[";
    for (int i = 0; i < declared.shape().dim_size(); ++i) {
      const auto &dim = declared.shape().dim(i);
      declaredText += (i ? ", " : "") + (dim.has_dim_value()   ? std::to_string(dim.dim_value())
                                         : dim.has_dim_param() ? dim.dim_param()
                                                               : std::string("?"));
    }
    return emitFileError() << "graph output '" << output.name() << "' is declared with shape "
                           << declaredText << "] but the graph computes "
                           << formatShape(computed.getShape());
  }
  return success();
}

void OnnxImporter::eraseUnusedConstants() {
  // Shape operands of Reshape are folded into the result type, and models often carry
  // initializers nothing reads; neither should become a weight on the chip.
  SmallVector<Operation *> unused;
  for (Operation &op : *builder.getInsertionBlock()) {
    if (isa<graph::ConstantOp, graph::WeightOp, graph::DimValueOp>(op) && op.use_empty()) {
      unused.push_back(&op);
    }
  }
  for (Operation *op : unused) {
    op->erase();
  }
}

OwningOpRef<ModuleOp> OnnxImporter::importModel(StringRef bytes) {
  context.loadDialect<graph::GraphDialect, func::FuncDialect>();
  if (bytes.empty()) {
    emitFileError() << "file is empty; expected an ONNX model";
    return nullptr;
  }
  // A Conveyor schedule starts with its magic, "CVSL", as field 1 (fixed32; ScheduleFormat.h
  // kMagic). As ONNX it can parse (field 1 of a model is a varint, so the magic is kept as an
  // unknown field) into a model whose graph is garbage: say what the file is instead.
  if (bytes.starts_with(StringRef("\x0d" "CVSL", 5))) {
    emitFileError() << "this is a Conveyor schedule (what `conveyor compile` writes), not an "
                       "ONNX model: pass the .onnx model it was compiled from; `conveyor dump` "
                       "prints a schedule";
    return nullptr;
  }
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    emitFileError() << "not a valid ONNX model: the protobuf does not parse (truncated "
                       "file, or not ONNX?)";
    return nullptr;
  }
  if (!model.has_graph()) {
    emitFileError() << "ONNX model has no graph (is this an ONNX model file?)";
    return nullptr;
  }
  const onnx::GraphProto &graphProto = model.graph();
  if (graphProto.node_size() == 0) {
    emitFileError() << "graph '" << graphProto.name()
                    << "' is empty: it has no nodes, so there is nothing to compile";
    return nullptr;
  }
  if (graphProto.output_size() == 0) {
    emitFileError() << "graph '" << graphProto.name()
                    << "' has no outputs, so there is nothing to compile";
    return nullptr;
  }
  if (failed(readOpsets(model))) {
    return nullptr;
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  std::string modelName = graphProto.name();
  if (modelName.empty()) {
    modelName = llvm::sys::path::stem(sourceName).str();
  }
  (*module)->setAttr("cv.model_name", builder.getStringAttr(modelName));

  // Graph inputs that are also initializers are constants with a default value, not
  // arguments (ONNX IR < 4 lists every initializer as an input).
  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &tensor : graphProto.initializer()) {
    initializerNames.insert(tensor.name());
  }
  SmallVector<Type> argumentTypes;
  SmallVector<std::string> argumentNames;
  SmallVector<SmallVector<DimExpr>> argumentDims;
  for (const onnx::ValueInfoProto &input : graphProto.input()) {
    if (initializerNames.contains(input.name())) {
      continue;
    }
    SmallVector<DimExpr> dims;
    FailureOr<RankedTensorType> type = convertGraphInputType(input, dims);
    if (failed(type)) {
      return nullptr;
    }
    argumentTypes.push_back(*type);
    argumentNames.push_back(input.name());
    argumentDims.push_back(std::move(dims));
  }

  builder.setInsertionPointToEnd(module->getBody());
  auto func =
      builder.create<func::FuncOp>(fileLoc, "main", builder.getFunctionType(argumentTypes, {}));
  Block *body = func.addEntryBlock();
  for (auto [index, name] : llvm::enumerate(argumentNames)) {
    func.setArgAttr(index, "cv.name", builder.getStringAttr(name));
    BlockArgument argument = body->getArgument(index);
    argument.setLoc(NameLoc::get(builder.getStringAttr(name), fileLoc));
    values[name] = argument;
    if (!cast<RankedTensorType>(argument.getType()).hasStaticShape()) {
      SmallVector<Attribute> names;
      for (const DimExpr &dim : argumentDims[index]) {
        names.push_back(builder.getStringAttr(dim.isConstant() ? std::string() : dim.str()));
      }
      func.setArgAttr(index, graph::kDimNamesAttrName, builder.getArrayAttr(names));
      symbolicShapes[argument] = argumentDims[index];
    }
  }
  builder.setInsertionPointToStart(body);

  if (failed(importInitializers(graphProto))) {
    return nullptr;
  }
  for (auto [index, node] : llvm::enumerate(graphProto.node())) {
    if (failed(importNode(node, static_cast<int>(index)))) {
      return nullptr;
    }
  }

  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &output : graphProto.output()) {
    Value value = lookupValue(output.name());
    if (!value) {
      emitFileError() << "graph output '" << output.name()
                      << "' is not produced by any node, input or initializer";
      return nullptr;
    }
    if (failed(checkGraphOutputType(output, value))) {
      return nullptr;
    }
    results.push_back(value);
  }
  builder.create<func::ReturnOp>(fileLoc, results);
  func.setFunctionType(builder.getFunctionType(argumentTypes, TypeRange(ValueRange(results))));
  for (auto [index, output] : llvm::enumerate(graphProto.output())) {
    func.setResultAttr(index, "cv.name", builder.getStringAttr(output.name()));
  }
  eraseUnusedConstants();

  if (failed(mlir::verify(*module))) {
    return nullptr; // the verifier has reported the op at fault
  }
  return module;
}

} // namespace conveyor::frontend::detail

namespace conveyor::frontend {

/// Escapes control characters (and, in text that is not valid UTF-8, every non-ASCII
/// byte) so that a message stays one printable line even when it quotes names from a
/// damaged model.
static std::string escapeControlCharacters(StringRef text) {
  const auto *begin = reinterpret_cast<const llvm::UTF8 *>(text.begin());
  bool validUtf8 =
      llvm::isLegalUTF8String(&begin, reinterpret_cast<const llvm::UTF8 *>(text.end()));
  std::string escaped;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || (!validUtf8 && byte >= 0x80)) {
      escaped += llvm::formatv("\\x{0:x-2}", static_cast<unsigned>(byte)).str();
    } else {
      escaped += c;
    }
  }
  return escaped;
}

OwningOpRef<ModuleOp> importOnnxBytes(MLIRContext &context, StringRef bytes, StringRef sourceName,
                                      const ImportOptions &options) {
  // The importer stops at its first error; report exactly that one, as one line.
  std::optional<Location> errorLoc;
  std::string errorMessage;
  OwningOpRef<ModuleOp> module;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) -> LogicalResult {
      if (diag.getSeverity() != DiagnosticSeverity::Error) {
        return failure(); // not ours to handle: let the next handler print it
      }
      if (!errorLoc) {
        errorLoc = diag.getLocation();
        errorMessage = diag.str();
      }
      return success();
    });
    detail::OnnxImporter importer(context, sourceName, options);
    module = importer.importModel(bytes);
  }
  if (!module) {
    Location loc = errorLoc.value_or(FileLineColLoc::get(&context, sourceName, 0, 0));
    mlir::emitError(loc) << (errorMessage.empty() ? std::string("ONNX import failed")
                                                  : escapeControlCharacters(errorMessage));
  }
  return module;
}

OwningOpRef<ModuleOp> importOnnxFile(MLIRContext &context, StringRef path,
                                     const ImportOptions &options) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    mlir::emitError(FileLineColLoc::get(&context, path, 0, 0))
        << "cannot read ONNX model '" << path << "': " << buffer.getError().message();
    return nullptr;
  }
  return importOnnxBytes(context, (*buffer)->getBuffer(), path, options);
}

std::string parseDimSizes(StringRef text, ImportOptions &options) {
  SmallVector<StringRef> entries;
  text.split(entries, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (StringRef entry : entries) {
    auto [name, size] = entry.split('=');
    name = name.trim();
    size = size.trim();
    int64_t value = 0;
    if (name.empty() || size.empty() || size.getAsInteger(10, value) || value < 0) {
      return "dimension size '" + entry.str() +
             "' is not of the form name=size with a size >= 0 (e.g. seq=128)";
    }
    options.dimSizes[name] = value;
  }
  return "";
}

} // namespace conveyor::frontend
