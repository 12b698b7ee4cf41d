// The MEM port check: no MEM slice's read or write port is booked beyond one vector per cycle
// by the instructions whose SRAM traffic overlaps in time (docs/simulator.md "MEM ports").
#pragma once

#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/System/SramMap.h"
#include "schedule.pb.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace conveyor::sim {

enum class MemPort : uint8_t { Read = 0, Write = 1 };

/// One instruction's use of one port on the slices of one buffer: `perSlice` vectors on each
/// slice the bytes [address, address + bytes) touch, somewhere in cycles [start, end).
struct PortBooking {
  uint64_t start = 0, end = 0;
  uint64_t address = 0, bytes = 0, perSlice = 1;
  uint32_t index = 0;     // instruction index in its program
  uint64_t iteration = 0; // repeat-block iteration (fabric engine), else 0
  uint64_t issue = 0;     // the instruction's issue cycle (for messages)
};

/// What a refused booking collided with.
struct PortConflict {
  MemPort port = MemPort::Read;
  uint32_t slice = 0;
  PortBooking held;   // the earlier booking
  PortBooking wanted; // the refused one
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
class MemPortBook {
public:
  explicit MemPortBook(const system::SramMap &map)
      : map(map), smallBytes(uint64_t(map.slices() - 1) * map.vectorBytes()) {}

  /// Books the read (`port` Read) or the write of bytes [address, address + bytes) by
  /// instruction `index` (of `iteration`) issued at `issue`; false with `conflict` filled
  /// when it double-books a slice.
  bool bookBuffer(MemPort port, uint64_t issue, uint64_t occupancy, uint64_t duration,
                  uint64_t address, uint64_t bytes, uint32_t index, uint64_t iteration,
                  PortConflict &conflict) {
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
    Port &list = ports[size_t(port)];
    if (list.horizon <= issue) {
      list.bookings.clear(); // every booking has ended: none can meet this or a later one
    } else if (start < list.horizon &&
               !bookAgainstInFlight(port, issue,
                                    PortBooking{start, end, address, bytes, perSlice, index,
                                                iteration, issue},
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
    booked.perSlice = perSlice;
    booked.index = index;
    booked.iteration = iteration;
    booked.issue = issue;
    list.horizon = list.horizon > end ? list.horizon : end;
    return true;
  }

  const system::SramMap &sramMap() const { return map; }

private:
  struct Port {
    std::vector<PortBooking> bookings;
    uint64_t horizon = 0; // latest end of a booking in `bookings`
  };
  /// The slow path: drops bookings over by `issue`, compares with the rest.
  bool bookAgainstInFlight(MemPort port, uint64_t issue, const PortBooking &wanted,
                           PortConflict &conflict);

  system::SramMap map;
  uint64_t smallBytes;
  std::array<Port, 2> ports;
};

/// The reason for a conflict, e.g. "MEM slice 12 read port double-booked by instructions 3
/// and 5: ...". `heldLabel` and `wantedLabel` name the two instructions.
std::string portConflictReason(const PortConflict &conflict, const std::string &heldLabel,
                               const std::string &wantedLabel);

/// The SRAM map of the model's chip.
system::SramMap sramMapOf(const HardwareModel &model);

} // namespace conveyor::sim
