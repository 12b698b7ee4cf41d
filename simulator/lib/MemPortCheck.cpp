// The MEM port check: one read and one write port per MEM slice, one vector per cycle each.
#include "conveyor/Simulator/MemPortCheck.h"

#include <fmt/format.h>

#include <algorithm>

namespace conveyor::sim {

bool MemPortBook::bookAgainstInFlight(MemPort port, uint64_t issue, const PortBooking &wanted,
                                      PortConflict &conflict) {
  Port &list = ports[size_t(port)];
  // The wanted span is worked out once, and only when some held booking overlaps it in time
  // with more vectors than the cycles they cover together: two bookings whose vectors fit in
  // their joint window cannot double-book a slice whichever slices they touch, so most
  // overlaps (an instruction's operands over a window of two or more cycles) need no address
  // arithmetic at all.
  system::SliceSpan mine;
  bool mineKnown = false;
  uint64_t horizon = 0;
  for (size_t i = 0; i < list.bookings.size();) {
    const PortBooking &held = list.bookings[i];
    if (held.end <= issue) { // over: no later booking starts before `issue`
      list.bookings[i] = list.bookings.back();
      list.bookings.pop_back();
      continue;
    }
    horizon = std::max(horizon, held.end);
    if (held.start < wanted.end && wanted.start < held.end) {
      const uint64_t from = std::min(held.start, wanted.start);
      const uint64_t to = std::max(held.end, wanted.end);
      uint32_t slice = 0;
      if (held.perSlice + wanted.perSlice > to - from) {
        if (!mineKnown) {
          mine = map.span(wanted.address, wanted.bytes);
          mineKnown = true;
        }
        if (map.shareSlice(map.span(held.address, held.bytes), mine, slice)) {
          conflict.port = port;
          conflict.slice = slice;
          conflict.held = held;
          conflict.wanted = wanted;
          list.horizon = std::max(horizon, list.horizon);
          return false;
        }
      }
    }
    ++i;
  }
  list.horizon = horizon;
  return true;
}

std::string portConflictReason(const PortConflict &conflict, const std::string &heldLabel,
                               const std::string &wantedLabel) {
  const char *port = conflict.port == MemPort::Read ? "read" : "write";
  const char *verb = conflict.port == MemPort::Read ? "reads" : "writes";
  const uint64_t from = std::min(conflict.held.start, conflict.wanted.start);
  const uint64_t to = std::max(conflict.held.end, conflict.wanted.end);
  const std::string who =
      conflict.held.index == conflict.wanted.index &&
              conflict.held.iteration == conflict.wanted.iteration
          ? fmt::format("two buffers of instruction {}", conflict.wanted.index)
          : fmt::format("instructions {} and {}", conflict.held.index, conflict.wanted.index);
  return fmt::format("MEM slice {} {} port double-booked by {}: {} {} {} vector(s) on it in "
                     "cycles [{}, {}) and {} {} {} in [{}, {}), {} in {} cycle(s) at one per "
                     "cycle",
                     conflict.slice, port, who, heldLabel, verb, conflict.held.perSlice,
                     conflict.held.start, conflict.held.end, wantedLabel, verb,
                     conflict.wanted.perSlice, conflict.wanted.start, conflict.wanted.end,
                     conflict.held.perSlice + conflict.wanted.perSlice, to - from);
}

system::SramMap sramMapOf(const HardwareModel &model) {
  return system::SramMap(uint32_t(model.vectorBytes), model.memSlices, model.memBanksPerSlice);
}

} // namespace conveyor::sim
