// Functional numerics of the transformer opcodes (section E of schedule.proto) against
// hand-computed values: dequantising matmul, gather, slice, concat, broadcast, reduce, norms,
// select, top-k, rotary, and rounding of results to their buffer's dtype.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;

namespace {

schedule::Unit unitOf(schedule::Opcode opcode) {
  switch (opcode) {
  case schedule::MEM_WRITE:
  case schedule::MEM_READ:
  case schedule::MEM_GATHER:
  case schedule::MEM_SLICE:
  case schedule::MEM_CONCAT:
    return schedule::MEM;
  case schedule::MXM_MATMUL_DQ:
    return schedule::MXM;
  case schedule::SXM_BROADCAST:
    return schedule::SXM;
  default:
    return schedule::VXM;
  }
}

/// Instructions 100,000 cycles apart: every case is timing-legal.
struct Program {
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
  uint32_t weight(const std::string &name, std::vector<int64_t> shape,
                  const std::vector<float> &values) {
    return b.buffer(name, schedule::WEIGHT, shape, schedule::F32, values);
  }
  uint32_t output(std::vector<int64_t> shape, schedule::DType dtype = schedule::F32) {
    return b.buffer("y", schedule::OUTPUT, shape, dtype);
  }
  std::vector<float> run(uint32_t y, const std::vector<sim::TensorData> &inputs) {
    next(schedule::MEM_READ, {y}, {});
    auto report = sim::simulate(b.schedule, test::testSystem(), inputs, {});
    if (!report) {
      FAIL(report.error());
    }
    REQUIRE(report->functional);
    return report->outputs.at(0).values;
  }
};

void checkClose(const std::vector<float> &actual, const std::vector<double> &expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == Approx(expected[i]).epsilon(1e-6).margin(1e-6));
  }
}

} // namespace

TEST_CASE("MXM_MATMUL_DQ: int8 and int4 weights times per-channel scales", "[transformer]") {
  SECTION("int8") {
    Program t;
    const uint32_t a = t.input("a", {1, 2});
    const uint32_t w = t.b.buffer("w", schedule::WEIGHT, {2, 2}, schedule::INT8);
    t.b.find(w)->set_data(std::string{char(1), char(-2), char(127), char(-128)});
    const uint32_t s = t.weight("s", {2}, {0.5f, 0.25f});
    const uint32_t y = t.output({1, 2});
    t.next(schedule::MXM_MATMUL_DQ, {a, w, s}, {y});
    // [3, 4] @ [[1, -2], [127, -128]] = [511, -518]; times [0.5, 0.25].
    checkClose(t.run(y, {{"a", {1, 2}, {3, 4}}}), {255.5, -129.5});
  }
  SECTION("int4, packed two per byte") {
    Program t;
    const uint32_t a = t.input("a", {1, 2});
    const uint32_t w = t.b.buffer("w", schedule::WEIGHT, {2, 2}, schedule::INT4);
    t.b.find(w)->set_data(std::string{char(0xF7), char(0x28)}); // [[7, -1], [-8, 2]]
    const uint32_t s = t.weight("s", {2}, {1.0f, 2.0f});
    const uint32_t y = t.output({1, 2});
    t.next(schedule::MXM_MATMUL_DQ, {a, w, s}, {y});
    checkClose(t.run(y, {{"a", {1, 2}, {1, 1}}}), {-1, 2});
  }
}

TEST_CASE("results are rounded to their buffer's dtype", "[transformer]") {
  Program t;
  const uint32_t a = t.input("a", {3}, schedule::F16);
  const uint32_t y = t.output({3}, schedule::F16);
  t.next(schedule::VXM_UNARY, {a}, {y}).set_kind(schedule::EXP);
  // Inputs are rounded to f16 as the host writes them; exp's result is rounded again.
  const std::vector<float> out = t.run(y, {{"a", {3}, {0.1f, 1.0f, 12.0f}}});
  CHECK(out[0] == Approx(1.10546875)); // exp(f16(0.1) = 0.0999755859) = 1.10514, f16 1.10546875
  CHECK(out[1] == 2.71875f);           // exp(1) = 2.71828 -> f16 2.71875
  CHECK(std::isinf(out[2]));           // exp(12) = 162755 > 65504
}

TEST_CASE("gather, slice, concat, broadcast", "[transformer]") {
  SECTION("gather rows by i32 ids, negative ids from the end") {
    Program t;
    const uint32_t table = t.weight("table", {3, 2}, {1, 2, 3, 4, 5, 6});
    const uint32_t ids = t.input("ids", {2}, schedule::INT32);
    const uint32_t y = t.output({2, 2});
    t.next(schedule::MEM_GATHER, {table, ids}, {y}).set_axis(0);
    checkClose(t.run(y, {{"ids", {2}, {2, -3}}}), {5, 6, 1, 2});
  }
  SECTION("gather index out of range is an error naming the instruction") {
    Program t;
    const uint32_t table = t.weight("table", {3, 2}, {1, 2, 3, 4, 5, 6});
    const uint32_t ids = t.input("ids", {1}, schedule::INT32);
    const uint32_t y = t.output({1, 2});
    t.next(schedule::MEM_GATHER, {table, ids}, {y}).set_axis(0);
    t.next(schedule::MEM_READ, {y}, {});
    auto report = sim::simulate(t.b.schedule, test::testSystem(), {{"ids", {1}, {3}}}, {});
    REQUIRE(!report);
    CHECK_THAT(report.error(), Catch::Contains("MEM_GATHER") && Catch::Contains("outside [0, 3)"));
  }
  SECTION("strided slice") {
    Program t;
    const uint32_t x = t.input("x", {2, 4});
    const uint32_t y = t.output({2, 2});
    schedule::Instruction &inst = t.next(schedule::MEM_SLICE, {x}, {y});
    for (int64_t v : {0, 1}) {
      inst.add_starts(v);
    }
    for (int64_t v : {1, 2}) {
      inst.add_steps(v);
    }
    checkClose(t.run(y, {{"x", {2, 4}, {0, 1, 2, 3, 4, 5, 6, 7}}}), {1, 3, 5, 7});
  }
  SECTION("concat on the middle axis (KV append)") {
    Program t;
    const uint32_t past = t.input("past", {2, 1, 2});
    const uint32_t fresh = t.weight("new", {2, 1, 2}, {9, 9, 8, 8});
    const uint32_t y = t.output({2, 2, 2});
    t.next(schedule::MEM_CONCAT, {past, fresh}, {y}).set_axis(1);
    checkClose(t.run(y, {{"past", {2, 1, 2}, {1, 2, 3, 4}}}), {1, 2, 9, 9, 3, 4, 8, 8});
  }
  SECTION("broadcast") {
    Program t;
    const uint32_t x = t.input("x", {2, 1});
    const uint32_t y = t.output({2, 3});
    t.next(schedule::SXM_BROADCAST, {x}, {y});
    checkClose(t.run(y, {{"x", {2, 1}, {1, 2}}}), {1, 1, 1, 2, 2, 2});
  }
}

TEST_CASE("reduce, norms, select, top-k, rotary", "[transformer]") {
  SECTION("reduce sum and mean over axes") {
    Program t;
    const uint32_t x = t.input("x", {2, 3});
    const uint32_t y = t.output({1, 3});
    schedule::Instruction &inst = t.next(schedule::VXM_REDUCE, {x}, {y});
    inst.set_kind(schedule::REDUCE_MEAN);
    inst.add_axes(0);
    checkClose(t.run(y, {{"x", {2, 3}, {1, 2, 3, 5, 6, 7}}}), {3, 4, 5});
  }
  SECTION("rms norm") {
    Program t;
    const uint32_t x = t.input("x", {1, 2});
    const uint32_t g = t.weight("g", {2}, {1, 2});
    const uint32_t y = t.output({1, 2});
    schedule::Instruction &inst = t.next(schedule::VXM_RMS_NORM, {x, g}, {y});
    inst.set_axis(1);
    inst.set_epsilon(0);
    // rms([3, 4]) = sqrt(12.5)
    checkClose(t.run(y, {{"x", {1, 2}, {3, 4}}}), {3 / std::sqrt(12.5), 8 / std::sqrt(12.5)});
  }
  SECTION("layer norm") {
    Program t;
    const uint32_t x = t.input("x", {2});
    const uint32_t g = t.weight("g", {2}, {1, 1});
    const uint32_t bias = t.weight("b", {2}, {10, 20});
    const uint32_t y = t.output({2});
    schedule::Instruction &inst = t.next(schedule::VXM_LAYER_NORM, {x, g, bias}, {y});
    inst.set_axis(0);
    inst.set_epsilon(0);
    checkClose(t.run(y, {{"x", {2}, {1, 3}}}), {9, 21});
  }
  SECTION("select with a broadcast i8 mask") {
    Program t;
    const uint32_t mask = t.b.buffer("m", schedule::WEIGHT, {2}, schedule::INT8);
    t.b.find(mask)->set_data(std::string{char(1), char(0)});
    const uint32_t x = t.input("x", {2, 2});
    const uint32_t fill = t.weight("fill", {}, {-100});
    const uint32_t y = t.output({2, 2});
    t.next(schedule::VXM_SELECT, {mask, x, fill}, {y});
    checkClose(t.run(y, {{"x", {2, 2}, {1, 2, 3, 4}}}), {1, -100, 3, -100});
  }
  SECTION("top-k values and indices, ties to the lower index") {
    for (bool indices : {false, true}) {
      Program t;
      const uint32_t x = t.input("x", {1, 4});
      const uint32_t y = t.output({1, 2}, indices ? schedule::INT32 : schedule::F32);
      schedule::Instruction &inst = t.next(schedule::VXM_TOPK, {x}, {y});
      inst.set_axis(1);
      inst.set_k(2);
      inst.set_topk_indices(indices);
      const std::vector<float> out = t.run(y, {{"x", {1, 4}, {0.5, 2, 0.1, 2}}});
      checkClose(out, indices ? std::vector<double>{1, 3} : std::vector<double>{2, 2});
    }
  }
  SECTION("rotary: x * cos + rotate_half(x) * sin") {
    Program t;
    const uint32_t x = t.input("x", {1, 4});
    const uint32_t c = t.weight("cos", {4}, {1, 0, 1, 0});
    const uint32_t s = t.weight("sin", {4}, {0, 1, 0, 1});
    const uint32_t y = t.output({1, 4});
    t.next(schedule::VXM_ROTARY, {x, c, s}, {y});
    // rotate_half([1, 2, 3, 4]) = [-3, -4, 1, 2]
    checkClose(t.run(y, {{"x", {1, 4}, {1, 2, 3, 4}}}), {1, -4, 3, 2});
  }
}

TEST_CASE("transformer opcodes with inconsistent shapes are rejected before running",
          "[transformer]") {
  Program t;
  const uint32_t x = t.input("x", {2, 3});
  const uint32_t y = t.output({2, 2}); // a concat of [2,3] and [2,3] on axis 0 is [4, 3]
  const uint32_t other = t.weight("o", {2, 3}, {1, 2, 3, 4, 5, 6});
  t.next(schedule::MEM_CONCAT, {x, other}, {y}).set_axis(0);
  t.next(schedule::MEM_READ, {y}, {});
  auto report = sim::simulate(t.b.schedule, test::testSystem(), {}, {});
  REQUIRE(!report);
  CHECK_THAT(report.error(), Catch::Contains("should have shape [4x3]"));
}
