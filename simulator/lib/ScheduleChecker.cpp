// The timing engine: walks each program in issue order and checks the rules of
// docs/timing-model.md (unit free, data ready, single writer, SRAM bounds and overlap).
#include "conveyor/Simulator/ScheduleChecker.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/InstructionCost.h" // transformerShapeProblem
#include "conveyor/Simulator/MemPortCheck.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace conveyor::sim {
namespace {

constexpr uint64_t kNoWriter = std::numeric_limits<uint64_t>::max();
// Issue cycles and durations are both kept below 2^62 so that their sums never overflow.
constexpr uint64_t kMaxIssueCycle = uint64_t(1) << 62;

std::string describe(const schedule::Instruction &inst, size_t index) {
  return fmt::format("instruction {} ({} '{}' at cycle {})", index,
                     schedule::opcodeName(inst.opcode()), inst.location(), inst.issue_cycle());
}

const char *kindText(schedule::BufferKind kind) {
  switch (kind) {
  case schedule::WEIGHT:
    return "a weight";
  case schedule::INPUT:
    return "an input";
  case schedule::OUTPUT:
    return "an output";
  case schedule::ACTIVATION:
    return "an activation";
  case schedule::KV_CACHE:
    return "a KV cache";
  case schedule::BUFFER_KIND_UNSPECIFIED:
  case schedule::BufferKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::BufferKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "an unknown kind of buffer";
}

/// Per-opcode shape and buffer-kind consistency; returns the reason or nullopt. Operands
/// and results are reached through `operand(i)` and `result(i)` (table lookups by id, or
/// entries the caller has already resolved).
template <class Operand, class ResultBuffer>
std::optional<std::string> shapeProblem(const BufferTable &buffers,
                                        const schedule::Instruction &inst, Operand operand,
                                        ResultBuffer result) {
  auto resultMustBe = [&](ShapeRef expected) -> std::optional<std::string> {
    if (!sameShape(result(0).shape(), expected)) {
      return fmt::format("result {} has shape {}, but the operands give {}", result(0).label(),
                         shapeText(result(0).shape()), shapeText(expected));
    }
    return std::nullopt;
  };
  switch (inst.opcode()) {
  case schedule::MEM_WRITE:
    if (result(0).kind() != schedule::INPUT || result(0).isView()) {
      return fmt::format("MEM_WRITE must fill an INPUT buffer, but {} is {}{}", result(0).label(),
                         kindText(result(0).kind()), result(0).isView() ? " view" : "");
    }
    return std::nullopt;
  case schedule::MEM_READ:
    if (operand(0).kind() != schedule::OUTPUT) {
      return fmt::format("MEM_READ must read an OUTPUT buffer, but {} is {}", operand(0).label(),
                         kindText(operand(0).kind()));
    }
    return std::nullopt;
  case schedule::MEM_COPY:
    if (result(0).bytes != operand(0).bytes) {
      return fmt::format("copies {} bytes of {} into {} bytes of {}", operand(0).bytes,
                         operand(0).label(), result(0).bytes, result(0).label());
    }
    return std::nullopt;
  case schedule::MXM_MATMUL: {
    if (isMatmulResult(operand(0).shape(), operand(1).shape(), result(0).shape())) {
      return std::nullopt; // the common case, decided without building shapes
    }
    std::optional<MatmulDims> dims = matmulDims(operand(0).shape(), operand(1).shape());
    if (!dims) {
      return fmt::format("operands {} {} and {} {} cannot be multiplied", operand(0).label(),
                         shapeText(operand(0).shape()), operand(1).label(),
                         shapeText(operand(1).shape()));
    }
    return resultMustBe(dims->result);
  }
  case schedule::VXM_BINARY: {
    if (isBroadcastResult(operand(0).shape(), operand(1).shape(), result(0).shape())) {
      return std::nullopt;
    }
    std::optional<Shape> shape = broadcastShapes(operand(0).shape(), operand(1).shape());
    if (!shape) {
      return fmt::format("operands {} {} and {} {} do not broadcast", operand(0).label(),
                         shapeText(operand(0).shape()), operand(1).label(),
                         shapeText(operand(1).shape()));
    }
    return resultMustBe(*shape);
  }
  case schedule::VXM_UNARY:
  case schedule::VXM_SOFTMAX:
    return resultMustBe(operand(0).shape());
  case schedule::VXM_SUM: // every addend has the result's shape and dtype (no broadcasting)
    for (int i = 0; i < inst.operands_size(); ++i) {
      if (!sameShape(operand(i).shape(), result(0).shape()) || operand(i).dtype() != result(0).dtype()) {
        return fmt::format("VXM_SUM addend {} is {} {}, the result {} is {} {}",
                           operand(i).label(), dtypeName(operand(i).dtype()),
                           shapeText(operand(i).shape()), result(0).label(),
                           dtypeName(result(0).dtype()), shapeText(result(0).shape()));
      }
    }
    return std::nullopt;
  case schedule::SXM_TRANSPOSE:
    if (isTransposedResult(operand(0).shape(), {inst.perm().data(), size_t(inst.perm_size())},
                           result(0).shape())) {
      return std::nullopt;
    }
    return resultMustBe(
        transposedShape(operand(0).shape(), {inst.perm().data(), size_t(inst.perm_size())}));
  // V2 multi-chip opcodes: no shapes to agree (bytes are checked by the reader)
  case schedule::C2C_SEND:
  case schedule::C2C_RECV:
  case schedule::SYNC:
    return std::nullopt;
  // Transformer ops (rules in InstructionCost.cpp)
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
    return transformerShapeProblem(buffers, inst);
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return fmt::format("opcode {} is unknown to the simulator", int(inst.opcode()));
}

} // namespace

std::optional<std::string> instructionShapeProblem(const BufferTable &buffers,
                                                   const schedule::Instruction &inst) {
  return shapeProblem(
      buffers, inst,
      [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.operands(i)); },
      [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.results(i)); });
}

std::optional<std::string> instructionShapeProblem(const BufferTable &buffers,
                                                   const schedule::Instruction &inst,
                                                   const BufferInfo *const *operands,
                                                   const BufferInfo *const *results) {
  return shapeProblem(
      buffers, inst, [&](int i) -> const BufferInfo & { return *operands[i]; },
      [&](int i) -> const BufferInfo & { return *results[i]; });
}

namespace {

/// Rule 4 as one walk that allocates nothing, for tables whose non-view buffers lie in
/// address order on each chip (what an allocator hands out): true when every buffer passes.
/// False at anything else, a violation or an out-of-order placement, without saying which:
/// checkSram then runs its full form, which decides and words the message.
bool sramFitsInOrder(const HardwareModel &model, const BufferTable &buffers) {
  // End of the last non-empty root placement seen on each chip (chips are few).
  std::vector<uint64_t> lastEnd(buffers.reservedBytesPerChip().size(), 0);
  const std::span<const BufferInfo> all = buffers.all();
  for (const BufferInfo &buffer : all) {
    if (buffer.sizeBytes < buffer.bytes || buffer.address > model.sramBytes ||
        buffer.sizeBytes > model.sramBytes - buffer.address) {
      return false;
    }
    if (buffer.isView()) {
      const BufferInfo &root = all[buffer.root];
      if (buffer.address < root.address ||
          buffer.address + buffer.bytes > root.address + root.sizeBytes) {
        return false;
      }
      continue;
    }
    if (buffer.sizeBytes == 0) {
      continue;
    }
    if (buffer.chip >= lastEnd.size()) {
      return false; // not expected: every root's chip has a reservation entry
    }
    // In order and not overlapping the previous root: address >= its end (>= its address).
    if (buffer.address < lastEnd[buffer.chip]) {
      return false;
    }
    lastEnd[buffer.chip] = buffer.address + buffer.sizeBytes;
  }
  return true;
}

} // namespace

Status checkSram(const HardwareModel &model, const BufferTable &buffers) {
  if (sramFitsInOrder(model, buffers)) {
    return Status::success();
  }
  // Placements of the non-view buffers, per chip, compact so that sorting and the overlap
  // scan do not walk the whole table again.
  struct Placement {
    uint64_t address, sizeBytes;
    const BufferInfo *buffer;
  };
  std::map<uint32_t, std::vector<Placement>> rootsByChip;
  for (const BufferInfo &buffer : buffers.all()) {
    auto where = [&] {
      return fmt::format("chip {}, buffer {} {}", buffer.chip, buffer.id, buffer.label());
    };
    if (buffer.sizeBytes < buffer.bytes) {
      return makeError(fmt::format("{}: reserves {} bytes, but its {} {} tensor needs {}", where(),
                                   buffer.sizeBytes, dtypeName(buffer.dtype()),
                                   shapeText(buffer.shape()), buffer.bytes));
    }
    if (buffer.address > model.sramBytes || buffer.sizeBytes > model.sramBytes - buffer.address) {
      return makeError(fmt::format(
          "{}: SRAM overflow: {} bytes at address {} end past the {} bytes of SRAM of system "
          "'{}'; the schedule does not fit this chip",
          where(), buffer.sizeBytes, buffer.address, model.sramBytes, model.systemName));
    }
    if (buffer.isView()) {
      // A view reads its root's bytes: it must lie inside the root's reservation.
      const BufferInfo &root = buffers.at(buffer.root);
      if (buffer.address < root.address ||
          buffer.address + buffer.bytes > root.address + root.sizeBytes) {
        return makeError(fmt::format("{}: view at [{}, {}) lies outside its source {} at [{}, {})",
                                     where(), buffer.address, buffer.address + buffer.bytes,
                                     root.label(), root.address, root.address + root.sizeBytes));
      }
      continue;
    }
    if (buffer.sizeBytes > 0) {
      rootsByChip[buffer.chip].push_back({buffer.address, buffer.sizeBytes, &buffer});
    }
  }
  for (auto &[chip, roots] : rootsByChip) {
    auto byAddress = [](const Placement &a, const Placement &b) { return a.address < b.address; };
    // Allocators usually hand out addresses in order: then there is nothing to sort.
    if (!std::is_sorted(roots.begin(), roots.end(), byAddress)) {
      std::stable_sort(roots.begin(), roots.end(), byAddress);
    }
    for (size_t i = 1; i < roots.size(); ++i) {
      const Placement &before = roots[i - 1];
      const Placement &after = roots[i];
      if (after.address < before.address + before.sizeBytes) {
        return makeError(fmt::format(
            "chip {}: buffers overlap: buffer {} {} at [{}, {}) and buffer {} {} at [{}, {})", chip,
            before.buffer->id, before.buffer->label(), before.address,
            before.address + before.sizeBytes, after.buffer->id, after.buffer->label(),
            after.address, after.address + after.sizeBytes));
      }
    }
  }
  return Status::success();
}

namespace {

/// Rule 5, MEM ports: books `inst`'s SRAM reads (each distinct operand buffer) and writes
/// (each result) in `ports`; false with `conflict` filled at a double-booked slice port.
bool bookMemPorts(MemPortBook &ports, const BufferTable &buffers,
                  const schedule::Instruction &inst, size_t index, const InstructionCost &cost,
                  PortConflict &conflict) {
  const uint64_t issue = inst.issue_cycle();
  const uint8_t unbooked = unbookedAccesses(inst.opcode());
  for (int i = 0; i < inst.operands_size(); ++i) {
    const uint32_t id = inst.operands(i);
    if (i < 7 && (unbooked >> i) & 1) {
      continue;
    }
    bool repeated = false;
    for (int j = 0; j < i && !repeated; ++j) {
      repeated = inst.operands(j) == id;
    }
    if (repeated) {
      continue; // one read streams to both uses
    }
    const BufferInfo &read = buffers.byIdRef(id);
    const uint64_t moved = i == 0 && readsResultBytesOnly(inst.opcode()) &&
                                   inst.results_size() > 0
                               ? buffers.byIdRef(inst.results(0)).bytes
                               : ~uint64_t(0);
    if (!ports.bookBuffer(MemPort::Read, issue, cost.occupancy, cost.duration, read.address,
                          read.bytes, uint32_t(index), 0, conflict, moved)) {
      return false;
    }
  }
  for (uint32_t id : inst.results()) {
    if (unbooked & kResultsUnbooked) {
      break;
    }
    const BufferInfo &written = buffers.byIdRef(id);
    if (!ports.bookBuffer(MemPort::Write, issue, cost.occupancy, cost.duration, written.address,
                          written.bytes, uint32_t(index), 0, conflict)) {
      return false;
    }
  }
  if (unbooked != 0) { // rule 6 counts what rule 5 cannot place
    std::vector<const BufferInfo *> operands, results;
    for (uint32_t id : inst.operands()) {
      operands.push_back(&buffers.byIdRef(id));
    }
    for (uint32_t id : inst.results()) {
      results.push_back(&buffers.byIdRef(id));
    }
    const UnbookedTraffic traffic =
        unbookedTraffic(inst.opcode(), operands.data(), int(operands.size()), results.data(),
                        int(results.size()));
    if (!ports.bookStreams(MemPort::Read, issue, cost.occupancy, cost.duration, traffic.read,
                           uint32_t(index), 0, conflict) ||
        !ports.bookStreams(MemPort::Write, issue, cost.occupancy, cost.duration,
                           traffic.written, uint32_t(index), 0, conflict)) {
      return false;
    }
  }
  return true;
}

/// The rules in a single pass, for programs that keep them all and whose every operand is
/// written by an earlier instruction (or is a weight), which is what a compiler emits.
/// Returns false at the first thing out of the ordinary (a violation, or a read of a buffer
/// written later) without saying why: checkProgramExactly then re-derives the verdict and the
/// message in the documented order. Valid programs are thus read once, not twice.
bool checkInOnePass(const HardwareModel &model, const BufferTable &buffers,
                    const schedule::Program &program, ProgramTiming &timing) {
  constexpr uint64_t kNotWritten = std::numeric_limits<uint64_t>::max();
  const size_t count = size_t(program.instructions_size());
  timing.costs.reserve(count);
  std::vector<uint64_t> readyAt(buffers.all().size(), kNotWritten); // by storage root
  std::array<uint64_t, kReportedUnits.size()> freeAt{};
  MemPortBook ports(model);
  PortConflict conflict;
  for (size_t index = 0; index < count; ++index) {
    const schedule::Instruction &inst = program.instructions(int(index));
    const uint64_t issue = inst.issue_cycle();
    const size_t slot = unitSlot(inst.unit());
    if (issue > kMaxIssueCycle || inst.queue() != 0 || slot == kReportedUnits.size() ||
        issue < freeAt[slot] || instructionShapeProblem(buffers, inst)) {
      return false;
    }
    Result<InstructionCost> cost = instructionCost(model, buffers, inst);
    if (!cost) {
      return false;
    }
    for (int i = 0; i < inst.operands_size(); ++i) {
      const size_t root = buffers.byIdRef(inst.operands(i)).root;
      if (readyAt[root] == kNotWritten) {
        if (buffers.at(root).kind() == schedule::WEIGHT ||
            buffers.at(root).kind() == schedule::KV_CACHE) {
          continue; // resident before the program starts
        }
        return false; // never written, written later, or by this very instruction
      }
      if (issue + (i == 0 ? cost->operandLead : 0) < readyAt[root]) {
        return false;
      }
    }
    for (uint32_t id : inst.results()) {
      const size_t root = buffers.byIdRef(id).root;
      if (buffers.at(root).kind() == schedule::WEIGHT || readyAt[root] != kNotWritten) {
        return false;
      }
      readyAt[root] = issue + cost->duration;
    }
    if (!bookMemPorts(ports, buffers, inst, index, *cost, conflict)) {
      return false;
    }
    // A unit's first instruction may issue at cycle 0, so "free at 0" needs no flag.
    freeAt[slot] = issue + cost->occupancy;
    timing.unitInstructions[slot] += 1;
    timing.unitBusyCycles[slot] += cost->occupancy;
    timing.endCycle = std::max(timing.endCycle, issue + cost->duration);
    timing.costs.push_back(*cost);
  }
  return true;
}

/// Rules 1-3 in two passes (structure first, then timing), reporting the first violation.
Result<ProgramTiming> checkProgramExactly(const HardwareModel &model, const BufferTable &buffers,
                                          const schedule::Program &program) {
  const std::string programLabel =
      fmt::format("chip {}, program '{}'", program.chip(), program.name());
  auto violation = [&](size_t index, const std::string &reason) {
    return makeError(fmt::format("{}, {}: {}", programLabel,
                                 describe(program.instructions(int(index)), index), reason));
  };

  const size_t count = size_t(program.instructions_size());
  ProgramTiming timing;
  timing.costs.resize(count);
  // Per storage root: the instruction that writes it and when its data is ready.
  std::vector<uint64_t> writerOf(buffers.all().size(), kNoWriter);
  std::vector<uint64_t> readyAt(buffers.all().size(), 0);

  // Pass 1, timing-independent: shapes, buffer kinds, costs, single writer.
  for (size_t index = 0; index < count; ++index) {
    const schedule::Instruction &inst = program.instructions(int(index));
    if (inst.issue_cycle() > kMaxIssueCycle) {
      return violation(index, "issue cycle is beyond 2^62; the schedule is corrupt");
    }
    if (inst.queue() != 0) {
      return violation(index, fmt::format("queue {} does not exist: v1 chips have one "
                                          "instruction queue per unit (queue 0)",
                                          inst.queue()));
    }
    if (std::optional<std::string> problem = instructionShapeProblem(buffers, inst)) {
      return violation(index, *problem);
    }
    Result<InstructionCost> cost = instructionCost(model, buffers, inst);
    if (!cost) {
      return violation(index, cost.error());
    }
    timing.costs[index] = *cost;
    for (uint32_t id : inst.results()) {
      const BufferInfo &written = buffers.byIdRef(id);
      const size_t root = written.root;
      auto storage = [&] {
        return root == buffers.indexOf(id)
                   ? std::string()
                   : fmt::format(" (storage of {})", buffers.at(root).label());
      };
      if (buffers.at(root).kind() == schedule::WEIGHT) {
        return violation(index, fmt::format("writes {}{}, a weight: weights are constant",
                                            written.label(), storage()));
      }
      if (writerOf[root] != kNoWriter) {
        return violation(
            index,
            fmt::format("single writer: {}{} is already written by {}", written.label(), storage(),
                        describe(program.instructions(int(writerOf[root])), writerOf[root])));
      }
      writerOf[root] = index;
      readyAt[root] = inst.issue_cycle() + cost->duration;
    }
  }

  // Pass 2, in issue order: unit free, data ready.
  struct UnitState {
    uint64_t freeAt = 0;
    size_t last = 0;
    bool used = false;
  };
  std::array<UnitState, kReportedUnits.size()> units{};
  MemPortBook ports(model);
  PortConflict conflict;
  for (size_t index = 0; index < count; ++index) {
    const schedule::Instruction &inst = program.instructions(int(index));
    const InstructionCost &cost = timing.costs[index];
    const uint64_t issue = inst.issue_cycle();
    const size_t slot = unitSlot(inst.unit());
    if (slot == kReportedUnits.size()) {
      return violation(index, fmt::format("unit {} has no instruction queue in v1",
                                          schedule::unitName(inst.unit())));
    }
    UnitState &unit = units[slot];
    if (unit.used && issue < unit.freeAt) {
      return violation(index, fmt::format("unit {} double-booked: {} keeps it busy until cycle {}",
                                          schedule::unitName(inst.unit()),
                                          describe(program.instructions(int(unit.last)), unit.last),
                                          unit.freeAt));
    }
    for (int operandIndex = 0; operandIndex < inst.operands_size(); ++operandIndex) {
      const BufferInfo &read = buffers.byIdRef(inst.operands(operandIndex));
      const size_t root = read.root;
      // An MXM product's activations (operand 0) may arrive while its first tile set installs.
      const uint64_t lead = operandIndex == 0 ? cost.operandLead : 0;
      if (writerOf[root] == kNoWriter) {
        if (buffers.at(root).kind() == schedule::WEIGHT ||
            buffers.at(root).kind() == schedule::KV_CACHE) {
          continue; // resident before the program starts: ready at cycle 0
        }
        return violation(index, fmt::format("operand {} is never written in this program and "
                                            "is not a weight",
                                            read.label()));
      }
      if (writerOf[root] == index) {
        return violation(index, fmt::format("reads its own result {}: an instruction cannot "
                                            "consume what it produces",
                                            read.label()));
      }
      if (issue + lead < readyAt[root]) {
        return violation(index, fmt::format("data read before ready: operand {} is ready at "
                                            "cycle {}",
                                            read.label(), readyAt[root]));
      }
    }
    if (!bookMemPorts(ports, buffers, inst, index, cost, conflict)) {
      return violation(index, portConflictReason(
                                  conflict,
                                  describe(program.instructions(int(conflict.held.index)),
                                           conflict.held.index),
                                  fmt::format("instruction {}", index)));
    }
    unit.freeAt = issue + cost.occupancy;
    unit.last = index;
    unit.used = true;
    timing.unitInstructions[slot] += 1;
    timing.unitBusyCycles[slot] += cost.occupancy;
    timing.endCycle = std::max(timing.endCycle, issue + cost.duration);
  }
  return timing;
}

} // namespace

Result<ProgramTiming> checkProgram(const HardwareModel &model, const BufferTable &buffers,
                                   const schedule::Program &program) {
  ProgramTiming timing;
  if (checkInOnePass(model, buffers, program, timing)) {
    return timing;
  }
  return checkProgramExactly(model, buffers, program);
}

} // namespace conveyor::sim
