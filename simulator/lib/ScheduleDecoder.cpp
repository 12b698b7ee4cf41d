// The single-chip fast path (docs/simulator.md "Speed"): the reader's structural rules, the
// buffer table, the timing rules and the energy in one pass over the messages. Every check
// answers yes or no only; a "no" sends the caller to the plain sequence of checks, which
// words the message, so the two paths cannot disagree on a verdict or its text.
#include "conveyor/Simulator/ScheduleDecoder.h"

#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/MemPortCheck.h"
#include "ReaderRules.h"

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
    const OpcodeRuleTable::Rule *rule = opcodeRules.plain(inst.opcode());
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
  const OpcodeRuleTable &opcodeRules = OpcodeRuleTable::get();
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
