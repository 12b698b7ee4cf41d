// Metric definitions: the percentile rule (checked against numpy's default), summaries,
// and the text/JSON renderings (stable, complete, NaN as null).
#include "RuntimeTestSupport.h"

#include "conveyor/Runtime/ServingReport.h"
#include "conveyor/Runtime/SyntheticTraffic.h"
#include "conveyor/Runtime/TokenLoop.h"

#include <cmath>

using namespace conveyor;
using namespace conveyor::runtime;
using namespace conveyor::runtime::test;

TEST_CASE("percentiles interpolate linearly between closest ranks, like numpy") {
  // numpy.percentile([3, 1, 4, 1, 5, 9, 2, 6], q) for q = 0, 50, 90, 95, 99, 99.9, 100.
  MetricSummary summary = summarize(std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6});
  CHECK(summary.count == 8);
  CHECK(summary.min == 1);
  CHECK(summary.p50 == near(3.5));
  CHECK(summary.p90 == near(6.9));
  CHECK(summary.p95 == near(7.95));
  CHECK(summary.p99 == near(8.79));
  CHECK(summary.p999 == near(8.979));
  CHECK(summary.max == 9);
  CHECK(summary.mean == near(31.0 / 8));

  // numpy.percentile(np.arange(1, 1001) ** 1.5, q).
  std::vector<double> values;
  for (int i = 1000; i >= 1; --i) { // reversed: summarize must sort
    values.push_back(std::pow(double(i), 1.5));
  }
  summary = summarize(values);
  CHECK(summary.p50 == Approx(11197.118779792121).epsilon(1e-13));
  CHECK(summary.p90 == Approx(27004.501249768615).epsilon(1e-13));
  CHECK(summary.p95 == Approx(29283.278777577398).epsilon(1e-13));
  CHECK(summary.p99 == Approx(31150.09487379794).epsilon(1e-13));
  CHECK(summary.p999 == Approx(31575.401719604048).epsilon(1e-13));
}

TEST_CASE("percentiles of tiny samples") {
  const std::vector<double> one = {0.7};
  CHECK(percentileOfSorted(one, 0.0) == 0.7);
  CHECK(percentileOfSorted(one, 0.999) == 0.7);
  const std::vector<double> two = {1.0, 3.0};
  CHECK(percentileOfSorted(two, 0.5) == 2.0);
  CHECK(percentileOfSorted(two, 0.99) == near(2.98));
  CHECK(percentileOfSorted(two, 1.0) == 3.0);
  CHECK(std::isnan(percentileOfSorted({}, 0.5)));
  MetricSummary empty = summarize({});
  CHECK(empty.count == 0);
  CHECK(std::isnan(empty.mean));
  CHECK(std::isnan(empty.p99));
}

namespace {
std::string runToJson(uint64_t seed) {
  SyntheticTrafficConfig traffic;
  traffic.requests = 400;
  traffic.seed = seed;
  traffic.arrivals = {"gamma", {{"rate", 40.0}, {"cv", 3.0}}};
  traffic.promptTokens = {"lognormal", {{"mean", 300.0}, {"sigma", 0.7}, {"max", 2048.0}}};
  traffic.outputTokens = {"uniform", {{"min", 1.0}, {"max", 60.0}}};
  Result<std::vector<Request>> requests = generateRequests(traffic);
  REQUIRE(requests.ok());
  AnalyticBackendConfig config;
  config.pipelineStages = 8;
  config.stageSeconds = 0.0005;
  config.stageSecondsPerNewToken = 0.00001;
  config.stageSecondsPerContextToken = 0.000001;
  config.maxSequences = 32;
  config.devices = 8;
  config.idleWatts = 800;
  config.joulesPerNewToken = 0.3;
  AnalyticBackend backend = makeBackend(config);
  auto policy = makePolicy("fcfs-kv:kv_tokens=20000");
  Result<ServingRun> run = runTokenLoop(*requests, backend, *policy);
  REQUIRE(run.ok());
  return renderJson(makeServingReport(*run), true);
}
} // namespace

TEST_CASE("a seed gives bit-identical JSON; another seed gives other numbers") {
  const std::string first = runToJson(11);
  const std::string second = runToJson(11);
  CHECK(first == second);
  CHECK(first != runToJson(12));
  CHECK_THAT(first, Catch::StartsWith("{\n  \"backend\": \"analytic\",\n"));
  CHECK_THAT(first, Catch::Contains("\"per_request\": [") && Catch::Contains("\"p99.9\": ") &&
                        Catch::Contains("\"j_per_token\": ") &&
                        Catch::Contains("\"busy_device_fraction\": "));
  // One-token outputs have no TPOT: rendered as null, not as a number.
  CHECK_THAT(first, Catch::Contains("\"tpot_s\": null"));
  CHECK_THAT(first, Catch::Contains("\"e2e_s\": null")); // unset SLO
}

TEST_CASE("text report names every metric") {
  AnalyticBackend backend = constantBackend(0.25, 2);
  auto policy = makePolicy("fcfs");
  std::vector<Request> requests = {request(0, 4, 3), request(0.5, 2, 1)};
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
  REQUIRE(run.ok());
  const std::string text = renderText(makeServingReport(*run));
  for (const char *label :
       {"TTFT (ms)", "TPOT (ms)", "ITL (ms)", "E2E (s)", "queueing (ms)", "user tokens/s",
        "goodput", "J/token", "devices busy", "TTFT <= 500 ms, TPOT <= 50 ms"}) {
    CHECK_THAT(text, Catch::Contains(label));
  }
  // Both TTFTs are 0.25 s, printed in milliseconds.
  CHECK_THAT(text, Catch::Contains("       250 "));
}
