// Helpers for the compiler unit tests: a context with every dialect, parsing, running
// pass pipelines, and catching the diagnostics they emit.
#pragma once

#include "conveyor/Conversion/Passes.h"
#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/System/SystemConfig.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace conveyor::compiler::test {

inline std::string sourcePath(const std::string &relative) {
  return std::string(CONVEYOR_SOURCE_DIR) + "/" + relative;
}

inline std::string groq1Path() { return sourcePath("systems/groq-1.yaml"); }

inline system::SystemConfig loadGroq1() {
  Result<system::SystemConfig> config = system::loadSystemConfig(groq1Path());
  INFO((config.ok() ? std::string() : config.error()));
  REQUIRE(config.ok());
  return *config;
}

/// A context with cv.graph, cv.chip and func loaded (the dotted dialect names must be
/// loaded before parsing: the parser would look for a dialect named "cv").
inline std::unique_ptr<mlir::MLIRContext> makeContext() {
  mlir::DialectRegistry registry;
  registry.insert<graph::GraphDialect, chip::ChipDialect, mlir::func::FuncDialect>();
  auto context = std::make_unique<mlir::MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

/// Records every error diagnostic while alive.
class DiagnosticLog {
public:
  explicit DiagnosticLog(mlir::MLIRContext &context)
      : handler(&context, [this](mlir::Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() == mlir::DiagnosticSeverity::Error) {
            errors.push_back(diagnostic.str());
          }
          return mlir::success();
        }) {}

  std::string all() const {
    std::string text;
    for (const std::string &error : errors) {
      text += error + "\n";
    }
    return text;
  }

  std::vector<std::string> errors;

private:
  mlir::ScopedDiagnosticHandler handler;
};

inline mlir::OwningOpRef<mlir::ModuleOp> parse(mlir::MLIRContext &context,
                                               const std::string &text) {
  DiagnosticLog log(context);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  INFO(log.all());
  REQUIRE(module);
  return module;
}

/// Runs a comma-separated list of module passes ("pass-a{opt=x},pass-b") on `module`.
inline mlir::LogicalResult runPipeline(mlir::ModuleOp module, const std::string &pipeline) {
  static const bool registered = [] {
    chip::registerChipPasses();
    registerConversionPasses();
    return true;
  }();
  (void)registered;
  mlir::PassManager pm(module.getContext(), mlir::ModuleOp::getOperationName());
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm))) {
    return mlir::failure();
  }
  return pm.run(module);
}

/// allocate-sram + schedule for groq-1.
inline std::string placeAndSchedule() {
  return "conveyor-allocate-sram{system=" + groq1Path() +
         "},conveyor-schedule{system=" + groq1Path() + "}";
}

/// The first op of type OpTy in `module` whose attribute `name` equals `value`, or the
/// first OpTy when `value` is empty.
template <typename OpTy> OpTy findOp(mlir::ModuleOp module, const std::string &value = "") {
  OpTy found;
  module.walk([&](OpTy op) {
    if (found) {
      return;
    }
    auto name = op->template getAttrOfType<mlir::StringAttr>("name");
    if (value.empty() || (name && name.getValue() == value)) {
      found = op;
    }
  });
  REQUIRE(found);
  return found;
}

/// Two outputs through every unit, written so that op order differs from issue order (the
/// second mem_write issues late): for tests of the writer's sorted program order and of the
/// scheduler's unit contention.
inline constexpr const char *kOutOfOrderIssueModule = R"mlir(
    func.func @main(%a: tensor<8x64xf32>, %b: tensor<8x64xf32>) -> (tensor<8x32xf32>, tensor<8x8xf32>) {
      %w1 = cv.chip.weight "w1" {value = dense<1.0> : tensor<8x32xf32>} : tensor<8x32xf32>
      %w2 = cv.chip.weight "w2" {value = dense<2.0> : tensor<8x32xf32>} : tensor<8x32xf32>
      %x = cv.chip.mem_write %a, "a" : tensor<8x64xf32>
      %y = cv.chip.mem_write %b, "b" : tensor<8x64xf32>
      %p = cv.chip.vxm_binary "add" %w1, %w2 : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
      %q = cv.chip.vxm_binary "div" %w1, %w2 : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
      %r = cv.chip.vxm_unary "gelu_tanh" %p : tensor<8x32xf32>
      %s = cv.chip.vxm_binary "mul" %q, %r : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
      %c = cv.chip.mem_copy %s : tensor<8x32xf32>
      %o1 = cv.chip.mem_read %c, "o1" : tensor<8x32xf32>
      %yv = cv.chip.view %y : tensor<8x64xf32> -> tensor<64x8xf32>
      %m = cv.chip.mxm_matmul %x, %yv : (tensor<8x64xf32>, tensor<64x8xf32>) -> tensor<8x8xf32>
      %o2 = cv.chip.mem_read %m, "o2" : tensor<8x8xf32>
      return %o1, %o2 : tensor<8x32xf32>, tensor<8x8xf32>
    })mlir";

} // namespace conveyor::compiler::test
