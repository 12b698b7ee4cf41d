// LpuServingBackend: iteration costs follow from the simulated program's time and energy.
#include "conveyor/Runtime/LpuServingBackend.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace conveyor;
using namespace conveyor::runtime;

namespace {

sim::SimulationReport oneProgram(double seconds, uint64_t tokens, double joules, double staticJ) {
  sim::SimulationReport report;
  report.modelName = "m";
  report.systemName = "groq-1";
  report.chips = 1;
  sim::ProgramReport program;
  program.name = "forward";
  program.seconds = seconds;
  program.tokensPerStep = tokens;
  program.energyJoules = joules;
  program.energyBreakdown["static"] = staticJ;
  program.energyBreakdown["mac"] = joules - staticJ;
  report.programs.push_back(program);
  return report;
}

system::SystemConfig systemWithStaticWatts(double watts, uint32_t chips) {
  system::SystemConfig config;
  config.name = "groq-1";
  config.chip.energy.staticWatts = watts;
  config.fabric.chips = chips;
  return config;
}

} // namespace

TEST_CASE("an LPU iteration runs the step program once per chunk of new tokens per sequence") {
  auto backend = LpuServingBackend::create(oneProgram(2e-6, 8, 5e-4, 4e-4),
                                           systemWithStaticWatts(172, 1), {.maxSequences = 4});
  REQUIRE(backend.ok());
  CHECK(backend->name() == "lpu:groq-1");
  CHECK(backend->maxSequences() == 4);
  CHECK(backend->devices() == 1);
  CHECK(backend->idleWatts() == Approx(172));

  // A 20-token prefill needs ceil(20/8) = 3 runs, a decode step 1, a 16-token prefill 2.
  std::vector<SequenceWork> work = {{SequencePhase::Prefill, 20, 0},
                                    {SequencePhase::Decode, 1, 57},
                                    {SequencePhase::Prefill, 16, 0}};
  auto cost = backend->iterationCost(work);
  REQUIRE(cost.ok());
  CHECK(cost->seconds == Approx(6 * 2e-6));
  CHECK(cost->dynamicJoules == Approx(6 * (5e-4 - 4e-4)));
  CHECK(cost->busyDeviceFraction == 1.0);

  // The context length does not change a fixed-shape program's cost.
  std::vector<SequenceWork> longContext = {{SequencePhase::Decode, 1, 4000}};
  CHECK(backend->iterationCost(longContext)->seconds == Approx(2e-6));
}

TEST_CASE("an LPU backend refuses a report it cannot price") {
  sim::SimulationReport empty;
  empty.modelName = "m";
  auto none = LpuServingBackend::create(empty, systemWithStaticWatts(1, 1));
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error(), Catch::Contains("no program"));

  auto zeroTime = LpuServingBackend::create(oneProgram(0, 8, 0, 0), systemWithStaticWatts(1, 1));
  REQUIRE_FALSE(zeroTime.ok());
  CHECK_THAT(zeroTime.error(), Catch::Contains("forward"));

  auto zeroLimit = LpuServingBackend::create(oneProgram(1e-6, 8, 0, 0), systemWithStaticWatts(1, 1),
                                             {.maxSequences = 0});
  REQUIRE_FALSE(zeroLimit.ok());
}

// ---- v2 layer pipelines of DECODE programs --------------------------------------------------

namespace {

/// A DECODE stage program on `chips` chips whose simulated runs end at `endCycle`, with the
/// busiest unit busy `busy` cycles and `dynamicJoules` above static per chip.
void addStage(schedule::Schedule &sched, sim::SimulationReport &report, const std::string &name,
              uint64_t kvLength, uint32_t firstChip, uint32_t chips, uint64_t endCycle,
              uint64_t busy, double dynamicJoules) {
  schedule::Program *program = sched.add_programs();
  program->set_name(name);
  program->set_kind(schedule::DECODE);
  program->set_chip(firstChip);
  program->set_kv_length(kvLength);
  program->set_tokens_per_step(1);
  for (uint32_t c = 1; c < chips; ++c) {
    program->add_instances()->set_chip(firstChip + c);
  }
  for (uint32_t c = 0; c < chips; ++c) {
    sim::ProgramReport run;
    run.name = name;
    run.chip = firstChip + c;
    run.cycles = endCycle - c; // instances may end a little apart: the stage ends at the latest
    run.tokensPerStep = 1;
    run.units["SXM"].busyCycles = busy;
    run.energyBreakdown["static"] = 1e-3;
    run.energyJoules = 1e-3 + dynamicJoules;
    report.programs.push_back(run);
  }
}

} // namespace

TEST_CASE("a decode pipeline is priced from the stages' simulated end cycles") {
  schedule::Schedule sched;
  sim::SimulationReport report;
  report.systemName = "groq-8";
  report.clockHz = 1e9;
  report.chips = 8;
  // Three stages of two chips: ends 1000, 2500, 3000 -> occupancies 1000, 1500, 500 but the
  // last stage's busiest unit needs 700; a 4th stage in a longer bucket.
  addStage(sched, report, "decode.s0", 512, 0, 2, 1000, 900, 2e-6);
  addStage(sched, report, "decode.s1", 512, 2, 2, 2500, 400, 2e-6);
  addStage(sched, report, "decode.s2", 512, 4, 2, 3000, 700, 2e-6);
  addStage(sched, report, "decode.long", 4096, 6, 2, 9000, 100, 0);
  system::SystemConfig system = systemWithStaticWatts(10, 8);

  auto grouped = decodeBuckets(sched, report);
  REQUIRE(grouped.ok());
  REQUIRE(grouped->size() == 2);
  CHECK((*grouped)[0].stages.size() == 3);
  CHECK((*grouped)[0].stages[1].chips == 2);
  CHECK((*grouped)[0].stages[1].endCycle == 2500);

  auto backend = LpuPipelineBackend::create(sched, report, system, {.maxSequences = 8});
  REQUIRE(backend.ok());
  CHECK(backend->name() == "lpu:groq-8");
  CHECK(backend->devices() == 8);
  CHECK(backend->idleWatts() == Approx(80));
  // Limited by the fewest stages of any bucket (the long one has 1), not by the 8 asked for.
  CHECK(backend->maxSequences() == 1);
  REQUIRE(backend->bucketCount() == 2);
  // Latency = the last stage's end cycle; stage time = max(end_k - end_{k-1}, busy_k).
  CHECK(backend->latencyCycles(0) == report.programs[4].cycles);
  CHECK(backend->latencyCycles(0) == 3000);
  CHECK(backend->stageCycles(0) == 1500);

  // One decoding sequence: one token takes the whole pipeline latency.
  std::vector<SequenceWork> one = {{SequencePhase::Decode, 1, 100}};
  auto cost = backend->iterationCost(one);
  REQUIRE(cost.ok());
  CHECK(cost->seconds == Approx(3000e-9));
  CHECK(cost->dynamicJoules == Approx(6 * 2e-6)); // 3 stages x 2 chips, one token
  // busy chip-cycles (2 x (1000 + 1500 + 700)) over 8 chips x 3000 cycles
  CHECK(cost->busyDeviceFraction == Approx(2.0 * 3200 / (8.0 * 3000)));

  // A context past the short bucket moves to the long one.
  std::vector<SequenceWork> longer = {{SequencePhase::Decode, 1, 600}};
  CHECK(backend->iterationCost(longer)->seconds == Approx(9000e-9));
  // And past every bucket is an error that says what to do.
  std::vector<SequenceWork> tooLong = {{SequencePhase::Decode, 1, 5000}};
  auto refused = backend->iterationCost(tooLong);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("4096"));
}

TEST_CASE("a full decode pipeline takes a stage time per token per sequence") {
  schedule::Schedule sched;
  sim::SimulationReport report;
  report.systemName = "groq-8";
  report.clockHz = 1e9;
  for (uint32_t s = 0; s < 4; ++s) {
    addStage(sched, report, "decode.stage" + std::to_string(s), 0, 2 * s, 2, 1000 * (s + 1), 10,
             0);
  }
  auto backend = LpuPipelineBackend::create(sched, report, systemWithStaticWatts(1, 8),
                                            {.maxSequences = 16});
  REQUIRE(backend.ok());
  CHECK(backend->maxSequences() == 4); // one sequence per stage
  CHECK(backend->latencyCycles(0) == 4000);
  CHECK(backend->stageCycles(0) == 1000);
  // Energy is static only here, and the notes say so and that prefill is approximated.
  CHECK(backend->notes().size() == 3);

  for (uint32_t sequences = 1; sequences <= 4; ++sequences) {
    std::vector<SequenceWork> work(sequences, {SequencePhase::Decode, 1, 10});
    auto cost = backend->iterationCost(work);
    REQUIRE(cost.ok());
    // max(L, S T): the pipeline is full at S = L / T = 4.
    CHECK(cost->seconds == Approx(std::max(4000.0, 1000.0 * sequences) * 1e-9));
    CHECK(cost->dynamicJoules == 0);
  }
  std::vector<SequenceWork> full(4, {SequencePhase::Decode, 1, 10});
  CHECK(backend->iterationCost(full)->busyDeviceFraction == Approx(1.0));

  // A 10-token prefill streams through: L + 9 T; with a decode beside it, 11 tokens enter
  // stage 0 but the prefill's own chain is longer.
  std::vector<SequenceWork> prefill = {{SequencePhase::Prefill, 10, 0}};
  CHECK(backend->iterationCost(prefill)->seconds == Approx((4000 + 9 * 1000) * 1e-9));
  std::vector<SequenceWork> mixed = {{SequencePhase::Prefill, 10, 0},
                                     {SequencePhase::Decode, 1, 10}};
  CHECK(backend->iterationCost(mixed)->seconds == Approx(std::max(13000.0, 11000.0) * 1e-9));
}

TEST_CASE("a decode pipeline backend refuses what it cannot price") {
  schedule::Schedule sched;
  sim::SimulationReport report;
  report.systemName = "groq-8";
  report.clockHz = 1e9;
  CHECK_FALSE(hasDecodePrograms(sched));
  auto none = LpuPipelineBackend::create(sched, report, systemWithStaticWatts(1, 8));
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error(), Catch::Contains("no DECODE program"));

  // A DECODE program the simulator did not run.
  schedule::Program *program = sched.add_programs();
  program->set_name("decode.lost");
  program->set_kind(schedule::DECODE);
  CHECK(hasDecodePrograms(sched));
  auto lost = LpuPipelineBackend::create(sched, report, systemWithStaticWatts(1, 8));
  REQUIRE_FALSE(lost.ok());
  CHECK_THAT(lost.error(), Catch::Contains("decode.lost"));

  // Two DECODE programs with one name cannot be told apart in the report.
  schedule::Schedule twice;
  sim::SimulationReport twiceReport = report;
  addStage(twice, twiceReport, "decode.s", 0, 0, 1, 100, 10, 0);
  addStage(twice, twiceReport, "decode.s", 0, 1, 1, 200, 10, 0);
  auto duplicate = LpuPipelineBackend::create(twice, twiceReport, systemWithStaticWatts(1, 8));
  REQUIRE_FALSE(duplicate.ok());
  CHECK_THAT(duplicate.error(), Catch::Contains("appears twice"));
}
