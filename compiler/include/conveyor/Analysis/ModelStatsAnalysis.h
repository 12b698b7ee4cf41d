// MLIR-level model statistics over a cv.graph module: parameters, matmul MACs, KV cache.
#pragma once

#include "conveyor/Analysis/ModelStats.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <optional>

namespace conveyor::analysis {

/// What one analysis of a module finds.
struct GraphStats {
  ParameterStats params;
  CallMacs macs;                       // one call of @main
  std::optional<KvCacheStats> kvCache; // absent when no cache input was found
};

/// Parameters of the module's @main (or its only function). Shapes may be symbolic.
/// Fails (with an error diagnostic on the module) only when there is no function.
mlir::FailureOr<ParameterStats> analyzeParameters(mlir::ModuleOp module);

/// Parameters, MACs of one call and KV-cache growth. Every matmul, gemm and cache
/// input must have a static shape: import with the symbolic dimensions bound
/// (frontend::ImportOptions::dimSizes). Emits an error naming the first op that does
/// not and fails.
mlir::FailureOr<GraphStats> analyzeGraph(mlir::ModuleOp module);

} // namespace conveyor::analysis
