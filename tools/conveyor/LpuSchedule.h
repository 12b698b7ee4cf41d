// Compile a zoo model for a multi-chip LPU system and simulate it timing-only, through library
// calls, as `conveyor compile -o` then `conveyor simulate --timing-only` would: the shared
// path behind `conveyor validation`'s LPU rows and `conveyor compare`'s LPU systems.
#pragma once

#include "CompilePlanning.h"

#include "conveyor/Compile/Compile.h"
#include "conveyor/Runtime/LpuServingBackend.h"
#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"

#include <memory>
#include <string>

namespace conveyor::tool {

/// What to compile. `planning` carries the precisions, --max-context and --seqs exactly as
/// `conveyor compile` takes them (weights must be set: the multi-chip plan needs one).
struct LpuScheduleRequest {
  std::string onnxPath, systemPath;
  cli::PlanningFlags planning;
  /// Either one DECODE bucket fixed by `--dims` ("batch=1,seq=1,past=640"), or, when empty,
  /// `kvBuckets` ("640" or "512,1024"; must be set) and the compiler's default PREFILL
  /// buckets (those that do not fit are left out and noted).
  std::string dims;
  std::string kvBuckets;
  /// Sequences the served pipeline holds (LpuServingOptions::maxSequences).
  uint32_t maxSequences = 1;
};

/// The compiled and simulated schedule, priced for serving.
struct LpuSchedule {
  compile::CompileSummary compiled;
  double clockHz = 0;
  double staticWatts = 0; // whole system
  /// The runtime's layer-pipeline backend over the simulated per-bucket programs.
  std::shared_ptr<runtime::LpuPipelineBackend> backend;
};

/// Plans (quietly: a refusal is the error), compiles into a temporary schedule file (removed
/// afterwards), simulates every length bucket timing-only (runtime::simulateSteps) and builds
/// the LpuPipelineBackend. Errors say which step failed; a simulator rejection also quotes
/// the compiler's own decode estimate.
Result<LpuSchedule> compileAndSimulateLpu(const LpuScheduleRequest &request);

} // namespace conveyor::tool
