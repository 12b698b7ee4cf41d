// Builds the fabric model from the system description: link rates, routes between chips
// (fully connected inside a node, one direct global link between any two nodes) and the
// deterministic worst-case clock drift assignment.
#include "conveyor/Simulator/FabricModel.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace conveyor::sim {

uint64_t FabricModel::serialisationCycles(uint64_t bytes) const {
  const double cycles = std::ceil(double(bytes) / bytesPerCycle);
  return cycles < 1 ? 1 : uint64_t(cycles);
}

namespace {

/// Port of chip `from` that reaches chip `to` of the same node: the rank of `to` among the
/// node's other chips.
uint32_t localPort(const FabricModel &fabric, uint32_t from, uint32_t to) {
  const uint32_t fromRank = from % fabric.chipsPerNode;
  const uint32_t toRank = to % fabric.chipsPerNode;
  return toRank < fromRank ? toRank : toRank - 1;
}

} // namespace

Route FabricModel::route(uint32_t from, uint32_t to) const {
  Route path;
  path.hops = fabric.hopsBetween(from, to);
  if (fabric.topology == system::Topology::FullyConnected && chips <= links + 1) {
    // Every chip has a direct link to every other: number ports by peer rank.
    path.direct = true;
    path.sendPort = to < from ? to : to - 1;
    path.recvPort = from < to ? from : from - 1;
  } else if (from / chipsPerNode == to / chipsPerNode) {
    path.direct = true;
    path.sendPort = localPort(*this, from, to);
    path.recvPort = localPort(*this, to, from);
  }
  return path;
}

uint32_t FabricModel::forwardingChip(uint32_t from, uint32_t to, uint32_t port) const {
  return from == to ? kNoChip : forwardingChip(from, to, port, route(from, to));
}

uint32_t FabricModel::forwardingChip(uint32_t from, uint32_t to, uint32_t port,
                                     const Route &path) const {
  if (from == to || path.hops < 2 || path.direct) {
    return kNoChip;
  }
  const uint32_t fromRank = from % chipsPerNode;
  uint32_t landingRank = 0;
  if (port < localPorts) {
    // The node-mate on this port (inverse of localPort), then its rail.
    landingRank = port < fromRank ? port : port + 1;
  } else {
    const uint32_t global = port - localPorts;
    landingRank = global < chipsPerNode ? global : fromRank;
  }
  if (landingRank >= chipsPerNode) {
    return kNoChip;
  }
  const uint32_t landing = (to / chipsPerNode) * chipsPerNode + landingRank;
  return landing == to || landing >= chips ? kNoChip : landing;
}

uint64_t FabricModel::cyclesWithinSlack(uint64_t slackCycles) const {
  if (driftPartsPerBillion == 0) {
    return std::numeric_limits<uint64_t>::max();
  }
  const unsigned __int128 cycles =
      (unsigned __int128)slackCycles * 1000000000u / driftPartsPerBillion;
  return cycles > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                       : uint64_t(cycles);
}

Result<FabricModel> buildFabricModel(const system::SystemConfig &system) {
  const system::FabricConfig &fabric = system.fabric;
  const system::C2CConfig &c2c = system.chip.c2c;
  FabricModel model;
  model.chips = fabric.chips;
  model.chipsPerNode = fabric.chipsPerNode == 0 ? 1 : fabric.chipsPerNode;
  model.links = c2c.links;
  model.localPorts = fabric.effectiveLocalLinks();
  model.clockHz = system.chip.clockHz;
  model.hopLatency = c2c.latencyCycles;
  model.c2cPicojoulesPerBit = system.chip.energy.c2cPicojoulesPerBit;
  model.fabric = fabric;
  model.driftPartsPerBillion =
      fabric.clockDriftPpm > 0 ? uint64_t(std::llround(fabric.clockDriftPpm * 1000.0)) : 0;
  if (fabric.chips <= 1) {
    model.bytesPerCycle = 1; // never used: a single chip has no transfers
    return model;
  }
  auto invalid = [&](const std::string &what) {
    return makeError(fmt::format("system '{}': {}; fix the system description", system.name, what));
  };
  if (c2c.links == 0 || c2c.lanesPerLink == 0 || !(c2c.gbpsPerLane > 0) ||
      !(system.chip.clockHz > 0)) {
    return invalid("chip.c2c links, lanes_per_link and gbps_per_lane must be positive for a "
                   "multi-chip fabric");
  }
  model.bytesPerCycle =
      double(c2c.lanesPerLink) * c2c.gbpsPerLane * 1e9 / 8.0 / system.chip.clockHz;
  return model;
}

} // namespace conveyor::sim
