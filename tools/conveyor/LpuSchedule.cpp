// compileAndSimulateLpu: plan, compile, simulate timing-only, price (see the header).
#include "LpuSchedule.h"

#include "conveyor/Runtime/StepSimulation.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/Simulator.h"

#include <fmt/format.h>

#include <filesystem>
#include <unistd.h>

namespace conveyor::tool {
namespace fs = std::filesystem;
namespace {

/// A temporary schedule path that no other run of this process or another uses.
std::string temporarySchedulePath(const std::string &stem) {
  static int counter = 0;
  return (fs::temp_directory_path() /
          fmt::format("conveyor-lpu-{}-{}-{}.sched", stem, ::getpid(), counter++))
      .string();
}

} // namespace

Result<LpuSchedule> compileAndSimulateLpu(const LpuScheduleRequest &request) {
  if (request.planning.weights.empty()) {
    return makeError("compileAndSimulateLpu: no weight precision given");
  }
  if (request.dims.empty() && request.kvBuckets.empty()) {
    return makeError("compileAndSimulateLpu: neither --dims nor DECODE buckets given");
  }
  Result<cli::PlannedPartition> planned =
      cli::planCompiledPartition(request.onnxPath, request.systemPath, request.planning);
  if (!planned) {
    return makeError(fmt::format("the multi-chip plan of {} on {} at {} weights does not fit: {}",
                                 fs::path(request.onnxPath).filename().string(),
                                 fs::path(request.systemPath).filename().string(),
                                 request.planning.weights, planned.error()));
  }
  if (planned->tp == 0 && planned->stages == 0) {
    return makeError(request.systemPath +
                     " is a one-chip system; a served LPU schedule needs a fabric");
  }
  compile::CompileOptions options;
  options.onnxPath = request.onnxPath;
  options.systemPath = request.systemPath;
  options.outputPath = temporarySchedulePath(fs::path(request.onnxPath).stem().string());
  options.emit = compile::EmitKind::Schedule;
  options.weightPrecision = request.planning.weights;
  options.activationPrecision = request.planning.activations;
  options.kvPrecision = request.planning.kv;
  options.tensorParallel = planned->tp;
  options.pipelineStages = planned->stages;
  options.stageLayers = planned->stageLayers;
  // As `conveyor compile`: the KV cache is sized for --max-context.
  options.kvBucket = uint64_t(request.planning.maxContext);
  if (!request.dims.empty()) {
    options.dimSizes = request.dims;
  } else {
    options.kvBuckets = request.kvBuckets;
    options.kvBucketsGiven = true;
  }
  Result<compile::CompileSummary> compiled = compile::compileModel(options);
  struct RemoveOnExit {
    std::string path;
    ~RemoveOnExit() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } cleanup{options.outputPath};
  if (!compiled) {
    return compiled.takeError();
  }
  Result<schedule::ArenaSchedule> file = schedule::readScheduleFileToArena(options.outputPath);
  if (!file) {
    return file.takeError();
  }
  const schedule::Schedule *sched = &file->get();
  Result<system::SystemConfig> config = system::loadSystemConfig(request.systemPath);
  if (!config) {
    return config.takeError();
  }
  sim::SimulationOptions simulation;
  simulation.functional = false;
  simulation.structureValidated = true; // the reader has checked `sched`, which is const
  Result<sim::SimulationReport> report = runtime::simulateSteps(*sched, *config, {}, simulation);
  if (!report) {
    // Say what was compiled, so a caller can still show the compiler's own figure.
    return makeError(fmt::format(
        "the fabric simulator rejected the compiled schedule (tp {} x {} stages, compiler's "
        "estimate {} cycles = {:.0f} tok/s at {:.0f} MHz, not checked): {}",
        compiled->tensorParallel, compiled->pipelineStages, compiled->decodeCycles,
        compiled->decodeCycles ? config->chip.clockHz / double(compiled->decodeCycles) : 0.0,
        config->chip.clockHz / 1e6, report.error()));
  }
  Result<runtime::LpuPipelineBackend> backend = runtime::LpuPipelineBackend::create(
      *sched, *report, *config, {.maxSequences = std::max<uint32_t>(1, request.maxSequences)});
  if (!backend) {
    return backend.takeError();
  }
  if (backend->bucketCount() == 0) {
    return makeError(request.onnxPath + ": the compiled schedule has no DECODE bucket");
  }
  LpuSchedule result;
  result.compiled = std::move(*compiled);
  result.clockHz = report->clockHz;
  result.staticWatts = backend->idleWatts();
  result.backend = std::make_shared<runtime::LpuPipelineBackend>(std::move(*backend));
  return result;
}

} // namespace conveyor::tool
