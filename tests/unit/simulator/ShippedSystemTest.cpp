// The simulator on the shipped groq-1 system and the tiny model's ONNX test data: a small
// MLP block whose timing is worked by hand from groq-1.yaml and whose numerics are checked
// against plain loops.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;

namespace {

std::vector<float> pattern(size_t count, float scale, int seed) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = scale * float(int((i * 7919 + size_t(seed) * 104729) % 23) - 11) / 11.0f;
  }
  return values;
}

/// y = x + gelu(x @ w1) @ w2 with naive loops (no Eigen), rows x [rows, 64].
std::vector<float> referenceBlock(const std::vector<float> &x, const std::vector<float> &w1,
                                  const std::vector<float> &w2, int rows) {
  std::vector<float> y(x);
  for (int r = 0; r < rows; ++r) {
    std::vector<double> hidden(256, 0.0);
    for (int j = 0; j < 256; ++j) {
      for (int k = 0; k < 64; ++k) {
        hidden[j] += double(x[r * 64 + k]) * w1[k * 256 + j];
      }
      hidden[j] = 0.5 * hidden[j] * (1.0 + std::erf(hidden[j] / std::sqrt(2.0)));
    }
    for (int j = 0; j < 64; ++j) {
      double sum = 0;
      for (int k = 0; k < 256; ++k) {
        sum += hidden[k] * w2[k * 64 + j];
      }
      y[r * 64 + j] += float(sum);
    }
  }
  return y;
}

} // namespace

TEST_CASE("an MLP block on the shipped groq-1 system", "[shipped]") {
  Result<system::SystemConfig> config =
      system::loadSystemConfig(CONVEYOR_SOURCE_DIR "/systems/groq-1.yaml");
  REQUIRE(config.ok());
  const std::vector<float> w1Data = pattern(64 * 256, 0.2f, 1);
  const std::vector<float> w2Data = pattern(256 * 64, 0.1f, 2);
  const std::vector<float> xData = pattern(8 * 64, 1.0f, 3);

  ScheduleBuilder b(*config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 8, 64});
  const uint32_t w1 = b.buffer("w1", schedule::WEIGHT, {64, 256}, schedule::F32, w1Data);
  const uint32_t w2 = b.buffer("w2", schedule::WEIGHT, {256, 64}, schedule::F32, w2Data);
  const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 8, 256});
  const uint32_t g = b.buffer("g", schedule::ACTIVATION, {1, 8, 256});
  const uint32_t o = b.buffer("o", schedule::ACTIVATION, {1, 8, 64});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 8, 64});
  schedule::Program &p = b.program("forward", 8);
  // Hand timing from groq-1.yaml (900 MHz, host 31.5 GB/s + 900 cycles, mem 69, mxm 24,
  // vxm 16; weights install at 10,240 B/cycle, f32 timed at fp16's 102,400 MACs/cycle):
  // MEM_WRITE x: 2048 B -> ceil(2048 * 900e6 / 31.5e9) = 59 cycles, ready at 900 + 59 = 959.
  // mm1: install ceil(65536 / 10240) = 7, compute ceil(131072 / 102400) = 2: ready 959 + 69 + 24
  // + 9. gelu: 8192 B = 26 vectors, 1 pass: ready +69 +16 +26. mm2: install 7 + compute 2: ready
  // +69 +24 +9.  add: 7 vectors: ready +69 +16 +7. Each product's weights are one tile set
  // (7 cycles of install), which goes in before its input must be there: mm1 issues at
  // 959 - 7 and mm2 7 cycles before gelu's result is ready.
  const uint64_t mm1 = 959 - 7, gelu = mm1 + 102, mm2 = gelu + 111 - 7, add = mm2 + 102,
                 read = add + 92;
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, mm1, schedule::MXM_MATMUL, {x, w1}, {h});
  ScheduleBuilder::add(p, gelu, schedule::VXM_UNARY, {h}, {g}).set_kind(schedule::GELU);
  ScheduleBuilder::add(p, mm2, schedule::MXM_MATMUL, {g, w2}, {o});
  ScheduleBuilder::add(p, add, schedule::VXM_BINARY, {x, o}, {y}).set_kind(schedule::ADD);
  ScheduleBuilder::add(p, read, schedule::MEM_READ, {y}, {});

  auto report = sim::simulate(b.schedule, *config, {{"x", {1, 8, 64}, xData}}, {});
  REQUIRE(report.ok());
  const sim::ProgramReport &program = report->programs.at(0);
  // MEM_READ: 900 + 69 + 59 cycles.
  CHECK(program.cycles == read + 900 + 69 + 59);
  CHECK(program.units.at("MXM").busyCycles == 18);
  CHECK(program.units.at("VXM").busyCycles == 26 + 7);
  CHECK(report->sramBytesPerChip == 230686720);

  // Each consumer one cycle early is rejected.
  for (int index = 1; index < p.instructions_size(); ++index) {
    schedule::Schedule early = b.schedule;
    schedule::Instruction *inst = early.mutable_programs(0)->mutable_instructions(index);
    inst->set_issue_cycle(inst->issue_cycle() - 1);
    CAPTURE(index);
    CHECK_FALSE(sim::simulate(early, *config, {}, {false}).ok());
  }

  REQUIRE(report->functional);
  const std::vector<float> expected = referenceBlock(xData, w1Data, w2Data, 8);
  const std::vector<float> &actual = report->outputs.at(0).values;
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-5));
  }
}

TEST_CASE("the tiny model's ONNX test data loads", "[shipped]") {
  const std::string dir = CONVEYOR_SOURCE_DIR "/models/tiny/test_data_set_0";
  auto inputs = sim::loadTensorDir(dir, "input_");
  REQUIRE(inputs.ok());
  REQUIRE(inputs->size() == 1);
  CHECK(inputs->at(0).shape == std::vector<int64_t>{1, 8, 64});
  CHECK(inputs->at(0).values.size() == 512);
  auto outputs = sim::loadTensorDir(dir, "output_");
  REQUIRE(outputs.ok());
  CHECK(outputs->at(0).shape == std::vector<int64_t>{1, 8, 64});
}
