// conveyor-graph-specialize-dims: bind named dimensions to sizes, making a symbolic
// graph static (one prefill or decode bucket).
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"
#include "conveyor/Dialect/Graph/SymbolicDim.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

namespace conveyor::graph {
#define GEN_PASS_DEF_GRAPHSPECIALIZEDIMS
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph

using namespace mlir;
using namespace conveyor::graph;

namespace {

struct SpecializeDimsPass
    : public conveyor::graph::impl::GraphSpecializeDimsBase<SpecializeDimsPass> {
  using GraphSpecializeDimsBase::GraphSpecializeDimsBase;

  void runOnOperation() override {
    if (failed(parseSizes())) {
      return signalPassFailure();
    }
    WalkResult result = getOperation().walk([&](func::FuncOp func) {
      return failed(specialize(func)) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (result.wasInterrupted()) {
      signalPassFailure();
    }
  }

private:
  llvm::StringMap<int64_t> values;

  LogicalResult parseSizes() {
    for (const std::string &entry : sizes) {
      auto [name, size] = StringRef(entry).split('=');
      int64_t value = 0;
      if (name.trim().empty() || size.trim().getAsInteger(10, value) || value < 0) {
        return getOperation().emitError()
               << "conveyor-graph-specialize-dims: size '" << entry
               << "' is not of the form name=size with a size >= 0 (e.g. seq=128)";
      }
      values[name.trim()] = value;
    }
    return success();
  }

  /// The size of a dimension named by `text` (a DimExpr), or an error at `op`.
  FailureOr<int64_t> evaluate(Operation *op, StringRef text, const Twine &what) {
    std::string error;
    std::optional<DimExpr> expr = DimExpr::parse(text, &error);
    if (!expr) {
      return op->emitError() << what << " is '" << text << "', which does not parse: " << error;
    }
    std::optional<int64_t> value = expr->evaluate(values);
    if (!value) {
      std::string missing;
      for (const std::string &name : expr->getSymbols()) {
        if (!values.count(name)) {
          missing += (missing.empty() ? "'" : ", '") + name + "'";
        }
      }
      return op->emitError() << what << " is '" << text << "', but no size was given for "
                             << missing << "; pass sizes=" << expr->getSymbols().front() << "=N";
    }
    if (*value < 0) {
      return op->emitError() << what << " '" << text << "' evaluates to " << *value
                             << ", a negative size";
    }
    return *value;
  }

  /// The static type `type` takes when its dynamic dimensions are named by `names`.
  FailureOr<RankedTensorType> bindType(Operation *op, RankedTensorType type, ArrayAttr names,
                                       const Twine &what) {
    if (type.hasStaticShape()) {
      return type;
    }
    if (!names || names.size() != static_cast<size_t>(type.getRank())) {
      return op->emitError() << what << " has type " << type << " but no " << kDimsAttrName
                             << " naming each of its dimensions";
    }
    SmallVector<int64_t> shape(type.getShape());
    for (auto [index, name] : llvm::enumerate(names)) {
      if (!type.isDynamicDim(index)) {
        continue;
      }
      auto text = dyn_cast<StringAttr>(name);
      FailureOr<int64_t> size =
          text ? evaluate(op, text.getValue(), what + " dimension " + Twine(index))
               : FailureOr<int64_t>(op->emitError() << what
                                                    << ": dimension names must be "
                                                       "strings");
      if (failed(size)) {
        return failure();
      }
      shape[index] = *size;
    }
    return RankedTensorType::get(shape, type.getElementType());
  }

  LogicalResult specialize(func::FuncOp func) {
    Block &body = func.getBody().front();
    // Arguments.
    for (BlockArgument argument : body.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!type || type.hasStaticShape()) {
        continue;
      }
      unsigned number = argument.getArgNumber();
      auto names = func.getArgAttrOfType<ArrayAttr>(number, kDimNamesAttrName);
      auto onnxName = func.getArgAttrOfType<StringAttr>(number, "cv.name");
      std::string what = "argument #" + std::to_string(number);
      if (onnxName) {
        what += " ('" + onnxName.str() + "')";
      }
      FailureOr<RankedTensorType> bound = bindType(func, type, names, what);
      if (failed(bound)) {
        return failure();
      }
      argument.setType(*bound);
      func.removeArgAttr(argument.getArgNumber(), kDimNamesAttrName);
    }
    // Ops, in order, so that every operand is already static.
    OpBuilder builder(func.getContext());
    for (Operation &op : llvm::make_early_inc_range(body)) {
      if (failed(specializeOp(&op, builder))) {
        return failure();
      }
    }
    Operation *terminator = body.getTerminator();
    func.setFunctionType(FunctionType::get(func.getContext(), body.getArgumentTypes(),
                                           terminator->getOperandTypes()));
    return success();
  }

  LogicalResult specializeOp(Operation *op, OpBuilder &builder) {
    builder.setInsertionPoint(op);
    if (auto dimValue = dyn_cast<DimValueOp>(op)) {
      SmallVector<APInt> entries;
      unsigned width = dimValue.getType().getElementTypeBitWidth();
      for (auto [index, expr] : llvm::enumerate(dimValue.getExprs())) {
        FailureOr<int64_t> value =
            evaluate(op, cast<StringAttr>(expr).getValue(), "size expression #" + Twine(index));
        if (failed(value)) {
          return failure();
        }
        entries.push_back(APInt(64, *value).sextOrTrunc(width));
      }
      replaceByConstant(op, DenseElementsAttr::get(dimValue.getType(), entries), builder);
      return success();
    }
    auto dims = op->getAttrOfType<ArrayAttr>(kDimsAttrName);
    if (auto iota = dyn_cast<IotaOp>(op)) {
      FailureOr<RankedTensorType> type = bindType(op, iota.getType(), dims, "iota");
      if (failed(type)) {
        return failure();
      }
      int64_t count = type->getDimSize(0);
      DenseElementsAttr values;
      if (auto floatType = dyn_cast<FloatType>(type->getElementType())) {
        SmallVector<APFloat> entries;
        for (int64_t i = 0; i < count; ++i) {
          APFloat value(static_cast<double>(i));
          bool losesInfo = false;
          value.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
          entries.push_back(value);
        }
        values = DenseElementsAttr::get(*type, entries);
      } else {
        SmallVector<APInt> entries;
        for (int64_t i = 0; i < count; ++i) {
          entries.push_back(APInt(type->getElementTypeBitWidth(), i));
        }
        values = DenseElementsAttr::get(*type, entries);
      }
      replaceByConstant(op, values, builder);
      return success();
    }
    if (!isa<GraphDialect>(op->getDialect())) {
      return success(); // func.return and friends
    }
    SmallVector<Type> types;
    if (dims) {
      // Explicitly typed ops with symbolic sizes (reshape, expand).
      for (Value result : op->getResults()) {
        FailureOr<RankedTensorType> type =
            bindType(op, cast<RankedTensorType>(result.getType()), dims, "result");
        if (failed(type)) {
          return failure();
        }
        types.push_back(*type);
      }
      op->removeAttr(kDimsAttrName);
    } else if (auto infer = dyn_cast<InferTypeOpInterface>(op)) {
      if (failed(infer.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                        op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
                                        op->getRegions(), types))) {
        return op->emitError() << "cannot re-derive its result type with the given sizes";
      }
    } else if (auto castOp = dyn_cast<CastOp>(op)) {
      types.push_back(castOp.getInput().getType().clone(castOp.getType().getElementType()));
    } else {
      llvm::append_range(types, op->getResultTypes());
    }
    for (auto [result, type] : llvm::zip(op->getResults(), types)) {
      auto ranked = cast<RankedTensorType>(type);
      if (!ranked.hasStaticShape()) {
        return op->emitError() << "result #" << result.getResultNumber() << " is still " << ranked
                               << " after binding the sizes (the op neither infers "
                                  "its type nor names its dimensions with "
                               << kDimsAttrName << ")";
      }
      result.setType(ranked);
    }
    return success();
  }

  void replaceByConstant(Operation *op, DenseElementsAttr values, OpBuilder &builder) {
    auto constant = builder.create<ConstantOp>(op->getLoc(), values.getType(), values,
                                               /*name=*/nullptr);
    op->getResult(0).replaceAllUsesWith(constant.getResult());
    op->erase();
  }
};

} // namespace
