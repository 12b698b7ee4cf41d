// The instruction scheduling problem of one cv.chip function, in the style of CIRCT's
// Scheduling problems: check() says whether it can be scheduled, verify() whether the
// issue cycles written on its ops are a legal solution; both report on the op at fault.
#pragma once

#include "conveyor/Dialect/Chip/ChipCostModel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

namespace conveyor::chip {

/// Name of the function attribute holding the compiler's end-cycle estimate.
inline constexpr llvm::StringLiteral kEndCycleAttr = "cv.end_cycle";
/// Name of the function attribute holding the SRAM bytes the allocator handed out.
inline constexpr llvm::StringLiteral kSramBytesAttr = "cv.sram_bytes";

class ChipSchedulingProblem {
public:
  ChipSchedulingProblem(mlir::func::FuncOp func, const ChipCostModel &model)
      : func(func), model(model) {}

  /// Collects the instructions in program order and their costs. Fails, with an error on
  /// the op at fault, on an op that is not cv.chip, an instruction that cannot be timed,
  /// an SRAM operand that lives on the host, or a returned value not read back.
  mlir::LogicalResult check();

  /// Re-checks the `issue` attributes against the timing rules: each instruction issues
  /// no earlier than its unit is free (previous instruction on the unit, in issue order)
  /// and its operands are ready. Call after check().
  mlir::LogicalResult verify();

  /// Instructions in program order (after check()).
  llvm::ArrayRef<mlir::Operation *> getInstructions() const { return instructions; }
  const InstructionCost &getCost(mlir::Operation *instruction) const {
    return costs.find(instruction)->second;
  }

  /// The cycle from which `value` can be read in SRAM, given the `issue` attributes of the
  /// instructions before it: weights at 0, views when their source is, instruction results
  /// at issue + duration, the host tensor a mem_write reads at 0. Emits an error on `user`
  /// and fails when the producer has no `issue`.
  mlir::FailureOr<uint64_t> readyCycle(mlir::Value value, mlir::Operation *user) const;

  /// The issue cycle written on `instruction`; emits an error and fails when it has none.
  static mlir::FailureOr<uint64_t> issueCycle(mlir::Operation *instruction);

  /// max(issue + duration) over the instructions, from their `issue` attributes.
  mlir::FailureOr<uint64_t> endCycle() const;

  mlir::func::FuncOp getFunction() const { return func; }
  const ChipCostModel &getModel() const { return model; }

private:
  mlir::func::FuncOp func;
  const ChipCostModel &model;
  llvm::SmallVector<mlir::Operation *> instructions;
  llvm::DenseMap<mlir::Operation *, InstructionCost> costs;
};

/// List scheduling in program order: each instruction issues at the first cycle at which
/// its unit is free and its operands are ready (ASAP). Writes `issue` on every
/// instruction and returns the end cycle. Call after check().
mlir::FailureOr<uint64_t> scheduleAsap(ChipSchedulingProblem &problem);

} // namespace conveyor::chip
