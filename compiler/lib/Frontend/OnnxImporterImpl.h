// The ONNX importer's internal class, shared by the files that import each op family.
#pragma once

#include "HostTensor.h"
#include "OnnxTensors.h"

#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/SymbolicDim.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>

namespace conveyor::frontend::detail {

/// Formats a shape as "[2, ?, 4]" for messages.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Describes the node being imported, for the location and message prefix.
struct NodeContext {
  const onnx::NodeProto *node = nullptr;
  int index = 0;
  std::string domain; // "" for the default domain
  int64_t opset = 0;
  mlir::Location loc;

  llvm::StringRef opType() const { return node->op_type(); }
};

/// Walks one ModelProto and builds the cv.graph module. Per-op importers live in
/// ImportMath.cpp (elementwise, reductions, normalisation, products) and
/// ImportTensor.cpp (shape, layout, indexing); graph-level work in OnnxImporter.cpp.
class OnnxImporter {
public:
  OnnxImporter(mlir::MLIRContext &context, llvm::StringRef sourceName,
               const ImportOptions &options);

  mlir::OwningOpRef<mlir::ModuleOp> importModel(llvm::StringRef bytes);

  /// Nodes whose inputs and results stay below this many elements are evaluated at
  /// import time when all their inputs are known; bigger ones become cv.graph ops.
  static constexpr int64_t kMaxFoldElements = int64_t{1} << 22;

  //===--------------------------------------------------------------------===//
  // Helpers for the per-op importers
  //===--------------------------------------------------------------------===//

  mlir::InFlightDiagnostic emitNodeError(const NodeContext &node);
  /// Checks input and output counts (trailing empty names are absent optionals).
  mlir::LogicalResult checkArity(const NodeContext &node, int minInputs, int maxInputs,
                                 int minOutputs = 1, int maxOutputs = 1);
  mlir::LogicalResult checkAttributes(const NodeContext &node,
                                      std::initializer_list<llvm::StringRef> known);
  /// True when optional input `index` is given (present with a non-empty name).
  bool hasInput(const NodeContext &node, int index) const;
  /// True when optional output `index` is wanted (present with a non-empty name).
  bool hasOutput(const NodeContext &node, int index) const;

  /// The input as an IR value; a value known only at import time becomes a constant.
  mlir::FailureOr<mlir::Value> getInput(const NodeContext &node, int index);
  /// The input's value when known at import time (a constant, a folded result, a
  /// shape), else null.
  const HostTensor *getHostInput(const NodeContext &node, int index);
  /// Like getHostInput, but an error (naming `what`) when the value is not known.
  const HostTensor *requireHostInput(const NodeContext &node, int index, llvm::StringRef what);
  /// The input's shape with symbolic dimensions, from its type or its host value.
  mlir::FailureOr<llvm::SmallVector<graph::DimExpr>> getInputShape(const NodeContext &node,
                                                                   int index);
  /// The input's element type.
  mlir::FailureOr<mlir::Type> getInputElementType(const NodeContext &node, int index);
  /// The input's rank.
  mlir::FailureOr<int64_t> getInputRank(const NodeContext &node, int index);

  const onnx::AttributeProto *findAttribute(const NodeContext &node, llvm::StringRef name);
  mlir::FailureOr<int64_t> getIntAttribute(const NodeContext &node, llvm::StringRef name,
                                           int64_t defaultValue);
  mlir::FailureOr<float> getFloatAttribute(const NodeContext &node, llvm::StringRef name,
                                           float defaultValue);
  mlir::FailureOr<std::string> getStringAttribute(const NodeContext &node, llvm::StringRef name,
                                                  llvm::StringRef defaultValue);
  /// An INTS attribute, or std::nullopt inside the FailureOr when it is absent.
  mlir::FailureOr<std::optional<llvm::SmallVector<int64_t>>>
  getIntsAttribute(const NodeContext &node, llvm::StringRef name);
  /// Normalises an axis in [-rank, rank) to [0, rank), or reports it.
  mlir::FailureOr<int64_t> normalizeAxis(const NodeContext &node, int64_t axis, int64_t rank,
                                         llvm::StringRef what = "axis");

  mlir::LogicalResult defineOutput(const NodeContext &node, mlir::Value value, int index = 0);
  mlir::LogicalResult defineHostOutput(const NodeContext &node, HostTensor value, int index = 0);
  /// Defines output `index` from a kernel's result, or reports why it failed.
  mlir::LogicalResult defineFolded(const NodeContext &node, HostResult result, int index = 0);

  /// True when every given input of the node is known at import time and small enough
  /// to fold.
  bool allInputsKnown(const NodeContext &node);

  /// Creates an op whose result types the op infers (InferTypeOpInterface); shape
  /// errors become one error naming the node.
  template <typename OpTy, typename... Args>
  mlir::FailureOr<mlir::Operation *> createInferred(const NodeContext &node, Args &&...args);
  /// Creates an op with an explicit result type, then verifies it.
  template <typename OpTy, typename... Args>
  mlir::FailureOr<mlir::Value> createTyped(const NodeContext &node, mlir::Type type,
                                           Args &&...args);
  /// A reshape to `shape` (symbolic entries become `?` and are named in `cv.dims`).
  mlir::FailureOr<mlir::Value> reshapeTo(const NodeContext &node, mlir::Value input,
                                         llvm::ArrayRef<graph::DimExpr> shape);
  mlir::FailureOr<mlir::Value> reshapeTo(const NodeContext &node, mlir::Value input,
                                         llvm::ArrayRef<int64_t> shape);
  /// An expand of `input` to `shape` (symbolic entries as for reshapeTo).
  mlir::FailureOr<mlir::Value> expandTo(const NodeContext &node, mlir::Value input,
                                        llvm::ArrayRef<graph::DimExpr> shape);
  /// A constant op holding `value` (named after `name`); a symbolic value becomes a
  /// cv.graph.dim_value op.
  mlir::Value materialize(const HostTensor &value, llvm::StringRef name);
  /// The 1-D tensor 0..n-1 of `elementType` (n may be symbolic).
  mlir::FailureOr<mlir::Value> createIota(const NodeContext &node, const graph::DimExpr &n,
                                          mlir::Type elementType);

  /// The symbolic shape of an IR value.
  llvm::SmallVector<graph::DimExpr> getSymbolicShape(mlir::Value value);

  mlir::MLIRContext &context;
  mlir::OpBuilder builder;

  //===--------------------------------------------------------------------===//
  // Per-op importers (ImportMath.cpp)
  //===--------------------------------------------------------------------===//

  mlir::LogicalResult importUnary(const NodeContext &node);
  mlir::LogicalResult importBinary(const NodeContext &node);
  mlir::LogicalResult importClip(const NodeContext &node);
  mlir::LogicalResult importCompare(const NodeContext &node);
  mlir::LogicalResult importWhere(const NodeContext &node);
  mlir::LogicalResult importCast(const NodeContext &node);
  mlir::LogicalResult importGelu(const NodeContext &node);
  mlir::LogicalResult importSoftmax(const NodeContext &node);
  mlir::LogicalResult importReduce(const NodeContext &node);
  mlir::LogicalResult importArgMax(const NodeContext &node);
  mlir::LogicalResult importLayerNorm(const NodeContext &node);
  mlir::LogicalResult importMatMul(const NodeContext &node);
  mlir::LogicalResult importGemm(const NodeContext &node);
  mlir::LogicalResult importTopK(const NodeContext &node);
  mlir::LogicalResult importTrilu(const NodeContext &node);

  //===--------------------------------------------------------------------===//
  // Per-op importers (ImportTensor.cpp)
  //===--------------------------------------------------------------------===//

  mlir::LogicalResult importConstant(const NodeContext &node);
  mlir::LogicalResult importIdentity(const NodeContext &node);
  mlir::LogicalResult importShape(const NodeContext &node);
  mlir::LogicalResult importSize(const NodeContext &node);
  mlir::LogicalResult importConstantOfShape(const NodeContext &node);
  mlir::LogicalResult importRange(const NodeContext &node);
  mlir::LogicalResult importReshape(const NodeContext &node);
  mlir::LogicalResult importFlatten(const NodeContext &node);
  mlir::LogicalResult importSqueeze(const NodeContext &node);
  mlir::LogicalResult importUnsqueeze(const NodeContext &node);
  mlir::LogicalResult importTranspose(const NodeContext &node);
  mlir::LogicalResult importConcat(const NodeContext &node);
  mlir::LogicalResult importSplit(const NodeContext &node);
  mlir::LogicalResult importSlice(const NodeContext &node);
  mlir::LogicalResult importGather(const NodeContext &node);
  mlir::LogicalResult importGatherElements(const NodeContext &node);
  mlir::LogicalResult importScatterElements(const NodeContext &node);
  mlir::LogicalResult importExpand(const NodeContext &node);
  mlir::LogicalResult importTile(const NodeContext &node);

private:
  mlir::InFlightDiagnostic emitFileError() { return mlir::emitError(fileLoc); }
  std::string nodeLabel(const NodeContext &node) const;
  mlir::LogicalResult verifyCreated(const NodeContext &node, mlir::Operation *op);
  /// Records the symbolic shapes of a new op's dynamic results.
  void propagateSymbolicDims(mlir::Operation *op);
  void setSymbolicShape(mlir::Value value, llvm::ArrayRef<graph::DimExpr> shape);
  /// The value named `name` as IR, materialising a host value if needed (null if none).
  mlir::Value lookupValue(llvm::StringRef name);

  mlir::LogicalResult readOpsets(const onnx::ModelProto &model);
  mlir::LogicalResult importInitializers(const onnx::GraphProto &graph);
  mlir::FailureOr<mlir::RankedTensorType>
  convertGraphInputType(const onnx::ValueInfoProto &input,
                        llvm::SmallVectorImpl<graph::DimExpr> &dims);
  mlir::LogicalResult checkGraphOutputType(const onnx::ValueInfoProto &output, mlir::Value value);
  mlir::LogicalResult importNode(const onnx::NodeProto &node, int index);
  mlir::LogicalResult dispatchNode(const NodeContext &node);
  void eraseUnusedConstants();

  std::string sourceName;
  mlir::Location fileLoc;
  const ImportOptions &options;
  /// Opset version per domain ("" is the default domain).
  llvm::StringMap<int64_t> opsets;
  /// ONNX value name -> the MLIR value holding it.
  llvm::StringMap<mlir::Value> values;
  /// ONNX value name -> its value when known at import time.
  llvm::StringMap<HostTensor> hostValues;
  /// Symbolic shapes of IR values that have dynamic dimensions.
  llvm::DenseMap<mlir::Value, llvm::SmallVector<graph::DimExpr>> symbolicShapes;
  /// Per-op import functions, by "domain:op_type".
  using Handler = mlir::LogicalResult (OnnxImporter::*)(const NodeContext &);
  llvm::StringMap<Handler> handlers;
};

//===----------------------------------------------------------------------===//
// Template definitions
//===----------------------------------------------------------------------===//

/// Collects the error diagnostics raised while it is alive instead of printing them,
/// so the importer can re-report them as one line that names the ONNX node.
class DiagnosticCapture {
public:
  explicit DiagnosticCapture(mlir::MLIRContext &context);
  const std::string &getMessage() const { return message; }

private:
  std::string message;
  mlir::ScopedDiagnosticHandler handler;
};

template <typename OpTy, typename... Args>
mlir::FailureOr<mlir::Operation *> OnnxImporter::createInferred(const NodeContext &node,
                                                                Args &&...args) {
  mlir::OperationState state(node.loc, OpTy::getOperationName());
  // Build with a placeholder result type, then replace it by the inferred ones: the
  // ODS builder that infers types aborts on failure, which a bad model must not cause.
  OpTy::build(builder, state, mlir::TypeRange{builder.getNoneType()}, std::forward<Args>(args)...);
  state.types.clear();
  std::string message;
  bool inferred = false;
  {
    DiagnosticCapture capture(context);
    inferred = mlir::succeeded(OpTy::inferReturnTypes(
        &context, node.loc, state.operands, state.attributes.getDictionary(&context),
        state.getRawProperties(), state.regions, state.types));
    message = capture.getMessage();
  }
  if (!inferred) {
    emitNodeError(node) << "is invalid: "
                        << (message.empty() ? "result type inference failed" : message);
    return mlir::failure();
  }
  mlir::Operation *op = builder.create(state);
  if (mlir::failed(verifyCreated(node, op))) {
    return mlir::failure();
  }
  propagateSymbolicDims(op);
  return op;
}

template <typename OpTy, typename... Args>
mlir::FailureOr<mlir::Value> OnnxImporter::createTyped(const NodeContext &node, mlir::Type type,
                                                       Args &&...args) {
  auto op = builder.create<OpTy>(node.loc, type, std::forward<Args>(args)...);
  if (mlir::failed(verifyCreated(node, op))) {
    return mlir::failure();
  }
  propagateSymbolicDims(op);
  return op->getResult(0);
}

/// The first result of a created op, or failure if creating it failed.
inline mlir::FailureOr<mlir::Value> firstResult(mlir::FailureOr<mlir::Operation *> op) {
  if (mlir::failed(op)) {
    return mlir::failure();
  }
  return (*op)->getResult(0);
}

} // namespace conveyor::frontend::detail
