// Token loop on hand-built traces: every admission, token time, queueing delay and energy
// below is worked out by hand from known arrivals and constant iteration times.
#include "RuntimeTestSupport.h"

#include "conveyor/Runtime/ServingReport.h"
#include "conveyor/Runtime/TokenLoop.h"

#include <cmath>

using namespace conveyor;
using namespace conveyor::runtime;
using namespace conveyor::runtime::test;

namespace {

// Four requests on a backend whose iterations all take 0.25 s, at most 2 in flight.
//   it1 [0.00,0.25]: r0 prefill                  -> r0 token 1
//   it2 [0.25,0.50]: r0 decode (ctx 4), r1 prefill (r2 waits: limit 2)
//   it3 [0.50,0.75]: r0 decode (ctx 5), r1 decode (ctx 2) -> both finish
//   it4 [0.75,1.00]: r2 prefill -> finishes (1 output token)
//   idle [1.00,2.00]
//   it5 [2.00,2.25]: r3 prefill; it6 [2.25,2.50]: r3 decode (ctx 1) -> finishes
std::vector<Request> fourRequests() {
  return {request(0.0, 4, 3), request(0.1, 2, 2), request(0.2, 8, 1), request(2.0, 1, 2)};
}

AnalyticBackendConfig fourRequestBackend() {
  AnalyticBackendConfig config;
  config.iterationFixedSeconds = 0.25;
  config.maxSequences = 2;
  config.idleWatts = 10;
  config.iterationFixedJoules = 2;
  config.joulesPerNewToken = 0.5;
  config.joulesPerContextToken = 0.125;
  return config;
}

} // namespace

TEST_CASE("token loop: admission, token times and finish of a hand-built trace") {
  AnalyticBackend backend = makeBackend(fourRequestBackend());
  auto policy = makePolicy("fcfs");
  TokenLoopOptions options;
  options.recordTokenTimes = true;
  std::vector<Request> requests = fourRequests();
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy, options);
  REQUIRE(run.ok());

  REQUIRE(run->requests.size() == 4);
  const RequestRecord &r0 = run->requests[0], &r1 = run->requests[1], &r2 = run->requests[2],
                      &r3 = run->requests[3];
  CHECK(r0.admittedSeconds == 0.0);
  CHECK(r0.tokenSeconds == std::vector<double>{0.25, 0.5, 0.75});
  CHECK(r1.admittedSeconds == 0.25);
  CHECK(r1.tokenSeconds == std::vector<double>{0.5, 0.75});
  CHECK(r2.admittedSeconds == 0.75);
  CHECK(r2.tokenSeconds == std::vector<double>{1.0});
  CHECK(r3.admittedSeconds == 2.0);
  CHECK(r3.tokenSeconds == std::vector<double>{2.25, 2.5});
  CHECK(r0.firstTokenSeconds == 0.25);
  CHECK(r0.finishSeconds == 0.75);
  CHECK(r2.firstTokenSeconds == 1.0);
  CHECK(r2.finishSeconds == 1.0);
  CHECK(r3.finishSeconds == 2.5);

  CHECK(run->iterations == 6);
  CHECK(run->prefillIterations == 4);
  CHECK(run->startSeconds == 0.0);
  CHECK(run->endSeconds == 2.5);
  CHECK(run->busySeconds == 1.5);
  CHECK(run->maxSequencesInFlight == 2);
  CHECK(run->maxQueueLength == 1);
  CHECK(run->interTokenGaps == std::vector<double>{0.25, 0.25, 0.25, 0.25});
  // Energy per iteration: 2 J + 0.5 J x new tokens + 0.125 J x context tokens.
  // New tokens 4, 1+2, 1+1, 8, 1, 1 = 19; context tokens 0, 4, 5+2, 0, 0, 1 = 12.
  CHECK(run->dynamicJoules == near(6 * 2 + 0.5 * 19 + 0.125 * 12));
}

TEST_CASE("token loop: per-request metrics and percentiles of a hand-built trace") {
  AnalyticBackend backend = makeBackend(fourRequestBackend());
  auto policy = makePolicy("fcfs");
  std::vector<Request> requests = fourRequests();
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
  REQUIRE(run.ok());
  ServiceLevelObjectives slo;
  slo.ttftSeconds = 0.5;
  slo.tpotSeconds = 0.3;
  ServingReport report = makeServingReport(*run, slo);

  // TTFT = first token - arrival: 0.25, 0.5 - 0.1, 1.0 - 0.2, 2.25 - 2.0.
  const std::vector<double> ttft = {0.25, 0.4, 0.8, 0.25};
  // E2E = finish - arrival.
  const std::vector<double> e2e = {0.75, 0.65, 0.8, 0.5};
  // Queueing = admitted - arrival.
  const std::vector<double> queueing = {0.0, 0.15, 0.55, 0.0};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(report.perRequest[i].ttftSeconds == near(ttft[i]));
    CHECK(report.perRequest[i].e2eSeconds == near(e2e[i]));
    CHECK(report.perRequest[i].queueingSeconds == near(queueing[i]));
  }
  // TPOT = (last - first) / (outputs - 1); undefined for r2's single token.
  CHECK(report.perRequest[0].tpotSeconds == near(0.5 / 2));
  CHECK(report.perRequest[1].tpotSeconds == near(0.25));
  CHECK(std::isnan(report.perRequest[2].tpotSeconds));
  CHECK(std::isnan(report.perRequest[2].userTokensPerSecond));
  CHECK(report.perRequest[3].tpotSeconds == near(0.25));
  CHECK(report.perRequest[0].userTokensPerSecond == near(2 / 0.5));

  // Sorted TTFT 0.25 0.25 0.4 0.8: mean 0.425; p50 at rank 1.5 -> 0.325; p90 at rank 2.7
  // -> 0.4 + 0.7 x 0.4 = 0.68; p99 at 2.97 -> 0.788; p99.9 at 2.997 -> 0.7988.
  CHECK(report.ttft.count == 4);
  CHECK(report.ttft.mean == near(0.425));
  CHECK(report.ttft.min == near(0.25));
  CHECK(report.ttft.p50 == near(0.325));
  CHECK(report.ttft.p90 == near(0.68));
  CHECK(report.ttft.p95 == near(0.4 + 0.85 * 0.4));
  CHECK(report.ttft.p99 == near(0.788));
  CHECK(report.ttft.p999 == near(0.7988));
  CHECK(report.ttft.max == near(0.8));
  // Sorted E2E 0.5 0.65 0.75 0.8: p50 at rank 1.5 -> 0.7.
  CHECK(report.e2e.p50 == near(0.7));
  CHECK(report.tpot.count == 3); // the one-token request is excluded
  CHECK(report.tpot.mean == near(0.25));
  CHECK(report.itl.count == 4);
  CHECK(report.itl.p99 == near(0.25));
  CHECK(report.queueing.mean == near(0.7 / 4));
  CHECK(report.userTokensPerSecond.count == 3);
  CHECK(report.userTokensPerSecond.mean == near(4.0));

  // Aggregates over the makespan 0 .. 2.5 s.
  CHECK(report.makespanSeconds == near(2.5));
  CHECK(report.busySeconds == near(1.5));
  CHECK(report.idleSeconds == near(1.0));
  CHECK(report.outputTokens == 8);
  CHECK(report.promptTokens == 15);
  CHECK(report.outputTokensPerSecond == near(8 / 2.5));
  CHECK(report.requestsPerSecond == near(4 / 2.5));
  // Goodput: r2 misses TTFT (0.8 > 0.5); r0, r1, r3 meet both SLOs with 3 + 2 + 2 tokens.
  CHECK(report.sloRequests == 3);
  CHECK(report.sloAttainment == near(0.75));
  CHECK(report.goodputRequestsPerSecond == near(3 / 2.5));
  CHECK(report.goodputTokensPerSecond == near(7 / 2.5));
  // Energy: dynamic 23 J; idle 10 W x 2.5 s = 25 J; 48 J / 8 tokens = 6 J/token.
  CHECK(report.dynamicJoules == near(23));
  CHECK(report.idleJoules == near(25));
  CHECK(report.totalJoules == near(48));
  CHECK(report.joulesPerToken == near(6));
  CHECK(report.idleEnergyShare == near(25.0 / 48.0));
  CHECK(report.averageWatts == near(48 / 2.5));
  // Devices busy during the whole of every 0.25 s iteration: 1.5 s of 2.5 s.
  CHECK(report.busyDeviceFraction == near(0.6));
  // Sequences in flight per iteration 1, 2, 2, 1, 1, 1 (x 0.25 s = 2.0 sequence-seconds).
  CHECK(report.meanSequencesInFlight == near(2.0 / 2.5));
  CHECK(report.meanSequencesWhileBusy == near(2.0 / 1.5));
  CHECK(report.maxSequencesInFlight == 2);
  CHECK(report.maxQueueLength == 1);
}

TEST_CASE("token loop: a one-token request is judged on TTFT only") {
  AnalyticBackend backend = makeBackend(fourRequestBackend());
  auto policy = makePolicy("fcfs");
  std::vector<Request> requests = fourRequests();
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
  REQUIRE(run.ok());
  ServiceLevelObjectives slo;
  slo.ttftSeconds = 1.0;
  slo.tpotSeconds = 0.2; // every multi-token request's TPOT is 0.25: all of them miss
  ServingReport report = makeServingReport(*run, slo);
  CHECK(report.sloRequests == 1);
  CHECK(report.perRequest[2].meetsSlo);
  CHECK(report.goodputTokensPerSecond == near(1 / 2.5));

  slo.tpotSeconds.reset();
  slo.e2eSeconds = 0.7; // r0 (0.75) and r2 (0.8) miss
  report = makeServingReport(*run, slo);
  CHECK(report.sloRequests == 2);
  CHECK_FALSE(report.perRequest[0].meetsSlo);
  CHECK(report.perRequest[1].meetsSlo);
}

TEST_CASE("token loop: requests queue while the in-flight limit is full") {
  AnalyticBackend backend = constantBackend(1.0, 8);
  auto policy = makePolicy("fcfs:max_sequences=1");
  std::vector<Request> requests = {request(0, 5, 2), request(0, 5, 2), request(0, 5, 2)};
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
  REQUIRE(run.ok());
  // One at a time, two 1 s iterations each.
  CHECK(run->requests[0].admittedSeconds == 0);
  CHECK(run->requests[1].admittedSeconds == 2);
  CHECK(run->requests[2].admittedSeconds == 4);
  CHECK(run->requests[2].firstTokenSeconds == 5);
  CHECK(run->requests[2].finishSeconds == 6);
  CHECK(run->maxQueueLength == 2);
  CHECK(run->maxSequencesInFlight == 1);
  ServingReport report = makeServingReport(*run);
  CHECK(report.queueing.mean == near(2));
  CHECK(report.ttft.max == near(5));

  // The backend's own limit holds too, whatever the policy allows.
  AnalyticBackend small = constantBackend(1.0, 2);
  auto loose = makePolicy("fcfs:max_sequences=100");
  run = runTokenLoop(requests, small, *loose);
  REQUIRE(run.ok());
  CHECK(run->maxSequencesInFlight == 2);
  CHECK(run->requests[2].admittedSeconds == 2);
}

TEST_CASE("token loop: the KV-token budget holds requests back") {
  AnalyticBackend backend = constantBackend(1.0, 8);
  // r0 reserves 4 + 4 = 8 of 10 KV tokens: r1 (2 + 2) must wait until r0 is done at 4 s,
  // and r2 (1 + 1) waits behind it (first come, first served).
  auto policy = makePolicy("fcfs-kv:kv_tokens=10");
  std::vector<Request> requests = {request(0, 4, 4), request(0, 2, 2), request(0, 1, 1)};
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
  REQUIRE(run.ok());
  CHECK(run->requests[0].finishSeconds == 4);
  CHECK(run->requests[1].admittedSeconds == 4);
  CHECK(run->requests[2].admittedSeconds == 4);
  CHECK(run->maxSequencesInFlight == 2);

  // A request larger than the whole budget can never start: the loop says which one.
  std::vector<Request> tooLong = {request(0, 4, 4), request(1, 20, 1)};
  tooLong[1].sourceLine = 7;
  run = runTokenLoop(tooLong, backend, *policy);
  REQUIRE_FALSE(run.ok());
  CHECK_THAT(run.error(), Catch::Contains("request 1") && Catch::Contains("trace line 7") &&
                              Catch::Contains("fcfs-kv:kv_tokens=10"));
}

TEST_CASE("token loop: a pipeline of P stages takes max(P, S) stage times per iteration") {
  AnalyticBackendConfig config;
  config.pipelineStages = 4;
  config.stageSeconds = 0.01;
  config.maxSequences = 16;
  config.devices = 8;
  for (uint32_t sequences : {1u, 2u, 4u, 6u}) {
    AnalyticBackend backend = makeBackend(config);
    auto policy = makePolicy("fcfs");
    std::vector<Request> requests(sequences, request(0, 16, 11));
    Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
    REQUIRE(run.ok());
    ServingReport report = makeServingReport(*run);
    const double iteration = std::max(4u, sequences) * 0.01;
    INFO("sequences in flight " << sequences);
    CHECK(report.tpot.mean == near(iteration));
    CHECK(report.ttft.max == near(iteration));
    CHECK(report.makespanSeconds == near(11 * iteration));
    // Per-user rate falls only once S > P; aggregate rises until then.
    CHECK(report.userTokensPerSecond.mean == near(1 / iteration));
    CHECK(report.outputTokensPerSecond == near(sequences * 11 / (11 * iteration)));
    CHECK(report.busyDeviceFraction == near(std::min(sequences, 4u) / 4.0));
  }
}

TEST_CASE("token loop: idle gaps accrue only idle energy, counted from the first arrival") {
  AnalyticBackendConfig config;
  config.iterationFixedSeconds = 1;
  config.iterationFixedJoules = 50;
  config.idleWatts = 100;
  config.maxSequences = 4;
  for (double offset : {0.0, 5.0}) {
    AnalyticBackend backend = makeBackend(config);
    auto policy = makePolicy("fcfs");
    std::vector<Request> requests = {request(offset, 3, 1), request(offset + 10, 3, 1)};
    Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
    REQUIRE(run.ok());
    ServingReport report = makeServingReport(*run);
    INFO("first arrival at " << offset);
    CHECK(report.makespanSeconds == near(11));
    CHECK(report.busySeconds == near(2));
    CHECK(report.idleSeconds == near(9));
    CHECK(report.dynamicJoules == near(100));
    CHECK(report.idleJoules == near(1100));
    CHECK(report.joulesPerToken == near(600));
    CHECK(report.idleEnergyShare == near(1100.0 / 1200.0));
    CHECK(report.busyDeviceFraction == near(2.0 / 11.0));
    CHECK(report.requestsPerSecond == near(2.0 / 11.0));
  }
}

TEST_CASE("token loop: decode context grows by one token per step") {
  // Stage time grows with the KV length: 1 ms per cached token, so each decode step of a
  // lone sequence with prompt 10 takes 10, 11, 12, ... ms.
  AnalyticBackendConfig config;
  config.stageSecondsPerNewToken = 0.001;
  config.stageSecondsPerContextToken = 0.001;
  config.maxSequences = 1;
  AnalyticBackend backend = makeBackend(config);
  auto policy = makePolicy("fcfs");
  TokenLoopOptions options;
  options.recordTokenTimes = true;
  std::vector<Request> requests = {request(0, 10, 4)};
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy, options);
  REQUIRE(run.ok());
  // Prefill 10 new tokens: 10 ms. Decodes: 1 new + 10, 11, 12 cached -> 11, 12, 13 ms.
  const std::vector<double> &times = run->requests[0].tokenSeconds;
  REQUIRE(times.size() == 4);
  CHECK(times[0] == near(0.010));
  CHECK(times[1] == near(0.021));
  CHECK(times[2] == near(0.033));
  CHECK(times[3] == near(0.046));
  CHECK(run->requests[0].maxTokenGapSeconds == near(0.013));
}

namespace {
// A backend that breaks its contract on purpose.
class BrokenBackend final : public ServingBackend {
public:
  explicit BrokenBackend(IterationCost cost, bool fail = false) : cost(cost), fail(fail) {}
  std::string name() const override { return "broken"; }
  uint32_t maxSequences() const override { return 4; }
  uint32_t devices() const override { return 1; }
  double idleWatts() const override { return 0; }
  Result<IterationCost> iterationCost(std::span<const SequenceWork>) override {
    if (fail) {
      return makeError("backend 'broken': no decode program for context 4096");
    }
    return cost;
  }

private:
  IterationCost cost;
  bool fail;
};
} // namespace

TEST_CASE("token loop: backend errors and contract breaks stop the run with a message") {
  auto policy = makePolicy("fcfs");
  std::vector<Request> requests = {request(0, 3, 2)};
  BrokenBackend zeroTime({0.0, 1.0, 0.5});
  Result<ServingRun> run = runTokenLoop(requests, zeroTime, *policy);
  REQUIRE_FALSE(run.ok());
  CHECK_THAT(run.error(), Catch::Contains("backend 'broken'") && Catch::Contains("seconds = 0"));
  BrokenBackend overBusy({1.0, 1.0, 1.5});
  run = runTokenLoop(requests, overBusy, *policy);
  REQUIRE_FALSE(run.ok());
  CHECK_THAT(run.error(), Catch::Contains("busy fraction = 1.5"));
  BrokenBackend failing({1.0, 1.0, 1.0}, true);
  run = runTokenLoop(requests, failing, *policy);
  REQUIRE_FALSE(run.ok());
  CHECK_THAT(run.error(), Catch::Contains("iteration 0") && Catch::Contains("context 4096"));
}

TEST_CASE("token loop: invalid request lists are refused") {
  AnalyticBackend backend = constantBackend(1.0, 4);
  auto policy = makePolicy("fcfs");
  std::vector<Request> none;
  CHECK_THAT(runTokenLoop(none, backend, *policy).error(), Catch::Contains("no requests"));
  std::vector<Request> unsorted = {request(1, 3, 2), request(0.5, 3, 2)};
  CHECK_THAT(runTokenLoop(unsorted, backend, *policy).error(),
             Catch::Contains("request 1") && Catch::Contains("sort"));
  std::vector<Request> empty = {request(0, 0, 2)};
  CHECK_THAT(runTokenLoop(empty, backend, *policy).error(),
             Catch::Contains("request 0") && Catch::Contains("at least 1 prompt token"));
}
