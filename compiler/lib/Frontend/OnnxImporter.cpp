// ONNX model -> cv.graph module importer: one cv.graph op (or a short fixed sequence) per
// ONNX node, static shapes only, errors naming the file, node, op and opset.
#include "conveyor/Frontend/OnnxImporter.h"

#include "OnnxTensors.h"

#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <limits>
#include <optional>

using namespace mlir;
namespace graph = conveyor::graph;

namespace conveyor::frontend {
namespace {

/// Ops the importer handles, listed in the "not supported" message.
constexpr llvm::StringLiteral supportedOpList =
    "Add, Constant, Div, Gelu, Gemm, Identity, MatMul, Mul, Relu, Reshape, Softmax, Sub, "
    "Transpose (default domain), Gelu (com.microsoft)";

/// The oldest default-domain opset whose elementwise ops use numpy broadcasting (and
/// not the legacy `broadcast`/`axis` attributes).
constexpr int64_t minimumDefaultOpset = 7;

/// Formats a shape as "[2, 4]" for messages.
std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape, [&](int64_t dim) { text += std::to_string(dim); }, [&] { text += ", "; });
  return text + "]";
}

/// Everything the importer needs while it walks one ModelProto.
class OnnxImporter {
public:
  OnnxImporter(MLIRContext &context, StringRef sourceName)
      : context(context), builder(&context), sourceName(sourceName.str()),
        fileLoc(FileLineColLoc::get(&context, sourceName, 0, 0)) {}

  OwningOpRef<ModuleOp> importModel(StringRef bytes);

private:
  /// Describes the node being imported, for the location and message prefix.
  struct NodeContext {
    const onnx::NodeProto *node = nullptr;
    int index = 0;
    std::string domain; // "" for the default domain
    int64_t opset = 0;
    Location loc;
  };

  InFlightDiagnostic emitFileError() { return mlir::emitError(fileLoc); }
  InFlightDiagnostic emitNodeError(const NodeContext &node);
  std::string nodeLabel(const NodeContext &node) const;

  LogicalResult readOpsets(const onnx::ModelProto &model);
  LogicalResult importInitializers(const onnx::GraphProto &graph);
  FailureOr<RankedTensorType> convertGraphInputType(const onnx::ValueInfoProto &input);
  LogicalResult checkGraphOutputType(const onnx::ValueInfoProto &output, Value value);
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  LogicalResult dispatchNode(const NodeContext &node);
  void eraseUnusedConstants();

  // Per-op importers: each reads the node's inputs and attributes and defines its output.
  LogicalResult importBinary(const NodeContext &node);
  LogicalResult importMatMul(const NodeContext &node);
  LogicalResult importGemm(const NodeContext &node);
  LogicalResult importUnary(const NodeContext &node);
  LogicalResult importSoftmax(const NodeContext &node);
  LogicalResult importReshape(const NodeContext &node);
  LogicalResult importTranspose(const NodeContext &node);
  LogicalResult importIdentity(const NodeContext &node);
  LogicalResult importConstant(const NodeContext &node);

  // Node helpers.
  LogicalResult checkArity(const NodeContext &node, int minInputs, int maxInputs);
  LogicalResult checkAttributes(const NodeContext &node, std::initializer_list<StringRef> known);
  FailureOr<Value> getInput(const NodeContext &node, int index);
  const onnx::AttributeProto *findAttribute(const NodeContext &node, StringRef name);
  FailureOr<int64_t> getIntAttribute(const NodeContext &node, StringRef name, int64_t defaultValue);
  FailureOr<float> getFloatAttribute(const NodeContext &node, StringRef name, float defaultValue);
  LogicalResult defineOutput(const NodeContext &node, Value value);

  /// Creates an op whose result type the op infers itself (InferTypeOpInterface).
  /// Shape errors are reported as one error naming the node.
  template <typename OpTy, typename... Args>
  FailureOr<Value> createInferred(const NodeContext &node, Args &&...args);
  /// Creates an op with an explicit result type, then verifies it.
  template <typename OpTy, typename... Args>
  FailureOr<Value> createTyped(const NodeContext &node, Type type, Args &&...args);
  /// Verifies a just-created op, re-reporting any verifier error against the node.
  LogicalResult verifyCreated(const NodeContext &node, Operation *op);
  FailureOr<Value> reshapeTo(const NodeContext &node, Value input, ArrayRef<int64_t> shape);

  MLIRContext &context;
  OpBuilder builder;
  std::string sourceName;
  Location fileLoc;
  /// Opset version per domain ("" is the default domain).
  llvm::StringMap<int64_t> opsets;
  /// ONNX value name -> the MLIR value holding it.
  llvm::StringMap<Value> values;
};

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

/// Collects the error diagnostics raised while it is alive instead of printing them,
/// so the importer can re-report them as one line that names the ONNX node.
class DiagnosticCapture {
public:
  explicit DiagnosticCapture(MLIRContext &context)
      : handler(&context, [this](Diagnostic &diag) {
          if (diag.getSeverity() == DiagnosticSeverity::Error && message.empty()) {
            message = diag.str();
          }
          return success();
        }) {}
  const std::string &getMessage() const { return message; }

private:
  std::string message;
  ScopedDiagnosticHandler handler;
};

//===----------------------------------------------------------------------===//
// Op creation
//===----------------------------------------------------------------------===//

template <typename OpTy, typename... Args>
FailureOr<Value> OnnxImporter::createInferred(const NodeContext &node, Args &&...args) {
  OperationState state(node.loc, OpTy::getOperationName());
  // Build with a placeholder result type, then replace it by the inferred one: the
  // ODS builder that infers types aborts on failure, which a bad model must not cause.
  OpTy::build(builder, state, builder.getNoneType(), std::forward<Args>(args)...);
  state.types.clear();
  std::string message;
  bool inferred = false;
  {
    DiagnosticCapture capture(context);
    inferred = succeeded(OpTy::inferReturnTypes(
        &context, node.loc, state.operands, state.attributes.getDictionary(&context),
        state.getRawProperties(), state.regions, state.types));
    message = capture.getMessage();
  }
  if (!inferred) {
    emitNodeError(node) << "is invalid: "
                        << (message.empty() ? "result type inference failed" : message);
    return failure();
  }
  Operation *op = builder.create(state);
  if (failed(verifyCreated(node, op))) {
    return failure();
  }
  return op->getResult(0);
}

template <typename OpTy, typename... Args>
FailureOr<Value> OnnxImporter::createTyped(const NodeContext &node, Type type, Args &&...args) {
  auto op = builder.create<OpTy>(node.loc, type, std::forward<Args>(args)...);
  if (failed(verifyCreated(node, op))) {
    return failure();
  }
  return op->getResult(0);
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

FailureOr<Value> OnnxImporter::reshapeTo(const NodeContext &node, Value input,
                                         ArrayRef<int64_t> shape) {
  auto inputType = cast<RankedTensorType>(input.getType());
  return createTyped<graph::ReshapeOp>(
      node, RankedTensorType::get(shape, inputType.getElementType()), input);
}

//===----------------------------------------------------------------------===//
// Node helpers
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::checkArity(const NodeContext &node, int minInputs, int maxInputs) {
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
  if (node.node->output_size() != 1 || node.node->output(0).empty()) {
    return emitNodeError(node) << "has " << node.node->output_size()
                               << " outputs; Conveyor's importer handles exactly 1";
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

FailureOr<Value> OnnxImporter::getInput(const NodeContext &node, int index) {
  const std::string &name = node.node->input(index);
  auto it = values.find(name);
  if (it == values.end()) {
    return emitNodeError(node) << "reads '" << name
                               << "', which no graph input, initializer or earlier node "
                                  "produces (is the graph topologically sorted?)";
  }
  return it->second;
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

LogicalResult OnnxImporter::defineOutput(const NodeContext &node, Value value) {
  const std::string &name = node.node->output(0);
  if (!values.try_emplace(name, value).second) {
    return emitNodeError(node) << "writes '" << name
                               << "', which is already defined (ONNX values are assigned once)";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Per-op importers
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importBinary(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  FailureOr<Value> lhs = getInput(node, 0);
  FailureOr<Value> rhs = failed(lhs) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(rhs)) {
    return failure();
  }
  StringRef opType = node.node->op_type();
  FailureOr<Value> result = failure();
  if (opType == "Add") {
    result = createInferred<graph::AddOp>(node, *lhs, *rhs);
  } else if (opType == "Sub") {
    result = createInferred<graph::SubOp>(node, *lhs, *rhs);
  } else if (opType == "Mul") {
    result = createInferred<graph::MulOp>(node, *lhs, *rhs);
  } else {
    result = createInferred<graph::DivOp>(node, *lhs, *rhs);
  }
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importMatMul(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  FailureOr<Value> lhs = getInput(node, 0);
  FailureOr<Value> rhs = failed(lhs) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(rhs)) {
    return failure();
  }
  auto lhsType = cast<RankedTensorType>(lhs->getType());
  auto rhsType = cast<RankedTensorType>(rhs->getType());
  if (lhsType.getRank() == 0 || rhsType.getRank() == 0) {
    return emitNodeError(node) << "has a rank-0 operand; MatMul needs rank >= 1";
  }
  // numpy matmul semantics for vectors: [K] is [1, K] on the left and [K, 1] on the
  // right, and the added dimension is removed from the result afterwards.
  bool lhsIsVector = lhsType.getRank() == 1;
  bool rhsIsVector = rhsType.getRank() == 1;
  if (lhsIsVector && lhsType.hasStaticShape()) {
    lhs = reshapeTo(node, *lhs, {1, lhsType.getDimSize(0)});
  }
  if (succeeded(lhs) && rhsIsVector && rhsType.hasStaticShape()) {
    rhs = reshapeTo(node, *rhs, {rhsType.getDimSize(0), 1});
  }
  if (failed(lhs) || failed(rhs)) {
    return failure();
  }
  FailureOr<Value> result = createInferred<graph::MatMulOp>(node, *lhs, *rhs);
  if (failed(result)) {
    return failure();
  }
  if (lhsIsVector || rhsIsVector) {
    auto resultType = cast<RankedTensorType>(result->getType());
    SmallVector<int64_t> shape(resultType.getShape());
    int64_t rank = static_cast<int64_t>(shape.size());
    if (rhsIsVector) {
      shape.erase(shape.begin() + rank - 1);
    }
    if (lhsIsVector) {
      shape.erase(shape.begin() + rank - 2);
    }
    result = reshapeTo(node, *result, shape);
    if (failed(result)) {
      return failure();
    }
  }
  return defineOutput(node, *result);
}

LogicalResult OnnxImporter::importGemm(const NodeContext &node) {
  if (failed(checkArity(node, 2, 3)) ||
      failed(checkAttributes(node, {"alpha", "beta", "transA", "transB"}))) {
    return failure();
  }
  FailureOr<Value> a = getInput(node, 0);
  FailureOr<Value> b = failed(a) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(b)) {
    return failure();
  }
  Value c;
  if (node.node->input_size() > 2 && !node.node->input(2).empty()) {
    FailureOr<Value> cValue = getInput(node, 2);
    if (failed(cValue)) {
      return failure();
    }
    c = *cValue;
  }
  FailureOr<float> alpha = getFloatAttribute(node, "alpha", 1.0f);
  FailureOr<float> beta = getFloatAttribute(node, "beta", 1.0f);
  FailureOr<int64_t> transA = getIntAttribute(node, "transA", 0);
  FailureOr<int64_t> transB = getIntAttribute(node, "transB", 0);
  if (failed(alpha) || failed(beta) || failed(transA) || failed(transB)) {
    return failure();
  }
  FailureOr<Value> result = createInferred<graph::GemmOp>(
      node, *a, *b, c, llvm::APFloat(*alpha), llvm::APFloat(*beta), *transA != 0, *transB != 0);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importUnary(const NodeContext &node) {
  StringRef opType = node.node->op_type();
  bool isGelu = opType == "Gelu";
  bool microsoftGelu = isGelu && node.domain == "com.microsoft";
  if (failed(checkArity(node, 1, 1)) ||
      failed(checkAttributes(node, isGelu && !microsoftGelu
                                       ? std::initializer_list<StringRef>{"approximate"}
                                       : std::initializer_list<StringRef>{}))) {
    return failure();
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  FailureOr<Value> result = failure();
  if (!isGelu) {
    result = createInferred<graph::ReluOp>(node, *input);
  } else {
    if (!microsoftGelu && node.opset < 20) {
      return emitNodeError(node) << "needs default-domain opset >= 20 (Gelu joined the "
                                    "standard in opset 20); re-export with opset >= 20 or use "
                                    "com.microsoft Gelu";
    }
    std::string approximate = "none";
    if (const onnx::AttributeProto *attribute = findAttribute(node, "approximate")) {
      if (attribute->type() != onnx::AttributeProto::STRING) {
        return emitNodeError(node) << "has attribute 'approximate' of the wrong type; expected "
                                      "STRING";
      }
      approximate = attribute->s();
    }
    result = createInferred<graph::GeluOp>(node, *input, StringRef(approximate));
  }
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importSoftmax(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"axis"}))) {
    return failure();
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  // Before opset 13 Softmax flattened the input to 2-D at `axis` (default 1); that equals
  // a single-axis softmax only when the axis is the last one.
  bool legacy = node.opset < 13;
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", legacy ? 1 : -1);
  if (failed(axis)) {
    return failure();
  }
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  if (legacy && rank > 0) {
    int64_t normalized = *axis < 0 ? *axis + rank : *axis;
    if (normalized != rank - 1) {
      return emitNodeError(node)
             << "uses pre-opset-13 Softmax semantics (flatten at axis " << *axis << ") on a rank-"
             << rank
             << " input, which Conveyor's importer supports only for the last axis; "
                "re-export with opset >= 13";
    }
  }
  FailureOr<Value> result =
      createInferred<graph::SoftmaxOp>(node, *input, static_cast<uint64_t>(*axis));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importReshape(const NodeContext &node) {
  bool legacy = node.opset < 5; // before opset 5 the shape was an attribute
  if (failed(checkArity(node, legacy ? 1 : 2, legacy ? 1 : 2)) ||
      failed(checkAttributes(node, legacy ? std::initializer_list<StringRef>{"shape"}
                                          : std::initializer_list<StringRef>{"allowzero"}))) {
    return failure();
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  SmallVector<int64_t> requested;
  if (legacy) {
    const onnx::AttributeProto *attribute = findAttribute(node, "shape");
    if (!attribute || attribute->type() != onnx::AttributeProto::INTS) {
      return emitNodeError(node) << "needs an INTS attribute 'shape'";
    }
    requested.assign(attribute->ints().begin(), attribute->ints().end());
  } else {
    FailureOr<Value> shapeValue = getInput(node, 1);
    if (failed(shapeValue)) {
      return failure();
    }
    auto constant = shapeValue->getDefiningOp<graph::ConstantOp>();
    auto data = constant ? dyn_cast<DenseIntElementsAttr>(constant.getValue()) : nullptr;
    if (!data) {
      return emitNodeError(node) << "takes its shape from '" << node.node->input(1)
                                 << "', which is not a constant; Conveyor's importer needs "
                                    "the shape as an initializer or Constant node";
    }
    if (data.getType().getRank() != 1 || !data.getElementType().isInteger(64)) {
      return emitNodeError(node) << "has shape input '" << node.node->input(1) << "' of type "
                                 << data.getType() << "; it must be a 1-D INT64 tensor";
    }
    requested.assign(data.getValues<int64_t>().begin(), data.getValues<int64_t>().end());
  }
  FailureOr<int64_t> allowZero = getIntAttribute(node, "allowzero", 0);
  if (failed(allowZero)) {
    return failure();
  }
  auto inputType = cast<RankedTensorType>(input->getType());
  if (!inputType.hasStaticShape()) {
    return emitNodeError(node) << "reshapes a tensor of dynamic shape " << inputType
                               << "; Conveyor's importer needs static shapes";
  }
  // Resolve 0 (copy the input dimension) and -1 (whatever is left) statically.
  SmallVector<int64_t> shape;
  int64_t inferredIndex = -1;
  int64_t knownProduct = 1;
  for (auto [index, dim] : llvm::enumerate(requested)) {
    if (dim == 0 && *allowZero == 0) {
      if (static_cast<int64_t>(index) >= inputType.getRank()) {
        return emitNodeError(node)
               << "has shape entry " << index << " = 0 (copy the input dimension) but the input "
               << formatShape(inputType.getShape()) << " has rank " << inputType.getRank();
      }
      dim = inputType.getDimSize(index);
    } else if (dim == -1) {
      if (inferredIndex >= 0) {
        return emitNodeError(node) << "has more than one -1 in shape " << formatShape(requested);
      }
      inferredIndex = static_cast<int64_t>(index);
      shape.push_back(1);
      continue;
    } else if (dim < 0) {
      return emitNodeError(node) << "has shape entry " << index << " = " << dim
                                 << "; only -1 may be negative";
    }
    shape.push_back(dim);
    knownProduct *= dim;
  }
  int64_t total = inputType.getNumElements();
  if (inferredIndex >= 0) {
    if (knownProduct == 0 || total % knownProduct != 0) {
      return emitNodeError(node) << "cannot reshape " << formatShape(inputType.getShape()) << " ("
                                 << total << " elements) to " << formatShape(requested);
    }
    shape[inferredIndex] = total / knownProduct;
  }
  FailureOr<Value> result = reshapeTo(node, *input, shape);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importTranspose(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"perm"}))) {
    return failure();
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  SmallVector<int64_t> perm;
  if (const onnx::AttributeProto *attribute = findAttribute(node, "perm")) {
    if (attribute->type() != onnx::AttributeProto::INTS) {
      return emitNodeError(node) << "has attribute 'perm' of the wrong type; expected INTS";
    }
    perm.assign(attribute->ints().begin(), attribute->ints().end());
  } else {
    // ONNX's default reverses the dimensions.
    for (int64_t dim = rank - 1; dim >= 0; --dim) {
      perm.push_back(dim);
    }
  }
  FailureOr<Value> result =
      createInferred<graph::TransposeOp>(node, *input, ArrayRef<int64_t>(perm));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importIdentity(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  FailureOr<Value> input = getInput(node, 0);
  return failed(input) ? failure() : defineOutput(node, *input);
}

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
  FailureOr<Value> result = createTyped<graph::ConstantOp>(node, data->getType(), *data,
                                                           b.getStringAttr(node.node->output(0)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Graph
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::dispatchNode(const NodeContext &node) {
  StringRef opType = node.node->op_type();
  if (node.domain.empty()) {
    if (opType == "Add" || opType == "Sub" || opType == "Mul" || opType == "Div") {
      return importBinary(node);
    }
    if (opType == "MatMul") {
      return importMatMul(node);
    }
    if (opType == "Gemm") {
      return importGemm(node);
    }
    if (opType == "Relu" || opType == "Gelu") {
      return importUnary(node);
    }
    if (opType == "Softmax") {
      return importSoftmax(node);
    }
    if (opType == "Reshape") {
      return importReshape(node);
    }
    if (opType == "Transpose") {
      return importTranspose(node);
    }
    if (opType == "Identity") {
      return importIdentity(node);
    }
    if (opType == "Constant") {
      return importConstant(node);
    }
  } else if (node.domain == "com.microsoft" && opType == "Gelu") {
    return importUnary(node);
  }
  return emitNodeError(node) << "is not supported by Conveyor's importer; supported ops: "
                             << supportedOpList;
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

FailureOr<RankedTensorType> OnnxImporter::convertGraphInputType(const onnx::ValueInfoProto &input) {
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
                           << "' has no shape; Conveyor's importer needs static shapes";
  }
  SmallVector<int64_t> shape;
  for (auto [index, dim] : llvm::enumerate(tensorType.shape().dim())) {
    if (dim.has_dim_value() && dim.dim_value() >= 0) {
      shape.push_back(dim.dim_value());
      continue;
    }
    InFlightDiagnostic diag = emitFileError();
    diag << "graph input '" << name << "' dimension " << index;
    if (dim.has_dim_param()) {
      diag << " is symbolic ('" << dim.dim_param() << "')";
    } else if (dim.has_dim_value()) {
      diag << " is negative (" << dim.dim_value() << ")";
    } else {
      diag << " is unknown";
    }
    diag << "; Conveyor's importer needs static shapes for now: give it a fixed size";
    return failure();
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
  bool mismatch = declared.shape().dim_size() != computed.getRank();
  for (int i = 0; !mismatch && i < declared.shape().dim_size(); ++i) {
    const auto &dim = declared.shape().dim(i);
    mismatch = dim.has_dim_value() && dim.dim_value() != computed.getDimSize(i);
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
  SmallVector<graph::ConstantOp> unused;
  for (Operation &op : *builder.getInsertionBlock()) {
    if (auto constant = dyn_cast<graph::ConstantOp>(op); constant && constant->use_empty()) {
      unused.push_back(constant);
    }
  }
  for (graph::ConstantOp constant : unused) {
    constant->erase();
  }
}

OwningOpRef<ModuleOp> OnnxImporter::importModel(StringRef bytes) {
  context.loadDialect<graph::GraphDialect, func::FuncDialect>();
  if (bytes.empty()) {
    emitFileError() << "file is empty; expected an ONNX model";
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
  for (const onnx::ValueInfoProto &input : graphProto.input()) {
    if (initializerNames.contains(input.name())) {
      continue;
    }
    FailureOr<RankedTensorType> type = convertGraphInputType(input);
    if (failed(type)) {
      return nullptr;
    }
    argumentTypes.push_back(*type);
    argumentNames.push_back(input.name());
  }

  builder.setInsertionPointToEnd(module->getBody());
  auto func =
      builder.create<func::FuncOp>(fileLoc, "main", builder.getFunctionType(argumentTypes, {}));
  Block *body = func.addEntryBlock();
  for (auto [index, name] : llvm::enumerate(argumentNames)) {
    func.setArgAttr(index, "cv.name", builder.getStringAttr(name));
    body->getArgument(index).setLoc(NameLoc::get(builder.getStringAttr(name), fileLoc));
    values[name] = body->getArgument(index);
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
    auto it = values.find(output.name());
    if (it == values.end()) {
      emitFileError() << "graph output '" << output.name()
                      << "' is not produced by any node, input or initializer";
      return nullptr;
    }
    if (failed(checkGraphOutputType(output, it->second))) {
      return nullptr;
    }
    results.push_back(it->second);
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

} // namespace

/// Escapes control characters so that a message stays on one line even when it quotes
/// names from a damaged model.
static std::string escapeControlCharacters(StringRef text) {
  std::string escaped;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      escaped += llvm::formatv("\\x{0:x-2}", static_cast<unsigned>(byte)).str();
    } else {
      escaped += c;
    }
  }
  return escaped;
}

OwningOpRef<ModuleOp> importOnnxBytes(MLIRContext &context, StringRef bytes, StringRef sourceName) {
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
    OnnxImporter importer(context, sourceName);
    module = importer.importModel(bytes);
  }
  if (!module) {
    Location loc = errorLoc.value_or(FileLineColLoc::get(&context, sourceName, 0, 0));
    mlir::emitError(loc) << (errorMessage.empty() ? std::string("ONNX import failed")
                                                  : escapeControlCharacters(errorMessage));
  }
  return module;
}

OwningOpRef<ModuleOp> importOnnxFile(MLIRContext &context, StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    mlir::emitError(FileLineColLoc::get(&context, path, 0, 0))
        << "cannot read ONNX model '" << path << "': " << buffer.getError().message();
    return nullptr;
  }
  return importOnnxBytes(context, (*buffer)->getBuffer(), path);
}

} // namespace conveyor::frontend
