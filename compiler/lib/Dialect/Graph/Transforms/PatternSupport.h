// Helpers shared by the cv.graph pattern-recognition passes (internal).
#pragma once

#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphOps.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"

#include <optional>

namespace conveyor::graph::patterns {

/// The value of a one-element floating-point cv.graph.constant (a scalar such as eps
/// or 0.5, of any rank).
inline std::optional<double> getScalarFloat(mlir::Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  auto type = constant ? constant.getType() : mlir::RankedTensorType();
  if (!type || !type.hasStaticShape() || type.getNumElements() != 1) {
    return std::nullopt;
  }
  auto attr = mlir::dyn_cast<mlir::DenseFPElementsAttr>(constant.getValue());
  if (!attr) {
    return std::nullopt;
  }
  return (*attr.value_begin<llvm::APFloat>()).convertToDouble();
}

/// True when `value` is within a relative `tolerance` of `expected` (exporters round
/// constants like sqrt(2 / pi) to the tensor's precision).
inline bool approximately(double value, double expected, double tolerance = 1e-3) {
  double scale = expected < 0 ? -expected : expected;
  double difference = value - expected;
  return (difference < 0 ? -difference : difference) <= tolerance * (scale > 1e-30 ? scale : 1);
}

/// Erases `op` if nothing uses it any more, then its operands' producers in turn: the
/// chain a fusion replaced, but no dead code the fusion did not create. Erased ops are
/// added to `erased`.
inline void eraseDeadChain(mlir::Operation *op, llvm::DenseSet<mlir::Operation *> &erased) {
  llvm::SmallVector<mlir::Operation *> worklist = {op};
  while (!worklist.empty()) {
    mlir::Operation *candidate = worklist.pop_back_val();
    // An op reached twice (mul(d, d), or two operands of the root) is erased once; the
    // pointer is compared before it is dereferenced.
    if (!candidate || erased.contains(candidate) || !candidate->use_empty() || !mlir::isPure(candidate) ||
        !mlir::isa<GraphDialect>(candidate->getDialect())) {
      continue;
    }
    for (mlir::Value operand : candidate->getOperands()) {
      worklist.push_back(operand.getDefiningOp());
    }
    erased.insert(candidate);
    candidate->erase();
  }
}

/// Replaces `root` by `replacement` and erases what of its chain became dead.
inline void replaceChain(mlir::Operation *root, mlir::Operation *replacement,
                         llvm::DenseSet<mlir::Operation *> &erased) {
  llvm::SmallVector<mlir::Operation *> producers;
  for (mlir::Value operand : root->getOperands()) {
    producers.push_back(operand.getDefiningOp());
  }
  root->replaceAllUsesWith(replacement->getResults());
  erased.insert(root);
  root->erase();
  for (mlir::Operation *producer : producers) {
    eraseDeadChain(producer, erased);
  }
}

} // namespace conveyor::graph::patterns
