// conveyor-schedule: gives every cv.chip instruction its issue cycle on the chip of `system`.
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"
#include "conveyor/Dialect/Chip/ChipScheduling.h"

#include "SystemOption.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace conveyor::chip {
#define GEN_PASS_DEF_SCHEDULEINSTRUCTIONS
#include "conveyor/Dialect/Chip/ChipPasses.h.inc"
} // namespace conveyor::chip

using namespace mlir;

namespace {

struct ScheduleInstructionsPass
    : public conveyor::chip::impl::ScheduleInstructionsBase<ScheduleInstructionsPass> {
  using ScheduleInstructionsBase::ScheduleInstructionsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto config = conveyor::chip::loadSystemOption(module, getArgument(), systemPath);
    if (failed(config)) {
      return signalPassFailure();
    }
    conveyor::chip::ChipCostModel model(config->chip);
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal()) {
        continue;
      }
      conveyor::chip::ChipSchedulingProblem problem(func, model);
      if (failed(problem.check())) {
        return signalPassFailure();
      }
      FailureOr<uint64_t> end = conveyor::chip::scheduleAsap(problem);
      // The solution is re-checked by the same rules the simulator enforces, so a
      // scheduler bug shows up here, on the op at fault.
      if (failed(end) || failed(problem.verify())) {
        return signalPassFailure();
      }
      func->setAttr(conveyor::chip::kEndCycleAttr,
                    Builder(&getContext()).getI64IntegerAttr(static_cast<int64_t>(*end)));
      numInstructions += problem.getInstructions().size();
      endCycle = std::max<uint64_t>(endCycle, *end);
    }
  }
};

} // namespace
