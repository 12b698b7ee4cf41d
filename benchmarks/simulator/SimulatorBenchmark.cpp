// Speed of the simulator: simulated instructions per second in timing mode on long synthetic
// programs for the shipped groq-1 chip, the cost of each stage, and functional mode on the
// tiny model's MLP block with its real test input.
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/BufferTable.h"
#include "conveyor/Simulator/EnergyModel.h"
#include "conveyor/Simulator/FabricSimulator.h"
#include "conveyor/Simulator/HardwareModel.h"
#include "conveyor/Simulator/InstructionCost.h"
#include "conveyor/Simulator/ScheduleChecker.h"
#include "conveyor/Simulator/Simulator.h"
#include "conveyor/Support/HugePages.h"
#include "conveyor/System/SystemConfig.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <google/protobuf/arena.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include <unistd.h>

using namespace conveyor;

namespace {

template <typename T> T orDie(Result<T> result, const char *what) {
  if (!result) {
    std::cerr << "simulator-benchmarks: " << what << ": " << result.error() << "\n";
    std::exit(1);
  }
  return std::move(*result);
}

const system::SystemConfig &groq1() {
  static const system::SystemConfig config =
      orDie(system::loadSystemConfig(CONVEYOR_SOURCE_DIR "/systems/groq-1.yaml"), "groq-1.yaml");
  return config;
}

/// Builds a one-chip schedule for `system` whose issue cycles are the earliest legal ones:
/// each instruction issues when its unit is free, its operands are ready and the previous
/// instruction has issued (so the program stays sorted). Durations come from the
/// simulator's own cost function, so the program passes the checker by construction.
class EarliestScheduleBuilder {
public:
  struct Op {
    schedule::Opcode opcode;
    std::vector<uint32_t> operands, results;
    schedule::ElementwiseKind kind = schedule::ELEMENTWISE_UNSPECIFIED;
    int64_t axis = 0;
    bool transpose = false;
    std::string location;
  };

  explicit EarliestScheduleBuilder(const system::SystemConfig &system) : system(system) {
    s.set_magic(schedule::kMagic);
    s.set_version(schedule::kVersion);
    s.set_compiler_version("simulator-benchmarks");
    s.set_model_name("synthetic");
    s.mutable_system()->set_name(system.name);
    s.mutable_system()->set_fingerprint(system::fingerprint(system));
    s.mutable_system()->set_chips(system.fabric.chips);
  }

  uint32_t buffer(std::string name, schedule::BufferKind kind, std::vector<int64_t> shape,
                  schedule::DType dtype, const std::vector<float> &data = {}) {
    schedule::Buffer *b = s.add_buffers();
    b->set_id(uint32_t(s.buffers_size()));
    b->set_name(std::move(name));
    b->set_kind(kind);
    b->set_dtype(dtype);
    uint64_t elements = 1;
    for (int64_t dim : shape) {
      b->add_shape(dim);
      elements *= uint64_t(dim);
    }
    const uint64_t bytes = (elements * sim::dtypeBits(dtype) + 7) / 8;
    // Half-vector slots: a [1x64] fp16 tensor (128 B) per slot, two per 320-byte vector, so
    // 10^6 instructions' tensors fit groq-1's SRAM. The layer below reads no two tensors of
    // one vector together, so no MEM slice port is asked for two vectors in one cycle (the
    // simulator's MEM port rule).
    const uint64_t slot = std::max<uint64_t>(system.chip.vectorBytes / 2, 1);
    b->set_address(nextAddress);
    b->set_size_bytes(bytes);
    nextAddress += (bytes + slot - 1) / slot * slot;
    if (!data.empty()) {
      b->set_data(std::string(reinterpret_cast<const char *>(data.data()), data.size() * 4));
    }
    return b->id();
  }

  void add(Op op) { ops.push_back(std::move(op)); }

  /// Appends the ops as one program with earliest legal issue cycles.
  schedule::Schedule finish(const std::string &programName, uint64_t tokens) {
    const sim::HardwareModel model = orDie(sim::buildHardwareModel(system), "hardware model");
    const sim::BufferTable buffers(s, model.vectorBytes);
    schedule::Program *program = s.add_programs();
    program->set_name(programName);
    program->set_kind(schedule::FORWARD);
    program->set_chip(0);
    program->set_tokens_per_step(tokens);
    std::vector<uint64_t> readyAt(size_t(s.buffers_size()) + 1, 0);
    std::array<uint64_t, sim::kReportedUnits.size()> unitFree{};
    uint64_t issue = 0, end = 0;
    for (Op &op : ops) {
      schedule::Instruction *inst = program->add_instructions();
      inst->set_opcode(op.opcode);
      inst->set_unit(unitOf(op.opcode));
      inst->set_kind(op.kind);
      inst->set_axis(op.axis);
      inst->set_location(std::move(op.location));
      if (op.transpose) {
        inst->add_perm(1);
        inst->add_perm(0);
      }
      const size_t slot = sim::unitSlot(inst->unit());
      issue = std::max(issue, unitFree[slot]);
      for (uint32_t id : op.operands) {
        inst->add_operands(id);
        issue = std::max(issue, readyAt[id]);
      }
      for (uint32_t id : op.results) {
        inst->add_results(id);
      }
      const sim::InstructionCost cost =
          orDie(sim::instructionCost(model, buffers, *inst), "instruction cost");
      inst->set_issue_cycle(issue);
      unitFree[slot] = issue + cost.occupancy;
      for (uint32_t id : op.results) {
        readyAt[id] = issue + cost.duration;
      }
      end = std::max(end, issue + cost.duration);
    }
    program->set_compiler_cycles(end);
    ops.clear();
    return s;
  }

private:
  static schedule::Unit unitOf(schedule::Opcode opcode) {
    switch (opcode) {
    case schedule::MEM_WRITE:
    case schedule::MEM_READ:
    case schedule::MEM_COPY:
      return schedule::MEM;
    case schedule::MXM_MATMUL:
      return schedule::MXM;
    case schedule::VXM_BINARY:
    case schedule::VXM_UNARY:
    case schedule::VXM_SOFTMAX:
      return schedule::VXM;
    case schedule::SXM_TRANSPOSE:
      return schedule::SXM;
    case schedule::OPCODE_UNSPECIFIED:
    case schedule::Opcode_INT_MIN_SENTINEL_DO_NOT_USE_:
    case schedule::Opcode_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
    }
    return schedule::UNIT_UNSPECIFIED;
  }

  const system::SystemConfig &system;
  schedule::Schedule s;
  std::vector<Op> ops;
  uint64_t nextAddress = 0;
};

constexpr uint64_t kInstructionsPerLayer = 8;
constexpr int64_t kWidth = 64;
constexpr int kSharedWeights = 4;

/// A chain of `layers` layers of 8 instructions on all four units (MXM matmul, VXM gelu, add,
/// mul and softmax, SXM transposes, MEM copy), between a MEM_WRITE and a MEM_READ. Every
/// tensor is a [1x64] or [64x1] fp16 vector (128 B), so 10^6 instructions fit groq-1's SRAM;
/// the four weights have no data (timing only).
schedule::Schedule syntheticProgram(uint64_t layers) {
  using B = EarliestScheduleBuilder;
  B b(groq1());
  const schedule::DType f16 = schedule::F16;
  std::array<uint32_t, kSharedWeights> weights{};
  for (int i = 0; i < kSharedWeights; ++i) {
    weights[i] = b.buffer(fmt::format("w{}", i), schedule::WEIGHT, {kWidth, kWidth}, f16);
  }
  uint32_t a = b.buffer("x", schedule::INPUT, {1, kWidth}, f16);
  b.add({schedule::MEM_WRITE, {}, {a}, {}, 0, false, "x_in"});
  for (uint64_t l = 0; l < layers; ++l) {
    auto activation = [&](const char *name, std::vector<int64_t> shape) {
      return b.buffer(fmt::format("l{}.{}", l, name), schedule::ACTIVATION, std::move(shape), f16);
    };
    const uint32_t h = activation("h", {1, kWidth}), g = activation("g", {1, kWidth}),
                   sum = activation("s", {1, kWidth}), t = activation("t", {kWidth, 1}),
                   c = activation("c", {kWidth, 1}), u = activation("u", {1, kWidth}),
                   m = activation("m", {1, kWidth}), next = activation("a", {1, kWidth});
    const std::string at = fmt::format("layer{}", l);
    b.add({schedule::MXM_MATMUL, {a, weights[l % kSharedWeights]}, {h}, {}, 0, false, at});
    b.add({schedule::VXM_UNARY, {h}, {g}, schedule::GELU, 0, false, at});
    b.add({schedule::VXM_BINARY, {g, a}, {sum}, schedule::ADD, 0, false, at});
    b.add({schedule::SXM_TRANSPOSE, {sum}, {t}, {}, 0, true, at});
    b.add({schedule::MEM_COPY, {t}, {c}, {}, 0, false, at});
    b.add({schedule::SXM_TRANSPOSE, {c}, {u}, {}, 0, true, at});
    b.add({schedule::VXM_BINARY, {u, sum}, {m}, schedule::MUL, 0, false, at});
    b.add({schedule::VXM_SOFTMAX, {m}, {next}, {}, 1, false, at});
    a = next;
  }
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, kWidth}, f16);
  b.add({schedule::MEM_COPY, {a}, {y}, {}, 0, false, "y_copy"});
  b.add({schedule::MEM_READ, {y}, {}, {}, 0, false, "y_out"});
  return b.finish("forward", 1);
}

/// Synthetic programs are built once per size (building 10^6 instructions takes seconds).
const schedule::Schedule &syntheticSchedule(uint64_t instructions) {
  static std::map<uint64_t, std::unique_ptr<schedule::Schedule>> cache;
  std::unique_ptr<schedule::Schedule> &entry = cache[instructions];
  if (!entry) {
    entry = std::make_unique<schedule::Schedule>(
        syntheticProgram(instructions / kInstructionsPerLayer));
  }
  return *entry;
}

void reportRate(benchmark::State &state, uint64_t instructionsPerIteration) {
  state.SetItemsProcessed(int64_t(state.iterations() * instructionsPerIteration));
  state.counters["instructions"] = double(instructionsPerIteration);
}

/// Times simulate() of `s` with `options` in timing mode and checks the end cycle against the
/// fixture's earliest schedule (the fixture and the simulator must agree on it).
void timeSimulate(benchmark::State &state, const schedule::Schedule &s,
                  sim::SimulationOptions options) {
  options.functional = false;
  // One untimed run first: the figure is a run in a process that has simulated before, as in
  // a sweep (the first run also faults its tables in, once per process).
  if (Result<sim::SimulationReport> warm = sim::simulate(s, groq1(), {}, options); !warm) {
    state.SkipWithError(warm.error().c_str());
    return;
  }
  for (auto _ : state) {
    Result<sim::SimulationReport> report = sim::simulate(s, groq1(), {}, options);
    if (!report) {
      state.SkipWithError(report.error().c_str());
      return;
    }
    if (report->programs[0].cycles != s.programs(0).compiler_cycles()) {
      state.SkipWithError("simulated cycles differ from the fixture's schedule");
      return;
    }
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}

/// The headline figure: simulate() end to end in timing mode (structural validation,
/// SRAM checks, timing rules, energy, report), items/s = simulated instructions per second.
void simulateTimingOnly(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  sim::SimulationOptions options;
  timeSimulate(state, s, options);
}
BENCHMARK(simulateTimingOnly)->Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

/// The synthetic schedule as `conveyor simulate` holds it: written to a file and read back
/// with the reader into a protobuf arena (messages adjacent in a few large blocks, not
/// scattered on the heap as the fixture's `add_*` calls leave them). Read once per size; the
/// reading is not timed.
const schedule::Schedule &syntheticScheduleFromFile(uint64_t instructions) {
  static std::map<uint64_t, std::unique_ptr<schedule::ArenaSchedule>> cache;
  std::unique_ptr<schedule::ArenaSchedule> &entry = cache[instructions];
  if (!entry) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              fmt::format("conveyor-bench-{}-{}.sched", getpid(), instructions))
                                 .string();
    if (Status written = schedule::writeScheduleFile(syntheticSchedule(instructions), path);
        !written) {
      std::cerr << "simulator-benchmarks: " << written.error() << "\n";
      std::exit(1);
    }
    Result<schedule::ArenaSchedule> read = schedule::readScheduleFileToArena(path);
    std::filesystem::remove(path);
    entry = std::make_unique<schedule::ArenaSchedule>(orDie(std::move(read), "reading back"));
  }
  return entry->get();
}

/// simulate() as `conveyor simulate` calls it on a single-chip schedule: read by the reader
/// into an arena (so `structureValidated`), timing only.
void simulateTimingOnlyFromFile(benchmark::State &state) {
  const schedule::Schedule &s = syntheticScheduleFromFile(uint64_t(state.range(0)));
  sim::SimulationOptions options;
  options.structureValidated = true;
  timeSimulate(state, s, options);
}
BENCHMARK(simulateTimingOnlyFromFile)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

/// The same through the plain sequence of checks (SimulationOptions::onePass = false: the
/// reader's validation, buffer table, timing rules and energy each walk the messages), to
/// compare with the one-pass decoder in the same run.
void simulateTimingOnlyPlain(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  sim::SimulationOptions options;
  options.onePass = false;
  timeSimulate(state, s, options);
}
BENCHMARK(simulateTimingOnlyPlain)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

/// Times `run` (one simulation of `s` through the multi-chip engine) and checks its end cycle
/// against the fixture's schedule.
template <typename Run>
void timeFabricRuns(benchmark::State &state, const schedule::Schedule &s, Run run) {
  if (Result<sim::FabricReport> warm = run(); !warm) { // untimed, as in timeSimulate
    state.SkipWithError(warm.error().c_str());
    return;
  }
  for (auto _ : state) {
    Result<sim::FabricReport> report = run();
    if (!report) {
      state.SkipWithError(report.error().c_str());
      return;
    }
    if (report->endCycle != s.programs(0).compiler_cycles()) {
      state.SkipWithError("simulated cycles differ from the fixture's schedule");
      return;
    }
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}

/// The same programs through the multi-chip engine (simulateFabric: validation, one decode
/// into a flat program image, the run, no energy), which is the timing-mode path of v2.
void fabricEngineTimingOnly(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  timeFabricRuns(state, s, [&] { return sim::simulateFabric(s, groq1()); });
}
BENCHMARK(fabricEngineTimingOnly)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

/// Times PreparedFabric::prepare (structure validated) and run of `s`'s one program.
void timePreparedRuns(benchmark::State &state, const schedule::Schedule &s) {
  const std::vector<int> all{0};
  timeFabricRuns(state, s, [&]() -> Result<sim::FabricReport> {
    Result<sim::PreparedFabric> prepared = sim::PreparedFabric::prepare(s, groq1(), true);
    if (!prepared) {
      return prepared.takeError();
    }
    return prepared->run(all);
  });
}

/// The same through the path `conveyor simulate` takes for a multi-chip schedule: the reader
/// has already run the structural check on the file it returned (PreparedFabric::prepare with
/// structureValidated), so the engine decodes, checks SRAM and runs.
void fabricEngineTimingOnlyValidated(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  if (Status status = schedule::validateSchedule(s, "synthetic"); !status) {
    state.SkipWithError(status.error().c_str());
    return;
  }
  timePreparedRuns(state, s);
}
BENCHMARK(fabricEngineTimingOnlyValidated)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

/// The same as `conveyor simulate` takes it from a file: read by the reader into an arena
/// (messages adjacent, structure already validated; the reading is not timed), then
/// prepared and run.
void fabricEngineTimingOnlyFromFile(benchmark::State &state) {
  timePreparedRuns(state, syntheticScheduleFromFile(uint64_t(state.range(0))));
}
BENCHMARK(fabricEngineTimingOnlyFromFile)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

/// The synthetic program parsed from its bytes into a protobuf arena of ordinary (malloc'd)
/// blocks: a caller holding a schedule in memory rather than the reader's file. Parsed once
/// per size; the parsing is not timed.
const schedule::Schedule &syntheticScheduleParsed(uint64_t instructions) {
  struct Parsed {
    std::unique_ptr<google::protobuf::Arena> arena;
    schedule::Schedule *schedule = nullptr;
  };
  static std::map<uint64_t, Parsed> cache;
  Parsed &entry = cache[instructions];
  if (!entry.arena) {
    google::protobuf::ArenaOptions options;
    options.start_block_size = size_t(64) << 10;
    options.max_block_size = size_t(4) << 20;
    entry.arena = std::make_unique<google::protobuf::Arena>(options);
    entry.schedule = google::protobuf::Arena::CreateMessage<schedule::Schedule>(entry.arena.get());
    if (!entry.schedule->ParseFromString(syntheticSchedule(instructions).SerializeAsString())) {
      std::cerr << "simulator-benchmarks: the synthetic schedule does not parse back\n";
      std::exit(1);
    }
  }
  return *entry.schedule;
}

/// The flat path, prepared (structure validated) and run, on that schedule. Before the
/// fabric engine's largest tables were pooled and the benchmarks kept freed heap memory
/// (keepFreedHeapMemory), every run here mapped and faulted in its tables afresh (~47 k
/// page faults per run at 10^6, 1.4-1.7 M instructions/s instead of 11): how fast a
/// repeated simulation ran depended on what the process's heap had held before.
void fabricEngineTimingOnlyParsed(benchmark::State &state) {
  timePreparedRuns(state, syntheticScheduleParsed(uint64_t(state.range(0))));
}
BENCHMARK(fabricEngineTimingOnlyParsed)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

/// Stages of simulate(), to see where the time goes.
void validateStructure(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  for (auto _ : state) {
    Status status = schedule::validateSchedule(s, "synthetic");
    if (!status) {
      state.SkipWithError(status.error().c_str());
      return;
    }
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}
BENCHMARK(validateStructure)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void timingEngine(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  const sim::HardwareModel model = orDie(sim::buildHardwareModel(groq1()), "hardware model");
  const sim::BufferTable buffers(s, model.vectorBytes);
  for (auto _ : state) {
    Result<sim::ProgramTiming> timing = sim::checkProgram(model, buffers, s.programs(0));
    if (!timing) {
      state.SkipWithError(timing.error().c_str());
      return;
    }
    benchmark::DoNotOptimize(timing->endCycle);
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}
BENCHMARK(timingEngine)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void energyModel(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  const sim::HardwareModel model = orDie(sim::buildHardwareModel(groq1()), "hardware model");
  const sim::BufferTable buffers(s, model.vectorBytes);
  const sim::ProgramTiming timing =
      orDie(sim::checkProgram(model, buffers, s.programs(0)), "timing");
  for (auto _ : state) {
    Result<sim::ProgramEnergy> energy =
        sim::programEnergy(model, buffers, s.programs(0), timing.costs);
    if (!energy) {
      state.SkipWithError(energy.error().c_str());
      return;
    }
    benchmark::DoNotOptimize(energy->categories.data());
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}
BENCHMARK(energyModel)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void sramChecks(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  const sim::HardwareModel model = orDie(sim::buildHardwareModel(groq1()), "hardware model");
  const sim::BufferTable buffers(s, model.vectorBytes);
  for (auto _ : state) {
    Status status = sim::checkSram(model, buffers);
    if (!status) {
      state.SkipWithError(status.error().c_str());
      return;
    }
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}
BENCHMARK(sramChecks)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void bufferTable(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  for (auto _ : state) {
    const sim::BufferTable buffers(s, 320);
    benchmark::DoNotOptimize(buffers.all().data());
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}
BENCHMARK(bufferTable)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

/// Rendering alone, from a traced report.
void renderTrace(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  sim::SimulationOptions options;
  options.functional = false;
  options.collectTrace = true;
  const sim::SimulationReport report = orDie(sim::simulate(s, groq1(), {}, options), "simulate");
  for (auto _ : state) {
    const std::string trace = sim::renderTrace(report);
    benchmark::DoNotOptimize(trace.data());
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
}
BENCHMARK(renderTrace)->Arg(100000)->Unit(benchmark::kMillisecond);

/// With the activity trace collected and rendered (what `simulate --trace-out` does).
void simulateAndRenderTrace(benchmark::State &state) {
  const schedule::Schedule &s = syntheticSchedule(uint64_t(state.range(0)));
  sim::SimulationOptions options;
  options.functional = false;
  options.collectTrace = true;
  size_t bytes = 0;
  for (auto _ : state) {
    Result<sim::SimulationReport> report = sim::simulate(s, groq1(), {}, options);
    if (!report) {
      state.SkipWithError(report.error().c_str());
      return;
    }
    const std::string trace = sim::renderTrace(*report);
    bytes = trace.size();
    benchmark::DoNotOptimize(trace.data());
  }
  reportRate(state, uint64_t(s.programs(0).instructions_size()));
  state.counters["trace_bytes"] = double(bytes);
}
BENCHMARK(simulateAndRenderTrace)->Arg(100000)->Unit(benchmark::kMillisecond);

std::vector<float> pattern(size_t count, float scale, int seed) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = scale * float(int((i * 7919 + size_t(seed) * 104729) % 23) - 11) / 11.0f;
  }
  return values;
}

/// Functional mode: the MLP half of models/tiny (x + gelu(x @ fc1) @ fc2, d_model 64,
/// d_ff 256, f32 with weights) on its real test input x [1x8x64]. The whole tiny block needs
/// the compiler to schedule, which this MLIR-free benchmark does not link.
void simulateFunctionalTinyMlp(benchmark::State &state) {
  const std::vector<sim::TensorData> inputs =
      orDie(sim::loadTensorDir(CONVEYOR_SOURCE_DIR "/models/tiny/test_data_set_0", "input_"),
            "tiny model test input");
  const schedule::DType f32 = schedule::F32;
  EarliestScheduleBuilder b(groq1());
  const uint32_t x = b.buffer(inputs.at(0).name, schedule::INPUT, {1, 8, 64}, f32);
  const uint32_t w1 = b.buffer("fc1", schedule::WEIGHT, {64, 256}, f32, pattern(64 * 256, .2f, 1));
  const uint32_t w2 = b.buffer("fc2", schedule::WEIGHT, {256, 64}, f32, pattern(256 * 64, .1f, 2));
  const uint32_t h = b.buffer("h", schedule::ACTIVATION, {1, 8, 256}, f32);
  const uint32_t g = b.buffer("g", schedule::ACTIVATION, {1, 8, 256}, f32);
  const uint32_t o = b.buffer("o", schedule::ACTIVATION, {1, 8, 64}, f32);
  const uint32_t y = b.buffer("y", schedule::OUTPUT, {1, 8, 64}, f32);
  using B = EarliestScheduleBuilder;
  b.add(B::Op{schedule::MEM_WRITE, {}, {x}, {}, 0, false, "x_in"});
  b.add(B::Op{schedule::MXM_MATMUL, {x, w1}, {h}, {}, 0, false, "fc1"});
  b.add(B::Op{schedule::VXM_UNARY, {h}, {g}, schedule::GELU, 0, false, "gelu"});
  b.add(B::Op{schedule::MXM_MATMUL, {g, w2}, {o}, {}, 0, false, "fc2"});
  b.add(B::Op{schedule::VXM_BINARY, {x, o}, {y}, schedule::ADD, 0, false, "residual"});
  b.add(B::Op{schedule::MEM_READ, {y}, {}, {}, 0, false, "y_out"});
  const schedule::Schedule s = b.finish("forward", 8);
  const uint64_t count = uint64_t(s.programs(0).instructions_size());
  sim::SimulationOptions options;
  options.functional = true;
  for (auto _ : state) {
    Result<sim::SimulationReport> report = sim::simulate(s, groq1(), inputs, options);
    if (!report || !report->functional) {
      state.SkipWithError(report ? report->timingOnlyReason.c_str() : report.error().c_str());
      return;
    }
    benchmark::DoNotOptimize(report->outputs[0].values.data());
  }
  reportRate(state, count);
}
BENCHMARK(simulateFunctionalTinyMlp)->Unit(benchmark::kMicrosecond);

} // namespace

int main(int argc, char **argv) {
  // The benchmarks simulate again and again, as compare, explore and validation do: freed
  // heap memory is kept for the next simulation as there (HugePages.h).
  if (!keepFreedHeapMemory()) {
    std::cerr << "simulator-benchmarks: glibc refused to keep freed heap memory\n";
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
