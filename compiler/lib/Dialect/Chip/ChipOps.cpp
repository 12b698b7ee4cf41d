// cv.chip op verifiers.
#include "conveyor/Dialect/Chip/ChipOps.h"

using namespace mlir;
using namespace conveyor::chip;

#define GET_OP_CLASSES
#include "conveyor/Dialect/Chip/ChipOps.cpp.inc"
