// The fabric engine's decode (docs/simulator.md "Multi-chip"): each program once into a flat
// image (costs, energy, buffer slots, transfers, repeat blocks). For a schedule the reader
// has not checked it also makes the reader's rules, yes or no, while each message is in the
// cache (PreparedFabric::simulateInOnePass, docs/simulator.md "Speed").
#include "FabricRunner.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "ReaderRules.h"

namespace conveyor::sim::fabric {
namespace {

/// What a failed yes-or-no check of the one-pass form returns: the caller takes the plain
/// path, which words the message.
Status rejectedInOnePass() { return makeError("rejected by the one-pass checks"); }

} // namespace

Status FabricRunner::decode(const schedule::Program &program, ProgramImage &image) {
  return checkStructure ? decodeImpl<true>(program, image) : decodeImpl<false>(program, image);
}

bool FabricRunner::outlineValid(const schedule::Program &program) {
  // ScheduleFormat.cpp validateStructure's program rules and validateRepeats, in order.
  if (program.chip() >= schedule.system().chips() ||
      !programNames.emplace(program.chip(), program.name()).second ||
      !schedule::ProgramKind_IsValid(program.kind()) ||
      program.kind() == schedule::PROGRAM_KIND_UNSPECIFIED) {
    return false;
  }
  const auto instructions = uint64_t(program.instructions_size());
  uint64_t end = 0; // first instruction index not yet covered by a block
  for (const schedule::Repeat &block : program.repeats()) {
    if (block.count() == 0 || block.iterations() == 0 ||
        uint64_t(block.first()) + block.count() > instructions || block.first() < end) {
      return false;
    }
    end = uint64_t(block.first()) + block.count();
    const uint64_t lastIssue = program.instructions(int(end - 1)).issue_cycle();
    const uint64_t span =
        lastIssue - std::min(lastIssue, program.instructions(int(block.first())).issue_cycle());
    if ((block.iterations() > 1 && block.period_cycles() <= span) ||
        block.iterations() > (uint64_t(1) << 40)) {
      return false;
    }
  }
  auto onChip = [&](uint32_t id) {
    const size_t at = buffers.find(id);
    return at != BufferTable::kMissing && buffers.at(at).chip == program.chip();
  };
  for (const schedule::Repeat &block : program.repeats()) {
    for (const schedule::BufferStride &stride : block.strides()) {
      if (!onChip(stride.buffer()) ||
          !std::all_of(stride.per_iteration().begin(), stride.per_iteration().end(), onChip)) {
        return false;
      }
    }
  }
  return true;
}

bool FabricRunner::instancesValid(const schedule::Program &program, ProgramImage &image) {
  // ScheduleFormat.cpp validateInstances: the slots are the buffers the template uses.
  const uint32_t chips = schedule.system().chips();
  image.instanceBuffers.reserve(size_t(program.instances_size()) * image.slotIds.size());
  for (const schedule::ProgramInstance &instance : program.instances()) {
    if (instance.chip() >= chips ||
        !programNames.emplace(instance.chip(), program.name()).second) {
      return false;
    }
    // One call of the accessor: each call syncs the map with its wire form.
    const auto &bufferMap = instance.buffer_map();
    for (const uint32_t id : image.slotIds) {
      auto mappedTo = bufferMap.find(id);
      if (mappedTo == bufferMap.end()) {
        return false;
      }
      const size_t to = buffers.find(mappedTo->second);
      if (to == BufferTable::kMissing) {
        return false;
      }
      const BufferInfo &from = buffers.byIdRef(id), &target = buffers.at(to);
      if (target.chip != instance.chip() || target.dtypeValue != from.dtypeValue ||
          target.kindValue != from.kindValue || !sameShape(target.shape(), from.shape())) {
        return false;
      }
      image.instanceBuffers.push_back(uint32_t(to));
    }
    for (const auto &[from, to] : instance.peer_map()) {
      if (to >= chips || to == instance.chip()) {
        return false;
      }
    }
  }
  return true;
}

template <bool kCheck>
Status FabricRunner::decodeImpl(const schedule::Program &program, ProgramImage &image) {
  image.proto = &program;
  if (kCheck && !outlineValid(program)) {
    return rejectedInOnePass();
  }
  // Buffer table index -> slot, in a scratch array shared by all programs (reset below).
  scratch.resize(buffers.all().size(), kNone);
  auto slotOf = [&](size_t index, uint32_t id) {
    uint32_t &slot = scratch[index];
    if (slot == kNone) {
      slot = uint32_t(image.slotIds.size());
      image.slotIds.push_back(id);
    }
    return slot;
  };
  auto slotFor = [&](uint32_t id) { return slotOf(buffers.indexOf(id), id); };
  struct ResetScratch {
    FabricRunner &runner;
    const ProgramImage &image;
    ~ResetScratch() {
      for (uint32_t id : image.slotIds) {
        runner.scratch[runner.buffers.indexOf(id)] = kNone;
      }
    }
  } resetScratch{*this, image};
  const int count = program.instructions_size();
  // Most instructions name two or three buffers; the vector grows past that if need be (a
  // pass to count them exactly would touch every message twice).
  image.slots.reserve(size_t(count) * 3);
  const std::string label = fmt::format("chip {}, program '{}'", program.chip(), program.name());
  // Each entry is appended once, in order (no clearing pass over fresh memory first).
  image.instructions.reserve(size_t(count));
  // Each instruction's operand then result entries, looked up once for the traffic, the
  // shape rules and the cost. No opcode takes more ids than VXM_SUM's operands.
  constexpr int kMaxIds = schedule::kSumMaxOperands;
  std::array<const BufferInfo *, 2 * kMaxIds> infos{};
  int repeatCursor = 0;
  const OpcodeRuleTable &opcodeRules = OpcodeRuleTable::get();
  const uint32_t chips = schedule.system().chips();
  // The reader's order rule (kCheck): the cycle the next instruction may not
  // precede, which after a repeat block is its last issue in its last iteration.
  uint64_t previousCycle = 0;
  int nextRepeat = 0;
  for (int index = 0; index < count; ++index) {
    prefetchInstructionAhead(program, index, count, kPrefetchDistance);
    const schedule::Instruction &inst = program.instructions(index);
    const OpcodeRuleTable::Rule *rule = nullptr;
    if constexpr (kCheck) {
      if (nextRepeat < program.repeats_size() &&
          program.repeats(nextRepeat).first() + program.repeats(nextRepeat).count() ==
              uint32_t(index)) {
        const schedule::Repeat &done = program.repeats(nextRepeat++);
        const unsigned __int128 lastIssue =
            (unsigned __int128)(done.iterations() - 1) * done.period_cycles() +
            program.instructions(int(done.first() + done.count() - 1)).issue_cycle();
        if (lastIssue > kMaxCycle) {
          return rejectedInOnePass();
        }
        previousCycle = std::max(previousCycle, uint64_t(lastIssue));
      }
      rule = opcodeRules.find(inst.opcode());
      if (rule == nullptr || inst.issue_cycle() < previousCycle || inst.unit() != rule->unit ||
          !OpcodeRuleTable::arityValid(*rule, inst.operands_size(), inst.results_size())) {
        return rejectedInOnePass();
      }
      previousCycle = inst.issue_cycle();
    }
    ImageInstruction &out = image.instructions.emplace_back();
    EnergyParts energy{};
    auto fail = [&](const std::string &reason) {
      return makeError(fmt::format("{}, instruction {} ({} '{}' at cycle {}): {}", label, index,
                                   schedule::opcodeName(inst.opcode()), inst.location(),
                                   inst.issue_cycle(), reason));
    };
    out.issue = inst.issue_cycle();
    if (out.issue > kMaxCycle) {
      return fail("issue cycle is beyond 2^62; the schedule is corrupt");
    }
    out.slotBegin = uint32_t(image.slots.size());
    out.unbooked = unbookedAccesses(inst.opcode());
    out.sliceRead = readsResultBytesOnly(inst.opcode()) && inst.results_size() > 0;
    const int operandCount = inst.operands_size(), resultCount = inst.results_size();
    if (operandCount > kMaxIds || resultCount > kMaxIds) {
      return kCheck ? rejectedInOnePass() : fail("names more buffers than any opcode takes");
    }
    const BufferInfo *const *operands = infos.data();
    const BufferInfo *const *results = infos.data() + operandCount;
    // Each id looked up once: its table entry and its slot (kCheck: a buffer of this
    // program's chip, the reader's rule).
    uint32_t *slotsOut = image.slots.extend(size_t(operandCount + resultCount));
    for (int k = 0; k < operandCount + resultCount; ++k) {
      const uint32_t id = k < operandCount ? inst.operands(k) : inst.results(k - operandCount);
      const size_t at = kCheck ? buffers.find(id) : buffers.indexOf(id);
      if (kCheck && (at == BufferTable::kMissing || buffers.at(at).chip != program.chip())) {
        return rejectedInOnePass();
      }
      infos[size_t(k)] = &buffers.at(at);
      slotsOut[k] = slotOf(at, id);
    }
    if constexpr (kCheck) {
      if (!rule->multiChip) {
        if (!fieldsValid(buffers, inst)) {
          return rejectedInOnePass();
        }
      } else if (inst.opcode() != schedule::SYNC) {
        const bool send = inst.opcode() == schedule::C2C_SEND;
        if (inst.peer_chip() >= chips || inst.peer_chip() == program.chip() ||
            inst.bytes() > (send ? operands[0] : results[0])->bytes ||
            (send && inst.slot_start_cycle() < inst.issue_cycle())) {
          return rejectedInOnePass();
        }
      }
    }
    if (out.unbooked != 0) {
      out.traffic = uint32_t(image.traffic.size());
      image.traffic.push_back(
          unbookedTraffic(inst.opcode(), operands, operandCount, results, resultCount));
    }
    out.operands = uint16_t(inst.operands_size());
    out.results = uint16_t(inst.results_size());
    switch (inst.opcode()) {
    case schedule::C2C_SEND:
    case schedule::C2C_RECV: {
      const bool send = inst.opcode() == schedule::C2C_SEND;
      out.kind = send ? Kind::Send : Kind::Recv;
      image.hasTransfers = true;
      if (inst.link() >= fabric.links) {
        return fail(fmt::format("link {} does not exist: chips of system '{}' have {} C2C "
                                "link(s)",
                                inst.link(), model.systemName, fabric.links));
      }
      const BufferInfo &payload = send ? *operands[0] : *results[0];
      ImageTransfer transfer;
      transfer.link = inst.link();
      transfer.peer = inst.peer_chip();
      transfer.bytes = inst.bytes() == 0 ? payload.bytes : inst.bytes();
      transfer.serialisation = fabric.serialisationCycles(transfer.bytes);
      transfer.transferId = inst.transfer_id();
      if (send) {
        transfer.slotOffset = inst.slot_start_cycle() - inst.issue_cycle();
        transfer.slotCycles = inst.slot_cycles();
        if (transfer.slotCycles < transfer.serialisation) {
          return fail(fmt::format("link slot of {} cycles is shorter than the {} cycles that "
                                  "serialise {} bytes on one link",
                                  transfer.slotCycles, transfer.serialisation, transfer.bytes));
        }
        if (transfer.slotOffset > kMaxCycle || transfer.slotCycles > kMaxCycle) {
          return fail("link slot is beyond cycle 2^62; the schedule is corrupt");
        }
        out.occupancy = 0;
        out.duration = transfer.slotOffset + transfer.slotCycles;
      } else {
        if (payload.kind() == schedule::WEIGHT) {
          return fail(
              fmt::format("receives into {}, a weight: weights are constant", payload.label()));
        }
        out.duration =
            model.memLatency + (transfer.bytes + model.vectorBytes - 1) / model.vectorBytes;
        // The MEM port check: the payload lands one vector per cycle before it is ready.
        out.recvVectors = (transfer.bytes + model.vectorBytes - 1) / model.vectorBytes;
      }
      out.transfer = uint32_t(image.transfers.size());
      image.transfers.push_back(transfer);
      // SRAM and stream traffic of the payload (the link energy is charged per run).
      InstructionCost traffic;
      traffic.opcode = inst.opcode();
      traffic.unit = schedule::C2C;
      (send ? traffic.readBytes : traffic.writtenBytes) = transfer.bytes;
      Result<EnergyParts> parts = instructionEnergy(model, buffers, inst, traffic);
      if (!parts) {
        return fail(parts.error());
      }
      energy = *parts;
      break;
    }
    case schedule::SYNC:
      out.kind = Kind::Sync;
      out.unit = kIcuSlot;
      out.occupancy = 1;
      out.duration = 1;
      break;
    default: {
      const size_t slot = unitSlot(inst.unit());
      if (slot >= kReportedUnits.size()) {
        return fail(
            fmt::format("unit {} has no instruction queue", schedule::unitName(inst.unit())));
      }
      if (inst.queue() != 0) {
        return fail(fmt::format("queue {} does not exist: chips have one instruction queue "
                                "per unit (queue 0)",
                                inst.queue()));
      }
      if (std::optional<std::string> problem =
              instructionShapeProblem(buffers, inst, operands, results)) {
        return fail(*problem);
      }
      Result<InstructionCost> cost = instructionCost(model, inst, operands, results);
      if (!cost) {
        return fail(cost.error());
      }
      out.unit = uint8_t(slot);
      out.occupancy = cost->occupancy;
      out.duration = cost->duration;
      out.operandLead = cost->operandLead;
      Result<EnergyParts> parts = instructionEnergy(model, buffers, inst, *cost);
      if (!parts) {
        return fail(parts.error());
      }
      energy = *parts;
      break;
    }
    }
    // Its dynamic energy, once per execution. Blocks are sorted and disjoint (the reader's
    // rules), so one cursor walks them.
    while (repeatCursor < program.repeats_size() &&
           uint64_t(index) >= uint64_t(program.repeats(repeatCursor).first()) +
                                  program.repeats(repeatCursor).count()) {
      ++repeatCursor;
    }
    const bool repeated = repeatCursor < program.repeats_size() &&
                          uint32_t(index) >= program.repeats(repeatCursor).first();
    const uint64_t iterations = repeated ? program.repeats(repeatCursor).iterations() : 1;
    const double executions = double(iterations);
    if (out.kind == Kind::Send) {
      image.sendsPerRun += iterations;
    } else if (out.kind == Kind::Recv) {
      image.recvsPerRun += iterations;
    }
    double instructionJoules = 0;
    for (size_t category = 0; category < kEnergyCategories; ++category) {
      const double joules = energy[category] * executions;
      image.energy[category] += joules;
      instructionJoules += joules;
    }
    image.unitEnergy[out.unit == kNoUnit ? kFabricUnits : out.unit] += instructionJoules;
  }
  image.executedPerRun = image.instructions.size();
  for (const schedule::Repeat &repeat : program.repeats()) {
    ImageBlock &block = image.blocks.emplace_back();
    block.first = repeat.first();
    block.count = repeat.count();
    block.iterations = repeat.iterations();
    block.period = repeat.period_cycles();
    block.transferStride = repeat.transfer_id_stride();
    // Saturating: iterations <= 2^40 and count < 2^32 by the reader's checks.
    image.executedPerRun +=
        std::min<uint64_t>(uint64_t(block.count) * (block.iterations - 1), kMaxExecutedPerRun + 1);
    for (const schedule::BufferStride &stride : repeat.strides()) {
      ImageStride &out = block.strides.emplace_back();
      out.slot = slotFor(stride.buffer());
      out.addressStride = stride.address_stride();
      const BufferInfo &base = buffers.byIdRef(stride.buffer());
      for (uint32_t id : stride.per_iteration()) {
        const BufferInfo &other = buffers.byIdRef(id);
        if (other.dtype() != base.dtype() || !sameShape(other.shape(), base.shape()) ||
            other.chip != base.chip) {
          return makeError(fmt::format("{}, repeat block '{}': per_iteration buffer {} differs "
                                       "from {} in chip, dtype or shape",
                                       label, repeat.name(), other.label(), base.label()));
        }
        out.perIteration.push_back(slotFor(id));
      }
    }
  }
  if (image.executedPerRun > kMaxExecutedPerRun) {
    return makeError(fmt::format("{}: repeat blocks make one run execute {} instructions, more "
                                 "than the simulator's limit of 2^32; is an iteration count "
                                 "corrupt?",
                                 label, image.executedPerRun));
  }
  if (kCheck && !instancesValid(program, image)) {
    return rejectedInOnePass();
  }
  return Status::success();
}

} // namespace conveyor::sim::fabric
