// MEM_KV_APPEND into a KV_CACHE buffer (schedule.proto): numerics of the in-place write (row
// and transposed layouts), its timing rule, and the checks that keep it honest.
#include "SimulatorTestSupport.h"

#include "conveyor/Simulator/Simulator.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using conveyor::test::ScheduleBuilder;

namespace {

struct AppendCase {
  ScheduleBuilder b;
  schedule::Program *p = &b.program();
  uint32_t cache = 0, rows = 0, appended = 0, y = 0;

  /// cache (with `values`) <- rows at `position` on `axis`; then y = copy(cache).
  AppendCase(std::vector<int64_t> cacheShape, const std::vector<float> &values, int64_t axis,
             int64_t position, schedule::BufferKind kind = schedule::KV_CACHE) {
    cache = b.buffer("cache", kind, cacheShape, schedule::F32, values);
    rows = b.buffer("rows", schedule::INPUT, {1, 1, 1, 2});
    appended = b.view("cache.appended", cache, cacheShape);
    y = b.buffer("y", schedule::OUTPUT, cacheShape);
    auto &write = ScheduleBuilder::add(*p, 0, schedule::MEM_WRITE, {}, {rows});
    write.set_unit(schedule::MEM);
    auto &append = ScheduleBuilder::add(*p, 10000, schedule::MEM_KV_APPEND, {rows}, {appended});
    append.set_unit(schedule::MEM);
    append.set_axis(axis);
    append.add_starts(position);
    auto &copy = ScheduleBuilder::add(*p, 20000, schedule::MEM_COPY, {appended}, {y});
    copy.set_unit(schedule::MEM);
    auto &read = ScheduleBuilder::add(*p, 30000, schedule::MEM_READ, {y}, {});
    read.set_unit(schedule::MEM);
  }
  Result<sim::SimulationReport> run() {
    return sim::simulate(b.schedule, test::testSystem(),
                         {sim::TensorData{"rows", {1, 1, 1, 2}, {7, 8}}}, {});
  }
};

} // namespace

TEST_CASE("MEM_KV_APPEND writes the new row in place and keeps the cache", "[kv]") {
  SECTION("row layout [b, kv, T, d], axis 2") {
    AppendCase c({1, 1, 3, 2}, {1, 2, 3, 4, 0, 0}, 2, 2);
    auto report = c.run();
    REQUIRE(report);
    REQUIRE(report->functional);
    CHECK(report->outputs.at(0).values == std::vector<float>{1, 2, 3, 4, 7, 8});
  }
  SECTION("transposed layout [b, kv, d, T], axis 3") {
    AppendCase c({1, 1, 2, 3}, {1, 2, 0, 3, 4, 0}, 3, 2);
    auto report = c.run();
    REQUIRE(report);
    CHECK(report->outputs.at(0).values == std::vector<float>{1, 2, 7, 3, 4, 8});
  }
}

TEST_CASE("MEM_KV_APPEND costs the new rows only, and is checked", "[kv]") {
  SECTION("occupancy = vectors(rows), whatever the cache size") {
    AppendCase c({1, 1, 3000, 2}, {}, 2, 2999);
    sim::SimulationOptions options;
    options.collectTrace = true;
    auto report = sim::simulate(c.b.schedule, test::testSystem(),
                                {sim::TensorData{"rows", {1, 1, 1, 2}, {7, 8}}}, options);
    REQUIRE(report);
    const auto &trace = report->programs.at(0).trace;
    REQUIRE(trace.size() == 4);
    // The append moves one vector (8 bytes of rows); a copy of the 24,000-byte cache, 75.
    CHECK(trace[1].opcode == schedule::MEM_KV_APPEND);
    CHECK(trace[1].occupancy == 1);
    CHECK(trace[2].occupancy == 75);
    CHECK(trace[1].duration - trace[1].occupancy == trace[2].duration - trace[2].occupancy);
  }
  SECTION("a weight is constant: appending to it is refused") {
    AppendCase c({1, 1, 3, 2}, {1, 2, 3, 4, 0, 0}, 2, 2, schedule::WEIGHT);
    auto report = c.run();
    REQUIRE_FALSE(report);
    CHECK_THAT(report.error(), Catch::Contains("KV_CACHE"));
  }
  SECTION("a position past the end is refused") {
    AppendCase c({1, 1, 3, 2}, {1, 2, 3, 4, 0, 0}, 2, 3);
    auto report = c.run();
    REQUIRE_FALSE(report);
    CHECK_THAT(report.error(), Catch::Contains("do not fit cache"));
  }
  SECTION("reading the cache before the append lands is a hazard") {
    AppendCase c({1, 1, 3, 2}, {1, 2, 3, 4, 0, 0}, 2, 2);
    c.p->mutable_instructions(2)->set_issue_cycle(10001);
    auto report = c.run();
    REQUIRE_FALSE(report);
    CHECK_THAT(report.error(), Catch::Contains("before ready"));
  }
}
