// conveyor compare: the DECODE buckets a served LPU schedule needs, and an LPU system priced
// from a (hand-built) simulated layer pipeline through runCompare into the report, with the
// source of its figures in every row.
#include "conveyor/Reports/Compare.h"
#include "conveyor/Reports/ReportRender.h"
#include "conveyor/Runtime/LpuServingBackend.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace conveyor;
using namespace conveyor::reports;

namespace {

std::vector<runtime::Request> requestsOf(std::vector<std::pair<uint32_t, uint32_t>> lengths) {
  std::vector<runtime::Request> requests;
  for (auto [prompt, output] : lengths) {
    runtime::Request request;
    request.promptTokens = prompt;
    request.outputTokens = output;
    requests.push_back(request);
  }
  return requests;
}

} // namespace

TEST_CASE("servingKvBuckets: the longest context and the powers of two a decode step fits in") {
  // Fixed lengths: every decode step needs 513..640 tokens of KV, so one bucket.
  CHECK(servingKvBuckets(requestsOf({{512, 128}, {512, 128}})) == std::vector<uint64_t>{640});
  CHECK(servingKvBuckets(requestsOf({{128, 32}})) == std::vector<uint64_t>{160});
  // Mixed lengths: 512 holds the short prompts' steps, 1024 and 2048 the middle, 3000 the rest.
  CHECK(servingKvBuckets(requestsOf({{100, 20}, {2900, 100}, {700, 50}})) ==
        std::vector<uint64_t>{512, 1024, 2048, 3000});
  // A longest context that is a power of two is listed once.
  CHECK(servingKvBuckets(requestsOf({{300, 212}})) == std::vector<uint64_t>{512});
  CHECK(servingKvBuckets({}).empty());
}

TEST_CASE("an LPU system served from a simulated pipeline: per-user tok/s = clock / latency") {
  // Two stages on 4 chips at 1 MHz: latency 1000 cycles (1 ms), stage time 600 cycles.
  runtime::DecodeBucket bucket;
  bucket.kvLength = 160;
  bucket.stages = {{"stage0", 2, 600, 300, 0.01}, {"stage1", 2, 1000, 400, 0.02}};
  system::SystemConfig config;
  config.name = "groq-4";
  config.chip.energy.staticWatts = 10;
  config.fabric.chips = 4;
  auto backend =
      runtime::LpuPipelineBackend::create({bucket}, 1e6, "groq-4", config, {.maxSequences = 2});
  REQUIRE(backend.ok());
  REQUIRE(backend->latencyCycles(0) == 1000);
  REQUIRE(backend->stageCycles(0) == 600);

  CompareSystem lpu;
  lpu.label = "lpu:groq-4";
  lpu.kind = "LPU";
  lpu.source = "simulated schedule";
  lpu.backend = std::make_shared<runtime::LpuPipelineBackend>(std::move(*backend));
  CompareOptions options;
  // Requests 10 s apart on average and 9 ms long each: they never share the pipeline.
  options.traffic.requests = 5;
  options.traffic.rate = 0.1;
  options.traffic.promptTokens = "8";
  options.traffic.outputTokens = "5";
  auto runs = runCompare({lpu}, options);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  const runtime::ServingReport &r = runs->front().report;
  REQUIRE(r.maxSequencesInFlight == 1);
  CHECK(runs->front().source == "simulated schedule");
  CHECK(r.userTokensPerSecond.mean == Approx(1e6 / 1000.0));
  CHECK(r.tpot.p50 == Approx(1e-3));
  // Prefill runs token by token through the DECODE pipeline: L + 7 T = 5200 cycles.
  CHECK(r.ttft.p50 == Approx(5.2e-3));
  // Dynamic energy is the simulated stages' 0.03 J per step: 8 prefill + 4 decode steps.
  CHECK(r.dynamicJoules == Approx(5 * 12 * 0.03));
  CHECK(r.idleJoules == Approx(40 * r.makespanSeconds));

  Document document = makeCompareDocument("m", {"setup"}, {lpu}, *runs);
  std::string csv = renderCsv(document.sections[1].tables[0]);
  CHECK(csv.find("system,kind,source,devices,") == 0);
  CHECK(csv.find("\nlpu:groq-4,LPU,simulated schedule,4,") != std::string::npos);
}

TEST_CASE("a fallback LPU row names the planner estimate and why") {
  CompareRun run;
  run.system = "lpu:groq-8";
  run.kind = "LPU";
  run.source = "estimated: the traffic reaches 160 tokens of context";
  run.base = true;
  run.report.devices = 8;
  CompareSystem system;
  system.label = run.system;
  system.kind = run.kind;
  Document document = makeCompareDocument("m", {}, {system}, {run});
  std::string markdown = renderMarkdown(document, {});
  CHECK(markdown.find("| figures from |") != std::string::npos);
  CHECK(markdown.find("| lpu:groq-8 | LPU | estimated: the traffic reaches 160 tokens of "
                      "context | 8 |") != std::string::npos);
}
