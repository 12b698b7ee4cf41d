// The explore engine: sweep ranges, point order, Pareto front and fitting frontier on
// hand-made points, JSONL round trip, deterministic parallel runs and resume.
#include "conveyor/Reports/Explore.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace conveyor;
using namespace conveyor::reports;

namespace {

/// A made-up closed form: fits from 4096 / sram chips on; speed grows with chips.
Result<ExploreResult> fakeEvaluate(const ExplorePoint &point) {
  ExploreResult result;
  result.point = point;
  uint32_t minimum = uint32_t(std::ceil(4096.0 / point.sramMegabytes));
  if (point.precision == "fp16") {
    minimum *= 2;
  }
  result.minimumChips = minimum;
  result.fits = point.chips >= minimum;
  if (!result.fits) {
    result.reason = "needs at least " + std::to_string(minimum) + " chips";
    return result;
  }
  result.tensorParallel = 1;
  result.pipelineStages = point.chips;
  result.perUserTokensPerSecond = point.chips / double(std::max(1u, point.sequences / 4));
  result.aggregateTokensPerSecond = result.perUserTokensPerSecond * point.sequences;
  result.joulesPerToken = 100.0 * point.chips / result.aggregateTokensPerSecond;
  result.decodeStepSeconds = 1 / result.perUserTokensPerSecond;
  result.watts = 100.0 * point.chips;
  return result;
}

std::string readText(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ExploreOptions sampleOptions(const std::string &results) {
  ExploreOptions options;
  options.chips = {8, 16, 32, 64};
  options.sramMegabytes = {128, 256};
  options.precisions = {"int8", "fp16"};
  options.sequences = {1, 8};
  options.sweepId = "test-sweep";
  options.resultsPath = results;
  options.jobs = 4;
  return options;
}

std::filesystem::path freshFile(const std::string &name) {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("conveyor-explore-" + name + "-" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  return path;
}

} // namespace

TEST_CASE("sweep ranges: doubling, stepped and lists") {
  auto doubling = parseSweepRange("64..1024", "--chips");
  REQUIRE(doubling.ok());
  CHECK(*doubling == std::vector<double>{64, 128, 256, 512, 1024});
  auto uneven = parseSweepRange("100..500", "--chips");
  REQUIRE(uneven.ok());
  CHECK(*uneven == std::vector<double>{100, 200, 400, 500});
  auto stepped = parseSweepRange("128..512:128", "--sram-mb");
  REQUIRE(stepped.ok());
  CHECK(*stepped == std::vector<double>{128, 256, 384, 512});
  auto list = parseSweepRange("576,64,64,8", "--chips");
  REQUIRE(list.ok());
  CHECK(*list == std::vector<double>{8, 64, 576});
  auto bad = parseSweepRange("64..x", "--chips");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().rfind("--chips '64..x': expected two positive bounds", 0) == 0);
  CHECK_FALSE(parseSweepRange("512..64", "--chips").ok());
  CHECK_FALSE(parseSweepRange("0,4", "--chips").ok());
  CHECK_FALSE(parseSweepRange("", "--chips").ok());
  CHECK_FALSE(parseSweepRange("1..1000000:1", "--chips").ok()); // too many values
}

TEST_CASE("Pareto front on hand-made points") {
  // (tokens/s up, J/token down, chips down)
  std::vector<std::vector<double>> points = {
      {100, 5, 64},   // 0: dominated by 1 (same chips, faster, cheaper)
      {120, 4, 64},   // 1: front
      {300, 10, 576}, // 2: front (fastest)
      {90, 3, 128},   // 3: front (cheapest energy)
      {300, 10, 576}, // 4: duplicate of 2: both kept
      {50, 6, 32},    // 5: front (fewest chips)
      {60, NAN, 16},  // 6: NaN never on the front
      {110, 4, 128},  // 7: dominated by 1
  };
  auto front = paretoFront(points, {Goal::Maximize, Goal::Minimize, Goal::Minimize});
  CHECK(front == std::vector<size_t>{1, 2, 3, 4, 5});
  // Two objectives only: tokens/s vs J/token.
  std::vector<std::vector<double>> two = {{1, 1}, {2, 2}, {2, 1}, {0.5, 0.5}};
  CHECK(paretoFront(two, {Goal::Maximize, Goal::Minimize}) == std::vector<size_t>{2, 3});
  CHECK(paretoFront({}, {Goal::Maximize}).empty());
}

TEST_CASE("fitting frontier: fewest swept chips and the exact minimum per SRAM and precision") {
  auto run = runExplore(sampleOptions(""), fakeEvaluate);
  REQUIRE(run.ok());
  std::vector<FrontierRow> rows = fittingFrontier(run->results);
  REQUIRE(rows.size() == 4);
  // int8 at 128 MB: minimum 32, swept 8/16/32/64 -> 32. At 256 MB: minimum 16 -> 16.
  CHECK(rows[0].precision == "int8");
  CHECK(rows[0].sramMegabytes == 128);
  CHECK(rows[0].minimumChips == 32);
  CHECK(rows[0].fewestSweptChips == 32);
  CHECK(rows[1].sramMegabytes == 256);
  CHECK(rows[1].fewestSweptChips == 16);
  // fp16 at 128 MB needs 64; at 256 MB 32.
  CHECK(rows[2].precision == "fp16");
  CHECK(rows[2].fewestSweptChips == 64);
  CHECK(rows[3].fewestSweptChips == 32);
  // Nothing swept fits: the exact minimum is still shown, the swept one is 0.
  ExploreOptions small = sampleOptions("");
  small.chips = {8};
  auto none = runExplore(small, fakeEvaluate);
  REQUIRE(none.ok());
  CHECK(fittingFrontier(none->results)[0].fewestSweptChips == 0);
  CHECK(fittingFrontier(none->results)[0].minimumChips == 32);
}

TEST_CASE("result lines round-trip exactly") {
  ExploreResult result = *fakeEvaluate({64, 128.5, "int8", 8});
  result.reason = "a \"quoted\" note";
  std::string line = renderResultLine(result, "sweep \\ id");
  std::string sweep;
  auto parsed = parseResultLine(line, "x.jsonl:1", sweep);
  REQUIRE(parsed.ok());
  CHECK(sweep == "sweep \\ id");
  CHECK(renderResultLine(*parsed, sweep) == line);
  ExploreResult refused = *fakeEvaluate({8, 128, "fp16", 1});
  std::string refusedLine = renderResultLine(refused, "s");
  CHECK(refusedLine.find("\"per_user_tok_s\": null") != std::string::npos);
  auto back = parseResultLine(refusedLine, "x.jsonl:2", sweep);
  REQUIRE(back.ok());
  CHECK_FALSE(back->fits);
  CHECK(std::isnan(back->joulesPerToken));
  auto broken = parseResultLine("{\"sweep\": \"s\", \"chips\": 8}", "x.jsonl:3", sweep);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error() == "x.jsonl:3: \"sram_mb\" is missing or not a number");
}

TEST_CASE("parallel runs are deterministic and written in sweep order") {
  std::filesystem::path one = freshFile("one"), many = freshFile("many");
  ExploreOptions serial = sampleOptions(one.string());
  serial.jobs = 1;
  ExploreOptions parallel = sampleOptions(many.string());
  parallel.jobs = 8;
  // Make later points finish first in the parallel run.
  auto slowEarly = [](const ExplorePoint &point) {
    std::this_thread::sleep_for(std::chrono::microseconds(point.chips == 8 ? 3000 : 0));
    return fakeEvaluate(point);
  };
  auto a = runExplore(serial, fakeEvaluate);
  auto b = runExplore(parallel, slowEarly);
  REQUIRE((a.ok() && b.ok()));
  CHECK(a->evaluated == 32);
  CHECK(readText(one) == readText(many));
  // Sweep order: precision, SRAM, chips, sequences.
  CHECK(b->results[0].point.precision == "int8");
  CHECK(b->results[1].point.sequences == 8);
  CHECK(b->results[2].point.chips == 16);
  CHECK(b->results[8].point.sramMegabytes == 256);
  CHECK(b->results[16].point.precision == "fp16");
  std::filesystem::remove(one);
  std::filesystem::remove(many);
}

TEST_CASE("resume skips points already in the results file") {
  std::filesystem::path file = freshFile("resume");
  ExploreOptions options = sampleOptions(file.string());
  // A first run over part of the grid.
  ExploreOptions partial = options;
  partial.chips = {8, 16};
  std::atomic<int> calls{0};
  auto counting = [&](const ExplorePoint &point) {
    ++calls;
    return fakeEvaluate(point);
  };
  REQUIRE(runExplore(partial, counting).ok());
  CHECK(calls == 16);
  // The full grid evaluates only the missing half.
  calls = 0;
  std::vector<size_t> reusedSeen;
  options.progress = [&](size_t, size_t, size_t reused) { reusedSeen.push_back(reused); };
  auto run = runExplore(options, counting);
  REQUIRE(run.ok());
  CHECK(calls == 16);
  CHECK(run->reused == 16);
  CHECK(run->evaluated == 16);
  CHECK(reusedSeen.back() == 16);
  // A third run evaluates nothing and rewrites the same file.
  calls = 0;
  std::string before = readText(file);
  auto again = runExplore(options, counting);
  REQUIRE(again.ok());
  CHECK(calls == 0);
  CHECK(again->reused == 32);
  CHECK(readText(file) == before);
  // A fresh run gives the same file (resumed order equals sweep order).
  std::filesystem::path fresh = freshFile("fresh");
  REQUIRE(runExplore(sampleOptions(fresh.string()), fakeEvaluate).ok());
  CHECK(readText(fresh) == before);
  std::filesystem::remove(fresh);

  SECTION("an interrupted last line is evaluated again") {
    std::string text = readText(file);
    text.resize(text.size() - 20); // cut the last line short, no newline
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    calls = 0;
    auto resumed = runExplore(options, counting);
    REQUIRE(resumed.ok());
    CHECK(calls == 1);
    CHECK(readText(file) == before);
  }
  SECTION("a results file of another sweep is an error, not reused") {
    ExploreOptions other = options;
    other.sweepId = "other-sweep";
    auto refused = runExplore(other, counting);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().find(":1: results of another sweep ('test-sweep'; this one is "
                               "'other-sweep')") != std::string::npos);
  }
  SECTION("a corrupt line in the middle is an error naming the line") {
    std::string text = readText(file);
    text.insert(text.find('\n') + 1, "not json\n");
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    auto refused = runExplore(options, counting);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().find(file.string() + ":2: expected a JSON object") != std::string::npos);
  }
  std::filesystem::remove(file);
}

TEST_CASE("an evaluator error stops the sweep and keeps what was written") {
  std::filesystem::path file = freshFile("error");
  ExploreOptions options = sampleOptions(file.string());
  options.jobs = 1;
  auto failing = [](const ExplorePoint &point) -> Result<ExploreResult> {
    if (point.chips == 32) {
      return makeError("planner: boom at 32 chips");
    }
    return fakeEvaluate(point);
  };
  auto run = runExplore(options, failing);
  REQUIRE_FALSE(run.ok());
  CHECK(run.error() == "planner: boom at 32 chips");
  std::string text = readText(file);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4); // 8 and 16 chips x 2 sequences
  std::filesystem::remove(file);
}

TEST_CASE("the explore report has the frontier, the front and every point") {
  auto run = runExplore(sampleOptions(""), fakeEvaluate);
  REQUIRE(run.ok());
  Document document = makeExploreDocument("toy", {"setup line"}, run->results);
  CHECK(checkDocument(document).ok());
  REQUIRE(document.sections.size() == 3);
  CHECK(document.sections[0].tables[0].rows.size() == 4);
  CHECK(document.sections[2].tables[0].rows.size() == 32);
  // The front: every fitting point not dominated; here per-user speed grows with chips and
  // J/token is constant per sequence count, so each chip count keeps its 1-sequence point.
  const Table &front = document.sections[1].tables[0];
  CHECK_FALSE(front.rows.empty());
  for (const auto &row : front.rows) {
    CHECK(row[4].text() == "yes");
  }
  CHECK(document.sections[1].plots.size() == 2);
  CHECK(document.sections[1].plots[0].series[0].colorValues.size() ==
        document.sections[1].plots[0].series[0].x.size());
}
