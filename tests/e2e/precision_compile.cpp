// precision-compile: compileModel with precision options, for the end-to-end precision tests.
// `conveyor compile --weights/--activations/--kv` first runs the partition planner, which
// needs models whose attention heads it recognises; this driver calls the compiler library
// directly so the tiny LLMs' numerics can be tested at every precision.
//   precision-compile MODEL.onnx SYSTEM.yaml OUT.sched DIMS WEIGHTS ACTIVATIONS KV
// (DIMS, WEIGHTS, ACTIVATIONS, KV may be "-" for none.)
#include "conveyor/Compile/Compile.h"

#include <cstdio>
#include <string>

int main(int argc, char **argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: precision-compile MODEL SYSTEM OUT DIMS WEIGHTS ACTIVATIONS KV\n");
    return 2;
  }
  auto arg = [&](int i) { return std::string(argv[i]) == "-" ? std::string() : argv[i]; };
  conveyor::compile::CompileOptions options;
  options.onnxPath = arg(1);
  options.systemPath = arg(2);
  options.outputPath = arg(3);
  options.dimSizes = arg(4);
  options.weightPrecision = arg(5);
  options.activationPrecision = arg(6);
  options.kvPrecision = arg(7);
  conveyor::Result<conveyor::compile::CompileSummary> summary =
      conveyor::compile::compileModel(options);
  if (!summary) {
    std::fprintf(stderr, "precision-compile: %s\n", summary.error().c_str());
    return 1;
  }
  std::printf("%s: %llu instructions, %llu cycles, %llu weight bytes\n", options.outputPath.c_str(),
              (unsigned long long)summary->instructions, (unsigned long long)summary->endCycle,
              (unsigned long long)summary->weightBytes);
  return 0;
}
