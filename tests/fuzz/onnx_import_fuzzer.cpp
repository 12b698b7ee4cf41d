// libFuzzer entry point: feeds arbitrary bytes to the ONNX importer, which must reject bad input with a diagnostic, never crash.
//
// Built only by the CONVEYOR_FUZZ configuration (tests/fuzz/CMakeLists.txt) with clang and
// -fsanitize=fuzzer,address,undefined; tests/fuzz/run-fuzz.sh builds and runs it.
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

/// The dialects an imported module may contain. conveyor/InitAll.h would also register
/// cv.chip and the conversion passes, which the importer never produces and which would
/// pull the whole compiler into this sanitizer build; importing only needs these two.
const mlir::DialectRegistry &importerDialects() {
  static const mlir::DialectRegistry *registry = [] {
    auto *dialects = new mlir::DialectRegistry();
    dialects->insert<conveyor::graph::GraphDialect, mlir::func::FuncDialect>();
    return dialects;
  }();
  return *registry;
}

/// Sizes for the symbolic dimension names that exported transformers use; binding them
/// takes the importer down its static-shape folding paths instead of the symbolic ones.
conveyor::frontend::ImportOptions boundDimensionOptions() {
  conveyor::frontend::ImportOptions options;
  for (const char *name : {"batch", "batch_size", "seq", "sequence", "sequence_length", "past",
                           "past_sequence_length", "total_sequence_length"}) {
    options.dimSizes[name] = 3;
  }
  return options;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: interned types and attributes from one input must not
  // grow memory or change behaviour for the next, so every finding reproduces alone.
  mlir::MLIRContext context(importerDialects(), mlir::MLIRContext::Threading::DISABLED);
  // Error diagnostics are the expected outcome for most inputs; printing them would
  // drown the fuzzer's own output and slow it down.
  mlir::ScopedDiagnosticHandler swallow(&context, [](mlir::Diagnostic &) { return mlir::success(); });

  // Half the inputs (chosen by length, so a reproducer replays the same way) import with
  // the common symbolic dimensions bound to a size.
  static const conveyor::frontend::ImportOptions unbound;
  static const conveyor::frontend::ImportOptions bound = boundDimensionOptions();
  const conveyor::frontend::ImportOptions &options = (size % 2 == 0) ? unbound : bound;

  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      conveyor::frontend::importOnnxBytes(context, bytes, "fuzz-input.onnx", options);
  // The importer's contract: a module it returns is valid IR. Anything else is a bug, and
  // abort() makes libFuzzer save the input as a reproducer.
  if (module && mlir::failed(mlir::verify(*module))) {
    std::abort();
  }
  return 0;
}
