// Shape helpers shared by the cv.graph op verifiers and type inference (internal).
#pragma once

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/ValueRange.h"
#include "mlir/Support/LogicalResult.h"

#include <optional>
#include <string>

namespace conveyor::graph::detail {

/// Formats a shape as "[2, ?, 4]" for error messages.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Reports an error at `location` (if any) prefixed like emitOpError does, so that
/// messages read the same whether they come from the importer or the verifier.
mlir::LogicalResult emitShapeError(std::optional<mlir::Location> location, llvm::StringRef opName,
                                   const llvm::Twine &message);

/// Numpy (ONNX multidirectional) broadcasting of two shapes, aligned from the right.
/// A dynamic dimension broadcasts against 1 and against itself; against a static size
/// other than 1 it takes that size (the program is only valid if they agree at run time).
/// `what` names the shapes in the error ("operand shapes").
mlir::FailureOr<llvm::SmallVector<int64_t>> broadcastShapes(llvm::ArrayRef<int64_t> lhs,
                                                            llvm::ArrayRef<int64_t> rhs,
                                                            std::optional<mlir::Location> location,
                                                            llvm::StringRef opName,
                                                            llvm::StringRef what);

/// True when two static-or-dynamic dimensions may be equal.
inline bool dimsCompatible(int64_t a, int64_t b) {
  return a == b || mlir::ShapedType::isDynamic(a) || mlir::ShapedType::isDynamic(b);
}

/// The operand at `index` as a ranked tensor type, or an error naming `what`.
mlir::FailureOr<mlir::RankedTensorType> getRankedOperand(mlir::ValueRange operands, unsigned index,
                                                         std::optional<mlir::Location> location,
                                                         llvm::StringRef opName,
                                                         llvm::StringRef what);

/// Checks that `axis` is in [0, rank); the message names the attribute.
mlir::LogicalResult checkAxis(int64_t axis, int64_t rank, std::optional<mlir::Location> location,
                              llvm::StringRef opName, llvm::StringRef attributeName = "axis");

} // namespace conveyor::graph::detail
