// Energy accounting by hand, parts summing to totals, report rendering and determinism.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;
using conveyor::test::testSystem;

namespace {

/// x [1x320] f32 written at 0, relu at 1290 (ready), y read back at 1302.
ScheduleBuilder reluModel() {
  ScheduleBuilder b;
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 320});
  schedule::Program &p = b.program("forward", 8);
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, 1290, schedule::VXM_UNARY, {x}, {y}).set_kind(schedule::RELU);
  ScheduleBuilder::add(p, 1302, schedule::MEM_READ, {y}, {});
  p.set_compiler_cycles(2597);
  return b;
}

/// Adds a matmul a [2x64] @ w [64x32] (f32, with data) after the relu model's program.
ScheduleBuilder reluAndMatmulModel() {
  ScheduleBuilder b = reluModel();
  const uint32_t a = b.buffer("a", schedule::INPUT, {2, 64});
  const uint32_t w =
      b.buffer("w", schedule::WEIGHT, {64, 32}, schedule::F32, std::vector<float>(64 * 32, 0.5f));
  const uint32_t h = b.buffer("h", schedule::OUTPUT, {2, 32});
  schedule::Program &p = b.schedule.mutable_programs()->at(0);
  ScheduleBuilder::add(p, 2600, schedule::MEM_WRITE, {}, {a});
  ScheduleBuilder::add(p, 5000, schedule::MXM_MATMUL, {a, w}, {h});
  ScheduleBuilder::add(p, 6000, schedule::MEM_READ, {h}, {});
  return b;
}

std::vector<sim::TensorData> reluInputs() {
  return {{"x", {1, 320}, std::vector<float>(320, -1.0f)},
          {"a", {2, 64}, std::vector<float>(128, 1.0f)}};
}

} // namespace

TEST_CASE("energy of each category matches a hand computation", "[energy]") {
  auto report = sim::simulate(reluModel().schedule, testSystem(), {}, {false});
  REQUIRE(report.ok());
  const sim::ProgramReport &program = report->programs.at(0);
  // MEM_READ of y: 10 + 5 + 1280 cycles after 1302.
  REQUIRE(program.cycles == 1302 + 1295);
  const double pJ = 1e-12;
  // MEM_WRITE x: 1280 B over the host (1 pJ/bit), written to SRAM (0.2), streamed (0.05).
  // relu: 320 ALU ops (0.5 pJ), 1280 B read (0.1/bit) + 1280 B written, 2560 B streamed.
  // MEM_READ y: 1280 B over the host, read from SRAM, streamed.
  const double host = 2 * 1280 * 8 * 1.0 * pJ;
  const double sramRead = 2 * 1280 * 8 * 0.1 * pJ;
  const double sramWrite = 2 * 1280 * 8 * 0.2 * pJ;
  const double stream = (1280 + 2560 + 1280) * 8 * 0.05 * pJ;
  const double vxm = 320 * 0.5 * pJ;
  const double statics = 10.0 * 1 * (2597 / 1e9);
  CHECK(program.energyBreakdown.at("host") == Approx(host));
  CHECK(program.energyBreakdown.at("sram_read") == Approx(sramRead));
  CHECK(program.energyBreakdown.at("sram_write") == Approx(sramWrite));
  CHECK(program.energyBreakdown.at("stream") == Approx(stream));
  CHECK(program.energyBreakdown.at("vxm") == Approx(vxm));
  CHECK(program.energyBreakdown.at("mac") == 0.0);
  CHECK(program.energyBreakdown.at("static") == Approx(statics));
  CHECK(program.units.at("VXM").energyJoules ==
        Approx((320 * 0.5 + 1280 * 8 * 0.1 + 1280 * 8 * 0.2 + 2560 * 8 * 0.05) * pJ));
  CHECK(program.energyJoules == Approx(host + sramRead + sramWrite + stream + vxm + statics));
  CHECK(program.joulesPerToken == Approx(program.energyJoules / 8));
  CHECK(program.tokensPerSecond == Approx(8 / (2597 / 1e9)));
  CHECK(program.seconds == Approx(2597e-9));
  CHECK(program.compilerCycles == 2597);
}

TEST_CASE("MAC energy uses the f32 entry if present, else the floatTimingAs entry", "[energy]") {
  // 2 x 64 x 32 = 4096 MACs.
  auto report = sim::simulate(reluAndMatmulModel().schedule, testSystem(), reluInputs(), {});
  REQUIRE(report.ok());
  CHECK(report->programs.at(0).energyBreakdown.at("mac") == Approx(4096 * 1.0e-12));

  system::SystemConfig config = testSystem();
  config.chip.energy.macPicojoules[system::DType::F32] = 3.0;
  ScheduleBuilder b = reluAndMatmulModel();
  b.schedule.mutable_system()->set_fingerprint(system::fingerprint(config));
  auto withF32 = sim::simulate(b.schedule, config, reluInputs(), {});
  REQUIRE(withF32.ok());
  CHECK(withF32->programs.at(0).energyBreakdown.at("mac") == Approx(4096 * 3.0e-12));

  config.chip.energy.macPicojoules.clear();
  b.schedule.mutable_system()->set_fingerprint(system::fingerprint(config));
  auto none = sim::simulate(b.schedule, config, reluInputs(), {});
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error(), Catch::Contains("gives no MAC energy for f32 activations"));
}

TEST_CASE("energy parts sum to the total, by category and by unit", "[energy]") {
  auto report = sim::simulate(reluAndMatmulModel().schedule, testSystem(), reluInputs(), {});
  REQUIRE(report.ok());
  for (const sim::ProgramReport &program : report->programs) {
    double byCategory = 0;
    for (const auto &[category, joules] : program.energyBreakdown) {
      CHECK(joules >= 0);
      byCategory += joules;
    }
    CHECK(byCategory == program.energyJoules); // summed in the same (key) order: exact
    double byUnit = program.energyBreakdown.at("static");
    uint64_t instructions = 0;
    for (const auto &[unit, stats] : program.units) {
      byUnit += stats.energyJoules;
      instructions += stats.instructions;
    }
    CHECK(byUnit == Approx(program.energyJoules).epsilon(1e-12));
    CHECK(instructions == program.instructions);
    CHECK(program.units.size() == 4);
    CHECK(program.energyBreakdown.size() == 7);
  }
}

TEST_CASE("identical inputs give bit-identical reports", "[report]") {
  auto first = sim::simulate(reluAndMatmulModel().schedule, testSystem(), reluInputs(), {});
  auto second = sim::simulate(reluAndMatmulModel().schedule, testSystem(), reluInputs(), {});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(sim::renderJson(*first) == sim::renderJson(*second));
  CHECK(sim::renderText(*first) == sim::renderText(*second));
  REQUIRE(first->outputs.size() == 2);
  for (size_t i = 0; i < first->outputs.size(); ++i) {
    CHECK(first->outputs[i].values == second->outputs[i].values);
  }
  // relu(-1) = 0; a row of 64 ones times columns of 0.5 = 32.
  CHECK(first->outputs[0].values == std::vector<float>(320, 0.0f));
  CHECK(first->outputs[1].values == std::vector<float>(64, 32.0f));
}

TEST_CASE("text and JSON reports carry every number", "[report]") {
  auto report = sim::simulate(reluModel().schedule, testSystem(), reluInputs(), {false});
  REQUIRE(report.ok());
  const std::string text = sim::renderText(*report);
  CHECK_THAT(text, Catch::Contains("Model 'unit-test-model' on system 'test-chip': 1 chip(s) "
                                   "at 1000.0 MHz"));
  CHECK_THAT(text, Catch::Contains("chip 0: 0.002 MiB of 4.000 MiB (0.06 %)"));
  CHECK_THAT(text, Catch::Contains("cycles         2597"));
  CHECK_THAT(text, Catch::Contains("time           2.597 us"));
  CHECK_THAT(text, Catch::Contains("tokens/step    8"));
  CHECK_THAT(text, Catch::Matches("(.|\n)*  VXM +1 +4 +0\\.15 % +0\\.004(.|\n)*"));

  const std::string json = sim::renderJson(*report);
  CHECK_THAT(json, Catch::StartsWith("{\n  \"model\": \"unit-test-model\",\n  \"system\": "
                                     "\"test-chip\","));
  CHECK_THAT(json, Catch::Contains("\"cycles\": 2597,\n      \"compiler_cycles\": 2597,"));
  CHECK_THAT(json, Catch::Contains("\"tokens_per_step\": 8,"));
  CHECK_THAT(json, Catch::Contains("\"used_per_chip\": [\n      {\n        \"bytes\": 2560,"));
  CHECK_THAT(json, Catch::Contains("\"VXM\": {\n          \"instructions\": 1,\n          "
                                   "\"busy_cycles\": 4,"));
  CHECK_THAT(json, Catch::Contains("\"functional\": false"));
  CHECK_THAT(json, Catch::Contains("\"timing_only_reason\": \"functional run not requested\""));
  CHECK_THAT(json, Catch::EndsWith("}\n"));
  CHECK(std::count(json.begin(), json.end(), '{') == std::count(json.begin(), json.end(), '}'));
  CHECK(std::count(json.begin(), json.end(), '[') == std::count(json.begin(), json.end(), ']'));
}

TEST_CASE("every program is checked and reported", "[report]") {
  ScheduleBuilder b = reluModel();
  schedule::Program &decode = b.program("decode", 1);
  decode.set_kind(schedule::DECODE);
  ScheduleBuilder::add(decode, 0, schedule::MEM_WRITE, {}, {1});
  ScheduleBuilder::add(decode, 1289, schedule::VXM_UNARY, {1}, {2}).set_kind(schedule::RELU);
  auto report = sim::simulate(b.schedule, testSystem(), {}, {false});
  REQUIRE_FALSE(report.ok());
  CHECK_THAT(report.error(), Catch::StartsWith("chip 0, program 'decode', instruction 1"));
  decode.mutable_instructions(1)->set_issue_cycle(1290);
  report = sim::simulate(b.schedule, testSystem(), {}, {false});
  REQUIRE(report.ok());
  REQUIRE(report->programs.size() == 2);
  CHECK(report->programs[1].name == "decode");
  CHECK(report->programs[1].cycles == 1302);
  CHECK(report->sramBytesUsedPerChip == std::vector<uint64_t>{2560});
}
