// The LPU step model's closed forms and the pipeline iteration rule, checked by hand, alone
// and through the runtime's token loop.
#include "conveyor/Reports/LpuStepModel.h"
#include "conveyor/Runtime/AdmissionPolicy.h"
#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/ServingReport.h"
#include "conveyor/Runtime/TokenLoop.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using namespace conveyor::reports;
using runtime::SequencePhase;
using runtime::SequenceWork;

namespace {

// 4 stages, 8 ms per token at context 0, +1 us per context token; 10 J static per chip.
LpuDeploymentEstimate sampleEstimate() {
  LpuDeploymentEstimate e;
  e.name = "lpu:test";
  e.chips = 16;
  e.pipelineStages = 4;
  e.maxSequences = 16;
  e.staticWattsPerChip = 10;
  e.decodeSeconds = 8e-3;
  e.decodeSecondsPerContextToken = 1e-6;
  e.prefillSecondsPerToken = 0.5e-3;
  e.decodeJoules = 2;
  e.joulesPerContextToken = 0.001;
  e.prefillFixedJoules = 1.5;
  e.prefillJoulesPerToken = 0.25;
  return e;
}

std::shared_ptr<const LpuStepModel> sampleModel() {
  auto model = EstimatedLpuStepModel::create(sampleEstimate());
  REQUIRE(model.ok());
  return std::shared_ptr<const LpuStepModel>(std::move(*model));
}

} // namespace

TEST_CASE("decode and prefill costs follow the closed forms") {
  auto model = sampleModel();
  TokenCost decode = model->decode(1000);
  CHECK(decode.latencySeconds == Approx(9e-3));      // 8 ms + 1000 x 1 us
  CHECK(decode.occupancySeconds == Approx(2.25e-3)); // / 4 stages
  CHECK(decode.dynamicJoules == Approx(3.0));        // 2 + 1000 x 0.001
  TokenCost prefill = model->prefill(101);
  CHECK(prefill.latencySeconds == Approx(58e-3));   // 8 ms + 100 x 0.5 ms
  CHECK(prefill.occupancySeconds == Approx(52e-3)); // 2 ms + 100 x 0.5 ms
  CHECK(prefill.dynamicJoules == Approx(1.5 + 101 * 0.25));
  CHECK(model->staticWatts() == Approx(160));
}

TEST_CASE("an iteration lasts max(sum of occupancies, longest latency)") {
  LpuStepBackend backend(sampleModel());
  std::vector<SequenceWork> work(1, {SequencePhase::Decode, 1, 0});
  SECTION("one sequence: the whole pipeline latency, one stage in four busy") {
    auto cost = backend.iterationCost(work);
    REQUIRE(cost.ok());
    CHECK(cost->seconds == Approx(8e-3));
    CHECK(cost->busyDeviceFraction == Approx(0.25));
    CHECK(cost->dynamicJoules == Approx(2));
  }
  SECTION("as many sequences as stages: same time, every stage busy") {
    work.assign(4, {SequencePhase::Decode, 1, 0});
    auto cost = backend.iterationCost(work);
    REQUIRE(cost.ok());
    CHECK(cost->seconds == Approx(8e-3));
    CHECK(cost->busyDeviceFraction == Approx(1));
  }
  SECTION("more sequences than stages: max(S, P) x latency / P") {
    work.assign(10, {SequencePhase::Decode, 1, 0});
    auto cost = backend.iterationCost(work);
    REQUIRE(cost.ok());
    CHECK(cost->seconds == Approx(10 * 2e-3));
    CHECK(cost->dynamicJoules == Approx(20));
  }
  SECTION("a long prefill holds every stage for its prompt") {
    work = {{SequencePhase::Prefill, 101, 0}, {SequencePhase::Decode, 1, 0}};
    auto cost = backend.iterationCost(work);
    REQUIRE(cost.ok());
    CHECK(cost->seconds == Approx(58e-3)); // latency 58 ms > occupancy 52 + 2 ms
    CHECK(cost->busyDeviceFraction == Approx(54.0 / 58.0));
  }
}

TEST_CASE("steady decode: per-user speed is flat until sequences exceed stages") {
  LpuStepBackend backend(sampleModel());
  auto one = steadyDecode(backend, 1, 0);
  auto four = steadyDecode(backend, 4, 0);
  auto eight = steadyDecode(backend, 8, 0);
  REQUIRE((one.ok() && four.ok() && eight.ok()));
  CHECK(one->perUserTokensPerSecond == Approx(125));
  CHECK(four->perUserTokensPerSecond == Approx(125));
  CHECK(four->aggregateTokensPerSecond == Approx(500));
  CHECK(eight->perUserTokensPerSecond == Approx(62.5));
  CHECK(eight->aggregateTokensPerSecond == Approx(500));
  // J/token = (static 160 W x T + dynamic) / tokens.
  CHECK(one->joulesPerToken == Approx(160 * 8e-3 + 2));
  CHECK(four->joulesPerToken == Approx((160 * 8e-3 + 4 * 2) / 4));
  CHECK(four->watts == Approx((160 * 8e-3 + 8) / 8e-3));
  CHECK_FALSE(steadyDecode(backend, 17, 0).ok());
  CHECK_FALSE(steadyDecode(backend, 0, 0).ok());
}

TEST_CASE("the token loop on the LPU backend reproduces hand-computed times") {
  LpuStepBackend backend(sampleModel());
  // Two requests at t = 0 and t = 0.001, prompt 1 token, 3 output tokens each.
  std::vector<runtime::Request> requests = {{0.0, 1, 3, 0}, {0.001, 1, 3, 0}};
  auto spec = runtime::parsePolicySpec("fcfs", "--admission");
  REQUIRE(spec.ok());
  auto admission = runtime::makeAdmissionPolicy(*spec);
  REQUIRE(admission.ok());
  auto run = runtime::runTokenLoop(requests, backend, **admission);
  REQUIRE(run.ok());
  // Iteration 1 (t=0): request 0 prefills 1 token: 8 ms. Iteration 2 (t=8 ms): request 1
  // prefills (8 ms latency) with request 0 decoding at context 1 (8.001 ms): 8.001 ms.
  // Iteration 3: both decode (contexts 2 and 1): max(8.002, (8.002 + 8.001) / 4) = 8.002 ms.
  // Iteration 4: request 1 decodes at context 2: 8.002 ms.
  CHECK(run->requests[0].firstTokenSeconds == Approx(8e-3));
  CHECK(run->requests[1].firstTokenSeconds == Approx(16.001e-3));
  CHECK(run->requests[0].finishSeconds == Approx(24.003e-3));
  CHECK(run->requests[1].finishSeconds == Approx(32.005e-3));
  runtime::ServingReport report = runtime::makeServingReport(*run);
  CHECK(report.devices == 16);
  CHECK(report.idleJoules == Approx(160 * 32.005e-3));
}

TEST_CASE("estimates out of range are refused naming the field") {
  LpuDeploymentEstimate e = sampleEstimate();
  e.decodeSeconds = 0;
  auto model = EstimatedLpuStepModel::create(e);
  REQUIRE_FALSE(model.ok());
  CHECK(model.error() == "LPU estimate 'lpu:test': decodeSeconds = 0 is out of range: expected "
                         "a positive finite number");
  e = sampleEstimate();
  e.pipelineStages = 17;
  CHECK_FALSE(EstimatedLpuStepModel::create(e).ok());
  e = sampleEstimate();
  e.joulesPerContextToken = -1;
  CHECK_FALSE(EstimatedLpuStepModel::create(e).ok());
}
