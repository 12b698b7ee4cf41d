// check() and verify() of the cv.chip scheduling problem (see ChipScheduling.h).
#include "conveyor/Dialect/Chip/ChipScheduling.h"
#include "conveyor/Dialect/Chip/ChipOps.h"

#include <algorithm>
#include <array>

using namespace mlir;

namespace conveyor::chip {

namespace {

/// Which operands of an instruction are read from SRAM: all of them, except the host
/// tensor a mem_write loads.
bool readsFromSram(Operation *op) { return !isa<MemWriteOp>(op); }

} // namespace

LogicalResult ChipSchedulingProblem::check() {
  instructions.clear();
  costs.clear();
  if (func.isExternal()) {
    return success();
  }
  if (!func.getBody().hasOneBlock()) {
    return func.emitOpError("must have a single block to be scheduled");
  }
  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [index, value] : llvm::enumerate(ret.getOperands())) {
        if (!value.getDefiningOp<MemReadOp>()) {
          return ret.emitOpError() << "returned value #" << index
                                   << " must be read back to the host with cv.chip.mem_read; "
                                      "run convert-graph-to-chip";
        }
      }
      continue;
    }
    if (!isa<ChipDialect>(op.getDialect())) {
      return op.emitOpError("is not a cv.chip op; lower the function with "
                            "convert-graph-to-chip before scheduling");
    }
    for (auto [index, value] : llvm::enumerate(op.getOperands())) {
      bool onHost = isa<BlockArgument>(value) || value.getDefiningOp<MemReadOp>();
      if (!readsFromSram(&op)) {
        if (!isa<BlockArgument>(value)) {
          return op.emitOpError() << "operand #" << index
                                  << " must be a function argument (a host tensor)";
        }
        continue;
      }
      if (onHost) {
        return op.emitOpError() << "operand #" << index
                                << " is a host tensor, not in SRAM; load function arguments "
                                   "with cv.chip.mem_write and do not compute on mem_read "
                                   "results";
      }
    }
    if (!isInstruction(&op)) {
      continue; // weights and views occupy no unit
    }
    FailureOr<InstructionCost> cost = model.costOf(&op);
    if (failed(cost)) {
      return failure();
    }
    instructions.push_back(&op);
    costs[&op] = *cost;
  }
  return success();
}

FailureOr<uint64_t> ChipSchedulingProblem::issueCycle(Operation *instruction) {
  auto issue = instruction->getAttrOfType<IntegerAttr>("issue");
  if (!issue) {
    return instruction->emitOpError("has no 'issue' cycle; run conveyor-schedule first");
  }
  return issue.getValue().getZExtValue();
}

FailureOr<uint64_t> ChipSchedulingProblem::readyCycle(Value value, Operation *user) const {
  Operation *producer = value.getDefiningOp();
  if (!producer) {
    return 0; // host data: only a mem_write reads it, and it is there from the start
  }
  if (isa<WeightOp>(producer)) {
    return 0; // resident before the program starts
  }
  if (auto view = dyn_cast<ViewOp>(producer)) {
    return readyCycle(view.getInput(), user);
  }
  auto cost = costs.find(producer);
  if (cost == costs.end()) {
    return user->emitOpError() << "reads a value produced by '" << producer->getName()
                               << "', which is not a scheduled instruction";
  }
  FailureOr<uint64_t> issue = issueCycle(producer);
  if (failed(issue)) {
    return failure();
  }
  uint64_t ready = *issue + cost->second.duration;
  // An MXM product's activations (operand 0) may arrive while its first tile set installs.
  auto reader = costs.find(user);
  if (reader != costs.end() && user->getNumOperands() > 0 && user->getOperand(0) == value &&
      !llvm::is_contained(user->getOperands().drop_front(), value)) {
    ready -= std::min(ready, reader->second.operandLead);
  }
  return ready;
}

FailureOr<uint64_t> ChipSchedulingProblem::endCycle() const {
  uint64_t end = 0;
  for (Operation *instruction : instructions) {
    FailureOr<uint64_t> issue = issueCycle(instruction);
    if (failed(issue)) {
      return failure();
    }
    end = std::max(end, *issue + costs.find(instruction)->second.duration);
  }
  return end;
}

LogicalResult ChipSchedulingProblem::verify() {
  // Data ready: every SRAM operand has arrived by the issue cycle.
  llvm::DenseMap<Operation *, uint64_t> issues;
  for (Operation *instruction : instructions) {
    FailureOr<uint64_t> issue = issueCycle(instruction);
    if (failed(issue)) {
      return failure();
    }
    issues[instruction] = *issue;
    if (!readsFromSram(instruction)) {
      continue;
    }
    for (auto [index, value] : llvm::enumerate(instruction->getOperands())) {
      FailureOr<uint64_t> ready = readyCycle(value, instruction);
      if (failed(ready)) {
        return failure();
      }
      if (*issue < *ready) {
        return instruction->emitOpError()
               << "issues at cycle " << *issue << " but operand #" << index << " is ready at cycle "
               << *ready << " (data read before ready)";
      }
    }
  }

  // Unit free: on each unit, in issue order (program order breaks ties, as in the
  // schedule file), an instruction waits for the previous one's occupancy.
  std::array<SmallVector<Operation *>, kNumUnits> byUnit;
  for (Operation *instruction : instructions) {
    byUnit[static_cast<unsigned>(getCost(instruction).unit)].push_back(instruction);
  }
  for (SmallVector<Operation *> &queue : byUnit) {
    std::stable_sort(queue.begin(), queue.end(),
                     [&](Operation *a, Operation *b) { return issues[a] < issues[b]; });
    for (size_t i = 1; i < queue.size(); ++i) {
      Operation *previous = queue[i - 1];
      const InstructionCost &previousCost = getCost(previous);
      uint64_t freeAt = issues[previous] + previousCost.occupancy;
      if (issues[queue[i]] < freeAt) {
        InFlightDiagnostic diag = queue[i]->emitOpError()
                                  << "issues at cycle " << issues[queue[i]] << " but the "
                                  << unitName(previousCost.unit) << " is busy until cycle "
                                  << freeAt << " (unit double-booked)";
        diag.attachNote(previous->getLoc())
            << "previous " << unitName(previousCost.unit) << " instruction issued at cycle "
            << issues[previous] << " for " << previousCost.occupancy << " cycles";
        return diag;
      }
    }
  }
  return success();
}

} // namespace conveyor::chip
