// ONNX importers for computing ops: elementwise math, comparisons, where, cast,
// softmax, reductions, normalisation, matrix products, top-k and trilu. Each one folds
// the node at import time when every input is known, else emits cv.graph ops.
#include "OnnxImporterImpl.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
namespace graph = conveyor::graph;
using graph::DimExpr;

namespace conveyor::frontend::detail {

namespace {

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importUnary(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  HostUnary kind = llvm::StringSwitch<HostUnary>(node.opType())
                       .Case("Neg", HostUnary::Neg)
                       .Case("Abs", HostUnary::Abs)
                       .Case("Not", HostUnary::Not)
                       .Case("Sqrt", HostUnary::Sqrt)
                       .Case("Reciprocal", HostUnary::Reciprocal)
                       .Case("Exp", HostUnary::Exp)
                       .Case("Log", HostUnary::Log)
                       .Case("Cos", HostUnary::Cos)
                       .Case("Sin", HostUnary::Sin)
                       .Case("Tanh", HostUnary::Tanh)
                       .Case("Sigmoid", HostUnary::Sigmoid)
                       .Case("Erf", HostUnary::Erf)
                       .Case("Relu", HostUnary::Relu)
                       .Case("Floor", HostUnary::Floor)
                       .Default(HostUnary::Ceil);
  if (allInputsKnown(node)) {
    return defineFolded(node, hostUnary(kind, *getHostInput(node, 0)));
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  FailureOr<Operation *> op = failure();
  switch (kind) {
  case HostUnary::Neg:
    op = createInferred<graph::NegOp>(node, *input);
    break;
  case HostUnary::Abs:
    op = createInferred<graph::AbsOp>(node, *input);
    break;
  case HostUnary::Not:
    op = createInferred<graph::NotOp>(node, *input);
    break;
  case HostUnary::Sqrt:
    op = createInferred<graph::SqrtOp>(node, *input);
    break;
  case HostUnary::Reciprocal:
    op = createInferred<graph::ReciprocalOp>(node, *input);
    break;
  case HostUnary::Exp:
    op = createInferred<graph::ExpOp>(node, *input);
    break;
  case HostUnary::Log:
    op = createInferred<graph::LogOp>(node, *input);
    break;
  case HostUnary::Cos:
    op = createInferred<graph::CosOp>(node, *input);
    break;
  case HostUnary::Sin:
    op = createInferred<graph::SinOp>(node, *input);
    break;
  case HostUnary::Tanh:
    op = createInferred<graph::TanhOp>(node, *input);
    break;
  case HostUnary::Sigmoid:
    op = createInferred<graph::SigmoidOp>(node, *input);
    break;
  case HostUnary::Erf:
    op = createInferred<graph::ErfOp>(node, *input);
    break;
  case HostUnary::Relu:
    op = createInferred<graph::ReluOp>(node, *input);
    break;
  case HostUnary::Floor:
  case HostUnary::Ceil:
    return emitNodeError(node) << "computes on run-time values; Conveyor's importer supports "
                                  "it only on values known at import time";
  }
  FailureOr<Value> result = firstResult(op);
  return failed(result) ? failure() : defineOutput(node, *result);
}

/// Creates the cv.graph op for a two-operand elementwise node.
static FailureOr<Operation *> createBinary(OnnxImporter &importer, const NodeContext &node,
                                           HostBinary kind, Value lhs, Value rhs) {
  switch (kind) {
  case HostBinary::Add:
    return importer.createInferred<graph::AddOp>(node, lhs, rhs);
  case HostBinary::Sub:
    return importer.createInferred<graph::SubOp>(node, lhs, rhs);
  case HostBinary::Mul:
    return importer.createInferred<graph::MulOp>(node, lhs, rhs);
  case HostBinary::Div:
    return importer.createInferred<graph::DivOp>(node, lhs, rhs);
  case HostBinary::Pow:
    return importer.createInferred<graph::PowOp>(node, lhs, rhs);
  case HostBinary::Max:
    return importer.createInferred<graph::MaxOp>(node, lhs, rhs);
  case HostBinary::Min:
    return importer.createInferred<graph::MinOp>(node, lhs, rhs);
  case HostBinary::And:
    return importer.createInferred<graph::AndOp>(node, lhs, rhs);
  case HostBinary::Or:
    return importer.createInferred<graph::OrOp>(node, lhs, rhs);
  case HostBinary::Mod:
  case HostBinary::Xor:
    break;
  }
  importer.emitNodeError(node) << "computes on run-time values; Conveyor's importer supports "
                                  "it only on values known at import time";
  return failure();
}

LogicalResult OnnxImporter::importBinary(const NodeContext &node) {
  StringRef opType = node.opType();
  bool variadic = opType == "Max" || opType == "Min";
  if (failed(checkArity(node, variadic ? 1 : 2, variadic ? 64 : 2)) ||
      failed(checkAttributes(node, opType == "Mod" ? std::initializer_list<StringRef>{"fmod"}
                                                   : std::initializer_list<StringRef>{}))) {
    return failure();
  }
  HostBinary kind = llvm::StringSwitch<HostBinary>(opType)
                        .Case("Add", HostBinary::Add)
                        .Case("Sub", HostBinary::Sub)
                        .Case("Mul", HostBinary::Mul)
                        .Case("Div", HostBinary::Div)
                        .Case("Pow", HostBinary::Pow)
                        .Case("Max", HostBinary::Max)
                        .Case("Min", HostBinary::Min)
                        .Case("Mod", HostBinary::Mod)
                        .Case("And", HostBinary::And)
                        .Case("Or", HostBinary::Or)
                        .Default(HostBinary::Xor);
  int inputCount = node.node->input_size();
  if (allInputsKnown(node)) {
    HostResult folded = *getHostInput(node, 0);
    for (int i = 1; i < inputCount && folded; ++i) {
      const HostTensor *rhs = getHostInput(node, i);
      if (rhs->getElementType() != folded.value->getElementType() && kind == HostBinary::Pow) {
        // Pow may raise to an exponent of another type; compute in the base's type.
        HostResult exponent = hostCast(*rhs, folded.value->getElementType());
        folded = exponent ? hostBinary(kind, *folded.value, *exponent.value) : exponent;
      } else {
        folded = hostBinary(kind, *folded.value, *rhs);
      }
    }
    if (folded) {
      return defineFolded(node, std::move(folded));
    }
    // Symbolic shape math that DimExpr cannot express falls through to an error when
    // the operands turn out to be needed as data.
    if (llvm::none_of(node.node->input(), [&](const std::string &name) {
          return hostValues.count(name) && hostValues[name].isSymbolic();
        })) {
      return defineFolded(node, std::move(folded));
    }
  }
  FailureOr<Value> result = getInput(node, 0);
  for (int i = 1; i < inputCount && succeeded(result); ++i) {
    FailureOr<Value> rhs = failure();
    auto resultElementType = cast<RankedTensorType>(result->getType()).getElementType();
    const HostTensor *hostRhs = getHostInput(node, i);
    if (hostRhs && kind == HostBinary::Pow && hostRhs->getElementType() != resultElementType &&
        !hostRhs->isSymbolic()) {
      // x ^ 2 with an integer 2: store the exponent in x's type.
      HostResult exponent = hostCast(*hostRhs, resultElementType);
      if (!exponent) {
        return defineFolded(node, std::move(exponent));
      }
      rhs = materialize(*exponent.value, node.node->input(i));
    } else {
      rhs = getInput(node, i);
    }
    result = failed(rhs) ? FailureOr<Value>(failure())
                         : firstResult(createBinary(*this, node, kind, *result, *rhs));
  }
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importClip(const NodeContext &node) {
  // Bounds are optional inputs since opset 11 (attributes before); either may be absent.
  bool legacy = node.opset < 11;
  if (failed(checkArity(node, 1, legacy ? 1 : 3)) ||
      failed(checkAttributes(node, legacy ? std::initializer_list<StringRef>{"min", "max"}
                                          : std::initializer_list<StringRef>{}))) {
    return failure();
  }
  FailureOr<Type> elementType = getInputElementType(node, 0);
  if (failed(elementType)) {
    return failure();
  }
  std::optional<HostTensor> bounds[2];
  for (int i = 0; i < 2; ++i) {
    if (legacy) {
      if (findAttribute(node, i == 0 ? "min" : "max")) {
        FailureOr<float> bound = getFloatAttribute(node, i == 0 ? "min" : "max", 0.0f);
        if (failed(bound)) {
          return failure();
        }
        bounds[i] = HostTensor::fromFloats(*elementType, {}, {*bound});
      }
    } else if (hasInput(node, i + 1)) {
      const HostTensor *bound = getHostInput(node, i + 1);
      if (!bound) {
        return emitNodeError(node)
               << "takes its " << (i == 0 ? "min" : "max") << " from '" << node.node->input(i + 1)
               << "', which is not known at import time";
      }
      bounds[i] = *bound;
    }
  }
  // clip(x) = min(max(x, lo), hi), folded when x is known.
  if (const HostTensor *input = getHostInput(node, 0);
      input && input->getNumElements() <= kMaxFoldElements) {
    HostResult result = *input;
    if (bounds[0] && result) {
      result = hostBinary(HostBinary::Max, *result.value, *bounds[0]);
    }
    if (bounds[1] && result) {
      result = hostBinary(HostBinary::Min, *result.value, *bounds[1]);
    }
    return defineFolded(node, std::move(result));
  }
  FailureOr<Value> result = getInput(node, 0);
  if (succeeded(result) && bounds[0]) {
    Value low = materialize(*bounds[0], node.node->output(0) + ".min");
    result = firstResult(createInferred<graph::MaxOp>(node, *result, low));
  }
  if (succeeded(result) && bounds[1]) {
    Value high = materialize(*bounds[1], node.node->output(0) + ".max");
    result = firstResult(createInferred<graph::MinOp>(node, *result, high));
  }
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importCompare(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  HostCompare kind = llvm::StringSwitch<HostCompare>(node.opType())
                         .Case("Equal", HostCompare::Equal)
                         .Case("Less", HostCompare::Less)
                         .Case("LessOrEqual", HostCompare::LessEqual)
                         .Case("Greater", HostCompare::Greater)
                         .Default(HostCompare::GreaterEqual);
  if (allInputsKnown(node)) {
    return defineFolded(node, hostCompare(kind, *getHostInput(node, 0), *getHostInput(node, 1)));
  }
  FailureOr<Value> lhs = getInput(node, 0);
  FailureOr<Value> rhs = failed(lhs) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(rhs)) {
    return failure();
  }
  FailureOr<Operation *> op = failure();
  switch (kind) {
  case HostCompare::Equal:
    op = createInferred<graph::EqualOp>(node, *lhs, *rhs);
    break;
  case HostCompare::Less:
    op = createInferred<graph::LessOp>(node, *lhs, *rhs);
    break;
  case HostCompare::LessEqual:
    op = createInferred<graph::LessEqualOp>(node, *lhs, *rhs);
    break;
  case HostCompare::Greater:
    op = createInferred<graph::GreaterOp>(node, *lhs, *rhs);
    break;
  case HostCompare::GreaterEqual:
    op = createInferred<graph::GreaterEqualOp>(node, *lhs, *rhs);
    break;
  }
  FailureOr<Value> result = firstResult(op);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importWhere(const NodeContext &node) {
  if (failed(checkArity(node, 3, 3)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  if (allInputsKnown(node)) {
    HostResult folded =
        hostWhere(*getHostInput(node, 0), *getHostInput(node, 1), *getHostInput(node, 2));
    if (folded || !getHostInput(node, 0)->isSymbolic()) {
      return defineFolded(node, std::move(folded));
    }
  }
  FailureOr<Value> condition = getInput(node, 0);
  FailureOr<Value> lhs = failed(condition) ? FailureOr<Value>(failure()) : getInput(node, 1);
  FailureOr<Value> rhs = failed(lhs) ? FailureOr<Value>(failure()) : getInput(node, 2);
  if (failed(rhs)) {
    return failure();
  }
  FailureOr<Value> result =
      firstResult(createInferred<graph::WhereOp>(node, *condition, *lhs, *rhs));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importCast(const NodeContext &node) {
  bool castLike = node.opType() == "CastLike";
  if (failed(checkArity(node, castLike ? 2 : 1, castLike ? 2 : 1)) ||
      failed(checkAttributes(node, castLike
                                       ? std::initializer_list<StringRef>{"saturate"}
                                       : std::initializer_list<StringRef>{"to", "saturate"}))) {
    return failure();
  }
  Type elementType;
  if (castLike) {
    FailureOr<Type> target = getInputElementType(node, 1);
    if (failed(target)) {
      return failure();
    }
    elementType = *target;
  } else {
    FailureOr<int64_t> to = getIntAttribute(node, "to", 0);
    if (failed(to)) {
      return failure();
    }
    elementType = convertElementType(context, static_cast<int32_t>(*to));
    if (!elementType) {
      return emitNodeError(node) << "casts to " << onnxDataTypeName(static_cast<int32_t>(*to))
                                 << ", which Conveyor's importer does not support (supported: "
                                 << supportedDataTypeNames() << ")";
    }
  }
  if (const HostTensor *host = getHostInput(node, 0);
      host && host->getNumElements() <= kMaxFoldElements) {
    HostResult folded = hostCast(*host, elementType);
    if (folded || !host->isSymbolic()) {
      return defineFolded(node, std::move(folded));
    }
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  auto inputType = cast<RankedTensorType>(input->getType());
  if (inputType.getElementType() == elementType) {
    return defineOutput(node, *input);
  }
  FailureOr<Value> result = createTyped<graph::CastOp>(node, inputType.clone(elementType), *input);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importGelu(const NodeContext &node) {
  bool microsoftGelu = node.domain == "com.microsoft";
  if (failed(checkArity(node, 1, 1)) ||
      failed(checkAttributes(node, microsoftGelu
                                       ? std::initializer_list<StringRef>{}
                                       : std::initializer_list<StringRef>{"approximate"}))) {
    return failure();
  }
  if (!microsoftGelu && node.opset < 20) {
    return emitNodeError(node) << "needs default-domain opset >= 20 (Gelu joined the "
                                  "standard in opset 20); re-export with opset >= 20 or use "
                                  "com.microsoft Gelu";
  }
  FailureOr<std::string> approximate = getStringAttribute(node, "approximate", "none");
  FailureOr<Value> input = failed(approximate) ? FailureOr<Value>(failure()) : getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  FailureOr<Value> result =
      firstResult(createInferred<graph::GeluOp>(node, *input, StringRef(*approximate)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importSoftmax(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) || failed(checkAttributes(node, {"axis"}))) {
    return failure();
  }
  // Before opset 13 Softmax flattened the input to 2-D at `axis` (default 1); that equals
  // a single-axis softmax only when the axis is the last one.
  bool legacy = node.opset < 13;
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", legacy ? 1 : -1);
  FailureOr<int64_t> rank = failed(axis) ? FailureOr<int64_t>(failure()) : getInputRank(node, 0);
  if (failed(rank)) {
    return failure();
  }
  if (legacy && *rank > 0) {
    int64_t normalized = *axis < 0 ? *axis + *rank : *axis;
    if (normalized != *rank - 1) {
      return emitNodeError(node)
             << "uses pre-opset-13 Softmax semantics (flatten at axis " << *axis << ") on a rank-"
             << *rank
             << " input, which Conveyor's importer supports only for the last axis; "
                "re-export with opset >= 13";
    }
  }
  if (allInputsKnown(node)) {
    FailureOr<int64_t> normalized = normalizeAxis(node, *axis, *rank);
    if (failed(normalized)) {
      return failure();
    }
    return defineFolded(node, hostSoftmax(*getHostInput(node, 0), *normalized));
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  FailureOr<Value> result =
      firstResult(createInferred<graph::SoftmaxOp>(node, *input, static_cast<uint64_t>(*axis)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Reductions and normalisation
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importReduce(const NodeContext &node) {
  if (failed(checkArity(node, 1, 2)) ||
      failed(checkAttributes(node, {"axes", "keepdims", "noop_with_empty_axes"}))) {
    return failure();
  }
  FailureOr<int64_t> keepdims = getIntAttribute(node, "keepdims", 1);
  FailureOr<int64_t> noopWithEmptyAxes = failed(keepdims)
                                             ? FailureOr<int64_t>(failure())
                                             : getIntAttribute(node, "noop_with_empty_axes", 0);
  FailureOr<int64_t> rank =
      failed(noopWithEmptyAxes) ? FailureOr<int64_t>(failure()) : getInputRank(node, 0);
  if (failed(rank)) {
    return failure();
  }
  // Axes come from an input (ReduceSum since opset 13, the others since 18) or, in
  // older opsets, from an attribute.
  SmallVector<int64_t> requested;
  bool haveAxes = false;
  if (hasInput(node, 1)) {
    const HostTensor *axes = requireHostInput(node, 1, "axes");
    if (!axes) {
      return failure();
    }
    std::optional<std::vector<int64_t>> list = axes->getIntVector();
    if (!list) {
      return emitNodeError(node) << "has axes that are not integers";
    }
    requested.assign(list->begin(), list->end());
    haveAxes = true;
  } else {
    FailureOr<std::optional<SmallVector<int64_t>>> attribute = getIntsAttribute(node, "axes");
    if (failed(attribute)) {
      return failure();
    }
    if (*attribute) {
      requested = **attribute;
      haveAxes = true;
    }
  }
  if (requested.empty() && *noopWithEmptyAxes != 0) {
    haveAxes = true; // reduce nothing: the node is an identity
  }
  SmallVector<int64_t> axes;
  if (!haveAxes || (requested.empty() && *noopWithEmptyAxes == 0)) {
    for (int64_t dim = 0; dim < *rank; ++dim) {
      axes.push_back(dim);
    }
  }
  for (int64_t axis : requested) {
    FailureOr<int64_t> normalized = normalizeAxis(node, axis, *rank, "reduction axis");
    if (failed(normalized)) {
      return failure();
    }
    if (!llvm::is_contained(axes, *normalized)) {
      axes.push_back(*normalized);
    }
  }
  llvm::sort(axes);
  if (axes.empty()) {
    if (const HostTensor *host = getHostInput(node, 0)) {
      return defineHostOutput(node, *host);
    }
    FailureOr<Value> input = getInput(node, 0);
    return failed(input) ? failure() : defineOutput(node, *input);
  }
  StringRef opType = node.opType();
  HostReduce kind = llvm::StringSwitch<HostReduce>(opType)
                        .Case("ReduceSum", HostReduce::Sum)
                        .Case("ReduceMean", HostReduce::Mean)
                        .Case("ReduceMax", HostReduce::Max)
                        .Case("ReduceMin", HostReduce::Min)
                        .Default(HostReduce::Prod);
  if (const HostTensor *host = getHostInput(node, 0);
      host && host->getNumElements() <= kMaxFoldElements) {
    return defineFolded(node, hostReduce(kind, *host, axes, *keepdims != 0));
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  ArrayRef<int64_t> axesRef(axes);
  bool keep = *keepdims != 0;
  FailureOr<Operation *> op = failure();
  switch (kind) {
  case HostReduce::Sum:
    op = createInferred<graph::ReduceSumOp>(node, *input, axesRef, keep);
    break;
  case HostReduce::Mean:
    op = createInferred<graph::ReduceMeanOp>(node, *input, axesRef, keep);
    break;
  case HostReduce::Max:
    op = createInferred<graph::ReduceMaxOp>(node, *input, axesRef, keep);
    break;
  case HostReduce::Min:
    op = createInferred<graph::ReduceMinOp>(node, *input, axesRef, keep);
    break;
  case HostReduce::Prod:
    return emitNodeError(node) << "computes on run-time values; Conveyor's importer supports "
                                  "it only on values known at import time";
  }
  FailureOr<Value> result = firstResult(op);
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importArgMax(const NodeContext &node) {
  if (failed(checkArity(node, 1, 1)) ||
      failed(checkAttributes(node, {"axis", "keepdims", "select_last_index"}))) {
    return failure();
  }
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", 0);
  FailureOr<int64_t> keepdims =
      failed(axis) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "keepdims", 1);
  FailureOr<int64_t> selectLast = failed(keepdims) ? FailureOr<int64_t>(failure())
                                                   : getIntAttribute(node, "select_last_index", 0);
  if (failed(selectLast)) {
    return failure();
  }
  if (*selectLast != 0) {
    return emitNodeError(node) << "has select_last_index = 1; Conveyor's importer supports only "
                                  "the first index on ties (0)";
  }
  FailureOr<Value> input = getInput(node, 0);
  FailureOr<int64_t> normalized =
      failed(input)
          ? FailureOr<int64_t>(failure())
          : normalizeAxis(node, *axis, cast<RankedTensorType>(input->getType()).getRank());
  if (failed(normalized)) {
    return failure();
  }
  FailureOr<Value> result = firstResult(createInferred<graph::ArgMaxOp>(
      node, *input, builder.getI64IntegerAttr(*normalized), builder.getBoolAttr(*keepdims != 0)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

LogicalResult OnnxImporter::importLayerNorm(const NodeContext &node) {
  if (failed(checkArity(node, 2, 3, 1, 3)) ||
      failed(checkAttributes(node, {"axis", "epsilon", "stash_type"}))) {
    return failure();
  }
  if (hasOutput(node, 1) || hasOutput(node, 2)) {
    return emitNodeError(node) << "uses its Mean or InvStdDev output, which Conveyor's importer "
                                  "does not produce (inference graphs only need Y)";
  }
  FailureOr<int64_t> axis = getIntAttribute(node, "axis", -1);
  FailureOr<float> epsilon =
      failed(axis) ? FailureOr<float>(failure()) : getFloatAttribute(node, "epsilon", 1e-5f);
  if (failed(epsilon)) {
    return failure();
  }
  if (allInputsKnown(node)) {
    const HostTensor *x = getHostInput(node, 0);
    FailureOr<int64_t> normalized = normalizeAxis(node, *axis, x->getRank());
    if (failed(normalized)) {
      return failure();
    }
    return defineFolded(node, hostLayerNorm(*x, *getHostInput(node, 1), getHostInput(node, 2),
                                            *normalized, *epsilon));
  }
  FailureOr<Value> input = getInput(node, 0);
  FailureOr<Value> scale = failed(input) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(scale)) {
    return failure();
  }
  Value bias;
  if (hasInput(node, 2)) {
    FailureOr<Value> value = getInput(node, 2);
    if (failed(value)) {
      return failure();
    }
    bias = *value;
  }
  FailureOr<Value> result = firstResult(createInferred<graph::LayerNormOp>(
      node, *input, *scale, bias, builder.getI64IntegerAttr(*axis),
      builder.getF32FloatAttr(*epsilon)));
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

LogicalResult OnnxImporter::importMatMul(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2)) || failed(checkAttributes(node, {}))) {
    return failure();
  }
  if (allInputsKnown(node)) {
    const HostTensor *lhs = getHostInput(node, 0);
    const HostTensor *rhs = getHostInput(node, 1);
    if (lhs->getRank() >= 2 && rhs->getRank() >= 2) {
      return defineFolded(node, hostMatMul(*lhs, *rhs));
    }
  }
  FailureOr<Value> lhs = getInput(node, 0);
  FailureOr<Value> rhs = failed(lhs) ? FailureOr<Value>(failure()) : getInput(node, 1);
  if (failed(rhs)) {
    return failure();
  }
  SmallVector<DimExpr> lhsShape = getSymbolicShape(*lhs);
  SmallVector<DimExpr> rhsShape = getSymbolicShape(*rhs);
  if (lhsShape.empty() || rhsShape.empty()) {
    return emitNodeError(node) << "has a rank-0 operand; MatMul needs rank >= 1";
  }
  // numpy matmul semantics for vectors: [K] is [1, K] on the left and [K, 1] on the
  // right, and the added dimension is removed from the result afterwards.
  bool lhsIsVector = lhsShape.size() == 1;
  bool rhsIsVector = rhsShape.size() == 1;
  if (lhsIsVector) {
    lhs = reshapeTo(node, *lhs, SmallVector<DimExpr>{DimExpr(1), lhsShape[0]});
  }
  if (succeeded(lhs) && rhsIsVector) {
    rhs = reshapeTo(node, *rhs, SmallVector<DimExpr>{rhsShape[0], DimExpr(1)});
  }
  if (failed(lhs) || failed(rhs)) {
    return failure();
  }
  FailureOr<Value> result = firstResult(createInferred<graph::MatMulOp>(node, *lhs, *rhs));
  if (failed(result)) {
    return failure();
  }
  if (lhsIsVector || rhsIsVector) {
    SmallVector<DimExpr> shape = getSymbolicShape(*result);
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
  if (hasInput(node, 2)) {
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
  if (allInputsKnown(node)) {
    // alpha * op(A) op(B) + beta * C on the host.
    const HostTensor *hostA = getHostInput(node, 0);
    const HostTensor *hostB = getHostInput(node, 1);
    if (hostA->getRank() != 2 || hostB->getRank() != 2) {
      return emitNodeError(node) << "needs rank-2 A and B";
    }
    HostResult opA = *transA ? hostTranspose(*hostA, {1, 0}) : HostResult(*hostA);
    HostResult opB = *transB ? hostTranspose(*hostB, {1, 0}) : HostResult(*hostB);
    HostResult product = opA && opB ? hostMatMul(*opA.value, *opB.value) : HostResult::fail("");
    Type elementType = hostA->getElementType();
    if (product && *alpha != 1.0f) {
      product = hostBinary(HostBinary::Mul, *product.value,
                           HostTensor::fromFloats(elementType, {}, {*alpha}));
    }
    if (product && hasInput(node, 2)) {
      HostResult bias = *beta != 1.0f ? hostBinary(HostBinary::Mul, *getHostInput(node, 2),
                                                   HostTensor::fromFloats(elementType, {}, {*beta}))
                                      : HostResult(*getHostInput(node, 2));
      product = bias ? hostBinary(HostBinary::Add, *product.value, *bias.value) : bias;
    }
    return defineFolded(node, std::move(product));
  }
  FailureOr<Value> result = firstResult(createInferred<graph::GemmOp>(
      node, *a, *b, c, llvm::APFloat(*alpha), llvm::APFloat(*beta), *transA != 0, *transB != 0));
  return failed(result) ? failure() : defineOutput(node, *result);
}

//===----------------------------------------------------------------------===//
// Top-k and triangles
//===----------------------------------------------------------------------===//

/// Reads a one-element integer input (TopK's K, Trilu's k).
static FailureOr<int64_t> readScalarInput(OnnxImporter &importer, const NodeContext &node,
                                          int index, StringRef what) {
  const HostTensor *value = importer.requireHostInput(node, index, what);
  if (!value) {
    return failure();
  }
  std::optional<std::vector<int64_t>> entries = value->getIntVector();
  if (!entries || entries->size() != 1) {
    return importer.emitNodeError(node) << "needs " << what << " '" << node.node->input(index)
                                        << "' to be one integer known at import time";
  }
  return entries->front();
}

LogicalResult OnnxImporter::importTopK(const NodeContext &node) {
  if (failed(checkArity(node, 2, 2, 1, 2)) ||
      failed(checkAttributes(node, {"axis", "largest", "sorted"}))) {
    return failure();
  }
  FailureOr<int64_t> k = readScalarInput(*this, node, 1, "K");
  FailureOr<int64_t> axis =
      failed(k) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "axis", -1);
  FailureOr<int64_t> largest =
      failed(axis) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "largest", 1);
  FailureOr<int64_t> sorted =
      failed(largest) ? FailureOr<int64_t>(failure()) : getIntAttribute(node, "sorted", 1);
  FailureOr<Value> input = failed(sorted) ? FailureOr<Value>(failure()) : getInput(node, 0);
  FailureOr<int64_t> normalized =
      failed(input)
          ? FailureOr<int64_t>(failure())
          : normalizeAxis(node, *axis, cast<RankedTensorType>(input->getType()).getRank());
  if (failed(normalized)) {
    return failure();
  }
  if (const HostTensor *host = getHostInput(node, 0);
      host && host->getNumElements() <= kMaxFoldElements) {
    std::optional<std::pair<HostTensor, HostTensor>> top =
        hostTopK(*host, *k, *normalized, *largest != 0);
    if (!top) {
      return emitNodeError(node) << "has k = " << *k << ", outside [0, "
                                 << host->getShape()[*normalized] << "]";
    }
    if (failed(defineHostOutput(node, std::move(top->first), 0))) {
      return failure();
    }
    return hasOutput(node, 1) ? defineHostOutput(node, std::move(top->second), 1) : success();
  }
  FailureOr<Operation *> op = createInferred<graph::TopKOp>(
      node, *input, builder.getI64IntegerAttr(*k), builder.getI64IntegerAttr(*normalized),
      builder.getBoolAttr(*largest != 0), builder.getBoolAttr(*sorted != 0));
  if (failed(op) || failed(defineOutput(node, (*op)->getResult(0), 0))) {
    return failure();
  }
  return hasOutput(node, 1) ? defineOutput(node, (*op)->getResult(1), 1) : success();
}

LogicalResult OnnxImporter::importTrilu(const NodeContext &node) {
  if (failed(checkArity(node, 1, 2)) || failed(checkAttributes(node, {"upper"}))) {
    return failure();
  }
  FailureOr<int64_t> upper = getIntAttribute(node, "upper", 1);
  if (failed(upper)) {
    return failure();
  }
  DimExpr k(0);
  if (hasInput(node, 1)) {
    const HostTensor *value = requireHostInput(node, 1, "k");
    if (!value) {
      return failure();
    }
    if (value->isFloat() || value->getNumElements() != 1) {
      return emitNodeError(node) << "needs k '" << node.node->input(1)
                                 << "' to be one integer known at import time";
    }
    k = value->getDim(0);
  }
  std::optional<int64_t> staticK = k.getConstant();
  if (staticK && allInputsKnown(node)) {
    const HostTensor *input = getHostInput(node, 0);
    if (input->getRank() < 2) {
      return emitNodeError(node) << "needs an input of rank >= 2, got "
                                 << formatShape(input->getShape());
    }
    return defineFolded(node, hostTrilu(*input, *upper != 0, *staticK));
  }
  FailureOr<Value> input = getInput(node, 0);
  if (failed(input)) {
    return failure();
  }
  if (staticK) {
    FailureOr<Value> result = firstResult(createInferred<graph::TriluOp>(
        node, *input, builder.getBoolAttr(*upper != 0), builder.getI64IntegerAttr(*staticK)));
    return failed(result) ? failure() : defineOutput(node, *result);
  }
  // A symbolic diagonal (a KV-cache mask's triu(past + 1)): keep where column - row
  // >= k (or <= k), computed from two iotas, and zero elsewhere.
  SmallVector<DimExpr> shape = getSymbolicShape(*input);
  if (shape.size() < 2) {
    return emitNodeError(node) << "needs an input of rank >= 2";
  }
  DimExpr rows = shape[shape.size() - 2], cols = shape.back();
  Type indexType = builder.getI64Type();
  FailureOr<Value> rowIota = createIota(node, rows, indexType);
  FailureOr<Value> rowIndex =
      failed(rowIota) ? FailureOr<Value>(failure()) : reshapeTo(node, *rowIota, {rows, DimExpr(1)});
  FailureOr<Value> colIota =
      failed(rowIndex) ? FailureOr<Value>(failure()) : createIota(node, cols, indexType);
  FailureOr<Value> colIndex =
      failed(colIota) ? FailureOr<Value>(failure()) : reshapeTo(node, *colIota, {DimExpr(1), cols});
  FailureOr<Value> offset =
      failed(colIndex) ? FailureOr<Value>(failure())
                       : firstResult(createInferred<graph::SubOp>(node, *colIndex, *rowIndex));
  if (failed(offset)) {
    return failure();
  }
  Value diagonal = materialize(HostTensor::fromDims(indexType, {}, {k}), node.node->input(1));
  FailureOr<Value> keep =
      *upper != 0 ? firstResult(createInferred<graph::GreaterEqualOp>(node, *offset, diagonal))
                  : firstResult(createInferred<graph::LessEqualOp>(node, *offset, diagonal));
  if (failed(keep)) {
    return failure();
  }
  Type elementType = cast<RankedTensorType>(input->getType()).getElementType();
  HostTensor zero = isa<FloatType>(elementType) ? HostTensor::fromFloats(elementType, {}, {0.0})
                                                : HostTensor::fromInts(elementType, {}, {0});
  Value zeroValue = materialize(zero, node.node->output(0) + ".zero");
  FailureOr<Value> result =
      firstResult(createInferred<graph::WhereOp>(node, *keep, *input, zeroValue));
  return failed(result) ? failure() : defineOutput(node, *result);
}

} // namespace conveyor::frontend::detail
