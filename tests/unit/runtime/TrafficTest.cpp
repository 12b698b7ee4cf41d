// Synthetic traffic: determinism per seed, independent streams, and the statistics of each
// arrival process and length distribution over many samples.
#include "RuntimeTestSupport.h"

#include "conveyor/Runtime/ArrivalProcess.h"
#include "conveyor/Runtime/LengthDistribution.h"
#include "conveyor/Runtime/SyntheticTraffic.h"

#include <fmt/format.h>

#include <cmath>

using namespace conveyor;
using namespace conveyor::runtime;

namespace {

std::vector<Request> generate(const SyntheticTrafficConfig &config) {
  Result<std::vector<Request>> requests = generateRequests(config);
  INFO((requests ? std::string() : requests.error()));
  REQUIRE(requests.ok());
  return std::move(*requests);
}

struct GapStatistics {
  double mean = 0, cv = 0;
};

GapStatistics gapStatistics(const std::string &spec, uint32_t samples) {
  Result<PolicySpec> parsed = parsePolicySpec(spec, "--arrival");
  REQUIRE(parsed.ok());
  Result<std::unique_ptr<ArrivalProcess>> process = makeArrivalProcess(*parsed);
  REQUIRE(process.ok());
  Rng rng(2024);
  double sum = 0, sumSquares = 0;
  uint32_t negative = 0;
  for (uint32_t i = 0; i < samples; ++i) {
    const double gap = (*process)->nextGapSeconds(rng);
    negative += gap < 0;
    sum += gap;
    sumSquares += gap * gap;
  }
  CHECK(negative == 0);
  GapStatistics stats;
  stats.mean = sum / samples;
  stats.cv = std::sqrt(sumSquares / samples - stats.mean * stats.mean) / stats.mean;
  return stats;
}

double sampleMean(const std::string &spec, uint32_t samples, uint32_t &low, uint32_t &high) {
  Result<PolicySpec> parsed = parsePolicySpec(spec, "--prompt");
  REQUIRE(parsed.ok());
  Result<std::unique_ptr<LengthDistribution>> lengths = makeLengthDistribution(*parsed, "--prompt");
  REQUIRE(lengths.ok());
  Rng rng(99);
  double sum = 0;
  low = UINT32_MAX;
  high = 0;
  for (uint32_t i = 0; i < samples; ++i) {
    const uint32_t tokens = (*lengths)->sample(rng);
    low = std::min(low, tokens);
    high = std::max(high, tokens);
    sum += tokens;
  }
  return sum / samples;
}

} // namespace

TEST_CASE("the generator is deterministic for a seed and differs across seeds") {
  SyntheticTrafficConfig config;
  config.requests = 1000;
  config.seed = 5;
  config.arrivals = {"gamma", {{"rate", 20.0}, {"cv", 2.0}}};
  config.promptTokens = {"lognormal", {{"mean", 512.0}}};
  config.outputTokens = {"uniform", {{"min", 16.0}, {"max", 256.0}}};
  std::vector<Request> first = generate(config), second = generate(config);
  REQUIRE(first.size() == 1000);
  size_t same = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    same += first[i].arrivalSeconds == second[i].arrivalSeconds &&
            first[i].promptTokens == second[i].promptTokens &&
            first[i].outputTokens == second[i].outputTokens;
  }
  CHECK(same == 1000);
  CHECK(validateRequests(first).ok()); // sorted, positive lengths

  config.seed = 6;
  std::vector<Request> other = generate(config);
  size_t sameArrivals = 0;
  for (size_t i = 0; i < other.size(); ++i) {
    sameArrivals += other[i].arrivalSeconds == first[i].arrivalSeconds;
  }
  CHECK(sameArrivals == 0);
}

TEST_CASE("changing a length distribution leaves the arrival times unchanged") {
  SyntheticTrafficConfig config;
  config.requests = 300;
  std::vector<Request> fixed = generate(config);
  config.promptTokens = {"uniform", {{"min", 1.0}, {"max", 4096.0}}};
  std::vector<Request> uniform = generate(config);
  bool lengthsDiffer = false;
  for (size_t i = 0; i < fixed.size(); ++i) {
    REQUIRE(fixed[i].arrivalSeconds == uniform[i].arrivalSeconds);
    REQUIRE(fixed[i].outputTokens == uniform[i].outputTokens);
    lengthsDiffer = lengthsDiffer || fixed[i].promptTokens != uniform[i].promptTokens;
  }
  CHECK(lengthsDiffer);
}

TEST_CASE("poisson arrivals have the configured mean rate and cv 1") {
  // 200,000 gaps: the mean's standard error is 0.22%, so 1% is a > 4 sigma band.
  GapStatistics stats = gapStatistics("poisson:rate=5", 200000);
  CHECK(stats.mean == Approx(0.2).epsilon(0.01));
  CHECK(stats.cv == Approx(1.0).epsilon(0.02));

  // The same through the generator: 20,000 requests at 50/s end near 400 s.
  SyntheticTrafficConfig config;
  config.requests = 20000;
  config.arrivals = {"poisson", {{"rate", 50.0}}};
  std::vector<Request> requests = generate(config);
  CHECK(requests.size() / requests.back().arrivalSeconds == Approx(50).epsilon(0.03));
}

TEST_CASE("gamma arrivals keep the rate and give the requested burstiness") {
  for (double cv : {0.5, 1.0, 3.0}) {
    GapStatistics stats = gapStatistics(fmt::format("gamma:rate=10,cv={}", cv), 400000);
    INFO("cv " << cv);
    CHECK(stats.mean == Approx(0.1).epsilon(0.02));
    CHECK(stats.cv == Approx(cv).epsilon(0.05));
  }
}

TEST_CASE("on/off arrivals keep the long-run rate and never arrive in an off window") {
  Result<PolicySpec> spec = parsePolicySpec("onoff:rate=4,on=1,off=3", "--arrival");
  REQUIRE(spec.ok());
  Result<std::unique_ptr<ArrivalProcess>> process = makeArrivalProcess(*spec);
  REQUIRE(process.ok());
  Rng rng(7);
  double now = 0;
  const int samples = 100000;
  int inOffWindow = 0;
  for (int i = 0; i < samples; ++i) {
    now += (*process)->nextGapSeconds(rng);
    inOffWindow += std::fmod(now, 4.0) > 1.0 + 1e-9;
  }
  CHECK(inOffWindow == 0);
  CHECK(samples / now == Approx(4).epsilon(0.02));
}

TEST_CASE("length distributions: range and mean") {
  uint32_t low = 0, high = 0;
  CHECK(sampleMean("fixed:tokens=77", 1000, low, high) == 77);
  CHECK(sampleMean("uniform:min=10,max=20", 100000, low, high) == Approx(15).epsilon(0.01));
  CHECK(low == 10);
  CHECK(high == 20);
  // Lognormal with a wide clip keeps its mean (rounding changes it by < 0.01%).
  CHECK(sampleMean("lognormal:mean=512,sigma=0.5", 200000, low, high) == Approx(512).epsilon(0.01));
  // ... and a tight clip is honoured.
  sampleMean("lognormal:mean=512,sigma=1.5,min=100,max=600", 100000, low, high);
  CHECK(low == 100);
  CHECK(high == 600);
}

TEST_CASE("traffic config errors name the option") {
  SyntheticTrafficConfig config;
  config.outputTokens = {"zipf", {}};
  CHECK_THAT(generateRequests(config).error(),
             Catch::Contains("output tokens: unknown length distribution 'zipf'"));
  config = {};
  config.requests = 0;
  CHECK_THAT(generateRequests(config).error(), Catch::Contains("requests must be at least 1"));
}
