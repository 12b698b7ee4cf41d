// The GPU roofline behind ServingBackend: iteration costs equal the roofline steps, replicas
// share the work round-robin, and the token loop serves a trace end to end.
#include "GpuTestSupport.h"

#include "conveyor/Gpu/GpuServingBackend.h"
#include "conveyor/Gpu/Roofline.h"
#include "conveyor/Runtime/AdmissionPolicy.h"
#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/TokenLoop.h"

using namespace conveyor;
using namespace conveyor::gpu;
using namespace conveyor::gpu::test;
using Catch::Matchers::Contains;
using runtime::SequencePhase;
using runtime::SequenceWork;

namespace {

/// singleMatmul() plus a 1 MB-per-token KV cache on 1 KV head.
WorkloadProfile matmulWithCache() {
  WorkloadProfile profile = singleMatmul();
  OpCost attention;
  attention.name = "attn";
  attention.kind = OpKind::Attention;
  attention.kvBytesPerContextToken = 1e6;
  attention.kvHeads = 1;
  profile.ops.push_back(attention);
  profile.kvBytesPerToken = 1e6;
  return profile;
}

GpuServingBackend backendWith(GpuServingOptions options) {
  auto backend = GpuServingBackend::create(roundGpu(), matmulWithCache(), options);
  INFO(errorText(backend));
  REQUIRE(backend.ok());
  return std::move(*backend);
}

double stepSeconds(std::vector<SequenceGroup> groups, uint32_t tp = 1) {
  auto step = evaluateStep(roundGpu(), matmulWithCache(), tp, groups);
  REQUIRE(step.ok());
  return step->seconds;
}

} // namespace

TEST_CASE("gpu backend: limits, name and static power", "[gpu][serving]") {
  // 50 GB usable, 2 MB weights, 1 MB per KV token: 49,998 tokens, 12 sequences of 4096.
  GpuServingBackend backend = backendWith({1, 2, 256, 4096});
  CHECK(backend.maxSequences() == 24);
  CHECK(backend.devices() == 2);
  CHECK(backend.idleWatts() == 200);
  CHECK(backend.name() == "gpu:round x2 tp1");
  CHECK(backendWith({1, 2, 5, 4096}).maxSequences() == 10);

  auto tooLong = GpuServingBackend::create(roundGpu(), matmulWithCache(), {1, 1, 8, 100000});
  REQUIRE_FALSE(tooLong.ok());
  CHECK_THAT(tooLong.error(), Contains("not one sequence of max_context_tokens 100000 fits"));
  auto zero = GpuServingBackend::create(roundGpu(), matmulWithCache(), {0, 1, 8, 100});
  REQUIRE_FALSE(zero.ok());
}

TEST_CASE("gpu backend: iteration cost is the roofline step, replicas round-robin",
          "[gpu][serving]") {
  std::vector<SequenceWork> work = {{SequencePhase::Prefill, 100, 0},
                                    {SequencePhase::Decode, 1, 50},
                                    {SequencePhase::Decode, 1, 70}};
  GpuServingBackend one = backendWith({1, 1, 8, 4096});
  auto single = one.iterationCost(work);
  REQUIRE(single.ok());
  double expected = stepSeconds(
      {{Phase::Prefill, 100, 0, 1}, {Phase::Decode, 1, 50, 1}, {Phase::Decode, 1, 70, 1}});
  CHECK(single->seconds == Approx(expected).epsilon(1e-12));
  CHECK(single->busyDeviceFraction == Approx(1));
  CHECK(single->dynamicJoules > 0);

  // Two replicas: sequences 0 and 2 on replica 0, sequence 1 on replica 1.
  GpuServingBackend two = backendWith({1, 2, 8, 4096});
  auto split = two.iterationCost(work);
  REQUIRE(split.ok());
  double first = stepSeconds({{Phase::Prefill, 100, 0, 1}, {Phase::Decode, 1, 70, 1}});
  double second = stepSeconds({{Phase::Decode, 1, 50, 1}});
  CHECK(split->seconds == Approx(std::max(first, second)).epsilon(1e-12));
  CHECK(split->busyDeviceFraction ==
        Approx((first + second) / (2 * std::max(first, second))).epsilon(1e-12));

  std::vector<SequenceWork> none;
  CHECK_FALSE(one.iterationCost(none).ok());
  std::vector<SequenceWork> huge = {{SequencePhase::Decode, 1, 60000}};
  auto overflow = one.iterationCost(huge);
  REQUIRE_FALSE(overflow.ok());
  CHECK_THAT(overflow.error(), Contains("would hold 60001 KV tokens"));
}

TEST_CASE("gpu backend serves a trace through the token loop", "[gpu][serving]") {
  GpuServingBackend backend = backendWith({1, 1, 8, 4096});
  std::vector<runtime::Request> requests(4);
  for (runtime::Request &request : requests) {
    request.arrivalSeconds = 0;
    request.promptTokens = 10;
    request.outputTokens = 3;
  }
  auto spec = runtime::parsePolicySpec("fcfs:max_sequences=4", "admission");
  REQUIRE(spec.ok());
  auto admission = runtime::makeAdmissionPolicy(*spec);
  REQUIRE(admission.ok());
  auto run = runtime::runTokenLoop(requests, backend, **admission);
  INFO(errorText(run));
  REQUIRE(run.ok());
  // One prefill iteration of 4 prompts, then 2 decode iterations of 4 sequences.
  double prefill = stepSeconds({{Phase::Prefill, 10, 0, 4}});
  double decode1 = stepSeconds({{Phase::Decode, 1, 10, 4}});
  double decode2 = stepSeconds({{Phase::Decode, 1, 11, 4}});
  CHECK(run->iterations == 3);
  CHECK(run->endSeconds == Approx(prefill + decode1 + decode2).epsilon(1e-9));
  CHECK(run->requests[0].firstTokenSeconds == Approx(prefill).epsilon(1e-9));
  CHECK(run->devices == 1);
}
