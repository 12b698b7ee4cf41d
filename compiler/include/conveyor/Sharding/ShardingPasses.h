// conveyor-partition pass declaration and registration (conveyor::sharding).
#pragma once

#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace conveyor::sharding {
#define GEN_PASS_DECL
#include "conveyor/Sharding/ShardingPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "conveyor/Sharding/ShardingPasses.h.inc"
} // namespace conveyor::sharding
