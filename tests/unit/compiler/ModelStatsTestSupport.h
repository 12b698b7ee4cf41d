// Helpers shared by the model-statistics tests (ModelStatsTest, FusedModelStatsTest): import an
// ONNX model with its symbolic dims bound, run the graph fusions, analyse a module.
#pragma once

#include "CompilerTestSupport.h"

#include "conveyor/Analysis/ModelStatsAnalysis.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <catch2/catch.hpp>

#include <string>

namespace conveyor::compiler::test {

/// Imports `path` with batch = 1, seq and past bound; fails the test if it does not import.
inline mlir::OwningOpRef<mlir::ModuleOp> importBound(mlir::MLIRContext &context,
                                                     const std::string &path, int64_t seq,
                                                     int64_t past) {
  frontend::ImportOptions options;
  options.dimSizes["batch"] = 1;
  options.dimSizes["seq"] = seq;
  options.dimSizes["past"] = past;
  DiagnosticLog log(context);
  auto module = frontend::importOnnxFile(context, path, options);
  INFO(path << ": " << log.all());
  REQUIRE(module);
  return module;
}

/// Runs the norm, activation and transformer fusions on `module`; fails the test if they fail.
inline void runGraphFusions(mlir::ModuleOp module) {
  static const bool registered = [] {
    graph::registerGraphPasses();
    return true;
  }();
  (void)registered;
  mlir::PassManager pm(module.getContext(), mlir::ModuleOp::getOperationName());
  REQUIRE(mlir::succeeded(mlir::parsePassPipeline(
      "conveyor-graph-fuse-norms,conveyor-graph-fuse-activations,conveyor-graph-fuse-transformer",
      pm)));
  REQUIRE(mlir::succeeded(pm.run(module)));
}

/// The graph statistics of `module`; fails the test if the analysis does.
inline analysis::GraphStats analyzeStats(mlir::ModuleOp module) {
  DiagnosticLog log(*module.getContext());
  mlir::FailureOr<analysis::GraphStats> stats = analysis::analyzeGraph(module);
  INFO(log.all());
  REQUIRE(mlir::succeeded(stats));
  return *stats;
}

} // namespace conveyor::compiler::test
