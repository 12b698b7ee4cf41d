// MXM_EXPERT_MATMUL(_DQ): MoE expert products that read the chosen experts' weights in place
// from the resident [E, K, N] stack. Numerics against hand-computed values, the shape rule,
// and the timing/traffic rule (only the chosen slices are installed and read).
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;

namespace {

schedule::Unit unitOf(schedule::Opcode opcode) {
  switch (opcode) {
  case schedule::MEM_WRITE:
  case schedule::MEM_READ:
    return schedule::MEM;
  default:
    return schedule::MXM;
  }
}

struct ExpertProgram {
  ScheduleBuilder b;
  schedule::Program *p = &b.program();
  uint64_t cycle = 0;
  schedule::Instruction &next(schedule::Opcode opcode, std::vector<uint32_t> operands,
                              std::vector<uint32_t> results) {
    schedule::Instruction &inst = ScheduleBuilder::add(*p, cycle, opcode, operands, results);
    inst.set_unit(unitOf(opcode));
    cycle += 100000;
    return inst;
  }
  uint32_t input(const std::string &name, std::vector<int64_t> shape,
                 schedule::DType dtype = schedule::F32) {
    const uint32_t id = b.buffer(name, schedule::INPUT, shape, dtype);
    next(schedule::MEM_WRITE, {}, {id});
    return id;
  }
  auto run(uint32_t y, const std::vector<sim::TensorData> &inputs) {
    next(schedule::MEM_READ, {y}, {});
    return sim::simulate(b.schedule, test::testSystem(), inputs, {});
  }
};

// Experts e = 0, 1, 2 hold [[e + 1, 0], [0, -(e + 1)]] (K = N = 2).
const std::vector<float> kStack = {1, 0, 0, -1, 2, 0, 0, -2, 3, 0, 0, -3};

} // namespace

TEST_CASE("MXM_EXPERT_MATMUL computes lhs @ table[index] per token and slot", "[expert]") {
  ExpertProgram t;
  const uint32_t x = t.input("x", {2, 1, 1, 2});
  const uint32_t ids = t.input("ids", {2, 2}, schedule::INT32);
  const uint32_t table = t.b.buffer("stack", schedule::WEIGHT, {3, 2, 2}, schedule::F32, kStack);
  const uint32_t y = t.b.buffer("y", schedule::OUTPUT, {2, 2, 1, 2});
  t.next(schedule::MXM_EXPERT_MATMUL, {x, table, ids}, {y});
  auto report = t.run(y, {{"x", {2, 1, 1, 2}, {1, 2, 3, 4}}, {"ids", {2, 2}, {2, 0, 1, 1}}});
  REQUIRE(report);
  REQUIRE(report->functional);
  // token 0 ([1, 2]): expert 2 -> [3, -6], expert 0 -> [1, -2];
  // token 1 ([3, 4]): expert 1 twice -> [6, -8].
  CHECK(report->outputs.at(0).values == std::vector<float>{3, -6, 1, -2, 6, -8, 6, -8});
}

TEST_CASE("MXM_EXPERT_MATMUL_DQ scales each product by its expert's channel scales",
          "[expert]") {
  ExpertProgram t;
  const uint32_t x = t.input("x", {1, 2, 1, 2}); // one lhs row per slot
  const uint32_t ids = t.input("ids", {1, 2}, schedule::INT32);
  const uint32_t table = t.b.buffer("q", schedule::WEIGHT, {2, 2, 2}, schedule::INT8);
  // expert 0 [[1, 2], [3, 4]], expert 1 [[-1, 0], [0, 127]]
  t.b.find(table)->set_data(
      std::string{char(1), char(2), char(3), char(4), char(-1), char(0), char(0), char(127)});
  const uint32_t scale =
      t.b.buffer("s", schedule::WEIGHT, {2, 1, 2}, schedule::F32, {0.5f, 1.0f, 2.0f, 0.25f});
  const uint32_t y = t.b.buffer("y", schedule::OUTPUT, {1, 2, 1, 2});
  t.next(schedule::MXM_EXPERT_MATMUL_DQ, {x, table, ids, scale}, {y});
  auto report = t.run(y, {{"x", {1, 2, 1, 2}, {1, 1, 2, 4}}, {"ids", {1, 2}, {1, 0}}});
  REQUIRE(report);
  // slot 0: [1, 1] @ expert 1 = [-1, 127] * [2, 0.25] = [-2, 31.75]
  // slot 1: [2, 4] @ expert 0 = [14, 20] * [0.5, 1] = [7, 20]
  CHECK(report->outputs.at(0).values == std::vector<float>{-2, 31.75f, 7, 20});
}

TEST_CASE("MXM_EXPERT_MATMUL rejects an index outside the stack", "[expert]") {
  ExpertProgram t;
  const uint32_t x = t.input("x", {1, 1, 1, 2});
  const uint32_t ids = t.input("ids", {1, 1}, schedule::INT32);
  const uint32_t table = t.b.buffer("stack", schedule::WEIGHT, {3, 2, 2}, schedule::F32, kStack);
  const uint32_t y = t.b.buffer("y", schedule::OUTPUT, {1, 1, 1, 2});
  t.next(schedule::MXM_EXPERT_MATMUL, {x, table, ids}, {y});
  auto report = t.run(y, {{"x", {1, 1, 1, 2}, {1, 2}}, {"ids", {1, 1}, {3}}});
  REQUIRE_FALSE(report);
  CHECK_THAT(report.error(), Catch::Contains("expert index 3 is outside [0, 3)"));
}

TEST_CASE("MXM_EXPERT_MATMUL shape rule names the operand", "[expert]") {
  ExpertProgram t;
  const uint32_t x = t.input("x", {1, 1, 1, 3}); // K = 3, but the table's K is 2
  const uint32_t ids = t.input("ids", {1, 1}, schedule::INT32);
  const uint32_t table = t.b.buffer("stack", schedule::WEIGHT, {3, 2, 2}, schedule::F32, kStack);
  const uint32_t y = t.b.buffer("y", schedule::OUTPUT, {1, 1, 1, 2});
  t.next(schedule::MXM_EXPERT_MATMUL, {x, table, ids}, {y});
  auto report = t.run(y, {{"x", {1, 1, 1, 3}, {1, 2, 3}}, {"ids", {1, 1}, {0}}});
  REQUIRE_FALSE(report);
  CHECK_THAT(report.error(), Catch::Contains("must be [1, 1 or 1, M, 2]"));
}

TEST_CASE("MXM_EXPERT_MATMUL installs and reads only the chosen experts' slices", "[expert]") {
  // 8 experts of 64 x 100 int8 weights, 3 tokens x 2 slots: 6 slices of 6,400 bytes are
  // installed at 1,000 B/cycle (the test chip), not the 51,200-byte stack.
  const system::SystemConfig config = test::testSystem();
  ScheduleBuilder b(config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {3, 1, 1, 64}, schedule::F16);
  const uint32_t ids = b.buffer("ids", schedule::INPUT, {3, 2}, schedule::INT32);
  const uint32_t table = b.buffer("q", schedule::WEIGHT, {8, 64, 100}, schedule::INT8);
  const uint32_t scale = b.buffer("s", schedule::WEIGHT, {8, 1, 100}, schedule::F32);
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {3, 2, 1, 100}, schedule::F16);
  schedule::Program &p = b.program();
  schedule::Instruction &inst =
      ScheduleBuilder::add(p, 0, schedule::MXM_EXPERT_MATMUL_DQ, {x, table, ids, scale}, {y});
  inst.set_unit(schedule::MXM);
  const sim::HardwareModel model = *sim::buildHardwareModel(config);
  const sim::BufferTable buffers(b.schedule, model.vectorBytes);
  const auto cost = sim::instructionCost(model, buffers, inst);
  REQUIRE(cost);
  // install ceil(6 * 6,400 / 1,000) = 39, compute ceil(6 * 64 * 100 / 1,000 (f16)) = 39.
  CHECK(cost->occupancy == 39 + 39);
  CHECK(cost->duration == 5 + 7 + 78);
  CHECK(cost->macs == 6 * 64 * 100);
  // lhs 384 B + 6 slices 38,400 B + indices 24 B + 6 scale rows of 400 B.
  CHECK(cost->readBytes == 384 + 38400 + 24 + 2400);
}
