// Registers every Conveyor dialect and pass, for conveyor-opt and other MLIR tools.
#pragma once

#include "conveyor/Conversion/Passes.h"
#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"
#include "conveyor/Sharding/ShardingPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

namespace conveyor {

/// Adds the dialects a Conveyor module may contain: cv.graph, cv.chip and func.
///
/// A context built from this registry loads them all up front. The MLIR parser loads a
/// dialect lazily by the op name's text before the first '.', which for `cv.graph.add`
/// is "cv" (no such dialect); once `cv.graph` is loaded, the full op name is found.
inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<conveyor::graph::GraphDialect, conveyor::chip::ChipDialect,
                  mlir::func::FuncDialect>();
  registry.addExtension(+[](mlir::MLIRContext *context, mlir::BuiltinDialect *) {
    context->loadDialect<conveyor::graph::GraphDialect, conveyor::chip::ChipDialect,
                         mlir::func::FuncDialect>();
  });
}

/// Registers every Conveyor pass with the global pass registry (for --pass flags and
/// textual pipelines). Calling it more than once is harmless.
inline void registerAllPasses() {
  conveyor::graph::registerGraphPasses();
  conveyor::chip::registerChipPasses();
  conveyor::registerConversionPasses();
  conveyor::sharding::registerShardingPasses();
}

} // namespace conveyor
