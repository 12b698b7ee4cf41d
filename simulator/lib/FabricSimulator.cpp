// The multi-chip timing engine (docs/simulator.md "Multi-chip"): each program is decoded
// once into a flat image (costs, buffer slots, transfers, repeat blocks); every chip then
// runs its image (templates once per instance chip, repeat blocks iterated, never unrolled),
// checking units, data readiness, single writer, write-after-read across iterations, link
// slots and drift; finally sends and receives are paired and arrivals checked.
#include "conveyor/Simulator/FabricSimulator.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/FabricModel.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/MemPortCheck.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "conveyor/Support/HugePages.h"
#include "ReaderRules.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <set>
#include <span>
#include <tuple>

namespace conveyor::sim {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMaxCycle = uint64_t(1) << 62;
constexpr uint8_t kNoUnit = 0xff;
constexpr uint8_t kIcuSlot = 4;
/// Executed instructions one run may take (a minute or so of simulation): beyond it an
/// iteration count is taken to be corrupt rather than simulated for hours.
constexpr uint64_t kMaxExecutedPerRun = uint64_t(1) << 32;
/// How many instruction messages ahead decode asks for memory.
constexpr int kPrefetchDistance = 24;

enum class Kind : uint8_t { Plain, Send, Recv, Sync };

/// A growable array of trivial values, appended to in runs: room for a run is made at once
/// and the values stored through a pointer, without std::vector::push_back's check per value
/// (which the compiler keeps out of line in decode's loop).
template <typename T> class AppendArray {
public:
  /// Room for `n` more values at the end, uninitialised: where to write them.
  T *extend(size_t n) {
    if (n > capacity_ - size_) {
      grow(size_ + n);
    }
    T *at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void reserve(size_t n) {
    if (n > capacity_) {
      grow(n);
    }
  }
  const T *data() const { return data_.get(); }
  size_t size() const { return size_; }

private:
  void grow(size_t needed) {
    const size_t capacity = std::max(needed, 2 * capacity_);
    std::unique_ptr<T[]> fresh = std::make_unique_for_overwrite<T[]>(capacity);
    std::copy_n(data_.get(), size_, fresh.get());
    data_ = std::move(fresh);
    capacity_ = capacity;
  }
  std::unique_ptr<T[]> data_;
  size_t size_ = 0, capacity_ = 0;
};

/// One instruction of a program image: everything the run loop reads, in 64 bytes.
struct ImageInstruction {
  uint64_t issue = 0, occupancy = 0, duration = 0;
  uint64_t operandLead = 0; // operand 0 may arrive this long after issue (MXM: first tile set)
  uint64_t recvVectors = 0; // C2C_RECV: vectors of the payload
  uint32_t slotBegin = 0; // operands then results, in ProgramImage::slots
  uint16_t operands = 0, results = 0;
  uint32_t transfer = kNone; // index into ProgramImage::transfers for C2C instructions
  uint8_t unit = kNoUnit;    // resource slot 0..4, or kNoUnit (C2C)
  Kind kind = Kind::Plain;
  uint8_t unbooked = 0; // accesses the MEM port check leaves out (unbookedAccesses)
  bool sliceRead = false; // operand 0 streams only the result's bytes (readsResultBytesOnly)
  uint32_t traffic = kNone; // index into ProgramImage::traffic when `unbooked` (rule 6)
};

struct ImageTransfer {
  uint32_t link = 0, peer = 0;
  uint64_t bytes = 0, serialisation = 0, slotOffset = 0, slotCycles = 0, transferId = 0;
};

struct ImageStride {
  uint32_t slot = 0;
  int64_t addressStride = 0;
  std::vector<uint32_t> perIteration; // slots
};

struct ImageBlock {
  uint32_t first = 0, count = 0;
  uint64_t iterations = 1, period = 0, transferStride = 0;
  std::vector<ImageStride> strides;
};

/// A decoded program. Slots number the distinct buffer ids the program names (template ids);
/// each run maps slots to the buffers of its chip.
struct ProgramImage {
  const schedule::Program *proto = nullptr;
  std::vector<ImageInstruction> instructions;
  AppendArray<uint32_t> slots;
  std::vector<ImageTransfer> transfers;
  std::vector<ImageBlock> blocks;
  std::vector<uint32_t> slotIds; // slot -> template buffer id
  /// Dynamic energy of one run: each instruction's parts times its executions (its block's
  /// iterations), summed in instruction order; and the same by resource (MEM MXM VXM SXM
  /// ICU, then C2C, without the link energy, which depends on the run's chip).
  EnergyParts energy{};
  std::array<double, kFabricUnits + 1> unitEnergy{};
  std::vector<UnbookedTraffic> traffic; // of the instructions with unbooked accesses
  bool hasTransfers = false;
  uint64_t sendsPerRun = 0, recvsPerRun = 0; // executed C2C instructions, iterations counted
  uint64_t executedPerRun = 0;
};

/// A send as seen by the fabric, in reference cycles.
/// What a send and its receive both record: the transfer and the instruction that issued it.
struct TransferRecord {
  uint64_t key = 0;
  uint32_t chip = 0, peer = 0, link = 0;
  uint32_t paired = kNone; // a send: position of its receive in `recvs`, once paired
  uint64_t bytes = 0;
  uint32_t run = 0, index = 0;
  uint64_t iteration = 0, localIssue = 0;
};

struct SendRecord : TransferRecord {
  uint64_t slotStart = 0, serialisation = 0, arrival = 0;
  // The route to the peer, as runOne found it (pairing needs it again): its hops, and the
  // receiver's port when direct (kNone otherwise; the sender's port is then `link`).
  uint32_t hops = 0, directRecvPort = kNone;
};

struct RecvRecord : TransferRecord {
  uint64_t issue = 0; // in reference cycles
};

/// Where one buffer slot of a run lives, compact (the run loop reads it for every operand of
/// every executed instruction): its address, bytes, and how far it moves each iteration (MEM
/// ports see the moved address).
struct SlotPlace {
  uint64_t address = 0, bytes = 0;
  int64_t stride = 0;
  bool operator==(const SlotPlace &) const = default;
};

/// A C2C instruction as a run executed it: what a replayed run executes again.
struct TransferEvent {
  uint32_t index = 0;
  uint64_t iteration = 0, issue = 0, idShift = 0, lastSync = 0;
};

/// The first run of a program: what its local checks read (FabricRunOptions), what they
/// counted, and its C2C instructions in execution order.
struct RunReference {
  bool valid = false;
  std::vector<SlotPlace> places;
  std::vector<uint32_t> stateOfSlot;
  std::vector<uint8_t> stateKinds; // per state: weight | resident << 1
  std::vector<TransferEvent> events;
  ChipRun run;
};

struct RunContext {
  const ProgramImage *image = nullptr;
  uint32_t chip = 0;
  const schedule::ProgramInstance *instance = nullptr; // null for the template's own chip
};

/// Where a storage root lies: [address, end), and its index in the buffer table.
struct RootSpan {
  uint64_t address = 0, end = 0;
  uint32_t index = 0;
};

/// Non-view, non-empty buffers of each chip, sorted by address: built on first use and kept
/// for every run over the same buffer table (each step of a schedule). One array, grouped by
/// chip: chip c's are [first[c], first[c + 1]).
struct ChipRoots {
  std::vector<RootSpan> spans;
  std::vector<uint32_t> first;
  bool built = false;
};

/// Per storage root of one run: what the last write left and who reads it.
struct RootState {
  uint64_t readyAt = 0;
  uint64_t readEnd = 0;    // latest end of a read of the current value
  uint32_t writer = kNone; // static instruction index
  uint64_t writerIteration = 0;
  bool weight = false;
  bool resident = false; // KV_CACHE: holds data at the start, written in place (MEM_KV_APPEND)
  bool strided = false; // moves with each iteration: fresh storage every iteration
};

/// A run's working tables, kept from run to run so that each run reuses their memory.
struct RunScratch {
  std::vector<size_t> bufferOfSlot;
  std::vector<uint32_t> stateOfSlot, rootOfState, remap, portLastIndex;
  std::vector<RootState> states;
  std::vector<SlotPlace> slotPlace;
  std::vector<uint8_t> stateKinds;
  std::vector<ImageTransfer> transfers;
  std::vector<uint64_t> portFreeAt, portLastIteration, portLastIssue;
};

class FabricRunner {
public:
  FabricRunner(const schedule::Schedule &schedule, const HardwareModel &model,
               const FabricModel &fabric, const BufferTable &buffers, ChipRoots &chipRoots,
               const FabricRunOptions &options, bool checkStructure)
      : schedule(schedule), model(model), fabric(fabric), buffers(buffers), options(options),
        checkStructure(checkStructure), chipRoots(chipRoots) {}

  /// Runs the programs at `programs` (positions in schedule.programs()), in that order.
  Result<FabricReport> run(const std::vector<int> &programs);

private:
  const schedule::Schedule &schedule;
  const HardwareModel &model;
  const FabricModel &fabric;
  const BufferTable &buffers;
  const FabricRunOptions options;
  /// The schedule has not been through the reader: decode also applies the reader's rules,
  /// yes or no (PreparedFabric::simulateInOnePass), and any failure is only a "no".
  const bool checkStructure;
  std::set<std::pair<uint32_t, std::string>> programNames; // (chip, name), when checking
  std::vector<ProgramImage> images;
  std::vector<RunReference> references; // by image
  std::vector<RunContext> runs;
  // A large fabric step records hundreds of thousands of transfers: on huge pages.
  std::vector<SendRecord, HugePageAllocator<SendRecord>> sends;
  std::vector<RecvRecord, HugePageAllocator<RecvRecord>> recvs;
  FabricReport report;
  std::vector<uint32_t> scratch; // by buffer table index; kNone between uses
  RunScratch runScratch;

  Status decode(const schedule::Program &program, ProgramImage &image) {
    return checkStructure ? decodeImpl<true>(program, image) : decodeImpl<false>(program, image);
  }
  /// decode, with the reader's rules made (kCheck) or not: two copies, so that a schedule
  /// the reader has checked pays nothing for them.
  template <bool kCheck> Status decodeImpl(const schedule::Program &program, ProgramImage &image);
  /// The reader's rules for a program that are not per instruction (chip, name, kind,
  /// repeat blocks and their stride buffers), yes or no.
  bool outlineValid(const schedule::Program &program);
  /// The reader's rules for the instances of `program`, decoded into `image`, yes or no.
  bool instancesValid(const schedule::Program &program, const ProgramImage &image);
  Status runOne(uint32_t runIndex);
  Status checkStrideSpans(const RunContext &context, const std::vector<size_t> &bufferOfSlot);
  Status pairTransfers();
  /// Non-view, non-empty buffers of `chip`, sorted by address (built on first use; checkSram
  /// has already ruled out overlaps, so ends are sorted too).
  std::span<const RootSpan> rootsOfChip(uint32_t chip);
  ChipRoots &chipRoots;

  std::string describe(uint32_t runIndex, uint32_t index, uint64_t iteration, uint64_t issue) const;
  std::string programLabel(const RunContext &context) const {
    return fmt::format("chip {}, program '{}'", context.chip, context.image->proto->name());
  }
};

/// Remaps an id through a protobuf map; unmapped ids stay.
template <typename Map> uint32_t mapped(const Map &map, uint32_t id) {
  auto found = map.find(id);
  return found == map.end() ? id : found->second;
}

std::string FabricRunner::describe(uint32_t runIndex, uint32_t index, uint64_t iteration,
                                   uint64_t issue) const {
  const RunContext &context = runs[runIndex];
  const schedule::Instruction &inst = context.image->proto->instructions(int(index));
  std::string where;
  for (size_t b = 0; b < context.image->blocks.size(); ++b) {
    const ImageBlock &block = context.image->blocks[b];
    if (index >= block.first && index < block.first + block.count) {
      where = fmt::format(", iteration {} of repeat block '{}'", iteration,
                          context.image->proto->repeats(int(b)).name());
    }
  }
  return fmt::format("{}, instruction {}{} ({} '{}' at cycle {})", programLabel(context), index,
                     where, schedule::opcodeName(inst.opcode()), inst.location(), issue);
}

/// What a failed yes-or-no check of the one-pass form returns: the caller takes the plain
/// path, which words the message.
Status rejectedInOnePass() { return makeError("rejected by the one-pass checks"); }

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

bool FabricRunner::instancesValid(const schedule::Program &program, const ProgramImage &image) {
  // ScheduleFormat.cpp validateInstances: the slots are the buffers the template uses.
  const uint32_t chips = schedule.system().chips();
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
  static const OpcodeRuleTable opcodeRules;
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

std::span<const RootSpan> FabricRunner::rootsOfChip(uint32_t chip) {
  if (!chipRoots.built) {
    chipRoots.built = true;
    // Counted by chip, placed in table order, then each chip's sorted by (address, index)
    // (most already are: compilers place buffers in order).
    std::vector<uint32_t> &first = chipRoots.first;
    first.assign(size_t(model.chips) + 1, 0);
    for (const BufferInfo &buffer : buffers.all()) {
      if (!buffer.isView() && buffer.sizeBytes > 0) {
        first[buffer.chip + 1] += 1;
      }
    }
    for (size_t c = 0; c < model.chips; ++c) {
      first[c + 1] += first[c];
    }
    std::vector<RootSpan> &spans = chipRoots.spans;
    spans.resize(first[model.chips]);
    std::vector<uint32_t> next(first.begin(), first.end() - 1);
    for (size_t index = 0; index < buffers.all().size(); ++index) {
      const BufferInfo &buffer = buffers.at(index);
      if (!buffer.isView() && buffer.sizeBytes > 0) {
        spans[next[buffer.chip]++] = {buffer.address, buffer.address + buffer.sizeBytes,
                                      uint32_t(index)};
      }
    }
    auto byAddress = [](const RootSpan &a, const RootSpan &b) {
      return a.address != b.address ? a.address < b.address : a.index < b.index;
    };
    for (size_t c = 0; c < model.chips; ++c) {
      const auto begin = spans.begin() + first[c], end = spans.begin() + first[c + 1];
      if (!std::is_sorted(begin, end, byAddress)) {
        std::sort(begin, end, byAddress);
      }
    }
  }
  return std::span<const RootSpan>(chipRoots.spans).subspan(
      chipRoots.first[chip], chipRoots.first[chip + 1] - chipRoots.first[chip]);
}

Status FabricRunner::checkStrideSpans(const RunContext &context,
                                      const std::vector<size_t> &bufferOfSlot) {
  for (size_t b = 0; b < context.image->blocks.size(); ++b) {
    const ImageBlock &block = context.image->blocks[b];
    for (const ImageStride &stride : block.strides) {
      if (stride.addressStride == 0) {
        continue;
      }
      const BufferInfo &buffer = buffers.at(bufferOfSlot[stride.slot]);
      const __int128 shift = (__int128)stride.addressStride * (__int128)(block.iterations - 1);
      const __int128 low = (__int128)buffer.address + std::min<__int128>(0, shift);
      const __int128 high =
          (__int128)buffer.address + std::max<__int128>(0, shift) + (__int128)buffer.sizeBytes;
      // Worded only when a check fails (a label is a formatted string).
      auto where = [&] {
        return fmt::format("{}, repeat block '{}': buffer {} strided by {} bytes over {} "
                           "iterations",
                           programLabel(context), context.image->proto->repeats(int(b)).name(),
                           buffer.label(), stride.addressStride, block.iterations);
      };
      if (low < 0 || high > (__int128)model.sramBytes) {
        return makeError(fmt::format("{} spans bytes [{}, {}): SRAM overflow, past the {} bytes "
                                     "of SRAM of system '{}'",
                                     where(), (long long)low, (long long)high, model.sramBytes,
                                     model.systemName));
      }
      // Storage roots of the chip sorted by address: the first that ends after `low` and
      // every later one that starts before `high` overlap the span.
      const std::span<const RootSpan> roots = rootsOfChip(buffer.chip);
      auto it = std::partition_point(roots.begin(), roots.end(), [&](const RootSpan &span) {
        return (__int128)span.end <= low;
      });
      for (; it != roots.end() && (__int128)it->address < high; ++it) {
        const BufferInfo &other = buffers.at(it->index);
        if (it->index == buffer.root) {
          continue;
        }
        return makeError(fmt::format("{} spans bytes [{}, {}), which overlaps buffer {} at "
                                     "[{}, {})",
                                     where(), (long long)low, (long long)high, other.label(),
                                     other.address, other.address + other.sizeBytes));
      }
    }
  }
  return Status::success();
}


Status FabricRunner::runOne(uint32_t runIndex) {
  const RunContext &context = runs[runIndex];
  const ProgramImage &image = *context.image;
  const schedule::Program &program = *image.proto;
  const uint32_t chip = context.chip;

  // Slot -> buffer of this chip -> storage root -> dense state index.
  const size_t slots = image.slotIds.size();
  std::vector<size_t> &bufferOfSlot = runScratch.bufferOfSlot;
  bufferOfSlot.resize(slots);
  std::vector<uint32_t> &stateOfSlot = runScratch.stateOfSlot;
  stateOfSlot.resize(slots);
  std::vector<RootState> &states = runScratch.states;
  states.clear();
  std::vector<uint32_t> &rootOfState = runScratch.rootOfState; // to reset `scratch` after
  rootOfState.clear();
  std::vector<SlotPlace> &slotPlace = runScratch.slotPlace;
  slotPlace.assign(slots, SlotPlace{});
  scratch.resize(buffers.all().size(), kNone); // root -> state index
  // The instance's map, fetched once: each call of the accessor syncs it with its wire form.
  const auto *bufferMap = context.instance == nullptr ? nullptr : &context.instance->buffer_map();
  for (size_t slot = 0; slot < image.slotIds.size(); ++slot) {
    const uint32_t id = bufferMap == nullptr
                            ? image.slotIds[slot]
                            : mapped(*bufferMap, image.slotIds[slot]);
    bufferOfSlot[slot] = buffers.indexOf(id);
    const BufferInfo &buffer = buffers.at(bufferOfSlot[slot]);
    slotPlace[slot].address = buffer.address;
    slotPlace[slot].bytes = buffer.bytes;
    const uint32_t root = buffer.root;
    if (scratch[root] == kNone) {
      scratch[root] = uint32_t(states.size());
      rootOfState.push_back(root);
      RootState &state = states.emplace_back();
      const schedule::BufferKind kind = buffers.at(root).kind();
      state.weight = kind == schedule::WEIGHT;
      state.resident = kind == schedule::KV_CACHE;
    }
    stateOfSlot[slot] = scratch[root];
  }
  for (const uint32_t root : rootOfState) {
    scratch[root] = kNone;
  }
  for (const ImageBlock &block : image.blocks) {
    for (const ImageStride &stride : block.strides) {
      if (stride.addressStride != 0) {
        states[stateOfSlot[stride.slot]].strided = true;
      }
    }
  }
  if (Status status = checkStrideSpans(context, bufferOfSlot); !status) {
    return status;
  }
  for (const ImageBlock &block : image.blocks) {
    for (const ImageStride &stride : block.strides) {
      slotPlace[stride.slot].stride = stride.addressStride;
    }
  }
  MemPortBook ports(model);
  PortConflict conflict;

  // Transfers of this run: peers, ports and ids rewritten for an instance.
  std::vector<ImageTransfer> &transfers = runScratch.transfers;
  transfers.assign(image.transfers.begin(), image.transfers.end());
  int64_t idOffset = 0;
  if (context.instance != nullptr) {
    idOffset = context.instance->transfer_id_offset();
    const auto &peerMap = context.instance->peer_map();
    const auto &linkMap = context.instance->link_map();
    for (ImageTransfer &transfer : transfers) {
      transfer.peer = mapped(peerMap, transfer.peer);
      transfer.link = mapped(linkMap, transfer.link);
    }
  }

  ChipRun result;
  result.program = program.name();
  result.programIndex = uint32_t(context.image - images.data());
  result.chip = chip;
  std::array<uint64_t, kFabricUnits> freeAt{};
  std::array<uint32_t, kFabricUnits> lastIndex;
  std::array<uint64_t, kFabricUnits> lastIteration{};
  std::array<uint64_t, kFabricUnits> lastIssue{};
  lastIndex.fill(kNone);
  // Per sending port: the last link slot, to catch double booking in issue order.
  std::vector<uint64_t> &portFreeAt = runScratch.portFreeAt;
  portFreeAt.assign(fabric.links, 0);
  std::vector<uint32_t> &portLastIndex = runScratch.portLastIndex;
  portLastIndex.assign(fabric.links, kNone);
  std::vector<uint64_t> &portLastIteration = runScratch.portLastIteration;
  portLastIteration.assign(fabric.links, 0);
  std::vector<uint64_t> &portLastIssue = runScratch.portLastIssue;
  portLastIssue.assign(fabric.links, 0);
  uint64_t lastSync = 0;
  const uint64_t maxRun =
      image.hasTransfers ? fabric.cyclesWithinSlack(program.drift_slack_cycles()) : UINT64_MAX;
  std::vector<uint32_t> &remap = runScratch.remap;
  remap.resize(slots);
  for (size_t slot = 0; slot < remap.size(); ++slot) {
    remap[slot] = uint32_t(slot);
  }

  // Replay (FabricRunOptions::replayEquivalentRuns): the first run of a program records what
  // its local checks read and its C2C instructions; a later run of it whose slots read the
  // same executes only those.
  // Only programs with instances run more than once in a step.
  RunReference &reference = references[result.programIndex];
  const bool replayable = options.replayEquivalentRuns && !program.instances().empty();
  std::vector<uint8_t> &stateKinds = runScratch.stateKinds;
  if (replayable) {
    stateKinds.resize(states.size());
    for (size_t i = 0; i < states.size(); ++i) {
      stateKinds[i] = uint8_t(uint8_t(states[i].weight) | uint8_t(states[i].resident) << 1);
    }
  }
  const bool replay = replayable && reference.valid && reference.places == slotPlace &&
                      reference.stateOfSlot == stateOfSlot && reference.stateKinds == stateKinds;
  const bool recording = replayable && !reference.valid;

  unsigned __int128 c2cBitHops = 0;
  struct RouteEntry {
    uint32_t peer = kNone;
    Route route;
  };
  std::array<RouteEntry, 16> routeCache{};
  std::string failure;
  // A C2C instruction's fabric side, on this run's chip (also what a replayed run executes).
  auto transferAt = [&](const ImageInstruction &inst, uint32_t index, uint64_t iteration,
                        uint64_t issue, uint64_t idShift) -> bool {
    auto fail = [&](const std::string &reason) {
      failure = fmt::format("{}: {}", describe(runIndex, index, iteration, issue), reason);
      return false;
    };
    const ImageTransfer &transfer = transfers[inst.transfer];
    if (issue - lastSync > maxRun) {
      return fail(fmt::format(
          "sync missing under drift: {} cycles since the last SYNC (cycle {}); at {} ppm two "
          "chips drift {:.2f} cycles apart, more than the program's drift_slack_cycles {}: "
          "issue a SYNC at least every {} cycles",
          issue - lastSync, lastSync, double(fabric.driftPartsPerBillion) / 1000.0,
          double(issue - lastSync) * double(fabric.driftPartsPerBillion) / 1e9,
          program.drift_slack_cycles(), maxRun));
    }
    if (transfer.link >= fabric.links) {
      return fail(fmt::format("link {} (after link_map) does not exist: chips of system '{}' "
                              "have {} C2C link(s)",
                              transfer.link, model.systemName, fabric.links));
    }
    if (transfer.peer >= fabric.chips || transfer.peer == chip) {
      return fail(fmt::format("peer chip {} is not another chip of the {}-chip system",
                              transfer.peer, fabric.chips));
    }
    const uint64_t key = uint64_t(int64_t(transfer.transferId) + idOffset) + idShift;
    const int64_t correction = fabric.driftCorrection(chip, issue - lastSync);
    TransferRecord common;
    common.key = key;
    common.chip = chip;
    common.peer = transfer.peer;
    common.link = transfer.link;
    common.bytes = transfer.bytes;
    common.run = runIndex;
    common.index = index;
    common.iteration = iteration;
    common.localIssue = issue;
    if (inst.kind == Kind::Send) {
      // Routes from this chip, by peer, in a small direct-mapped cache (a run sends to a few
      // peers, many times; hashed, since a group's peers may be a stride apart).
      RouteEntry &cached = routeCache[(transfer.peer * 0x9e3779b1u) >> 28]; // 16 entries
      if (cached.peer != transfer.peer) {
        cached = {transfer.peer, fabric.route(chip, transfer.peer)};
      }
      const Route &route = cached.route;
      if (route.direct && transfer.link != route.sendPort) {
        return fail(fmt::format("link {} does not reach chip {}: inside a node chip {} "
                                "reaches it on port {}",
                                transfer.link, transfer.peer, chip, route.sendPort));
      }
      const uint64_t slotStart = issue + transfer.slotOffset;
      const uint64_t slotEnd = slotStart + transfer.slotCycles;
      if (portLastIndex[transfer.link] != kNone && slotStart < portFreeAt[transfer.link]) {
        return fail(fmt::format(
            "link {} double-booked: its slot [{}, {}) overlaps the slot of {}, which holds "
            "the link until cycle {}",
            transfer.link, slotStart, slotEnd,
            describe(runIndex, portLastIndex[transfer.link], portLastIteration[transfer.link],
                     portLastIssue[transfer.link]),
            portFreeAt[transfer.link]));
      }
      portFreeAt[transfer.link] = std::max(portFreeAt[transfer.link], slotEnd);
      portLastIndex[transfer.link] = index;
      portLastIteration[transfer.link] = iteration;
      portLastIssue[transfer.link] = issue;
      SendRecord record{common};
      record.slotStart = uint64_t(int64_t(slotStart) + correction);
      record.serialisation = transfer.serialisation;
      record.arrival = record.slotStart + transfer.serialisation + route.hops * fabric.hopLatency;
      record.hops = route.hops;
      record.directRecvPort = route.direct ? route.recvPort : kNone;
      sends.push_back(record);
      // Bit-hops are summed exactly (order-free); joules are taken once, after the run.
      c2cBitHops += (unsigned __int128)transfer.bytes * 8 * route.hops;
      result.sends += 1;
      result.sentBytes += transfer.bytes;
      result.endCycle = std::max(result.endCycle, slotEnd);
    } else {
      RecvRecord record{common};
      record.issue = uint64_t(int64_t(issue) + correction);
      recvs.push_back(record);
      result.recvs += 1;
    }
    return true;
  };
  auto execute = [&](uint32_t index, uint64_t iteration, uint64_t shift,
                     uint64_t idShift) -> bool {
    const ImageInstruction &inst = image.instructions[index];
    const uint64_t issue = inst.issue + shift;
    // Returns false with `failure` set; a bool, not a Status, on this per-instruction path.
    auto fail = [&](const std::string &reason) {
      failure = fmt::format("{}: {}", describe(runIndex, index, iteration, issue), reason);
      return false;
    };
    if (issue > kMaxCycle) {
      return fail("issue cycle is beyond 2^62 after repetition");
    }
    if (inst.unit != kNoUnit) {
      if (lastIndex[inst.unit] != kNone && issue < freeAt[inst.unit]) {
        const char *unit =
            inst.unit == kIcuSlot ? "ICU" : schedule::unitName(kReportedUnits[inst.unit]);
        return fail(fmt::format("unit {} double-booked: {} keeps it busy until cycle {}", unit,
                                describe(runIndex, lastIndex[inst.unit], lastIteration[inst.unit],
                                         lastIssue[inst.unit]),
                                freeAt[inst.unit]));
      }
      freeAt[inst.unit] = issue + inst.occupancy;
      lastIndex[inst.unit] = index;
      lastIteration[inst.unit] = iteration;
      lastIssue[inst.unit] = issue;
      result.unitInstructions[inst.unit] += 1;
      result.unitBusyCycles[inst.unit] += inst.occupancy;
    }
    const uint32_t *slot = image.slots.data() + inst.slotBegin;
    // A send reads its operand until its link slot ends; others for their occupancy.
    const uint64_t readEnd =
        issue + (inst.kind == Kind::Send ? inst.duration : std::max<uint64_t>(inst.occupancy, 1));
    for (uint16_t i = 0; i < inst.operands; ++i) {
      RootState &state = states[stateOfSlot[remap[slot[i]]]];
      if (state.weight) {
        continue;
      }
      if (state.writer == kNone && state.resident) {
        state.readEnd = std::max(state.readEnd, readEnd);
        continue; // the cache's contents from before the program
      }
      if (state.writer == kNone) {
        return fail(fmt::format("operand {} is not written before it is read, and is not a "
                                "weight",
                                buffers.at(bufferOfSlot[remap[slot[i]]]).label()));
      }
      if (state.writer == index && state.writerIteration == iteration) {
        return fail(fmt::format("reads its own result {}",
                                buffers.at(bufferOfSlot[remap[slot[i]]]).label()));
      }
      if (issue + (i == 0 ? inst.operandLead : 0) < state.readyAt) {
        return fail(fmt::format("data read before ready: operand {} is ready at cycle {}",
                                buffers.at(bufferOfSlot[remap[slot[i]]]).label(), state.readyAt));
      }
      state.readEnd = std::max(state.readEnd, readEnd);
    }
    const uint64_t done = issue + inst.duration;
    for (uint16_t i = 0; i < inst.results; ++i) {
      const uint32_t s = remap[slot[inst.operands + i]];
      RootState &state = states[stateOfSlot[s]];
      if (state.weight) {
        return fail(fmt::format("writes {}, a weight: weights are constant",
                                buffers.at(bufferOfSlot[s]).label()));
      }
      // v2 rewrites: a buffer may be written again once its value is dead (a KV cache's
      // resident contents too).
      if (state.writer != kNone || state.resident) {
        if (done < state.readEnd) {
          return fail(fmt::format("write after read: overwrites {} at cycle {} while it is "
                                  "still read until cycle {}",
                                  buffers.at(bufferOfSlot[s]).label(), done, state.readEnd));
        }
        if (done < state.readyAt) {
          return fail(fmt::format("write after write: {} lands at cycle {}, before the "
                                  "previous write by {} lands at cycle {}",
                                  buffers.at(bufferOfSlot[s]).label(), done,
                                  describe(runIndex, state.writer, state.writerIteration,
                                           image.instructions[state.writer].issue),
                                  state.readyAt));
        }
      }
      state.writer = index;
      state.writerIteration = iteration;
      state.readyAt = done;
      state.readEnd = 0;
    }
    // MEM ports: each distinct operand read, each result written (rule 5).
    const uint64_t readSpan = inst.kind == Kind::Send ? inst.duration : inst.occupancy;
    for (uint16_t i = 0; i < inst.operands + inst.results; ++i) {
      const uint32_t s = remap[slot[i]];
      const bool read = i < inst.operands;
      bool repeated = read ? i < 7 && (inst.unbooked >> i) & 1
                           : (inst.unbooked & kResultsUnbooked) != 0;
      for (uint16_t j = 0; read && j < i && !repeated; ++j) {
        repeated = remap[slot[j]] == s;
      }
      if (repeated) {
        continue;
      }
      const SlotPlace &place = slotPlace[s];
      const uint64_t address =
          uint64_t(int64_t(place.address) + int64_t(iteration) * place.stride);
      if (!ports.bookBuffer(read ? MemPort::Read : MemPort::Write, issue,
                            read ? readSpan : std::max(inst.occupancy, inst.recvVectors),
                            inst.duration, address, place.bytes, index, iteration, conflict,
                            read && i == 0 && inst.sliceRead
                                ? slotPlace[remap[slot[inst.operands]]].bytes
                                : ~uint64_t(0))) {
        return fail(portConflictReason(conflict,
                                       describe(runIndex, conflict.held.index,
                                                conflict.held.iteration, conflict.held.issue),
                                       fmt::format("instruction {}", index)));
      }
    }
    if (inst.traffic != kNone) { // rule 6 counts what rule 5 cannot place
      const UnbookedTraffic &traffic = image.traffic[inst.traffic];
      if (!ports.bookStreams(MemPort::Read, issue, inst.occupancy, inst.duration, traffic.read,
                             index, iteration, conflict) ||
          !ports.bookStreams(MemPort::Write, issue, inst.occupancy, inst.duration,
                             traffic.written, index, iteration, conflict)) {
        return fail(portConflictReason(conflict,
                                       describe(runIndex, conflict.held.index,
                                                conflict.held.iteration, conflict.held.issue),
                                       fmt::format("instruction {}", index)));
      }
    }
    result.endCycle = std::max(result.endCycle, done);
    switch (inst.kind) {
    case Kind::Plain:
      break;
    case Kind::Sync:
      lastSync = issue;
      result.syncs += 1;
      break;
    case Kind::Send:
    case Kind::Recv:
      if (recording) {
        reference.events.push_back({index, iteration, issue, idShift, lastSync});
      }
      if (!transferAt(inst, index, iteration, issue, idShift)) {
        return false;
      }
      break;
    }
    return true;
  };

  const size_t count = image.instructions.size();
  if (replay) {
    // The first run's local outcome; the transfers are this chip's own.
    result.endCycle = reference.run.endCycle;
    result.syncs = reference.run.syncs;
    result.unitInstructions = reference.run.unitInstructions;
    result.unitBusyCycles = reference.run.unitBusyCycles;
    for (const TransferEvent &event : reference.events) {
      lastSync = event.lastSync;
      if (!transferAt(image.instructions[event.index], event.index, event.iteration, event.issue,
                      event.idShift)) {
        return makeError(std::move(failure));
      }
    }
    report.replayedRuns += 1;
  }
  size_t nextBlock = 0;
  for (uint32_t index = 0; !replay && index < count;) {
    if (nextBlock < image.blocks.size() && image.blocks[nextBlock].first == index) {
      const ImageBlock &block = image.blocks[nextBlock++];
      for (uint64_t k = 0; k < block.iterations; ++k) {
        for (const ImageStride &stride : block.strides) {
          if (!stride.perIteration.empty()) {
            remap[stride.slot] = stride.perIteration[k % stride.perIteration.size()];
          }
          if (k > 0 && stride.addressStride != 0) {
            // Fresh storage each iteration: nothing written there yet in this iteration.
            RootState &state = states[stateOfSlot[stride.slot]];
            if (!state.weight) {
              state.writer = kNone;
              state.readEnd = 0;
              state.readyAt = 0;
            }
          }
        }
        const uint64_t shift = k * block.period;
        const uint64_t idShift = k * block.transferStride;
        for (uint32_t i = block.first; i < block.first + block.count; ++i) {
          if (!execute(i, k, shift, idShift)) {
            return makeError(std::move(failure));
          }
        }
      }
      for (const ImageStride &stride : block.strides) {
        remap[stride.slot] = stride.slot;
      }
      index = block.first + block.count;
      continue;
    }
    if (!execute(index, 0, 0, 0)) {
      return makeError(std::move(failure));
    }
    ++index;
  }
  result.energy = image.energy;
  result.unitEnergy = image.unitEnergy;
  result.c2cJoules = double(c2cBitHops) * fabric.c2cPicojoulesPerBit * 1e-12;
  result.unitEnergy[kFabricUnits] += result.c2cJoules;
  result.instructions = image.executedPerRun;
  report.instructions += result.instructions;
  report.decodedInstructions += count;
  report.endCycle = std::max(report.endCycle, result.endCycle);
  if (recording) {
    reference.valid = true;
    reference.places = slotPlace;
    reference.stateOfSlot = stateOfSlot;
    reference.stateKinds = stateKinds;
    reference.run = result;
  }
  report.runs.push_back(std::move(result));
  return Status::success();
}

/// Records of one transfer side found by (sender, receiver, id) in an open-addressing table of
/// record positions (linear probing, at most half full): pairing without sorting the records.
class TransferIndex {
public:
  explicit TransferIndex(size_t records) {
    size_t capacity = 16;
    while (capacity < 2 * records) {
      capacity <<= 1;
    }
    table.assign(capacity, kNone);
    mask = capacity - 1;
  }

  static uint64_t hash(uint32_t sender, uint32_t receiver, uint64_t id) {
    // splitmix64's finaliser over the three fields.
    uint64_t x = (uint64_t(sender) << 32 | receiver) ^ (id * 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }

  /// Asks for the cache line where a key's probe starts (the tables of a large step do not fit
  /// in cache, and a probe's misses are what pairing costs).
  void prefetch(uint64_t hashed) const { __builtin_prefetch(&table[hashed & mask]); }
  /// The position the probe for a key meets first (kNone: the key is absent), to prefetch its
  /// record.
  uint32_t first(uint64_t hashed) const { return table[hashed & mask]; }

  /// The position stored under a key `same` recognises, else kNone. With `insert`, stores
  /// `position` when the key is absent.
  template <typename Same>
  uint32_t find(uint64_t hashed, Same same, uint32_t insert = kNone) {
    for (size_t at = hashed & mask;; at = (at + 1) & mask) {
      if (table[at] == kNone) {
        table[at] = insert;
        return kNone;
      }
      if (same(table[at])) {
        return table[at];
      }
    }
  }

private:
  std::vector<uint32_t, HugePageAllocator<uint32_t>> table;
  size_t mask = 0;
};

/// Sorts `items` by bucket (counting sort: bucketOf(item) < buckets), and each bucket by
/// (start, recv), keeping the bucket's own order where it is already sorted.
template <typename Item, typename Alloc, typename BucketOf>
void sortByBucketThenStart(std::vector<Item, Alloc> &items, size_t buckets, BucketOf bucketOf) {
  std::vector<uint32_t> first(buckets + 1, 0);
  for (const Item &item : items) {
    first[bucketOf(item) + 1] += 1;
  }
  for (size_t b = 0; b < buckets; ++b) {
    first[b + 1] += first[b];
  }
  std::vector<Item, Alloc> sorted(items.size());
  std::vector<uint32_t> next(first.begin(), first.end() - 1);
  for (const Item &item : items) {
    sorted[next[bucketOf(item)]++] = item;
  }
  auto byStart = [](const Item &a, const Item &b) {
    return a.start != b.start ? a.start < b.start : a.recv < b.recv;
  };
  for (size_t b = 0; b < buckets; ++b) {
    const auto begin = sorted.begin() + first[b], end = sorted.begin() + first[b + 1];
    if (!std::is_sorted(begin, end, byStart)) {
      std::sort(begin, end, byStart);
    }
  }
  items.swap(sorted);
}

Status FabricRunner::pairTransfers() {
  // A transfer is (sender, receiver, id): sends are indexed by it, each receive finds its
  // send. Records are kept in the order the runs made them, so every message is
  // deterministic.
  if (sends.size() >= kNone || recvs.size() >= kNone) {
    return makeError(fmt::format("{} sends and {} receives in one step: more than the engine "
                                 "pairs (2^32 - 1 each)",
                                 sends.size(), recvs.size()));
  }
  auto sendAt = [&](const SendRecord &s) {
    return describe(s.run, s.index, s.iteration, s.localIssue);
  };
  auto recvAt = [&](const RecvRecord &r) {
    return describe(r.run, r.index, r.iteration, r.localIssue);
  };
  // Probes are prefetched this many records ahead (the table's slot), and half as many ahead
  // the send a receive's probe meets first. Each record's hash is taken once, when first
  // needed, and kept in a ring of the last kAhead.
  constexpr size_t kAhead = 16;
  std::array<uint64_t, kAhead> hashes{};
  TransferIndex bySend(sends.size());
  auto sendHash = [&](size_t i) {
    return TransferIndex::hash(sends[i].chip, sends[i].peer, sends[i].key);
  };
  auto recvHash = [&](size_t r) {
    return TransferIndex::hash(recvs[r].peer, recvs[r].chip, recvs[r].key);
  };
  for (size_t i = 0; i < std::min(kAhead, sends.size()); ++i) {
    hashes[i] = sendHash(i);
  }
  for (uint32_t i = 0; i < sends.size(); ++i) {
    const uint64_t hashed = hashes[i % kAhead];
    if (i + kAhead < sends.size()) {
      hashes[i % kAhead] = sendHash(i + kAhead);
      bySend.prefetch(hashes[i % kAhead]);
    }
    const SendRecord &send = sends[i];
    const uint32_t earlier = bySend.find(
        hashed,
        [&](uint32_t j) {
          return sends[j].key == send.key && sends[j].chip == send.chip &&
                 sends[j].peer == send.peer;
        },
        i);
    if (earlier != kNone) {
      return makeError(fmt::format("{}: transfer id {} to chip {} is also sent by {}; transfer "
                                   "ids must be unique per sender and receiver (check "
                                   "transfer_id_stride and transfer_id_offset)",
                                   sendAt(send), send.key, send.peer, sendAt(sends[earlier])));
    }
  }
  struct Inbound {
    uint32_t chip, link;
    uint64_t start, end;
    uint32_t recv;
  };
  std::vector<Inbound, HugePageAllocator<Inbound>> inbound;
  inbound.reserve(recvs.size());
  // Links crossed after the sender's port (FabricModel::forwardingChip), and the direct
  // transfers that share them, in reference cycles. Both kinds join two chips of one node
  // (or of a fully connected fabric), so (from, the port from reaches to on) names the link.
  struct LinkUse {
    uint32_t from, to, port;
    uint64_t start, end;
    uint32_t recv;
    bool forwarded;
  };
  std::vector<LinkUse, HugePageAllocator<LinkUse>> linkUses;
  bool anyForwarded = false;
  for (size_t r = 0; r < std::min(kAhead, recvs.size()); ++r) {
    hashes[r] = recvHash(r);
  }
  for (uint32_t r = 0; r < recvs.size(); ++r) {
    const uint64_t hashed = hashes[r % kAhead];
    if (r + kAhead < recvs.size()) {
      hashes[r % kAhead] = recvHash(r + kAhead);
      bySend.prefetch(hashes[r % kAhead]);
    }
    if (r + kAhead / 2 < recvs.size()) {
      if (const uint32_t j = bySend.first(hashes[(r + kAhead / 2) % kAhead]); j != kNone) {
        __builtin_prefetch(&sends[j]);
      }
    }
    const RecvRecord &recv = recvs[r];
    const uint32_t s = bySend.find(hashed,
                                   [&](uint32_t j) {
                                     return sends[j].key == recv.key &&
                                            sends[j].chip == recv.peer &&
                                            sends[j].peer == recv.chip;
                                   });
    if (s == kNone) {
      return makeError(fmt::format("{}: transfer {} from chip {} is never sent", recvAt(recv),
                                   recv.key, recv.peer));
    }
    if (sends[s].paired != kNone) {
      return makeError(fmt::format("{}: transfer id {} from chip {} is also received by {}",
                                   recvAt(recv), recv.key, recv.peer,
                                   recvAt(recvs[sends[s].paired])));
    }
    sends[s].paired = r;
    const SendRecord &send = sends[s];
    if (send.bytes != recv.bytes) {
      return makeError(fmt::format("{}: receives {} bytes but {} sends {}", recvAt(recv),
                                   recv.bytes, sendAt(send), send.bytes));
    }
    // recv.chip is send.peer: the route runOne found for the send.
    Route route;
    route.hops = send.hops;
    route.direct = send.directRecvPort != kNone;
    route.sendPort = send.link;
    route.recvPort = send.directRecvPort;
    if (route.direct && recv.link != route.recvPort) {
      return makeError(fmt::format("{}: link {} does not come from chip {}: inside a node it "
                                   "arrives on port {}",
                                   recvAt(recv), recv.link, send.chip, route.recvPort));
    }
    if (recv.issue < send.arrival) {
      return makeError(fmt::format(
          "{}: recv before arrival: transfer {} from {} leaves at reference cycle {} and needs "
          "{} cycles of serialisation + {} hop(s) x {} cycles, arriving at reference cycle {}; "
          "this receive issues at reference cycle {} (drift correction included)",
          recvAt(recv), recv.key, sendAt(send), send.slotStart, send.serialisation, route.hops,
          fabric.hopLatency, send.arrival, recv.issue));
    }
    inbound.push_back({recv.chip, recv.link, send.arrival - send.serialisation, send.arrival, r});
    if (const uint32_t forwarder = fabric.forwardingChip(send.chip, recv.chip, send.link, route);
        forwarder != FabricModel::kNoChip) {
      // Cut-through: the forwarded stream crosses the last link as it arrives.
      linkUses.push_back({forwarder, recv.chip, fabric.route(forwarder, recv.chip).sendPort,
                          send.arrival - send.serialisation, send.arrival, r, true});
      anyForwarded = true;
    } else if (route.direct) {
      linkUses.push_back({send.chip, recv.chip, route.sendPort, send.slotStart,
                          send.slotStart + send.serialisation, r, false});
    }
    report.transfers += 1;
    report.transferBytes += send.bytes;
    report.endCycle = std::max(report.endCycle, send.arrival);
  }
  for (uint32_t s = 0; s < sends.size(); ++s) {
    if (sends[s].paired == kNone) {
      return makeError(fmt::format("{}: transfer {} to chip {} is never received",
                                   sendAt(sends[s]), sends[s].key, sends[s].peer));
    }
  }
  // Inbound arrivals per (receiving chip, port), in start order: none may overlap the one
  // before (runOne has checked port numbers against fabric.links).
  sortByBucketThenStart(inbound, size_t(fabric.chips) * fabric.links,
                        [&](const Inbound &a) { return size_t(a.chip) * fabric.links + a.link; });
  for (size_t i = 1; i < inbound.size(); ++i) {
    const Inbound &before = inbound[i - 1];
    const Inbound &after = inbound[i];
    if (before.chip == after.chip && before.link == after.link && after.start < before.end) {
      return makeError(fmt::format(
          "{}: link {} double-booked inbound: transfer {} arrives over reference cycles [{}, {}) "
          "while transfer {} still arrives until {}",
          recvAt(recvs[after.recv]), after.link, recvs[after.recv].key, after.start, after.end,
          recvs[before.recv].key, before.end));
    }
  }
  if (!anyForwarded) {
    return Status::success();
  }
  // Per directed link, in start order: a use must start after every earlier forwarded use
  // has ended; a forwarded use also after every earlier direct one. Two direct uses of one
  // link come from one sender's port, which runOne has already checked in local cycles.
  size_t portsPerChip = std::max<size_t>(1, fabric.links);
  for (const LinkUse &use : linkUses) {
    portsPerChip = std::max<size_t>(portsPerChip, size_t(use.port) + 1);
  }
  sortByBucketThenStart(linkUses, size_t(fabric.chips) * portsPerChip,
                        [&](const LinkUse &a) { return size_t(a.from) * portsPerChip + a.port; });
  constexpr size_t kNoUse = ~size_t(0);
  size_t forwardedHolder = kNoUse, directHolder = kNoUse;
  for (size_t i = 0; i < linkUses.size(); ++i) {
    const LinkUse &use = linkUses[i];
    if (i == 0 || use.from != linkUses[i - 1].from || use.to != linkUses[i - 1].to) {
      forwardedHolder = directHolder = kNoUse;
    }
    size_t holder = kNoUse;
    if (forwardedHolder != kNoUse && use.start < linkUses[forwardedHolder].end) {
      holder = forwardedHolder;
    } else if (use.forwarded && directHolder != kNoUse &&
               use.start < linkUses[directHolder].end) {
      holder = directHolder;
    }
    if (holder != kNoUse) {
      const LinkUse &other = linkUses[holder];
      return makeError(fmt::format(
          "{}: link from chip {} to chip {} double-booked on a multi-hop route: transfer {} "
          "crosses it over reference cycles [{}, {}) while transfer {} received by {} holds it "
          "until {} (a transfer between nodes that lands on another chip of the receiver's "
          "node is forwarded over this link; docs/simulator.md, routes between nodes)",
          recvAt(recvs[use.recv]), use.from, use.to, recvs[use.recv].key, use.start, use.end,
          recvs[other.recv].key, recvAt(recvs[other.recv]), other.end));
    }
    size_t &slot = use.forwarded ? forwardedHolder : directHolder;
    if (slot == kNoUse || use.end > linkUses[slot].end) {
      slot = i;
    }
  }
  return Status::success();
}

Result<FabricReport> FabricRunner::run(const std::vector<int> &programs) {
  images.resize(programs.size());
  for (size_t p = 0; p < programs.size(); ++p) {
    const schedule::Program &program = schedule.programs(programs[p]);
    if (Status status = decode(program, images[p]); !status) {
      return makeError(status.error());
    }
    runs.push_back({&images[p], program.chip(), nullptr});
    for (const schedule::ProgramInstance &instance : program.instances()) {
      runs.push_back({&images[p], instance.chip(), &instance});
    }
  }
  references.resize(images.size());
  report.chips = model.chips;
  report.clockHz = model.clockHz;
  report.runs.reserve(runs.size());
  // Room for every transfer record up front (a large fabric step has tens of thousands; a
  // corrupt iteration count is caught per run, so the reservation is capped).
  constexpr uint64_t kMaxReserved = uint64_t(1) << 22;
  uint64_t sendCount = 0, recvCount = 0;
  for (const RunContext &context : runs) {
    sendCount = std::min(sendCount + context.image->sendsPerRun, kMaxReserved);
    recvCount = std::min(recvCount + context.image->recvsPerRun, kMaxReserved);
  }
  sends.reserve(size_t(sendCount));
  recvs.reserve(size_t(recvCount));
  for (uint32_t r = 0; r < runs.size(); ++r) {
    if (Status status = runOne(r); !status) {
      return makeError(status.error());
    }
  }
  if (Status status = pairTransfers(); !status) {
    return makeError(status.error());
  }
  return std::move(report);
}

} // namespace

bool usesFabricFeatures(const schedule::Program &program) {
  if (!program.repeats().empty() || !program.instances().empty()) {
    return true;
  }
  for (const schedule::Instruction &inst : program.instructions()) {
    if (inst.opcode() == schedule::C2C_SEND || inst.opcode() == schedule::C2C_RECV ||
        inst.opcode() == schedule::SYNC) {
      return true;
    }
  }
  return false;
}

bool usesFabricFeatures(const schedule::Schedule &schedule) {
  const auto &programs = schedule.programs();
  return std::any_of(programs.begin(), programs.end(),
                     [](const schedule::Program &program) { return usesFabricFeatures(program); });
}

struct PreparedFabric::State {
  const schedule::Schedule *schedule = nullptr;
  HardwareModel model;
  FabricModel fabric;
  BufferTable buffers;
  ChipRoots chipRoots; // shared by the runs of every step
  /// Set by simulateInOnePass until its run has made the reader's rules.
  bool checkStructure = false;
};

PreparedFabric::PreparedFabric(std::unique_ptr<State> state) : state(std::move(state)) {}
PreparedFabric::PreparedFabric(PreparedFabric &&) noexcept = default;
PreparedFabric &PreparedFabric::operator=(PreparedFabric &&) noexcept = default;
PreparedFabric::~PreparedFabric() = default;

Result<PreparedFabric> PreparedFabric::prepare(const schedule::Schedule &schedule,
                                               const system::SystemConfig &system,
                                               bool structureValidated) {
  const std::string source = fmt::format("schedule of model '{}'", schedule.model_name());
  if (schedule.magic() != schedule::kMagic || schedule.version() != schedule::kVersion) {
    return makeError(fmt::format("{}: schedule version {}, this build reads version {}: "
                                 "recompile with conveyor compile",
                                 source, schedule.version(), schedule::kVersion));
  }
  if (!structureValidated) {
    if (Status status = schedule::validateSchedule(schedule, source); !status) {
      return makeError(status.error());
    }
  }
  if (schedule.system().fingerprint() != system::fingerprint(system)) {
    return makeError(fmt::format("{} was built for system '{}' (fingerprint {:#018x}), not "
                                 "'{}' ({:#018x}); simulate it with the system it was compiled "
                                 "for, or recompile it",
                                 source, schedule.system().name(), schedule.system().fingerprint(),
                                 system.name, system::fingerprint(system)));
  }
  Result<HardwareModel> model = buildHardwareModel(system);
  if (!model) {
    return model.takeError();
  }
  if (schedule.system().chips() != model->chips) {
    return makeError(fmt::format("{} records {} chip(s), but system '{}' has {}", source,
                                 schedule.system().chips(), system.name, model->chips));
  }
  Result<FabricModel> fabric = buildFabricModel(system);
  if (!fabric) {
    return fabric.takeError();
  }
  // Rule 4 in its in-order form on the pass that builds the table; checkSram (which words
  // any message) only for an unusual layout.
  BufferTable buffers(schedule, model->vectorBytes, model->sramBytes);
  if (!buffers.placementsFitInOrder()) {
    if (Status status = checkSram(*model, buffers); !status) {
      return makeError(status.error());
    }
  }
  return PreparedFabric(std::unique_ptr<State>(
      new State{&schedule, std::move(*model), std::move(*fabric), std::move(buffers), {}}));
}

Result<FabricReport> PreparedFabric::run(const std::vector<int> &programs,
                                         const FabricRunOptions &options) const {
  FabricRunner runner(*state->schedule, state->model, state->fabric, state->buffers,
                      state->chipRoots, options, state->checkStructure);
  return runner.run(programs);
}

std::optional<OnePassFabric> PreparedFabric::simulateInOnePass(const schedule::Schedule &schedule,
                                                              const system::SystemConfig &system,
                                                              const FabricRunOptions &options) {
  // prepare's checks, each a yes or no; the reader's schedule rules first.
  if (schedule.magic() != schedule::kMagic || schedule.version() != schedule::kVersion ||
      schedule.system().chips() == 0 || schedule.programs().empty() ||
      schedule.system().fingerprint() != system::fingerprint(system)) {
    return std::nullopt;
  }
  Result<HardwareModel> model = buildHardwareModel(system);
  if (!model || schedule.system().chips() != model->chips) {
    return std::nullopt;
  }
  Result<FabricModel> fabric = buildFabricModel(system);
  if (!fabric) {
    return std::nullopt;
  }
  // The reader's buffer rules on the pass that builds the table, and rule 4 in its
  // in-order form (checkSram only for an unusual layout).
  std::optional<BufferTable> buffers =
      BufferTable::decodeValidated(schedule, model->vectorBytes, model->sramBytes);
  if (!buffers || (!buffers->placementsFitInOrder() && !checkSram(*model, *buffers))) {
    return std::nullopt;
  }
  PreparedFabric prepared(std::unique_ptr<State>(new State{
      &schedule, std::move(*model), std::move(*fabric), std::move(*buffers), {}, true}));
  std::vector<int> all(size_t(schedule.programs_size()));
  for (size_t p = 0; p < all.size(); ++p) {
    all[p] = int(p);
  }
  Result<FabricReport> report = prepared.run(all, options);
  if (!report) {
    return std::nullopt;
  }
  prepared.state->checkStructure = false; // the whole schedule has passed the reader's rules
  return OnePassFabric{std::move(prepared), std::move(*report)};
}

const BufferTable &PreparedFabric::buffers() const { return state->buffers; }
const HardwareModel &PreparedFabric::hardware() const { return state->model; }

Result<FabricReport> simulateFabric(const schedule::Schedule &schedule,
                                    const system::SystemConfig &system) {
  if (std::optional<OnePassFabric> fast = PreparedFabric::simulateInOnePass(schedule, system)) {
    return std::move(fast->report);
  }
  Result<PreparedFabric> prepared = PreparedFabric::prepare(schedule, system);
  if (!prepared) {
    return prepared.takeError();
  }
  std::vector<int> all(size_t(schedule.programs_size()));
  for (size_t p = 0; p < all.size(); ++p) {
    all[p] = int(p);
  }
  return prepared->run(all);
}

} // namespace conveyor::sim
