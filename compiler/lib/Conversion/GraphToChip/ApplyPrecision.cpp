// The precision pass on lowered cv.chip modules: quantised MXM weights with per-channel scales,
// activations and the KV cache in narrower float types (see conveyor/Conversion/Precision.h).
#include "conveyor/Conversion/Precision.h"
#include "LoweringSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>
#include <cmath>

namespace conveyor {

using namespace mlir;
using namespace conveyor::lowering;

namespace {

bool isOneOf(const std::string &value, std::initializer_list<const char *> names) {
  return std::any_of(names.begin(), names.end(), [&](const char *name) { return value == name; });
}

/// The MLIR element type of a precision name ("" and fp32 -> f32).
Type elementTypeOf(MLIRContext *context, const std::string &name) {
  Builder builder(context);
  if (name == "fp16") {
    return builder.getF16Type();
  }
  if (name == "bf16") {
    return builder.getBF16Type();
  }
  if (name == "fp8") {
    return builder.getFloat8E4M3FNType();
  }
  if (name == "int8") {
    return builder.getIntegerType(8);
  }
  if (name == "int4") {
    return builder.getIntegerType(4);
  }
  return builder.getF32Type();
}

/// `data` (floats) rounded to the float type `to`, nearest even.
DenseElementsAttr roundData(DenseElementsAttr data, FloatType to) {
  auto type = RankedTensorType::get(cast<ShapedType>(data.getType()).getShape(), to);
  SmallVector<APFloat> values;
  values.reserve(data.getNumElements());
  for (APFloat value : data.getValues<APFloat>()) {
    bool losesInfo = false;
    value.convert(to.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
    values.push_back(value);
  }
  return DenseElementsAttr::get(type, values);
}

std::vector<float> floatValues(DenseElementsAttr data) {
  std::vector<float> values;
  values.reserve(data.getNumElements());
  for (APFloat value : data.getValues<APFloat>()) {
    bool losesInfo = false;
    value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &losesInfo);
    values.push_back(value.convertToFloat());
  }
  return values;
}

/// A weight [..., K, N] quantised per (leading index, output channel n): the narrow data and
/// the f32 scales, shaped [N] for a matrix and [..., 1, N] for a stack of them (MoE experts).
struct Quantized {
  DenseElementsAttr data;
  DenseElementsAttr scales;
};

Quantized quantize(DenseElementsAttr weight, Type narrow) {
  auto type = cast<RankedTensorType>(weight.getType());
  ArrayRef<int64_t> shape = type.getShape();
  const int64_t n = shape.back(), k = shape[shape.size() - 2];
  const int64_t groups = type.getNumElements() / (k * n);
  std::vector<float> values = floatValues(weight);
  MLIRContext *context = type.getContext();
  // Largest representable magnitude of the narrow type: the scale maps max|w| onto it.
  double limit = 1.0;
  if (auto integer = dyn_cast<IntegerType>(narrow)) {
    limit = double((int64_t(1) << (integer.getWidth() - 1)) - 1);
  } else if (narrow.isFloat8E4M3FN()) {
    limit = 448.0;
  }
  const bool scaled = isa<IntegerType>(narrow) || narrow.isFloat8E4M3FN();
  std::vector<float> scales(size_t(groups * n), 1.0f);
  if (scaled) {
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t c = 0; c < n; ++c) {
        float largest = 0;
        for (int64_t r = 0; r < k; ++r) {
          largest = std::max(largest, std::fabs(values[size_t((g * k + r) * n + c)]));
        }
        scales[size_t(g * n + c)] = largest > 0 ? float(largest / limit) : 1.0f;
      }
    }
  }
  auto narrowType = RankedTensorType::get(shape, narrow);
  Quantized result;
  if (auto integer = dyn_cast<IntegerType>(narrow)) {
    SmallVector<APInt> quantized;
    quantized.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t group = int64_t(i) / (k * n), channel = int64_t(i) % n;
      const double q = std::nearbyint(double(values[i]) / scales[size_t(group * n + channel)]);
      const double clamped = std::clamp(q, -limit - 1, limit);
      quantized.push_back(APInt(integer.getWidth(), uint64_t(int64_t(clamped)), /*isSigned=*/true));
    }
    result.data = DenseElementsAttr::get(narrowType, quantized);
  } else {
    auto floatType = cast<FloatType>(narrow);
    SmallVector<APFloat> quantized;
    quantized.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t group = int64_t(i) / (k * n), channel = int64_t(i) % n;
      APFloat value(values[i] / scales[size_t(group * n + channel)]);
      bool losesInfo = false;
      value.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
      quantized.push_back(value);
    }
    result.data = DenseElementsAttr::get(narrowType, quantized);
  }
  SmallVector<int64_t> scaleShape;
  if (groups == 1 && shape.size() == 2) {
    scaleShape = {n};
  } else {
    scaleShape.assign(shape.begin(), shape.end() - 2);
    scaleShape.append({1, n});
  }
  result.scales = DenseElementsAttr::get(
      RankedTensorType::get(scaleShape, Float32Type::get(context)), ArrayRef<float>(scales));
  return result;
}

struct ApplyPrecisionPass : PassWrapper<ApplyPrecisionPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ApplyPrecisionPass)

  explicit ApplyPrecisionPass(PrecisionOptions options) : options(std::move(options)) {}
  StringRef getArgument() const override { return "conveyor-apply-precision"; }
  StringRef getDescription() const override {
    return "Quantise MXM weights, narrow activations and the KV cache";
  }

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isExternal() && failed(runOnFunction(func))) {
        return signalPassFailure();
      }
    }
  }

private:
  PrecisionOptions options;
  llvm::DenseSet<Operation *> keepType; // ops whose result type this pass already chose
  NameTable names;

  LogicalResult runOnFunction(func::FuncOp func) {
    MLIRContext *context = func.getContext();
    func.walk([&](chip::WeightOp weight) { names.reserve(weight.getName()); });
    Type weightType = elementTypeOf(context, options.weights);
    auto activationType = cast<FloatType>(elementTypeOf(context, options.activations));
    auto kvType = cast<FloatType>(
        options.kv.empty() ? Type(activationType) : elementTypeOf(context, options.kv));
    if (!weightType.isF32()) {
      quantizeWeights(func, weightType);
      quantizeExpertStacks(func, weightType);
    }
    if (!activationType.isF32()) {
      narrowActivations(func, activationType);
    }
    if (kvType != activationType) {
      narrowKvCache(func, kvType, activationType);
    }
    eraseUnusedWeights(func);
    SmallVector<Type> results;
    func.walk([&](func::ReturnOp ret) {
      results.assign(ret.getOperandTypes().begin(), ret.getOperandTypes().end());
    });
    func.setType(FunctionType::get(context, func.getBody().front().getArgumentTypes(), results));
    return success();
  }

  Value newWeight(OpBuilder &builder, Location loc, DenseElementsAttr data, StringRef name) {
    chip::WeightOp weight = createWeight(builder, loc, data, names.unique(name));
    keepType.insert(weight);
    return weight.getResult();
  }

  void quantizeWeights(func::FuncOp func, Type narrow) {
    SmallVector<chip::MatMulOp> products;
    func.walk([&](chip::MatMulOp product) { products.push_back(product); });
    for (chip::MatMulOp product : products) {
      OpBuilder builder(product);
      Location loc = product.getLoc();
      if (auto weight = product.getRhs().getDefiningOp<chip::WeightOp>()) {
        DenseElementsAttr data = chip::getDenseElements(weight.getValue());
        if (!data || !isa<FloatType>(data.getElementType()) ||
            cast<RankedTensorType>(data.getType()).getRank() != 2) {
          continue;
        }
        Quantized quantized = quantize(data, narrow);
        std::string suffix = "." + (options.weights.empty() ? "fp32" : options.weights);
        Value q = newWeight(builder, loc, quantized.data, weight.getName().str() + suffix);
        Value scale = newWeight(builder, loc, quantized.scales, weight.getName().str() + ".scale");
        auto dq = createInstruction<chip::MatMulDqOp>(builder, loc, product.getType(),
                                                      product.getLhs(), q, scale);
        product.replaceAllUsesWith(dq.getResult());
        product.erase();
        continue;
      }
      // MoE experts: rhs = gather(table [E, K, N], expert ids). Gather the narrow table and its
      // per-(expert, channel) scales, dequantise on the VXM, multiply as before.
      auto gather = product.getRhs().getDefiningOp<chip::GatherOp>();
      if (!gather || gather.getAxis() != 0) {
        continue;
      }
      auto table = gather.getTable().getDefiningOp<chip::WeightOp>();
      DenseElementsAttr data = table ? chip::getDenseElements(table.getValue()) : nullptr;
      if (!data || !isa<FloatType>(data.getElementType()) ||
          cast<RankedTensorType>(data.getType()).getRank() != 3) {
        continue;
      }
      builder.setInsertionPoint(gather);
      Quantized quantized = quantize(data, narrow);
      Value q = newWeight(builder, loc, quantized.data, table.getName().str() + "." + options.weights);
      // These scales multiply on the VXM, so they take the activation type (not keepType).
      Value scales = createWeight(builder, loc, quantized.scales,
                                  names.unique(table.getName().str() + ".scale"))
                         .getResult();
      auto gatheredType = cast<RankedTensorType>(gather.getType());
      SmallVector<int64_t> scaleShape(gatheredType.getShape());
      scaleShape[scaleShape.size() - 2] = 1;
      Value gatheredQ = createInstruction<chip::GatherOp>(
          builder, loc, RankedTensorType::get(gatheredType.getShape(), narrow), q,
          gather.getIndices(), gather.getAxisAttr());
      Value gatheredScales = createInstruction<chip::GatherOp>(
          builder, loc, RankedTensorType::get(scaleShape, builder.getF32Type()), scales,
          gather.getIndices(), gather.getAxisAttr());
      Value widened = createInstruction<chip::CastOp>(builder, loc, gatheredType, gatheredQ);
      Value dequantized = createInstruction<chip::BinaryOp>(builder, loc, gatheredType, widened,
                                                            gatheredScales,
                                                            builder.getStringAttr("mul"));
      gather.replaceAllUsesWith(dequantized);
      gather.erase();
    }
  }

  /// MoE expert products (mxm_expert_matmul on a float [E, K, N] stack): the stack becomes
  /// narrow weights with per-(expert, channel) f32 scales, applied on the accumulators.
  void quantizeExpertStacks(func::FuncOp func, Type narrow) {
    SmallVector<chip::ExpertMatMulOp> products;
    func.walk([&](chip::ExpertMatMulOp product) { products.push_back(product); });
    llvm::DenseMap<Operation *, std::pair<Value, Value>> quantizedTables;
    for (chip::ExpertMatMulOp product : products) {
      auto table = product.getTable().getDefiningOp<chip::WeightOp>();
      DenseElementsAttr data = table ? chip::getDenseElements(table.getValue()) : nullptr;
      if (product.getScale() || !data || !isa<FloatType>(data.getElementType()) ||
          cast<RankedTensorType>(data.getType()).getRank() != 3) {
        continue;
      }
      auto [cached, inserted] = quantizedTables.try_emplace(table, Value(), Value());
      if (inserted) {
        OpBuilder builder(table);
        Quantized quantized = quantize(data, narrow);
        cached->second.first = newWeight(builder, table.getLoc(), quantized.data,
                                         table.getName().str() + "." + options.weights);
        cached->second.second = newWeight(builder, table.getLoc(), quantized.scales,
                                          table.getName().str() + ".scale");
      }
      OpBuilder builder(product);
      auto replacement = createInstruction<chip::ExpertMatMulOp>(
          builder, product.getLoc(), product.getType(), product.getLhs(), cached->second.first,
          product.getIndices(), cached->second.second);
      product.replaceAllUsesWith(replacement.getResult());
      product.erase();
    }
  }

  /// Every f32 tensor that is not a quantised weight or scale takes `type`.
  void narrowActivations(func::FuncOp func, FloatType type) {
    auto narrowed = [&](Type original) -> Type {
      auto tensor = dyn_cast<RankedTensorType>(original);
      if (!tensor || !tensor.getElementType().isF32()) {
        return original;
      }
      return RankedTensorType::get(tensor.getShape(), type);
    };
    for (BlockArgument arg : func.getBody().front().getArguments()) {
      arg.setType(narrowed(arg.getType()));
    }
    func.walk([&](Operation *op) {
      if (keepType.contains(op) || op->getNumResults() == 0 || isa<func::FuncOp>(op)) {
        return;
      }
      if (auto weight = dyn_cast<chip::WeightOp>(op)) {
        DenseElementsAttr data = chip::getDenseElements(weight.getValue());
        if (!data || !data.getElementType().isF32()) {
          return;
        }
        weight.setValueAttr(roundData(data, type));
      }
      for (Value result : op->getResults()) {
        result.setType(narrowed(result.getType()));
      }
    });
  }

  /// Past-cache inputs concatenated into a returned present cache hold `kvType`; the new
  /// entries are cast into it, and attention reads a cast back to `activationType`.
  void narrowKvCache(func::FuncOp func, FloatType kvType, FloatType activationType) {
    auto retyped = [&](Value value) {
      auto tensor = cast<RankedTensorType>(value.getType());
      return RankedTensorType::get(tensor.getShape(), kvType);
    };
    SmallVector<chip::ConcatOp> caches;
    func.walk([&](chip::ConcatOp concat) {
      auto write = concat.getLhs().getDefiningOp<chip::MemWriteOp>();
      bool returned = llvm::any_of(concat->getUsers(),
                                   [](Operation *user) { return isa<chip::MemReadOp>(user); });
      if (write && returned && isa<FloatType>(getElementTypeOrSelf(concat.getType()))) {
        caches.push_back(concat);
      }
    });
    for (chip::ConcatOp concat : caches) {
      auto write = concat.getLhs().getDefiningOp<chip::MemWriteOp>();
      write.getInput().setType(retyped(write.getInput()));
      write.getResult().setType(retyped(write.getResult()));
      OpBuilder builder(concat);
      Value fresh = createInstruction<chip::CastOp>(builder, concat.getLoc(),
                                                    retyped(concat.getRhs()), concat.getRhs());
      concat.getRhsMutable().assign(fresh);
      concat.getResult().setType(retyped(concat.getResult()));
      builder.setInsertionPointAfter(concat);
      auto activationCache = RankedTensorType::get(
          cast<RankedTensorType>(concat.getType()).getShape(), activationType);
      Value readable =
          createInstruction<chip::CastOp>(builder, concat.getLoc(), activationCache, concat);
      concat.getResult().replaceUsesWithIf(readable, [&](OpOperand &use) {
        return use.getOwner() != readable.getDefiningOp() && !isa<chip::MemReadOp>(use.getOwner());
      });
      for (Operation *user : concat->getUsers()) {
        if (auto read = dyn_cast<chip::MemReadOp>(user)) {
          read.getResult().setType(concat.getType());
        }
      }
    }
  }

  void eraseUnusedWeights(func::FuncOp func) {
    SmallVector<chip::WeightOp> dead;
    func.walk([&](chip::WeightOp weight) {
      if (weight->use_empty()) {
        dead.push_back(weight);
      }
    });
    for (chip::WeightOp weight : dead) {
      weight->erase();
    }
  }
};

} // namespace

std::string checkPrecisionOptions(const PrecisionOptions &options) {
  if (!options.weights.empty() &&
      !isOneOf(options.weights, {"fp32", "fp16", "bf16", "fp8", "int8", "int4"})) {
    return "--weights " + options.weights + " is not one of fp32, fp16, bf16, fp8, int8, int4";
  }
  if (!options.activations.empty() &&
      !isOneOf(options.activations, {"fp32", "fp16", "bf16"})) {
    return "--activations " + options.activations + " is not one of fp32, fp16, bf16";
  }
  if (!options.kv.empty() && !isOneOf(options.kv, {"fp32", "fp16", "bf16", "fp8"})) {
    return "--kv " + options.kv + " is not one of fp32, fp16, bf16, fp8";
  }
  return "";
}

std::unique_ptr<Pass> createApplyPrecisionPass(const PrecisionOptions &options) {
  return std::make_unique<ApplyPrecisionPass>(options);
}

} // namespace conveyor
