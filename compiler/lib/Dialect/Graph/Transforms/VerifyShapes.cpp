// conveyor-graph-verify-shapes: reject graphs with dynamic dimensions before lowering.
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

namespace conveyor::graph {
#define GEN_PASS_DEF_GRAPHCANONICALIZESHAPES
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph

using namespace mlir;

namespace {

/// The first dynamic dimension of `type`, or -1 when every dimension is static.
/// Unranked tensors count as dynamic at index 0.
int64_t firstDynamicDim(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped) {
    return -1;
  }
  if (!shaped.hasRank()) {
    return 0;
  }
  for (auto [index, dim] : llvm::enumerate(shaped.getShape())) {
    if (ShapedType::isDynamic(dim)) {
      return static_cast<int64_t>(index);
    }
  }
  return -1;
}

struct VerifyShapesPass
    : public conveyor::graph::impl::GraphCanonicalizeShapesBase<VerifyShapesPass> {
  void runOnOperation() override {
    // Function arguments first: a dynamic input is the usual cause, and naming the
    // argument (rather than its first user) points at the ONNX input to fix.
    WalkResult result = getOperation().walk([&](func::FuncOp func) -> WalkResult {
      for (BlockArgument argument : func.getArguments()) {
        int64_t dim = firstDynamicDim(argument.getType());
        if (dim < 0) {
          continue;
        }
        auto name = func.getArgAttrOfType<StringAttr>(argument.getArgNumber(), "cv.name");
        InFlightDiagnostic diag = func.emitError() << "argument #" << argument.getArgNumber();
        if (name) {
          diag << " ('" << name.getValue() << "')";
        }
        diag << " of @" << func.getSymName() << " has type " << argument.getType()
             << " with dynamic dimension " << dim
             << "; Conveyor's lowering needs static shapes: give the model input a fixed size";
        return WalkResult::interrupt();
      }
      WalkResult bodyResult = func.walk([&](Operation *op) -> WalkResult {
        for (OpResult value : op->getResults()) {
          int64_t dim = firstDynamicDim(value.getType());
          if (dim < 0) {
            continue;
          }
          op->emitOpError() << "result #" << value.getResultNumber() << " has type "
                            << value.getType() << " with dynamic dimension " << dim
                            << "; Conveyor's lowering needs static shapes";
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      return bodyResult;
    });
    if (result.wasInterrupted()) {
      signalPassFailure();
    }
  }
};

} // namespace
