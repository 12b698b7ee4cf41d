// convert-graph-to-chip: lowers tensor-level cv.graph ops to cv.chip instructions.
#include "conveyor/Conversion/Passes.h"
#include "LoweringSupport.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/DialectConversion.h"

#include "llvm/ADT/StringSet.h"

#include <cstring>

namespace conveyor {
#define GEN_PASS_DEF_CONVERTGRAPHTOCHIP
#include "conveyor/Conversion/Passes.h.inc"
} // namespace conveyor

using namespace mlir;
namespace graph = conveyor::graph;
namespace chip = conveyor::chip;
using namespace conveyor::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Compile-time folding of constant data (gemm transposes and scales)
//===----------------------------------------------------------------------===//

/// The 2-D transpose of `data`; null when the element type has no whole-byte layout.
DenseElementsAttr transposeData(DenseElementsAttr data) {
  auto type = cast<RankedTensorType>(data.getType());
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  auto resultType = RankedTensorType::get({cols, rows}, type.getElementType());
  if (data.isSplat()) {
    return data.reshape(resultType);
  }
  unsigned bits = type.getElementTypeBitWidth();
  if (bits == 0 || bits % 8 != 0) {
    return {};
  }
  size_t elementBytes = bits / 8;
  ArrayRef<char> source = data.getRawData();
  std::vector<char> result(source.size());
  // Element (r, c) of the source becomes element (c, r) of the result.
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      std::memcpy(&result[(c * rows + r) * elementBytes], &source[(r * cols + c) * elementBytes],
                  elementBytes);
    }
  }
  return DenseElementsAttr::getFromRawBuffer(resultType, result);
}

/// `data` multiplied by `factor`, rounded to the element type; null for non-float data.
DenseElementsAttr scaleData(DenseElementsAttr data, double factor) {
  auto floatType = dyn_cast<FloatType>(data.getElementType());
  if (!floatType) {
    return {};
  }
  APFloat scale(factor);
  bool losesInfo = false;
  scale.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
  return cast<DenseFPElementsAttr>(data).mapValues(floatType, [&](const APFloat &value) {
    APFloat product = value;
    product.multiply(scale, APFloat::rmNearestTiesToEven);
    return product.bitcastToAPInt();
  });
}

/// A rank-`rank` tensor of ones-dimensions holding `value`, used to scale at run time.
FailureOr<Value> createScalar(OpBuilder &builder, Location loc, Type elementType, int64_t rank,
                              double value, StringRef name, LoweringState &state) {
  auto floatType = dyn_cast<FloatType>(elementType);
  if (!floatType) {
    return emitError(loc) << "gemm scale " << value << " on " << elementType
                          << " tensors is not supported; only float gemms can be scaled";
  }
  SmallVector<int64_t> shape(rank, 1);
  auto type = RankedTensorType::get(shape, elementType);
  auto attr = DenseElementsAttr::get(type, builder.getFloatAttr(floatType, value));
  return createWeight(builder, loc, attr, state.names.unique(name)).getResult();
}

/// One gemm operand: its lowered SRAM value, and its data when it is a constant that the
/// lowering may still transpose or scale at compile time.
struct GemmOperand {
  Value value;
  DenseElementsAttr data;
  std::string name;
  bool changed = false; // `data` no longer matches `value`: a new weight is needed

  GemmOperand(Value original, Value lowered) : value(lowered) {
    if (auto constant = original.getDefiningOp<graph::ConstantOp>()) {
      data = chip::getDenseElements(constant.getValue());
      name = constant.getName() ? constant.getName()->str() : "gemm.const";
    }
  }

  /// Transposes a 2-D operand: in the weight data when possible, else on the SXM.
  void transpose(OpBuilder &builder, Location loc) {
    if (data) {
      if (DenseElementsAttr transposed = transposeData(data)) {
        data = transposed;
        name += ".T";
        changed = true;
        return;
      }
    }
    auto type = cast<RankedTensorType>(value.getType());
    auto resultType =
        RankedTensorType::get({type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
    value = createInstruction<chip::TransposeOp>(builder, loc, resultType, value,
                                                 builder.getDenseI64ArrayAttr({1, 0}));
    data = {};
  }

  /// Multiplies the constant data by `factor`; false when the data cannot absorb it.
  bool scale(double factor) {
    if (!data) {
      return false;
    }
    DenseElementsAttr scaled = scaleData(data, factor);
    if (!scaled) {
      return false;
    }
    data = scaled;
    name += ".scaled";
    changed = true;
    return true;
  }

  /// The SRAM value to compute with: a new weight when the data was rewritten.
  Value materialize(OpBuilder &builder, Location loc, LoweringState &state) {
    if (changed) {
      ++state.foldedWeights;
      value = createWeight(builder, loc, data, state.names.unique(name)).getResult();
      changed = false;
    }
    return value;
  }
};

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

struct ConstantLowering : LoweringPattern<graph::ConstantOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::ConstantOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    std::string name = op.getName() ? op.getName()->str() : state.names.unique("const");
    ElementsAttr value = op.getValue();
    RankedTensorType type = chipType(value.getType());
    if (type != value.getType()) {
      // i64 indices -> i32, i1 masks -> i8: the chip has no wider or bit-sized integers.
      auto dense = dyn_cast_or_null<DenseIntElementsAttr>(chip::getDenseElements(value));
      if (!dense) {
        return op.emitOpError() << "integer constant of type " << value.getType()
                                << " has no data to convert to " << type;
      }
      unsigned bits = type.getElementTypeBitWidth();
      bool isBool = dense.getElementType().isInteger(1);
      value = dense.mapValues(type.getElementType(), [&](const APInt &element) {
        return isBool ? element.zext(bits) : element.sextOrTrunc(bits);
      });
    }
    rewriter.replaceOp(op, createWeight(rewriter, op.getLoc(), value, name));
    return success();
  }
};

struct MatMulLowering : LoweringPattern<graph::MatMulOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::MatMulOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::MatMulOp>(rewriter, op.getLoc(), op.getType(),
                                                             adaptor.getLhs(), adaptor.getRhs()));
    return success();
  }
};

/// alpha * op(A) * op(B) + beta * C as MXM + VXM instructions, folding whatever the
/// constants can absorb so that a typical linear layer is one matmul and one add.
struct GemmLowering : LoweringPattern<graph::GemmOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::GemmOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Type elementType = resultType.getElementType();
    GemmOperand a(op.getA(), adaptor.getA());
    GemmOperand b(op.getB(), adaptor.getB());
    if (op.getTransA()) {
      a.transpose(rewriter, loc);
    }
    if (op.getTransB()) {
      b.transpose(rewriter, loc);
    }

    double alpha = op.getAlphaAttr().getValueAsDouble();
    bool alphaPending = alpha != 1.0 && !b.scale(alpha) && !a.scale(alpha);
    Value product = createInstruction<chip::MatMulOp>(rewriter, loc, resultType,
                                                      a.materialize(rewriter, loc, state),
                                                      b.materialize(rewriter, loc, state));
    if (alphaPending) {
      auto scalar = createScalar(rewriter, loc, elementType, 2, alpha, "gemm.alpha", state);
      if (failed(scalar)) {
        return failure();
      }
      product = createInstruction<chip::BinaryOp>(rewriter, loc, resultType, product, *scalar,
                                                  rewriter.getStringAttr("mul"));
    }

    double beta = op.getBetaAttr().getValueAsDouble();
    if (op.getC() && beta != 0.0) {
      GemmOperand c(op.getC(), adaptor.getC());
      if (beta != 1.0 && !c.scale(beta)) {
        auto cType = cast<RankedTensorType>(c.value.getType());
        auto scalar =
            createScalar(rewriter, loc, elementType, cType.getRank(), beta, "gemm.beta", state);
        if (failed(scalar)) {
          return failure();
        }
        c.value = createInstruction<chip::BinaryOp>(rewriter, loc, cType, c.value, *scalar,
                                                    rewriter.getStringAttr("mul"));
      }
      product = createInstruction<chip::BinaryOp>(rewriter, loc, resultType, product,
                                                  c.materialize(rewriter, loc, state),
                                                  rewriter.getStringAttr("add"));
    }
    rewriter.replaceOp(op, product);
    return success();
  }
};

template <typename SourceOp> struct BinaryLowering : LoweringPattern<SourceOp> {
  BinaryLowering(MLIRContext *context, LoweringState &state, StringRef kind)
      : LoweringPattern<SourceOp>(context, state), kind(kind) {}
  LogicalResult matchAndRewrite(SourceOp op, typename SourceOp::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::BinaryOp>(rewriter, op.getLoc(), op.getType(),
                                                             adaptor.getLhs(), adaptor.getRhs(),
                                                             rewriter.getStringAttr(kind)));
    return success();
  }
  std::string kind;
};

struct ReluLowering : LoweringPattern<graph::ReluOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::ReluOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::UnaryOp>(rewriter, op.getLoc(), op.getType(),
                                                            adaptor.getInput(),
                                                            rewriter.getStringAttr("relu")));
    return success();
  }
};

struct GeluLowering : LoweringPattern<graph::GeluOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::GeluOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    StringRef approximate = op.getApproximate();
    StringRef kind;
    if (approximate == "none") {
      kind = "gelu";
    } else if (approximate == "tanh") {
      kind = "gelu_tanh";
    } else {
      return op.emitOpError() << "approximate = '" << approximate
                              << "' has no cv.chip lowering; expected 'none' or 'tanh'";
    }
    rewriter.replaceOp(op, createInstruction<chip::UnaryOp>(rewriter, op.getLoc(), op.getType(),
                                                            adaptor.getInput(),
                                                            rewriter.getStringAttr(kind)));
    return success();
  }
};

struct SoftmaxLowering : LoweringPattern<graph::SoftmaxOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::SoftmaxOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    int64_t rank = cast<RankedTensorType>(op.getType()).getRank();
    auto axis = static_cast<int64_t>(op.getAxis());
    if (axis < 0) {
      axis += rank;
    }
    if (axis < 0 || axis >= rank) {
      return op.emitOpError() << "axis " << static_cast<int64_t>(op.getAxis())
                              << " is out of range for rank " << rank;
    }
    rewriter.replaceOp(op, createInstruction<chip::SoftmaxOp>(rewriter, op.getLoc(), op.getType(),
                                                              adaptor.getInput(),
                                                              rewriter.getI64IntegerAttr(axis)));
    return success();
  }
};

struct ReshapeLowering : LoweringPattern<graph::ReshapeOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::ReshapeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createInstruction<chip::ViewOp>(rewriter, op.getLoc(), op.getType(),
                                                           adaptor.getInput()));
    return success();
  }
};

struct TransposeLowering : LoweringPattern<graph::TransposeOp> {
  using LoweringPattern::LoweringPattern;
  LogicalResult matchAndRewrite(graph::TransposeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       createInstruction<chip::TransposeOp>(rewriter, op.getLoc(), op.getType(),
                                                            adaptor.getInput(), op.getPermAttr()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Function boundary: host transfers
//===----------------------------------------------------------------------===//

/// Gives integer arguments their chip element type (i64 token ids -> i32, the host narrows
/// them when it writes) and makes the function type follow its block arguments and returns.
void updateFunctionType(func::FuncOp func, bool convertArguments) {
  Block &entry = func.getBody().front();
  if (convertArguments) {
    for (BlockArgument arg : entry.getArguments()) {
      if (isa<RankedTensorType>(arg.getType())) {
        arg.setType(chipType(arg.getType()));
      }
    }
  }
  SmallVector<Type> results(func.getResultTypes());
  func.walk([&](func::ReturnOp ret) { results.assign(ret.getOperandTypes().begin(),
                                                     ret.getOperandTypes().end()); });
  func.setType(FunctionType::get(func.getContext(), entry.getArgumentTypes(), results));
}

/// Loads every tensor argument into SRAM with a mem_write named by its `cv.name`.
LogicalResult insertHostWrites(func::FuncOp func) {
  Block &entry = func.getBody().front();
  OpBuilder builder = OpBuilder::atBlockBegin(&entry);
  for (BlockArgument arg : entry.getArguments()) {
    unsigned index = arg.getArgNumber();
    auto nameAttr = func.getArgAttrOfType<StringAttr>(index, "cv.name");
    std::string name = nameAttr ? nameAttr.str() : "input" + std::to_string(index);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || !type.hasStaticShape()) {
      return func.emitError() << "argument #" << index << " ('" << name
                              << "') must be a statically shaped tensor to be loaded into "
                                 "SRAM, got "
                              << arg.getType();
    }
    if (arg.hasOneUse() && isa<chip::MemWriteOp>(*arg.getUsers().begin())) {
      continue; // already loaded (the pass ran before)
    }
    auto write = createInstruction<chip::MemWriteOp>(builder, arg.getLoc(), type, arg,
                                                     builder.getStringAttr(name));
    arg.replaceAllUsesExcept(write.getResult(), write);
  }
  return success();
}

/// The op that owns the storage of `value` (views share their source's storage).
Operation *storageOwner(Value value) {
  Operation *owner = value.getDefiningOp();
  while (auto view = dyn_cast_or_null<chip::ViewOp>(owner)) {
    owner = view.getInput().getDefiningOp();
  }
  return owner;
}

/// Reads every returned value back to the host with a mem_read named by the result's
/// `cv.name`. A value whose storage is a weight, an input or another output first gets
/// its own buffer (mem_copy): each OUTPUT buffer holds exactly one model output.
void insertHostReads(func::FuncOp func) {
  func.walk([&](func::ReturnOp ret) {
    OpBuilder builder(ret);
    for (OpOperand &operand : ret->getOpOperands()) {
      Value value = operand.get();
      if (value.getDefiningOp<chip::MemReadOp>()) {
        continue; // already read back (the pass ran before)
      }
      unsigned index = operand.getOperandNumber();
      auto nameAttr = func.getResultAttrOfType<StringAttr>(index, "cv.name");
      std::string name = nameAttr ? nameAttr.str() : "output" + std::to_string(index);
      Operation *owner = storageOwner(value);
      bool sharedStorage = !owner || isa<chip::WeightOp, chip::MemWriteOp>(owner) ||
                           llvm::any_of(value.getUsers(),
                                        [](Operation *user) { return isa<chip::MemReadOp>(user); });
      if (sharedStorage) {
        value = createInstruction<chip::MemCopyOp>(builder, ret.getLoc(), value.getType(), value)
                    .getResult();
      }
      auto read = createInstruction<chip::MemReadOp>(builder, ret.getLoc(), value.getType(), value,
                                                     builder.getStringAttr(name));
      operand.set(read.getResult());
    }
  });
}

/// Weights whose data was folded into a new weight are left without users: drop them so
/// they take no SRAM.
void eraseDeadWeights(ModuleOp module) {
  SmallVector<chip::WeightOp> dead;
  module.walk([&](chip::WeightOp weight) {
    if (weight->use_empty()) {
      dead.push_back(weight);
    }
  });
  for (chip::WeightOp weight : dead) {
    weight->erase();
  }
}

struct ConvertGraphToChipPass
    : public conveyor::impl::ConvertGraphToChipBase<ConvertGraphToChipPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    LoweringState state;
    module.walk([&](Operation *op) {
      if (auto constant = dyn_cast<graph::ConstantOp>(op)) {
        if (auto name = constant.getName()) {
          state.names.reserve(*name);
        }
      } else if (auto weight = dyn_cast<chip::WeightOp>(op)) {
        state.names.reserve(weight.getName());
      }
    });

    SmallVector<func::FuncOp> funcs;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (!func.isExternal()) {
        funcs.push_back(func);
      }
    }
    for (func::FuncOp func : funcs) {
      updateFunctionType(func, /*convertArguments=*/true);
      if (failed(insertHostWrites(func))) {
        return signalPassFailure();
      }
    }

    ConversionTarget target(*context);
    target.addIllegalDialect<graph::GraphDialect>();
    target.addLegalDialect<chip::ChipDialect, func::FuncDialect>();
    // A returned i64 / i1 tensor becomes i32 / i8 on the chip: the return is rebuilt on the
    // converted values (the function type follows in updateFunctionType).
    target.addDynamicallyLegalOp<func::ReturnOp>([](func::ReturnOp ret) {
      return llvm::all_of(ret.getOperandTypes(), [](Type type) {
        return !isa<RankedTensorType>(type) || chipType(type) == type;
      });
    });
    RewritePatternSet patterns(context);
    patterns.add<ConstantLowering, MatMulLowering, GemmLowering, ReluLowering, GeluLowering,
                 SoftmaxLowering, ReshapeLowering, TransposeLowering>(context, state);
    patterns.add<BinaryLowering<graph::AddOp>>(context, state, "add");
    patterns.add<BinaryLowering<graph::SubOp>>(context, state, "sub");
    patterns.add<BinaryLowering<graph::MulOp>>(context, state, "mul");
    patterns.add<BinaryLowering<graph::DivOp>>(context, state, "div");
    populateTransformerLoweringPatterns(patterns, state);
    if (failed(applyPartialConversion(module, target, std::move(patterns)))) {
      return signalPassFailure();
    }

    for (func::FuncOp func : funcs) {
      insertHostReads(func);
      updateFunctionType(func, /*convertArguments=*/false);
    }
    eraseDeadWeights(module);
    numFoldedWeights += state.foldedWeights;
  }
};

} // namespace
