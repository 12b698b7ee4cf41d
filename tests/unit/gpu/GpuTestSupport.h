// Helpers shared by the GPU-model tests: shipped files, text edits, small hand-made GPUs
// and profiles whose step times can be computed by hand.
#pragma once

#include "conveyor/Gpu/GpuConfig.h"
#include "conveyor/Gpu/WorkloadProfile.h"

#include "../system/SystemTestSupport.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace conveyor::gpu::test {

inline std::string gpuDirectory() { return std::string(CONVEYOR_SOURCE_DIR) + "/systems/gpu"; }

// Reading and editing text files: the same helpers the system-description tests use.
using conveyor::system::test::errorText;
using conveyor::system::test::lineOf;
using conveyor::system::test::readText;
using conveyor::system::test::replaceOnce;

/// A GPU with round numbers: 100 TFLOP/s bf16, 1 TB/s, prefill compute 0.5 / bandwidth 0.5,
/// decode compute 0.25 / bandwidth 0.8, 8 GPUs on 100 GB/s links with 5 us all-reduces,
/// 100 W idle, 500 W TDP.
inline GpuConfig roundGpu() {
  GpuConfig gpu;
  gpu.name = "round";
  gpu.peakFlopsPerSecond[DType::BF16] = 100e12;
  gpu.memoryBytes = 100e9;
  gpu.memoryBytesPerSecond = 1e12;
  gpu.usableMemoryFraction = 0.5;
  gpu.interconnect = {"link", 100e9, 5e-6, 8};
  gpu.power = {500, 100};
  gpu.prefill = {0.5, 0.5};
  gpu.decode = {0.25, 0.8};
  return gpu;
}

/// One bf16 matmul of a [tokens, 1000] activation by a [1000, 1000] weight: 2e6 FLOPs per
/// token, 2e6 weight bytes, no activation traffic, no all-reduces.
inline WorkloadProfile singleMatmul() {
  WorkloadProfile profile;
  profile.name = "matmul";
  OpCost op;
  op.name = "matmul";
  op.flopsPerToken = 2e6;
  op.weightBytes = 2e6;
  profile.ops.push_back(op);
  profile.weightBytes = 2e6;
  profile.parameters = 1e6;
  return profile;
}

} // namespace conveyor::gpu::test
