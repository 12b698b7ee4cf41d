// The chip-to-chip fabric as the simulator sees it, built from the system YAML alone: link
// serialisation and hop latency, the route (ports, hops) between any two chips, and each
// chip's worst-case clock drift.
#pragma once

#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"

#include <array>
#include <cstdint>

namespace conveyor::sim {

/// What the simulator knows of the path between two chips.
struct Route {
  uint32_t hops = 0;     // links crossed (system fabric.hopsBetween)
  bool direct = false;   // same node (or fully connected): one link, port fixed
  uint32_t sendPort = 0; // when direct: the sender's port to the receiver
  uint32_t recvPort = 0; // when direct: the receiver's port from the sender
};

struct FabricModel {
  uint32_t chips = 1;
  uint32_t chipsPerNode = 1;
  uint32_t links = 0;      // ports per chip
  uint32_t localPorts = 0; // ports 0 .. localPorts-1 reach the other chips of the node
  double clockHz = 0;
  double bytesPerCycle = 0;          // one link, one direction: lanes x Gb/s / 8 / clock
  uint64_t hopLatency = 0;           // cycles of flight per hop
  uint64_t driftPartsPerBillion = 0; // fabric.clock_drift_ppm x 1000: how far two chips drift apart
  double c2cPicojoulesPerBit = 0;    // chip.energy.c2c_picojoules_per_bit: one bit over one link
  system::FabricConfig fabric;       // topology, nodes, groups (hop counts)

  /// Cycles to serialise `bytes` onto one link: ceil(bytes / bytesPerCycle), at least 1.
  uint64_t serialisationCycles(uint64_t bytes) const;

  /// The route from `from` to `to` (different chips, both < chips). Inside a node (or in a
  /// fully connected fabric) one direct link: chip a reaches chip b of its node on port
  /// (rank of b among the node's other chips). Otherwise fabric.hopsBetween hops (3 inside
  /// a group, 5 between groups) whose first port the schedule chooses (any port).
  Route route(uint32_t from, uint32_t to) const;

  /// The link a route between nodes crosses inside the receiver's node, as the simulator
  /// books it (docs/simulator.md "Routes between nodes"). The YAML gives hop counts, not
  /// wiring, so the wiring is fixed here: global port g (= port - localPorts) of a chip
  /// reaches, in the receiver's node, the chip of rank g when g < chipsPerNode (a node pair
  /// is joined rank to every rank) and the chip of the sender's own rank otherwise (its
  /// rail); a local port first reaches the node-mate it names, whose rail carries the
  /// transfer on. If that landing chip is not the receiver, it forwards the transfer over its
  /// local link to the receiver: the landing chip is returned, else kNoChip (direct routes,
  /// routes that land on the receiver, ranks the node does not have). The hop latency still
  /// counts hopsBetween's hops.
  static constexpr uint32_t kNoChip = ~uint32_t(0);
  uint32_t forwardingChip(uint32_t from, uint32_t to, uint32_t port) const;
  /// The same, given route(from, to) (the fabric engine has it at hand for every transfer).
  uint32_t forwardingChip(uint32_t from, uint32_t to, uint32_t port, const Route &path) const;

  /// Worst-case drift assignment: even chips run fast by half the fabric drift, odd chips
  /// slow by half, so neighbours drift apart at the full rate. Returns the reference-time
  /// correction (in cycles, signed) of a chip `elapsed` cycles after its last SYNC:
  /// fast chips reach local cycle t early (negative), slow chips late (positive).
  int64_t driftCorrection(uint32_t chip, uint64_t elapsed) const {
    // elapsed x half / 10^9, in 64 bits when both factors are below 2^32 (a division by a
    // constant is then a multiplication), else in 128: the same value either way.
    const uint64_t half = driftPartsPerBillion / 2;
    const uint64_t magnitude =
        ((elapsed | half) >> 32) == 0
            ? elapsed * half / 1000000000u
            : uint64_t((unsigned __int128)elapsed * half / 1000000000u);
    return chip % 2 == 0 ? -int64_t(magnitude) : int64_t(magnitude);
  }
  /// The largest number of cycles a chip may run after a SYNC before its drift against
  /// another chip exceeds `slackCycles`; UINT64_MAX when the fabric has no drift.
  uint64_t cyclesWithinSlack(uint64_t slackCycles) const;
};

/// Builds the fabric model; fails (naming the system and field) when a multi-chip system
/// lacks link parameters.
Result<FabricModel> buildFabricModel(const system::SystemConfig &system);

} // namespace conveyor::sim
