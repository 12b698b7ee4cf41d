// compileModel with a tensor/pipeline partition (conveyor-partition + conveyor-partition-bound)
// on the real-weight tiny Llama: the summary, the written graph and the one-line errors.
#include "conveyor/Compile/Compile.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace conveyor;
namespace fs = std::filesystem;

namespace {

std::string sourcePath(const std::string &relative) {
  return std::string(CONVEYOR_SOURCE_DIR) + "/" + relative;
}

compile::CompileOptions tinyLlama(const std::string &output) {
  compile::CompileOptions options;
  options.onnxPath = sourcePath("models/tiny_llm/tiny-llama-kv/tiny-llama-kv.onnx");
  options.systemPath = sourcePath("systems/groq-8.yaml");
  options.outputPath = output;
  options.emit = compile::EmitKind::Graph;
  options.dimSizes = "batch=1,seq=1,past=4";
  options.tensorParallel = 2;
  options.pipelineStages = 2;
  return options;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

} // namespace

TEST_CASE("a partitioned compile writes one function per chip role and its decode bound",
          "[partition]") {
  fs::path dir = fs::temp_directory_path() / ("conveyor-partition-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string output = (dir / "tiny.mlir").string();
  Result<compile::CompileSummary> summary = compile::compileModel(tinyLlama(output));
  REQUIRE(summary);
  CHECK(summary->tensorParallel == 2);
  CHECK(summary->pipelineStages == 2);
  CHECK(summary->layers == 2);
  CHECK(summary->partitionTemplates == 2);
  // Every layer has two all-reduces, each at least one 216-cycle hop on groq-8.
  CHECK(summary->decodeBoundCycles >= 2 * 2 * 216);
  CHECK(summary->decodeBoundTokensPerSecond ==
        Approx(std::round(900e6 / summary->decodeBoundCycles)));
  std::string text = readFile(output);
  CHECK(count(text, "func.func @stage") == 2);
  CHECK(count(text, "cv.graph.repeat 1(") == 2);
  // Embedding + (o-projection + MLP) in each stage's layer body.
  CHECK(count(text, "cv.graph.all_reduce") == 5);
  CHECK(count(text, "cv.graph.send") == 1);
  CHECK(count(text, "cv.graph.recv") == 1);
  fs::remove_all(dir);
}

TEST_CASE("a partitioned compile refuses what it cannot do, in one line", "[partition]") {
  fs::path dir = fs::temp_directory_path() / ("conveyor-partition-e-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string output = (dir / "tiny.sched").string();

  compile::CompileOptions schedule = tinyLlama(output);
  schedule.emit = compile::EmitKind::Chip; // H2: schedules are built (multichip-unit-tests)
  Result<compile::CompileSummary> refused = compile::compileModel(schedule);
  REQUIRE(!refused);
  CHECK(refused.error().find("pass --emit graph") != std::string::npos);

  compile::CompileOptions tooManyStages = tinyLlama(output);
  tooManyStages.pipelineStages = 3;
  Result<compile::CompileSummary> failed = compile::compileModel(tooManyStages);
  REQUIRE(!failed);
  CHECK(failed.error().find("3 pipeline stages but the model has 2 repeating layers") !=
        std::string::npos);
  CHECK(failed.error().find('\n') == std::string::npos);
  CHECK(!fs::exists(output));
  fs::remove_all(dir);
}
