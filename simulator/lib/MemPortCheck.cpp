// The MEM port check: one read and one write port per MEM slice, one vector per cycle each.
#include "conveyor/Simulator/MemPortCheck.h"

#include <fmt/format.h>

#include <algorithm>

namespace conveyor::sim {

void MemPortBook::dropEnded(Port &list, uint64_t issue) {
  uint64_t horizon = 0;
  uint64_t held = 0;
  for (size_t i = 0; i < list.bookings.size();) {
    if (list.bookings[i].end <= issue) {
      list.bookings[i] = list.bookings.back();
      list.bookings.pop_back();
      continue;
    }
    horizon = std::max(horizon, list.bookings[i].end);
    held += list.bookings[i].streams;
    ++i;
  }
  list.horizon = horizon;
  list.streams = held;
}

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
  uint32_t overlapping = 0;   // held bookings that overlap `wanted` in time
  uint64_t overlapVectors = 0; // their vectors per slice, summed
  for (size_t i = 0; i < list.bookings.size();) {
    const PortBooking &held = list.bookings[i];
    if (held.end <= issue) { // over: no later booking starts before `issue`
      list.streams -= held.streams;
      list.bookings[i] = list.bookings.back();
      list.bookings.pop_back();
      continue;
    }
    horizon = std::max(horizon, held.end);
    if (held.start < wanted.end && wanted.start < held.end) {
      overlapping += 1;
      overlapVectors += held.perSlice;
      const uint64_t from = std::min(held.start, wanted.start);
      const uint64_t to = std::max(held.end, wanted.end);
      uint32_t slice = 0;
      if (uint64_t(held.perSlice) + wanted.perSlice > to - from) {
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
  // Every pair fits. Three or more bookings can still need more of one slice's port than a
  // window has cycles; they cannot when all of them together fit in `wanted`'s own window,
  // the shortest window any group with `wanted` in it can need.
  if (overlapping >= 2 && overlapVectors + wanted.perSlice > wanted.end - wanted.start) {
    return groupFits(port, wanted, conflict);
  }
  return true;
}

bool MemPortBook::groupOverloaded(const PortBooking &wanted) {
  windows.clear();
  for (const PortBooking *held : group) {
    windows.push_back({held->end, held->start, held->perSlice});
  }
  std::sort(windows.begin(), windows.end(),
            [](const Window &a, const Window &b) { return a.end < b.end; });
  // Intervals [from, to): `from` a start at or before wanted.start (its own included), `to`
  // an end at or after wanted.end (its own included). For one `from`, walking the ends in
  // order adds each window inside as `to` passes its end.
  auto overloadedFrom = [&](uint64_t from) {
    uint64_t vectors = wanted.perSlice;
    uint32_t inside = 0;
    size_t next = 0;
    auto takeUpTo = [&](uint64_t to) {
      for (; next < windows.size() && windows[next].end <= to; ++next) {
        if (windows[next].start >= from) {
          vectors += windows[next].vectors;
          inside += 1;
        }
      }
      return vectors > to - from && inside >= 2;
    };
    if (takeUpTo(wanted.end)) {
      return true;
    }
    while (next < windows.size()) {
      if (takeUpTo(windows[next].end)) {
        return true;
      }
    }
    return false;
  };
  if (overloadedFrom(wanted.start)) {
    return true;
  }
  for (const Window &window : windows) {
    if (window.start < wanted.start && overloadedFrom(window.start)) {
      return true;
    }
  }
  return false;
}

bool MemPortBook::groupFits(MemPort port, const PortBooking &wanted, PortConflict &conflict) {
  const Port &list = ports[size_t(port)];
  const system::SliceSpan mine = map.span(wanted.address, wanted.bytes);
  // The held bookings that overlap `wanted` in time and share a slice with it, with spans.
  struct Held {
    const PortBooking *booking;
    system::SliceSpan span;
  };
  std::vector<Held> near;
  uint32_t shared = 0;
  for (const PortBooking &held : list.bookings) {
    if (held.start < wanted.end && wanted.start < held.end) {
      const system::SliceSpan span = map.span(held.address, held.bytes);
      if (map.shareSlice(span, mine, shared)) {
        near.push_back({&held, span});
      }
    }
  }
  if (near.size() < 2) {
    return true;
  }
  const auto touches = [&](const system::SliceSpan &span, uint32_t slice) {
    const uint32_t from = slice >= span.first ? slice - span.first
                                              : slice + map.slices() - span.first;
    return from < span.count;
  };
  // Per slice of `wanted`: the bookings on it can be served at one vector per cycle iff every
  // interval [a, b) holds no more of their vectors (of those whose windows lie inside it) than
  // it has cycles (unit jobs with release times and deadlines). The groups before `wanted`
  // passed, so only intervals around `wanted`'s window need testing: a from the starts at or
  // before it, b from the ends at or after it.
  // The group changes only where some held span begins or ends: along `wanted`'s slices
  // (k = 0 .. mine.count - 1) at the k whose slice is a held span's first, or one past its
  // last. Between two such points every slice has the same group, and the test reads the
  // bookings only, not the slice: the group is tested at the first slice of each stretch,
  // in order of k (so the first overloaded slice is the one found, as slice by slice). A
  // group that has fitted once fits again and is not tested again.
  const uint32_t slices = map.slices();
  const auto offsetOf = [&](uint32_t slice) { // k at which `wanted` reaches `slice`
    return slice >= mine.first ? slice - mine.first : slice + slices - mine.first;
  };
  stretchStarts.clear();
  stretchStarts.push_back(0);
  for (const Held &held : near) {
    const uint32_t enter = offsetOf(held.span.first);
    const uint32_t leave =
        offsetOf(uint32_t((uint64_t(held.span.first) + held.span.count) % slices));
    for (const uint32_t k : {enter, leave}) {
      if (k > 0 && k < mine.count) {
        stretchStarts.push_back(k);
      }
    }
  }
  std::sort(stretchStarts.begin(), stretchStarts.end());
  stretchStarts.erase(std::unique(stretchStarts.begin(), stretchStarts.end()),
                      stretchStarts.end());
  passedGroup.clear();
  for (const uint32_t k : stretchStarts) {
    const uint32_t slice = (mine.first + k) % slices;
    group.clear();
    for (const Held &held : near) {
      if (touches(held.span, slice)) {
        group.push_back(held.booking);
      }
    }
    if (group.size() < 2 || group == passedGroup) {
      continue;
    }
    if (!groupOverloaded(wanted)) {
      passedGroup.assign(group.begin(), group.end());
      continue;
    }
    // Some interval is overloaded: the search below finds the first in its order, the one
    // the message has always named.
    // Candidate ends of the interval: `wanted`'s own (index group.size()) and the held ones
    // around it.
    for (size_t ia = 0; ia <= group.size(); ++ia) {
      const uint64_t from = ia == group.size() ? wanted.start : group[ia]->start;
      if (from > wanted.start) {
        continue;
      }
      for (size_t ib = 0; ib <= group.size(); ++ib) {
        const uint64_t to = ib == group.size() ? wanted.end : group[ib]->end;
        if (to < wanted.end) {
          continue;
        }
        uint64_t vectors = wanted.perSlice;
        uint32_t inside = 0;
        for (const PortBooking *held : group) {
          if (held->start >= from && held->end <= to) {
            vectors += held->perSlice;
            inside += 1;
          }
        }
        if (vectors > to - from && inside >= 2) {
          conflict.kind = PortConflict::Kind::SlicePortGroup;
          conflict.port = port;
          conflict.slice = slice;
          conflict.wanted = wanted;
          conflict.groupIndices.clear();
          const PortBooking *first = nullptr;
          for (const PortBooking *held : group) {
            if (held->start >= from && held->end <= to) {
              conflict.groupIndices.push_back(held->index);
              if (first == nullptr || held->index < first->index) {
                first = held;
              }
            }
          }
          std::sort(conflict.groupIndices.begin(), conflict.groupIndices.end());
          conflict.groupIndices.erase(
              std::unique(conflict.groupIndices.begin(), conflict.groupIndices.end()),
              conflict.groupIndices.end());
          conflict.held = *first;
          conflict.groupVectors = vectors;
          conflict.groupFrom = from;
          conflict.groupTo = to;
          return false;
        }
      }
    }
    passedGroup.assign(group.begin(), group.end());
  }
  return true;
}

bool MemPortBook::streamsFree(MemPort port, uint64_t issue, const PortBooking &wanted,
                              PortConflict &conflict) {
  for (Port &list : ports) {
    dropEnded(list, issue);
  }
  if (ports[0].streams + ports[1].streams + wanted.streams <= streamCapacity) {
    return true;
  }
  // Exact rates: the vectors each transfer moves over its window.
  const auto exactRate = [&](const PortBooking &b) {
    const uint64_t vectors =
        b.movedVectors != 0 ? b.movedVectors : map.vectorsTouched(b.address, b.bytes);
    const uint64_t length = b.end - b.start;
    return (vectors * kStreamUnit + length - 1) / length;
  };
  const uint64_t mine = exactRate(wanted);
  inFlight.clear();
  uint64_t total = mine;
  for (const Port &list : ports) {
    for (const PortBooking &held : list.bookings) {
      if (held.start < wanted.end && wanted.start < held.end) {
        inFlight.push_back({held.start, held.end, exactRate(held), &held});
        total += inFlight.back().rate;
      }
    }
  }
  if (total <= streamCapacity) {
    return true;
  }
  // The load changes only where a transfer starts or ends, so the busiest cycle of `wanted`'s
  // window is its first one or the start of a transfer inside it.
  auto fits = [&](uint64_t at) {
    uint64_t load = 0;
    uint32_t transfers = 0;
    const InFlight *largest = nullptr;
    for (const InFlight &held : inFlight) {
      if (held.start <= at && at < held.end) {
        load += held.rate;
        transfers += 1;
        if (largest == nullptr || held.rate > largest->rate) {
          largest = &held;
        }
      }
    }
    if (load + mine <= streamCapacity || largest == nullptr) {
      return true;
    }
    conflict.kind = PortConflict::Kind::Streams;
    conflict.port = port;
    conflict.slice = 0;
    conflict.held = *largest->booking;
    conflict.held.streams = uint32_t(largest->rate);
    conflict.wanted = wanted;
    conflict.wanted.streams = uint32_t(mine);
    conflict.at = at;
    conflict.transfers = transfers;
    conflict.heldStreams = load;
    conflict.streamCapacity = streamCapacity;
    return false;
  };
  if (!fits(wanted.start)) {
    return false;
  }
  for (const InFlight &held : inFlight) {
    if (held.start > wanted.start && !fits(held.start)) {
      return false;
    }
  }
  return true;
}

bool MemPortBook::bookStreams(MemPort port, uint64_t issue, uint64_t occupancy,
                              uint64_t duration, uint64_t moved, uint32_t index,
                              uint64_t iteration, PortConflict &conflict) {
  if (moved == 0) {
    return true;
  }
  const uint64_t length = occupancy == 0 ? 1 : occupancy;
  uint64_t start = issue;
  if (port == MemPort::Write) {
    start = duration >= length ? issue + duration - length : issue;
  }
  const uint64_t vectors =
      std::min<uint64_t>((moved + map.vectorBytes() - 1) / map.vectorBytes(), uint64_t(1) << 40);
  // No address: perSlice 0 and no bytes keep it out of rule 5 (its span is empty).
  PortBooking booking{start,
                      start + length,
                      0,
                      0,
                      iteration,
                      issue,
                      0,
                      index,
                      uint32_t(std::min<uint64_t>((vectors * kStreamUnit + length - 1) / length,
                                                  UINT32_MAX)),
                      uint32_t(std::min<uint64_t>(vectors, UINT32_MAX))};
  Port &list = ports[size_t(port)];
  if (list.horizon <= issue) {
    list.bookings.clear();
    list.streams = 0;
  }
  if (ports[0].streams + ports[1].streams + booking.streams > streamCapacity &&
      !streamsFree(port, issue, booking, conflict)) {
    return false;
  }
  list.bookings.push_back(booking);
  list.horizon = std::max(list.horizon, booking.end);
  list.streams += booking.streams;
  return true;
}

UnbookedTraffic unbookedTraffic(schedule::Opcode opcode, const BufferInfo *const *operands,
                                int operandCount, const BufferInfo *const *results,
                                int resultCount) {
  UnbookedTraffic traffic;
  switch (opcode) {
  case schedule::MEM_GATHER:
    traffic.read = resultCount > 0 ? results[0]->bytes : 0;
    break;
  case schedule::MXM_EXPERT_MATMUL:
  case schedule::MXM_EXPERT_MATMUL_DQ: {
    if (operandCount < 2 || resultCount < 1 || operands[1]->shape().size() != 3 ||
        results[0]->shape().size() != 4) {
      break; // the shape check words it
    }
    const ShapeRef table = operands[1]->shape();
    const ShapeRef out = results[0]->shape();
    const unsigned __int128 products = (unsigned __int128)uint64_t(out[0]) * uint64_t(out[1]);
    const unsigned __int128 bits =
        products * uint64_t(table[1]) * uint64_t(table[2]) * dtypeBits(operands[1]->dtype());
    unsigned __int128 bytes = (bits + 7) / 8;
    if (opcode == schedule::MXM_EXPERT_MATMUL_DQ) {
      bytes += products * uint64_t(table[2]) * 4;
    }
    traffic.read = bytes > UINT64_MAX / 2 ? UINT64_MAX / 2 : uint64_t(bytes);
    break;
  }
  case schedule::MEM_KV_APPEND:
    traffic.written = operandCount > 0 ? operands[0]->bytes : 0;
    break;
  default:
    break;
  }
  return traffic;
}

std::string portConflictReason(const PortConflict &conflict, const std::string &heldLabel,
                               const std::string &wantedLabel) {
  const char *port = conflict.port == MemPort::Read ? "read" : "write";
  const char *verb = conflict.port == MemPort::Read ? "reads" : "writes";
  if (conflict.kind == PortConflict::Kind::SlicePortGroup) {
    const auto list = [](const std::vector<uint32_t> &indices) {
      std::string text;
      for (size_t i = 0; i < indices.size(); ++i) {
        text += fmt::format("{}{}",
                            i == 0 ? "" : i + 1 == indices.size() ? " and " : ", ",
                            indices[i]);
      }
      return text;
    };
    std::vector<uint32_t> all = conflict.groupIndices;
    if (std::find(all.begin(), all.end(), conflict.wanted.index) == all.end()) {
      all.push_back(conflict.wanted.index);
    }
    return fmt::format("MEM slice {} {} port double-booked by instructions {}: {} {} {} "
                       "vector(s) on it in cycles [{}, {}) while instructions {} (the first, "
                       "{}) {} {} more inside [{}, {}): {} in {} cycle(s) at one per cycle",
                       conflict.slice, port, list(all), wantedLabel, verb,
                       conflict.wanted.perSlice, conflict.wanted.start, conflict.wanted.end,
                       list(conflict.groupIndices), heldLabel, port,
                       conflict.groupVectors - conflict.wanted.perSlice, conflict.groupFrom,
                       conflict.groupTo, conflict.groupVectors,
                       conflict.groupTo - conflict.groupFrom);
  }
  if (conflict.kind == PortConflict::Kind::Streams) {
    const auto rate = [](uint64_t fixed) { return double(fixed) / kStreamUnit; };
    return fmt::format(
        "streams oversubscribed at cycle {}: {} {} {:.2f} vector(s) per cycle in cycles [{}, "
        "{}) while {} other transfer(s) in flight move {:.2f} (the most, {:.2f}, by {} in cycles "
        "[{}, {})): {:.2f} > the {} vectors per cycle of the chip's {} streams ({} each way); "
        "issue it later or give the transfer more cycles",
        conflict.at, wantedLabel, verb, rate(conflict.wanted.streams), conflict.wanted.start,
        conflict.wanted.end, conflict.transfers, rate(conflict.heldStreams),
        rate(conflict.held.streams), heldLabel, conflict.held.start, conflict.held.end,
        rate(conflict.heldStreams + conflict.wanted.streams),
        conflict.streamCapacity / kStreamUnit, conflict.streamCapacity / kStreamUnit,
        conflict.streamCapacity / kStreamUnit / 2);
  }

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
                     uint64_t(conflict.held.perSlice) + conflict.wanted.perSlice, to - from);
}

system::SramMap sramMapOf(const HardwareModel &model) {
  return system::SramMap(uint32_t(model.vectorBytes), model.memSlices, model.memBanksPerSlice);
}

} // namespace conveyor::sim
