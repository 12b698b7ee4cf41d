// LpuServingBackend: iteration costs follow from the simulated program's time and energy.
#include "conveyor/Runtime/LpuServingBackend.h"

#include <catch2/catch.hpp>

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
