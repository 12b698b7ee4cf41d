// buildSchedule: buffers, ids, aliases, kinds, weight data, instruction order and header.
#include "CompilerTestSupport.h"

#include "conveyor/Dialect/Chip/ChipScheduling.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Target/ScheduleWriter.h"

#include <cstring>
#include <map>
#include <set>
#include <sstream>

using namespace conveyor;
using conveyor::compiler::test::findOp;
namespace pb = conveyor::schedule;

namespace {

/// A dense literal of `count` floats 0.5 * i - 3 (non-splat, so data order is visible).
std::string rampLiteral(int rows, int cols) {
  std::ostringstream text;
  text << "dense<[";
  for (int r = 0; r < rows; ++r) {
    text << (r ? ", [" : "[");
    for (int c = 0; c < cols; ++c) {
      text << (c ? ", " : "") << std::to_string(0.5 * (r * cols + c) - 3);
    }
    text << "]";
  }
  text << "]>";
  return text.str();
}

std::string writerModel() {
  return R"mlir(module attributes {cv.model_name = "writer-test"} {
    func.func @main(%x: tensor<1x8x64xf32> {cv.name = "x"}) -> (tensor<8x64xf32> {cv.name = "y"}, tensor<1x8x16xf32> {cv.name = "z"}) {
      %w = cv.graph.constant {name = "w"} )mlir" +
         rampLiteral(64, 16) + R"mlir( : tensor<64x16xf32> : tensor<64x16xf32>
      %b = cv.graph.constant {name = "b"} dense<2.0> : tensor<16xf32> : tensor<16xf32>
      %m = cv.graph.matmul %x, %w : (tensor<1x8x64xf32>, tensor<64x16xf32>) -> tensor<1x8x16xf32>
      %a = cv.graph.add %m, %b : (tensor<1x8x16xf32>, tensor<16xf32>) -> tensor<1x8x16xf32>
      %g = cv.graph.gelu %x {approximate = "tanh"} : tensor<1x8x64xf32>
      %r = cv.graph.reshape %g : tensor<1x8x64xf32> -> tensor<512xf32>
      %y = cv.graph.reshape %r : tensor<512xf32> -> tensor<8x64xf32>
      return %y, %a : tensor<8x64xf32>, tensor<1x8x16xf32>
    }
  })mlir";
}

std::string fullPipeline() {
  std::string system = compiler::test::groq1Path();
  return "convert-graph-to-chip,conveyor-allocate-sram{system=" + system +
         "},conveyor-schedule{system=" + system + "}";
}

const pb::Buffer &bufferNamed(const pb::Schedule &schedule, const std::string &name) {
  for (const pb::Buffer &buffer : schedule.buffers()) {
    if (buffer.name() == name) {
      return buffer;
    }
  }
  FAIL("no buffer named " << name);
  return schedule.buffers(0);
}

} // namespace

TEST_CASE("a lowered, placed and scheduled module becomes a schedule", "[writer]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, writerModel());
  REQUIRE(mlir::succeeded(compiler::test::runPipeline(*module, fullPipeline())));
  (*module)->setAttr(target::kSourcePathAttr,
                     mlir::Builder(context.get()).getStringAttr("models/writer.onnx"));
  system::SystemConfig config = compiler::test::loadGroq1();

  compiler::test::DiagnosticLog log(*context);
  auto built = target::buildSchedule(*module, config);
  INFO(log.all());
  REQUIRE(mlir::succeeded(built));
  const pb::Schedule &schedule = *built;

  SECTION("header") {
    CHECK(schedule.magic() == pb::kMagic);
    CHECK(schedule.version() == pb::kVersion);
    CHECK_THAT(schedule.compiler_version(), Catch::StartsWith("conveyor 0."));
    CHECK(schedule.system().name() == "groq-1");
    CHECK(schedule.system().fingerprint() == system::fingerprint(config));
    CHECK(schedule.system().canonical_text() == system::canonicalText(config));
    CHECK(schedule.system().chips() == 1);
    CHECK(schedule.model_name() == "writer-test");
    CHECK(schedule.source_path() == "models/writer.onnx");
  }

  SECTION("buffers: ids, kinds, names, places") {
    // x, w, b, matmul, add, gelu and two views; mem_read results are host-side.
    REQUIRE(schedule.buffers_size() == 8);
    std::set<uint32_t> ids;
    for (const pb::Buffer &buffer : schedule.buffers()) {
      CHECK(buffer.id() > 0);
      ids.insert(buffer.id());
      CHECK(buffer.chip() == 0);
      CHECK(buffer.dtype() == pb::F32);
    }
    CHECK(ids.size() == 8);
    CHECK(*ids.rbegin() == 8);

    const pb::Buffer &x = bufferNamed(schedule, "x");
    CHECK(x.kind() == pb::INPUT);
    CHECK(std::vector<int64_t>(x.shape().begin(), x.shape().end()) ==
          std::vector<int64_t>{1, 8, 64});
    CHECK(x.size_bytes() == 2048);
    CHECK(x.data().empty());
    CHECK(x.address() == static_cast<uint64_t>(findOp<chip::MemWriteOp>(*module)
                                                   ->getAttrOfType<mlir::IntegerAttr>("sram_addr")
                                                   .getInt()));

    const pb::Buffer &w = bufferNamed(schedule, "w");
    CHECK(w.kind() == pb::WEIGHT);
    REQUIRE(w.data().size() == 64 * 16 * 4);
    // Little-endian row-major: element (r, c) = 0.5 * (16 r + c) - 3.
    for (int index : {0, 1, 17, 1023}) {
      float value;
      std::memcpy(&value, w.data().data() + 4 * index, 4);
      CHECK(value == Approx(0.5 * index - 3));
    }
    const pb::Buffer &b = bufferNamed(schedule, "b");
    CHECK(b.kind() == pb::WEIGHT);
    REQUIRE(b.data().size() == 64); // a splat is written out element by element
    float last;
    std::memcpy(&last, b.data().data() + 60, 4);
    CHECK(last == 2.0f);

    // y is a view of a view of gelu(x): it aliases the storage owner, never a view.
    const pb::Buffer &y = bufferNamed(schedule, "y");
    CHECK(y.kind() == pb::OUTPUT);
    REQUIRE(y.alias_of() != 0);
    const pb::Buffer *root = nullptr;
    int views = 0;
    for (const pb::Buffer &buffer : schedule.buffers()) {
      if (buffer.id() == y.alias_of()) {
        root = &buffer;
      }
      if (buffer.alias_of() != 0) {
        ++views;
        CHECK(buffer.alias_of() == y.alias_of());
        CHECK(buffer.address() == y.address());
      }
    }
    CHECK(views == 2);
    REQUIRE(root);
    CHECK(root->kind() == pb::ACTIVATION);
    CHECK(root->alias_of() == 0);
    CHECK(root->address() == y.address());

    CHECK(bufferNamed(schedule, "z").kind() == pb::OUTPUT);

    // Storage owners never overlap and stay inside the chip.
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const pb::Buffer &buffer : schedule.buffers()) {
      CHECK(buffer.address() + buffer.size_bytes() <= config.chip.sramBytes());
      if (buffer.alias_of() == 0) {
        ranges.emplace_back(buffer.address(), buffer.address() + buffer.size_bytes());
      }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      CHECK(ranges[i].first >= ranges[i - 1].second);
    }
  }

  SECTION("program and instructions") {
    REQUIRE(schedule.programs_size() == 1);
    const pb::Program &program = schedule.programs(0);
    CHECK(program.name() == "forward");
    CHECK(program.kind() == pb::FORWARD);
    CHECK(program.chip() == 0);
    CHECK(program.tokens_per_step() == 8); // [1, 8, 64]: 8 token positions
    auto func = findOp<mlir::func::FuncOp>(*module);
    CHECK(program.compiler_cycles() ==
          static_cast<uint64_t>(
              func->getAttrOfType<mlir::IntegerAttr>(chip::kEndCycleAttr).getInt()));

    REQUIRE(program.instructions_size() == 6);
    std::map<pb::Opcode, const pb::Instruction *> byOpcode;
    for (int i = 0; i < program.instructions_size(); ++i) {
      const pb::Instruction &instruction = program.instructions(i);
      if (i > 0) {
        CHECK(program.instructions(i - 1).issue_cycle() <= instruction.issue_cycle());
      }
      CHECK(instruction.queue() == 0);
      byOpcode[instruction.opcode()] = &instruction;
    }
    uint32_t x = bufferNamed(schedule, "x").id(), w = bufferNamed(schedule, "w").id();
    const pb::Instruction *write = byOpcode[pb::MEM_WRITE];
    REQUIRE(write);
    CHECK(write->unit() == pb::MEM);
    CHECK(write->operands_size() == 0);
    REQUIRE(write->results_size() == 1);
    CHECK(write->results(0) == x);
    CHECK(write->issue_cycle() == 0);

    const pb::Instruction *matmul = byOpcode[pb::MXM_MATMUL];
    REQUIRE(matmul);
    CHECK(matmul->unit() == pb::MXM);
    REQUIRE(matmul->operands_size() == 2);
    CHECK(matmul->operands(0) == x);
    CHECK(matmul->operands(1) == w);
    // x arrives at 900 + H(2048) = 959; the product installs its one tile set (1 cycle of
    // weights) before it needs x.
    CHECK(matmul->issue_cycle() == 958);

    REQUIRE(byOpcode[pb::VXM_BINARY]);
    CHECK(byOpcode[pb::VXM_BINARY]->kind() == pb::ADD);
    REQUIRE(byOpcode[pb::VXM_UNARY]);
    CHECK(byOpcode[pb::VXM_UNARY]->kind() == pb::GELU_TANH);
    CHECK(byOpcode[pb::VXM_UNARY]->operands(0) == x);

    int reads = 0;
    for (const pb::Instruction &instruction : program.instructions()) {
      if (instruction.opcode() == pb::MEM_READ) {
        ++reads;
        CHECK(instruction.results_size() == 0);
        REQUIRE(instruction.operands_size() == 1);
        uint32_t operand = instruction.operands(0);
        CHECK((operand == bufferNamed(schedule, "y").id() ||
               operand == bufferNamed(schedule, "z").id()));
      }
    }
    CHECK(reads == 2);
  }

  SECTION("the file format's own structural checks accept it") {
    std::string bytes;
    REQUIRE(schedule.SerializeToString(&bytes));
    Result<pb::Schedule> parsed = pb::parseSchedule(bytes, "writer-test.sched");
    INFO((parsed.ok() ? std::string() : parsed.error()));
    CHECK(parsed.ok());
  }
}

TEST_CASE("instructions are sorted by issue cycle, program order breaking ties", "[writer]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, compiler::test::kOutOfOrderIssueModule);
  REQUIRE(
      mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
  auto built = target::buildSchedule(*module, compiler::test::loadGroq1());
  REQUIRE(mlir::succeeded(built));
  std::vector<std::pair<uint64_t, pb::Opcode>> order;
  for (const pb::Instruction &instruction : built->programs(0).instructions()) {
    order.emplace_back(instruction.issue_cycle(), instruction.opcode());
  }
  // write a and add both issue at 0 (a first in program order); the add overtakes write b.
  std::vector<std::pair<uint64_t, pb::Opcode>> expected = {
      {0, pb::MEM_WRITE},     {0, pb::VXM_BINARY},   {4, pb::VXM_BINARY}, {59, pb::MEM_WRITE},
      {89, pb::VXM_UNARY},    {178, pb::VXM_BINARY}, {267, pb::MEM_COPY}, {340, pb::MEM_READ},
      {1018, pb::MXM_MATMUL}, {1113, pb::MEM_READ}};
  CHECK(order == expected);
  CHECK(built->programs(0).compiler_cycles() == 2090);
  // No input name: the buffer keeps the mem_write's name; activations get their op's.
  CHECK(bufferNamed(*built, "a").kind() == pb::INPUT);
  CHECK(bufferNamed(*built, "o1").kind() == pb::OUTPUT);
}

TEST_CASE("the writer refuses modules that are not placed and scheduled", "[writer]") {
  auto context = compiler::test::makeContext();
  const char *text = R"mlir(module {
    func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
      %w = cv.chip.weight "w" {value = dense<1.0> : tensor<4xf32>} : tensor<4xf32>
      %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
      %s = cv.chip.vxm_binary "add" %x, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %r = cv.chip.mem_read %s, "y" : tensor<4xf32>
      return %r : tensor<4xf32>
    }
  })mlir";
  auto module = compiler::test::parse(*context, text);
  std::string system = compiler::test::groq1Path();
  system::SystemConfig config = compiler::test::loadGroq1();
  compiler::test::DiagnosticLog log(*context);

  SECTION("no issue cycles") {
    REQUIRE(mlir::succeeded(
        compiler::test::runPipeline(*module, "conveyor-allocate-sram{system=" + system + "}")));
    CHECK(mlir::failed(target::buildSchedule(*module, config)));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0] == "'cv.chip.mem_write' op has no 'issue' cycle; run conveyor-schedule "
                           "first");
  }
  SECTION("no SRAM addresses") {
    REQUIRE(mlir::succeeded(
        compiler::test::runPipeline(*module, "conveyor-schedule{system=" + system + "}")));
    CHECK(mlir::failed(target::buildSchedule(*module, config)));
    REQUIRE(log.errors.size() == 1);
    CHECK(log.errors[0] == "'cv.chip.weight' op has no 'sram_addr'; run conveyor-allocate-sram "
                           "first");
  }
  SECTION("a hand-broken issue cycle") {
    REQUIRE(
        mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
    auto add = findOp<chip::BinaryOp>(*module);
    add->setAttr("issue", mlir::Builder(context.get()).getI64IntegerAttr(3));
    CHECK(mlir::failed(target::buildSchedule(*module, config)));
    REQUIRE(log.errors.size() == 1);
    CHECK_THAT(log.errors[0], Catch::Contains("data read before ready"));
  }
  SECTION("an address past the end of SRAM") {
    REQUIRE(
        mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
    findOp<chip::WeightOp>(*module)->setAttr(
        "sram_addr", mlir::Builder(context.get())
                         .getI64IntegerAttr(static_cast<int64_t>(config.chip.sramBytes()) - 8));
    CHECK(mlir::failed(target::buildSchedule(*module, config)));
    REQUIRE(log.errors.size() == 1);
    CHECK_THAT(log.errors[0], Catch::Contains("is outside the 230686720 bytes of SRAM"));
  }
  SECTION("no @main") {
    auto other = compiler::test::parse(*context, "func.func @other() { return }");
    CHECK(mlir::failed(target::buildSchedule(*other, config)));
    REQUIRE(log.errors.size() == 1);
    CHECK_THAT(log.errors[0], Catch::Contains("has no func.func @main"));
  }
}

TEST_CASE("an output read straight from an input needs its own buffer", "[writer]") {
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, R"mlir(
    func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
      %x = cv.chip.mem_write %a, "a" : tensor<4xf32>
      %r = cv.chip.mem_read %x, "y" : tensor<4xf32>
      return %r : tensor<4xf32>
    })mlir");
  REQUIRE(
      mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
  compiler::test::DiagnosticLog log(*context);
  CHECK(mlir::failed(target::buildSchedule(*module, compiler::test::loadGroq1())));
  REQUIRE(log.errors.size() == 1);
  CHECK(log.errors[0] == "'cv.chip.mem_write' op result is read back as output 'y' directly; "
                         "copy it into its own buffer with cv.chip.mem_copy "
                         "(convert-graph-to-chip does)");
}
