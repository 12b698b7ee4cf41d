// How long `conveyor compile` takes for the zoo's Llama-2 models onto their multi-chip systems
// (import, fusion, partition, bound, per-template lowering and scheduling, the v2 schedule
// with its KV buckets, written to a file): the issue 5 "compile in seconds" figure.
// Peak memory is not measured here; docs/compiler.md gives `/usr/bin/time -v` figures.
#include "conveyor/Compile/Compile.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

/// `tp` x `stages`: the plan `conveyor compile` picks for the model on the system (the
/// planner runs in the CLI; `conveyor compile --explain` prints it).
void compileZoo(benchmark::State &state, const char *model, const char *system, uint32_t tp,
                uint32_t stages) {
  conveyor::compile::CompileOptions options;
  options.onnxPath = std::string(CONVEYOR_SOURCE_DIR "/models/zoo/onnx/") + model;
  options.systemPath = std::string(CONVEYOR_SOURCE_DIR "/systems/") + system;
  options.weightPrecision = "int8"; // and the CLI's defaults for the rest
  options.activationPrecision = "fp16";
  options.kvPrecision = "fp16";
  options.kvBucket = 4096;
  options.tensorParallel = tp;
  options.pipelineStages = stages;
  options.outputPath = std::string("compiler-benchmark-") + model + ".sched";
  uint64_t cycles = 0;
  for (auto _ : state) {
    auto summary = conveyor::compile::compileModel(options);
    if (!summary) {
      std::cerr << "compiler-benchmarks: " << summary.error() << "\n";
      std::exit(1);
    }
    cycles = summary->decodeCycles;
    benchmark::DoNotOptimize(cycles);
  }
  std::remove(options.outputPath.c_str());
  state.counters["decode_cycles"] = double(cycles);
}

void BM_CompileLlama2_70B_576Chips(benchmark::State &state) {
  compileZoo(state, "llama2-70b.onnx", "groq-576.yaml", 16, 27);
}
BENCHMARK(BM_CompileLlama2_70B_576Chips)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_CompileLlama2_7B_64Chips(benchmark::State &state) {
  compileZoo(state, "llama2-7b.onnx", "groq-64.yaml", 8, 7);
}
BENCHMARK(BM_CompileLlama2_7B_64Chips)->Unit(benchmark::kMillisecond)->Iterations(3);

} // namespace

BENCHMARK_MAIN();
