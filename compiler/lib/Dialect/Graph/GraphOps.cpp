// cv.graph op verifiers, shape inference and folders.
#include "conveyor/Dialect/Graph/GraphOps.h"

using namespace mlir;
using namespace conveyor::graph;

// TODO(frontend helper): real verifiers and shape inference.
LogicalResult ConstantOp::verify() { return success(); }
OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }
LogicalResult ReshapeOp::verify() { return success(); }
LogicalResult TransposeOp::verify() { return success(); }
LogicalResult GeluOp::verify() { return success(); }
LogicalResult SoftmaxOp::verify() { return success(); }

#define GET_OP_CLASSES
#include "conveyor/Dialect/Graph/GraphOps.cpp.inc"
