// The compiler's C2C link timing (see LinkTiming.h); used by lower-collectives for slot
// lengths and by the multi-chip compile to time transfers.
#include "conveyor/Sharding/LinkTiming.h"

#include <cmath>
#include <limits>

namespace conveyor::sharding {

double linkBytesPerCycle(const system::ChipConfig &chip) {
  return chip.c2c.lanesPerLink * chip.c2c.gbpsPerLane * 1e9 / 8 / chip.clockHz;
}

uint64_t linkSerialisationCycles(const system::ChipConfig &chip, uint64_t bytes) {
  const double cycles = std::ceil(double(bytes) / linkBytesPerCycle(chip));
  return cycles < 1 ? 1 : uint64_t(cycles);
}

uint64_t linkFlightCycles(const system::ChipConfig &chip, uint64_t hops) {
  return hops * uint64_t(chip.c2c.latencyCycles);
}

uint64_t driftPartsPerBillion(const system::FabricConfig &fabric) {
  return fabric.clockDriftPpm > 0 ? uint64_t(std::llround(fabric.clockDriftPpm * 1000.0)) : 0;
}

uint64_t cyclesWithinDriftSlack(const system::FabricConfig &fabric, uint64_t slackCycles) {
  const uint64_t ppb = driftPartsPerBillion(fabric);
  if (ppb == 0) {
    return std::numeric_limits<uint64_t>::max();
  }
  // Integer arithmetic, rounding down: a transfer exactly at the bound is still inside it.
  const unsigned __int128 cycles = (unsigned __int128)slackCycles * 1000000000u / ppb;
  return cycles > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                       : uint64_t(cycles);
}

} // namespace conveyor::sharding
