// The transformer profile builder against the model cards' parameter counts and hand
// arithmetic, and the profile checks.
#include "GpuTestSupport.h"

#include "conveyor/Gpu/PublishedModels.h"
#include "conveyor/Gpu/Roofline.h"

using namespace conveyor::gpu;
using namespace conveyor::gpu::test;
using Catch::Matchers::Contains;

namespace {

WorkloadProfile profileOf(const std::string &name, ProfileOptions options = {}) {
  auto model = findPublishedModel(name);
  INFO(errorText(model));
  REQUIRE(model.ok());
  auto profile = buildTransformerProfile(model->config, options);
  INFO(errorText(profile));
  REQUIRE(profile.ok());
  return *profile;
}

const OpCost &opNamed(const WorkloadProfile &profile, const std::string &name) {
  for (const OpCost &op : profile.ops) {
    if (op.name == name) {
      return op;
    }
  }
  FAIL("no op " << name);
  return profile.ops.front();
}

} // namespace

TEST_CASE("parameter counts match the model cards", "[gpu][profile]") {
  for (const PublishedModel &model : publishedModels()) {
    INFO(model.displayName);
    WorkloadProfile profile = profileOf(model.config.name);
    // Model cards round to 3-4 significant digits.
    CHECK(profile.parameters == Approx(model.publishedParameters).epsilon(0.003));
    // bf16: two bytes per parameter.
    CHECK(profile.weightBytes == Approx(2 * profile.parameters).epsilon(1e-9));
  }
}

TEST_CASE("a decode token costs ~2 FLOPs per active parameter", "[gpu][profile]") {
  GpuConfig gpu = roundGpu();
  for (const PublishedModel &model : publishedModels()) {
    INFO(model.displayName);
    WorkloadProfile profile = profileOf(model.config.name);
    SequenceGroup one{Phase::Decode, 1, 0, 1};
    auto step = evaluateStep(gpu, profile, 1, {&one, 1});
    REQUIRE(step.ok());
    // The input embedding is a lookup, not a matmul: active minus one vocab x hidden table.
    double embedding = double(model.config.vocab) * model.config.hidden;
    double expected = 2 * (model.publishedActiveParameters - embedding);
    CHECK(step->flopsPerGpu == Approx(expected).epsilon(0.01));
  }
}

TEST_CASE("Llama-2-70B by hand: GQA KV cache and per-op weights", "[gpu][profile]") {
  WorkloadProfile profile = profileOf("llama2-70b");
  // 80 layers x (K + V) x 8 KV heads x 128 dims x 2 bytes.
  CHECK(profile.kvBytesPerToken == 80.0 * 2 * 8 * 128 * 2);
  CHECK(profile.layers == 80);
  CHECK(profile.allReducesPerStep == 160);
  CHECK(profile.allReduceBytesPerToken == 8192 * 2);
  const OpCost &qkv = opNamed(profile, "attn.qkv_proj");
  CHECK(qkv.weightBytes == 8192.0 * (8192 + 2 * 1024) * 2);
  CHECK(qkv.repeats == 80);
  const OpCost &attention = opNamed(profile, "attn.core");
  CHECK(attention.kind == OpKind::Attention);
  CHECK(attention.flopsPerContextPair == 4.0 * 64 * 128);
  CHECK(attention.kvHeads == 8);
  const OpCost &up = opNamed(profile, "mlp.up");
  CHECK(up.weightBytes == 2.0 * 8192 * 28672 * 2);
  const OpCost &head = opNamed(profile, "lm_head");
  CHECK(head.perSequence);
  CHECK(head.tensorParallel);
}

TEST_CASE("precision options change storage, KV and the peak that applies", "[gpu][profile]") {
  ProfileOptions fp8;
  fp8.precision = {DType::FP8, DType::BF16, DType::FP8, DType::BF16, DType::FP8};
  fp8.shardLmHead = false;
  WorkloadProfile bf16 = profileOf("llama3.1-8b");
  WorkloadProfile quantized = profileOf("llama3.1-8b", fp8);
  CHECK(quantized.computeType == DType::FP8);
  CHECK(quantized.kvBytesPerToken == bf16.kvBytesPerToken / 2);
  CHECK(opNamed(quantized, "mlp.up").weightBytes == opNamed(bf16, "mlp.up").weightBytes / 2);
  // The LM head stays 16-bit and replicated.
  CHECK(opNamed(quantized, "lm_head").weightBytes == opNamed(bf16, "lm_head").weightBytes);
  CHECK_FALSE(opNamed(quantized, "lm_head").tensorParallel);
  CHECK(quantized.weightBytes < bf16.weightBytes);
  CHECK(quantized.weightBytes > bf16.weightBytes / 2);
}

TEST_CASE("Mixtral: router plus one expert op over 8 experts, top 2", "[gpu][profile][moe]") {
  WorkloadProfile profile = profileOf("mixtral-8x7b");
  CHECK(profile.experts == 8);
  CHECK(profile.topK == 2);
  const OpCost &expert = opNamed(profile, "moe.expert");
  CHECK(expert.kind == OpKind::Expert);
  CHECK(expert.weightBytes == 3.0 * 4096 * 14336 * 2); // one expert, bf16
  CHECK(opNamed(profile, "moe.router").weightBytes == 4096.0 * 8 * 2);
}

TEST_CASE("bad configs and profiles are refused with the field named", "[gpu][profile][errors]") {
  TransformerConfig config = findPublishedModel("llama2-7b")->config;
  config.kvHeads = 5;
  auto uneven = buildTransformerProfile(config, {});
  REQUIRE_FALSE(uneven.ok());
  CHECK(uneven.error() == "transformer config 'llama2-7b': heads 32 is not a multiple of "
                          "kv_heads 5");
  config = findPublishedModel("llama2-7b")->config;
  config.topK = 2;
  CHECK_THAT(buildTransformerProfile(config, {}).error(), Contains("top_k 2 of 0 experts"));
  config.topK = 0;
  config.ffn = 0;
  CHECK_THAT(buildTransformerProfile(config, {}).error(), Contains("must all be positive"));

  WorkloadProfile profile = singleMatmul();
  CHECK(validateWorkloadProfile(profile).ok());
  profile.ops[0].weightBytes = -1;
  CHECK(validateWorkloadProfile(profile).error() ==
        "workload 'matmul': op 'matmul' (dense): FLOPs and bytes must be finite and non-negative");
  profile = singleMatmul();
  profile.ops[0].kind = OpKind::Attention;
  CHECK_THAT(validateWorkloadProfile(profile).error(),
             Contains("needs kvBytesPerContextToken > 0"));
  profile = singleMatmul();
  profile.ops[0].kind = OpKind::Expert;
  CHECK_THAT(validateWorkloadProfile(profile).error(), Contains("needs the profile's experts"));
  CHECK_THAT(findPublishedModel("gpt-5").error(), Contains("unknown model 'gpt-5'"));
}
