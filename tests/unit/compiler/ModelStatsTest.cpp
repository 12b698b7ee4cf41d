// Model statistics: every zoo graph against models/zoo/expected.json, hand-computed
// cv.graph cases (one matmul, masks, MoE, ties, KV windows) and the torch-exported tiny LMs.
#include "CompilerTestSupport.h"
#include "ModelStatsTestSupport.h"

#include "conveyor/Analysis/ModelStats.h"
#include "conveyor/Analysis/ModelStatsAnalysis.h"
#include "conveyor/Dialect/Graph/GraphOps.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstdio>

using namespace conveyor;
using namespace conveyor::analysis;
using compiler::test::analyzeStats;
using compiler::test::DiagnosticLog;
using compiler::test::importBound;
using compiler::test::makeContext;
using compiler::test::runGraphFusions;
using compiler::test::parse;
using compiler::test::sourcePath;

namespace {

GraphStats analyzeText(const std::string &text) {
  auto context = makeContext();
  auto module = parse(*context, text);
  return analyzeStats(*module);
}

/// The zoo's expected.json, parsed once.
const llvm::json::Object &expectedModels() {
  static llvm::json::Value root = [] {
    std::string path = sourcePath("models/zoo/expected.json");
    auto buffer = llvm::MemoryBuffer::getFile(path);
    REQUIRE(buffer);
    llvm::Expected<llvm::json::Value> parsed = llvm::json::parse((*buffer)->getBuffer());
    REQUIRE(static_cast<bool>(parsed));
    return std::move(*parsed);
  }();
  const llvm::json::Object *models = root.getAsObject()->getObject("models");
  REQUIRE(models);
  return *models;
}

uint64_t integer(const llvm::json::Object &object, llvm::StringRef key) {
  std::optional<int64_t> value = object.getInteger(key);
  INFO("expected.json key " << key.str());
  REQUIRE(value);
  return static_cast<uint64_t>(*value);
}

double number(const llvm::json::Object &object, llvm::StringRef key) {
  std::optional<double> value = object.getNumber(key);
  INFO("expected.json key " << key.str());
  REQUIRE(value);
  return *value;
}

/// expected.json's decode FLOPs at `context`; contexts it does not list are derived for
/// models without sliding windows: decode(C) = decode(1) + per-key FLOPs x layers x (C - 1).
uint64_t expectedDecode(const llvm::json::Object &model, int64_t context) {
  const llvm::json::Object &flops = *model.getObject("flops_per_token");
  if (flops.getObject("decode")->getInteger(std::to_string(context))) {
    return integer(*flops.getObject("decode"), std::to_string(context));
  }
  const llvm::json::Object &architecture = *model.getObject("architecture");
  REQUIRE(!architecture.getInteger("sliding_window")); // no sliding window
  return integer(*flops.getObject("decode"), "1") + integer(flops, "attention_per_key_per_layer") *
                                                        integer(architecture, "layers") *
                                                        static_cast<uint64_t>(context - 1);
}

/// The same for prefill: per token, matmul + per-key FLOPs x layers x (S + 1) / 2.
double expectedPrefill(const llvm::json::Object &model, int64_t prompt) {
  const llvm::json::Object &flops = *model.getObject("flops_per_token");
  if (flops.getObject("prefill")->getNumber(std::to_string(prompt))) {
    return number(*flops.getObject("prefill"), std::to_string(prompt));
  }
  const llvm::json::Object &architecture = *model.getObject("architecture");
  REQUIRE(!architecture.getInteger("sliding_window")); // no sliding window
  double pairs = double(prompt) * double(prompt + 1) / 2.0;
  return double(integer(flops, "matmul")) +
         double(integer(flops, "attention_per_key_per_layer") * integer(architecture, "layers")) *
             pairs / double(prompt);
}

/// GPT-2 has 1024 learned positions: the importer rejects a longer context (the Gather
/// of the position table goes out of range), so its tests stop at 1024 tokens.
int64_t longest(const char *name, int64_t length) {
  return std::string(name) == "gpt2-small" ? std::min<int64_t>(length, 1024) : length;
}

const char *const kZooModels[] = {"llama2-7b",    "llama2-13b",   "llama2-70b", "llama3-8b",
                                  "llama3-70b",   "mixtral-8x7b", "qwen3-0.6b", "qwen3-30b-a3b",
                                  "gpt-oss-120b", "gpt2-small"};

} // namespace

//===----------------------------------------------------------------------===//
// The model zoo against its closed forms
//===----------------------------------------------------------------------===//

TEST_CASE("inspect matches expected.json parameters, bytes and KV for every zoo model",
          "[model-stats][zoo]") {
  for (const char *name : kZooModels) {
    DYNAMIC_SECTION(name) {
      const llvm::json::Object &model = *expectedModels().getObject(name);
      const llvm::json::Object &params = *model.getObject("params");
      InspectOptions options;
      options.context = longest(name, 4096);
      options.prompt = 128;
      Result<ModelStats> stats =
          inspectOnnxModel(sourcePath("models/zoo/onnx/" + std::string(name) + ".onnx"), options);
      INFO((stats.ok() ? std::string() : stats.error()));
      REQUIRE(stats.ok());
      const ParameterStats &p = stats->params;

      // Exactly the closed form, and within 1% of the published count.
      CHECK(p.total == integer(params, "total"));
      double published = number(*model.getObject("published"), "params");
      CHECK(std::fabs(double(p.total) - published) / published <= 0.01);
      CHECK(p.embedding == integer(params, "embedding") + integer(params, "position_embedding"));
      CHECK(p.lmHead == integer(params, "lm_head"));
      CHECK(p.nonEmbedding == integer(params, "non_embedding"));
      CHECK(p.active == integer(params, "active"));
      CHECK(p.activeExcludingInputEmbedding == integer(params, "active_excluding_input_embedding"));
      CHECK(p.tiedCopies == 0);
      const llvm::json::Object &bytes = *model.getObject("weight_bytes");
      for (Precision precision : kAllPrecisions) {
        INFO(precisionName(precision));
        CHECK(p.bytesAt(precision) == integer(bytes, precisionName(precision)));
      }
      CHECK(p.storedBytes == integer(bytes, "fp32")); // the zoo graphs are float32

      REQUIRE(stats->kvCache);
      const llvm::json::Object &kv = *model.getObject("kv_cache_bytes_per_token");
      for (Precision precision : kAllPrecisions) {
        if (precision == Precision::INT4) {
          continue;
        }
        INFO(precisionName(precision));
        CHECK(stats->kvCache->bytesPerToken(precision) == integer(kv, precisionName(precision)));
        if (const llvm::json::Object *beyond =
                model.getObject("kv_cache_bytes_per_token_beyond_window")) {
          CHECK(stats->kvCache->bytesPerTokenBeyondWindow(precision) ==
                integer(*beyond, precisionName(precision)));
        } else {
          CHECK(stats->kvCache->windowedCacheTensors == 0);
        }
      }
      std::optional<int64_t> window = model.getObject("architecture")->getInteger("sliding_window");
      CHECK(stats->kvCache->slidingWindow == window.value_or(0));

      // The public API's decode step at 4096 (GPT-2: 1024) is the closed form's too.
      REQUIRE(stats->decode);
      const llvm::json::Object &flops = *model.getObject("flops_per_token");
      CHECK(stats->decode->macs.countedFlops() == expectedDecode(model, options.context));
      CHECK(2 * stats->decode->macs.weightMatmul == integer(flops, "matmul"));
      CHECK(stats->decode->macs.unresolvedMasks == 0);
      CHECK(stats->prefill.macs.unresolvedMasks == 0);
    }
  }
}

TEST_CASE("decode and prefill FLOPs per token match expected.json for every zoo model",
          "[model-stats][zoo]") {
  for (const char *name : kZooModels) {
    DYNAMIC_SECTION(name) {
      const llvm::json::Object &model = *expectedModels().getObject(name);
      std::string path = sourcePath("models/zoo/onnx/" + std::string(name) + ".onnx");
      auto context = makeContext();
      for (int64_t contextLength :
           {int64_t{1}, int64_t{128}, longest(name, 2048), longest(name, 32768)}) {
        INFO("decode at context " << contextLength);
        auto module = importBound(*context, path, 1, contextLength - 1);
        GraphStats stats = analyzeStats(*module);
        CHECK(stats.macs.countedFlops() == expectedDecode(model, contextLength));
      }
      // Prefill counts only unmasked pairs: S(S+1)/2 causal, fewer in sliding windows;
      // the closed form divides exact integers once, as does StepFlops.
      for (int64_t prompt : {int64_t{128}, longest(name, 2048)}) {
        INFO("prefill of " << prompt);
        auto module = importBound(*context, path, prompt, 0);
        GraphStats stats = analyzeStats(*module);
        double perToken = double(stats.macs.countedFlops()) / double(prompt);
        CHECK(perToken == Approx(expectedPrefill(model, prompt)).epsilon(1e-12));
        CHECK(stats.macs.attention < stats.macs.attentionDense); // the mask was read
        CHECK(stats.macs.unresolvedMasks == 0);
      }
    }
  }
}

TEST_CASE("prefill of 4096 tokens reads masks too big for the importer to fold",
          "[model-stats][zoo]") {
  // 4096^2 mask entries exceed the importer's fold limit, so the mask stays a graph of
  // compares and selects that the evaluator reads element by element.
  for (const char *name : {"llama2-7b", "qwen3-0.6b", "gpt-oss-120b"}) {
    DYNAMIC_SECTION(name) {
      const llvm::json::Object &flops =
          *expectedModels().getObject(name)->getObject("flops_per_token");
      auto context = makeContext();
      auto module = importBound(
          *context, sourcePath("models/zoo/onnx/" + std::string(name) + ".onnx"), 4096, 0);
      GraphStats stats = analyzeStats(*module);
      CHECK(double(stats.macs.countedFlops()) / 4096.0 ==
            Approx(number(*flops.getObject("prefill"), "4096")).epsilon(1e-12));
      CHECK(stats.macs.unresolvedMasks == 0);
    }
  }
}

TEST_CASE("the numbers do not change when the fusion passes have run", "[model-stats][zoo]") {
  // conveyor-graph-fuse-transformer turns the embedding gather, every SwiGLU MLP and the
  // LM head into cv.graph.embedding / gated_mlp / lm_head; the analysis counts those too.
  for (const char *name : {"llama2-7b", "mixtral-8x7b", "qwen3-0.6b"}) {
    DYNAMIC_SECTION(name) {
      auto context = makeContext();
      std::string path = sourcePath("models/zoo/onnx/" + std::string(name) + ".onnx");
      auto raw = importBound(*context, path, 1, 1023);
      auto fused = importBound(*context, path, 1, 1023);
      runGraphFusions(*fused);
      unsigned lmHeads = 0, embeddings = 0;
      fused->walk([&](mlir::Operation *op) {
        lmHeads += isa<graph::LmHeadOp>(op);
        embeddings += isa<graph::EmbeddingOp>(op);
      });
      CHECK(lmHeads == 1);
      CHECK(embeddings == 1);

      GraphStats before = analyzeStats(*raw), after = analyzeStats(*fused);
      CHECK(after.params.total == before.params.total);
      CHECK(after.params.embedding == before.params.embedding);
      CHECK(after.params.lmHead == before.params.lmHead);
      CHECK(after.params.active == before.params.active);
      CHECK(after.macs.weightMatmul == before.macs.weightMatmul);
      CHECK(after.macs.attention == before.macs.attention);
      REQUIRE(after.kvCache);
      CHECK(after.kvCache->elementsPerToken == before.kvCache->elementsPerToken);
    }
  }
}

//===----------------------------------------------------------------------===//
// Hand-computed cases
//===----------------------------------------------------------------------===//

TEST_CASE("one matmul: its weight is the only parameter and M*N*K MACs", "[model-stats]") {
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%x: tensor<1x4x8xf32>) -> tensor<1x4x16xf32> {
      %w = cv.graph.weight {name = "w"} : tensor<8x16xf32>
      %y = cv.graph.matmul %x, %w : (tensor<1x4x8xf32>, tensor<8x16xf32>) -> tensor<1x4x16xf32>
      return %y : tensor<1x4x16xf32>
    })mlir");
  CHECK(stats.params.total == 128);
  CHECK(stats.params.tensors == 1);
  CHECK(stats.params.lmHead == 128); // it produces the output
  CHECK(stats.params.nonEmbedding == 0);
  CHECK(stats.params.bytesAt(Precision::INT4) == 64);
  CHECK(stats.params.storedBytes == 512);
  CHECK(stats.macs.weightMatmul == 4 * 16 * 8);
  CHECK(stats.macs.countedFlops() == 2 * 4 * 16 * 8);
  CHECK(stats.macs.attention == 0);
  CHECK(!stats.kvCache);
}

TEST_CASE("gemm MACs follow transA; a bias vector is a parameter", "[model-stats]") {
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%x: tensor<8x3xf32>) -> tensor<3x5xf32> {
      %w = cv.graph.weight {name = "w"} : tensor<8x5xf32>
      %b = cv.graph.weight {name = "b"} : tensor<5xf32>
      %y = cv.graph.gemm %x, %w, %b {transA = true} : (tensor<8x3xf32>, tensor<8x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
      return %y : tensor<3x5xf32>
    })mlir");
  CHECK(stats.params.total == 45);
  CHECK(stats.macs.weightMatmul == 3 * 5 * 8);
}

TEST_CASE("an additive causal mask halves the attention pairs; the mask is no parameter",
          "[model-stats]") {
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x8x4xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
      %s = cv.graph.matmul %q, %k : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
      %c = cv.graph.constant dense<0.35> : tensor<f32> : tensor<f32>
      %scaled = cv.graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
      %m = cv.graph.constant {name = "mask"} dense<[[0.0, -1.0e4, -1.0e4, -1.0e4], [0.0, 0.0, -1.0e4, -1.0e4], [0.0, 0.0, 0.0, -1.0e4], [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32> : tensor<4x4xf32>
      %a = cv.graph.add %scaled, %m : (tensor<1x2x4x4xf32>, tensor<4x4xf32>) -> tensor<1x2x4x4xf32>
      %p = cv.graph.softmax %a : tensor<1x2x4x4xf32>
      %o = cv.graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
      return %o : tensor<1x2x4x8xf32>
    })mlir");
  CHECK(stats.params.total == 0); // the [4, 4] mask constant meets the scores but is a buffer
  CHECK(stats.macs.attentionMatmuls == 2);
  CHECK(stats.macs.maskedAttentionMatmuls == 2); // P x V inherits the score mask
  CHECK(stats.macs.attentionDense == 2 * (2 * 4 * 4 * 8));
  CHECK(stats.macs.attention == 2 * (2 * 8 * 10)); // 10 of 16 pairs per head
  CHECK(stats.macs.weightMatmul == 0);
}

TEST_CASE("a select mask computed from positions: sliding window of 2", "[model-stats]") {
  // Key k is hidden from query q when k > q or k <= q - 2: rows keep 1, 2, 2, 2, 2, 2 keys.
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%q: tensor<1x1x6x4xf32>, %k: tensor<1x1x4x6xf32>) -> tensor<1x1x6x6xf32> {
      %s = cv.graph.matmul %q, %k : (tensor<1x1x6x4xf32>, tensor<1x1x4x6xf32>) -> tensor<1x1x6x6xf32>
      %qi = cv.graph.iota : tensor<6xi64>
      %qr = cv.graph.reshape %qi : tensor<6xi64> -> tensor<6x1xi64>
      %ki = cv.graph.iota : tensor<6xi64>
      %future = cv.graph.less %qr, %ki : (tensor<6x1xi64>, tensor<6xi64>) -> tensor<6x6xi1>
      %two = cv.graph.constant dense<2> : tensor<i64> : tensor<i64>
      %low = cv.graph.sub %qr, %two : (tensor<6x1xi64>, tensor<i64>) -> tensor<6x1xi64>
      %old = cv.graph.less_equal %ki, %low : (tensor<6xi64>, tensor<6x1xi64>) -> tensor<6x6xi1>
      %hidden = cv.graph.or %future, %old : (tensor<6x6xi1>, tensor<6x6xi1>) -> tensor<6x6xi1>
      %fill = cv.graph.constant dense<-3.40282347E+38> : tensor<f32> : tensor<f32>
      %w = cv.graph.where %hidden, %fill, %s : (tensor<6x6xi1>, tensor<f32>, tensor<1x1x6x6xf32>) -> tensor<1x1x6x6xf32>
      %p = cv.graph.softmax %w : tensor<1x1x6x6xf32>
      return %p : tensor<1x1x6x6xf32>
    })mlir");
  CHECK(stats.macs.attentionDense == 6 * 6 * 4);
  CHECK(stats.macs.attention == 11 * 4);
}

TEST_CASE("a decode step: KV caches, a sliding window and its growth beyond it", "[model-stats]") {
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%x: tensor<1x1x4xf32>, %pk: tensor<1x1x5x4xf32>, %pv: tensor<1x1x5x4xf32>)
        -> (tensor<1x1x4xf32>, tensor<1x1x6x4xf32>, tensor<1x1x6x4xf32>) {
      %wq = cv.graph.weight {name = "wq"} : tensor<4x4xf32>
      %wk = cv.graph.weight {name = "wk"} : tensor<4x4xf32>
      %wv = cv.graph.weight {name = "wv"} : tensor<4x4xf32>
      %q = cv.graph.matmul %x, %wq : (tensor<1x1x4xf32>, tensor<4x4xf32>) -> tensor<1x1x4xf32>
      %k = cv.graph.matmul %x, %wk : (tensor<1x1x4xf32>, tensor<4x4xf32>) -> tensor<1x1x4xf32>
      %v = cv.graph.matmul %x, %wv : (tensor<1x1x4xf32>, tensor<4x4xf32>) -> tensor<1x1x4xf32>
      %q4 = cv.graph.reshape %q : tensor<1x1x4xf32> -> tensor<1x1x1x4xf32>
      %k4 = cv.graph.reshape %k : tensor<1x1x4xf32> -> tensor<1x1x1x4xf32>
      %v4 = cv.graph.reshape %v : tensor<1x1x4xf32> -> tensor<1x1x1x4xf32>
      %kc = cv.graph.concat %pk, %k4 {axis = 2 : i64} : (tensor<1x1x5x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x1x6x4xf32>
      %vc = cv.graph.concat %pv, %v4 {axis = 2 : i64} : (tensor<1x1x5x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x1x6x4xf32>
      %kt = cv.graph.transpose %kc, [0, 1, 3, 2] : tensor<1x1x6x4xf32> -> tensor<1x1x4x6xf32>
      %s = cv.graph.matmul %q4, %kt : (tensor<1x1x1x4xf32>, tensor<1x1x4x6xf32>) -> tensor<1x1x1x6xf32>
      %m = cv.graph.constant dense<[[-1.0e4, -1.0e4, -1.0e4, -1.0e4, 0.0, 0.0]]> : tensor<1x6xf32> : tensor<1x6xf32>
      %a = cv.graph.add %s, %m : (tensor<1x1x1x6xf32>, tensor<1x6xf32>) -> tensor<1x1x1x6xf32>
      %p = cv.graph.softmax %a : tensor<1x1x1x6xf32>
      %o = cv.graph.matmul %p, %vc : (tensor<1x1x1x6xf32>, tensor<1x1x6x4xf32>) -> tensor<1x1x1x4xf32>
      %o3 = cv.graph.reshape %o : tensor<1x1x1x4xf32> -> tensor<1x1x4xf32>
      return %o3, %kc, %vc : tensor<1x1x4xf32>, tensor<1x1x6x4xf32>, tensor<1x1x6x4xf32>
    })mlir");
  CHECK(stats.params.total == 48);
  CHECK(stats.macs.weightMatmul == 48);
  CHECK(stats.macs.attentionDense == 48);
  CHECK(stats.macs.attention == 16); // 2 of 6 keys, for QK^T and PV
  REQUIRE(stats.kvCache);
  CHECK(stats.kvCache->cacheTensors == 2);
  CHECK(stats.kvCache->elementsPerToken == 8);
  CHECK(stats.kvCache->bytesPerToken(Precision::FP16) == 16);
  CHECK(stats.kvCache->bytesPerToken(Precision::FP8) == 8);
  CHECK(stats.kvCache->storedBytesPerToken == 32);
  CHECK(stats.kvCache->windowedCacheTensors == 2);
  CHECK(stats.kvCache->slidingWindow == 2);
  CHECK(stats.kvCache->bytesPerTokenBeyondWindow(Precision::FP16) == 0);
}

TEST_CASE("MoE: stacked experts count once; a token touches top_k of them", "[model-stats]") {
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%x: tensor<3x8xf32>) -> tensor<3x2x1x16xf32> {
      %router = cv.graph.weight {name = "router"} : tensor<8x4xf32>
      %experts = cv.graph.weight {name = "experts"} : tensor<4x8x16xf32>
      %logits = cv.graph.matmul %x, %router : (tensor<3x8xf32>, tensor<8x4xf32>) -> tensor<3x4xf32>
      %values, %indices = cv.graph.topk %logits {axis = 1 : i64, k = 2 : i64} : tensor<3x4xf32> -> tensor<3x2xf32>, tensor<3x2xi64>
      %g = cv.graph.gather %experts, %indices : (tensor<4x8x16xf32>, tensor<3x2xi64>) -> tensor<3x2x8x16xf32>
      %xr = cv.graph.reshape %x : tensor<3x8xf32> -> tensor<3x1x1x8xf32>
      %y = cv.graph.matmul %xr, %g : (tensor<3x1x1x8xf32>, tensor<3x2x8x16xf32>) -> tensor<3x2x1x16xf32>
      return %y : tensor<3x2x1x16xf32>
    })mlir");
  CHECK(stats.params.total == 32 + 512);
  CHECK(stats.params.routedExperts == 512);
  CHECK(stats.params.embedding == 0); // gathered by router indices, not token ids
  CHECK(stats.params.active == 32 + 512 / 4 * 2);
  CHECK(stats.macs.weightMatmul == 3 * 4 * 8 + 3 * 2 * 16 * 8);
  CHECK(stats.macs.attention == 0);
}

namespace {

/// An embedding table, a norm scale and an LM head that is `headValues` ([4, 6]).
std::string tiedModel(const std::string &headValues) {
  return R"mlir(
    func.func @main(%ids: tensor<1x3xi64>) -> tensor<1x3x6xf32> {
      %table = cv.graph.constant {name = "wte"} dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0], [13.0, 14.0, 15.0, 16.0], [17.0, 18.0, 19.0, 20.0], [21.0, 22.0, 23.0, 24.0]]> : tensor<6x4xf32> : tensor<6x4xf32>
      %head = cv.graph.constant {name = "head"} dense<)mlir" +
         headValues + R"mlir(> : tensor<4x6xf32> : tensor<4x6xf32>
      %scale = cv.graph.constant {name = "ln.weight"} dense<[0.5, 1.5, 2.5, 3.5]> : tensor<4xf32> : tensor<4xf32>
      %e = cv.graph.gather %table, %ids : (tensor<6x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
      %n = cv.graph.mul %e, %scale : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
      %logits = cv.graph.matmul %n, %head : (tensor<1x3x4xf32>, tensor<4x6xf32>) -> tensor<1x3x6xf32>
      return %logits : tensor<1x3x6xf32>
    })mlir";
}

} // namespace

TEST_CASE("a transposed copy of the embedding table is a tied LM head, counted once",
          "[model-stats]") {
  GraphStats tied = analyzeText(
      tiedModel("[[1.0, 5.0, 9.0, 13.0, 17.0, 21.0], [2.0, 6.0, 10.0, 14.0, 18.0, 22.0], "
                "[3.0, 7.0, 11.0, 15.0, 19.0, 23.0], [4.0, 8.0, 12.0, 16.0, 20.0, 24.0]]"));
  CHECK(tied.params.total == 28);
  CHECK(tied.params.tensors == 2);
  CHECK(tied.params.tiedCopies == 1);
  CHECK(tied.params.tiedCopyElements == 24);
  CHECK(tied.params.embedding == 24);
  CHECK(tied.params.lmHead == 0);
  CHECK(tied.params.nonEmbedding == 4);
  CHECK(tied.params.activeExcludingInputEmbedding == 28); // tied: the table is the head

  // One element differs: two tensors, an untied head.
  GraphStats untied = analyzeText(
      tiedModel("[[1.0, 5.0, 9.0, 13.0, 17.0, 21.0], [2.0, 6.0, 10.0, 14.0, 18.0, 22.0], "
                "[3.0, 7.0, 11.0, 15.0, 19.0, 23.0], [4.0, 8.0, 12.0, 16.0, 20.0, 25.0]]"));
  CHECK(untied.params.total == 52);
  CHECK(untied.params.tiedCopies == 0);
  CHECK(untied.params.embedding == 24);
  CHECK(untied.params.lmHead == 24);
  CHECK(untied.params.nonEmbedding == 4);
  CHECK(untied.params.activeExcludingInputEmbedding == 28);
  CHECK(untied.macs.weightMatmul == 3 * 6 * 4);
}

TEST_CASE("RoPE frequencies only meet positions: no parameter, MACs not counted", "[model-stats]") {
  GraphStats stats = analyzeText(R"mlir(
    func.func @main(%x: tensor<1x3x2xf32>) -> tensor<1x3x2xf32> {
      %pos = cv.graph.iota : tensor<3xi64>
      %posf = cv.graph.cast %pos : tensor<3xi64> -> tensor<3xf32>
      %col = cv.graph.reshape %posf : tensor<3xf32> -> tensor<3x1xf32>
      %inv = cv.graph.constant {name = "const/inv"} dense<[[1.0, 0.01]]> : tensor<1x2xf32> : tensor<1x2xf32>
      %angles = cv.graph.matmul %col, %inv : (tensor<3x1xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
      %cos = cv.graph.cos %angles : tensor<3x2xf32>
      %y = cv.graph.mul %x, %cos : (tensor<1x3x2xf32>, tensor<3x2xf32>) -> tensor<1x3x2xf32>
      return %y : tensor<1x3x2xf32>
    })mlir");
  CHECK(stats.params.total == 0);
  CHECK(stats.macs.constantOperands == 3 * 2 * 1);
  CHECK(stats.macs.countedFlops() == 0);
}

TEST_CASE("FLOPs need static shapes; parameters do not", "[model-stats]") {
  auto context = makeContext();
  auto module = parse(*context, R"mlir(
    func.func @main(%x: tensor<?x8xf32>) -> tensor<?x16xf32> {
      %w = cv.graph.weight {name = "w"} : tensor<8x16xf32>
      %y = cv.graph.matmul %x, %w : (tensor<?x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
      return %y : tensor<?x16xf32>
    })mlir");
  {
    DiagnosticLog log(*context);
    CHECK(mlir::failed(analyzeGraph(*module)));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0].find("dynamic shape") != std::string::npos);
    CHECK(log.errors[0].find("bind the symbolic dimensions") != std::string::npos);
  }
  mlir::FailureOr<ParameterStats> params = analyzeParameters(*module);
  REQUIRE(mlir::succeeded(params));
  CHECK(params->total == 128);
}

TEST_CASE("precision names and byte rounding", "[model-stats]") {
  for (Precision precision : kAllPrecisions) {
    CHECK(parsePrecision(precisionName(precision)) == precision);
  }
  CHECK(parsePrecision("BF16") == Precision::BF16);
  CHECK(!parsePrecision("fp64"));
  CHECK(bytesAtPrecision(3, Precision::INT4) == 2); // rounded up to whole bytes
  CHECK(bytesAtPrecision(3, Precision::FP32) == 12);
}

TEST_CASE("--dims assignments", "[model-stats]") {
  std::map<std::string, int64_t> dims;
  CHECK(parseDimAssignments("batch=1, seq = 8", dims).ok());
  CHECK(dims == std::map<std::string, int64_t>{{"batch", 1}, {"seq", 8}});
  CHECK(parseDimAssignments("", dims).ok());
  Status bad = parseDimAssignments("batch=1,seq", dims);
  REQUIRE(!bad.ok());
  CHECK(bad.error().find("'seq'") != std::string::npos);
  CHECK(!parseDimAssignments("past=-1", dims).ok());
}

//===----------------------------------------------------------------------===//
// Torch exports (models/tiny_llm): real initializers, torch's mask subgraphs
//===----------------------------------------------------------------------===//

TEST_CASE("tiny torch-exported LMs: parameters, ties, MoE and FLOPs by hand",
          "[model-stats][tiny]") {
  struct Case {
    const char *name;
    uint64_t params, active, tiedCopies, kvElementsPerToken;
    uint64_t matmulMacsPerToken; // weights a token multiplies (projections, MLP, LM head)
    uint64_t fixedShapeParams;   // what the fixed-shape prefill export holds (see below)
  };
  // d_model 64, vocab 256, 2 layers, 4 heads of 16 (GQA: 2 KV heads for llama/moe).
  // gpt2: qkv 64x192 + o 64x64 + MLP 2x64x128 per layer, tied head 64x256.
  // llama: q 64x64, k/v 64x32, o 64x64, SwiGLU 3x64x128, head 64x256.
  // moe: llama's attention, router 64x4, top-2 of 4 SwiGLU experts 3x64x32.
  const Case cases[] = {
      {"tiny-gpt2", 87552, 87552, 1, 2 * 2 * 4 * 16, 2 * (12288 + 4096 + 16384) + 16384,
       87552 - 64 * 64 + 8 * 64},
      {"tiny-llama", 106816, 106816, 0, 2 * 2 * 2 * 16, 2 * (12288 + 24576) + 16384,
       106816 + 2 * 8 * 16},
      {"tiny-moe", 107328, 107328 - 2 * 2 * 3 * 64 * 32, 0, 2 * 2 * 2 * 16,
       2 * (12288 + 256 + 2 * 3 * 64 * 32) + 16384, 107328 + 2 * 8 * 16},
  };
  for (const Case &c : cases) {
    DYNAMIC_SECTION(c.name) {
      std::string dir = std::string("models/tiny_llm/") + c.name;
      InspectOptions options;
      options.context = 9;
      options.prompt = 8;
      Result<ModelStats> kv =
          inspectOnnxModel(sourcePath(dir + "-kv/" + c.name + "-kv.onnx"), options);
      INFO((kv.ok() ? std::string() : kv.error()));
      REQUIRE(kv.ok());
      CHECK(kv->params.total == c.params);
      CHECK(kv->params.active == c.active);
      CHECK(kv->params.tiedCopies == c.tiedCopies);
      REQUIRE(kv->kvCache);
      CHECK(kv->kvCache->cacheTensors == 4);
      CHECK(kv->kvCache->elementsPerToken == c.kvElementsPerToken);
      CHECK(kv->kvCache->windowedCacheTensors == 0);
      // Attention: 2 layers x 4 heads x 16 x 4 FLOPs per key; decode sees all 9 keys,
      // prefill of 8 sees 1 + 2 + ... + 8 = 36 pairs.
      REQUIRE(kv->decode);
      CHECK(kv->decode->tokens == 1);
      CHECK(kv->decode->macs.weightMatmul == c.matmulMacsPerToken);
      CHECK(kv->decode->macs.countedFlops() == 2 * c.matmulMacsPerToken + 2 * 4 * 4 * 16 * 9);
      CHECK(kv->prefill.tokens == 8);
      CHECK(kv->prefill.macs.countedFlops() == 8 * 2 * c.matmulMacsPerToken + 2 * 4 * 4 * 16 * 36);
      CHECK(kv->prefill.macs.unresolvedMasks == 0);

      // The fixed-shape prefill export: the same prefill FLOPs. Its parameter count
      // differs where fixed positions fold: torch stored GPT-2's 8 used rows of the [64, 64]
      // position table instead of the table; the importer folds RoPE's cos and sin of 8
      // positions ([8, 16] each) into constants that multiply activations.
      Result<ModelStats> fixed =
          inspectOnnxModel(sourcePath(dir + "-prefill/" + c.name + "-prefill.onnx"), options);
      INFO((fixed.ok() ? std::string() : fixed.error()));
      REQUIRE(fixed.ok());
      CHECK(fixed->params.total == c.fixedShapeParams);
      CHECK(!fixed->kvCache);
      CHECK(!fixed->decode);
      CHECK(fixed->prefill.tokens == 8);
      CHECK(fixed->prefill.macs.countedFlops() == kv->prefill.macs.countedFlops());
    }
  }
}

TEST_CASE("tiny-block: a float [8, 8] mask initializer is a buffer, not a parameter",
          "[model-stats][tiny]") {
  // models/tiny: Wq, Wk, Wv, Wo 64x64, W1 64x256, W2 256x64 (49,152 weights, the README's
  // 196,608 bytes) + biases 4 x 64 + 256 + 64; 8 positions of hidden states, causal.
  Result<ModelStats> stats = inspectOnnxModel(sourcePath("models/tiny/tiny-block.onnx"));
  INFO((stats.ok() ? std::string() : stats.error()));
  REQUIRE(stats.ok());
  CHECK(stats->params.total == 49152 + 4 * 64 + 256 + 64);
  CHECK(stats->params.tensors == 12);
  CHECK(stats->params.lmHead == 0); // the output is a residual sum, not a projection
  CHECK(!stats->kvCache);
  CHECK(!stats->decode);
  CHECK(stats->prefill.tokens == 8); // [1, 8, 64] hidden states
  CHECK(stats->prefill.macs.weightMatmul == 8 * 49152);
  CHECK(stats->prefill.macs.attentionDense == 2 * 4 * 8 * 8 * 16);
  CHECK(stats->prefill.macs.attention == 2 * 4 * 36 * 16); // 36 of 64 pairs per head
}

//===----------------------------------------------------------------------===//
// The MLIR-free entry point: errors and rendering
//===----------------------------------------------------------------------===//

TEST_CASE("inspectOnnxModel errors are one line naming the file or the flag", "[model-stats]") {
  Result<ModelStats> missing = inspectOnnxModel("/nonexistent/model.onnx");
  REQUIRE(!missing.ok());
  CHECK(missing.error().find("/nonexistent/model.onnx") != std::string::npos);
  CHECK(missing.error().find('\n') == std::string::npos);

  InspectOptions badContext;
  badContext.context = 0;
  Result<ModelStats> bad =
      inspectOnnxModel(sourcePath("models/zoo/onnx/llama2-7b.onnx"), badContext);
  REQUIRE(!bad.ok());
  CHECK(bad.error().find("--context") != std::string::npos);

  // GPT-2 has 1024 positions: a longer context fails in the importer, and the message
  // says which binding it was importing with.
  std::string gpt2 = sourcePath("models/zoo/onnx/gpt2-small.onnx");
  Result<ModelStats> longPrompt = inspectOnnxModel(gpt2); // default prompt 2048
  REQUIRE(!longPrompt.ok());
  INFO(longPrompt.error());
  CHECK(longPrompt.error().find("gpt2-small.onnx: error: prefill of --prompt 2048 (batch=1, "
                                "past=0, seq=2048): node 'wpe/Gather'") != std::string::npos);
  CHECK(longPrompt.error().find("try a smaller --context / --prompt") != std::string::npos);
  InspectOptions shortPrompt;
  shortPrompt.prompt = 128;
  Result<ModelStats> longContext = inspectOnnxModel(gpt2, shortPrompt);
  REQUIRE(!longContext.ok());
  INFO(longContext.error());
  CHECK(longContext.error().find("gpt2-small.onnx: error: decode at --context 4096 (batch=1, "
                                 "past=4095, seq=1): node 'wpe/Gather'") != std::string::npos);

  // A graph whose dimension names are not the ones inspect binds.
  InspectOptions renamed;
  renamed.pastDim = "past_sequence_length";
  Result<ModelStats> unbound =
      inspectOnnxModel(sourcePath("models/zoo/onnx/llama2-7b.onnx"), renamed);
  REQUIRE(!unbound.ok());
  CHECK(unbound.error().find("'past'") != std::string::npos);
  CHECK(unbound.error().find("--dims past=N") != std::string::npos);
}

TEST_CASE("text and JSON renderings carry the headline numbers", "[model-stats]") {
  InspectOptions options;
  options.prompt = 128;
  Result<ModelStats> stats =
      inspectOnnxModel(sourcePath("models/zoo/onnx/llama2-7b.onnx"), options);
  INFO((stats.ok() ? std::string() : stats.error()));
  REQUIRE(stats.ok());
  std::string text = renderModelStatsText(*stats);
  CHECK(text.find("parameters: 6,738,415,616 (6.74e9) in 291 tensors") != std::string::npos);
  CHECK(text.find("KV cache: 512 KiB per token (fp16)") != std::string::npos);
  CHECK(text.find("decode @ context 4096: 15.36 GFLOP/token") != std::string::npos);
  CHECK(text.find("= 15,361,638,400 FLOP per token") != std::string::npos);

  std::string json = renderModelStatsJson(*stats);
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(json);
  INFO(json);
  REQUIRE(static_cast<bool>(parsed));
  const llvm::json::Object &root = *parsed->getAsObject();
  CHECK(root.getObject("parameters")->getInteger("total") == 6738415616);
  CHECK(root.getObject("kv_cache")->getInteger("bytes_per_token") == 524288);
  CHECK(root.getObject("decode")->getInteger("total_flops") == 15361638400);
  CHECK(root.getObject("weight_bytes")->getInteger("int4") == 3369207808);
  CHECK(root.getObject("prefill")->getNumber("flops_per_token") ==
        Approx(13247971328.0).epsilon(1e-15));
}

TEST_CASE("print the zoo table (run with [.report])", "[.report]") {
  std::printf("| model | params (inspect) | published | error | active | fp16 KV/token "
              "| decode FLOP/token @4096 (GPT-2: @1024) |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (const char *name : kZooModels) {
    InspectOptions options;
    options.context = longest(name, 4096);
    options.prompt = 128;
    Result<ModelStats> stats =
        inspectOnnxModel(sourcePath("models/zoo/onnx/" + std::string(name) + ".onnx"), options);
    REQUIRE(stats.ok());
    double published = number(*expectedModels().getObject(name)->getObject("published"), "params");
    std::printf("| %s | %llu | %.4g | %+.2f%% | %llu | %llu B | %llu |\n", name,
                static_cast<unsigned long long>(stats->params.total), published,
                100.0 * (double(stats->params.total) - published) / published,
                static_cast<unsigned long long>(stats->params.active),
                static_cast<unsigned long long>(stats->kvCache->bytesPerToken(Precision::FP16)),
                static_cast<unsigned long long>(stats->decode->macs.countedFlops()));
  }
}
