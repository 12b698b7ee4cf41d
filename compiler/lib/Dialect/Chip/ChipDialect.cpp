// cv.chip dialect registration.
#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "conveyor/Dialect/Chip/ChipOps.h"

using namespace mlir;
using namespace conveyor::chip;

#include "conveyor/Dialect/Chip/ChipOpsDialect.cpp.inc"

void ChipDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "conveyor/Dialect/Chip/ChipOps.cpp.inc"
      >();
}
