// cv.chip dialect declaration.
#pragma once

#include "mlir/IR/Dialect.h"

#include "conveyor/Dialect/Chip/ChipOpsDialect.h.inc"
