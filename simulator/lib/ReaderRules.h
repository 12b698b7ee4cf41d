// The schedule reader's per-instruction rules (ScheduleFormat.cpp validateStructure) in the
// yes/no form the one-pass decoders apply while an instruction's message is in the cache:
// the single-chip decoder (ScheduleDecoder.cpp) and the fabric engine's (FabricSimulator.cpp).
// A "no" sends the caller to the plain sequence, whose reader words the message. Internal to
// the simulator library.
#pragma once

#include "conveyor/Schedule/OpcodeRules.h"
#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/ScheduleChecker.h"

#include <array>
#include <cstdint>

namespace conveyor::sim {

/// The reader's per-opcode rules, looked up once per opcode value instead of once per
/// instruction. Opcodes past the table and unknown ones have no rule.
class OpcodeRuleTable {
public:
  static constexpr size_t kSize = 128;

  OpcodeRuleTable() {
    for (size_t value = 0; value < kSize; ++value) {
      const auto opcode = schedule::Opcode(value);
      Rule &rule = rules[value];
      if (!schedule::Opcode_IsValid(int(value)) || opcode == schedule::OPCODE_UNSPECIFIED) {
        continue;
      }
      const auto [operands, results] = schedule::opcodeArity(opcode);
      rule.known = true;
      rule.multiChip = opcode == schedule::C2C_SEND || opcode == schedule::C2C_RECV ||
                       opcode == schedule::SYNC;
      rule.plain = !rule.multiChip && operands >= 0 && results >= 0;
      rule.unit = schedule::opcodeUnit(opcode);
      rule.slot = unitSlot(rule.unit);
      rule.operands = operands;
      rule.results = results;
    }
  }

  struct Rule {
    bool known = false;     // a valid opcode other than OPCODE_UNSPECIFIED
    bool multiChip = false; // C2C_SEND, C2C_RECV, SYNC: the fabric engine's
    bool plain = false;     // known, not multi-chip, fixed arity (not VXM_SUM)
    schedule::Unit unit = schedule::UNIT_UNSPECIFIED;
    size_t slot = kReportedUnits.size(); // unitSlot(unit)
    int operands = -1, results = -1;     // -1 operands: variadic (VXM_SUM)
  };
  /// The rule of a `plain` opcode, else null.
  const Rule *plain(schedule::Opcode opcode) const {
    const Rule *rule = find(opcode);
    return rule != nullptr && rule->plain ? rule : nullptr;
  }
  /// The rule of any known opcode, else null.
  const Rule *find(schedule::Opcode opcode) const {
    const auto value = size_t(uint32_t(opcode));
    return value < kSize && rules[value].known ? &rules[value] : nullptr;
  }
  /// The reader's operand and result counts for `rule` (VXM_SUM's range included).
  static bool arityValid(const Rule &rule, int operands, int results) {
    if (rule.operands < 0) {
      return operands >= schedule::kSumMinOperands && operands <= schedule::kSumMaxOperands &&
             results == rule.results;
    }
    return operands == rule.operands && results == rule.results;
  }

  /// The one table, built on first use.
  static const OpcodeRuleTable &get() {
    static const OpcodeRuleTable table;
    return table;
  }

private:
  std::array<Rule, kSize> rules{};
};

/// The per-instruction rules of validateStructure that depend on the opcode's fields, for
/// the opcodes of one chip (C2C and SYNC: the fabric engine checks theirs itself). Operand
/// ids must already be known to be buffers.
inline bool fieldsValid(const BufferTable &buffers, const schedule::Instruction &inst) {
  switch (inst.opcode()) {
  case schedule::VXM_BINARY:
    return schedule::isBinaryElementwise(inst.kind());
  case schedule::VXM_UNARY:
    return schedule::isUnaryElementwise(inst.kind());
  case schedule::VXM_SOFTMAX: {
    const auto rank = int64_t(buffers.byIdRef(inst.operands(0)).shape().size());
    return inst.axis() >= 0 && inst.axis() < rank;
  }
  case schedule::SXM_TRANSPOSE: {
    const auto rank = int64_t(buffers.byIdRef(inst.operands(0)).shape().size());
    if (inst.perm_size() != rank || rank > 64) {
      return false; // ranks above 64 are left to the reader
    }
    uint64_t used = 0;
    for (int64_t axis : inst.perm()) {
      if (axis < 0 || axis >= rank || (used >> axis & 1) != 0) {
        return false;
      }
      used |= uint64_t(1) << axis;
    }
    return true;
  }
  // No field rule in the reader for these (C2C and SYNC never get here). A new opcode needs
  // a case: if the reader gives it a field rule, check the same here.
  case schedule::MEM_WRITE:
  case schedule::MEM_READ:
  case schedule::MEM_COPY:
  case schedule::MXM_MATMUL:
  case schedule::MEM_GATHER:
  case schedule::MEM_SLICE:
  case schedule::MEM_CONCAT:
  case schedule::SXM_BROADCAST:
  case schedule::VXM_REDUCE:
  case schedule::VXM_RMS_NORM:
  case schedule::VXM_LAYER_NORM:
  case schedule::VXM_SELECT:
  case schedule::VXM_TOPK:
  case schedule::VXM_CAST:
  case schedule::VXM_ROTARY:
  case schedule::MXM_MATMUL_DQ:
  case schedule::MXM_EXPERT_MATMUL:
  case schedule::MXM_EXPERT_MATMUL_DQ:
  case schedule::MEM_KV_APPEND:
  case schedule::VXM_SUM:
    return true;
  case schedule::C2C_SEND:
  case schedule::C2C_RECV:
  case schedule::SYNC:
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return false;
}

} // namespace conveyor::sim
