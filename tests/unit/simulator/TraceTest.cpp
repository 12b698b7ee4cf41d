// The activity trace (renderTrace): Chrome trace event JSON read back with a strict parser;
// event counts, tracks, and ts/dur against timings worked by hand from testSystem().
#include "MiniJson.h"
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

using namespace conveyor;
using conveyor::test::JsonValue;
using conveyor::test::MiniJsonParser;
using conveyor::test::ScheduleBuilder;
using conveyor::test::testSystem;

namespace {

struct Expected {
  const char *opcode;
  const char *unit;
  uint64_t issue, occupancy, duration;
};

// One instruction on every unit, timed by hand on testSystem() (1 GHz, 1 B/cycle host link,
// latencies mem 5 / mxm 7 / vxm 3 / sxm 2 / host 10, 320-byte vectors, 1000 B/cycle weight
// install, 1000 f16 MACs/cycle):
//   x [1x320] f32 = 1280 B: MEM_WRITE O = 1280, D = 10 + 1280.
//   x @ w [320x64] f32: install ceil(81920 / 1000) = 82, compute ceil(20480 / 1000) = 21.
//   h, g [1x64] f32 = 256 B = 1 vector: relu O = 1, D = 5 + 3 + 1; transpose D = 5 + 2 + 1.
//   copy into y: O = 1, D = 5 + 1; MEM_READ y: O = 256, D = 10 + 5 + 256.
const std::vector<Expected> kBeltTimes = {
    {"MEM_WRITE", "MEM", 0, 1280, 1290}, {"MXM_MATMUL", "MXM", 1290, 103, 115},
    {"VXM_UNARY", "VXM", 1405, 1, 9},    {"SXM_TRANSPOSE", "SXM", 1414, 1, 8},
    {"MEM_COPY", "MEM", 1422, 1, 6},     {"MEM_READ", "MEM", 1428, 256, 271}};
constexpr uint64_t kBeltCycles = 1428 + 271;
// process name + sort index, program track name + sort index, 4 units x (name + sort index).
constexpr size_t kMetadataPerChip = 12;

void addBeltProgram(ScheduleBuilder &b, const std::string &name, uint32_t x, uint32_t w, uint32_t h,
                    uint32_t g, uint32_t t, uint32_t y) {
  schedule::Program &p = b.program(name);
  const std::vector<Expected> &e = kBeltTimes;
  ScheduleBuilder::add(p, e[0].issue, schedule::MEM_WRITE, {}, {x}, "x_in");
  ScheduleBuilder::add(p, e[1].issue, schedule::MXM_MATMUL, {x, w}, {h}, "proj");
  ScheduleBuilder::add(p, e[2].issue, schedule::VXM_UNARY, {h}, {g}, "act")
      .set_kind(schedule::RELU);
  schedule::Instruction &transpose =
      ScheduleBuilder::add(p, e[3].issue, schedule::SXM_TRANSPOSE, {g}, {t}, "flip");
  transpose.add_perm(1);
  transpose.add_perm(0);
  ScheduleBuilder::add(p, e[4].issue, schedule::MEM_COPY, {t}, {y}, "to_out");
  ScheduleBuilder::add(p, e[5].issue, schedule::MEM_READ, {y}, {}, "y_out");
}

/// The belt on one chip, with `programs` copies of the program (named p0, p1, ...).
schedule::Schedule beltSchedule(const system::SystemConfig &config, int programs = 1) {
  ScheduleBuilder b(config);
  const uint32_t x = b.buffer("x", schedule::INPUT, {1, 320});
  const uint32_t w = b.buffer("w", schedule::WEIGHT, {320, 64});
  const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 64});
  const uint32_t g = b.buffer("g", schedule::ACTIVATION, {1, 64});
  const uint32_t t = b.buffer("t", schedule::ACTIVATION, {64, 1});
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {64, 1});
  for (int i = 0; i < programs; ++i) {
    addBeltProgram(b, "p" + std::to_string(i), x, w, h, g, t, y);
  }
  return b.schedule;
}

sim::SimulationReport traced(const schedule::Schedule &s, const system::SystemConfig &config) {
  sim::SimulationOptions options;
  options.functional = false;
  options.collectTrace = true;
  Result<sim::SimulationReport> report = sim::simulate(s, config, {}, options);
  if (!report) {
    FAIL(report.error());
  }
  return std::move(*report);
}

JsonValue parseTrace(const std::string &text) {
  MiniJsonParser parser(text);
  std::optional<JsonValue> value = parser.parse();
  if (!value) {
    FAIL("trace is not valid JSON: " << parser.error);
  }
  REQUIRE(value->isObject());
  REQUIRE(value->members.size() == 2);
  REQUIRE(value->members[0].first == "traceEvents");
  REQUIRE(value->members[1].first == "otherData");
  REQUIRE((*value)["traceEvents"].isArray());
  return std::move(*value);
}

/// ts or dur in whole nanoseconds (the renderer writes microseconds with 3 decimals).
int64_t nanoseconds(const JsonValue &microseconds) {
  REQUIRE(microseconds.isNumber());
  const size_t dot = microseconds.text.find('.');
  REQUIRE(dot != std::string::npos);
  REQUIRE(microseconds.text.size() - dot - 1 == 3);
  return std::llround(microseconds.number * 1000.0);
}

std::vector<const JsonValue *> eventsWithPhase(const JsonValue &trace, const std::string &ph) {
  std::vector<const JsonValue *> events;
  for (const JsonValue &event : trace["traceEvents"].items) {
    if (event["ph"].text == ph) {
      events.push_back(&event);
    }
  }
  return events;
}

/// Instruction events (complete events that are not on a program track).
std::vector<const JsonValue *> instructionEvents(const JsonValue &trace) {
  std::vector<const JsonValue *> events;
  for (const JsonValue *event : eventsWithPhase(trace, "X")) {
    if ((*event)["cat"].text != "program") {
      events.push_back(event);
    }
  }
  return events;
}

/// tid -> thread name, from the metadata events.
std::map<int64_t, std::string> threadNames(const JsonValue &trace) {
  std::map<int64_t, std::string> names;
  for (const JsonValue *event : eventsWithPhase(trace, "M")) {
    if ((*event)["name"].text == "thread_name") {
      names[int64_t((*event)["tid"].number)] = (*event)["args"]["name"].text;
    }
  }
  return names;
}

} // namespace

TEST_CASE("trace: one event per instruction and per program, plus metadata", "[trace]") {
  const sim::SimulationReport report = traced(beltSchedule(testSystem()), testSystem());
  REQUIRE(report.traced);
  REQUIRE(report.programs.at(0).trace.size() == kBeltTimes.size());
  const JsonValue trace = parseTrace(sim::renderTrace(report));

  CHECK(trace["traceEvents"].items.size() == kBeltTimes.size() + 1 + kMetadataPerChip);
  CHECK(eventsWithPhase(trace, "M").size() == kMetadataPerChip);
  CHECK(instructionEvents(trace).size() == kBeltTimes.size());
  for (const JsonValue &event : trace["traceEvents"].items) {
    const std::string ph = event["ph"].text;
    CHECK((ph == "M" || ph == "X"));
    CHECK(event["pid"].number == 0);
    CHECK(event["tid"].isNumber());
    CHECK(event["args"].isObject());
  }

  std::set<std::string> processNames;
  for (const JsonValue *event : eventsWithPhase(trace, "M")) {
    if ((*event)["name"].text == "process_name") {
      processNames.insert((*event)["args"]["name"].text);
    }
  }
  CHECK(processNames == std::set<std::string>{"chip 0"});
  std::set<std::string> names;
  for (const auto &[tid, name] : threadNames(trace)) {
    names.insert(name);
  }
  CHECK(names == std::set<std::string>{"programs", "MEM", "MXM", "VXM", "SXM"});

  const JsonValue &other = trace["otherData"];
  CHECK(other["model"].text == "unit-test-model");
  CHECK(other["system"].text == "test-chip");
  CHECK(other["clock_hz"].number == 1e9);
  CHECK(other["traced"].flag);
}

TEST_CASE("trace: ts and dur are the issue cycle and occupancy in microseconds", "[trace]") {
  const sim::SimulationReport report = traced(beltSchedule(testSystem()), testSystem());
  REQUIRE(report.programs.at(0).cycles == kBeltCycles);
  const JsonValue trace = parseTrace(sim::renderTrace(report));
  const std::map<int64_t, std::string> threads = threadNames(trace);
  const std::vector<const JsonValue *> events = instructionEvents(trace);
  REQUIRE(events.size() == kBeltTimes.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const JsonValue &event = *events[i];
    const Expected &expected = kBeltTimes[i];
    CAPTURE(i, expected.opcode);
    // 1 GHz: one cycle is one nanosecond.
    CHECK(nanoseconds(event["ts"]) == int64_t(expected.issue));
    CHECK(nanoseconds(event["dur"]) == int64_t(expected.occupancy));
    CHECK(event["cat"].text == expected.opcode);
    CHECK(threads.at(int64_t(event["tid"].number)) == expected.unit);
    const JsonValue &args = event["args"];
    CHECK(args["opcode"].text == expected.opcode);
    CHECK(args["program"].text == "p0");
    CHECK(args["index"].number == double(i));
    CHECK(args["issue_cycle"].number == double(expected.issue));
    CHECK(args["occupancy_cycles"].number == double(expected.occupancy));
    CHECK(args["duration_cycles"].number == double(expected.duration));
    CHECK(args["busy_until_cycle"].number == double(expected.issue + expected.occupancy));
    CHECK(args["ready_cycle"].number == double(expected.issue + expected.duration));
  }
  const JsonValue &matmul = *events[1];
  CHECK(matmul["name"].text == "proj");
  CHECK(matmul["args"]["location"].text == "proj");
  REQUIRE(matmul["args"]["operands"].items.size() == 2);
  CHECK(matmul["args"]["operands"].items[0].text == "x");
  CHECK(matmul["args"]["operands"].items[1].text == "w");
  REQUIRE(matmul["args"]["results"].items.size() == 1);
  CHECK(matmul["args"]["results"].items[0].text == "h");
  CHECK_FALSE(matmul["args"].has("kind"));
  CHECK((*events[2])["args"]["kind"].text == "relu");
  CHECK((*events[5])["args"]["results"].isArray());
  CHECK((*events[5])["args"]["results"].items.empty());

  const std::vector<const JsonValue *> programs = eventsWithPhase(trace, "X");
  const JsonValue &program = *programs.at(0);
  REQUIRE(program["cat"].text == "program");
  CHECK(program["name"].text == "p0");
  CHECK(nanoseconds(program["ts"]) == 0);
  CHECK(nanoseconds(program["dur"]) == int64_t(kBeltCycles));
  CHECK(program["args"]["cycles"].number == double(kBeltCycles));
  CHECK(program["args"]["instructions"].number == double(kBeltTimes.size()));
}

TEST_CASE("trace: a clock that is not 1 GHz rounds cycle boundaries to nanoseconds", "[trace]") {
  // Same cycles as testSystem() (host bytes/s follows the clock, so H(n) stays n), 900 MHz.
  system::SystemConfig config = testSystem();
  config.chip.clockHz = 900e6;
  config.chip.host.bytesPerSecond = 900e6;
  const sim::SimulationReport report = traced(beltSchedule(config), config);
  REQUIRE(report.programs.at(0).cycles == kBeltCycles);
  const std::string text = sim::renderTrace(report);
  // MEM_READ at cycle 1428 = 1586.67 ns; busy until 1684 = 1871.11 ns.
  CHECK_THAT(text, Catch::Contains("\"ts\": 1.587, \"dur\": 0.284"));
  const JsonValue trace = parseTrace(text);
  std::map<int64_t, int64_t> lastEndByThread;
  for (const JsonValue *event : instructionEvents(trace)) {
    const JsonValue &args = (*event)["args"];
    const uint64_t issue = uint64_t(args["issue_cycle"].number);
    const uint64_t busyUntil = uint64_t(args["busy_until_cycle"].number);
    const int64_t start = nanoseconds((*event)["ts"]);
    const int64_t end = start + nanoseconds((*event)["dur"]);
    CHECK(start == std::llround(double(issue) / 0.9));
    CHECK(end == std::llround(double(busyUntil) / 0.9));
    // Back-to-back instructions of one unit never overlap after rounding.
    const int64_t tid = int64_t((*event)["tid"].number);
    if (lastEndByThread.count(tid) != 0) {
      CHECK(start >= lastEndByThread[tid]);
    }
    lastEndByThread[tid] = end;
  }
}

TEST_CASE("trace: programs of one chip follow each other on the time axis", "[trace]") {
  const sim::SimulationReport report = traced(beltSchedule(testSystem(), 2), testSystem());
  REQUIRE(report.programs.size() == 2);
  const JsonValue trace = parseTrace(sim::renderTrace(report));
  CHECK(trace["traceEvents"].items.size() == 2 * (kBeltTimes.size() + 1) + kMetadataPerChip);
  const std::vector<const JsonValue *> events = instructionEvents(trace);
  REQUIRE(events.size() == 2 * kBeltTimes.size());
  for (size_t i = 0; i < kBeltTimes.size(); ++i) {
    CAPTURE(i);
    const JsonValue &second = *events[kBeltTimes.size() + i];
    CHECK(second["args"]["program"].text == "p1");
    // Program-local cycles in args; the time axis continues after p0's last cycle.
    CHECK(second["args"]["issue_cycle"].number == double(kBeltTimes[i].issue));
    CHECK(nanoseconds(second["ts"]) == int64_t(kBeltCycles + kBeltTimes[i].issue));
  }
  std::vector<const JsonValue *> programs;
  for (const JsonValue *event : eventsWithPhase(trace, "X")) {
    if ((*event)["cat"].text == "program") {
      programs.push_back(event);
    }
  }
  REQUIRE(programs.size() == 2);
  CHECK(nanoseconds((*programs[1])["ts"]) == int64_t(kBeltCycles));
  CHECK((*programs[1])["args"]["start_cycle"].number == double(kBeltCycles));
}

TEST_CASE("trace: names with quotes, backslashes and newlines survive", "[trace]") {
  schedule::Schedule s = beltSchedule(testSystem());
  const std::string odd = "node \"a\\b\"\n\ttab";
  s.mutable_programs(0)->mutable_instructions(1)->set_location(odd);
  s.mutable_buffers(0)->set_name("x \"quoted\"");
  s.mutable_programs(0)->set_name("prog\\1");
  const JsonValue trace = parseTrace(sim::renderTrace(traced(s, testSystem())));
  const std::vector<const JsonValue *> events = instructionEvents(trace);
  CHECK((*events.at(1))["name"].text == odd);
  CHECK((*events.at(1))["args"]["operands"].items.at(0).text == "x \"quoted\"");
  CHECK((*events.at(1))["args"]["program"].text == "prog\\1");
}

TEST_CASE("trace: deterministic, and collecting it leaves the report unchanged", "[trace]") {
  const schedule::Schedule s = beltSchedule(testSystem(), 2);
  const sim::SimulationReport first = traced(s, testSystem());
  const sim::SimulationReport second = traced(s, testSystem());
  CHECK(sim::renderTrace(first) == sim::renderTrace(second));

  Result<sim::SimulationReport> plain =
      sim::simulate(s, testSystem(), {}, sim::SimulationOptions{false});
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->traced);
  CHECK(plain->programs.at(0).trace.empty());
  CHECK(sim::renderJson(*plain) == sim::renderJson(first));
  CHECK(sim::renderText(*plain) == sim::renderText(first));

  // An untraced report renders metadata and program spans only.
  const JsonValue trace = parseTrace(sim::renderTrace(*plain));
  CHECK(trace["traceEvents"].items.size() == 2 + kMetadataPerChip);
  CHECK(instructionEvents(trace).empty());
  CHECK_FALSE(trace["otherData"]["traced"].flag);
}

TEST_CASE("trace: a report without programs is still a valid trace", "[trace]") {
  sim::SimulationReport empty;
  const JsonValue trace = parseTrace(sim::renderTrace(empty));
  CHECK(trace["traceEvents"].items.empty());
}

TEST_CASE("mini JSON parser rejects what is not JSON", "[trace]") {
  for (const char *bad : {"", "{", "{\"a\": 1,}", "[1 2]", "{\"a\": 1, \"a\": 2}", "01",
                          "\"tab\there\"", "{} x", "1.", "nul"}) {
    CAPTURE(bad);
    CHECK_FALSE(MiniJsonParser(bad).parse().has_value());
  }
  CHECK(MiniJsonParser("{\"a\": [1, -2.5e3, true, null, \"s\\\"\"]}").parse().has_value());
}
