// Test helpers: a small SystemConfig with round numbers and a builder for hand-made schedules.
#pragma once

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/System/SystemConfig.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace conveyor::test {

/// A chip with numbers chosen so that durations are easy to compute by hand:
/// 1 GHz clock and 1 GB/s host link (host transfer cycles == bytes), 320-byte vectors,
/// 4 MiB SRAM, latencies mem 5 / mxm 7 / vxm 3 / sxm 2 / host 10.
inline system::SystemConfig testSystem() {
  system::SystemConfig config;
  config.name = "test-chip";
  config.description = "hand-sized chip for simulator unit tests";
  system::ChipConfig &chip = config.chip;
  chip.name = "test-tsp";
  chip.clockHz = 1e9;
  chip.vectorBytes = 320;
  chip.streamsPerDirection = 32;
  chip.instructionQueues = 4;
  chip.mem = {4, 1024 * 1024, 2, 5};
  chip.mxm.planes = 1;
  chip.mxm.rows = 320;
  chip.mxm.cols = 320;
  chip.mxm.weightLoadBytesPerCycle = 1000;
  chip.mxm.macsPerCycle = {{system::DType::F16, 1000}, {system::DType::INT8, 4000}};
  chip.mxm.floatTimingAs = system::DType::F16;
  chip.mxm.latencyCycles = 7;
  chip.vxm = {16, 3};
  chip.sxm = {2};
  chip.c2c = {16, 4, 30.0, 216};
  chip.host = {1e9, 10};
  chip.energy.macPicojoules = {{system::DType::F16, 1.0}, {system::DType::INT8, 0.25}};
  chip.energy.vxmOpPicojoules = 0.5;
  chip.energy.sramReadPicojoulesPerBit = 0.1;
  chip.energy.sramWritePicojoulesPerBit = 0.2;
  chip.energy.streamPicojoulesPerBit = 0.05;
  chip.energy.c2cPicojoulesPerBit = 2.0;
  chip.energy.hostPicojoulesPerBit = 1.0;
  chip.energy.staticWatts = 10.0;
  config.fabric.chips = 1;
  config.fabric.chipsPerNode = 1;
  return config;
}

inline uint32_t dtypeBytesTimes8(schedule::DType type) {
  switch (type) {
  case schedule::F32:
  case schedule::INT32:
    return 32;
  case schedule::F16:
  case schedule::BF16:
    return 16;
  case schedule::INT4:
    return 4;
  default:
    return 8;
  }
}

/// Builds schedules by hand: buffers get vector-aligned, non-overlapping addresses.
class ScheduleBuilder {
public:
  explicit ScheduleBuilder(const system::SystemConfig &config = testSystem()) {
    schedule.set_magic(schedule::kMagic);
    schedule.set_version(schedule::kVersion);
    schedule.set_compiler_version("hand-built");
    schedule.set_model_name("unit-test-model");
    schedule::SystemRef *ref = schedule.mutable_system();
    ref->set_name(config.name);
    ref->set_fingerprint(system::fingerprint(config));
    ref->set_chips(config.fabric.chips);
  }

  uint32_t buffer(const std::string &name, schedule::BufferKind kind, std::vector<int64_t> shape,
                  schedule::DType dtype = schedule::F32, const std::vector<float> &data = {}) {
    schedule::Buffer *buffer = schedule.add_buffers();
    buffer->set_id(nextId++);
    buffer->set_name(name);
    buffer->set_kind(kind);
    buffer->set_dtype(dtype);
    uint64_t elements = 1;
    for (int64_t dim : shape) {
      buffer->add_shape(dim);
      elements *= uint64_t(dim);
    }
    const uint64_t bytes = (elements * dtypeBytesTimes8(dtype) + 7) / 8;
    const uint64_t reserved = (bytes + 319) / 320 * 320;
    buffer->set_address(nextAddress);
    buffer->set_size_bytes(reserved);
    nextAddress += reserved;
    if (!data.empty()) {
      buffer->set_data(
          std::string(reinterpret_cast<const char *>(data.data()), data.size() * sizeof(float)));
    }
    return buffer->id();
  }

  uint32_t view(const std::string &name, uint32_t of, std::vector<int64_t> shape) {
    const schedule::Buffer *source = find(of);
    schedule::Buffer *buffer = schedule.add_buffers();
    buffer->set_id(nextId++);
    buffer->set_name(name);
    buffer->set_kind(source->kind());
    buffer->set_dtype(source->dtype());
    for (int64_t dim : shape) {
      buffer->add_shape(dim);
    }
    buffer->set_address(source->address());
    buffer->set_size_bytes(source->size_bytes());
    buffer->set_alias_of(of);
    return buffer->id();
  }

  schedule::Program &program(const std::string &name = "forward", uint64_t tokens = 1) {
    schedule::Program *program = schedule.add_programs();
    program->set_name(name);
    program->set_kind(schedule::FORWARD);
    program->set_chip(0);
    program->set_tokens_per_step(tokens);
    return *program;
  }

  static schedule::Instruction &add(schedule::Program &program, uint64_t cycle,
                                    schedule::Opcode opcode, std::vector<uint32_t> operands,
                                    std::vector<uint32_t> results,
                                    const std::string &location = "") {
    schedule::Instruction *inst = program.add_instructions();
    inst->set_issue_cycle(cycle);
    inst->set_opcode(opcode);
    inst->set_unit(unitFor(opcode));
    for (uint32_t id : operands) {
      inst->add_operands(id);
    }
    for (uint32_t id : results) {
      inst->add_results(id);
    }
    inst->set_location(location.empty() ? schedule::opcodeName(opcode) : location);
    return *inst;
  }

  static schedule::Unit unitFor(schedule::Opcode opcode) {
    switch (opcode) {
    case schedule::MEM_WRITE:
    case schedule::MEM_READ:
    case schedule::MEM_COPY:
      return schedule::MEM;
    case schedule::MXM_MATMUL:
      return schedule::MXM;
    case schedule::SXM_TRANSPOSE:
      return schedule::SXM;
    default:
      return schedule::VXM;
    }
  }

  schedule::Buffer *find(uint32_t id) {
    for (schedule::Buffer &buffer : *schedule.mutable_buffers()) {
      if (buffer.id() == id) {
        return &buffer;
      }
    }
    return nullptr;
  }

  schedule::Schedule schedule;

private:
  uint32_t nextId = 1;
  uint64_t nextAddress = 0;
};

/// A fresh empty directory under the system temp dir, removed on destruction.
class TempDir {
public:
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("conveyor-sim-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string &name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(path)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }
  std::filesystem::path path;
};

} // namespace conveyor::test
