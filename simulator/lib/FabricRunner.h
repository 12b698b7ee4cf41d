// The multi-chip timing engine's working types, internal to the simulator library
// (docs/simulator.md "Multi-chip"): the decoded program image, the transfer records, a run's
// tables, and FabricRunner, whose parts live in FabricDecode.cpp (decode, with the reader's
// rules in the one-pass form), FabricSimulator.cpp (the runs, PreparedFabric) and
// FabricPairing.cpp (pairing sends with receives).
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/FabricModel.h"
#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/MemPortCheck.h"
#include "conveyor/Support/HugePages.h"
#include "schedule.pb.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace conveyor::sim::fabric {


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
  /// 64 bytes per instruction: pooled (PooledAllocator), so that a process simulating again
  /// does not fault a large program's image in afresh.
  std::vector<ImageInstruction, PooledAllocator<ImageInstruction>> instructions;
  AppendArray<uint32_t> slots;
  std::vector<ImageTransfer> transfers;
  std::vector<ImageBlock> blocks;
  std::vector<uint32_t> slotIds; // slot -> template buffer id
  /// Filled when decode made the reader's rules (which look each instance's buffers up):
  /// instance i maps slot s to the buffer at table index instanceBuffers[i * slots + s].
  /// Empty otherwise; a run then looks the instance's buffer_map up itself.
  std::vector<uint32_t> instanceBuffers;
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
  uint32_t instanceIndex = 0; // position of `instance` in the program's instances
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
  std::vector<RootState, PooledAllocator<RootState>> states; // 40 bytes per buffer: pooled
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

  /// Decodes `program` into `image` (FabricDecode.cpp), with the reader's rules when
  /// `checkStructure`.
  Status decode(const schedule::Program &program, ProgramImage &image);
  /// decode, with the reader's rules made (kCheck) or not: two copies, so that a schedule
  /// the reader has checked pays nothing for them.
  template <bool kCheck> Status decodeImpl(const schedule::Program &program, ProgramImage &image);
  /// The reader's rules for a program that are not per instruction (chip, name, kind,
  /// repeat blocks and their stride buffers), yes or no.
  bool outlineValid(const schedule::Program &program);
  /// The reader's rules for the instances of `program`, decoded into `image`, yes or no.
  /// Records the buffer each instance maps each slot to (ProgramImage::instanceBuffers).
  bool instancesValid(const schedule::Program &program, ProgramImage &image);
  Status runOne(uint32_t runIndex);
  /// Appends to `trace` every instruction the run just made executed, in execution order
  /// (FabricRunOptions::collectTrace), with the buffers runOne's slot tables map them to:
  /// outside the run loop, which stays the same code whether tracing or not.
  void traceRun(std::vector<InstructionTrace> &trace, const ProgramImage &image);
  /// After pairing: names each traced transfer on its send's and its receive's records
  /// (InstructionTrace::flow).
  void linkTracedTransfers();
  /// One record: instruction `index` of `image`, issued `shift` cycles after its own cycle.
  void traceExecuted(std::vector<InstructionTrace> &trace, const ProgramImage &image,
                     uint32_t index, uint64_t shift, std::optional<uint64_t> iteration);
  Status checkStrideSpans(const RunContext &context, const std::vector<size_t> &bufferOfSlot);
  /// Pairs every send with its receive and checks arrivals, inbound ports and shared links
  /// (FabricPairing.cpp).
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

} // namespace conveyor::sim::fabric
