// conveyor-translate: mlir-translate with Conveyor's translations (--import-onnx).
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

namespace {

// Binding symbolic dims at import lets shape subgraphs that use them fold completely.
llvm::cl::opt<std::string> onnxDims(
    "onnx-dims",
    llvm::cl::desc("Sizes for named ONNX dimensions, e.g. batch=1,seq=8,past=0 (--import-onnx)"),
    llvm::cl::init(""));

void registerImportOnnx() {
  static mlir::TranslateToMLIRRegistration importOnnx(
      "import-onnx", "Import an ONNX model (.onnx) as cv.graph MLIR",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         mlir::MLIRContext *context) -> mlir::OwningOpRef<mlir::Operation *> {
        const llvm::MemoryBuffer *buffer = sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
        conveyor::frontend::ImportOptions options;
        std::string error = conveyor::frontend::parseDimSizes(onnxDims, options);
        if (!error.empty()) {
          mlir::emitError(mlir::UnknownLoc::get(context)) << "--onnx-dims: " << error;
          return nullptr;
        }
        return conveyor::frontend::importOnnxBytes(*context, buffer->getBuffer(),
                                                   buffer->getBufferIdentifier(), options);
      },
      [](mlir::DialectRegistry &registry) {
        registry.insert<conveyor::graph::GraphDialect, mlir::func::FuncDialect>();
      });
}

} // namespace

int main(int argc, char **argv) {
  registerImportOnnx();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "Conveyor translation driver\n"));
}
