// ONNX model -> cv.graph module importer (the frontend of the compiler).
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace conveyor::frontend {

/// Choices a caller can make about an import.
struct ImportOptions {
  /// Sizes for named (symbolic) dimensions, e.g. {"batch": 1, "seq": 128}. A bound
  /// name becomes a static dimension, so shape subgraphs that use it fold completely;
  /// unbound names stay dynamic (`?`) and are listed in `cv.dim_names`.
  llvm::StringMap<int64_t> dimSizes;
};

/// Reads an ONNX model file and builds a module holding `func.func @main` made of
/// cv.graph ops. On failure emits one MLIR error diagnostic (located with a
/// FileLineColLoc on the file, or a NameLoc of the ONNX node name fused with it) and
/// returns a null OwningOpRef.
///
/// Module conventions: module attribute `cv.model_name` (the ONNX graph name, else the
/// file stem); one @main argument per graph input that is not an initializer, with arg
/// attribute `cv.name` (and `cv.dim_names` when some dimension is symbolic); results in
/// graph-output order with result attribute `cv.name`; initializers and Constant nodes
/// become `cv.graph.constant` carrying `name`, and shape-only initializers (external
/// data location "conveyor:shape-only") become `cv.graph.weight`. Nodes whose inputs
/// are all known at import time (shapes, constants) are evaluated and leave no op.
/// Constants nothing uses (e.g. Reshape's shape input, once folded) are dropped.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(mlir::MLIRContext &context, llvm::StringRef path,
                                                 const ImportOptions &options = {});

/// Same, from bytes already in memory (`sourceName` used in locations/messages).
mlir::OwningOpRef<mlir::ModuleOp> importOnnxBytes(mlir::MLIRContext &context, llvm::StringRef bytes,
                                                  llvm::StringRef sourceName,
                                                  const ImportOptions &options = {});

/// Parses "name=size,name=size" (as given on a command line) into `options.dimSizes`;
/// returns an error message, or an empty string on success.
std::string parseDimSizes(llvm::StringRef text, ImportOptions &options);

} // namespace conveyor::frontend
