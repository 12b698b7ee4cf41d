// ONNX model -> cv.graph module importer (the frontend of the compiler).
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

namespace conveyor::frontend {

/// Reads an ONNX model file and builds a module holding `func.func @main` made of
/// cv.graph ops. On failure emits one MLIR error diagnostic (located with a
/// FileLineColLoc on the file, or a NameLoc of the ONNX node name fused with it) and
/// returns a null OwningOpRef.
///
/// Module conventions: module attribute `cv.model_name` (the ONNX graph name, else the
/// file stem); one @main argument per graph input that is not an initializer, with arg
/// attribute `cv.name`; results in graph-output order with result attribute `cv.name`;
/// initializers and Constant nodes become `cv.graph.constant` carrying `name`.
/// Constants nothing uses (e.g. Reshape's shape input, once folded) are dropped.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(mlir::MLIRContext &context, llvm::StringRef path);

/// Same, from bytes already in memory (`sourceName` used in locations/messages).
mlir::OwningOpRef<mlir::ModuleOp> importOnnxBytes(mlir::MLIRContext &context, llvm::StringRef bytes,
                                                  llvm::StringRef sourceName);

} // namespace conveyor::frontend
