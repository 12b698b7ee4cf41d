// ASAP list scheduling of a cv.chip function in program order (docs/timing-model.md).
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipScheduling.h"

#include "mlir/IR/Builders.h"

#include <algorithm>
#include <array>

using namespace mlir;

namespace conveyor::chip {

FailureOr<uint64_t> scheduleAsap(ChipSchedulingProblem &problem) {
  // Program order is a topological order (SSA in one block), so every producer has its
  // issue cycle before its consumers are placed; and each unit's queue stays in program
  // order because its free cycle only grows.
  std::array<uint64_t, kNumUnits> unitFree{};
  uint64_t end = 0;
  for (Operation *instruction : problem.getInstructions()) {
    const InstructionCost &cost = problem.getCost(instruction);
    uint64_t &freeAt = unitFree[static_cast<unsigned>(cost.unit)];
    uint64_t issue = freeAt;
    if (!isa<MemWriteOp>(instruction)) {
      for (Value operand : instruction->getOperands()) {
        FailureOr<uint64_t> ready = problem.readyCycle(operand, instruction);
        if (failed(ready)) {
          return failure();
        }
        issue = std::max(issue, *ready);
      }
    }
    Builder builder(instruction->getContext());
    instruction->setAttr("issue", builder.getI64IntegerAttr(static_cast<int64_t>(issue)));
    freeAt = issue + cost.occupancy;
    end = std::max(end, issue + cost.duration);
  }
  return end;
}

} // namespace conveyor::chip
