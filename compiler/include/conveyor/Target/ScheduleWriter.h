// Translates a placed and scheduled cv.chip module into the *.sched protobuf.
#pragma once

#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/System/SystemConfig.h"
#include "schedule.pb.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <vector>

namespace conveyor::target {

/// Module attribute naming the file the model came from (recorded as `source_path`).
inline constexpr llvm::StringLiteral kSourcePathAttr = "cv.source_path";

/// Builds the schedule of `func.func @main` in `module` for the system `config`: one
/// buffer per SRAM tensor (weights with their data, inputs, outputs, activations, views
/// as aliases), one FORWARD program for chip 0 with the instructions sorted by issue
/// cycle (program order breaks ties). The module must have been through
/// convert-graph-to-chip, conveyor-allocate-sram and conveyor-schedule for the same
/// system: the issue cycles are re-verified first. Emits an error on the op at fault
/// (e.g. one lacking `issue` or `sram_addr`) and fails.
/// When `costs` is given it receives each instruction's cost from the compiler's
/// ChipCostModel, one per instruction of the program in the same (sorted) order, so that a
/// later re-timing (the multi-chip compile) never needs another timing model.
mlir::FailureOr<conveyor::schedule::Schedule>
buildSchedule(mlir::ModuleOp module, const conveyor::system::SystemConfig &config,
              std::vector<conveyor::chip::InstructionCost> *costs = nullptr);

} // namespace conveyor::target
