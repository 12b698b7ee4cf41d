// Schedule format v2: version check message, round trip of repeat blocks, templates, C2C
// fields and symbols, and the reader's structural rejections of each v2 construct.
#include "FabricTestSupport.h"

#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/FabricModel.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using test::FabricBuilder;
using test::portTo;

namespace {

/// Two chips: chip 0 relu's twice in an 8-iteration block then sends; chip 1 receives. A
/// template with chip 2 as an instance of chip 1's program.
FabricBuilder sample(const system::SystemConfig &config) {
  FabricBuilder b(config);
  const uint32_t x = b.buffer(0, "x", schedule::WEIGHT);
  const uint32_t y = b.buffer(0, "y", schedule::ACTIVATION, {320}, 0, 320 * 8);
  const uint32_t in1 = b.buffer(1, "in", schedule::ACTIVATION);
  const uint32_t in2 = b.buffer(2, "in", schedule::ACTIVATION);
  schedule::Program &p = b.program("decode", 0);
  FabricBuilder::relu(p, 0, x, y);
  schedule::Repeat &block = FabricBuilder::repeat(p, 0, 1, 8, 10);
  FabricBuilder::addressStride(block, y, 320);
  FabricBuilder::send(p, 80, x, 1, portTo(0, 1), 80, 22, 1);
  FabricBuilder::send(p, 102, x, 2, portTo(0, 2), 102, 22, 2);
  schedule::Program &q = b.program("decode", 1);
  FabricBuilder::recv(q, 400, in1, 0, portTo(1, 0), 1);
  schedule::ProgramInstance *instance = q.add_instances();
  instance->set_chip(2);
  (*instance->mutable_buffer_map())[in1] = in2;
  (*instance->mutable_link_map())[portTo(1, 0)] = portTo(2, 0);
  instance->set_transfer_id_offset(1);
  schedule::SourceFile *file = b.s.add_source_files();
  file->set_id(1);
  file->set_path("models/x.onnx");
  schedule::Symbol *symbol = b.s.add_symbols();
  symbol->set_buffer(y);
  symbol->set_name("layers.y");
  symbol->set_source_file(1);
  symbol->set_line(12);
  return b;
}

std::string validationError(const schedule::Schedule &s) {
  Status status = schedule::validateSchedule(s, "x.sched");
  REQUIRE_FALSE(status);
  return status.error();
}

} // namespace

TEST_CASE("a version-1 file is rejected with the recompile message", "[format][v2]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = sample(config);
  b.s.set_version(1);
  std::string bytes;
  REQUIRE(b.s.SerializeToString(&bytes));
  Result<schedule::Schedule> read = schedule::parseSchedule(bytes, "x.sched");
  REQUIRE_FALSE(read);
  CHECK(read.error() ==
        "x.sched: schedule version 1, this build reads version 2: recompile with conveyor "
        "compile");
}

TEST_CASE("v2 constructs survive a write and a read", "[format][v2]") {
  const system::SystemConfig config = test::fabricSystem();
  FabricBuilder b = sample(config);
  test::TempDir dir;
  REQUIRE(schedule::writeScheduleFile(b.s, dir.file("v2.sched")));
  Result<schedule::Schedule> read = schedule::readScheduleFile(dir.file("v2.sched"));
  REQUIRE(read);
  CHECK(read->version() == 2);
  REQUIRE(read->programs(0).repeats_size() == 1);
  CHECK(read->programs(0).repeats(0).iterations() == 8);
  CHECK(read->programs(0).repeats(0).strides(0).address_stride() == 320);
  CHECK(read->programs(0).instructions(1).slot_cycles() == 22);
  CHECK(read->programs(1).instances(0).transfer_id_offset() == 1);
  CHECK(read->symbols(0).name() == "layers.y");

  const std::string text = schedule::dumpSchedule(*read);
  CHECK_THAT(text, Catch::Contains("repeat 'layers': instructions [0, 1) x 8 iterations, every "
                                   "10 cycles"));
  CHECK_THAT(text, Catch::Contains("y moves +320 bytes per iteration"));
  CHECK_THAT(text, Catch::Contains("C2C_SEND      to chip 1 link 0 slot [80, +22) bytes 0 id 1"));
  CHECK_THAT(text, Catch::Contains("C2C_RECV      from chip 0 link 0 bytes 0 id 1"));
  CHECK_THAT(text, Catch::Contains("template: also runs on 1 chip(s): 2"));
  CHECK_THAT(text, Catch::Contains("bucket: kv_length 128"));
  CHECK_THAT(text, Catch::Contains("layers.y"));
  CHECK_THAT(text, Catch::Contains("models/x.onnx:12"));
}

TEST_CASE("the reader rejects broken repeat blocks", "[format][v2]") {
  const system::SystemConfig config = test::fabricSystem();
  SECTION("past the end") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_repeats(0)->set_count(9);
    CHECK_THAT(validationError(b.s), Catch::Contains("run past the program's 3"));
  }
  SECTION("overlapping") {
    FabricBuilder b = sample(config);
    FabricBuilder::repeat(*b.s.mutable_programs(0), 0, 2, 1, 100, "again");
    CHECK_THAT(validationError(b.s), Catch::Contains("overlaps the previous block"));
  }
  SECTION("a stride naming a missing buffer or one of another chip") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_repeats(0)->mutable_strides(0)->set_buffer(99);
    CHECK_THAT(validationError(b.s), Catch::Contains("stride buffer 99 is not a buffer of chip 0"));
    b.s.mutable_programs(0)->mutable_repeats(0)->mutable_strides(0)->set_buffer(3);
    CHECK_THAT(validationError(b.s), Catch::Contains("stride buffer 3 is not a buffer of chip 0"));
  }
  SECTION("zero iterations") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_repeats(0)->set_iterations(0);
    CHECK_THAT(validationError(b.s), Catch::Contains("count and iterations must be >= 1"));
  }
  SECTION("interleaving iterations") {
    FabricBuilder b = sample(config);
    schedule::Program &p = *b.s.mutable_programs(0);
    p.mutable_repeats(0)->set_count(2); // relu at 0 and send at 80: period 10 <= 80
    CHECK_THAT(validationError(b.s), Catch::Contains("iterations would interleave"));
  }
  SECTION("an instruction after the block issues before its last iteration") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_repeats(0)->set_iterations(9); // last at 80 is fine
    REQUIRE(schedule::validateSchedule(b.s, "x.sched"));
    b.s.mutable_programs(0)->mutable_repeats(0)->set_iterations(10); // last at 90 > 80
    CHECK_THAT(validationError(b.s), Catch::Contains("must be sorted by issue_cycle"));
  }
}

TEST_CASE("the reader rejects broken templates", "[format][v2]") {
  const system::SystemConfig config = test::fabricSystem();
  SECTION("an unmapped buffer") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(1)->mutable_instances(0)->mutable_buffer_map()->clear();
    CHECK_THAT(validationError(b.s), Catch::Contains("instance 0 (chip 2): template buffer 3 is "
                                                     "not in buffer_map"));
  }
  SECTION("a buffer mapped to another chip") {
    FabricBuilder b = sample(config);
    (*b.s.mutable_programs(1)->mutable_instances(0)->mutable_buffer_map())[3] = 1;
    CHECK_THAT(validationError(b.s), Catch::Contains("which lives on chip 0"));
  }
  SECTION("a buffer mapped to another shape") {
    FabricBuilder b = sample(config);
    const uint32_t odd = b.buffer(2, "odd", schedule::ACTIVATION, {640});
    (*b.s.mutable_programs(1)->mutable_instances(0)->mutable_buffer_map())[3] = odd;
    CHECK_THAT(validationError(b.s), Catch::Contains("differs in dtype, shape or kind"));
  }
  SECTION("an instance on a chip that already runs the program") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(1)->mutable_instances(0)->set_chip(0);
    CHECK_THAT(validationError(b.s), Catch::Contains("already runs a program named 'decode'"));
  }
  SECTION("a chip outside the system") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(1)->mutable_instances(0)->set_chip(99);
    CHECK_THAT(validationError(b.s), Catch::Contains("chip does not exist"));
  }
}

TEST_CASE("the reader rejects broken C2C instructions", "[format][v2]") {
  const system::SystemConfig config = test::fabricSystem();
  SECTION("a send to itself") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_instructions(1)->set_peer_chip(0);
    CHECK_THAT(validationError(b.s), Catch::Contains("peer_chip 0 is not another chip"));
  }
  SECTION("more bytes than the buffer") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_instructions(1)->set_bytes(321);
    CHECK_THAT(validationError(b.s), Catch::Contains("moves 321 bytes but buffer 1 holds 320"));
  }
  SECTION("a slot before the issue") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_instructions(1)->set_slot_start_cycle(79);
    CHECK_THAT(validationError(b.s), Catch::Contains("link slot starts at cycle 79, before"));
  }
  SECTION("a send on the wrong unit") {
    FabricBuilder b = sample(config);
    b.s.mutable_programs(0)->mutable_instructions(1)->set_unit(schedule::MEM);
    CHECK_THAT(validationError(b.s), Catch::Contains("C2C_SEND belongs to C2C"));
  }
  SECTION("a SYNC with operands") {
    FabricBuilder b = sample(config);
    schedule::Instruction &sync = FabricBuilder::sync(*b.s.mutable_programs(1), 500);
    sync.add_operands(3);
    CHECK_THAT(validationError(b.s), Catch::Contains("SYNC takes 0 and 0"));
  }
}

TEST_CASE("the node-local port convention matches the simulator's routes", "[format][v2]") {
  CHECK(schedule::nodeLocalPort(0, 1, 8) == 0);
  CHECK(schedule::nodeLocalPort(0, 7, 8) == 6);
  CHECK(schedule::nodeLocalPort(5, 0, 8) == 0);
  CHECK(schedule::nodeLocalPort(5, 4, 8) == 4);
  CHECK(schedule::nodeLocalPort(5, 6, 8) == 5);
  CHECK(schedule::nodeLocalPort(13, 8, 8) == 0);
  const Result<sim::FabricModel> fabric = sim::buildFabricModel(test::fabricSystem(16));
  REQUIRE(fabric);
  for (uint32_t from = 0; from < 16; ++from) {
    for (uint32_t to = from / 8 * 8; to < from / 8 * 8 + 8; ++to) {
      if (to != from) {
        CHECK(schedule::nodeLocalPort(from, to, 8) == fabric->route(from, to).sendPort);
        CHECK(schedule::nodeLocalPort(to, from, 8) == fabric->route(from, to).recvPort);
      }
    }
  }
}
