// Static-batch and offline scenarios against hand arithmetic on a one-matmul model, and
// physical bounds of every shipped GPU on the published models.
#include "GpuTestSupport.h"

#include "conveyor/Gpu/BenchmarkScenarios.h"
#include "conveyor/Gpu/PublishedModels.h"
#include "conveyor/Gpu/Roofline.h"

using namespace conveyor::gpu;
using namespace conveyor::gpu::test;
using Catch::Matchers::Contains;

namespace {

/// singleMatmul() plus a KV cache so that memory capacity matters: 1 MB per token.
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

} // namespace

TEST_CASE("a static batch is one prefill plus output-1 decode steps", "[gpu][scenario]") {
  GpuConfig gpu = roundGpu();
  WorkloadProfile profile = singleMatmul();
  // Batch 4, prompt 10, 3 output tokens. Prefill 40 tokens: compute 8e7 / 50e12 = 1.6e-6,
  // memory 2e6 / 0.5e12 = 4e-6 -> 4e-6 s. Two decode steps of 4 tokens: 2.5e-6 s each.
  auto run = runStaticBatch(gpu, profile, {1, 1}, {4, 10, 3});
  INFO(errorText(run));
  REQUIRE(run.ok());
  double seconds = 4e-6 + 2 * 2.5e-6;
  CHECK(run->firstTokenSeconds == Approx(4e-6));
  CHECK(run->decodeStepSeconds == Approx(2.5e-6));
  CHECK(run->outputTokensPerSecond == Approx(12 / seconds));
  // Replicas multiply throughput, not latency.
  auto twice = runStaticBatch(gpu, profile, {1, 2}, {4, 10, 3});
  REQUIRE(twice.ok());
  CHECK(twice->outputTokensPerSecond == Approx(2 * run->outputTokensPerSecond));
  CHECK(twice->firstTokenSeconds == Approx(run->firstTokenSeconds));
}

TEST_CASE("a static batch whose KV cache does not fit is refused", "[gpu][scenario]") {
  GpuConfig gpu = roundGpu(); // 50 GB usable, 2 MB of weights
  WorkloadProfile profile = matmulWithCache();
  // 1 MB per token: ~49,998 tokens fit.
  CHECK(runStaticBatch(gpu, profile, {1, 1}, {100, 200, 200}).ok());
  auto tooMany = runStaticBatch(gpu, profile, {1, 1}, {200, 200, 200});
  REQUIRE_FALSE(tooMany.ok());
  CHECK_THAT(tooMany.error(), Contains("needs KV for 80000 tokens"));
}

TEST_CASE("offline steady state: full batch decoding plus the prefills that refill it",
          "[gpu][scenario]") {
  GpuConfig gpu = roundGpu();
  WorkloadProfile profile = singleMatmul();
  // No KV: the batch is the cap. B = 100, prompt 50, output 11 -> 10 decode steps per
  // request, 10 prefills of 50 tokens per step. Compute: prefill 500 tok x 2e6 / 50e12 =
  // 2e-5, decode 100 x 2e6 / 25e12 = 8e-6 -> 2.8e-5 s; memory 2.5e-6.
  auto run = runOffline(gpu, profile, {1, 1}, {50, 11, 100});
  INFO(errorText(run));
  REQUIRE(run.ok());
  CHECK(run->batch == 100);
  CHECK(run->decodeStepSeconds == Approx(2.8e-5));
  double tokensPerStep = 100.0 * 11 / 10;
  CHECK(run->outputTokensPerSecond == Approx(tokensPerStep / 2.8e-5));

  // With a KV cache the batch is what fits at the mean context (50 + 5 = 55 tokens).
  WorkloadProfile cached = matmulWithCache();
  auto limited = runOffline(gpu, cached, {1, 1}, {50, 11, 100000});
  REQUIRE(limited.ok());
  auto plan = planMemory(gpu, cached, 1);
  REQUIRE(plan.ok());
  CHECK(limited->batch == std::floor(plan->kvTokenCapacity / 56));

  auto bad = runOffline(gpu, profile, {1, 1}, {50, 1, 100});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Contains("output tokens >= 2"));
}

TEST_CASE("no shipped GPU beats its datasheet roofline on the published models",
          "[gpu][scenario][shipped]") {
  auto gpus = loadGpuDirectory(gpuDirectory());
  REQUIRE(gpus.ok());
  for (const GpuConfig &gpu : *gpus) {
    for (const PublishedModel &model : publishedModels()) {
      INFO(gpu.name << " " << model.displayName);
      auto profile = buildTransformerProfile(model.config, {});
      REQUIRE(profile.ok());
      for (uint32_t tp : {1u, 8u}) {
        if (!planMemory(gpu, *profile, tp).ok()) {
          continue; // does not fit at this TP (e.g. Llama-2-70B bf16 on one GPU)
        }
        for (double batch : {1.0, 256.0}) {
          SequenceGroup decode{Phase::Decode, 1, 1000, batch};
          auto step = evaluateStep(gpu, *profile, tp, {&decode, 1});
          INFO("tp " << tp << " batch " << batch << ": " << errorText(step));
          REQUIRE(step.ok());
          double peak = gpu.peakFlopsPerSecond.at(DType::BF16);
          CHECK(step->seconds >= step->bytesPerGpu / gpu.memoryBytesPerSecond);
          CHECK(step->seconds >= step->flopsPerGpu / peak);
          CHECK(step->utilisation <= 1);
          CHECK(step->wattsPerGpu <= gpu.power.tdpWatts);
          CHECK(step->wattsPerGpu >= gpu.power.idleWatts);
        }
      }
    }
  }
}
