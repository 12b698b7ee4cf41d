// The MEM port check (rule 5, docs/simulator.md "MEM ports"): deliberately double-booked slice
// ports rejected at the boundary (illegal at t-1, legal at t)
// on every simulator path: the one-pass decoder, the plain checks and the fabric engine.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;
using conveyor::test::testSystem;

namespace {

std::string errorOf(const schedule::Schedule &s, bool onePass = true) {
  sim::SimulationOptions options{false};
  options.onePass = onePass;
  auto result = sim::simulate(s, testSystem(), {}, options);
  return result ? std::string("(accepted)") : result.error();
}

std::string fabricErrorOf(const schedule::Schedule &s) {
  auto result = sim::simulateFabric(s, testSystem());
  return result ? std::string("(accepted)") : result.error();
}

// testSystem(): 320-byte vectors, 4 MEM slices, 2 banks, 1 B/cycle host, MEM latency 5, VXM
// latency 3. A [1x80] f32 tensor is 320 bytes = one vector, so the builder's buffers land on
// slices 0, 1, 2, 3, 0, ... in declaration order; a host write of one takes 320 cycles.

/// a (slice 0) and e (slice 0 again, one row up) written from the host; then relu(a) on the
/// VXM at cycle 700 and a MEM copy of e at `copyCycle`: both read slice 0.
ScheduleBuilder twoReadsOfSliceZero(uint64_t copyCycle) {
  ScheduleBuilder b;
  const uint32_t a = b.buffer("a", schedule::INPUT, {1, 80});    // slice 0, row 0
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 80});   // slice 1
  const uint32_t z = b.buffer("z", schedule::OUTPUT, {1, 80});   // slice 2
  b.buffer("pad", schedule::ACTIVATION, {1, 80});                // slice 3
  const uint32_t e = b.buffer("e", schedule::INPUT, {1, 80});    // slice 0, row 1
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a}, "a_in");
  ScheduleBuilder::add(p, 320, schedule::MEM_WRITE, {}, {e}, "e_in");
  ScheduleBuilder::add(p, 700, schedule::VXM_UNARY, {a}, {y}, "relu_a").set_kind(schedule::RELU);
  ScheduleBuilder::add(p, copyCycle, schedule::MEM_COPY, {e}, {z}, "copy_e");
  return b;
}

} // namespace

TEST_CASE("MEM port: two reads of one slice in the same cycle are double-booked", "[memport]") {
  const std::string expected =
      "chip 0, program 'forward', instruction 3 (MEM_COPY 'copy_e' at cycle 700): MEM slice 0 "
      "read port double-booked by instructions 2 and 3: instruction 2 (VXM_UNARY 'relu_a' at "
      "cycle 700) reads 1 vector(s) on it in cycles [700, 701) and instruction 3 reads 1 in "
      "[700, 701), 2 in 1 cycle(s) at one per cycle";
  CHECK(errorOf(twoReadsOfSliceZero(700).schedule) == expected);
  CHECK(errorOf(twoReadsOfSliceZero(700).schedule, /*onePass=*/false) == expected);
  CHECK_THAT(fabricErrorOf(twoReadsOfSliceZero(700).schedule),
             Catch::Contains("MEM slice 0 read port double-booked by instructions 2 and 3"));
  // One cycle later the relu's read is over.
  CHECK(errorOf(twoReadsOfSliceZero(701).schedule) == "(accepted)");
  CHECK(errorOf(twoReadsOfSliceZero(701).schedule, false) == "(accepted)");
  CHECK(fabricErrorOf(twoReadsOfSliceZero(701).schedule) == "(accepted)");
}

TEST_CASE("MEM port: reads of different slices, or a read and a write, share a cycle",
          "[memport]") {
  ScheduleBuilder b;
  const uint32_t a = b.buffer("a", schedule::INPUT, {1, 80});  // slice 0
  const uint32_t c = b.buffer("c", schedule::INPUT, {1, 80});  // slice 1
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 80}); // slice 2
  const uint32_t z = b.buffer("z", schedule::OUTPUT, {1, 80}); // slice 3
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
  ScheduleBuilder::add(p, 320, schedule::MEM_WRITE, {}, {c});
  ScheduleBuilder::add(p, 700, schedule::VXM_UNARY, {a}, {y}, "relu_a").set_kind(schedule::RELU);
  ScheduleBuilder::add(p, 700, schedule::MEM_COPY, {c}, {z}, "copy_c");
  CHECK(errorOf(b.schedule) == "(accepted)");
  CHECK(errorOf(b.schedule, false) == "(accepted)");
  CHECK(fabricErrorOf(b.schedule) == "(accepted)");
}

TEST_CASE("MEM port: two writes landing on one slice in the same cycle are double-booked",
          "[memport]") {
  // relu writes y over [ready - 1, ready) = [708, 709) (duration 5 + 3 + 1); a MEM copy
  // (duration 5 + 1) issued at 702 writes z, on y's slice, over [707, 708), at 703 over
  // [708, 709).
  auto build = [](uint64_t copyCycle) {
    ScheduleBuilder b;
    const uint32_t a = b.buffer("a", schedule::INPUT, {1, 80});  // slice 0
    const uint32_t c = b.buffer("c", schedule::INPUT, {1, 80});  // slice 1
    const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 80}); // slice 2
    b.buffer("pad", schedule::ACTIVATION, {1, 80});              // slice 3
    b.buffer("pad2", schedule::ACTIVATION, {1, 80});             // slice 0
    b.buffer("pad3", schedule::ACTIVATION, {1, 80});             // slice 1
    const uint32_t z = b.buffer("z", schedule::OUTPUT, {1, 80}); // slice 2 again
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
    ScheduleBuilder::add(p, 320, schedule::MEM_WRITE, {}, {c});
    ScheduleBuilder::add(p, 700, schedule::VXM_UNARY, {a}, {y}, "relu_a")
        .set_kind(schedule::RELU);
    ScheduleBuilder::add(p, copyCycle, schedule::MEM_COPY, {c}, {z}, "copy_c");
    return b;
  };
  CHECK_THAT(errorOf(build(703).schedule),
             Catch::Contains("MEM slice 2 write port double-booked by instructions 2 and 3"));
  CHECK(errorOf(build(702).schedule) == "(accepted)");
  CHECK(errorOf(build(704).schedule) == "(accepted)");
}
