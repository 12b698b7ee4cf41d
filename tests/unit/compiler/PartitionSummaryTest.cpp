// ModelSummary read from zoo ONNX graphs matches the one built from the published configs.
#include "conveyor/Partition/ModelSummaryAnalysis.h"
#include "conveyor/Partition/Planner.h"

#include <catch2/catch.hpp>

#include <string>

using namespace conveyor::partition;

namespace {

ModelSummary fromZoo(const std::string &name) {
  auto summary =
      summarizeOnnxModel(std::string(CONVEYOR_SOURCE_DIR) + "/models/zoo/onnx/" + name + ".onnx");
  INFO((summary.ok() ? std::string() : summary.error()));
  REQUIRE(summary.ok());
  return *summary;
}

void checkSame(const ModelSummary &graph, const ModelSummary &config) {
  CHECK(graph.hidden == config.hidden);
  CHECK(graph.heads == config.heads);
  CHECK(graph.kvHeads == config.kvHeads);
  CHECK(graph.headDim == config.headDim);
  CHECK(graph.ffn == config.ffn);
  CHECK(graph.vocab == config.vocab);
  CHECK(graph.experts == config.experts);
  CHECK(graph.topK == config.topK);
  CHECK(graph.tiedEmbedding == config.tiedEmbedding);
  CHECK(graph.embeddingElements == config.embeddingElements);
  CHECK(graph.lmHeadElements == config.lmHeadElements);
  REQUIRE(graph.layers.size() == config.layers.size());
  const LayerSummary &g = graph.layers.front(), &c = config.layers.front();
  CHECK(g.attnQ == c.attnQ);
  CHECK(g.attnK == c.attnK);
  CHECK(g.attnV == c.attnV);
  CHECK(g.attnO == c.attnO);
  CHECK(g.mlpGate == c.mlpGate);
  CHECK(g.mlpUp == c.mlpUp);
  CHECK(g.mlpDown == c.mlpDown);
  CHECK(g.experts == c.experts);
  CHECK(g.router == c.router);
  CHECK(g.norms == c.norms);
  CHECK(g.kvElementsPerToken == c.kvElementsPerToken);
  CHECK(graph.totalWeights() == config.totalWeights());
}

} // namespace

TEST_CASE("llama2-70b graph summary = config summary", "[partition][graph]") {
  ModelSummary graph = fromZoo("llama2-70b");
  CHECK(graph.name == "llama2-70b");
  checkSame(graph, makeDecoderSummary({"llama2-70b", 80, 8192, 64, 8, 128, 28672, 32000}));
  CHECK(graph.totalWeights() == 68976648192ull); // models/zoo/expected.json
}

TEST_CASE("mixtral graph summary: experts, router and top-k", "[partition][graph]") {
  ModelSummary graph = fromZoo("mixtral-8x7b");
  checkSame(graph, makeDecoderSummary({"mixtral-8x7b", 32, 4096, 32, 8, 128, 14336, 32000, 8, 2}));
  CHECK(graph.topK == 2);
  CHECK(graph.layers[0].numExperts == 8);
}

TEST_CASE("gpt2 graph summary: fused c_attn split, LayerNorm, tied LM head", "[partition][graph]") {
  ModelSummary graph = fromZoo("gpt2-small");
  DecoderShape gpt2{"gpt2-small", 12, 768, 12, 12, 64, 3072, 50257};
  gpt2.gatedMlp = false;
  gpt2.tiedEmbedding = true;
  gpt2.attentionBias = true;
  gpt2.mlpBias = true;
  gpt2.positionEmbedding = 1024;
  gpt2.layerNorm = true;
  checkSame(graph, makeDecoderSummary(gpt2));
  CHECK(graph.totalWeights() == 124439808ull); // GPT-2 small: 124.4M parameters
}

TEST_CASE("a graph without decoder layers is refused by name", "[partition][graph]") {
  auto summary =
      summarizeOnnxModel(std::string(CONVEYOR_SOURCE_DIR) + "/models/zoo/onnx/none.onnx");
  REQUIRE_FALSE(summary.ok());
  CHECK(summary.error().find("none.onnx") != std::string::npos);
}

TEST_CASE("real torch exports: unnamed matmul weights are placed by layer and shape",
          "[partition][graph]") {
  // torch renames the transposed weights it exports ("onnx::MatMul_571"); the summary puts
  // them in the layer whose norms were used last and gives roles by shape and order.
  auto tiny = [](const std::string &name) {
    auto summary = summarizeOnnxModel(std::string(CONVEYOR_SOURCE_DIR) + "/models/tiny_llm/" +
                                      name + "/" + name + ".onnx");
    INFO((summary.ok() ? std::string() : summary.error()));
    REQUIRE(summary.ok());
    return *summary;
  };
  // tiny-llama: 2 layers, hidden 64, 4 heads of 16, 2 KV heads, ffn 128, vocab 256;
  // 106,816 initializer elements in all.
  ModelSummary llama = tiny("tiny-llama-kv");
  CHECK(llama.layers.size() == 2);
  CHECK(llama.heads == 4);
  CHECK(llama.kvHeads == 2);
  CHECK(llama.headDim == 16);
  CHECK(llama.ffn == 128);
  CHECK(llama.vocab == 256);
  const LayerSummary &l0 = llama.layers[0];
  CHECK(l0.attnQ == 64 * 64);
  CHECK(l0.attnK == 64 * 32);
  CHECK(l0.attnV == 64 * 32);
  CHECK(l0.attnO == 64 * 64);
  CHECK(l0.mlpGate == 64 * 128);
  CHECK(l0.mlpUp == 64 * 128);
  CHECK(l0.mlpDown == 128 * 64);
  CHECK(l0.norms == 2 * 64);
  CHECK(llama.lmHeadElements == 64 * 256);
  CHECK(llama.totalWeights() == 106816);
  // tiny-moe: 4 experts, an unnamed [64, 4] router.
  ModelSummary moe = tiny("tiny-moe-kv");
  CHECK(moe.experts == 4);
  CHECK(moe.layers[0].router == 64 * 4);
  CHECK(moe.layers[0].experts == 4 * 3 * 64 * 32);
  CHECK(moe.totalWeights() == 107328);
  // tiny-gpt2: the unnamed fused c_attn [64, 192] splits into q, k, v of 64 columns each.
  ModelSummary gpt2 = tiny("tiny-gpt2-kv");
  CHECK(gpt2.heads == 4);
  CHECK(gpt2.kvHeads == 4);
  CHECK(gpt2.layers[0].attnQ == 64 * 64 + 64);
  CHECK(gpt2.layers[0].attnK == 64 * 64 + 64);
  CHECK(gpt2.layers[0].mlpUp == 64 * 128 + 128);
  CHECK(gpt2.layers[0].mlpGate == 0);
  CHECK(gpt2.totalWeights() == 103936);
}
