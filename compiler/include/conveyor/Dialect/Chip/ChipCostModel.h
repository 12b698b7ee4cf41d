// The compiler's cost model of one chip: sizes, durations and occupancies of cv.chip
// instructions, computed from the system description per docs/timing-model.md.
//
// The simulator implements the same rules with its own code; keep this file the only
// place in the compiler that knows a timing formula.
#pragma once

#include "conveyor/System/SystemConfig.h"

#include "mlir/IR/Operation.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace conveyor::chip {

/// Functional units; version 1 has one instruction queue per unit kind.
enum class Unit { Mem, Mxm, Vxm, Sxm };
inline constexpr unsigned kNumUnits = 4;
const char *unitName(Unit unit);

/// How long one instruction takes: `duration` cycles from issue until its result is in
/// SRAM, of which its unit is busy for the first `occupancy` cycles.
struct InstructionCost {
  Unit unit = Unit::Mem;
  uint64_t occupancy = 0;
  uint64_t duration = 0;
  /// Cycles after issue by which operand 0 may still be arriving: an MXM product installs
  /// its first tile set (weights already resident) before it needs its activations.
  uint64_t operandLead = 0;
};

/// The element type of `type` as a system dtype; nullopt for types the chip cannot hold.
std::optional<system::DType> toSystemDType(mlir::Type elementType);

/// bytes(X) of docs/timing-model.md for a statically shaped tensor type; nullopt when the
/// element type is not supported or the shape is not static.
std::optional<uint64_t> tensorBytes(mlir::Type tensorType);

/// ceil(elements * bits / 8).
uint64_t tensorBytes(uint64_t elements, unsigned bits);

/// VXM ALU operations per element for a vxm_binary / vxm_unary kind; nullopt for an
/// unknown kind.
std::optional<uint64_t> vxmOpsPerElement(llvm::StringRef kind);

/// True for ops that occupy a functional unit (everything but weights and views).
bool isInstruction(mlir::Operation *op);

class ChipCostModel {
public:
  explicit ChipCostModel(const system::ChipConfig &chip) : config(chip) {}

  const system::ChipConfig &chip() const { return config; }

  /// vectors(X): whole vectors needed to move `bytes`.
  uint64_t vectors(uint64_t bytes) const;
  /// H(n): cycles to move `bytes` over the host interface.
  uint64_t hostTransferCycles(uint64_t bytes) const;

  InstructionCost memWrite(uint64_t resultBytes) const;
  InstructionCost memRead(uint64_t operandBytes) const;
  InstructionCost memCopy(uint64_t resultBytes) const;
  /// A matmul of `batch` products [M, K] x [K, N]; nullopt when the MXM has no rate for
  /// `activation` (after mapping f32 to `floatTimingAs`).
  std::optional<InstructionCost> matmul(uint64_t batch, uint64_t m, uint64_t k, uint64_t n,
                                        system::DType activation, system::DType weight) const;
  InstructionCost vxmElementwise(uint64_t resultBytes, uint64_t opsPerElement) const;
  InstructionCost vxmSoftmax(uint64_t resultBytes) const;
  InstructionCost sxmTranspose(uint64_t resultBytes) const;

  /// The cost of one cv.chip instruction op. Emits an error on the op and fails when it
  /// cannot be timed (not an instruction, unsupported element type, no MXM rate).
  mlir::FailureOr<InstructionCost> costOf(mlir::Operation *op) const;

private:
  /// Costs of the transformer ops (gather, slice, concat, broadcast, reduce, norms, select,
  /// top-k, cast, rotary, dequantising matmul); `resultBytes` = bytes(result).
  mlir::FailureOr<InstructionCost> transformerOpCost(mlir::Operation *op,
                                                     uint64_t resultBytes) const;
  system::ChipConfig config;
};

} // namespace conveyor::chip
