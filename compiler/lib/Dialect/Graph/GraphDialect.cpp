// cv.graph dialect registration.
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphOps.h"

using namespace mlir;
using namespace conveyor::graph;

#include "conveyor/Dialect/Graph/GraphOpsDialect.cpp.inc"

void GraphDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "conveyor/Dialect/Graph/GraphOps.cpp.inc"
      >();
}
