// The MEM port check: no MEM slice's read or write port is booked beyond one vector per cycle
// by the instructions whose SRAM traffic overlaps in time (docs/simulator.md "MEM ports").
#pragma once

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/System/SramMap.h"
#include "schedule.pb.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

namespace conveyor::sim {

enum class MemPort : uint8_t { Read = 0, Write = 1 };

/// One vector per cycle, the rate of one stream register, in the fixed point of rule 6.
inline constexpr uint32_t kStreamUnit = 1u << 16;

/// One instruction's use of one port on the slices of one buffer: `perSlice` vectors on each
/// slice the bytes [address, address + bytes) touch, somewhere in cycles [start, end).
struct PortBooking {
  uint64_t start = 0, end = 0;
  uint64_t address = 0, bytes = 0;
  uint64_t iteration = 0; // repeat-block iteration (fabric engine), else 0
  uint64_t issue = 0;     // the instruction's issue cycle (for messages)
  uint32_t perSlice = 1;
  uint32_t index = 0;   // instruction index in its program
  // Rule 6: a bound on the vectors per cycle it moves (in kStreamUnit; exact in a conflict),
  // and the vectors it moves when fewer than its bytes touch (a slice's operand), else 0.
  uint32_t streams = 0;
  uint32_t movedVectors = 0;
};

/// What a refused booking collided with: a slice's port (rule 5), or the chip's streams
/// (rule 6).
struct PortConflict {
  enum class Kind : uint8_t { SlicePort, SlicePortGroup, Streams };
  Kind kind = Kind::SlicePort;
  MemPort port = MemPort::Read; // the refused booking's port
  uint32_t slice = 0;
  PortBooking held;   // the earlier booking (Streams: the largest other holder at `at`)
  PortBooking wanted; // the refused one
  // Streams only: at cycle `at`, `transfers` transfers in flight besides `wanted` take
  // `heldStreams` (in kStreamUnit), and the chip's streams move `streamCapacity` (in
  // kStreamUnit: 2 x streams_per_direction vectors per cycle).
  uint64_t at = 0;
  uint32_t transfers = 0;
  uint64_t heldStreams = 0;
  uint64_t streamCapacity = 0;
  // SlicePortGroup only: two or more earlier bookings (`held` the first of them, their
  // instruction indices in `groupIndices`) that with `wanted` need `groupVectors` vectors of
  // the slice's port inside cycles [groupFrom, groupTo), each pair of them fitting.
  std::vector<uint32_t> groupIndices;
  uint64_t groupVectors = 0, groupFrom = 0, groupTo = 0;
};

/// The accesses of `opcode` whose place in SRAM depends on run-time data, which the check
/// does not book: bit i = operand i, bit 7 = the results. A gather reads the table rows its
/// indices name, an expert product the experts the router chose (and their scale rows), a KV
/// append writes the rows at the current position into the cache.
inline constexpr uint8_t kResultsUnbooked = 0x80;
inline uint8_t unbookedAccesses(schedule::Opcode opcode) {
  switch (opcode) {
  case schedule::MEM_GATHER:
    return 0x01; // the table
  case schedule::MXM_EXPERT_MATMUL:
    return 0x02; // the expert stack
  case schedule::MXM_EXPERT_MATMUL_DQ:
    return 0x02 | 0x08; // the expert stack and its scales
  case schedule::MEM_KV_APPEND:
    return kResultsUnbooked; // the cache, written in place at the current position
  default:
    return 0;
  }
}

/// What the unbooked accesses (unbookedAccesses) move over the streams, which rule 6 counts
/// although rule 5 cannot place them: a gather's table rows (the result's bytes), an expert
/// product's installed slices (T x k of K x N, and for _DQ T x k scale rows of N fp32), a KV
/// append's new rows (operand 0's bytes).
struct UnbookedTraffic {
  uint64_t read = 0, written = 0;
};
UnbookedTraffic unbookedTraffic(schedule::Opcode opcode, const BufferInfo *const *operands,
                                int operandCount, const BufferInfo *const *results,
                                int resultCount);

/// Operand 0 of a MEM_SLICE streams only the part the result keeps (rule 6); the port rule
/// still books the whole operand, as where the part lies is not worked out.
inline bool readsResultBytesOnly(schedule::Opcode opcode) { return opcode == schedule::MEM_SLICE; }

/// The SRAM map of the model's chip.
system::SramMap sramMapOf(const HardwareModel &model);

/// Bookings of one chip's program, made in issue order. Each slice has one read and one write
/// port moving one vector per cycle (TSP: pseudo-dual-port slices, G1). An instruction issued
/// at `issue` with occupancy O and duration D reads each operand over
/// [issue, issue + max(O, perSlice)) and writes each result over the last max(O, perSlice)
/// cycles before issue + D. Two bookings that share a slice and overlap in time are
/// double-booked when their vectors on that slice do not fit in the cycles their windows
/// cover together (for two demands, the exact test of whether some cycle-by-cycle assignment
/// serves both). Bookings that end by the current issue cycle are dropped; when none is left
/// in flight, or the new one starts after all of them end, a booking costs a few compares and
/// no address arithmetic.
///
/// Every booking is also a transfer over the streams between MEM and a unit (rule 6): it
/// moves its vectors at vectors / window per cycle for its window, and the transfers in flight
/// may move at most 2 x streams_per_direction vectors per cycle at any cycle: each stream
/// register carries one vector per cycle, and a stream is shared cycle by cycle (docs/
/// simulator.md "Streams"). Rates are fixed-point in kStreamUnit, rounded up. The sum taken by
/// the bookings in the lists is kept, so the exact per-cycle load is only worked out when that
/// sum would pass the chip's streams.
class MemPortBook {
public:
  explicit MemPortBook(const HardwareModel &model)
      : map(sramMapOf(model)), smallBytes(uint64_t(map.slices() - 1) * map.vectorBytes()),
        streamCapacity(2 * uint64_t(model.streamsPerDirection) * kStreamUnit),
        vectorShift(uint32_t(std::bit_width(map.vectorBytes()) - 1)) {}

  /// Books the read (`port` Read) or the write of bytes [address, address + bytes) by
  /// instruction `index` (of `iteration`) issued at `issue`; false with `conflict` filled
  /// when it double-books a slice.
  /// `moved`, when below `bytes`, is what the transfer carries over the streams (a slice's
  /// operand: only the result's bytes of it).
  [[gnu::always_inline]] bool bookBuffer(MemPort port, uint64_t issue, uint64_t occupancy, uint64_t duration,
                  uint64_t address, uint64_t bytes, uint32_t index, uint64_t iteration,
                  PortConflict &conflict, uint64_t moved = ~uint64_t(0)) {
    if (bytes == 0) {
      return true;
    }
    // Up to slices - 1 vectors' worth of bytes touch at most `slices` vectors: one per slice.
    const uint64_t perSlice = bytes <= smallBytes ? 1 : map.span(address, bytes).perSlice;
    uint64_t length = occupancy > perSlice ? occupancy : perSlice;
    length = length == 0 ? 1 : length;
    uint64_t start = issue;
    if (port == MemPort::Write) {
      start = duration >= length ? issue + duration - length : issue;
    }
    const uint64_t end = start + length;
    // Streams: a transfer of n vectors over `length` cycles moves n / length per cycle. The
    // kept sum uses a bound on n without a division (vectors_bytes rounded down to a power
    // of two), at most 25 % over on the TSP's 320-byte vectors; a sum near the capacity is
    // worked out exactly (streamsFree).
    const uint32_t movedVectors =
        moved < bytes ? uint32_t((moved + map.vectorBytes() - 1) / map.vectorBytes()) : 0;
    const uint64_t vectorsBound = movedVectors != 0 ? movedVectors
                                                    : ((bytes - 1) >> vectorShift) + 2;
    const uint32_t streams = uint32_t((vectorsBound * kStreamUnit + length - 1) / length);
    Port &list = ports[size_t(port)];
    if (list.horizon <= issue) {
      list.bookings.clear(); // every booking has ended: none can meet this or a later one
      list.streams = 0;
    } else if (start < list.horizon &&
               !bookAgainstInFlight(port, issue,
                                    PortBooking{start, end, address, bytes, iteration, issue,
                                                uint32_t(perSlice), index, streams,
                                                movedVectors},
                                    conflict)) {
      return false;
    }
    if (ports[0].streams + ports[1].streams + streams > streamCapacity &&
        !streamsFree(port, issue,
                     PortBooking{start, end, address, bytes, iteration, issue,
                                 uint32_t(perSlice), index, streams, movedVectors},
                     conflict)) {
      return false;
    }
    // Built in place, field by field: a copy of a booking just built on the stack stalls on
    // store forwarding (16-byte loads of 8-byte stores), which showed in the benchmarks.
    PortBooking &booked = list.bookings.emplace_back();
    booked.start = start;
    booked.end = end;
    booked.address = address;
    booked.bytes = bytes;
    booked.perSlice = uint32_t(perSlice);
    booked.index = index;
    booked.streams = streams;
    booked.movedVectors = movedVectors;
    booked.iteration = iteration;
    booked.issue = issue;
    list.horizon = list.horizon > end ? list.horizon : end;
    list.streams += streams;
    return true;
  }

  /// Rule 6 alone, for a transfer whose slices are not known (UnbookedTraffic): `moved`
  /// bytes over the instruction's occupancy, placed as bookBuffer places a read or a write.
  bool bookStreams(MemPort port, uint64_t issue, uint64_t occupancy, uint64_t duration,
                   uint64_t moved, uint32_t index, uint64_t iteration, PortConflict &conflict);

  const system::SramMap &sramMap() const { return map; }

private:
  struct Port {
    std::vector<PortBooking> bookings;
    uint64_t horizon = 0; // latest end of a booking in `bookings`
    uint64_t streams = 0; // streams held by the bookings in `bookings`, summed
  };
  /// The slow path: drops bookings over by `issue`, compares with the rest.
  bool bookAgainstInFlight(MemPort port, uint64_t issue, const PortBooking &wanted,
                           PortConflict &conflict);
  /// Drops the bookings of `list` over by `issue`; recomputes its horizon and stream sum.
  static void dropEnded(Port &list, uint64_t issue);
  /// Rule 6 when the sum held might pass the capacity: drops the bookings over by `issue` on
  /// both ports, then finds the busiest cycle of `wanted`'s window.
  bool streamsFree(MemPort port, uint64_t issue, const PortBooking &wanted,
                   PortConflict &conflict);
  /// Rule 5 for three or more bookings on one slice, after every pair has passed: the
  /// held bookings `group` overlap `wanted` in time; false when some slice's port cannot serve
  /// them all (docs/simulator.md "MEM ports").
  bool groupFits(MemPort port, const PortBooking &wanted, PortConflict &conflict);

  system::SramMap map;
  uint64_t smallBytes;
  uint64_t streamCapacity;
  uint32_t vectorShift; // floor(log2(vector bytes))
  std::array<Port, 2> ports;
  struct InFlight {
    uint64_t start, end, rate;
    const PortBooking *booking;
  };
  std::vector<InFlight> inFlight; // streamsFree's scratch
  std::vector<const PortBooking *> group; // groupFits's bookings
  std::vector<const PortBooking *> passedGroup; // groupFits: the last group that fit
  /// groupFits: where along `wanted`'s slices (counted from its first) the group may change.
  std::vector<uint32_t> stretchStarts;
  /// groupFits's screen: the group's windows, sorted by end.
  struct Window {
    uint64_t end, start, vectors;
  };
  std::vector<Window> windows;
  /// True when some interval around `wanted`'s window holds more of `group`'s vectors (with
  /// `wanted`'s, of two or more held bookings) than it has cycles: O(g^2) after a sort.
  bool groupOverloaded(const PortBooking &wanted);
};

/// The reason for a conflict, e.g. "MEM slice 12 read port double-booked by instructions 3
/// and 5: ...". `heldLabel` and `wantedLabel` name the two instructions.
std::string portConflictReason(const PortConflict &conflict, const std::string &heldLabel,
                               const std::string &wantedLabel);

} // namespace conveyor::sim
