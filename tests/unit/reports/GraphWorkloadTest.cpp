// The per-op GPU profile built from a planner ModelSummary: closed-form decode and prefill
// steps of a hand-sized decoder on a round-number GPU, sliding windows, and refusals.
#include "conveyor/Gpu/Roofline.h"
#include "conveyor/Reports/GraphWorkload.h"

#include <catch2/catch.hpp>

#include <span>

using namespace conveyor;
using namespace conveyor::reports;

namespace {

/// 100 TFLOP/s bf16, 1 TB/s; decode: compute 0.25, bandwidth 0.8; prefill: 0.5 / 0.5.
gpu::GpuConfig roundGpu() {
  gpu::GpuConfig config;
  config.name = "round";
  config.peakFlopsPerSecond[system::DType::BF16] = 100e12;
  config.memoryBytes = 100e9;
  config.memoryBytesPerSecond = 1e12;
  config.usableMemoryFraction = 0.5;
  config.interconnect = {"link", 100e9, 5e-6, 8};
  config.power = {500, 100};
  config.prefill = {0.5, 0.5};
  config.decode = {0.25, 0.8};
  return config;
}

/// 2 layers, hidden 64, 4 heads of 16 (no GQA), SwiGLU ffn 128, vocab 100, untied.
partition::DecoderShape smallShape() {
  partition::DecoderShape shape;
  shape.name = "small";
  shape.layers = 2;
  shape.hidden = 64;
  shape.heads = 4;
  shape.kvHeads = 4;
  shape.headDim = 16;
  shape.ffn = 128;
  shape.vocab = 100;
  return shape;
}

gpu::StepCost stepOf(const gpu::WorkloadProfile &profile, gpu::SequenceGroup group) {
  auto step = gpu::evaluateStep(roundGpu(), profile, 1, std::span(&group, 1));
  INFO((step.ok() ? std::string() : step.error()));
  REQUIRE(step.ok());
  return *step;
}

} // namespace

TEST_CASE("graph profile: a batch-1 decode step is the bytes it reads over derated bandwidth",
          "[reports][gpu-profile]") {
  auto profile = buildGraphWorkloadProfile(partition::makeDecoderSummary(smallShape()), {});
  INFO((profile.ok() ? std::string() : profile.error()));
  REQUIRE(profile.ok());
  // Hand count, bf16 (2 bytes) everywhere. Per layer: q, k, v, o 4 x 64 x 64 = 16,384 and
  // the MLP 3 x 64 x 128 = 24,576 weights, 2 x 64 norm scales; the LM head 100 x 64; the final
  // norm 64. The embedding table is gathered (one row per token), not streamed.
  const double layerWeights = 2.0 * (16384 + 24576 + 128);
  const double streamedWeights = 2 * layerWeights + 2.0 * (6400 + 64);
  CHECK(profile->weightBytes == Approx(streamedWeights + 2.0 * 6400)); // + the table
  CHECK(profile->parameters == Approx(2 * (16384 + 24576 + 128) + 2 * 6400 + 64));
  // KV: K and V of 64 values per layer per token.
  CHECK(profile->kvBytesPerToken == Approx(2 * 2 * 64 * 2));
  // Activations per token (elements): qkv 64 + 64 + 128, attention 2 x 64, o_proj 128,
  // mlp.up 64 + 256, mlp.down 128 + 64, elementwise 640 per layer; embedding 64 (row) + 64,
  // final norm 128, lm_head 64 + 100.
  const double layerActivations = 2.0 * (256 + 128 + 128 + 320 + 192 + 640);
  const double activations = 2 * layerActivations + 2.0 * (128 + 128 + 164);
  // Decode at 9 cached tokens: each layer reads K and V of 10 tokens.
  const double kv = 2 * 10 * 256.0;
  gpu::StepCost decode = stepOf(*profile, {gpu::Phase::Decode, 1, 9, 1});
  const double bytes = streamedWeights + activations + kv;
  CHECK(decode.bytesPerGpu == Approx(bytes));
  // Every op is memory-bound at batch 1 (2 FLOPs per weight byte << the ridge), so the step
  // is the bytes over 0.8 TB/s.
  CHECK(decode.seconds == Approx(bytes / 0.8e12).epsilon(1e-12));
  for (const gpu::OpTime &op : decode.ops) {
    INFO(op.name);
    CHECK_FALSE((op.computeSeconds > op.memorySeconds));
  }
  // Weights dominate: more than 90% of what the step reads.
  CHECK(streamedWeights / bytes > 0.9);
}

TEST_CASE("graph profile: a long prefill is the matmul FLOPs over derated peak",
          "[reports][gpu-profile]") {
  // Wide enough that a projection does more FLOPs per byte than the ridge (100 FLOP/B here).
  partition::DecoderShape shape = smallShape();
  shape.hidden = 1024;
  shape.heads = 8;
  shape.kvHeads = 8;
  shape.headDim = 128;
  shape.ffn = 4096;
  auto profile = buildGraphWorkloadProfile(partition::makeDecoderSummary(shape), {});
  REQUIRE(profile.ok());
  // 4096 tokens: per token and layer 2 x (4 x 1024^2 + 3 x 1024 x 4096 weights) matmul FLOPs;
  // attention 4 x 1024 per causal pair, 4096 x 4097 / 2 pairs per layer; the LM head once
  // (last position only).
  const double tokens = 4096;
  const double matmul = tokens * 2 * 2 * (4.0 * 1024 * 1024 + 3.0 * 1024 * 4096);
  const double attention = 2 * 4 * 1024 * tokens * (tokens + 1) / 2;
  const double head = 2 * 100 * 1024;
  auto table = profileStepTable(*profile, 4096, 0);
  REQUIRE(table.ok());
  double flops = 0;
  for (const OpStepWork &op : table->prefill) {
    if (op.name != "elementwise" && op.name != "final_norm") { // not matmuls
      flops += op.flops;
    }
  }
  CHECK(flops == Approx(matmul + attention + head));
  // The matmul ops are compute-bound at 4096 tokens: their time is FLOPs / (100e12 x 0.5).
  gpu::StepCost prefill = stepOf(*profile, {gpu::Phase::Prefill, 4096, 0, 1});
  for (const gpu::OpTime &op : prefill.ops) {
    if (op.name == "attn.qkv_proj" || op.name == "mlp.up") {
      INFO(op.name);
      CHECK(op.computeBound());
      CHECK(op.seconds == Approx(op.flops / 50e12).epsilon(1e-12));
    }
  }
}

TEST_CASE("graph profile: sliding-window layers stop reading KV past the window",
          "[reports][gpu-profile]") {
  partition::DecoderShape shape = smallShape();
  shape.slidingWindow = 16; // every other layer (gpt-oss style)
  auto profile = buildGraphWorkloadProfile(partition::makeDecoderSummary(shape), {});
  INFO((profile.ok() ? std::string() : profile.error()));
  REQUIRE(profile.ok());
  auto table = profileStepTable(*profile, 8, 1000);
  REQUIRE(table.ok());
  double kvFull = 0, kvWindowed = 0;
  for (const OpStepWork &op : table->decode) {
    if (op.kind == std::string("attention")) {
      (op.kvBytes > 1001 * 256.0 - 1 ? kvFull : kvWindowed) += op.kvBytes;
    }
  }
  // One full layer reads 1001 tokens of K and V (256 bytes each), one windowed layer 16.
  CHECK(kvFull == Approx(1001 * 256.0));
  CHECK(kvWindowed == Approx(16 * 256.0));
  // A prefill shorter than the window is plain causal attention on both layers.
  double prefillPairsFlops = 0;
  for (const OpStepWork &op : table->prefill) {
    if (op.kind == std::string("attention")) {
      prefillPairsFlops += op.flops;
    }
  }
  CHECK(prefillPairsFlops == Approx(2 * 4 * 64 * 8 * 9 / 2.0));
}

TEST_CASE("graph profile: refusals name the model", "[reports][gpu-profile]") {
  partition::ModelSummary empty;
  empty.name = "nothing";
  auto refused = buildGraphWorkloadProfile(empty, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("'nothing'") != std::string::npos);
  partition::ModelSummary noCache = partition::makeDecoderSummary(smallShape());
  noCache.layers[1].kvElementsPerToken = 0;
  auto noKv = buildGraphWorkloadProfile(noCache, {});
  REQUIRE_FALSE(noKv.ok());
  CHECK(noKv.error().find("KV-cache") != std::string::npos);
}
