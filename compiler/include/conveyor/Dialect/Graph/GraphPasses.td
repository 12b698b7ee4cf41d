// Passes on cv.graph.
#ifndef CONVEYOR_DIALECT_GRAPH_GRAPHPASSES_TD
#define CONVEYOR_DIALECT_GRAPH_GRAPHPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Graph cleanup
//===----------------------------------------------------------------------===//

def GraphCanonicalizeShapes : Pass<"conveyor-graph-verify-shapes", "mlir::ModuleOp"> {
  let summary = "Check that every tensor in the graph has a static shape";
  let description = [{
    The walking-skeleton lowering needs static shapes. This pass reports the first
    value with a dynamic dimension, naming the op, and fails.
  }];
}

#endif // CONVEYOR_DIALECT_GRAPH_GRAPHPASSES_TD
