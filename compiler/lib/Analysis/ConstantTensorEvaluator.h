// Element-at-a-time evaluation of cv.graph tensors that depend on no model input (masks).
//
// Attention masks are built from positions (iota, dim_value, constants) with compares and
// selects; once the symbolic sizes are bound every shape is static, but the importer only
// folds tensors up to 4M elements, so a 4096-token prefill mask stays a small subgraph
// of ops. Counting its unmasked entries needs its values without materialising 16M-entry
// intermediates: this evaluator computes one element at a time, caching small tensors.
#pragma once

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace conveyor::analysis::detail {

class ConstantTensorEvaluator {
public:
  /// True when `value` has a static shape and every op it is computed from is one this
  /// evaluator knows and depends on no block argument. Cached.
  bool canEvaluate(mlir::Value value);

  /// The element at row-major `index` of `value` as a double (i1 is 0/1). Requires
  /// canEvaluate(value).
  double at(mlir::Value value, int64_t index);

private:
  /// How a result index maps to an operand index under numpy broadcasting.
  struct BroadcastMap {
    std::vector<int64_t> resultDims;     // result shape
    std::vector<int64_t> operandStrides; // per result dim; 0 where the operand broadcasts
  };

  double compute(mlir::Operation *op, unsigned resultNumber, int64_t index);
  double operandAt(mlir::Operation *op, unsigned operandNumber, int64_t index);
  const BroadcastMap &broadcastMap(mlir::Operation *op, unsigned operandNumber);
  const std::vector<double> &constantValues(mlir::Operation *op);

  llvm::DenseMap<mlir::Value, bool> evaluable;
  llvm::DenseMap<mlir::Value, std::vector<double>> materialized;
  llvm::DenseMap<mlir::Operation *, std::vector<double>> constants;
  llvm::DenseMap<std::pair<mlir::Operation *, unsigned>, BroadcastMap> broadcastMaps;
};

} // namespace conveyor::analysis::detail
