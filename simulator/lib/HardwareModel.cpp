// Builds the simulator's hardware model from a SystemConfig and validates what it divides by.
#include "conveyor/Simulator/HardwareModel.h"

#include <fmt/format.h>

#include <cmath>

namespace conveyor::sim {
namespace {

schedule::DType toScheduleDType(system::DType type) {
  switch (type) {
  case system::DType::F32:
    return schedule::F32;
  case system::DType::F16:
    return schedule::F16;
  case system::DType::BF16:
    return schedule::BF16;
  case system::DType::FP8:
    return schedule::FP8;
  case system::DType::INT8:
    return schedule::INT8;
  case system::DType::INT4:
    return schedule::INT4;
  case system::DType::INT32:
    return schedule::INT32;
  }
  return schedule::DTYPE_UNSPECIFIED;
}

} // namespace

const char *dtypeName(schedule::DType type) {
  switch (type) {
  case schedule::F32:
    return "f32";
  case schedule::F16:
    return "f16";
  case schedule::BF16:
    return "bf16";
  case schedule::FP8:
    return "fp8";
  case schedule::INT8:
    return "int8";
  case schedule::INT4:
    return "int4";
  case schedule::INT32:
    return "int32";
  case schedule::DTYPE_UNSPECIFIED:
  case schedule::DType_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::DType_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return "unspecified";
}

uint64_t vxmOpsPerElement(schedule::ElementwiseKind kind) {
  switch (kind) {
  case schedule::ADD:
  case schedule::SUB:
  case schedule::MUL:
  case schedule::RELU:
    return 1;
  case schedule::DIV: // reciprocal, then multiply
    return 2;
  case schedule::GELU: // erf by a rational approximation
    return 12;
  case schedule::GELU_TANH:
    return 8;
  // Math kinds (docs/timing-model.md, "Transformer ops")
  case schedule::NEG:
  case schedule::ABS:
  case schedule::MAX:
  case schedule::MIN:
    return 1;
  case schedule::RECIPROCAL:
    return 2;
  case schedule::SQRT:
  case schedule::RSQRT:
    return 3;
  case schedule::EXP:
  case schedule::LOG:
    return 4;
  case schedule::SIGMOID:
    return 5;
  case schedule::SILU:
  case schedule::SIN:
  case schedule::COS:
  case schedule::TANH:
    return 6;
  case schedule::POW:
    return 9;
  case schedule::ERF:
    return 10;
  case schedule::REDUCE_SUM:
  case schedule::REDUCE_MEAN:
  case schedule::REDUCE_MAX:
  case schedule::REDUCE_MIN:
    return 1;
  case schedule::ELEMENTWISE_UNSPECIFIED:
  case schedule::ElementwiseKind_INT_MIN_SENTINEL_DO_NOT_USE_:
  case schedule::ElementwiseKind_INT_MAX_SENTINEL_DO_NOT_USE_:
    break;
  }
  return 0;
}

Result<HardwareModel> buildHardwareModel(const system::SystemConfig &system) {
  const system::ChipConfig &chip = system.chip;
  auto invalid = [&](const char *field, const std::string &value) {
    return makeError(fmt::format("system '{}': {} is {}, but the simulator needs a positive "
                                 "value; fix the system description",
                                 system.name, field, value));
  };
  if (!(chip.clockHz > 0) || !std::isfinite(chip.clockHz)) {
    return invalid("chip.clock_hz", fmt::format("{}", chip.clockHz));
  }
  if (chip.vectorBytes == 0) {
    return invalid("chip.vector_bytes", "0");
  }
  if (chip.sramBytes() == 0) {
    return invalid("chip.mem slices x bytes_per_slice", "0");
  }
  if (chip.streamsPerDirection == 0) {
    return invalid("chip.streams_per_direction", "0");
  }
  if (chip.vxm.alusPerLane == 0) {
    return invalid("chip.vxm.alus_per_lane", "0");
  }
  if (chip.mxm.weightLoadBytesPerCycle == 0) {
    return invalid("chip.mxm.weight_load_bytes_per_cycle", "0");
  }
  if (!(chip.host.bytesPerSecond > 0) || !std::isfinite(chip.host.bytesPerSecond)) {
    return invalid("chip.host.bytes_per_second", fmt::format("{}", chip.host.bytesPerSecond));
  }
  if (system.fabric.chips == 0) {
    return invalid("fabric.chips", "0");
  }

  HardwareModel model;
  model.systemName = system.name;
  model.chips = system.fabric.chips;
  model.clockHz = chip.clockHz;
  model.vectorBytes = chip.vectorBytes;
  model.sramBytes = chip.sramBytes();
  model.memSlices = chip.mem.slices;
  model.memBanksPerSlice = chip.mem.banksPerSlice;
  model.streamsPerDirection = chip.streamsPerDirection;
  model.memLatency = chip.mem.latencyCycles;
  model.mxmLatency = chip.mxm.latencyCycles;
  model.vxmLatency = chip.vxm.latencyCycles;
  model.sxmLatency = chip.sxm.latencyCycles;
  model.hostLatency = chip.host.latencyCycles;
  model.hostBytesPerSecond = chip.host.bytesPerSecond;
  model.weightLoadBytesPerCycle = chip.mxm.weightLoadBytesPerCycle;
  model.weightSetBytes = uint64_t(chip.mxm.planes) * chip.mxm.rows * chip.mxm.cols;
  model.alusPerLane = chip.vxm.alusPerLane;
  model.floatTimingAs = toScheduleDType(chip.mxm.floatTimingAs);

  for (const auto &[type, rate] : chip.mxm.macsPerCycle) {
    model.macsPerCycle[size_t(toScheduleDType(type))] = rate;
  }
  // The TSP MXM has no f32 input mode: f32 is always timed at the floatTimingAs rate.
  model.macsPerCycle[size_t(schedule::F32)] = model.macsPerCycle[size_t(model.floatTimingAs)];

  model.macPicojoules.fill(-1.0);
  for (const auto &[type, picojoules] : chip.energy.macPicojoules) {
    model.macPicojoules[size_t(toScheduleDType(type))] = picojoules;
  }
  if (model.macPicojoules[size_t(schedule::F32)] < 0) {
    model.macPicojoules[size_t(schedule::F32)] = model.macPicojoules[size_t(model.floatTimingAs)];
  }
  model.vxmOpPicojoules = chip.energy.vxmOpPicojoules;
  model.sramReadPicojoulesPerBit = chip.energy.sramReadPicojoulesPerBit;
  model.sramWritePicojoulesPerBit = chip.energy.sramWritePicojoulesPerBit;
  model.streamPicojoulesPerBit = chip.energy.streamPicojoulesPerBit;
  model.hostPicojoulesPerBit = chip.energy.hostPicojoulesPerBit;
  model.staticWatts = chip.energy.staticWatts;
  return model;
}

} // namespace conveyor::sim
