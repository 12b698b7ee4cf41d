// Published GPU inference measurements, the roofline's prediction of each, and the
// calibration of the efficiency factors in systems/gpu/*.yaml.
//
// A few measurements are calibration points: each pins exactly one factor of one GPU
// (prefill compute efficiency, decode bandwidth efficiency, all-reduce latency), and
// `solveCalibratedFactor` re-derives that factor so that the YAML value can be checked
// against its stated source. Every other row is a prediction made with those factors,
// never tuned per row. docs/gpu-calibration.md is rendered from this table.
#pragma once

#include "conveyor/Gpu/BenchmarkScenarios.h"
#include "conveyor/Gpu/GpuConfig.h"
#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Support/Result.h"

#include <functional>
#include <string>
#include <vector>

namespace conveyor::gpu {

/// Which GPU parameter a calibration measurement pins.
enum class CalibratedFactor : uint8_t {
  None, // a prediction
  PrefillCompute,
  DecodeBandwidth,
  AllReduceLatency,
};
/// The YAML key path, e.g. "efficiency.decode.bandwidth".
const char *calibratedFactorKey(CalibratedFactor factor);

enum class ScenarioKind : uint8_t { StaticBatch, Offline };

/// Where a row sits in the document: the rows issue 8 asks for, the calibration points
/// that are not among them, and further predictions from the same sources.
enum class RowGroup : uint8_t { Required, Calibration, Additional };
enum class MeasuredMetric : uint8_t { OutputTokensPerSecond, FirstTokenSeconds };

struct PublishedMeasurement {
  std::string id; // short stable identifier, e.g. "a100-gptfast-llama2-7b"
  RowGroup group = RowGroup::Required;
  std::string workload; // what was run, in words
  std::string gpu;      // systems/gpu/<gpu>.yaml
  std::string model;    // publishedModels() key
  ProfileOptions options;
  Deployment deployment;
  ScenarioKind scenario = ScenarioKind::StaticBatch;
  StaticBatchRun staticRun;
  OfflineRun offlineRun;
  MeasuredMetric metric = MeasuredMetric::OutputTokensPerSecond;
  double published = 0;
  std::string source;
  CalibratedFactor calibrates = CalibratedFactor::None;
  /// Conditions of the measurement and what the model leaves out, i.e. the likely cause of
  /// any gap. Written from the mechanisms, never used to adjust a number.
  std::string note;
};

/// The measurements of docs/gpu-calibration.md, required rows first.
const std::vector<PublishedMeasurement> &publishedMeasurements();

/// Rows within +-kTolerancePercent count as met.
constexpr double kTolerancePercent = 25.0;

struct MeasurementOutcome {
  PublishedMeasurement measurement;
  double modeled = 0;      // in the measurement's metric
  double errorPercent = 0; // (modeled - published) / published x 100
  ScenarioResult result;
};

/// Where the per-op profile of a measurement's model comes from: `model` is the
/// publishedModels() key, `options` the measurement's precisions.
using ProfileProvider =
    std::function<Result<WorkloadProfile>(const std::string &model, const ProfileOptions &options)>;
/// The model-card shapes of publishedModels() through buildTransformerProfile (MLIR-free).
/// `conveyor validation` passes the per-op profiles of the zoo's cv.graphs instead.
Result<WorkloadProfile> modelCardProfile(const std::string &model, const ProfileOptions &options);

/// Models one measurement with the GPU description from `gpuDirectory`.
Result<MeasurementOutcome> evaluateMeasurement(const PublishedMeasurement &measurement,
                                               const GpuConfig &gpu,
                                               const ProfileProvider &profiles = modelCardProfile);
/// Every row of publishedMeasurements(), GPUs read from `gpuDirectory`.
Result<std::vector<MeasurementOutcome>>
evaluateMeasurements(const std::string &gpuDirectory,
                     const ProfileProvider &profiles = modelCardProfile);

/// The value of `measurement.calibrates` that makes the model reproduce the measurement,
/// every other parameter as in `gpu`. Errors if the row is a prediction or no value in the
/// factor's range reproduces it.
Result<double> solveCalibratedFactor(const PublishedMeasurement &measurement, const GpuConfig &gpu,
                                     const ProfileProvider &profiles = modelCardProfile);

struct FactorCheck {
  std::string gpu;
  CalibratedFactor factor = CalibratedFactor::None;
  std::string measurementId;
  double yamlValue = 0;
  double derivedValue = 0;
};
/// For every calibration row: the factor as the YAML holds it and as re-derived.
Result<std::vector<FactorCheck>>
checkCalibratedFactors(const std::string &gpuDirectory,
                       const ProfileProvider &profiles = modelCardProfile);

/// The whole of docs/gpu-calibration.md. `profileSource` says in the text where the per-op
/// profiles came from; `regenerate` is the command the header names.
struct CalibrationDocument {
  ProfileProvider profiles = modelCardProfile;
  std::string profileSource = "the model shape from its model card";
  std::string regenerate =
      "build/bin/gpu-calibration --systems-dir systems/gpu -o docs/gpu-calibration.md";
};
Result<std::string> renderCalibrationMarkdown(const std::string &gpuDirectory,
                                              const CalibrationDocument &document = {});

} // namespace conveyor::gpu
