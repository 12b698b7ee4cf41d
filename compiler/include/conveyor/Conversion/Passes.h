// Conversion pass declarations and registration (conveyor::registerConversionPasses()).
#pragma once

#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace conveyor {
#define GEN_PASS_DECL
#include "conveyor/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "conveyor/Conversion/Passes.h.inc"
} // namespace conveyor
