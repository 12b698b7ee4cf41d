// ModelStats on graphs with cv.graph.attention and cv.graph.moe: the same parameters, MACs
// (masked pairs only) and KV-cache figures as on the unfused graph, for decode and prefill.
#include "CompilerTestSupport.h"
#include "ModelStatsTestSupport.h"

#include "conveyor/Analysis/ModelStatsAnalysis.h"
#include "conveyor/Dialect/Graph/GraphOps.h"

#include <catch2/catch.hpp>

using namespace conveyor;
using namespace conveyor::analysis;
using namespace conveyor::compiler::test;

namespace {

struct FusedCase {
  const char *model;
  int64_t seq, past;
  unsigned attentions, windowed, moes;
};

} // namespace

TEST_CASE("attention and MoE fusion keep parameters, MACs and KV figures", "[model-stats][zoo]") {
  // Decode on a long cache and prefill (causal pairs only); gpt-oss's prefill of 200 tokens
  // is longer than its 128-key window, so half its layers fuse with sliding_window = 128.
  const FusedCase cases[] = {
      {"llama2-7b", 1, 1023, 32, 0, 0},    {"llama2-7b", 128, 0, 32, 0, 0},
      {"llama3-8b", 64, 64, 32, 0, 0},     {"mixtral-8x7b", 1, 1023, 32, 0, 32},
      {"mixtral-8x7b", 128, 0, 32, 0, 32}, {"qwen3-30b-a3b", 16, 8, 48, 0, 48},
      {"gpt-oss-120b", 200, 0, 36, 18, 0}, {"gpt-oss-120b", 1, 1023, 36, 18, 0},
      {"gpt2-small", 32, 32, 12, 0, 0},
  };
  for (const FusedCase &c : cases) {
    DYNAMIC_SECTION(c.model << " seq " << c.seq << " past " << c.past) {
      auto context = makeContext();
      std::string path = sourcePath("models/zoo/onnx/" + std::string(c.model) + ".onnx");
      auto raw = importBound(*context, path, c.seq, c.past);
      auto fused = importBound(*context, path, c.seq, c.past);
      runGraphFusions(*fused);
      unsigned attentions = 0, windowed = 0, moes = 0;
      fused->walk([&](mlir::Operation *op) {
        if (auto attention = mlir::dyn_cast<graph::AttentionOp>(op)) {
          ++attentions;
          windowed += attention.getSlidingWindow() > 0;
        }
        moes += mlir::isa<graph::MoeOp>(op);
      });
      // Without the fusion the comparisons below would hold trivially.
      CHECK(attentions == c.attentions);
      CHECK(windowed == c.windowed);
      CHECK(moes == c.moes);

      GraphStats before = analyzeStats(*raw), after = analyzeStats(*fused);
      CHECK(after.params.total == before.params.total);
      CHECK(after.params.active == before.params.active);
      CHECK(after.params.routedExperts == before.params.routedExperts);
      CHECK(after.params.embedding == before.params.embedding);
      CHECK(after.params.lmHead == before.params.lmHead);
      CHECK(after.macs.weightMatmul == before.macs.weightMatmul);
      CHECK(after.macs.attentionDense == before.macs.attentionDense);
      CHECK(after.macs.attention == before.macs.attention);
      CHECK(after.macs.attentionMatmuls == before.macs.attentionMatmuls);
      CHECK(after.macs.unresolvedMasks == 0);
      CHECK(after.macs.countedFlops() == before.macs.countedFlops());
      REQUIRE(after.kvCache);
      REQUIRE(before.kvCache);
      CHECK(after.kvCache->elementsPerToken == before.kvCache->elementsPerToken);
      CHECK(after.kvCache->windowedElementsPerToken == before.kvCache->windowedElementsPerToken);
      CHECK(after.kvCache->slidingWindow == before.kvCache->slidingWindow);
    }
  }
}

TEST_CASE("fused attention counts causal and windowed pairs by hand", "[model-stats]") {
  // s = 3 queries on t = 6 keys (past 3), window 2: rows see 2, 2, 2 keys of 6 -> 6 pairs;
  // QK and PV each 1 * 2 heads * pairs * 4 (head_dim) MACs.
  auto context = makeContext();
  auto module = compiler::test::parse(*context, R"mlir(
    func.func @main(%q: tensor<1x2x3x4xf32>, %k: tensor<1x1x6x4xf32>, %v: tensor<1x1x6x4xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) {
      %w = cv.graph.attention %q, %k, %v {scale = 0.5 : f64, causal = true, sliding_window = 2 : i64} : (tensor<1x2x3x4xf32>, tensor<1x1x6x4xf32>, tensor<1x1x6x4xf32>) -> tensor<1x2x3x4xf32>
      %c = cv.graph.attention %q, %k, %v {scale = 0.5 : f64, causal = true} : (tensor<1x2x3x4xf32>, tensor<1x1x6x4xf32>, tensor<1x1x6x4xf32>) -> tensor<1x2x3x4xf32>
      return %w, %c : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>
    })mlir");
  GraphStats stats = analyzeStats(*module);
  // Windowed: 6 pairs; causal: rows see 4, 5, 6 keys -> 15 pairs. Dense: 2 * 18 pairs.
  CHECK(stats.macs.attention == (6 + 15) * 2 * (4 + 4));
  CHECK(stats.macs.attentionDense == 2 * 18 * 2 * (4 + 4));
  CHECK(stats.macs.attentionMatmuls == 4);
  CHECK(stats.macs.maskedAttentionMatmuls == 4);
  CHECK(stats.params.total == 0);
}
