// The simulator's fast paths against the plain ones they replace: allocation-free shape
// checks, the one-pass timing check and its fallback, the reciprocal vector count, sparse
// buffer ids, program energy sums, and the order of structural errors.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/EnergyModel.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "conveyor/Simulator/Simulator.h"
#include "conveyor/Simulator/TensorShape.h"

#include <catch2/catch.hpp>

#include <random>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;
using conveyor::test::testSystem;

namespace {

const std::vector<sim::Shape> kShapes = {
    {},           {0},    {1},    {3},       {4},       {2, 3},      {3, 2},       {3, 4},
    {4, 3},       {1, 3}, {3, 1}, {2, 3, 4}, {2, 4, 3}, {1, 3, 4},   {5, 1, 3, 4}, {5, 2, 4, 3},
    {2, 1, 4, 3}, {1, 4}, {4, 1}, {2, 0, 3}, {6, 2, 3}, {1, 1, 3, 2}};

std::string shapeName(const sim::Shape &shape) { return sim::shapeText(shape); }

} // namespace

TEST_CASE("allocation-free shape checks agree with the allocating functions", "[hotpath]") {
  for (const sim::Shape &lhs : kShapes) {
    for (const sim::Shape &rhs : kShapes) {
      CAPTURE(shapeName(lhs), shapeName(rhs));
      const std::optional<sim::MatmulDims> dims = sim::matmulDims(lhs, rhs);
      const std::optional<sim::MatmulSizes> sizes = sim::matmulSizes(lhs, rhs);
      REQUIRE(dims.has_value() == sizes.has_value());
      if (dims) {
        CHECK(sizes->batch == dims->batch);
        CHECK(sizes->m == dims->m);
        CHECK(sizes->k == dims->k);
        CHECK(sizes->n == dims->n);
      }
      const std::optional<sim::Shape> broadcast = sim::broadcastShapes(lhs, rhs);
      for (const sim::Shape &result : kShapes) {
        CAPTURE(shapeName(result));
        CHECK(sim::isMatmulResult(lhs, rhs, result) == (dims && dims->result == result));
        CHECK(sim::isBroadcastResult(lhs, rhs, result) == (broadcast && *broadcast == result));
      }
      if (dims) {
        CHECK(sim::isMatmulResult(lhs, rhs, dims->result));
      }
    }
  }
  const sim::Shape shape = {2, 3, 4};
  for (const std::vector<int64_t> &perm :
       std::vector<std::vector<int64_t>>{{0, 1, 2}, {2, 0, 1}, {1, 0, 2}, {2, 1, 0}}) {
    const sim::Shape transposed = sim::transposedShape(shape, perm);
    for (const sim::Shape &result : kShapes) {
      CHECK(sim::isTransposedResult(shape, perm, result) == (result == transposed));
    }
    CHECK(sim::isTransposedResult(shape, perm, transposed));
  }
}

TEST_CASE("vector counts are exact ceilings for every byte count", "[hotpath]") {
  // int8 tensors of n elements are n bytes; the table's reciprocal division must give
  // ceil(n / V) for all of them, around every multiple of V and for a large count.
  for (uint64_t vectorBytes : {1u, 3u, 7u, 320u, 4096u}) {
    ScheduleBuilder b;
    std::vector<int64_t> sizes;
    for (int64_t n = 0; n < 1300; ++n) {
      sizes.push_back(n);
    }
    for (int64_t k : {1000, 123457, 9999991}) {
      for (int64_t delta : {-1, 0, 1}) {
        sizes.push_back(k * int64_t(vectorBytes) + delta);
      }
    }
    sizes.push_back((int64_t(1) << 52) + 5); // beyond exact doubles: the division path
    for (int64_t n : sizes) {
      b.buffer("b" + std::to_string(n), schedule::ACTIVATION, {n}, schedule::INT8);
    }
    const sim::BufferTable table(b.schedule, vectorBytes);
    for (size_t i = 0; i < sizes.size(); ++i) {
      CAPTURE(vectorBytes, sizes[i]);
      const uint64_t bytes = uint64_t(sizes[i]);
      CHECK(table.at(i).bytes == bytes);
      CHECK(table.at(i).vectors == (bytes + vectorBytes - 1) / vectorBytes);
    }
  }
}

TEST_CASE("a read of a buffer written later at the same cycle is legal and still timed",
          "[hotpath]") {
  // Zero latencies and empty tensors make durations 0, so an instruction may read what a
  // later one (in program order, same cycle) writes. The one-pass check cannot see that far
  // ahead; it must hand over to the two-pass check, which accepts.
  system::SystemConfig config = testSystem();
  config.chip.mem.latencyCycles = 0;
  config.chip.vxm.latencyCycles = 0;
  config.chip.host.latencyCycles = 0;
  ScheduleBuilder b(config);
  const uint32_t a = b.buffer("a", schedule::INPUT, {0});
  const uint32_t copy = b.buffer("copy", schedule::ACTIVATION, {0});
  const uint32_t out = b.buffer("out", schedule::OUTPUT, {0});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
  ScheduleBuilder::add(p, 5, schedule::VXM_UNARY, {copy}, {out}).set_kind(schedule::RELU);
  ScheduleBuilder::add(p, 5, schedule::MEM_COPY, {a}, {copy});
  auto report = sim::simulate(b.schedule, config, {}, sim::SimulationOptions{false});
  REQUIRE(report.ok());
  CHECK(report->programs.at(0).cycles == 5);
  CHECK(report->programs.at(0).units.at("VXM").instructions == 1);
  CHECK(report->programs.at(0).units.at("MEM").instructions == 2);

  // A copy one cycle later is not ready for the relu.
  p.mutable_instructions(2)->set_issue_cycle(6);
  auto late = sim::simulate(b.schedule, config, {}, sim::SimulationOptions{false});
  REQUIRE_FALSE(late.ok());
  CHECK_THAT(late.error(), Catch::Contains("data read before ready: operand 'copy' is ready at "
                                           "cycle 6"));
}

TEST_CASE("sparse buffer ids give the same report as dense ones", "[hotpath]") {
  auto build = [](uint32_t idScale) {
    ScheduleBuilder b;
    const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {320, 64});
    const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 64});
    const uint32_t v = b.view("hv", h, {64});
    const uint32_t y = b.buffer("y", schedule::OUTPUT, {64});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
    ScheduleBuilder::add(p, 1290, schedule::MXM_MATMUL, {x, w}, {h});
    ScheduleBuilder::add(p, 1405, schedule::VXM_UNARY, {v}, {y}).set_kind(schedule::GELU);
    ScheduleBuilder::add(p, 1500, schedule::MEM_READ, {y}, {});
    // Renumber every id (and every reference) as id * idScale.
    for (schedule::Buffer &buffer : *b.schedule.mutable_buffers()) {
      buffer.set_id(buffer.id() * idScale);
      buffer.set_alias_of(buffer.alias_of() * idScale);
    }
    for (schedule::Instruction &inst : *p.mutable_instructions()) {
      for (uint32_t &id : *inst.mutable_operands()) {
        id *= idScale;
      }
      for (uint32_t &id : *inst.mutable_results()) {
        id *= idScale;
      }
    }
    return b.schedule;
  };
  auto dense = sim::simulate(build(1), testSystem(), {}, sim::SimulationOptions{false});
  auto sparse = sim::simulate(build(100003), testSystem(), {}, sim::SimulationOptions{false});
  REQUIRE(dense.ok());
  REQUIRE(sparse.ok());
  CHECK(sim::renderJson(*dense) == sim::renderJson(*sparse));

  // Sparse ids are still checked: a dangling one is reported.
  schedule::Schedule broken = build(100003);
  broken.mutable_programs(0)->mutable_instructions(1)->set_operands(1, 7);
  auto rejected = sim::simulate(broken, testSystem(), {}, sim::SimulationOptions{false});
  REQUIRE_FALSE(rejected.ok());
  CHECK_THAT(rejected.error(), Catch::Contains("operand 7 is not a buffer"));
}

TEST_CASE("program energy equals the sum of instruction energies, bit for bit", "[hotpath]") {
  Result<system::SystemConfig> config =
      system::loadSystemConfig(CONVEYOR_SOURCE_DIR "/systems/groq-1.yaml");
  REQUIRE(config.ok());
  ScheduleBuilder b(*config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 8, 64});
  const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 256}, schedule::F16);
  const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 8, 256}, schedule::F16);
  const uint32_t g = b.buffer("g", schedule::ACTIVATION, {1, 8, 256}, schedule::F16);
  const uint32_t s = b.buffer("s", schedule::ACTIVATION, {1, 8, 256}, schedule::F16);
  const uint32_t t = b.buffer("t", schedule::ACTIVATION, {1, 256, 8}, schedule::F16);
  schedule::Program &p = b.program();
  // Cycles far apart: this test is about energy, not timing.
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, 10000, schedule::MXM_MATMUL, {x, w}, {h});
  ScheduleBuilder::add(p, 20000, schedule::VXM_UNARY, {h}, {g}).set_kind(schedule::GELU_TANH);
  ScheduleBuilder::add(p, 30000, schedule::VXM_SOFTMAX, {g}, {s}).set_axis(2);
  schedule::Instruction &transpose =
      ScheduleBuilder::add(p, 40000, schedule::SXM_TRANSPOSE, {s}, {t});
  for (int64_t axis : {0, 2, 1}) {
    transpose.add_perm(axis);
  }
  REQUIRE(schedule::validateSchedule(b.schedule, "test").ok());
  const sim::HardwareModel model = *sim::buildHardwareModel(*config);
  const sim::BufferTable buffers(b.schedule, model.vectorBytes);
  Result<sim::ProgramTiming> timing = sim::checkProgram(model, buffers, p);
  REQUIRE(timing.ok());
  Result<sim::ProgramEnergy> energy = sim::programEnergy(model, buffers, p, timing->costs);
  REQUIRE(energy.ok());
  sim::EnergyParts categories{};
  std::array<double, sim::kReportedUnits.size()> units{};
  for (int i = 0; i < p.instructions_size(); ++i) {
    Result<sim::EnergyParts> parts =
        sim::instructionEnergy(model, buffers, p.instructions(i), timing->costs[size_t(i)]);
    REQUIRE(parts.ok());
    double total = 0;
    for (size_t c = 0; c < sim::kEnergyCategories; ++c) {
      categories[c] += (*parts)[c];
      total += (*parts)[c];
    }
    units[sim::unitSlot(p.instructions(i).unit())] += total;
  }
  CHECK(energy->categories == categories);
  CHECK(energy->units == units);
  CHECK(categories[size_t(sim::EnergyCategory::Mac)] > 0);
  CHECK(categories[size_t(sim::EnergyCategory::Vxm)] > 0);
  CHECK(categories[size_t(sim::EnergyCategory::Host)] > 0);
}

TEST_CASE("structural errors keep their order", "[hotpath]") {
  ScheduleBuilder b;
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 320});
  const uint32_t z = b.buffer("z", schedule::ACTIVATION, {1, 320});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, 2000, schedule::VXM_UNARY, {x}, {y}).set_kind(schedule::RELU);
  (void)z;
  auto errorOf = [](const schedule::Schedule &s) {
    Status status = schedule::validateSchedule(s, "f.sched");
    return status.ok() ? std::string("(accepted)") : status.error();
  };
  SECTION("an id problem of a later buffer before a shape problem of an earlier one") {
    b.schedule.mutable_buffers(0)->set_shape(0, -1);
    b.schedule.mutable_buffers(2)->set_id(2);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("duplicate buffer id 2"));
  }
  SECTION("the first of several buffer problems") {
    b.schedule.mutable_buffers(1)->set_dtype(schedule::DTYPE_UNSPECIFIED);
    b.schedule.mutable_buffers(2)->set_shape(0, -1);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("buffer 2 ('y'): dtype 0"));
  }
  SECTION("a buffer problem before a view problem") {
    b.view("v", x, {3, 7});
    b.schedule.mutable_buffers(2)->set_shape(0, -1);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("buffer 3 ('z'): shape has negative"));
  }
  SECTION("a view that aliases itself") {
    const uint32_t v = b.view("v", x, {320});
    b.find(v)->set_alias_of(v);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("buffer 4 ('v'): alias_of chain forms a "
                                                    "cycle"));
  }
  SECTION("a chain that runs into a cycle elsewhere") {
    const uint32_t v1 = b.view("v1", x, {320});
    const uint32_t v2 = b.view("v2", v1, {320});
    const uint32_t v3 = b.view("v3", v2, {320});
    b.find(v1)->set_alias_of(v3); // v3 -> v2 -> v1 -> v3
    const uint32_t entry = b.view("entry", v3, {320});
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("cycle"));
    // The first view in buffer order is reported.
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("buffer 4 ('v1')"));
    (void)entry;
  }
  SECTION("an operand on another chip") {
    b.schedule.mutable_system()->set_chips(2);
    b.schedule.mutable_buffers(0)->set_chip(1);
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("result buffer 1 ('x') lives on chip 1, not on this program's "
                               "chip"));
  }
}

TEST_CASE("the one-pass decoder and the plain checks give the same report or the same message",
          "[hotpath][onepass]") {
  // A valid program over every v1 opcode, with a view and weights that carry data; then
  // thousands of random single-field mutations. For each schedule the fast path
  // (SimulationOptions::onePass) and the plain sequence must agree: the same JSON report and
  // outputs, or the same error message.
  ScheduleBuilder b;
  std::vector<float> weights(64 * 32);
  for (size_t i = 0; i < weights.size(); ++i) {
    weights[i] = float(int(i % 13) - 6) / 16.0f;
  }
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 8, 64});
  const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32}, schedule::F32, weights);
  const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 8, 32});
  const uint32_t hv = b.view("hv", h, {8, 32});
  const uint32_t g = b.buffer("g", schedule::ACTIVATION, {8, 32});
  const uint32_t t = b.buffer("t", schedule::ACTIVATION, {32, 8});
  const uint32_t s = b.buffer("s", schedule::ACTIVATION, {32, 8});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {32, 8});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x}, "in");
  ScheduleBuilder::add(p, 10000, schedule::MXM_MATMUL, {x, w}, {h}, "mm");
  ScheduleBuilder::add(p, 20000, schedule::VXM_UNARY, {hv}, {g}, "act").set_kind(schedule::GELU);
  schedule::Instruction &transpose =
      ScheduleBuilder::add(p, 30000, schedule::SXM_TRANSPOSE, {g}, {t}, "tr");
  transpose.add_perm(1);
  transpose.add_perm(0);
  ScheduleBuilder::add(p, 40000, schedule::VXM_SOFTMAX, {t}, {s}, "sm").set_axis(1);
  ScheduleBuilder::add(p, 50000, schedule::MEM_COPY, {s}, {y}, "copy");
  ScheduleBuilder::add(p, 60000, schedule::MEM_READ, {y}, {}, "out");
  const schedule::Schedule valid = b.schedule;
  std::vector<sim::TensorData> inputs(1);
  inputs[0].name = "x";
  inputs[0].shape = {1, 8, 64};
  for (int i = 0; i < 8 * 64; ++i) {
    inputs[0].values.push_back(float(i % 7) / 8.0f);
  }

  size_t accepted = 0, rejected = 0;
  auto compare = [&](const schedule::Schedule &schedule) {
    for (bool functional : {false, true}) {
      sim::SimulationOptions fast, plain;
      fast.functional = plain.functional = functional;
      plain.onePass = false;
      Result<sim::SimulationReport> one = sim::simulate(schedule, testSystem(), inputs, fast);
      Result<sim::SimulationReport> two = sim::simulate(schedule, testSystem(), inputs, plain);
      REQUIRE(one.ok() == two.ok());
      if (one.ok()) {
        ++accepted;
        CHECK(sim::renderJson(*one) == sim::renderJson(*two));
        REQUIRE(one->outputs.size() == two->outputs.size());
        for (size_t i = 0; i < one->outputs.size(); ++i) {
          CHECK(one->outputs[i].values == two->outputs[i].values);
        }
      } else {
        ++rejected;
        CHECK(one.error() == two.error());
      }
    }
  };
  compare(valid);
  REQUIRE(accepted == 2);

  std::mt19937 random(20261204);
  auto pick = [&](uint32_t n) { return uint32_t(random() % n); };
  for (int trial = 0; trial < 3000; ++trial) {
    schedule::Schedule mutated = valid;
    schedule::Program &program = *mutated.mutable_programs(0);
    schedule::Instruction &inst =
        *program.mutable_instructions(int(pick(uint32_t(program.instructions_size()))));
    schedule::Buffer &buffer = *mutated.mutable_buffers(int(pick(uint32_t(mutated.buffers_size()))));
    switch (pick(16)) {
    case 0:
      inst.set_issue_cycle(pick(70000));
      break;
    case 1:
      inst.set_opcode(schedule::Opcode(pick(100)));
      break;
    case 2:
      inst.set_unit(schedule::Unit(pick(8)));
      break;
    case 3:
      if (inst.operands_size() > 0) {
        inst.set_operands(int(pick(uint32_t(inst.operands_size()))), pick(12));
      } else {
        inst.add_operands(pick(12));
      }
      break;
    case 4:
      if (inst.results_size() > 0) {
        inst.set_results(0, pick(12));
      } else {
        inst.add_results(pick(12));
      }
      break;
    case 5:
      if (buffer.shape_size() > 0) {
        buffer.set_shape(int(pick(uint32_t(buffer.shape_size()))), int64_t(pick(70)) - 2);
      }
      break;
    case 6:
      buffer.set_dtype(schedule::DType(pick(9)));
      break;
    case 7:
      buffer.set_kind(schedule::BufferKind(pick(6)));
      break;
    case 8:
      buffer.set_alias_of(pick(3) == 0 ? 0 : pick(12));
      break;
    case 9:
      buffer.set_chip(pick(3));
      break;
    case 10:
      if (pick(2) == 0) {
        buffer.set_address(pick(4) * 320 + pick(2) * 7);
      } else {
        buffer.set_size_bytes(pick(6000));
      }
      break;
    case 11:
      inst.set_kind(schedule::ElementwiseKind(pick(30)));
      inst.set_axis(int64_t(pick(4)) - 1);
      break;
    case 12:
      inst.add_perm(pick(3));
      break;
    case 13:
      buffer.set_id(pick(12));
      break;
    case 14:
      inst.set_queue(pick(2));
      program.set_kind(schedule::ProgramKind(pick(5)));
      break;
    case 15:
      if (pick(2) == 0) {
        buffer.set_data(std::string(pick(40), 'x'));
      } else {
        mutated.mutable_system()->set_chips(pick(3));
      }
      break;
    }
    INFO("trial " << trial);
    compare(mutated);
  }
  // The mutations exercise both verdicts.
  CHECK(accepted > 100);
  CHECK(rejected > 1000);
}

TEST_CASE("SRAM placements out of address order get the same verdict on both paths",
          "[hotpath][sram]") {
  // The one-pass decoder accepts rule 4 on its own only for placements in address order;
  // anything else goes to checkSram's full form (sort, then scan), which must then decide
  // exactly as the plain sequence does.
  auto build = [] {
    ScheduleBuilder b;
    const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {320, 64});
    const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 64});
    const uint32_t v = b.view("hv", h, {64});
    const uint32_t y = b.buffer("y", schedule::OUTPUT, {64});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
    ScheduleBuilder::add(p, 1290, schedule::MXM_MATMUL, {x, w}, {h});
    ScheduleBuilder::add(p, 1405, schedule::VXM_UNARY, {v}, {y}).set_kind(schedule::GELU);
    ScheduleBuilder::add(p, 1500, schedule::MEM_READ, {y}, {});
    // Place the non-view buffers in reverse table order; the view follows its source.
    uint64_t address = 0;
    for (int i = b.schedule.buffers_size() - 1; i >= 0; --i) {
      schedule::Buffer &buffer = *b.schedule.mutable_buffers(i);
      if (buffer.alias_of() == 0) {
        buffer.set_address(address);
        address += buffer.size_bytes();
      }
    }
    b.find(v)->set_address(b.find(h)->address());
    return b.schedule;
  };
  auto both = [](const schedule::Schedule &s) {
    sim::SimulationOptions onePass{false}, plain{false};
    plain.onePass = false;
    return std::make_pair(sim::simulate(s, testSystem(), {}, onePass),
                          sim::simulate(s, testSystem(), {}, plain));
  };

  auto [fast, slow] = both(build());
  REQUIRE(fast.ok());
  REQUIRE(slow.ok());
  CHECK(sim::renderJson(*fast) == sim::renderJson(*slow));

  // Out of order and overlapping: x (last in address order) moved one byte into w's range.
  schedule::Schedule overlapping = build();
  schedule::Buffer &x = *overlapping.mutable_buffers(0);
  x.set_address(x.address() - 1);
  auto [fastError, slowError] = both(overlapping);
  REQUIRE_FALSE(fastError.ok());
  REQUIRE_FALSE(slowError.ok());
  CHECK_THAT(fastError.error(), Catch::Contains("buffers overlap"));
  CHECK(fastError.error() == slowError.error());
}
