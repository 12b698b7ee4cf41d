// The simulator's hardware model: every number the timing and energy rules use,
// precomputed once from a SystemConfig into a plain struct (no virtual calls per instruction).
#pragma once

#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"
#include "schedule.pb.h"

#include <array>
#include <cstdint>
#include <string>

namespace conveyor::sim {

/// Slots indexed by the numeric value of schedule::DType (0 = unspecified .. 7 = INT32).
inline constexpr size_t kDTypeSlots = 8;

/// Bits per element of a schedule dtype; 0 for DTYPE_UNSPECIFIED or an unknown value.
/// Inline: every buffer and most instructions ask.
inline unsigned dtypeBits(schedule::DType type) {
  static_assert(schedule::F32 == 1 && schedule::F16 == 2 && schedule::BF16 == 3 &&
                    schedule::FP8 == 4 && schedule::INT8 == 5 && schedule::INT4 == 6 &&
                    schedule::INT32 == 7 && schedule::DType_MAX == 7,
                "a new dtype needs its width here");
  constexpr unsigned kBits[kDTypeSlots] = {0, 32, 16, 16, 8, 8, 4, 32};
  const auto value = uint32_t(type);
  return value < kDTypeSlots ? kBits[value] : 0;
}
const char *dtypeName(schedule::DType type);

/// VXM ALU operations per element for each elementwise kind (docs/timing-model.md); 0 for a
/// kind that is not elementwise.
uint64_t vxmOpsPerElement(schedule::ElementwiseKind kind);
/// ALU operations per element charged to a softmax for energy: max (1), subtract (1),
/// exp (1), sum (1), scale by the reciprocal (1). Timing uses 3 passes instead.
inline constexpr uint64_t kSoftmaxOpsPerElement = 5;
/// Passes over the data a softmax takes (max, exp-and-sum, normalise).
inline constexpr uint64_t kSoftmaxPasses = 3;

struct HardwareModel {
  std::string systemName;
  uint32_t chips = 1;
  double clockHz = 0;
  uint64_t vectorBytes = 0;
  uint64_t sramBytes = 0; // per chip
  uint32_t memSlices = 1, memBanksPerSlice = 1; // the SRAM address map (SramMap.h)
  uint32_t streamsPerDirection = 1; // stream registers each way, one vector per cycle each

  // Fixed pipeline latencies, cycles.
  uint64_t memLatency = 0, mxmLatency = 0, vxmLatency = 0, sxmLatency = 0, hostLatency = 0;

  double hostBytesPerSecond = 0;
  uint64_t weightLoadBytesPerCycle = 0;
  /// Bytes of weights the MXM planes hold at once (planes x rows x cols): one tile set. The
  /// next set installs while the current one computes (0: no overlap).
  uint64_t weightSetBytes = 0;
  uint64_t alusPerLane = 0;
  /// MXM multiply-accumulates per cycle by activation dtype; 0 = the MXM has no rate for it.
  /// The F32 slot holds the rate of `floatTimingAs` (f32 matmuls are timed at that rate).
  std::array<uint64_t, kDTypeSlots> macsPerCycle{};
  schedule::DType floatTimingAs = schedule::F16;

  // Energy, picojoules.
  /// Energy of one MAC by activation dtype; negative = no entry. The F32 slot holds the F32
  /// entry if the system gives one, else the `floatTimingAs` entry.
  std::array<double, kDTypeSlots> macPicojoules{};
  double vxmOpPicojoules = 0;
  double sramReadPicojoulesPerBit = 0;
  double sramWritePicojoulesPerBit = 0;
  double streamPicojoulesPerBit = 0;
  double hostPicojoulesPerBit = 0;
  double staticWatts = 0; // per chip
};

/// Builds the model; fails (naming the system and field) on parameters that would make a
/// rule divide by zero, e.g. a zero clock, vector width, ALU count or weight-load rate.
Result<HardwareModel> buildHardwareModel(const system::SystemConfig &system);

} // namespace conveyor::sim
