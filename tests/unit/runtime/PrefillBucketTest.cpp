// LpuPipelineBackend with PREFILL and DECODE buckets: each sequence's step is priced from the
// smallest bucket that holds it, and hand-built bucket cycles give exact TTFT, TPOT and
// percentiles through the token loop.
#include "RuntimeTestSupport.h"

#include "conveyor/Runtime/LpuServingBackend.h"
#include "conveyor/Runtime/ServingReport.h"
#include "conveyor/Runtime/TokenLoop.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace conveyor;
using namespace conveyor::runtime;
using namespace conveyor::runtime::test;

namespace {

/// Two stages ending at `first` and `second` cycles (busy units never the limit).
DecodeBucket twoStages(bool prefill, uint64_t length, uint64_t first, uint64_t second) {
  DecodeBucket bucket;
  bucket.prefill = prefill;
  bucket.kvLength = prefill ? 0 : length;
  bucket.promptLength = prefill ? length : 0;
  bucket.stages = {{"s0", 1, first, 0, 0.0}, {"s1", 1, second, 0, 0.0}};
  return bucket;
}

system::SystemConfig twoChips() {
  system::SystemConfig config;
  config.name = "groq-2";
  config.chip.energy.staticWatts = 0;
  config.fabric.chips = 2;
  return config;
}

/// 1 GHz, so one cycle is one nanosecond. Per bucket: latency L (last end) / stage T:
/// decode kv 64: 200 / 100; decode kv 256: 300 / 150; prefill 16: 1000 / 600;
/// prefill 64: 2500 / 1500.
LpuPipelineBackend makeBuckets(uint32_t maxSequences = 2) {
  std::vector<DecodeBucket> buckets = {
      twoStages(true, 64, 1000, 2500), twoStages(false, 256, 150, 300),
      twoStages(true, 16, 400, 1000), twoStages(false, 64, 100, 200)};
  auto backend = LpuPipelineBackend::create(buckets, 1e9, "groq-2", twoChips(),
                                            {.maxSequences = maxSequences});
  INFO((backend ? std::string() : backend.error()));
  REQUIRE(backend.ok());
  return std::move(*backend);
}

double cycles(LpuPipelineBackend &backend, std::vector<SequenceWork> work) {
  auto cost = backend.iterationCost(work);
  INFO((cost ? std::string() : cost.error()));
  REQUIRE(cost.ok());
  return cost->seconds * 1e9;
}

} // namespace

TEST_CASE("pipeline buckets: each step takes the smallest bucket that holds it") {
  LpuPipelineBackend backend = makeBuckets();
  REQUIRE(backend.bucketCount() == 2);
  REQUIRE(backend.prefillBucketCount() == 2);
  CHECK(backend.kvLength(0) == 64);
  CHECK(backend.promptLength(0) == 16);
  CHECK(backend.prefillLatencyCycles(1) == 2500);
  CHECK(backend.prefillStageCycles(1) == 1500);
  CHECK(backend.maxSequences() == 2);
  // The notes name the prefill buckets and no longer say prefill is approximated.
  REQUIRE_FALSE(backend.notes().empty());
  CHECK_THAT(backend.notes().front(), Catch::Contains("prompt buckets 16, 64"));
  for (const std::string &note : backend.notes()) {
    CHECK_THAT(note, !Catch::Contains("approximated"));
  }

  // Prefill of 10 tokens: bucket 16 (1000) beats 10 decode steps (200 + 9 x 100 = 1100).
  CHECK(cycles(backend, {{SequencePhase::Prefill, 10, 0}}) == Approx(1000));
  // 3 tokens: decode steps (200 + 2 x 100 = 400) end before the 16-token program (1000).
  CHECK(cycles(backend, {{SequencePhase::Prefill, 3, 0}}) == Approx(400));
  // 17 tokens: decode steps (200 + 16 x 100 = 1800) end before bucket 64 (2500); 40 do not.
  CHECK(cycles(backend, {{SequencePhase::Prefill, 17, 0}}) == Approx(1800));
  CHECK(cycles(backend, {{SequencePhase::Prefill, 40, 0}}) == Approx(2500));
  // 100 tokens, past every prefill bucket: 2 runs of 64 (2500 + 1500) beat decode steps in
  // the kv-256 bucket (300 + 99 x 150).
  CHECK(cycles(backend, {{SequencePhase::Prefill, 100, 0}}) == Approx(4000));
  // Decode: KV after the step must fit: 63 + 1 fits kv 64, 64 + 1 needs kv 256.
  CHECK(cycles(backend, {{SequencePhase::Decode, 1, 63}}) == Approx(200));
  CHECK(cycles(backend, {{SequencePhase::Decode, 1, 64}}) == Approx(300));
  // Mixed steps share the pipeline: max(longest latency, sum of stage occupancies).
  CHECK(cycles(backend, {{SequencePhase::Prefill, 40, 0}, {SequencePhase::Decode, 1, 10}}) ==
        Approx(2500));
  CHECK(cycles(backend, {{SequencePhase::Decode, 1, 10}, {SequencePhase::Decode, 1, 100}}) ==
        Approx(300));
  // Two 64-token prefills: occupancy 2 x 1500 = 3000 > latency 2500.
  CHECK(cycles(backend, {{SequencePhase::Prefill, 64, 0}, {SequencePhase::Prefill, 64, 0}}) ==
        Approx(3000));
  // Past the longest DECODE bucket: an error that names it.
  auto refused = backend.iterationCost(std::vector<SequenceWork>{{SequencePhase::Decode, 1, 256}});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("256"));
}

TEST_CASE("pipeline buckets: exact TTFT, TPOT and percentiles of a hand-built trace") {
  LpuPipelineBackend backend = makeBuckets(2);
  auto policy = makePolicy("fcfs");
  // r0 and r1 arrive together; r2 arrives at 1 us and waits for a free slot.
  std::vector<Request> requests = {request(0, 40, 3), request(0, 10, 2), request(1e-6, 3, 2)};
  Result<ServingRun> run = runTokenLoop(requests, backend, *policy);
  INFO((run ? std::string() : run.error()));
  REQUIRE(run.ok());
  // Iterations (ns): [0, 2500) r0 prefill bucket 64 (2500) and r1 prefill bucket 16 (1000),
  //   occupancy 1500 + 600 < 2500;
  // [2500, 2700) r0 and r1 decode in kv 64: max(200, 2 x 100);  r1 done;
  // [2700, 3100) r0 decode (200 / 100) and r2's 3-token prompt as decode steps
  //   (200 + 2 x 100 = 400, occupancy 300): max(400, 400);  r0 done;
  // [3100, 3300) r2 decode.
  CHECK(run->iterations == 4);
  CHECK(run->prefillIterations == 2);
  ServingReport report = makeServingReport(*run, {});
  const std::vector<double> ttft = {2500e-9, 2500e-9, 2100e-9};
  const std::vector<double> e2e = {3100e-9, 2700e-9, 2300e-9};
  const std::vector<double> tpot = {300e-9, 200e-9, 200e-9};
  for (size_t i = 0; i < 3; ++i) {
    CHECK(report.perRequest[i].ttftSeconds == near(ttft[i]));
    CHECK(report.perRequest[i].e2eSeconds == near(e2e[i]));
    CHECK(report.perRequest[i].tpotSeconds == near(tpot[i]));
  }
  CHECK(report.perRequest[2].queueingSeconds == near(1700e-9));
  // Sorted TTFT 2100 2500 2500: p50 2500; mean 7100 / 3.
  CHECK(report.ttft.p50 == near(2500e-9));
  CHECK(report.ttft.min == near(2100e-9));
  CHECK(report.ttft.mean == near(7100e-9 / 3));
  // Sorted TPOT 200 200 300: p50 200, p99 at rank 1.98 -> 200 + 0.98 x 100.
  CHECK(report.tpot.p50 == near(200e-9));
  CHECK(report.tpot.p99 == near(298e-9));
  // Gaps: r0 200, 400; r1 200; r2 200.
  CHECK(report.itl.count == 4);
  CHECK(report.itl.max == near(400e-9));
  CHECK(report.itl.p50 == near(200e-9));
  CHECK(report.makespanSeconds == near(3300e-9));
}

TEST_CASE("pipeline buckets: grouped from a schedule, PREFILL apart from DECODE") {
  schedule::Schedule sched;
  sim::SimulationReport report;
  report.systemName = "groq-2";
  report.clockHz = 1e9;
  auto add = [&](const std::string &name, schedule::ProgramKind kind, uint64_t length,
                 uint32_t chip, uint64_t end) {
    schedule::Program *program = sched.add_programs();
    program->set_name(name);
    program->set_kind(kind);
    program->set_chip(chip);
    (kind == schedule::PREFILL ? program->set_prompt_length(length)
                               : program->set_kv_length(length));
    sim::ProgramReport run;
    run.name = name;
    run.chip = chip;
    run.cycles = end;
    report.programs.push_back(run);
  };
  add("decode.stage0", schedule::DECODE, 512, 0, 100);
  add("decode.stage1", schedule::DECODE, 512, 1, 250);
  add("prefill.p128.stage0", schedule::PREFILL, 128, 0, 900);
  add("prefill.p128.stage1", schedule::PREFILL, 128, 1, 2000);
  auto grouped = pipelineBuckets(sched, report);
  REQUIRE(grouped.ok());
  REQUIRE(grouped->size() == 2);
  CHECK_FALSE((*grouped)[0].prefill);
  CHECK((*grouped)[1].prefill);
  CHECK((*grouped)[1].promptLength == 128);
  CHECK((*grouped)[1].stages.size() == 2);
  auto decodeOnly = decodeBuckets(sched, report);
  REQUIRE(decodeOnly.ok());
  CHECK(decodeOnly->size() == 1);

  auto backend = LpuPipelineBackend::create(sched, report, twoChips(), {.maxSequences = 4});
  REQUIRE(backend.ok());
  CHECK(backend->prefillLatencyCycles(0) == 2000);
  CHECK(backend->prefillStageCycles(0) == 1100);
  CHECK(backend->latencyCycles(0) == 250);
  CHECK(backend->stageCycles(0) == 150);
  // 100-token prompt: prefill (2000) beats decode steps (250 + 99 x 150).
  CHECK(backend->iterationCost(std::vector<SequenceWork>{{SequencePhase::Prefill, 100, 0}})
            ->seconds == Approx(2000e-9));

  // PREFILL programs alone cannot serve: decode needs a DECODE bucket.
  schedule::Schedule prefillOnly;
  *prefillOnly.add_programs() = sched.programs(2);
  auto refused = LpuPipelineBackend::create(prefillOnly, report, twoChips());
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("no DECODE program"));
}
