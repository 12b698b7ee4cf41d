// The fabric engine's last stage (docs/simulator.md "Multi-chip"): every send paired with its
// receive through a hash index of the sends, arrivals checked against the receives, then
// inbound ports and the links of multi-hop routes checked for overlapping use.
#include "FabricRunner.h"

#include <new>
#include <type_traits>
#include <utility>

namespace conveyor::sim::fabric {
namespace {

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

/// HugePageAllocator that leaves a record constructed without a value as it is (trivial
/// records only): sortByBucketThenStart sizes its output and then writes every record, so
/// clearing it first would be one more pass over hundreds of thousands of records.
template <typename T> struct OverwriteAllocator : HugePageAllocator<T> {
  template <typename U> struct rebind {
    using other = OverwriteAllocator<U>;
  };
  OverwriteAllocator() = default;
  template <typename U> OverwriteAllocator(const OverwriteAllocator<U> &) noexcept {}
  template <typename U> void construct(U *at) noexcept {
    static_assert(std::is_trivially_default_constructible_v<U>);
    ::new (static_cast<void *>(at)) U;
  }
  template <typename U, typename... Args> void construct(U *at, Args &&...args) {
    ::new (static_cast<void *>(at)) U(std::forward<Args>(args)...);
  }
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

} // namespace

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
  std::vector<Inbound, OverwriteAllocator<Inbound>> inbound;
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
  std::vector<LinkUse, OverwriteAllocator<LinkUse>> linkUses;
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

} // namespace conveyor::sim::fabric
