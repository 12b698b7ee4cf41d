// cv.graph pass declarations and registration.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace conveyor::graph {
#define GEN_PASS_DECL
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "conveyor/Dialect/Graph/GraphPasses.h.inc"
} // namespace conveyor::graph
