// compileModel writing a multi-chip decode schedule (helper H2): the real-weight tiny Llama on
// groq-8 as tp 2 x 2 stages, checked by the fabric simulator and against the compiler's timing.
#include "CompilerTestSupport.h"

#include "conveyor/Compile/Compile.h"
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Sharding/LinkTiming.h"
#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/System/SystemConfig.h"
#include "conveyor/Target/ScheduleWriter.h"

#include <catch2/catch.hpp>

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

compile::CompileOptions tinyLlamaDecode(const std::string &output) {
  compile::CompileOptions options;
  options.onnxPath = sourcePath("models/tiny_llm/tiny-llama-kv/tiny-llama-kv.onnx");
  options.systemPath = sourcePath("systems/groq-8.yaml");
  options.outputPath = output;
  options.emit = compile::EmitKind::Schedule;
  options.tensorParallel = 2;
  options.pipelineStages = 2;
  options.kvBucket = 16;
  return options;
}

} // namespace

TEST_CASE("a partitioned compile writes decode programs the fabric simulator accepts",
          "[multichip]") {
  fs::path dir = fs::temp_directory_path() / ("conveyor-multichip-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string output = (dir / "tiny.sched").string();
  Result<compile::CompileSummary> summary = compile::compileModel(tinyLlamaDecode(output));
  REQUIRE(summary);
  CHECK(summary->kvLength == 16);
  CHECK(summary->decodeCycles > 0);
  CHECK(summary->decodeBoundCycles > 0);
  CHECK(summary->decodeBoundCycles < summary->decodeCycles); // a bound, never beaten

  Result<schedule::Schedule> written = schedule::readScheduleFile(output);
  REQUIRE(written);
  REQUIRE(written->programs_size() == 2);
  for (int s = 0; s < 2; ++s) {
    const schedule::Program &program = written->programs(s);
    CHECK(program.name() == "decode.stage" + std::to_string(s));
    CHECK(program.kind() == schedule::DECODE);
    CHECK(program.kv_length() == 16);
    CHECK(program.chip() == uint32_t(2 * s)); // chip = stage * tp + rank
    REQUIRE(program.instances_size() == 1);
    CHECK(program.instances(0).chip() == uint32_t(2 * s + 1));
    REQUIRE(program.repeats_size() == 1);
    CHECK(program.repeats(0).iterations() == 1); // one layer per stage
    CHECK(program.instructions(0).opcode() == schedule::SYNC);
  }
  // Stage 1 starts with the receive of stage 0's activation.
  CHECK(written->programs(1).instructions(1).opcode() == schedule::C2C_RECV);

  Result<system::SystemConfig> system = system::loadSystemConfig(sourcePath("systems/groq-8.yaml"));
  REQUIRE(system);
  Result<sim::FabricReport> report = sim::simulateFabric(*written, *system);
  REQUIRE(report);
  CHECK(report->runs.size() == 4); // two programs on two chips each
  CHECK(report->transfers > 0);
  CHECK(report->endCycle >= summary->decodeCycles);
  for (const sim::ChipRun &run : report->runs) {
    CHECK(run.syncs >= 2); // program start + every layer iteration
  }
  // The last stage ends where the compiler scheduled it.
  CHECK(report->runs.back().endCycle == summary->decodeCycles);

  // A link slot shorter than the serialisation is caught: the simulator really checks.
  schedule::Schedule broken = *written;
  for (schedule::Instruction &inst : *broken.mutable_programs(0)->mutable_instructions()) {
    if (inst.opcode() == schedule::C2C_SEND) {
      inst.set_slot_cycles(1);
      break;
    }
  }
  Result<sim::FabricReport> rejected = sim::simulateFabric(broken, *system);
  REQUIRE(!rejected);
  CHECK(rejected.error().find("shorter than") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a partitioned chip-text compile is refused in one line", "[multichip]") {
  compile::CompileOptions chipText = tinyLlamaDecode("-");
  chipText.emit = compile::EmitKind::Chip;
  Result<compile::CompileSummary> refused = compile::compileModel(chipText);
  REQUIRE(!refused);
  CHECK(refused.error().find("pass --emit graph") != std::string::npos);
  CHECK(refused.error().find('\n') == std::string::npos);
}

// The compile times multi-chip schedules with compiler code only

TEST_CASE("the schedule writer returns the compiler's cost of every instruction, in program "
          "order", "[multichip][writer]") {
  // Op order differs from issue order (the second mem_write issues late), so a table kept in
  // op order instead of the sorted program order would name the wrong unit somewhere.
  auto context = compiler::test::makeContext();
  auto module = compiler::test::parse(*context, compiler::test::kOutOfOrderIssueModule);
  REQUIRE(
      mlir::succeeded(compiler::test::runPipeline(*module, compiler::test::placeAndSchedule())));
  system::SystemConfig config = compiler::test::loadGroq1();
  std::vector<chip::InstructionCost> costs;
  auto built = target::buildSchedule(*module, config, &costs);
  REQUIRE(mlir::succeeded(built));
  const schedule::Program &program = built->programs(0);
  REQUIRE(costs.size() == size_t(program.instructions_size()));

  const chip::ChipCostModel model(config.chip);
  uint64_t end = 0;
  for (int i = 0; i < program.instructions_size(); ++i) {
    const schedule::Instruction &inst = program.instructions(i);
    const chip::InstructionCost &cost = costs[size_t(i)];
    INFO("instruction " << i << " " << schedule::opcodeName(inst.opcode()));
    CHECK(std::string(schedule::unitName(inst.unit())) == chip::unitName(cost.unit));
    CHECK(cost.occupancy > 0);
    CHECK(cost.duration >= cost.occupancy);
    end = std::max(end, inst.issue_cycle() + cost.duration);
    if (inst.opcode() == schedule::MEM_COPY) {
      CHECK(cost.duration == model.memCopy(8 * 32 * 4).duration);
    }
  }
  // The program ends when its last result lands: the table and the writer agree.
  CHECK(end == program.compiler_cycles());
}

TEST_CASE("C2C link timing follows the system description", "[multichip][sharding]") {
  Result<system::SystemConfig> system = system::loadSystemConfig(compiler::test::sourcePath(
      "systems/groq-8.yaml"));
  REQUIRE(system);
  // 4 lanes x 30 Gb/s at 900 MHz = 16.67 bytes per cycle: one 320-byte vector takes 20.
  CHECK(sharding::linkSerialisationCycles(system->chip, 320) == 20);
  CHECK(sharding::linkSerialisationCycles(system->chip, 1) == 1);
  CHECK(sharding::linkSerialisationCycles(system->chip, 0) == 1); // a slot is never empty
  CHECK(sharding::linkFlightCycles(system->chip, 3) == 3 * system->chip.c2c.latencyCycles);
  // 50 ppm: 32 cycles of slack last 640,000 cycles after a SYNC.
  CHECK(sharding::driftPartsPerBillion(system->fabric) == 50000);
  CHECK(sharding::cyclesWithinDriftSlack(system->fabric, 32) == 640000);
  system::FabricConfig noDrift = system->fabric;
  noDrift.clockDriftPpm = 0;
  CHECK(sharding::cyclesWithinDriftSlack(noDrift, 32) == UINT64_MAX);
}

TEST_CASE("multi-chip transfers are timed by the compiler's link model", "[multichip]") {
  fs::path dir = fs::temp_directory_path() / ("conveyor-multichip-h3-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string output = (dir / "tiny.sched").string();
  Result<compile::CompileSummary> summary = compile::compileModel(tinyLlamaDecode(output));
  REQUIRE(summary);
  Result<schedule::Schedule> written = schedule::readScheduleFile(output);
  REQUIRE(written);
  Result<system::SystemConfig> system = system::loadSystemConfig(sourcePath("systems/groq-8.yaml"));
  REQUIRE(system);
  size_t sends = 0;
  for (const schedule::Program &program : written->programs()) {
    for (const schedule::Instruction &inst : program.instructions()) {
      if (inst.opcode() != schedule::C2C_SEND) {
        continue;
      }
      ++sends;
      uint64_t bytes = 0;
      for (const schedule::Buffer &buffer : written->buffers()) {
        if (buffer.id() == inst.operands(0)) {
          bytes = buffer.size_bytes();
        }
      }
      REQUIRE(bytes > 0);
      CHECK(inst.slot_start_cycle() >= inst.issue_cycle());
      CHECK(inst.slot_cycles() >= sharding::linkSerialisationCycles(system->chip, bytes));
      // Inside a node every send uses the node-local port towards its peer.
      CHECK(inst.link() == schedule::nodeLocalPort(program.chip(), inst.peer_chip(),
                                                   system->fabric.chipsPerNode));
    }
  }
  CHECK(sends > 0);
  fs::remove_all(dir);
}

TEST_CASE("SYNCs placed inside a layer keep every transfer within the drift slack, and are "
          "needed", "[multichip][drift]") {
  // groq-8 with its clocks 400 times worse (20,000 ppm): a chip may run only
  // 32 x 1e9 / 2e7 = 1,600 cycles after a SYNC before a transfer, less than one layer of the
  // tiny Llama, so the compile must place SYNCs inside the layer body.
  fs::path dir =
      fs::temp_directory_path() / ("conveyor-multichip-drift-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string yaml;
  {
    std::ifstream in(sourcePath("systems/groq-8.yaml"));
    std::stringstream text;
    text << in.rdbuf();
    yaml = text.str();
  }
  const std::string from = "clock_drift_ppm: 50";
  REQUIRE(yaml.find(from) != std::string::npos);
  yaml.replace(yaml.find(from), from.size(), "clock_drift_ppm: 20000");
  const std::string systemPath = (dir / "groq-8-drifty.yaml").string();
  std::ofstream(systemPath) << yaml;
  Result<system::SystemConfig> system = system::loadSystemConfig(systemPath);
  REQUIRE(system);
  REQUIRE(sharding::cyclesWithinDriftSlack(system->fabric, 32) == 1600);

  compile::CompileOptions options = tinyLlamaDecode((dir / "tiny.sched").string());
  options.systemPath = systemPath;
  Result<compile::CompileSummary> summary = compile::compileModel(options);
  REQUIRE(summary);
  Result<schedule::Schedule> written = schedule::readScheduleFile(options.outputPath);
  REQUIRE(written);

  // Inner SYNCs: neither a program's first instruction nor an iteration's first.
  auto innerSyncs = [](const schedule::Program &program) {
    std::vector<int> at;
    for (int i = 1; i < program.instructions_size(); ++i) {
      const bool iterationStart = program.repeats_size() > 0 && program.repeats(0).first() == uint32_t(i);
      if (program.instructions(i).opcode() == schedule::SYNC && !iterationStart) {
        at.push_back(i);
      }
    }
    return at;
  };
  size_t placed = 0;
  for (const schedule::Program &program : written->programs()) {
    placed += innerSyncs(program).size();
  }
  CHECK(placed > 0);
  Result<sim::FabricReport> report = sim::simulateFabric(*written, *system);
  REQUIRE(report);
  CHECK(report->runs.back().endCycle == summary->decodeCycles);

  // Without them the simulator rejects the program: they are needed, not decoration.
  schedule::Schedule stripped = *written;
  for (schedule::Program &program : *stripped.mutable_programs()) {
    std::vector<int> at = innerSyncs(program);
    for (auto it = at.rbegin(); it != at.rend(); ++it) {
      auto *instructions = program.mutable_instructions();
      instructions->erase(instructions->begin() + *it);
      for (schedule::Repeat &block : *program.mutable_repeats()) {
        if (uint32_t(*it) < block.first()) {
          block.set_first(block.first() - 1);
        } else if (uint32_t(*it) < block.first() + block.count()) {
          block.set_count(block.count() - 1);
        }
      }
    }
  }
  Result<sim::FabricReport> rejected = sim::simulateFabric(stripped, *system);
  REQUIRE(!rejected);
  CHECK(rejected.error().find("sync missing under drift") != std::string::npos);
  fs::remove_all(dir);
}
