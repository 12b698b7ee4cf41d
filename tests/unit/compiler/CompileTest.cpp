// compileModel end to end on models/tiny/tiny-block.onnx, and its one-line errors.
#include "CompilerTestSupport.h"

#include "conveyor/Compile/Compile.h"
#include "conveyor/Schedule/ScheduleFormat.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace conveyor;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system temp dir, removed when the test ends.
class TempDir {
public:
  TempDir() {
    path = fs::temp_directory_path() /
           ("conveyor-compile-test-" + std::to_string(::getpid()) + "-" + std::to_string(next++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string &name) const { return (path / name).string(); }

private:
  fs::path path;
  static inline int next = 0;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tinyBlock() { return compiler::test::sourcePath("models/tiny/tiny-block.onnx"); }

} // namespace

TEST_CASE("compileModel writes a schedule for tiny-block on groq-1", "[compile]") {
  TempDir dir;
  compile::CompileOptions options;
  options.onnxPath = tinyBlock();
  options.systemPath = compiler::test::groq1Path();
  options.outputPath = dir.file("tiny-block.sched");
  Result<compile::CompileSummary> summary = compile::compileModel(options);
  INFO((summary.ok() ? std::string() : summary.error()));
  REQUIRE(summary.ok());

  Result<schedule::Schedule> read = schedule::readScheduleFile(options.outputPath);
  INFO((read.ok() ? std::string() : read.error()));
  REQUIRE(read.ok());
  REQUIRE(read->programs_size() == 1);
  const schedule::Program &program = read->programs(0);

  CHECK(summary->systemName == "groq-1");
  CHECK_FALSE(summary->modelName.empty());
  CHECK(read->model_name() == summary->modelName);
  CHECK(read->source_path() == options.onnxPath);
  CHECK(summary->instructions == static_cast<uint64_t>(program.instructions_size()));
  CHECK(summary->endCycle == program.compiler_cycles());
  CHECK(summary->tokensPerStep == 8);
  CHECK(program.tokens_per_step() == 8);
  CHECK(summary->sramBytesCapacity == 230686720);
  CHECK(summary->seconds > 0);

  // Every weight byte is in the file, and the allocation holds every buffer.
  uint64_t weightBytes = 0, highest = 0;
  for (const schedule::Buffer &buffer : read->buffers()) {
    if (buffer.kind() == schedule::WEIGHT) {
      weightBytes += buffer.size_bytes();
      CHECK(buffer.data().size() == buffer.size_bytes());
    }
    highest = std::max<uint64_t>(highest, buffer.address() + buffer.size_bytes());
  }
  CHECK(summary->weightBytes == weightBytes);
  CHECK(weightBytes > 64 * 64 * 4 * 4); // four 64x64 projections at least
  CHECK(summary->sramBytesUsed == highest);

  // The end cycle is the last instruction's completion: at least its issue.
  REQUIRE(program.instructions_size() > 0);
  CHECK(program.compiler_cycles() >
        program.instructions(program.instructions_size() - 1).issue_cycle());
  CHECK(program.instructions(0).opcode() == schedule::MEM_WRITE);
}

TEST_CASE("compileModel emits graph and chip text", "[compile]") {
  TempDir dir;
  compile::CompileOptions options;
  options.onnxPath = tinyBlock();
  options.systemPath = compiler::test::groq1Path();

  options.emit = compile::EmitKind::Graph;
  options.outputPath = dir.file("tiny.graph.mlir");
  REQUIRE(compile::compileModel(options).ok());
  std::string graph = readFile(options.outputPath);
  CHECK(graph.find("cv.graph.matmul") != std::string::npos);
  CHECK(graph.find("cv.chip.") == std::string::npos);

  options.emit = compile::EmitKind::Chip;
  options.outputPath = dir.file("tiny.chip.mlir");
  Result<compile::CompileSummary> chip = compile::compileModel(options);
  REQUIRE(chip.ok());
  std::string text = readFile(options.outputPath);
  CHECK(text.find("cv.chip.mxm_matmul") != std::string::npos);
  CHECK(text.find("cv.chip.vxm_softmax") != std::string::npos);
  CHECK(text.find("issue = ") != std::string::npos);
  CHECK(text.find("cv.end_cycle = " + std::to_string(chip->endCycle)) != std::string::npos);
  CHECK(text.find("cv.graph.") == std::string::npos);
}

TEST_CASE("compileModel fails with one line and writes nothing", "[compile]") {
  TempDir dir;
  compile::CompileOptions options;
  options.onnxPath = tinyBlock();
  options.systemPath = compiler::test::groq1Path();
  options.outputPath = dir.file("out.sched");
  auto expectError = [&](const std::string &fragment) {
    Result<compile::CompileSummary> result = compile::compileModel(options);
    REQUIRE_FALSE(result.ok());
    INFO(result.error());
    CHECK(result.error().find('\n') == std::string::npos);
    CHECK_THAT(result.error(), Catch::Contains(fragment));
    CHECK_FALSE(fs::exists(options.outputPath));
    return result.error();
  };

  SECTION("the model does not fit in SRAM") {
    options.systemPath = compiler::test::sourcePath("tests/lit/Inputs/tiny-sram.yaml");
    std::string error = expectError("bytes of SRAM, chip 'tiny-sram-chip' has 4096; use a "
                                    "system with more SRAM or more chips");
    CHECK_THAT(error, Catch::StartsWith(options.onnxPath));
    CHECK_THAT(error, Catch::Contains(": error: model '"));
  }
  SECTION("no such model file") {
    options.onnxPath = dir.file("missing.onnx");
    expectError("missing.onnx");
  }
  SECTION("not an ONNX file") {
    options.onnxPath = compiler::test::groq1Path();
    expectError("groq-1.yaml");
  }
  SECTION("no such system file") {
    options.systemPath = dir.file("missing.yaml");
    expectError("missing.yaml");
  }
  SECTION("no system at all") {
    options.systemPath.clear();
    expectError("--system");
  }
  SECTION("a binary schedule to stdout") {
    options.outputPath = "-";
    expectError("cannot go to stdout");
  }
  SECTION("no output path") {
    options.outputPath.clear();
    expectError("no output path");
  }
}
