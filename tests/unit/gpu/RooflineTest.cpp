// Closed-form checks of the per-op roofline: both sides of the ridge point, phases, tensor
// parallelism and its all-reduces, MoE expert unions and the power model.
#include "GpuTestSupport.h"

#include "conveyor/Gpu/Roofline.h"

#include <cmath>

using namespace conveyor::gpu;
using namespace conveyor::gpu::test;
using Catch::Matchers::Contains;

namespace {

StepCost stepOf(const GpuConfig &gpu, const WorkloadProfile &profile, uint32_t tp,
                std::vector<SequenceGroup> work) {
  auto cost = evaluateStep(gpu, profile, tp, work);
  INFO(errorText(cost));
  REQUIRE(cost.ok());
  return *cost;
}

SequenceGroup decodes(double count, uint64_t context = 0) {
  return {Phase::Decode, 1, context, count};
}

} // namespace

TEST_CASE("a single matmul is memory-bound below the ridge and compute-bound above it",
          "[gpu][roofline]") {
  GpuConfig gpu = roundGpu();
  WorkloadProfile profile = singleMatmul();
  // Decode: compute 2e6 B / (100e12 x 0.25) = 8e-8 B s; memory 2e6 / (1e12 x 0.8) = 2.5e-6 s.
  // Ridge at B = 31.25 tokens.
  StepCost below = stepOf(gpu, profile, 1, {decodes(10)});
  CHECK(below.seconds == Approx(2.5e-6).epsilon(1e-12));
  REQUIRE(below.ops.size() == 1);
  CHECK_FALSE(below.ops[0].computeBound());
  CHECK(below.ops[0].computeSeconds == Approx(8e-7).epsilon(1e-12));

  StepCost above = stepOf(gpu, profile, 1, {decodes(1000)});
  CHECK(above.seconds == Approx(8e-5).epsilon(1e-12));
  CHECK(above.ops[0].computeBound());
  CHECK(above.ops[0].memorySeconds == Approx(2.5e-6).epsilon(1e-12));

  // At the ridge both sides agree; one token either side flips the bound.
  StepCost ridgeLow = stepOf(gpu, profile, 1, {decodes(31)});
  StepCost ridgeHigh = stepOf(gpu, profile, 1, {decodes(32)});
  CHECK_FALSE(ridgeLow.ops[0].computeBound());
  CHECK(ridgeHigh.ops[0].computeBound());
  CHECK(ridgeLow.seconds == Approx(2.5e-6).epsilon(1e-12));
  CHECK(ridgeHigh.seconds == Approx(32 * 8e-8).epsilon(1e-12));
}

TEST_CASE("prefill uses the prefill efficiencies, mixed steps split compute by phase",
          "[gpu][roofline]") {
  GpuConfig gpu = roundGpu();
  WorkloadProfile profile = singleMatmul();
  // Prefill of 1000 tokens: compute 2e9 / (100e12 x 0.5) = 4e-5 s; memory 2e6 / 0.5e12 = 4e-6.
  StepCost prefill = stepOf(gpu, profile, 1, {{Phase::Prefill, 1000, 0, 1}});
  CHECK(prefill.seconds == Approx(4e-5).epsilon(1e-12));
  // Same prompt plus 500 decodes: compute 4e-5 + 500 x 8e-8 = 8e-5; weights stream at the
  // decode bandwidth because the step decodes.
  StepCost mixed = stepOf(gpu, profile, 1, {{Phase::Prefill, 1000, 0, 1}, decodes(500)});
  CHECK(mixed.seconds == Approx(8e-5).epsilon(1e-12));
  CHECK(mixed.newTokens == Approx(1500));
  CHECK(mixed.ops[0].memorySeconds == Approx(2.5e-6).epsilon(1e-12));
}

TEST_CASE("attention reads each sequence's KV and scores every causal pair", "[gpu][roofline]") {
  GpuConfig gpu = roundGpu();
  WorkloadProfile profile;
  profile.name = "attention";
  OpCost attention;
  attention.name = "attn";
  attention.kind = OpKind::Attention;
  attention.flopsPerContextPair = 1000;
  attention.kvBytesPerContextToken = 4000;
  attention.kvHeads = 2;
  profile.ops.push_back(attention);
  // 3 sequences decoding 1 token after 99 cached: 100 key tokens and 100 pairs each.
  StepCost decode = stepOf(gpu, profile, 1, {decodes(3, 99)});
  CHECK(decode.bytesPerGpu == Approx(3 * 100 * 4000.0));
  CHECK(decode.flopsPerGpu == Approx(3 * 100 * 1000.0));
  CHECK(decode.seconds == Approx(1.2e6 / 0.8e12).epsilon(1e-12));
  // A 4-token prompt after 10 cached tokens: pairs 4 x 10 + (1+2+3+4) = 50; 14 key tokens.
  StepCost chunk = stepOf(gpu, profile, 1, {{Phase::Prefill, 4, 10, 1}});
  CHECK(chunk.flopsPerGpu == Approx(50 * 1000.0));
  CHECK(chunk.bytesPerGpu == Approx(14 * 4000.0));
  // TP 4 splits the heads 4 ways but the 2 KV heads only 2 ways.
  StepCost split = stepOf(gpu, profile, 4, {decodes(3, 99)});
  CHECK(split.flopsPerGpu == Approx(3 * 100 * 1000.0 / 4));
  CHECK(split.bytesPerGpu == Approx(3 * 100 * 4000.0 / 2));
}

TEST_CASE("ring all-reduce cost and tensor-parallel sharding", "[gpu][roofline][tp]") {
  CHECK(ringAllReduceSeconds(1e6, 1, 100e9, 5e-6) == 0);
  // 2 (T-1)/T x bytes / bw + latency.
  CHECK(ringAllReduceSeconds(1e6, 2, 100e9, 5e-6) == Approx(1e6 / 100e9 + 5e-6));
  CHECK(ringAllReduceSeconds(1e6, 8, 100e9, 5e-6) == Approx(1.75 * 1e6 / 100e9 + 5e-6));

  GpuConfig gpu = roundGpu();
  WorkloadProfile profile = singleMatmul();
  profile.allReducesPerStep = 2;
  profile.allReduceBytesPerToken = 8192;
  StepCost one = stepOf(gpu, profile, 1, {decodes(10)});
  StepCost four = stepOf(gpu, profile, 4, {decodes(10)});
  CHECK(one.communicationSeconds == 0);
  double perAllReduce = 1.5 * 8192 * 10 / 100e9 + 5e-6;
  CHECK(four.communicationSeconds == Approx(2 * perAllReduce).epsilon(1e-12));
  CHECK(four.ops[0].seconds == Approx(one.ops[0].seconds / 4).epsilon(1e-12));
  CHECK(four.seconds == Approx(one.seconds / 4 + 2 * perAllReduce).epsilon(1e-12));

  // A replicated op does not shrink.
  profile.ops[0].tensorParallel = false;
  StepCost replicated = stepOf(gpu, profile, 4, {decodes(10)});
  CHECK(replicated.ops[0].seconds == Approx(one.ops[0].seconds).epsilon(1e-12));
}

TEST_CASE("tensor parallelism is bounded by the node", "[gpu][roofline][tp]") {
  GpuConfig gpu = roundGpu();
  std::vector<SequenceGroup> work = {decodes(1)};
  auto tooWide = evaluateStep(gpu, singleMatmul(), 16, work);
  REQUIRE_FALSE(tooWide.ok());
  CHECK_THAT(tooWide.error(), Contains("tensor parallelism 16 exceeds the 8 GPUs"));
  CHECK_FALSE(evaluateStep(gpu, singleMatmul(), 0, work).ok());
}

TEST_CASE("MoE steps read the union of the experts their tokens chose", "[gpu][roofline][moe]") {
  CHECK(expectedDistinctExperts(8, 2, 0) == 0);
  CHECK(expectedDistinctExperts(8, 2, 1) == Approx(2));
  CHECK(expectedDistinctExperts(8, 2, 2) == Approx(8 * (1 - 0.75 * 0.75)));
  CHECK(expectedDistinctExperts(8, 2, 1000) == Approx(8));
  CHECK(expectedDistinctExperts(8, 8, 1) == 8);
  // Never fewer than topK for one token, never more than all experts, growing with tokens.
  double previous = 0;
  for (double tokens = 1; tokens <= 64; ++tokens) {
    double distinct = expectedDistinctExperts(64, 4, tokens);
    CHECK(distinct >= previous);
    CHECK(distinct <= 64);
    previous = distinct;
  }

  GpuConfig gpu = roundGpu();
  WorkloadProfile profile;
  profile.name = "moe";
  profile.experts = 8;
  profile.topK = 2;
  OpCost expert;
  expert.name = "expert";
  expert.kind = OpKind::Expert;
  expert.flopsPerToken = 1e6;
  expert.weightBytes = 1e6;
  profile.ops.push_back(expert);
  StepCost oneToken = stepOf(gpu, profile, 1, {decodes(1)});
  CHECK(oneToken.bytesPerGpu == Approx(2e6));
  CHECK(oneToken.flopsPerGpu == Approx(2e6));
  StepCost twoTokens = stepOf(gpu, profile, 1, {decodes(2)});
  CHECK(twoTokens.bytesPerGpu == Approx(3.5e6));
  CHECK(twoTokens.flopsPerGpu == Approx(4e6));
}

TEST_CASE("power stays between idle and TDP and follows the busier unit", "[gpu][power]") {
  GpuConfig gpu = roundGpu();
  CHECK(gpuWatts(gpu.power, 0) == 100);
  CHECK(gpuWatts(gpu.power, 1) == 500);
  CHECK(gpuWatts(gpu.power, 2) == 500);
  CHECK(gpuWatts(gpu.power, -1) == 100);
  CHECK(gpuWatts(gpu.power, 0.25) == Approx(200));

  // Memory-bound decode streams at 0.8 of peak bandwidth: utilisation 0.8.
  WorkloadProfile profile = singleMatmul();
  StepCost memoryBound = stepOf(gpu, profile, 1, {decodes(10)});
  CHECK(memoryBound.utilisation == Approx(0.8));
  CHECK(memoryBound.wattsPerGpu == Approx(100 + 0.8 * 400));
  CHECK(memoryBound.joules == Approx(memoryBound.wattsPerGpu * memoryBound.seconds));
  CHECK(memoryBound.dynamicJoules == Approx(0.8 * 400 * memoryBound.seconds));
  // Compute-bound decode runs the tensor cores at 0.25 of peak.
  StepCost computeBound = stepOf(gpu, profile, 1, {decodes(1000)});
  CHECK(computeBound.utilisation == Approx(0.25));
  // Energy counts every GPU of the group.
  profile.allReducesPerStep = 1;
  profile.allReduceBytesPerToken = 1000;
  StepCost group = stepOf(gpu, profile, 4, {decodes(10)});
  CHECK(group.joules == Approx(group.wattsPerGpu * group.seconds * 4));
  CHECK(group.utilisation >= 0);
  CHECK(group.utilisation <= 1);
}

TEST_CASE("bad work is refused with a message", "[gpu][roofline][errors]") {
  GpuConfig gpu = roundGpu();
  std::vector<SequenceGroup> empty;
  auto none = evaluateStep(gpu, singleMatmul(), 1, empty);
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error(), Contains("at least one sequence"));

  std::vector<SequenceGroup> noTokens = {{Phase::Prefill, 0, 0, 1}};
  auto zero = evaluateStep(gpu, singleMatmul(), 1, noTokens);
  REQUIRE_FALSE(zero.ok());
  CHECK_THAT(zero.error(), Contains("no new tokens"));

  WorkloadProfile fp8 = singleMatmul();
  fp8.computeType = DType::FP8;
  std::vector<SequenceGroup> one = {decodes(1)};
  auto missing = evaluateStep(gpu, fp8, 1, one);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error(), Contains("gpu 'round' has no fp8 tensor-core peak"));
}

TEST_CASE("memory plan: weights per GPU and the KV tokens that fit", "[gpu][memory]") {
  GpuConfig gpu = roundGpu(); // 50 GB usable
  WorkloadProfile profile = singleMatmul();
  profile.weightBytes = 40e9;
  profile.kvBytesPerToken = 1e6;
  OpCost attention;
  attention.name = "attn";
  attention.kind = OpKind::Attention;
  attention.kvBytesPerContextToken = 1e6;
  attention.kvHeads = 2;
  profile.ops.push_back(attention);
  auto one = planMemory(gpu, profile, 1);
  REQUIRE(one.ok());
  CHECK(one->weightBytesPerGpu == Approx(40e9));
  CHECK(one->kvTokenCapacity == Approx(10e9 / 1e6));
  // TP 4: weights / 4, KV split only 2 ways (2 KV heads).
  auto four = planMemory(gpu, profile, 4);
  REQUIRE(four.ok());
  CHECK(four->weightBytesPerGpu == Approx(10e9));
  CHECK(four->kvBytesPerTokenPerGpu == Approx(0.5e6));
  CHECK(four->kvTokenCapacity == Approx(40e9 / 0.5e6));

  profile.weightBytes = 60e9;
  auto tooBig = planMemory(gpu, profile, 1);
  REQUIRE_FALSE(tooBig.ok());
  CHECK_THAT(tooBig.error(), Contains("does not fit on 1 x round"));
}

TEST_CASE("a sliding-window attention op counts min(position, W) keys per query",
          "[gpu][roofline]") {
  GpuConfig gpu = roundGpu();
  WorkloadProfile profile;
  profile.name = "window";
  OpCost attention;
  attention.name = "attn";
  attention.kind = OpKind::Attention;
  attention.flopsPerContextPair = 1000;
  attention.kvBytesPerContextToken = 4000;
  attention.kvHeads = 1;
  attention.slidingWindow = 15;
  profile.ops.push_back(attention);
  // 10 new tokens after 10 cached: tokens 1..5 see 11..15 keys, tokens 6..10 see 15 each:
  // 65 + 75 = 140 pairs; K and V of the last 15 tokens are read.
  StepCost crossing = stepOf(gpu, profile, 1, {{Phase::Prefill, 10, 10, 1}});
  CHECK(crossing.ops[0].flops == Approx(140 * 1000));
  CHECK(crossing.ops[0].kvBytes == Approx(15 * 4000));
  // Inside the window it is plain causal attention; far past it, W keys per query.
  StepCost inside = stepOf(gpu, profile, 1, {{Phase::Prefill, 4, 3, 1}});
  CHECK(inside.ops[0].flops == Approx((4 * 3 + 10) * 1000));
  StepCost past = stepOf(gpu, profile, 1, {decodes(2, 1000)});
  CHECK(past.ops[0].flops == Approx(2 * 15 * 1000));
  CHECK(past.ops[0].kvBytes == Approx(2 * 15 * 4000));
  // Only attention ops may carry a window.
  WorkloadProfile wrong = singleMatmul();
  wrong.ops[0].slidingWindow = 4;
  auto refused = validateWorkloadProfile(wrong);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Contains("sliding window"));
}
