// `conveyor validation` (docs/validation.md and docs/gpu-calibration.md) and `conveyor inspect
// --profile`: the parts of those commands that need the compiler (MLIR) and the simulator,
// which the report libraries must not link. The LPU rows are compiled and simulated here and
// handed to runtime/lib/Reports as numbers; GPU rows get the per-op profiles of the zoo's
// cv.graphs.
#include "LpuSchedule.h"
#include "ReportCommands.h"

#include "conveyor/Compile/Compile.h"
#include "conveyor/Gpu/Calibration.h"
#include "conveyor/Partition/ModelSummaryAnalysis.h"
#include "conveyor/Reports/GraphWorkload.h"
#include "conveyor/Reports/PlannerEstimate.h"
#include "conveyor/Reports/ReportWriter.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace conveyor::tool {
namespace fs = std::filesystem;
namespace {

/// The zoo graph behind each model of the GPU measurement table. Llama-3.1-8B has the same
/// shapes as Llama-3-8B (only its RoPE scaling differs), so it reads that graph.
std::string zooGraphOf(const std::string &publishedModel) {
  return publishedModel == "llama3.1-8b" ? "llama3-8b" : publishedModel;
}

/// GPU profiles from the zoo's cv.graphs, each graph imported once.
gpu::ProfileProvider graphProfiles(const std::string &root) {
  auto cache = std::make_shared<std::map<std::string, partition::ModelSummary>>();
  return [root, cache](const std::string &model,
                       const gpu::ProfileOptions &options) -> Result<gpu::WorkloadProfile> {
    std::string zoo = zooGraphOf(model);
    auto found = cache->find(zoo);
    if (found == cache->end()) {
      std::string path = (fs::path(root) / "models/zoo/onnx" / (zoo + ".onnx")).string();
      Result<partition::ModelSummary> summary = partition::summarizeOnnxModel(path);
      if (!summary) {
        return summary.takeError();
      }
      found = cache->emplace(zoo, std::move(*summary)).first;
    }
    partition::ModelSummary named = found->second;
    named.name = model;
    return reports::buildGraphWorkloadProfile(named, options);
  };
}

const char *kGraphProfileSource =
    "the per-op profile of the model's cv.graph (models/zoo/onnx/<model>.onnx, imported and "
    "summarised by the compiler; Llama-3.1-8B reads llama3-8b.onnx, whose shapes are the "
    "same)";

/// Compiles the model for the system as `conveyor compile --weights W -o` does (same
/// planning), with one DECODE bucket at `kvLength`, simulates it timing-only and reads the
/// pipeline's decode latency (compileAndSimulateLpu, shared with `conveyor compare`).
Result<reports::SimulatedLpuRun> compileAndSimulate(const std::string &onnxPath,
                                                    const std::string &systemPath,
                                                    const reports::LpuSettings &settings,
                                                    uint64_t kvLength) {
  LpuScheduleRequest request;
  request.onnxPath = onnxPath;
  request.systemPath = systemPath;
  request.planning.weights = system::dtypeName(settings.plan.weights);
  request.planning.activations = system::dtypeName(settings.plan.activations);
  request.planning.kv = system::dtypeName(settings.plan.kv);
  request.planning.maxContext = settings.plan.maxContext;
  request.planning.seqs = settings.plan.seqsInFlight;
  // One DECODE bucket at this KV length (no prefill buckets): all the row needs.
  request.dims = fmt::format("batch=1,seq=1,past={}", kvLength);
  Result<LpuSchedule> schedule = compileAndSimulateLpu(request);
  if (!schedule) {
    return schedule.takeError();
  }
  const compile::CompileSummary &compiled = schedule->compiled;
  reports::SimulatedLpuRun run;
  run.tp = compiled.tensorParallel;
  run.stages = compiled.pipelineStages;
  run.chips = run.tp * run.stages;
  run.kvLength = compiled.kvLength;
  run.clockHz = schedule->clockHz;
  run.latencyCycles = schedule->backend->latencyCycles(0);
  run.stageCycles = schedule->backend->stageCycles(0);
  run.compilerCycles = compiled.decodeCycles;
  run.boundCycles = compiled.decodeBoundCycles;
  run.weights = request.planning.weights;
  return run;
}

Status checkCurrent(const std::string &path, const std::string &document) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream current;
  current << in.rdbuf();
  if (!in || current.str() != document) {
    return makeError(path + " is stale or missing: the compiler, the simulator, a system, a GPU "
                            "description or a measurement changed; regenerate it with "
                            "conveyor validation -o docs/validation.md --calibration "
                            "docs/gpu-calibration.md");
  }
  return Status::success();
}

} // namespace

int runValidation(const ValidationFlags &flags, const std::string &argv0) {
  Result<std::string> root = findSourceRoot(argv0);
  if (!root) {
    return reportFailure(root.error());
  }
  gpu::ProfileProvider profiles = graphProfiles(*root);
  std::string gpuDirectory = (fs::path(*root) / "systems/gpu").string();
  // docs/gpu-calibration.md from the graphs' per-op profiles.
  if (!flags.calibration.empty() || !flags.checkCalibration.empty()) {
    gpu::CalibrationDocument spec;
    spec.profiles = profiles;
    spec.profileSource = kGraphProfileSource;
    spec.regenerate = "build/bin/conveyor validation -o docs/validation.md --calibration "
                      "docs/gpu-calibration.md";
    Result<std::string> calibration = gpu::renderCalibrationMarkdown(gpuDirectory, spec);
    if (!calibration) {
      return reportFailure(calibration.error());
    }
    if (!flags.checkCalibration.empty()) {
      if (Status current = checkCurrent(flags.checkCalibration, *calibration); !current) {
        return reportFailure(current.error());
      }
    }
    if (!flags.calibration.empty()) {
      Status written = reports::writeFileAtomically(flags.calibration, *calibration);
      if (!written) {
        return reportFailure(written.error());
      }
    }
    if (flags.output.empty() && flags.check.empty()) {
      return 0;
    }
  }
  reports::ValidationInputs inputs;
  inputs.simulate = compileAndSimulate;
  inputs.gpuProfiles = profiles;
  inputs.gpuProfileSource = kGraphProfileSource;
  Result<std::string> document = reports::renderLpuValidationMarkdown(*root, inputs);
  if (!document) {
    return reportFailure(document.error());
  }
  if (!flags.check.empty()) {
    Status current = checkCurrent(flags.check, *document);
    return current ? 0 : reportFailure(current.error());
  }
  if (flags.output.empty() || flags.output == "-") {
    fmt::print("{}", *document);
    return 0;
  }
  Status written = reports::writeFileAtomically(flags.output, *document);
  return written ? 0 : reportFailure(written.error());
}

int writeGraphProfile(const std::string &onnxPath, const std::string &output, int64_t prompt,
                      int64_t context, const std::string &kvPrecision) {
  if (prompt < 1 || context < 1) {
    return reportFailure("--profile needs --prompt and --context of at least 1 token");
  }
  // inspect spells 32-bit floats fp32; the system descriptions' dtype is f32.
  Result<system::DType> kv = system::parseDType(kvPrecision == "fp32" ? "f32" : kvPrecision);
  if (!kv) {
    return reportFailure("--kv-precision: " + kv.error());
  }
  Result<partition::ModelSummary> summary = partition::summarizeOnnxModel(onnxPath);
  if (!summary) {
    return reportFailure(summary.error());
  }
  gpu::ProfileOptions options; // 16-bit weights and activations, as the zoo checkpoints
  options.precision.kvCache = *kv;
  Result<gpu::WorkloadProfile> profile = reports::buildGraphWorkloadProfile(*summary, options);
  if (!profile) {
    return reportFailure(onnxPath + ": " + profile.error());
  }
  // Decode at --context tokens in the context, the new one included: KV length context - 1.
  Result<reports::ProfileStepTable> table =
      reports::profileStepTable(*profile, uint64_t(prompt), uint64_t(context - 1));
  if (!table) {
    return reportFailure(onnxPath + ": " + table.error());
  }
  std::string json =
      reports::renderWorkloadProfileJson(*profile, *table, onnxPath, options.precision);
  if (output == "-") {
    fmt::print("{}", json);
    return 0;
  }
  Status written = reports::writeFileAtomically(output, json);
  return written ? 0 : reportFailure(written.error());
}

} // namespace conveyor::tool
