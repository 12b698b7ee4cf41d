// conveyor-opt: runs Conveyor (and core MLIR) passes on .mlir text.
#include "conveyor/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  conveyor::registerAllDialects(registry);
  conveyor::registerAllPasses();
  // canonicalize, cse, symbol-dce etc. are handy when writing pass tests.
  mlir::registerTransformsPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Conveyor optimizer driver\n", registry));
}
