// Conversion passes between Conveyor dialects, grouped by compiler phase.
#ifndef CONVEYOR_CONVERSION_PASSES_TD
#define CONVEYOR_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// cv.graph -> cv.chip
//===----------------------------------------------------------------------===//

def ConvertGraphToChip : Pass<"convert-graph-to-chip", "mlir::ModuleOp"> {
  let summary = "Lower tensor-level cv.graph ops to cv.chip functional-unit instructions";
  let description = [{
    Every function argument is loaded with `cv.chip.mem_write` (named by its `cv.name`
    argument attribute) and every returned value is read back with `cv.chip.mem_read`
    (named by the result's `cv.name`). Constants become `cv.chip.weight`; matmul and
    gemm go to the MXM (gemm's transposes of constant operands and its alpha/beta
    scales of constants are folded into the weight data at compile time); elementwise
    ops and softmax go to the VXM; transpose to the SXM; reshape becomes a view.
    No cv.graph op is left afterwards.
  }];
  let dependentDialects = ["::conveyor::chip::ChipDialect"];
  let statistics = [
    Statistic<"numFoldedWeights", "folded-weights",
              "Weights whose data absorbed a transpose or a scale">
  ];
}

#endif // CONVEYOR_CONVERSION_PASSES_TD
