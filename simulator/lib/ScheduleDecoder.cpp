// The single-chip fast path (docs/simulator.md "Speed"): the reader's structural rules, the
// buffer table, the timing rules and the energy in one pass over the messages. Every check
// answers yes or no only; a "no" sends the caller to the plain sequence of checks, which
// words the message, so the two paths cannot disagree on a verdict or its text.
#include "conveyor/Simulator/ScheduleDecoder.h"

#include "conveyor/Schedule/OpcodeRules.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/MemPortCheck.h"

#include <array>
#include <limits>
#include <set>
#include <string>
#include <utility>

namespace conveyor::sim {
namespace {

constexpr uint64_t kNotWritten = std::numeric_limits<uint64_t>::max();
// Issue cycles and durations are both kept below 2^62 (as in ScheduleChecker.cpp).
constexpr uint64_t kMaxIssueCycle = uint64_t(1) << 62;
/// How many instruction messages ahead the walk asks for memory.
constexpr int kPrefetchDistance = 24;
/// The most operands (and the most results) a fixed-arity opcode has that the walk keeps
/// resolved; more sends the schedule to the plain sequence.
constexpr size_t kMaxFixedIds = 8;

/// The reader's per-opcode rules, looked up once per opcode value instead of once per
/// instruction. Opcodes past the table, unknown ones and the multi-chip ones (C2C, SYNC:
/// the fabric engine's) are not `plain`.
class OpcodeRuleTable {
public:
  static constexpr size_t kSize = 128;

  OpcodeRuleTable() {
    for (size_t value = 0; value < kSize; ++value) {
      const auto opcode = schedule::Opcode(value);
      Rule &rule = rules[value];
      if (!schedule::Opcode_IsValid(int(value)) || opcode == schedule::OPCODE_UNSPECIFIED ||
          opcode == schedule::C2C_SEND || opcode == schedule::C2C_RECV ||
          opcode == schedule::SYNC) {
        continue;
      }
      const auto [operands, results] = schedule::opcodeArity(opcode);
      rule.plain = operands >= 0 && results >= 0;
      rule.unit = schedule::opcodeUnit(opcode);
      rule.slot = unitSlot(rule.unit);
      rule.operands = operands;
      rule.results = results;
    }
  }

  struct Rule {
    bool plain = false;
    schedule::Unit unit = schedule::UNIT_UNSPECIFIED;
    size_t slot = kReportedUnits.size(); // unitSlot(unit)
    int operands = -1, results = -1;
  };
  const Rule *find(schedule::Opcode opcode) const {
    const auto value = size_t(uint32_t(opcode));
    return value < kSize && rules[value].plain ? &rules[value] : nullptr;
  }

private:
  std::array<Rule, kSize> rules{};
};

/// The per-instruction rules of validateStructure that depend on the opcode's fields.
bool fieldsValid(const BufferTable &buffers, const schedule::Instruction &inst) {
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
  case schedule::VXM_SUM: // variadic: never `plain`, the plain sequence checks it
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

/// One program: the reader's instruction rules, rules 1-3 as checkProgram's one-pass form
/// applies them, and the energy, per instruction while its message is in the cache.
/// `readyAt` (by storage root) is all kNotWritten on entry and is left dirty.
bool decodeProgram(const HardwareModel &model, const BufferTable &buffers,
                   const OpcodeRuleTable &opcodeRules, const schedule::Program &program,
                   std::vector<uint64_t> &readyAt, bool keepCosts, ProgramTiming &timing,
                   ProgramEnergy &energy) {
  const int count = program.instructions_size();
  const uint32_t chip = program.chip();
  if (keepCosts) {
    timing.costs.resize(size_t(count)); // one sequential clear, then each entry written once
  }
  std::array<uint64_t, kReportedUnits.size()> freeAt{};
  uint64_t previousIssue = 0;
  MemPortBook ports(model);
  PortConflict conflict;
  // Storage roots of the current instruction's operands and results, each looked up once.
  std::array<uint32_t, kMaxFixedIds> operandRoots{}, resultRoots{};
  // Their table entries, for the cost.
  std::array<const BufferInfo *, kMaxFixedIds> operandInfos{}, resultInfos{};
  // Resolves `ids` (on this program's chip) into `roots`; false if one is missing or on
  // another chip.
  auto resolve = [&](const google::protobuf::RepeatedField<uint32_t> &ids,
                     std::array<uint32_t, kMaxFixedIds> &roots,
                     std::array<const BufferInfo *, kMaxFixedIds> &infos) {
    for (int i = 0; i < ids.size(); ++i) {
      const size_t found = buffers.find(ids.Get(i));
      if (found == BufferTable::kMissing) {
        return false;
      }
      const BufferInfo &info = buffers.at(found);
      if (info.chip != chip) {
        return false;
      }
      roots[size_t(i)] = uint32_t(info.root);
      infos[size_t(i)] = &info;
    }
    return true;
  };
  for (int index = 0; index < count; ++index) {
    prefetchInstructionAhead(program, index, count, kPrefetchDistance);
    const schedule::Instruction &inst = program.instructions(index);
    // The reader's rules (ScheduleFormat.cpp validateStructure).
    const OpcodeRuleTable::Rule *rule = opcodeRules.find(inst.opcode());
    const uint64_t issue = inst.issue_cycle();
    if (rule == nullptr || issue < previousIssue || inst.unit() != rule->unit ||
        inst.operands_size() != rule->operands || inst.results_size() != rule->results) {
      return false;
    }
    previousIssue = issue;
    // Fixed arities are small; anything larger is left to the plain sequence.
    if (rule->operands > int(kMaxFixedIds) || rule->results > int(kMaxFixedIds) ||
        !resolve(inst.operands(), operandRoots, operandInfos) ||
        !resolve(inst.results(), resultRoots, resultInfos)) {
      return false;
    }
    if (!fieldsValid(buffers, inst)) {
      return false;
    }
    // Rules 1-3 (ScheduleChecker.cpp checkInOnePass).
    const size_t slot = rule->slot; // inst.unit() == rule->unit
    if (issue > kMaxIssueCycle || inst.queue() != 0 || slot == kReportedUnits.size() ||
        issue < freeAt[slot] ||
        instructionShapeProblem(buffers, inst, operandInfos.data(), resultInfos.data())) {
      return false;
    }
    Result<InstructionCost> cost =
        instructionCost(model, inst, operandInfos.data(), resultInfos.data());
    if (!cost) {
      return false;
    }
    for (int i = 0; i < rule->operands; ++i) {
      const size_t root = operandRoots[size_t(i)];
      if (readyAt[root] == kNotWritten) {
        if (buffers.at(root).kind() == schedule::WEIGHT ||
            buffers.at(root).kind() == schedule::KV_CACHE) {
          continue; // resident before the program starts (as checkInOnePass)
        }
        return false; // never written, written later, or by this very instruction
      }
      if (issue + (i == 0 ? cost->operandLead : 0) < readyAt[root]) {
        return false;
      }
    }
    for (int i = 0; i < rule->results; ++i) {
      const size_t root = resultRoots[size_t(i)];
      if (buffers.at(root).kind() == schedule::WEIGHT || readyAt[root] != kNotWritten) {
        return false;
      }
      readyAt[root] = issue + cost->duration;
    }
    // Rule 5, MEM ports (ScheduleChecker.cpp bookMemPorts).
    const uint8_t unbooked = unbookedAccesses(inst.opcode());
    for (int i = 0; i < rule->operands; ++i) {
      const BufferInfo *read = operandInfos[size_t(i)];
      bool repeated = i < 7 && (unbooked >> i) & 1;
      for (int j = 0; j < i && !repeated; ++j) {
        repeated = operandInfos[size_t(j)] == read;
      }
      if (!repeated &&
          !ports.bookBuffer(MemPort::Read, issue, cost->occupancy, cost->duration, read->address,
                            read->bytes, uint32_t(index), 0, conflict,
                            i == 0 && readsResultBytesOnly(inst.opcode()) && rule->results > 0
                                ? resultInfos[0]->bytes
                                : ~uint64_t(0))) {
        return false;
      }
    }
    for (int i = 0; i < rule->results && !(unbooked & kResultsUnbooked); ++i) {
      const BufferInfo *written = resultInfos[size_t(i)];
      if (!ports.bookBuffer(MemPort::Write, issue, cost->occupancy, cost->duration,
                            written->address, written->bytes, uint32_t(index), 0, conflict)) {
        return false;
      }
    }
    if (unbooked != 0) { // rule 6 counts what rule 5 cannot place
      const UnbookedTraffic traffic =
          unbookedTraffic(inst.opcode(), operandInfos.data(), rule->operands,
                          resultInfos.data(), rule->results);
      if (!ports.bookStreams(MemPort::Read, issue, cost->occupancy, cost->duration,
                             traffic.read, uint32_t(index), 0, conflict) ||
          !ports.bookStreams(MemPort::Write, issue, cost->occupancy, cost->duration,
                             traffic.written, uint32_t(index), 0, conflict)) {
        return false;
      }
    }
    // Energy (EnergyModel.cpp programEnergy: same additions, same order).
    const schedule::DType activations =
        rule->operands > 0 ? operandInfos[0]->dtype() : schedule::DTYPE_UNSPECIFIED;
    if (!addInstructionEnergy(model, *cost, activations, energy)) {
      return false;
    }
    freeAt[slot] = issue + cost->occupancy;
    timing.unitInstructions[slot] += 1;
    timing.unitBusyCycles[slot] += cost->occupancy;
    timing.endCycle = std::max(timing.endCycle, issue + cost->duration);
    if (keepCosts) {
      timing.costs[size_t(index)] = *cost;
    }
  }
  return true;
}

} // namespace

std::optional<DecodedSchedule> decodeInOnePass(const schedule::Schedule &schedule,
                                               const HardwareModel &model, bool keepCosts) {
  // Schedule-level rules of the reader, and what only the fabric engine runs.
  const uint32_t chips = schedule.system().chips();
  if (chips == 0 || schedule.programs().empty()) {
    return std::nullopt;
  }
  std::set<std::pair<uint32_t, std::string>> programNames;
  for (const schedule::Program &program : schedule.programs()) {
    if (!program.repeats().empty() || !program.instances().empty() || program.chip() >= chips ||
        !programNames.emplace(program.chip(), program.name()).second ||
        !schedule::ProgramKind_IsValid(program.kind()) ||
        program.kind() == schedule::PROGRAM_KIND_UNSPECIFIED) {
      return std::nullopt;
    }
  }
  std::optional<BufferTable> buffers =
      BufferTable::decodeValidated(schedule, model.vectorBytes, model.sramBytes);
  if (!buffers) {
    return std::nullopt;
  }
  static const OpcodeRuleTable opcodeRules;
  DecodedSchedule decoded{std::move(*buffers), {}, {}};
  const size_t programs = size_t(schedule.programs_size());
  decoded.timings.resize(programs);
  decoded.energies.resize(programs);
  std::vector<uint64_t> readyAt;
  for (size_t p = 0; p < programs; ++p) {
    readyAt.assign(decoded.buffers.all().size(), kNotWritten);
    if (!decodeProgram(model, decoded.buffers, opcodeRules, schedule.programs(int(p)), readyAt,
                       keepCosts,
                       decoded.timings[p], decoded.energies[p])) {
      return std::nullopt;
    }
  }
  // Rule 4 last: the plain sequence checks SRAM after the reader, before any program. The
  // table already tried it while it was built; only an unusual layout needs the full check.
  if (!decoded.buffers.placementsFitInOrder() && !checkSram(model, decoded.buffers)) {
    return std::nullopt;
  }
  return decoded;
}

} // namespace conveyor::sim
