// cv.graph: tensor-level transformer graph, the ONNX importer's target.
#ifndef CONVEYOR_DIALECT_GRAPH_GRAPHDIALECT_TD
#define CONVEYOR_DIALECT_GRAPH_GRAPHDIALECT_TD

include "mlir/IR/OpBase.td"

def Graph_Dialect : Dialect {
  let name = "cv.graph";
  let summary = "Tensor-level model graph imported from ONNX";
  let description = [{
    Ops on ranked tensors with value semantics, one per ONNX operator (or per
    recognised transformer pattern). Every op verifies its operand shapes and infers
    its result type, so a malformed import is caught at the op that caused it.
  }];
  let cppNamespace = "::conveyor::graph";
}

class Graph_Op<string mnemonic, list<Trait> traits = []> :
    Op<Graph_Dialect, mnemonic, traits>;

#endif // CONVEYOR_DIALECT_GRAPH_GRAPHDIALECT_TD
