// The compiler's C2C link timing: serialisation, hop latency and drift window, from the
// system description (docs/simulator.md#multi-chip; the simulator derives them on its own).
#pragma once

#include "conveyor/System/SystemConfig.h"

#include <cstdint>

namespace conveyor::sharding {

/// Bytes one link carries per cycle in one direction: lanes x Gb/s / 8 / clock.
double linkBytesPerCycle(const system::ChipConfig &chip);

/// Cycles to serialise `bytes` onto one link: ceil(bytes / linkBytesPerCycle), at least 1.
uint64_t linkSerialisationCycles(const system::ChipConfig &chip, uint64_t bytes);

/// Cycles of flight over `hops` links (cut-through: hops x chip.c2c.latency_cycles).
uint64_t linkFlightCycles(const system::ChipConfig &chip, uint64_t hops);

/// The most cycles a chip may run after a SYNC before its clock drifts `slackCycles` away
/// from another's (fabric.clock_drift_ppm); UINT64_MAX when the fabric has no drift.
uint64_t cyclesWithinDriftSlack(const system::FabricConfig &fabric, uint64_t slackCycles);

/// Drift in parts per billion (fabric.clock_drift_ppm x 1000, rounded), for messages.
uint64_t driftPartsPerBillion(const system::FabricConfig &fabric);

} // namespace conveyor::sharding
