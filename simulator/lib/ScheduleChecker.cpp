// The timing engine: walks each program in issue order and checks the rules of
// docs/timing-model.md (unit free, data ready, single writer, SRAM bounds and overlap).
#include "conveyor/Simulator/ScheduleChecker.h"

#include "conveyor/Schedule/ScheduleFormat.h"

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
  case schedule::BUFFER_KIND_UNSPECIFIED:
  case schedule::BufferKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::BufferKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "an unknown kind of buffer";
}

/// Per-opcode shape and buffer-kind consistency; returns the reason or nullopt.
std::optional<std::string> shapeProblem(const BufferTable &buffers,
                                        const schedule::Instruction &inst) {
  auto operand = [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.operands(i)); };
  auto result = [&](int i) -> const BufferInfo & { return buffers.byIdRef(inst.results(i)); };
  auto resultMustBe = [&](const Shape &expected) -> std::optional<std::string> {
    if (result(0).shape != expected) {
      return fmt::format("result {} has shape {}, but the operands give {}", result(0).label,
                         shapeText(result(0).shape), shapeText(expected));
    }
    return std::nullopt;
  };
  switch (inst.opcode()) {
  case schedule::MEM_WRITE:
    if (result(0).kind != schedule::INPUT || result(0).isView()) {
      return fmt::format("MEM_WRITE must fill an INPUT buffer, but {} is {}{}", result(0).label,
                         kindText(result(0).kind), result(0).isView() ? " view" : "");
    }
    return std::nullopt;
  case schedule::MEM_READ:
    if (operand(0).kind != schedule::OUTPUT) {
      return fmt::format("MEM_READ must read an OUTPUT buffer, but {} is {}", operand(0).label,
                         kindText(operand(0).kind));
    }
    return std::nullopt;
  case schedule::MEM_COPY:
    if (result(0).bytes != operand(0).bytes) {
      return fmt::format("copies {} bytes of {} into {} bytes of {}", operand(0).bytes,
                         operand(0).label, result(0).bytes, result(0).label);
    }
    return std::nullopt;
  case schedule::MXM_MATMUL: {
    std::optional<MatmulDims> dims = matmulDims(operand(0).shape, operand(1).shape);
    if (!dims) {
      return fmt::format("operands {} {} and {} {} cannot be multiplied", operand(0).label,
                         shapeText(operand(0).shape), operand(1).label,
                         shapeText(operand(1).shape));
    }
    return resultMustBe(dims->result);
  }
  case schedule::VXM_BINARY: {
    std::optional<Shape> shape = broadcastShapes(operand(0).shape, operand(1).shape);
    if (!shape) {
      return fmt::format("operands {} {} and {} {} do not broadcast", operand(0).label,
                         shapeText(operand(0).shape), operand(1).label,
                         shapeText(operand(1).shape));
    }
    return resultMustBe(*shape);
  }
  case schedule::VXM_UNARY:
  case schedule::VXM_SOFTMAX:
    return resultMustBe(operand(0).shape);
  case schedule::SXM_TRANSPOSE:
    return resultMustBe(
        transposedShape(operand(0).shape, {inst.perm().begin(), inst.perm().end()}));
  case schedule::OPCODE_UNSPECIFIED:
  case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return fmt::format("opcode {} is unknown to the simulator", int(inst.opcode()));
}

} // namespace

size_t unitSlot(schedule::Unit unit) {
  for (size_t slot = 0; slot < kReportedUnits.size(); ++slot) {
    if (kReportedUnits[slot] == unit) {
      return slot;
    }
  }
  return kReportedUnits.size();
}

Status checkSram(const HardwareModel &model, const BufferTable &buffers) {
  std::map<uint32_t, std::vector<const BufferInfo *>> rootsByChip;
  for (const BufferInfo &buffer : buffers.all()) {
    const schedule::Buffer &proto = *buffer.proto;
    const std::string where =
        fmt::format("chip {}, buffer {} {}", buffer.chip, buffer.id, buffer.label);
    if (proto.size_bytes() < buffer.bytes) {
      return makeError(fmt::format("{}: reserves {} bytes, but its {} {} tensor needs {}", where,
                                   proto.size_bytes(), dtypeName(buffer.dtype),
                                   shapeText(buffer.shape), buffer.bytes));
    }
    if (proto.address() > model.sramBytes ||
        proto.size_bytes() > model.sramBytes - proto.address()) {
      return makeError(fmt::format(
          "{}: SRAM overflow: {} bytes at address {} end past the {} bytes of SRAM of system "
          "'{}'; the schedule does not fit this chip",
          where, proto.size_bytes(), proto.address(), model.sramBytes, model.systemName));
    }
    if (buffer.isView()) {
      // A view reads its root's bytes: it must lie inside the root's reservation.
      const schedule::Buffer &root = *buffers.at(buffer.root).proto;
      if (proto.address() < root.address() ||
          proto.address() + buffer.bytes > root.address() + root.size_bytes()) {
        return makeError(fmt::format("{}: view at [{}, {}) lies outside its source {} at [{}, {})",
                                     where, proto.address(), proto.address() + buffer.bytes,
                                     buffers.at(buffer.root).label, root.address(),
                                     root.address() + root.size_bytes()));
      }
      continue;
    }
    if (proto.size_bytes() > 0) {
      rootsByChip[buffer.chip].push_back(&buffer);
    }
  }
  for (auto &[chip, roots] : rootsByChip) {
    std::stable_sort(roots.begin(), roots.end(), [](const BufferInfo *a, const BufferInfo *b) {
      return a->proto->address() < b->proto->address();
    });
    for (size_t i = 1; i < roots.size(); ++i) {
      const schedule::Buffer &before = *roots[i - 1]->proto;
      const schedule::Buffer &after = *roots[i]->proto;
      if (after.address() < before.address() + before.size_bytes()) {
        return makeError(fmt::format(
            "chip {}: buffers overlap: buffer {} {} at [{}, {}) and buffer {} {} at [{}, {})", chip,
            roots[i - 1]->id, roots[i - 1]->label, before.address(),
            before.address() + before.size_bytes(), roots[i]->id, roots[i]->label, after.address(),
            after.address() + after.size_bytes()));
      }
    }
  }
  return Status::success();
}

Result<ProgramTiming> checkProgram(const HardwareModel &model, const BufferTable &buffers,
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
    if (std::optional<std::string> problem = shapeProblem(buffers, inst)) {
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
      const std::string storage = root == buffers.indexOf(id)
                                      ? ""
                                      : fmt::format(" (storage of {})", buffers.at(root).label);
      if (buffers.at(root).kind == schedule::WEIGHT) {
        return violation(index, fmt::format("writes {}{}, a weight: weights are constant",
                                            written.label, storage));
      }
      if (writerOf[root] != kNoWriter) {
        return violation(
            index,
            fmt::format("single writer: {}{} is already written by {}", written.label, storage,
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
    for (uint32_t id : inst.operands()) {
      const BufferInfo &read = buffers.byIdRef(id);
      const size_t root = read.root;
      if (writerOf[root] == kNoWriter) {
        if (buffers.at(root).kind == schedule::WEIGHT) {
          continue; // resident before the program starts: ready at cycle 0
        }
        return violation(index, fmt::format("operand {} is never written in this program and "
                                            "is not a weight",
                                            read.label));
      }
      if (writerOf[root] == index) {
        return violation(index, fmt::format("reads its own result {}: an instruction cannot "
                                            "consume what it produces",
                                            read.label));
      }
      if (issue < readyAt[root]) {
        return violation(index, fmt::format("data read before ready: operand {} is ready at "
                                            "cycle {}",
                                            read.label, readyAt[root]));
      }
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

} // namespace conveyor::sim
