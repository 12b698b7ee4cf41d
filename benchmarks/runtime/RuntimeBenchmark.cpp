// How long the serving runtime itself takes for a 10,000-request Llama-2-70B-like run on a
// 576-chip pipeline (analytic backend), and for generating and parsing that traffic.
#include "conveyor/Runtime/AnalyticBackend.h"
#include "conveyor/Runtime/ServingReport.h"
#include "conveyor/Runtime/SyntheticTraffic.h"
#include "conveyor/Runtime/TokenLoop.h"
#include "conveyor/Runtime/TraceFile.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>

using namespace conveyor;
using namespace conveyor::runtime;

namespace {

template <typename T> T orDie(Result<T> result) {
  if (!result) {
    std::cerr << "runtime-benchmarks: " << result.error() << "\n";
    std::exit(1);
  }
  return std::move(*result);
}

SyntheticTrafficConfig chatTraffic(uint32_t requests, double rate = 40) {
  SyntheticTrafficConfig traffic;
  traffic.requests = requests;
  traffic.seed = 42;
  traffic.arrivals = {"poisson", {{"rate", rate}}};
  traffic.promptTokens = {"lognormal", {{"mean", 512.0}, {"sigma", 0.8}, {"max", 4096.0}}};
  traffic.outputTokens = {"lognormal", {{"mean", 256.0}, {"sigma", 0.8}, {"max", 2048.0}}};
  return traffic;
}

// Shape of Llama-2-70B on 576 TSP-like chips: 80 layer stages at ~41.6 us per decode token
// (~300 tokens/s for one user), static power 576 x 172 W. The energy numbers are round
// placeholders: this benchmark times the runtime, not the hardware.
AnalyticBackendConfig llama70bOn576Chips() {
  AnalyticBackendConfig config;
  config.name = "analytic:llama2-70b-576";
  config.pipelineStages = 80;
  config.stageSeconds = 41.6e-6;
  config.stageSecondsPerNewToken = 0.5e-6;
  config.stageSecondsPerContextToken = 1e-9;
  config.maxSequences = 256;
  config.devices = 576;
  config.idleWatts = 576 * 172.0;
  config.joulesPerNewToken = 20;
  config.joulesPerContextToken = 1e-4;
  return config;
}

// Argument: arrival rate (requests/s). At 40/s ~128 sequences share each iteration; at 1/s
// most iterations carry one or two, the worst case for the loop's per-iteration cost.
void tokenLoop10k(benchmark::State &state) {
  const std::vector<Request> requests =
      orDie(generateRequests(chatTraffic(10000, double(state.range(0)))));
  AnalyticBackend backend = orDie(AnalyticBackend::create(llama70bOn576Chips()));
  std::unique_ptr<AdmissionPolicy> admission =
      orDie(makeAdmissionPolicy(orDie(parsePolicySpec("fcfs", "--admission"))));
  ServingReport report;
  for (auto _ : state) {
    ServingRun run = orDie(runTokenLoop(requests, backend, *admission));
    report = makeServingReport(run);
    benchmark::DoNotOptimize(report.joulesPerToken);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(requests.size()));
  state.counters["output_tokens"] = double(report.outputTokens);
  state.counters["iterations"] = double(report.iterations);
  state.counters["mean_in_flight"] = report.meanSequencesInFlight;
  state.counters["tok_per_s_simulated"] = report.outputTokensPerSecond;
}
BENCHMARK(tokenLoop10k)->Arg(40)->Arg(1)->Unit(benchmark::kMillisecond);

void generateTraffic10k(benchmark::State &state) {
  for (auto _ : state) {
    std::vector<Request> requests = orDie(generateRequests(chatTraffic(10000)));
    benchmark::DoNotOptimize(requests.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 10000);
}
BENCHMARK(generateTraffic10k)->Unit(benchmark::kMillisecond);

void parseJsonlTrace10k(benchmark::State &state) {
  const std::vector<Request> requests = orDie(generateRequests(chatTraffic(10000)));
  const std::string text = renderTrace(requests, TraceFormat::Jsonl);
  for (auto _ : state) {
    std::vector<Request> parsed = orDie(parseTrace(text, "bench.jsonl", TraceFormat::Jsonl));
    benchmark::DoNotOptimize(parsed.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(parseJsonlTrace10k)->Unit(benchmark::kMillisecond);

} // namespace
