// The MEM port check (rule 5, docs/simulator.md "MEM ports"): deliberately double-booked slice
// ports rejected at the boundary (illegal at t-1, legal at t)
// on every simulator path: the one-pass decoder, the plain checks and the fabric engine.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/MemPortCheck.h"
#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

#include <optional>
#include <random>

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


/// A read as rule 5's definition sees it: its window and the run of the 4 slices it covers
/// (from `firstSlice`, wrapping past the last), `perSlice` vectors on each.
struct Read {
  uint64_t start, end;
  uint32_t firstSlice, slices, perSlice;
  bool touches(uint32_t slice) const { return (slice + 4 - firstSlice) % 4 < slices; }
};

/// Rule 5 as documented, on one slice: `read` is refused there iff some interval [a, b)
/// around its window holds more vectors (its own and those of the reads in `held` still in
/// flight at `issue` whose windows lie inside) than b - a cycles.
bool overloadedOn(uint32_t slice, const Read &read, const std::vector<Read> &held,
                  uint64_t issue) {
  std::vector<Read> onSlice;
  for (const Read &other : held) {
    if (other.end > issue && other.touches(slice)) {
      onSlice.push_back(other);
    }
  }
  for (const Read &from : onSlice) {
    for (const Read &to : onSlice) {
      for (int own = 0; own < 4; ++own) {
        const uint64_t a = own & 1 ? read.start : std::min(from.start, read.start);
        const uint64_t b = own & 2 ? read.end : std::max(to.end, read.end);
        uint64_t vectors = read.perSlice;
        for (const Read &other : onSlice) {
          if (other.start >= a && other.end <= b) {
            vectors += other.perSlice;
          }
        }
        if (vectors > b - a) {
          return true;
        }
      }
    }
  }
  return false;
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

// Rule 6, streams (docs/simulator.md "Streams"): the transfers in flight move at most
// 2 x streams_per_direction vectors per cycle between MEM and the units.
namespace {

/// testSystem() with one stream each way: two vectors per cycle in all.
system::SystemConfig oneStreamEachWay() {
  system::SystemConfig config = testSystem();
  config.chip.streamsPerDirection = 1;
  return config;
}

std::string streamErrorOf(schedule::Schedule s, bool onePass) {
  const system::SystemConfig config = oneStreamEachWay();
  s.mutable_system()->set_fingerprint(system::fingerprint(config));
  sim::SimulationOptions options{false};
  options.onePass = onePass;
  auto result = sim::simulate(s, config, {}, options);
  return result ? std::string("(accepted)") : result.error();
}

std::string streamFabricErrorOf(schedule::Schedule s) {
  const system::SystemConfig config = oneStreamEachWay();
  s.mutable_system()->set_fingerprint(system::fingerprint(config));
  auto result = sim::simulateFabric(s, config);
  return result ? std::string("(accepted)") : result.error();
}

/// a + c on the VXM at cycle 700 (two one-vector reads in [700, 701)) and a MEM copy of d at
/// `copyCycle` (one read in [copyCycle, copyCycle + 1)); every buffer on its own slice, so
/// the port rule passes and only the streams can refuse it.
ScheduleBuilder threeReads(uint64_t copyCycle) {
  ScheduleBuilder b;
  const uint32_t a = b.buffer("a", schedule::INPUT, {1, 80});  // slice 0
  const uint32_t c = b.buffer("c", schedule::INPUT, {1, 80});  // slice 1
  const uint32_t d = b.buffer("d", schedule::INPUT, {1, 80});  // slice 2
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 80}); // slice 3
  const uint32_t z = b.buffer("z", schedule::OUTPUT, {1, 80}); // slice 0, row 1
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {a});
  ScheduleBuilder::add(p, 320, schedule::MEM_WRITE, {}, {c});
  ScheduleBuilder::add(p, 640, schedule::MEM_WRITE, {}, {d});
  ScheduleBuilder::add(p, 1000, schedule::VXM_BINARY, {a, c}, {y}, "add_ac")
      .set_kind(schedule::ADD);
  ScheduleBuilder::add(p, copyCycle, schedule::MEM_COPY, {d}, {z}, "copy_d");
  return b;
}

} // namespace

TEST_CASE("Streams: more vectors per cycle than the chip's streams move are refused",
          "[memport][streams]") {
  const std::string expected =
      "chip 0, program 'forward', instruction 4 (MEM_COPY 'copy_d' at cycle 1000): streams "
      "oversubscribed at cycle 1000: instruction 4 reads 1.00 vector(s) per cycle in cycles "
      "[1000, 1001) while 2 other transfer(s) in flight move 2.00 (the most, 1.00, by "
      "instruction 3 (VXM_BINARY 'add_ac' at cycle 1000) in cycles [1000, 1001)): 3.00 > the 2 "
      "vectors per cycle of the chip's 2 streams (1 each way); issue it later or give the "
      "transfer more cycles";
  CHECK(streamErrorOf(threeReads(1000).schedule, true) == expected);
  CHECK(streamErrorOf(threeReads(1000).schedule, false) == expected);
  CHECK_THAT(streamFabricErrorOf(threeReads(1000).schedule),
             Catch::Contains("streams oversubscribed at cycle 1000: instruction 4 reads 1.00"));
  // A cycle later the add's reads are over; with the default 32 streams each way, at once too.
  CHECK(streamErrorOf(threeReads(1001).schedule, true) == "(accepted)");
  CHECK(streamErrorOf(threeReads(1001).schedule, false) == "(accepted)");
  CHECK(streamFabricErrorOf(threeReads(1001).schedule) == "(accepted)");
  CHECK(errorOf(threeReads(1000).schedule) == "(accepted)");
  CHECK(fabricErrorOf(threeReads(1000).schedule) == "(accepted)");
}

TEST_CASE("Streams: a slow transfer takes a share of a stream, not a whole one",
          "[memport][streams]") {
  auto model = sim::buildHardwareModel(oneStreamEachWay()); // 2 vectors per cycle in all
  REQUIRE(model);
  sim::MemPortBook book(*model);
  sim::PortConflict conflict;
  // Eight one-vector reads, each spread over 4 cycles (occupancy 4): four issued at cycle 10,
  // four at 12 (addresses one vector apart: slices 0-3, then 0-3 a row up, each pair on one
  // slice sharing its read port with room to spare). At cycle 12 they move 8 x 1/4 = 2
  // vectors per cycle, the chip's limit, though 8 transfers are in flight.
  for (uint32_t i = 0; i < 8; ++i) {
    REQUIRE(book.bookBuffer(sim::MemPort::Read, 10 + i / 4 * 2, 4, 10, 320 * uint64_t(i), 320,
                            i, 0, conflict));
  }
  // A ninth quarter at cycle 12 makes 2.25 > 2.
  REQUIRE_FALSE(book.bookBuffer(sim::MemPort::Read, 12, 4, 10, 320 * 8, 320, 8, 0, conflict));
  CHECK(conflict.kind == sim::PortConflict::Kind::Streams);
  CHECK(conflict.at == 12);
  CHECK(conflict.transfers == 8);
  CHECK(sim::portConflictReason(conflict, "instruction 0", "instruction 8") ==
        "streams oversubscribed at cycle 12: instruction 8 reads 0.25 vector(s) per cycle in "
        "cycles [12, 16) while 8 other transfer(s) in flight move 2.00 (the most, 0.25, by "
        "instruction 0 in cycles [10, 14)): 2.25 > the 2 vectors per cycle of the chip's 2 "
        "streams (1 each way); issue it later or give the transfer more cycles");
  // At cycle 14 the first four are over: 4/4 + 1/4 fits.
  CHECK(book.bookBuffer(sim::MemPort::Read, 14, 4, 10, 320 * 8, 320, 8, 0, conflict));
}

TEST_CASE("MEM port: three bookings of one slice that fit two by two but not together",
          "[memport]") {
  auto model = sim::buildHardwareModel(testSystem()); // 4 slices of 320-byte vectors
  REQUIRE(model);
  auto book = [&](uint64_t thirdIssue, sim::PortConflict &conflict) {
    sim::MemPortBook ports(*model);
    // Two one-vector reads of slice 0 spread over [10, 12) (occupancy 2): one cycle each.
    REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, 2, 9, 0, 320, 1, 0, conflict));
    REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, 2, 9, 320 * 4, 320, 2, 0, conflict));
    // A third of slice 0 in [thirdIssue, thirdIssue + 1): with either one it fits in two
    // cycles, with both it needs three.
    return ports.bookBuffer(sim::MemPort::Read, thirdIssue, 1, 9, 320 * 8, 320, 3, 0, conflict);
  };
  sim::PortConflict conflict;
  REQUIRE_FALSE(book(11, conflict));
  CHECK(conflict.kind == sim::PortConflict::Kind::SlicePortGroup);
  CHECK(sim::portConflictReason(conflict, "instruction 1 (first)", "instruction 3") ==
        "MEM slice 0 read port double-booked by instructions 1, 2 and 3: instruction 3 reads 1 "
        "vector(s) on it in cycles [11, 12) while instructions 1 and 2 (the first, instruction "
        "1 (first)) read 2 more inside [10, 12): 3 in 2 cycle(s) at one per cycle");
  sim::PortConflict none;
  CHECK(book(12, none)); // the two are over
  // On another slice the third fits beside them.
  sim::MemPortBook ports(*model);
  REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, 2, 9, 0, 320, 1, 0, none));
  REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, 2, 9, 320 * 4, 320, 2, 0, none));
  CHECK(ports.bookBuffer(sim::MemPort::Read, 11, 1, 9, 320 * 9, 320, 3, 0, none));
  // The tightest interval can be the new booking's own window. Writes land in the last
  // cycles before issue + duration, so a later write can start first: one vector in [11, 13)
  // (issued at 5), one in [12, 13) (at 6), then two of a five-vector write in [10, 13) (at 7;
  // five vectors over four slices put two on slice 0) fit two by two, 3 in 3 cycles, but need
  // 4 together.
  sim::MemPortBook own(*model);
  REQUIRE(own.bookBuffer(sim::MemPort::Write, 5, 2, 8, 0, 320, 1, 0, none));
  REQUIRE(own.bookBuffer(sim::MemPort::Write, 6, 1, 7, 320 * 4, 320, 2, 0, none));
  sim::PortConflict mine;
  REQUIRE_FALSE(own.bookBuffer(sim::MemPort::Write, 7, 3, 6, 320 * 8, 320 * 5, 3, 0, mine));
  CHECK(mine.kind == sim::PortConflict::Kind::SlicePortGroup);
  CHECK(mine.slice == 0);
  CHECK(mine.groupFrom == 10);
  CHECK(mine.groupTo == 13);
  CHECK(mine.groupVectors == 4);
}

TEST_CASE("MEM port: a wide booking is tested slice by slice, each distinct group once",
          "[memport]") {
  auto model = sim::buildHardwareModel(testSystem()); // 4 slices of 320-byte vectors
  REQUIRE(model);
  // Two-vector reads: a and b on slices 0-1 over [10, 14), c and d on slices 2-3 over
  // [10, cdEnd); then a four-vector read of slices 0-3 in [11, 12). Slices 0 and 1 see the
  // same group {a, b} (3 vectors in 4 cycles: fits); slices 2 and 3 see {c, d}.
  auto book = [&](uint64_t cdOccupancy, sim::PortConflict &conflict) {
    sim::MemPortBook ports(*model);
    REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, 4, 9, 0, 640, 1, 0, conflict));
    REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, 4, 9, 320 * 4, 640, 2, 0, conflict));
    REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, cdOccupancy, 9, 320 * 2, 640, 3, 0,
                             conflict));
    REQUIRE(ports.bookBuffer(sim::MemPort::Read, 10, cdOccupancy, 9, 320 * 6, 640, 4, 0,
                             conflict));
    return ports.bookBuffer(sim::MemPort::Read, 11, 1, 9, 320 * 8, 320 * 4, 5, 0, conflict);
  };
  sim::PortConflict conflict;
  // c and d over [10, 12): with the wide read, 3 vectors of slice 2 in 2 cycles.
  REQUIRE_FALSE(book(2, conflict));
  CHECK(conflict.kind == sim::PortConflict::Kind::SlicePortGroup);
  CHECK(conflict.slice == 2);
  CHECK(conflict.groupIndices == std::vector<uint32_t>{3, 4});
  CHECK(conflict.groupVectors == 3);
  CHECK(conflict.groupFrom == 10);
  CHECK(conflict.groupTo == 12);
  // Over [10, 14) they fit, as a and b do.
  sim::PortConflict none;
  CHECK(book(4, none));
}

TEST_CASE("MEM port: random reads get the verdict of every interval tested by brute force",
          "[memport]") {
  // Rule 5 as documented: a new read is refused iff on some slice it shares, some interval
  // [a, b) around its window holds more vectors (its own and those of the bookings still in
  // flight whose windows lie inside) than b - a cycles. The book screens pairs, then groups
  // (groupFits: a sort-based screen, the slice-by-slice search only to word a refusal);
  // this checks the verdicts against the definition on random reads.
  auto model = sim::buildHardwareModel(testSystem()); // 4 slices of 320-byte vectors
  REQUIRE(model);
  std::mt19937_64 random(20261206);
  size_t refusedByPorts = 0, accepted = 0, groupRefusals = 0;
  for (int trial = 0; trial < 400; ++trial) {
    sim::MemPortBook ports(*model);
    std::vector<Read> held;
    uint64_t issue = 10;
    for (uint32_t index = 1; index <= 10; ++index) {
      issue += random() % 2;
      const uint64_t occupancy = 1 + random() % 5;
      // One vector on one slice, or k vectors on each of the four (a 4k-vector buffer).
      const bool wide = random() % 3 == 0;
      const uint32_t perSlice = wide ? 2 + uint32_t(random() % 2) : 1;
      const uint32_t slice = wide ? 0 : uint32_t(random() % 2); // slices 0 and 1 crowd
      const uint64_t row = 4 * index * 4;
      const uint64_t address = 320 * (row + slice);
      const uint64_t bytes = wide ? 320 * 4 * uint64_t(perSlice) : 320;
      const Read read{issue, issue + std::max<uint64_t>(occupancy, perSlice), wide ? 0 : slice,
                      wide ? 4u : 1u, perSlice};
      // The definition, over the reads still in flight at `issue`.
      bool overloaded = false;
      for (uint32_t s = read.firstSlice; s < read.firstSlice + read.slices; ++s) {
        overloaded = overloaded || overloadedOn(s, read, held, issue);
      }
      sim::PortConflict conflict;
      const bool booked = ports.bookBuffer(sim::MemPort::Read, issue, occupancy, 9, address,
                                           bytes, index, 0, conflict);
      if (!booked && conflict.kind == sim::PortConflict::Kind::Streams) {
        continue; // rule 6 refused it; rule 5 had passed it
      }
      INFO("trial " << trial << ", read " << index << " at cycle " << issue);
      CHECK(booked == !overloaded);
      if (booked) {
        held.push_back(read);
        accepted += 1;
      } else {
        refusedByPorts += 1;
        groupRefusals += conflict.kind == sim::PortConflict::Kind::SlicePortGroup ? 1 : 0;
      }
    }
  }
  // The random reads reach every outcome.
  CHECK(accepted > 100);
  CHECK(refusedByPorts > 100);
  CHECK(groupRefusals > 10);
}

TEST_CASE("Streams: the accesses rule 5 cannot place still take their streams",
          "[memport][streams]") {
  // What they move: a gather's rows (its result), an expert product's T x k installed K x N
  // slices (+ T x k scale rows of N fp32 for _DQ), a KV append's new rows (operand 0).
  const std::vector<int64_t> rowsShape{4, 80}, tableShape{8, 64, 32}, outShape{2, 2, 1, 32},
      noShape;
  auto entry = [](const std::vector<int64_t> &shape, schedule::DType dtype, uint64_t bytes) {
    sim::BufferInfo info{}; // only what unbookedTraffic reads
    info.dims = shape.data();
    info.rank = uint8_t(shape.size());
    info.dtypeValue = uint8_t(dtype);
    info.bytes = bytes;
    return info;
  };
  const sim::BufferInfo rows = entry(rowsShape, schedule::F32, 4 * 80 * 4),
                        table = entry(tableShape, schedule::INT8, 8 * 64 * 32),
                        out = entry(outShape, schedule::F32, 0), scale = entry(noShape, schedule::F32, 0),
                        cache = entry(noShape, schedule::F32, 1 << 20);
  const sim::BufferInfo *gatherOperands[] = {&table, &rows};
  const sim::BufferInfo *gatherResults[] = {&rows};
  CHECK(sim::unbookedTraffic(schedule::MEM_GATHER, gatherOperands, 2, gatherResults, 1).read ==
        1280);
  const sim::BufferInfo *expertOperands[] = {&rows, &table, &rows, &scale};
  const sim::BufferInfo *expertResults[] = {&out};
  CHECK(sim::unbookedTraffic(schedule::MXM_EXPERT_MATMUL, expertOperands, 3, expertResults, 1)
            .read == 2 * 2 * 64 * 32);
  CHECK(sim::unbookedTraffic(schedule::MXM_EXPERT_MATMUL_DQ, expertOperands, 4, expertResults,
                             1)
            .read == 2 * 2 * 64 * 32 + 2 * 2 * 32 * 4);
  const sim::BufferInfo *appendOperands[] = {&rows, &rows};
  const sim::BufferInfo *appendResults[] = {&cache};
  const sim::UnbookedTraffic append =
      sim::unbookedTraffic(schedule::MEM_KV_APPEND, appendOperands, 2, appendResults, 1);
  CHECK(append.read == 0);
  CHECK(append.written == 1280);

  auto model = sim::buildHardwareModel(oneStreamEachWay()); // 2 vectors per cycle in all
  REQUIRE(model);
  sim::MemPortBook book(*model);
  sim::PortConflict conflict;
  // Two vectors in one cycle, where in SRAM unknown: the chip's whole 2 per cycle.
  REQUIRE(book.bookStreams(sim::MemPort::Read, 10, 1, 5, 640, 1, 0, conflict));
  // A placed read beside it in that cycle: no slice conflict (the first has no slices), but
  // 3 vectors per cycle.
  REQUIRE_FALSE(book.bookBuffer(sim::MemPort::Read, 10, 1, 5, 0, 320, 2, 0, conflict));
  CHECK(conflict.kind == sim::PortConflict::Kind::Streams);
  CHECK(conflict.held.index == 1);
  // The next cycle it is free.
  CHECK(book.bookBuffer(sim::MemPort::Read, 11, 1, 5, 0, 320, 2, 0, conflict));
  // With the default 32 streams each way the two share the cycle: the unplaced one takes no
  // slice port.
  auto wide = sim::buildHardwareModel(testSystem());
  REQUIRE(wide);
  sim::MemPortBook roomy(*wide);
  REQUIRE(roomy.bookStreams(sim::MemPort::Read, 10, 1, 5, 640, 1, 0, conflict));
  CHECK(roomy.bookBuffer(sim::MemPort::Read, 10, 1, 5, 0, 320, 2, 0, conflict));
}

TEST_CASE("Streams: a gather's table rows count on every simulator path", "[memport][streams]") {
  // At cycle 1000 a gather reads its index (1 vector per cycle, placed) and one table row
  // (1 per cycle, unplaced: the index picks it) while a relu reads a: 3 > the 2 vectors per
  // cycle of one stream each way. Counting only the placed reads would let it through.
  auto build = [](uint64_t reluCycle) {
    ScheduleBuilder b;
    const uint32_t table = b.buffer("table", schedule::WEIGHT, {4, 80}); // slices 0-3
    const uint32_t ids = b.buffer("ids", schedule::INPUT, {1}, schedule::INT32); // slice 0
    const uint32_t a = b.buffer("a", schedule::INPUT, {1, 80});  // slice 1
    const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 80}); // slice 2
    const uint32_t z = b.buffer("z", schedule::OUTPUT, {1, 80}); // slice 3
    schedule::Program &p = b.program();
    ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {ids});
    ScheduleBuilder::add(p, 100, schedule::MEM_WRITE, {}, {a});
    schedule::Instruction &gather =
        ScheduleBuilder::add(p, 1000, schedule::MEM_GATHER, {table, ids}, {y}, "gather");
    gather.set_axis(0);
    gather.set_unit(schedule::MEM);
    ScheduleBuilder::add(p, reluCycle, schedule::VXM_UNARY, {a}, {z}, "relu_a")
        .set_kind(schedule::RELU);
    return b;
  };
  const std::string reason = "streams oversubscribed at cycle 1000: instruction 3 reads 1.00 "
                             "vector(s) per cycle in cycles [1000, 1001) while 2 other "
                             "transfer(s) in flight move 2.00";
  CHECK_THAT(streamErrorOf(build(1000).schedule, true), Catch::Contains(reason));
  CHECK_THAT(streamErrorOf(build(1000).schedule, false), Catch::Contains(reason));
  CHECK_THAT(streamFabricErrorOf(build(1000).schedule), Catch::Contains(reason));
  CHECK(streamErrorOf(build(1001).schedule, true) == "(accepted)");
  CHECK(streamErrorOf(build(1001).schedule, false) == "(accepted)");
  CHECK(streamFabricErrorOf(build(1001).schedule) == "(accepted)");
}

TEST_CASE("MEM port: spans that wrap around the slices get the verdict and the slice of the "
          "definition",
          "[memport]") {
  // Reads of 1-6 vectors starting on any of the 4 slices: short ones cover a run of slices
  // that may wrap past the last (3, 0, 1), long ones all four. groupFits tests each stretch
  // of `wanted`'s slices with one group once; a refusal must name the first overloaded
  // slice in `wanted`'s own order (first, first + 1, ... mod 4), as slice by slice.
  auto model = sim::buildHardwareModel(testSystem()); // 4 slices of 320-byte vectors
  REQUIRE(model);
  std::mt19937_64 random(20261207);
  size_t accepted = 0, groupRefusals = 0, wrappedGroupRefusals = 0;
  for (int trial = 0; trial < 600; ++trial) {
    sim::MemPortBook ports(*model);
    std::vector<Read> held;
    uint64_t issue = 10;
    for (uint32_t index = 1; index <= 10; ++index) {
      issue += random() % 2;
      const uint64_t occupancy = 1 + random() % 6;
      const uint32_t first = uint32_t(random() % 4);
      const uint64_t vectors = 1 + random() % 6;
      const uint64_t address = 320 * (4 * 4 * uint64_t(index) + first);
      const uint32_t perSlice = vectors <= 4 ? 1 : uint32_t((vectors + 3) / 4);
      const Read read{issue, issue + std::max<uint64_t>(occupancy, perSlice), first,
                      uint32_t(std::min<uint64_t>(vectors, 4)), perSlice};
      // The definition, slice by slice in the read's own order.
      std::optional<uint32_t> firstOverloaded;
      for (uint32_t k = 0; k < read.slices && !firstOverloaded; ++k) {
        const uint32_t s = (read.firstSlice + k) % 4;
        if (overloadedOn(s, read, held, issue)) {
          firstOverloaded = s;
        }
      }
      sim::PortConflict conflict;
      const bool booked = ports.bookBuffer(sim::MemPort::Read, issue, occupancy, 9, address,
                                           320 * vectors, index, 0, conflict);
      if (!booked && conflict.kind == sim::PortConflict::Kind::Streams) {
        continue; // rule 6 refused it; rule 5 had passed it
      }
      INFO("trial " << trial << ", read " << index << " at cycle " << issue);
      REQUIRE(booked == !firstOverloaded.has_value());
      if (booked) {
        held.push_back(read);
        accepted += 1;
      } else if (conflict.kind == sim::PortConflict::Kind::SlicePortGroup) {
        // No pair overloads any slice (the pair screen would have refused it first), so
        // the first overloaded slice is the first with an overloaded group.
        CHECK(conflict.slice == *firstOverloaded);
        groupRefusals += 1;
        wrappedGroupRefusals += read.firstSlice + read.slices > 4 ? 1 : 0;
      }
    }
  }
  CHECK(accepted > 100);
  CHECK(groupRefusals > 20);
  CHECK(wrappedGroupRefusals > 5);
}
