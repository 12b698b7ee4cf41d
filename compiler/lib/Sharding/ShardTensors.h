// Megatron-style tensor-parallel split of one chip-role function (conveyor-partition).
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"

namespace conveyor::sharding {

/// Marks a function argument, result or weight whose value differs per layer of a
/// cv.graph.repeat (bound to layer first_layer + i on iteration i).
inline constexpr llvm::StringLiteral kPerLayerAttr = "cv.partition.per_layer";
/// [axis, parts] of a sharded argument, result or weight: rank r holds part r * parts / tp.
inline constexpr llvm::StringLiteral kShardAttr = "cv.shard";

struct ShardStats {
  unsigned allReduces = 0, allGathers = 0, shardedWeights = 0;
};

/// Splits `func` over `tp` ranks: rewrites weight and activation types to one rank's
/// shard, inserts cv.graph.all_reduce / all_gather where a split ends. One template
/// serves every rank (shards have one shape). `replicated` ops (values every layer shares,
/// such as rotary tables computed from positions) stay whole on every rank. Fails with an
/// error on the op at fault.
mlir::LogicalResult shardFunction(mlir::func::FuncOp func, int64_t tp, ShardStats &stats,
                                  const llvm::DenseSet<mlir::Operation *> &replicated);

} // namespace conveyor::sharding
