// Functional numerics of each opcode against hand-computed values, input binding errors,
// and the timing-only fallback.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;

namespace {

/// A program under construction whose instructions issue 100,000 cycles apart, far more
/// than any duration here, so every case is timing-legal.
struct Program {
  ScheduleBuilder b;
  schedule::Program *p = &b.program();
  uint64_t cycle = 0;

  schedule::Instruction &next(schedule::Opcode opcode, std::vector<uint32_t> operands,
                              std::vector<uint32_t> results) {
    schedule::Instruction &inst = ScheduleBuilder::add(*p, cycle, opcode, operands, results);
    cycle += 100000;
    return inst;
  }
  uint32_t input(const std::string &name, std::vector<int64_t> shape) {
    const uint32_t id = b.buffer(name, schedule::INPUT, shape);
    next(schedule::MEM_WRITE, {}, {id});
    return id;
  }
  uint32_t output(const std::string &name, std::vector<int64_t> shape) {
    return b.buffer(name, schedule::OUTPUT, shape);
  }
  void read(uint32_t id) { next(schedule::MEM_READ, {id}, {}); }

  /// Runs functionally and returns the single output's values.
  std::vector<float> run(const std::vector<sim::TensorData> &inputs) {
    auto report = sim::simulate(b.schedule, test::testSystem(), inputs, {});
    if (!report) {
      FAIL(report.error());
    }
    REQUIRE(report->functional);
    REQUIRE(report->outputs.size() == 1);
    return report->outputs[0].values;
  }
};

void checkClose(const std::vector<float> &actual, const std::vector<double> &expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == Approx(expected[i]).epsilon(1e-6).margin(1e-7));
  }
}

} // namespace

TEST_CASE("matmul: 2-D, batched with broadcasting, and 1-D operands", "[functional]") {
  SECTION("2-D") {
    Program t;
    const uint32_t a = t.input("a", {2, 3});
    const uint32_t w =
        t.b.buffer("w", schedule::WEIGHT, {3, 2}, schedule::F32, {7, 8, 9, 10, 11, 12});
    const uint32_t y = t.output("y", {2, 2});
    t.next(schedule::MXM_MATMUL, {a, w}, {y});
    t.read(y);
    checkClose(t.run({{"a", {2, 3}, {1, 2, 3, 4, 5, 6}}}), {58, 64, 139, 154});
  }
  SECTION("lhs batch, shared weights") {
    Program t;
    const uint32_t a = t.input("a", {2, 1, 2});
    const uint32_t w = t.b.buffer("w", schedule::WEIGHT, {2, 2}, schedule::F32, {1, 2, 3, 4});
    const uint32_t y = t.output("y", {2, 1, 2});
    t.next(schedule::MXM_MATMUL, {a, w}, {y});
    t.read(y);
    checkClose(t.run({{"a", {2, 1, 2}, {1, 2, 3, 4}}}), {7, 10, 15, 22});
  }
  SECTION("rhs batch, lhs broadcast") {
    Program t;
    const uint32_t a = t.input("a", {1, 2});
    const uint32_t w = t.b.buffer("w", schedule::WEIGHT, {2, 2, 1}, schedule::F32, {1, 2, 3, 4});
    const uint32_t y = t.output("y", {2, 1, 1});
    t.next(schedule::MXM_MATMUL, {a, w}, {y});
    t.read(y);
    checkClose(t.run({{"a", {1, 2}, {5, 6}}}), {17, 39});
  }
  SECTION("1-D lhs") {
    Program t;
    const uint32_t a = t.input("a", {3});
    const uint32_t w =
        t.b.buffer("w", schedule::WEIGHT, {3, 2}, schedule::F32, {7, 8, 9, 10, 11, 12});
    const uint32_t y = t.output("y", {2});
    t.next(schedule::MXM_MATMUL, {a, w}, {y});
    t.read(y);
    checkClose(t.run({{"a", {3}, {1, 2, 3}}}), {58, 64});
  }
}

TEST_CASE("binary ops with numpy broadcasting", "[functional]") {
  struct Case {
    schedule::ElementwiseKind kind;
    std::vector<int64_t> lhsShape, rhsShape, outShape;
    std::vector<float> lhs, rhs;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {schedule::ADD,
       {2, 3},
       {3},
       {2, 3},
       {1, 2, 3, 4, 5, 6},
       {10, 20, 30},
       {11, 22, 33, 14, 25, 36}},
      {schedule::SUB, {2, 1}, {1, 3}, {2, 3}, {1, 2}, {10, 20, 30}, {-9, -19, -29, -8, -18, -28}},
      {schedule::MUL, {3}, {3}, {3}, {1, 2, 3}, {4, 5, 6}, {4, 10, 18}},
      {schedule::DIV, {3}, {3}, {3}, {1, 2, 3}, {2, 4, 8}, {0.5, 0.5, 0.375}},
      {schedule::MUL, {2, 2}, {}, {2, 2}, {1, 2, 3, 4}, {-2}, {-2, -4, -6, -8}},
  };
  for (const Case &c : cases) {
    CAPTURE(schedule::elementwiseName(c.kind));
    Program t;
    const uint32_t a = t.input("a", c.lhsShape);
    const uint32_t b = t.b.buffer("b", schedule::WEIGHT, c.rhsShape, schedule::F32, c.rhs);
    const uint32_t y = t.output("y", c.outShape);
    t.next(schedule::VXM_BINARY, {a, b}, {y}).set_kind(c.kind);
    t.read(y);
    checkClose(t.run({{"a", c.lhsShape, c.lhs}}), c.expected);
  }
}

TEST_CASE("unary ops: relu, exact gelu, tanh gelu", "[functional]") {
  const std::vector<float> x = {-2, -0.5, 0, 1, 3};
  const std::vector<std::pair<schedule::ElementwiseKind, std::vector<double>>> cases = {
      {schedule::RELU, {0, 0, 0, 1, 3}},
      {schedule::GELU,
       {-0.04550026389635842, -0.15426876936299344, 0, 0.8413447460685429, 2.99595030590511}},
      {schedule::GELU_TANH,
       {-0.04540230591222494, -0.15428599017485606, 0, 0.8411919906082768, 2.996362607918227}},
  };
  for (const auto &[kind, expected] : cases) {
    CAPTURE(schedule::elementwiseName(kind));
    Program t;
    const uint32_t a = t.input("x", {5});
    const uint32_t y = t.output("y", {5});
    t.next(schedule::VXM_UNARY, {a}, {y}).set_kind(kind);
    t.read(y);
    checkClose(t.run({{"x", {5}, x}}), expected);
  }
}

TEST_CASE("softmax along the last and the first axis, stable for large inputs", "[functional]") {
  SECTION("axis 1") {
    Program t;
    const uint32_t a = t.input("x", {2, 3});
    const uint32_t y = t.output("y", {2, 3});
    t.next(schedule::VXM_SOFTMAX, {a}, {y}).set_axis(1);
    t.read(y);
    checkClose(t.run({{"x", {2, 3}, {0, 1, 2, 1000, 1001, 1002}}}),
               {0.09003057, 0.24472847, 0.66524096, 0.09003057, 0.24472847, 0.66524096});
  }
  SECTION("axis 0") {
    Program t;
    const uint32_t a = t.input("x", {2, 2});
    const uint32_t y = t.output("y", {2, 2});
    t.next(schedule::VXM_SOFTMAX, {a}, {y}).set_axis(0);
    t.read(y);
    checkClose(t.run({{"x", {2, 2}, {1, 5, 3, 5}}}), {0.11920292, 0.5, 0.88079708, 0.5});
  }
}

TEST_CASE("transpose by perm", "[functional]") {
  SECTION("2-D") {
    Program t;
    const uint32_t a = t.input("x", {2, 3});
    const uint32_t y = t.output("y", {3, 2});
    schedule::Instruction &tr = t.next(schedule::SXM_TRANSPOSE, {a}, {y});
    tr.add_perm(1);
    tr.add_perm(0);
    t.read(y);
    checkClose(t.run({{"x", {2, 3}, {1, 2, 3, 4, 5, 6}}}), {1, 4, 2, 5, 3, 6});
  }
  SECTION("3-D, perm [2, 0, 1]") {
    Program t;
    const uint32_t a = t.input("x", {2, 3, 4});
    const uint32_t y = t.output("y", {4, 2, 3});
    schedule::Instruction &tr = t.next(schedule::SXM_TRANSPOSE, {a}, {y});
    for (int64_t axis : {2, 0, 1}) {
      tr.add_perm(axis);
    }
    t.read(y);
    std::vector<float> x(24);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = float(i); // x[j][k][i] = 12j + 4k + i
    }
    std::vector<double> expected;
    for (int i = 0; i < 4; ++i) { // y[i][j][k] = x[j][k][i]
      for (int j = 0; j < 2; ++j) {
        for (int k = 0; k < 3; ++k) {
          expected.push_back(12 * j + 4 * k + i);
        }
      }
    }
    checkClose(t.run({{"x", {2, 3, 4}, x}}), expected);
  }
}

TEST_CASE("copies and views share storage", "[functional]") {
  Program t;
  const uint32_t a = t.input("x", {2, 3});
  const uint32_t c = t.b.buffer("c", schedule::ACTIVATION, {2, 3});
  const uint32_t v = t.b.view("c_as_3x2", c, {3, 2});
  const uint32_t y = t.output("y", {3, 2});
  const uint32_t yView = t.b.view("y_flat", y, {6});
  t.b.find(yView)->set_kind(schedule::OUTPUT);
  t.next(schedule::MEM_COPY, {a}, {c});
  t.next(schedule::VXM_UNARY, {v}, {y}).set_kind(schedule::RELU);
  t.read(yView);
  auto report =
      sim::simulate(t.b.schedule, test::testSystem(), {{"x", {2, 3}, {1, -2, 3, -4, 5, -6}}}, {});
  REQUIRE(report.ok());
  REQUIRE(report->outputs.size() == 1);
  CHECK(report->outputs[0].name == "y_flat");
  CHECK(report->outputs[0].shape == std::vector<int64_t>{6});
  checkClose(report->outputs[0].values, {1, 0, 3, 0, 5, 0});
}

TEST_CASE("inputs must match the model's by name and shape", "[functional]") {
  Program t;
  const uint32_t a = t.input("x", {2, 3});
  const uint32_t y = t.output("y", {2, 3});
  t.next(schedule::VXM_UNARY, {a}, {y}).set_kind(schedule::RELU);
  t.read(y);
  auto errorWith = [&](const std::vector<sim::TensorData> &inputs) {
    auto report = sim::simulate(t.b.schedule, test::testSystem(), inputs, {});
    return report ? std::string("(accepted)") : report.error();
  };
  CHECK_THAT(errorWith({}), Catch::Contains("model input 'x' (f32 [2x3]) was not given"));
  CHECK_THAT(errorWith({{"x", {2, 3}, std::vector<float>(6)}, {"z", {1}, {1}}}),
             Catch::Contains("input 'z' is not an input of the model (inputs: 'x' [2x3])"));
  CHECK_THAT(errorWith({{"x", {3, 2}, std::vector<float>(6)}}),
             Catch::Contains("input 'x' has shape [3x2], but the model expects [2x3]"));
  CHECK_THAT(errorWith({{"x", {2, 3}, std::vector<float>(5)}}),
             Catch::Contains("input 'x' has 5 values"));
}

TEST_CASE("without weight data or with non-f32 buffers the run is timing-only", "[functional]") {
  SECTION("weight without data") {
    Program t;
    const uint32_t a = t.input("a", {2, 3});
    const uint32_t w = t.b.buffer("w", schedule::WEIGHT, {3, 2});
    const uint32_t y = t.output("y", {2, 2});
    t.next(schedule::MXM_MATMUL, {a, w}, {y});
    t.read(y);
    auto report = sim::simulate(t.b.schedule, test::testSystem(), {}, {});
    REQUIRE(report.ok());
    CHECK_FALSE(report->functional);
    CHECK(report->timingOnlyReason == "weight 'w' has no data (shape-only model)");
    CHECK(report->outputs.empty());
    CHECK_THAT(sim::renderText(*report), Catch::Contains("Mode: timing only (weight 'w' has no "
                                                         "data (shape-only model))"));
  }
  SECTION("int8 buffers run, holding int8 values (helper E: every dtype is emulated)") {
    Program t;
    const uint32_t a = t.b.buffer("a", schedule::INPUT, {2, 3}, schedule::INT8);
    t.next(schedule::MEM_WRITE, {}, {a});
    const uint32_t y = t.b.buffer("y", schedule::OUTPUT, {2, 3}, schedule::INT8);
    t.next(schedule::VXM_UNARY, {a}, {y}).set_kind(schedule::RELU);
    t.read(y);
    auto report =
        sim::simulate(t.b.schedule, test::testSystem(), {{"a", {2, 3}, {1.7f, -3, 300, 4, 5, 6}}}, {});
    REQUIRE(report.ok());
    CHECK(report->functional);
    CHECK(report->outputs.at(0).values == std::vector<float>{1, 0, 127, 4, 5, 6});
  }
  SECTION("functional run not requested") {
    Program t;
    const uint32_t a = t.input("a", {2, 3});
    (void)a;
    auto report = sim::simulate(t.b.schedule, test::testSystem(), {}, {false});
    REQUIRE(report.ok());
    CHECK_FALSE(report->functional);
    CHECK(report->timingOnlyReason == "functional run not requested");
  }
}

TEST_CASE("VXM_SUM adds every addend (an all-reduce's partials and the residual)",
          "[functional]") {
  Program t;
  const uint32_t a = t.input("a", {3});
  const uint32_t b = t.b.buffer("b", schedule::WEIGHT, {3}, schedule::F32, {10, 20, 30});
  const uint32_t c = t.b.buffer("c", schedule::WEIGHT, {3}, schedule::F32, {-1, -2, -3});
  const uint32_t y = t.output("y", {3});
  t.next(schedule::VXM_SUM, {a, b, c, b}, {y});
  t.read(y);
  checkClose(t.run({{"a", {3}, {1, 2, 3}}}), {20, 40, 60});
}
