// conveyor-translate: mlir-translate with Conveyor's translations (--import-onnx).
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

namespace {

void registerImportOnnx() {
  static mlir::TranslateToMLIRRegistration importOnnx(
      "import-onnx", "Import an ONNX model (.onnx) as cv.graph MLIR",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         mlir::MLIRContext *context) -> mlir::OwningOpRef<mlir::Operation *> {
        const llvm::MemoryBuffer *buffer = sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
        return conveyor::frontend::importOnnxBytes(*context, buffer->getBuffer(),
                                                   buffer->getBufferIdentifier());
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
