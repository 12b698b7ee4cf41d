// Tests of the *.sched reader/writer: rejection of non-schedules, other versions and
// inconsistent structure; atomic writes; the text dump.
#include "SimulatorTestSupport.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <sys/stat.h>
#include <thread>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;
using conveyor::test::TempDir;

namespace {

/// A small valid schedule: x -> relu -> y, read back to the host.
ScheduleBuilder validSchedule() {
  ScheduleBuilder b;
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 320});
  schedule::Program &p = b.program();
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, 2000, schedule::VXM_UNARY, {x}, {y}, "relu_0").set_kind(schedule::RELU);
  ScheduleBuilder::add(p, 3000, schedule::MEM_READ, {y}, {});
  return b;
}

std::string parseError(const schedule::Schedule &s) {
  Result<schedule::Schedule> parsed = schedule::parseSchedule(s.SerializeAsString(), "f.sched");
  return parsed ? std::string("(accepted)") : parsed.error();
}

} // namespace

TEST_CASE("a valid schedule round-trips through write and read", "[format]") {
  TempDir dir;
  ScheduleBuilder b = validSchedule();
  const std::string path = dir.file("model.sched");
  Status written = schedule::writeScheduleFile(b.schedule, path);
  REQUIRE(written.ok());
  Result<schedule::Schedule> read = schedule::readScheduleFile(path);
  REQUIRE(read.ok());
  CHECK(read->SerializeAsString() == b.schedule.SerializeAsString());
  CHECK(dir.entries() == std::vector<std::string>{"model.sched"});
}

TEST_CASE("the arena reader gives the same schedule or the same message", "[format]") {
  TempDir dir;
  ScheduleBuilder b = validSchedule();
  const std::string path = dir.file("model.sched");
  REQUIRE(schedule::writeScheduleFile(b.schedule, path).ok());
  Result<schedule::ArenaSchedule> read = schedule::readScheduleFileToArena(path);
  REQUIRE(read.ok());
  CHECK(read->get().SerializeAsString() == b.schedule.SerializeAsString());
  // A pipe reports no size: it is read to its end all the same.
  const std::string fifo = dir.file("pipe.sched");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] {
    std::ofstream(fifo, std::ios::binary) << b.schedule.SerializeAsString();
  });
  Result<schedule::ArenaSchedule> piped = schedule::readScheduleFileToArena(fifo);
  writer.join();
  REQUIRE(piped.ok());
  CHECK(piped->get().SerializeAsString() == b.schedule.SerializeAsString());
  // Broken files: each message as readScheduleFile words it.
  auto sameError = [](const std::string &file) {
    Result<schedule::Schedule> plain = schedule::readScheduleFile(file);
    Result<schedule::ArenaSchedule> arena = schedule::readScheduleFileToArena(file);
    REQUIRE_FALSE(plain.ok());
    REQUIRE_FALSE(arena.ok());
    CHECK(arena.error() == plain.error());
  };
  sameError(dir.file("absent.sched"));
  sameError(dir.path.string());
  const std::string bytes = b.schedule.SerializeAsString();
  std::ofstream(dir.file("half.sched"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  sameError(dir.file("half.sched"));
  b.schedule.mutable_programs(0)->mutable_instructions(1)->add_operands(99);
  REQUIRE(schedule::writeFileAtomically(dir.file("bad.sched"), b.schedule.SerializeAsString()));
  sameError(dir.file("bad.sched"));
}

TEST_CASE("a schedule of several MiB reads back whole through both readers", "[format]") {
  // Files are parsed as they are read, 1 MiB at a time, into arena blocks of up to 4 MiB on
  // huge pages (ScheduleFormat.cpp): every byte arrives, across the edges of the reads.
  TempDir dir;
  ScheduleBuilder b;
  std::vector<uint32_t> ids;
  for (int i = 0; i < 80000; ++i) {
    ids.push_back(b.buffer(fmt::format("activation_{:05d}_with_a_long_name", i),
                           schedule::ACTIVATION, {1, 80}));
  }
  schedule::Program &p = b.program();
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 80});
  ScheduleBuilder::add(p, 0, schedule::MEM_WRITE, {}, {x});
  ScheduleBuilder::add(p, 400, schedule::MEM_READ, {x}, {});
  const std::string path = dir.file("large.sched");
  REQUIRE(schedule::writeScheduleFile(b.schedule, path).ok());
  const std::string bytes = b.schedule.SerializeAsString();
  REQUIRE(bytes.size() > (size_t(3) << 20));
  Result<schedule::Schedule> plain = schedule::readScheduleFile(path);
  REQUIRE(plain.ok());
  CHECK(plain->SerializeAsString() == bytes);
  Result<schedule::ArenaSchedule> arena = schedule::readScheduleFileToArena(path);
  REQUIRE(arena.ok());
  CHECK(arena->get().SerializeAsString() == bytes);
  // Cut short, it is rejected the same way by both.
  std::ofstream(dir.file("cut.sched"), std::ios::binary) << bytes.substr(0, bytes.size() - 7);
  Result<schedule::Schedule> cutPlain = schedule::readScheduleFile(dir.file("cut.sched"));
  Result<schedule::ArenaSchedule> cutArena =
      schedule::readScheduleFileToArena(dir.file("cut.sched"));
  REQUIRE_FALSE(cutPlain.ok());
  REQUIRE_FALSE(cutArena.ok());
  CHECK(cutArena.error() == cutPlain.error());
}

TEST_CASE("non-schedules are rejected with the bad-magic message", "[format]") {
  const std::string expected = "'f.sched' is not a Conveyor schedule (bad magic); compile one "
                               "with `conveyor compile`";
  SECTION("empty") { CHECK(schedule::parseSchedule("", "f.sched").error() == expected); }
  SECTION("garbage bytes") {
    CHECK(
        schedule::parseSchedule(std::string("\xff\xfe garbage \x01\x02", 14), "f.sched").error() ==
        expected);
  }
  SECTION("text") {
    CHECK(schedule::parseSchedule("hello, this is not protobuf\n", "f.sched").error() == expected);
  }
  SECTION("wrong magic") {
    ScheduleBuilder b = validSchedule();
    b.schedule.set_magic(0x12345678);
    CHECK(parseError(b.schedule) == expected);
  }
  SECTION("truncated file") {
    ScheduleBuilder b = validSchedule();
    const std::string bytes = b.schedule.SerializeAsString();
    // Three bytes do not hold the magic yet: nothing says it is a schedule.
    CHECK(schedule::parseSchedule(bytes.substr(0, 3), "f.sched").error() == expected);
  }
}

TEST_CASE("a schedule cut short is named as one, by every reader", "[format]") {
  // Past its magic a cut file is a damaged schedule, not a foreign file: the message says so
  // (rather than "bad magic") and what to do.
  const std::string expected = "'f.sched' starts as a Conveyor schedule but does not parse: the "
                               "file is cut short or corrupt; write it again with `conveyor "
                               "compile`";
  ScheduleBuilder b = validSchedule();
  const std::string bytes = b.schedule.SerializeAsString();
  TempDir dir;
  for (size_t keep : {size_t(6), bytes.size() / 2, bytes.size() - 1}) {
    CAPTURE(keep);
    CHECK(schedule::parseSchedule(bytes.substr(0, keep), "f.sched").error() == expected);
    const std::string path = dir.file("f.sched");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, keep);
    const std::string named = fmt::format("'{}'", path);
    CHECK(schedule::readScheduleFile(path).error().rfind(named + " starts as a Conveyor", 0) == 0);
    CHECK(schedule::readScheduleFileToArena(path).error() ==
          schedule::readScheduleFile(path).error());
  }
}

TEST_CASE("another format version is rejected naming both versions", "[format]") {
  ScheduleBuilder b = validSchedule();
  b.schedule.set_version(1);
  const std::string error = parseError(b.schedule);
  CHECK_THAT(error, Catch::Contains("f.sched: schedule version 1") &&
                        Catch::Contains("reads version 2"));
}

TEST_CASE("a missing file and a directory are reported by path", "[format]") {
  TempDir dir;
  CHECK_THAT(schedule::readScheduleFile(dir.file("absent.sched")).error(),
             Catch::Contains("cannot read schedule") && Catch::Contains("absent.sched"));
  CHECK_THAT(schedule::readScheduleFile(dir.path.string()).error(),
             Catch::Contains("is a directory"));
}

TEST_CASE("structural errors are rejected with the part at fault", "[format]") {
  ScheduleBuilder b = validSchedule();
  schedule::Schedule &s = b.schedule;
  std::string expected;
  SECTION("buffer id 0") {
    s.mutable_buffers(0)->set_id(0);
    expected = "has id 0";
  }
  SECTION("duplicate buffer id") {
    s.mutable_buffers(1)->set_id(1);
    expected = "duplicate buffer id 1";
  }
  SECTION("dangling operand") {
    s.mutable_programs(0)->mutable_instructions(1)->set_operands(0, 99);
    expected = "operand 99 is not a buffer";
  }
  SECTION("dangling result") {
    s.mutable_programs(0)->mutable_instructions(1)->set_results(0, 77);
    expected = "result 77 is not a buffer";
  }
  SECTION("alias target missing") {
    s.mutable_buffers(1)->set_alias_of(42);
    expected = "alias_of 42 is not a buffer";
  }
  SECTION("alias with a different byte count") {
    const uint32_t v = b.view("v", 1, {1, 160});
    (void)v;
    expected = "has 640 bytes but its source has 1280";
  }
  SECTION("alias of an alias with a different byte count") {
    const uint32_t v = b.view("v", 1, {320});
    b.view("w", v, {2, 320});
    expected = "has 2560 bytes but its source has 1280";
  }
  SECTION("alias cycle") {
    const uint32_t v = b.view("v", 1, {320});
    s.mutable_buffers(0)->set_alias_of(v);
    expected = "cycle";
  }
  SECTION("negative dimension") {
    s.mutable_buffers(0)->set_shape(1, -320);
    expected = "negative dimension -320";
  }
  SECTION("more dimensions than the format allows") {
    for (int i = 0; i < schedule::kMaxRank; ++i) {
      s.mutable_buffers(0)->add_shape(1);
    }
    expected = "shape has 257 dimensions; a schedule allows at most 255";
  }
  SECTION("data size differs from the tensor's bytes") {
    s.mutable_buffers(0)->set_data(std::string(100, '\0'));
    expected = "data holds 100 bytes but a f32 tensor of 320 elements needs 1280";
  }
  SECTION("opcode on the wrong unit") {
    s.mutable_programs(0)->mutable_instructions(1)->set_unit(schedule::MXM);
    expected = "runs on unit MXM but VXM_UNARY belongs to VXM";
  }
  SECTION("wrong operand count") {
    s.mutable_programs(0)->mutable_instructions(1)->add_operands(1);
    expected = "has 2 operand(s) and 1 result(s); VXM_UNARY takes 1 and 1";
  }
  SECTION("binary kind on a unary op") {
    s.mutable_programs(0)->mutable_instructions(1)->set_kind(schedule::ADD);
    expected = "kind add is not a unary op";
  }
  SECTION("unsorted instructions") {
    s.mutable_programs(0)->mutable_instructions(2)->set_issue_cycle(1000);
    expected = "sorted by issue_cycle";
  }
  SECTION("unknown opcode") {
    s.mutable_programs(0)->mutable_instructions(1)->set_opcode(schedule::Opcode(99));
    expected = "opcode 99 is unknown";
  }
  SECTION("unspecified dtype") {
    s.mutable_buffers(0)->set_dtype(schedule::DTYPE_UNSPECIFIED);
    expected = "is not a known element type";
  }
  SECTION("buffer on a chip that does not exist") {
    s.mutable_buffers(0)->set_chip(3);
    expected = "chip 3 does not exist";
  }
  SECTION("no programs") {
    s.clear_programs();
    expected = "has no programs";
  }
  SECTION("transpose perm that is not a permutation") {
    schedule::Instruction &t =
        ScheduleBuilder::add(*s.mutable_programs(0), 5000, schedule::SXM_TRANSPOSE, {1}, {2});
    t.add_perm(1);
    t.add_perm(1);
    expected = "perm is not a permutation";
  }
  SECTION("softmax axis out of range") {
    schedule::Instruction &t =
        ScheduleBuilder::add(*s.mutable_programs(0), 5000, schedule::VXM_SOFTMAX, {1}, {2});
    t.set_axis(2);
    expected = "axis 2 is outside [0, 2)";
  }
  CAPTURE(expected);
  const std::string error = parseError(s);
  CHECK_THAT(error, Catch::StartsWith("f.sched: ") && Catch::Contains(expected));
  // The writer refuses the same schedule, so no invalid file is ever produced.
  TempDir dir;
  CHECK_FALSE(schedule::writeScheduleFile(s, dir.file("bad.sched")).ok());
  CHECK(dir.entries().empty());
}

TEST_CASE("atomic writes leave no file behind on failure", "[format]") {
  TempDir dir;
  SECTION("target is a directory") {
    std::filesystem::create_directory(dir.path / "taken");
    Status status = schedule::writeFileAtomically(dir.file("taken"), "bytes");
    CHECK_FALSE(status.ok());
    CHECK_THAT(status.error(), Catch::Contains("cannot write") && Catch::Contains("taken"));
    CHECK(dir.entries() == std::vector<std::string>{"taken"});
    CHECK(std::filesystem::is_empty(dir.path / "taken"));
  }
  SECTION("missing parent folders are created") {
    REQUIRE(schedule::writeFileAtomically(dir.file("missing/deeper/out.sched"), "bytes").ok());
    CHECK(std::filesystem::file_size(dir.path / "missing" / "deeper" / "out.sched") == 5);
    CHECK(std::filesystem::is_directory(dir.path / "missing"));
  }
  SECTION("a parent that is a file") {
    { std::ofstream(dir.file("plain")) << "x"; }
    Status status = schedule::writeFileAtomically(dir.file("plain/out.sched"), "bytes");
    CHECK_FALSE(status.ok());
    CHECK_THAT(status.error(), Catch::Contains("plain/out.sched") &&
                                   Catch::Contains("cannot create its folder"));
    CHECK(dir.entries() == std::vector<std::string>{"plain"});
  }
  SECTION("directory not writable") {
    if (::geteuid() == 0) {
      WARN("running as root: a read-only directory is still writable; case skipped");
      return;
    }
    std::filesystem::create_directory(dir.path / "ro");
    ::chmod((dir.path / "ro").c_str(), 0555);
    Status status = schedule::writeFileAtomically((dir.path / "ro" / "out").string(), "bytes");
    ::chmod((dir.path / "ro").c_str(), 0755);
    CHECK_FALSE(status.ok());
    CHECK(std::filesystem::is_empty(dir.path / "ro"));
  }
  SECTION("an existing file is replaced whole") {
    { std::ofstream(dir.file("out")) << "old contents that are longer"; }
    REQUIRE(schedule::writeFileAtomically(dir.file("out"), "new").ok());
    std::ifstream in(dir.file("out"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == "new");
    CHECK(dir.entries() == std::vector<std::string>{"out"});
  }
}

TEST_CASE("dump prints header, buffers and instructions by name", "[format]") {
  ScheduleBuilder b = validSchedule();
  const std::string text = schedule::dumpSchedule(b.schedule);
  CHECK_THAT(text, Catch::Contains("model: 'unit-test-model'"));
  CHECK_THAT(text, Catch::Contains("system: 'test-chip', 1 chip(s)"));
  CHECK_THAT(text, Catch::Contains("program 'forward' (forward) on chip 0: 3 instruction(s)"));
  CHECK_THAT(text,
             Catch::Matches("(.|\n)*cycle +2000 +VXM\\.0 VXM_UNARY +relu \\(x\\) -> \\(y\\) +@ "
                            "relu_0(.|\n)*"));
  CHECK_THAT(text, Catch::Contains("MEM_READ      (y) -> ()"));
}

TEST_CASE("name tables cover every enum value", "[format]") {
  CHECK(std::string(schedule::opcodeName(schedule::SXM_TRANSPOSE)) == "SXM_TRANSPOSE");
  CHECK(std::string(schedule::unitName(schedule::C2C)) == "C2C");
  CHECK(std::string(schedule::elementwiseName(schedule::GELU_TANH)) == "gelu_tanh");
  CHECK(std::string(schedule::opcodeName(schedule::Opcode(77))) == "OPCODE_UNKNOWN");
}
