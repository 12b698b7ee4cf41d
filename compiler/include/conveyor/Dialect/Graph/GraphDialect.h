// cv.graph dialect declaration.
#pragma once

#include "mlir/IR/Dialect.h"

#include "conveyor/Dialect/Graph/GraphOpsDialect.h.inc"
