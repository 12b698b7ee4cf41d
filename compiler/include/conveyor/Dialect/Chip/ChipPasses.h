// cv.chip pass declarations and registration.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace conveyor::chip {
#define GEN_PASS_DECL
#include "conveyor/Dialect/Chip/ChipPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "conveyor/Dialect/Chip/ChipPasses.h.inc"
} // namespace conveyor::chip
