// One test per timing rule of docs/timing-model.md, with the boundary: illegal at t-1,
// legal at t. Expected cycles are computed by hand from testSystem()'s round numbers.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;
using conveyor::test::testSystem;

namespace {

// Hand-computed on testSystem(): a [1x320] f32 tensor is 1280 bytes = 4 vectors.
constexpr uint64_t kWriteDone = 10 + 1280;    // MEM_WRITE: host latency + 1280 bytes at 1 B/cycle
constexpr uint64_t kReluOccupancy = 4;        // 4 vectors x 1 pass
constexpr uint64_t kReluDuration = 5 + 3 + 4; // mem + vxm latency + occupancy

Result<sim::SimulationReport> timeOnly(const schedule::Schedule &s,
                                       const system::SystemConfig &config = testSystem()) {
  return sim::simulate(s, config, {}, sim::SimulationOptions{false});
}

std::string errorOf(const schedule::Schedule &s,
                    const system::SystemConfig &config = testSystem()) {
  auto result = timeOnly(s, config);
  return result ? std::string("(accepted)") : result.error();
}

/// x (input) written at 0, then relu(x) -> y at `reluCycle`.
ScheduleBuilder writeThenRelu(uint64_t reluCycle) {
  ScheduleBuilder b;
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 320});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x}, "x_in");
  ScheduleBuilder::add(p, reluCycle, schedule::VXM_UNARY, {x}, {y}, "relu_1")
      .set_kind(schedule::RELU);
  return b;
}

} // namespace

TEST_CASE("data ready: an operand is readable at issue + duration of its writer", "[timing]") {
  CHECK(errorOf(writeThenRelu(kWriteDone - 1).schedule) ==
        "chip 0, program 'forward', instruction 1 (VXM_UNARY 'relu_1' at cycle 1289): data "
        "read before ready: operand 'x' is ready at cycle 1290");
  auto report = timeOnly(writeThenRelu(kWriteDone).schedule);
  REQUIRE(report.ok());
  CHECK(report->programs.at(0).cycles == kWriteDone + kReluDuration);
}

TEST_CASE("unit free: the next instruction on a unit waits for the previous occupancy",
          "[timing]") {
  auto build = [](uint64_t secondCycle) {
    ScheduleBuilder b = writeThenRelu(kWriteDone);
    const uint32_t z = b.buffer("z", schedule::ACTIVATION, {1, 320});
    ScheduleBuilder::add(b.schedule.mutable_programs()->at(0), secondCycle, schedule::VXM_UNARY,
                         {1}, {z}, "relu_2")
        .set_kind(schedule::RELU);
    return b;
  };
  CHECK(errorOf(build(kWriteDone + kReluOccupancy - 1).schedule) ==
        "chip 0, program 'forward', instruction 2 (VXM_UNARY 'relu_2' at cycle 1293): unit VXM "
        "double-booked: instruction 1 (VXM_UNARY 'relu_1' at cycle 1290) keeps it busy until "
        "cycle 1294");
  auto report = timeOnly(build(kWriteDone + kReluOccupancy).schedule);
  REQUIRE(report.ok());
  const sim::UnitStats &vxm = report->programs.at(0).units.at("VXM");
  CHECK(vxm.instructions == 2);
  CHECK(vxm.busyCycles == 2 * kReluOccupancy);
  CHECK(report->programs.at(0).cycles == kWriteDone + kReluOccupancy + kReluDuration);
}

TEST_CASE("unit free: host writes occupy MEM for their transfer", "[timing]") {
  auto build = [](uint64_t secondWrite) {
    ScheduleBuilder b;
    const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
    const uint32_t x2 = b.buffer("x2", schedule::INPUT, {1, 320});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
    ScheduleBuilder::add(p, secondWrite, schedule::MEM_WRITE, {}, {x2});
    return b;
  };
  CHECK_THAT(errorOf(build(1279).schedule),
             Catch::Contains("unit MEM double-booked") && Catch::Contains("busy until cycle 1280"));
  CHECK(timeOnly(build(1280).schedule).ok());
}

TEST_CASE("MXM duration is weight install plus compute plus latencies", "[timing]") {
  // a [2x64] f32 @ w [64x32] f32: install ceil(64*32*4 / 1000) = 9, compute
  // ceil(2*64*32 / 1000) = 5 (f32 timed at the f16 rate), duration 5 + 7 + 14 = 26.
  auto build = [](uint64_t secondMatmul, uint64_t reluCycle) {
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {2, 64});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32});
    const uint32_t h = b.buffer("h", schedule::ACTIVATION, {2, 32});
    const uint32_t h2 = b.buffer("h2", schedule::ACTIVATION, {2, 32});
    const uint32_t y = b.buffer("y", schedule::OUTPUT, {2, 32});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 1000, schedule::MXM_MATMUL, {a, w}, {h}, "mm_1");
    ScheduleBuilder::add(p, secondMatmul, schedule::MXM_MATMUL, {a, w}, {h2}, "mm_2");
    ScheduleBuilder::add(p, reluCycle, schedule::VXM_UNARY, {h}, {y}, "relu")
        .set_kind(schedule::RELU);
    return b;
  };
  CHECK_THAT(errorOf(build(1013, 1026).schedule),
             Catch::Contains("instruction 2 (MXM_MATMUL 'mm_2' at cycle 1013): unit MXM "
                             "double-booked") &&
                 Catch::Contains("busy until cycle 1014"));
  CHECK_THAT(errorOf(build(1014, 1025).schedule),
             Catch::Contains("operand 'h' is ready at cycle 1026"));
  auto report = timeOnly(build(1014, 1026).schedule);
  REQUIRE(report.ok());
  // Ends with mm_2 (1014 + 26 = 1040) vs relu (1026 + 5 + 3 + 1 vector = 1035).
  CHECK(report->programs.at(0).cycles == 1040);
  CHECK(report->programs.at(0).units.at("MXM").busyCycles == 28);
}

TEST_CASE("MXM: batch dims multiply install and compute; int8 uses its own rate", "[timing]") {
  SECTION("batched f32") {
    // B = 3: install ceil(3*8192 / 1000) = 25, compute ceil(3*4096 / 1000) = 13.
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {3, 2, 64});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32});
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {3, 2, 32});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 5000, schedule::MXM_MATMUL, {a, w}, {h});
    auto report = timeOnly(b.schedule);
    REQUIRE(report.ok());
    CHECK(report->programs.at(0).units.at("MXM").busyCycles == 38);
    CHECK(report->programs.at(0).cycles == 5000 + 5 + 7 + 38);
  }
  SECTION("int8") {
    // install ceil(2048 / 1000) = 3, compute ceil(4096 / 4000) = 2.
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {2, 64}, schedule::INT8);
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32}, schedule::INT8);
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {2, 32}, schedule::INT32);
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 5000, schedule::MXM_MATMUL, {a, w}, {h});
    auto report = timeOnly(b.schedule);
    REQUIRE(report.ok());
    CHECK(report->programs.at(0).units.at("MXM").busyCycles == 5);
  }
}

TEST_CASE("MXM: the P rows of a prefill share one weight install", "[timing][prefill]") {
  // a [1, P, 64] f32 @ w [64, 32] f32 on testSystem(): install ceil(8192 B / 1000) = 9 for
  // any P; compute ceil(P * 2048 / 1000) = 3 for P = 1 and 17 for P = 8. An install per
  // prompt row would make P = 8 cost 8 x 9 + 17 = 89.
  auto mxmBusy = [](int64_t rows) {
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {1, rows, 64});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32});
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {1, rows, 32});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 5000, schedule::MXM_MATMUL, {a, w}, {h});
    auto report = timeOnly(b.schedule);
    REQUIRE(report.ok());
    const uint64_t busy = report->programs.at(0).units.at("MXM").busyCycles;
    CHECK(report->programs.at(0).cycles == 5000 + 5 + 7 + busy);
    return busy;
  };
  CHECK(mxmBusy(1) == 9 + 3);
  CHECK(mxmBusy(8) == 9 + 17);
  CHECK(mxmBusy(8) < 8 * mxmBusy(1));
}

TEST_CASE("MXM: the next tile set installs while the current one computes", "[timing]") {
  // testSystem(): one plane of 320 x 320, so a tile set is 102,400 B. a [1, 40, 640] f32 @
  // w [640, 80] f32 = 204,800 B of weights = 2 sets: install ceil(204,800 / 1000) = 205,
  // compute ceil(40 * 51,200 / 1000) = 2,048 -> 2,048 + ceil(205 / 2) = 2,151 (not 2,253).
  // [1, 40, 320] @ [320, 80] (102,400 B, one set) overlaps nothing: 103 + 1,024.
  auto mxmBusy = [](int64_t k) {
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {1, 40, k});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {k, 80});
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {1, 40, 80});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 500000, schedule::MXM_MATMUL, {a, w}, {h});
    auto report = timeOnly(b.schedule);
    REQUIRE(report.ok());
    return report->programs.at(0).units.at("MXM").busyCycles;
  };
  CHECK(mxmBusy(640) == 2048 + 103);
  CHECK(mxmBusy(320) == 103 + 1024);
}

TEST_CASE("a dtype without an MXM rate is rejected", "[timing]") {
  SECTION("int4 activations") {
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {2, 64}, schedule::INT4);
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32}, schedule::INT4);
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {2, 32}, schedule::INT32);
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 5000, schedule::MXM_MATMUL, {a, w}, {h}, "mm");
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("instruction 1 (MXM_MATMUL 'mm' at cycle 5000): the MXM has no "
                               "rate for int4 activations"));
  }
  SECTION("f32 on a system whose floatTimingAs dtype has no rate") {
    system::SystemConfig config = testSystem();
    config.chip.mxm.floatTimingAs = system::DType::BF16;
    ScheduleBuilder b(config);
    const uint32_t a = b.buffer("a", schedule::INPUT, {2, 64});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {64, 32});
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {2, 32});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 5000, schedule::MXM_MATMUL, {a, w}, {h}, "mm");
    CHECK_THAT(errorOf(b.schedule, config),
               Catch::Contains("no rate for f32 activations (f32 is timed as bf16"));
  }
}

TEST_CASE("VXM chains longer than the ALU mesh take extra passes", "[timing]") {
  system::SystemConfig config = testSystem();
  config.chip.vxm.alusPerLane = 4; // gelu (12 ops) takes 3 passes, gelu_tanh (8) 2, relu 1
  for (auto [kind, passes] : {std::pair{schedule::GELU, 3}, std::pair{schedule::GELU_TANH, 2},
                              std::pair{schedule::RELU, 1}}) {
    ScheduleBuilder b(config);
    const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
    const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 320});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
    ScheduleBuilder::add(p, kWriteDone, schedule::VXM_UNARY, {x}, {y}).set_kind(kind);
    auto report = timeOnly(b.schedule, config);
    REQUIRE(report.ok());
    CHECK(report->programs.at(0).units.at("VXM").busyCycles == uint64_t(4 * passes));
    CHECK(report->programs.at(0).cycles == kWriteDone + 5 + 3 + uint64_t(4 * passes));
  }
}

TEST_CASE("every opcode's duration, chained at the earliest legal cycles", "[timing]") {
  ScheduleBuilder b;
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t c = b.buffer("c", schedule::ACTIVATION, {1, 320});
  const uint32_t s = b.buffer("s", schedule::ACTIVATION, {1, 320});
  const uint32_t t = b.buffer("t", schedule::ACTIVATION, {320, 1});
  const uint32_t v = b.view("v", t, {1, 320});
  const uint32_t d = b.buffer("d", schedule::OUTPUT, {1, 320});
  schedule::Program &p = b.program();
  // Each issue cycle is the previous one plus the previous duration, worked by hand.
  const uint64_t copyAt = kWriteDone;                  // MEM_WRITE: 10 + 1280
  const uint64_t softmaxAt = copyAt + 5 + 4;           // MEM_COPY: mem latency + 4 vectors
  const uint64_t transposeAt = softmaxAt + 5 + 3 + 12; // softmax: 3 passes x 4 vectors
  const uint64_t divAt = transposeAt + 5 + 2 + 4;      // transpose: 4 vectors
  const uint64_t readAt = divAt + 5 + 3 + 4 * 1;       // div: 2 ops fit one pass of 16 ALUs
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, copyAt, schedule::MEM_COPY, {x}, {c});
  ScheduleBuilder::add(p, softmaxAt, schedule::VXM_SOFTMAX, {c}, {s}).set_axis(1);
  schedule::Instruction &tr =
      ScheduleBuilder::add(p, transposeAt, schedule::SXM_TRANSPOSE, {s}, {t});
  tr.add_perm(1);
  tr.add_perm(0);
  ScheduleBuilder::add(p, divAt, schedule::VXM_BINARY, {v, s}, {d}).set_kind(schedule::DIV);
  ScheduleBuilder::add(p, readAt, schedule::MEM_READ, {d}, {});
  auto report = timeOnly(b.schedule);
  REQUIRE(report.ok());
  CHECK(report->programs.at(0).cycles == readAt + 10 + 5 + 1280);

  // One cycle earlier, each consumer is rejected.
  for (int index = 1; index < p.instructions_size(); ++index) {
    schedule::Schedule early = b.schedule;
    schedule::Instruction *inst = early.mutable_programs(0)->mutable_instructions(index);
    inst->set_issue_cycle(inst->issue_cycle() - 1);
    CAPTURE(index);
    CHECK_THAT(errorOf(early), Catch::Contains("data read before ready"));
  }
}

TEST_CASE("host transfer cycles round up the exact doc expression", "[timing]") {
  system::SystemConfig config = testSystem();
  config.chip.host.bytesPerSecond = 3e9; // 1280 bytes -> ceil(426.67) = 427 cycles
  ScheduleBuilder b(config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  ScheduleBuilder::add(b.program(), 0, schedule::MEM_WRITE, {}, {x});
  auto report = timeOnly(b.schedule, config);
  REQUIRE(report.ok());
  CHECK(report->programs.at(0).cycles == 10 + 427);
}

TEST_CASE("single writer: a buffer is written once per program", "[timing]") {
  ScheduleBuilder b = writeThenRelu(kWriteDone);
  schedule::Program &p = b.schedule.mutable_programs()->at(0);
  SECTION("same buffer") {
    ScheduleBuilder::add(p, 2000, schedule::VXM_UNARY, {1}, {2}, "relu_2").set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("instruction 2 (VXM_UNARY 'relu_2' at cycle 2000): single "
                               "writer: 'y' is already written by instruction 1"));
  }
  SECTION("through a view of the same storage") {
    const uint32_t v = b.view("y_view", 2, {320});
    const uint32_t z = b.buffer("z", schedule::INPUT, {320});
    ScheduleBuilder::add(p, 2000, schedule::MEM_WRITE, {}, {z});
    ScheduleBuilder::add(p, 4000, schedule::VXM_UNARY, {z}, {v}, "relu_2").set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("single writer: 'y_view' (storage of 'y') is already written"));
  }
}

TEST_CASE("weights are ready at cycle 0 and never written; other buffers must be written",
          "[timing]") {
  ScheduleBuilder b;
  const uint32_t w = b.buffer("w", schedule::WEIGHT, {1, 320});
  const uint32_t a = b.buffer("a", schedule::ACTIVATION, {1, 320});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 320});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_COPY, {w}, {y});
  REQUIRE(timeOnly(b.schedule).ok());
  SECTION("reading an activation nobody writes") {
    const uint32_t out = b.buffer("out", schedule::ACTIVATION, {1, 320});
    ScheduleBuilder::add(p, 100, schedule::VXM_UNARY, {a}, {out}).set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("operand 'a' is never written in this program and is not a "
                               "weight"));
  }
  SECTION("reading its own result") {
    ScheduleBuilder::add(p, 100, schedule::VXM_UNARY, {a}, {a}).set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("reads its own result 'a'"));
  }
  SECTION("writing a weight") {
    ScheduleBuilder::add(p, 100, schedule::VXM_UNARY, {y}, {w}).set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("writes 'w', a weight"));
  }
}

TEST_CASE("SRAM bounds: a buffer must end inside the chip's SRAM", "[timing][sram]") {
  const uint64_t sram = 4 * 1024 * 1024;
  auto build = [&](uint64_t address) {
    ScheduleBuilder b = writeThenRelu(kWriteDone);
    b.find(2)->set_address(address); // y: 1280 bytes reserved
    return b;
  };
  CHECK_THAT(errorOf(build(sram - 1280 + 1).schedule),
             Catch::Contains("chip 0, buffer 2 'y': SRAM overflow: 1280 bytes at address "
                             "4193025 end past the 4194304 bytes of SRAM of system 'test-chip'"));
  CHECK(timeOnly(build(sram - 1280).schedule).ok());
  CHECK_THAT(errorOf(build(uint64_t(1) << 63).schedule), Catch::Contains("SRAM overflow"));
}

TEST_CASE("SRAM: reserved size covers the tensor", "[timing][sram]") {
  ScheduleBuilder b = writeThenRelu(kWriteDone);
  b.find(1)->set_size_bytes(1279);
  CHECK_THAT(errorOf(b.schedule),
             Catch::Contains("buffer 1 'x': reserves 1279 bytes, but its f32 [1x320] tensor "
                             "needs 1280"));
}

TEST_CASE("SRAM: buffers of one chip do not overlap; views lie inside their source",
          "[timing][sram]") {
  auto build = [](uint64_t yAddress) {
    ScheduleBuilder b = writeThenRelu(kWriteDone); // x at [0, 1280)
    b.find(2)->set_address(yAddress);
    return b;
  };
  CHECK_THAT(errorOf(build(1279).schedule),
             Catch::Contains("chip 0: buffers overlap: buffer 1 'x' at [0, 1280) and buffer 2 "
                             "'y' at [1279, 2559)"));
  CHECK(timeOnly(build(1280).schedule).ok());
  ScheduleBuilder b = build(1280);
  const uint32_t v = b.view("x_view", 1, {320});
  b.find(v)->set_address(320);
  CHECK_THAT(errorOf(b.schedule), Catch::Contains("view at [320, 1600) lies outside its source "
                                                  "'x' at [0, 1280)"));
}

TEST_CASE("shapes and buffer kinds are checked per opcode", "[timing]") {
  ScheduleBuilder b;
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t wrong = b.buffer("wrong", schedule::OUTPUT, {1, 321});
  const uint32_t act = b.buffer("act", schedule::ACTIVATION, {1, 320});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  SECTION("unary result shape") {
    ScheduleBuilder::add(p, 2000, schedule::VXM_UNARY, {x}, {wrong}).set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("result 'wrong' has shape [1x321], but the operands give "
                               "[1x320]"));
  }
  SECTION("binary operands that do not broadcast") {
    ScheduleBuilder::add(p, 2000, schedule::VXM_BINARY, {x, wrong}, {act}).set_kind(schedule::ADD);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("do not broadcast"));
  }
  SECTION("matmul inner dimensions") {
    ScheduleBuilder::add(p, 2000, schedule::MXM_MATMUL, {x, x}, {act});
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("cannot be multiplied"));
  }
  SECTION("MEM_WRITE into an activation") {
    ScheduleBuilder::add(p, 2000, schedule::MEM_WRITE, {}, {act});
    CHECK_THAT(errorOf(b.schedule),
               Catch::Contains("MEM_WRITE must fill an INPUT buffer, but 'act' is an "
                               "activation"));
  }
  SECTION("MEM_READ of an activation") {
    ScheduleBuilder::add(p, 2000, schedule::MEM_READ, {x}, {});
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("MEM_READ must read an OUTPUT buffer"));
  }
  SECTION("queue other than 0") {
    ScheduleBuilder::add(p, 2000, schedule::VXM_UNARY, {x}, {act}).set_queue(3);
    p.mutable_instructions(1)->set_kind(schedule::RELU);
    CHECK_THAT(errorOf(b.schedule), Catch::Contains("queue 3 does not exist"));
  }
}

TEST_CASE("a schedule built for another system is refused, naming both", "[timing]") {
  ScheduleBuilder b = writeThenRelu(kWriteDone);
  system::SystemConfig other = testSystem();
  other.name = "other-chip";
  CHECK_THAT(errorOf(b.schedule, other),
             Catch::Contains("was built for system 'test-chip', not 'other-chip'"));
  system::SystemConfig changed = testSystem();
  changed.chip.vxm.latencyCycles = 4;
  CHECK_THAT(errorOf(b.schedule, changed),
             Catch::Contains("was built for a different version of system 'test-chip'"));
}

TEST_CASE("system parameters the rules divide by must be positive", "[timing]") {
  system::SystemConfig config = testSystem();
  config.chip.vxm.alusPerLane = 0;
  ScheduleBuilder b(config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  ScheduleBuilder::add(b.program(), 0, schedule::MEM_WRITE, {}, {x});
  CHECK_THAT(errorOf(b.schedule, config),
             Catch::Contains("system 'test-chip': chip.vxm.alus_per_lane is 0"));
}

TEST_CASE("VXM_SUM: one pass adds up to alus_per_lane + 1 addends, read once they are ready",
          "[timing]") {
  // x written at 0 (ready at kWriteDone); sum of `addends` reads of x at `sumCycle`.
  auto build = [](int addends, uint64_t sumCycle) {
    ScheduleBuilder b;
    const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
    const uint32_t y = b.buffer("y", schedule::ACTIVATION, {1, 320});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x}, "x_in");
    std::vector<uint32_t> operands(size_t(addends), x);
    ScheduleBuilder::add(p, sumCycle, schedule::VXM_SUM, operands, {y}, "sum");
    return b;
  };
  CHECK_THAT(errorOf(build(17, kWriteDone - 1).schedule),
             Catch::Contains("data read before ready: operand 'x' is ready at cycle 1290"));
  auto one = timeOnly(build(17, kWriteDone).schedule); // 16 adds: one pass of 16 ALUs
  REQUIRE(one.ok());
  CHECK(one->programs.at(0).cycles == kWriteDone + 5 + 3 + 4);
  auto two = timeOnly(build(18, kWriteDone).schedule); // 17 adds: two passes
  REQUIRE(two.ok());
  CHECK(two->programs.at(0).cycles == kWriteDone + 5 + 3 + 2 * 4);
  CHECK_THAT(errorOf(build(1, kWriteDone).schedule), Catch::Contains("VXM_SUM takes 2 to 32"));
  CHECK_THAT(errorOf(build(33, kWriteDone).schedule), Catch::Contains("VXM_SUM takes 2 to 32"));
}

TEST_CASE("MXM: a product installs its first tile set before its activations must be there",
          "[timing]") {
  // testSystem(): a tile set is 102,400 B, installed in ceil(102,400 / 1000) = 103 cycles.
  // a [1, 320] f32 is ready at kWriteDone (1290). w [640, 80] f32 is 204,800 B (install 205),
  // so the product may issue 103 cycles before a is ready, not 104. A product of one small
  // set (w [320, 40]: 51,200 B, install 52) may lead by its whole install.
  auto build = [](int64_t k, int64_t n, uint64_t at) {
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {1, k});
    const uint32_t w = b.buffer("w", schedule::WEIGHT, {k, n});
    const uint32_t h = b.buffer("h", schedule::OUTPUT, {1, n});
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, at, schedule::MXM_MATMUL, {a, w}, {h}, "mm");
    return b;
  };
  const uint64_t ready640 = 10 + 640 * 4; // MEM_WRITE of a [1, 640] f32 at 1 B/cycle
  CHECK_THAT(errorOf(build(640, 80, ready640 - 104).schedule),
             Catch::Contains("data read before ready"));
  CHECK(timeOnly(build(640, 80, ready640 - 103).schedule).ok());
  CHECK_THAT(errorOf(build(320, 40, kWriteDone - 53).schedule),
             Catch::Contains("data read before ready"));
  CHECK(timeOnly(build(320, 40, kWriteDone - 52).schedule).ok());
}
