// Host-side tensors and the kernels the importer folds ONNX shape subgraphs with.
//
// Torch and Hugging Face exports compute shapes, masks and position tables with
// Shape/Gather/Concat/Range/Where/... chains. The importer evaluates every node whose
// inputs it knows (constants, folded results, shapes) with these kernels instead of
// emitting cv.graph ops, so those chains disappear. Integer tensors may hold symbolic
// sizes (DimExpr) where a shape has a named dimension.
#pragma once

#include "conveyor/Dialect/Graph/SymbolicDim.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>
#include <vector>

namespace conveyor::frontend {

/// A tensor value known at import time. Floating-point tensors keep doubles; integer
/// and boolean (i1) tensors keep int64 values, or DimExprs when some entry is symbolic.
class HostTensor {
public:
  HostTensor() = default;
  static HostTensor fromFloats(mlir::Type elementType, llvm::ArrayRef<int64_t> shape,
                               std::vector<double> values);
  static HostTensor fromInts(mlir::Type elementType, llvm::ArrayRef<int64_t> shape,
                             std::vector<int64_t> values);
  /// Integer tensor with symbolic entries; stays symbolic only if one entry is.
  static HostTensor fromDims(mlir::Type elementType, llvm::ArrayRef<int64_t> shape,
                             std::vector<graph::DimExpr> values);
  /// Reads a constant attribute's values (any int or float element type).
  static HostTensor fromAttr(mlir::DenseElementsAttr attr);

  mlir::Type getElementType() const { return elementType; }
  llvm::ArrayRef<int64_t> getShape() const { return shape; }
  int64_t getRank() const { return static_cast<int64_t>(shape.size()); }
  int64_t getNumElements() const;
  bool isFloat() const { return mlir::isa<mlir::FloatType>(elementType); }
  bool isBool() const { return elementType.isInteger(1); }
  bool isSymbolic() const { return !dims.empty(); }

  double getFloat(int64_t index) const;
  int64_t getInt(int64_t index) const;
  graph::DimExpr getDim(int64_t index) const;
  /// All entries as int64 (fails on symbolic or float tensors).
  std::optional<std::vector<int64_t>> getIntVector() const;
  /// All entries as DimExprs (integer tensors only).
  std::vector<graph::DimExpr> getDimVector() const;

  /// The same data with another shape of the same element count.
  HostTensor reshaped(llvm::ArrayRef<int64_t> newShape) const;

  /// The constant attribute for this value (not for symbolic tensors).
  mlir::DenseElementsAttr toAttr() const;
  /// "the shape [batch, seq]" style rendering of a symbolic 1-D tensor, for messages.
  std::string describeSymbolic() const;

private:
  /// A tensor with its type and shape set and no values yet.
  static HostTensor emptyTensor(mlir::Type elementType, llvm::ArrayRef<int64_t> shape);

  mlir::Type elementType;
  llvm::SmallVector<int64_t> shape;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<graph::DimExpr> dims;
};

/// The outcome of a kernel: a tensor, or why it cannot be folded (which is a model
/// error when the op has no cv.graph form either).
struct HostResult {
  std::optional<HostTensor> value;
  std::string whyNot;
  static HostResult fail(std::string why) { return {std::nullopt, std::move(why)}; }
  HostResult(HostTensor tensor) : value(std::move(tensor)) {}
  HostResult(std::optional<HostTensor> tensor, std::string why)
      : value(std::move(tensor)), whyNot(std::move(why)) {}
  explicit operator bool() const { return value.has_value(); }
};

enum class HostUnary {
  Neg,
  Abs,
  Not,
  Sqrt,
  Reciprocal,
  Exp,
  Log,
  Cos,
  Sin,
  Tanh,
  Sigmoid,
  Erf,
  Relu,
  Floor,
  Ceil
};
enum class HostBinary { Add, Sub, Mul, Div, Pow, Max, Min, Mod, And, Or, Xor };
enum class HostCompare { Equal, Less, LessEqual, Greater, GreaterEqual };
enum class HostReduce { Sum, Mean, Max, Min, Prod };

/// The element count of a static shape, saturating at INT64_MAX instead of
/// overflowing (a damaged model may declare absurd sizes).
int64_t saturatingElementCount(llvm::ArrayRef<int64_t> shape);

/// Numpy broadcasting of two shapes, or std::nullopt when they do not broadcast.
std::optional<llvm::SmallVector<int64_t>> broadcastHostShapes(llvm::ArrayRef<int64_t> lhs,
                                                              llvm::ArrayRef<int64_t> rhs);

HostResult hostUnary(HostUnary op, const HostTensor &input);
HostResult hostBinary(HostBinary op, const HostTensor &lhs, const HostTensor &rhs);
HostResult hostCompare(HostCompare op, const HostTensor &lhs, const HostTensor &rhs);
HostResult hostWhere(const HostTensor &condition, const HostTensor &lhs, const HostTensor &rhs);
HostResult hostCast(const HostTensor &input, mlir::Type elementType);
HostResult hostTranspose(const HostTensor &input, llvm::ArrayRef<int64_t> perm);
/// Normalised slice: per listed axis, `sizes[i]` elements from `starts[i]` by `steps[i]`.
HostResult hostSlice(const HostTensor &input, llvm::ArrayRef<int64_t> axes,
                     llvm::ArrayRef<int64_t> starts, llvm::ArrayRef<int64_t> sizes,
                     llvm::ArrayRef<int64_t> steps);
HostResult hostGather(const HostTensor &data, const HostTensor &indices, int64_t axis);
HostResult hostConcat(llvm::ArrayRef<const HostTensor *> inputs, int64_t axis);
/// Broadcasts `input` to `shape` (which it must broadcast to unidirectionally).
HostResult hostBroadcastTo(const HostTensor &input, llvm::ArrayRef<int64_t> shape);
HostResult hostTrilu(const HostTensor &input, bool upper, int64_t k);
HostResult hostReduce(HostReduce op, const HostTensor &input, llvm::ArrayRef<int64_t> axes,
                      bool keepdims);
HostResult hostMatMul(const HostTensor &lhs, const HostTensor &rhs);
HostResult hostSoftmax(const HostTensor &input, int64_t axis);
HostResult hostRange(const HostTensor &start, const HostTensor &limit, const HostTensor &delta);
/// LayerNormalization over dimensions [axis, rank); `bias` may be null.
HostResult hostLayerNorm(const HostTensor &input, const HostTensor &scale, const HostTensor *bias,
                         int64_t axis, double epsilon);
/// The k largest (or smallest) entries along `axis`, sorted, first index on ties:
/// {values, i64 indices}.
std::optional<std::pair<HostTensor, HostTensor>> hostTopK(const HostTensor &input, int64_t k,
                                                          int64_t axis, bool largest);
HostResult hostGatherElements(const HostTensor &data, const HostTensor &indices, int64_t axis);
/// ScatterElements with reduction "none", "add", "mul", "max" or "min".
HostResult hostScatterElements(const HostTensor &data, const HostTensor &indices,
                               const HostTensor &updates, int64_t axis, llvm::StringRef reduction);

} // namespace conveyor::frontend
