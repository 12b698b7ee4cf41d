// The analytic backend's formulas: pipeline max(P, S) x stage time, unequal stage times,
// energy and busy fraction, and config errors that name the field.
#include "RuntimeTestSupport.h"

using namespace conveyor;
using namespace conveyor::runtime;
using namespace conveyor::runtime::test;

namespace {
std::vector<SequenceWork> decodes(uint32_t count, uint64_t context) {
  return std::vector<SequenceWork>(count, SequenceWork{SequencePhase::Decode, 1, context});
}
} // namespace

TEST_CASE("analytic backend: S equal sequences on P stages take max(P, S) stage times") {
  AnalyticBackendConfig config;
  config.pipelineStages = 80;
  config.stageSeconds = 40e-6;
  config.maxSequences = 512;
  AnalyticBackend backend = makeBackend(config);
  for (uint32_t sequences : {1u, 2u, 79u, 80u, 81u, 200u}) {
    Result<IterationCost> cost = backend.iterationCost(decodes(sequences, 100));
    REQUIRE(cost.ok());
    INFO("S = " << sequences);
    CHECK(cost->seconds == Approx(std::max(80u, sequences) * 40e-6).epsilon(1e-12));
    CHECK(cost->busyDeviceFraction == Approx(std::min(80u, sequences) / 80.0).epsilon(1e-12));
  }
}

TEST_CASE("analytic backend: unequal stage times, fixed part and energy") {
  AnalyticBackendConfig config;
  config.pipelineStages = 4;
  config.iterationFixedSeconds = 0.5;
  config.stageSeconds = 1;
  config.stageSecondsPerNewToken = 0.25;
  config.stageSecondsPerContextToken = 0.125;
  config.iterationFixedJoules = 3;
  config.joulesPerNewToken = 2;
  config.joulesPerContextToken = 0.5;
  config.maxSequences = 8;
  AnalyticBackend backend = makeBackend(config);
  // Stage times: prefill of 8 -> 1 + 2 = 3; decode at context 16 -> 1 + 0.25 + 2 = 3.25;
  // decode at context 0 -> 1.25. Sum 7.5 < 4 x 3.25 = 13: the slowest sequence's trip
  // around the pipeline sets the pace.
  std::vector<SequenceWork> work = {{SequencePhase::Prefill, 8, 0},
                                    {SequencePhase::Decode, 1, 16},
                                    {SequencePhase::Decode, 1, 0}};
  Result<IterationCost> cost = backend.iterationCost(work);
  REQUIRE(cost.ok());
  CHECK(cost->seconds == 0.5 + 13);
  CHECK(cost->dynamicJoules == 3 + 2 * 10 + 0.5 * 16);
  CHECK(cost->busyDeviceFraction == (0.5 + 7.5) / 13.5);
  // Eight sequences at 3.25 each: the stages are the bottleneck, 26 > 13.
  cost = backend.iterationCost(decodes(8, 16));
  REQUIRE(cost.ok());
  CHECK(cost->seconds == 0.5 + 26);
  CHECK(cost->busyDeviceFraction == 1.0);
  CHECK_FALSE(backend.iterationCost({}).ok());
}

TEST_CASE("analytic backend: config errors name the field") {
  AnalyticBackendConfig config;
  config.stageSeconds = 1;
  config.pipelineStages = 0;
  CHECK_THAT(AnalyticBackend::create(config).error(), Catch::Contains("pipeline_stages"));
  config.pipelineStages = 1;
  config.maxSequences = 0;
  CHECK_THAT(AnalyticBackend::create(config).error(), Catch::Contains("max_sequences"));
  config.maxSequences = 1;
  config.joulesPerNewToken = -1;
  CHECK_THAT(AnalyticBackend::create(config).error(), Catch::Contains("joules_per_new_token"));
  config.joulesPerNewToken = 0;
  config.stageSeconds = 0;
  CHECK_THAT(AnalyticBackend::create(config).error(), Catch::Contains("would take no time"));
  config.stageSecondsPerNewToken = 1e-3;
  CHECK(AnalyticBackend::create(config).ok());
}
