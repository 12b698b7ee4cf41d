// Finds the repeated layers of a decoder graph from its residual stream (conveyor-partition).
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace conveyor::sharding {

/// A decoder function cut into: ops before the first layer (the embedding), L layers that
/// repeat op for op, and the tail (final norm, LM head). Constants, weights, and ops that
/// depend only on them and on arguments no layer owns are "shared": they belong to no part
/// and are cloned wherever they are used.
struct DecoderStructure {
  mlir::func::FuncOp func;
  llvm::SmallVector<mlir::Operation *> preOps;                    // program order
  llvm::SmallVector<llvm::SmallVector<mlir::Operation *>> layers; // each in program order
  llvm::SmallVector<mlir::Operation *> postOps;                   // program order
  /// residual[i] enters layer i; residual[L] leaves the last layer.
  llvm::SmallVector<mlir::Value> residual;
  unsigned blocksPerLayer = 0; // residual adds per layer (attention + MLP: 2)
  /// Layer 0's operands that stand for a different value in each layer: a per-layer
  /// argument (KV cache) or parameter (weight); value i is layer i's.
  llvm::DenseMap<mlir::Value, llvm::SmallVector<mlir::Value>> perLayer;
  /// Layer 0's values that the function returns (one per layer each: present K/V).
  llvm::SmallVector<mlir::Value> layerOutputs;
  /// For each returned value of the function: -1 when it is computed by the tail, else
  /// its index in layerOutputs; with returnLayer, the layer that computes it.
  llvm::SmallVector<int> returnOutput, returnLayer;

  /// Why shorter layer periods did not match (the first difference found), if any.
  std::string mismatch;

  unsigned numLayers() const { return layers.size(); }
  bool isPerLayer(mlir::Value layer0Value) const { return perLayer.count(layer0Value) != 0; }
};

/// Cuts `func` as described above. Emits an error naming the op at fault and fails when
/// it has no embedding, no residual stream, or a value crosses layers.
mlir::FailureOr<DecoderStructure> analyzeDecoder(mlir::func::FuncOp func);

/// A name pattern with "{layer}" that gives names[i] for layer i ("model.layers.{layer}.x"),
/// or "" when there is none (torch's "onnx::MatMul_571" names).
std::string layerNameTemplate(llvm::ArrayRef<std::string> names);

} // namespace conveyor::sharding
