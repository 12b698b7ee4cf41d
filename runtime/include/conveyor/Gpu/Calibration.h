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

/// Models one measurement with the GPU description from `gpuDirectory`.
Result<MeasurementOutcome> evaluateMeasurement(const PublishedMeasurement &measurement,
                                               const GpuConfig &gpu);
/// Every row of publishedMeasurements(), GPUs read from `gpuDirectory`.
Result<std::vector<MeasurementOutcome>> evaluateMeasurements(const std::string &gpuDirectory);

/// The value of `measurement.calibrates` that makes the model reproduce the measurement,
/// every other parameter as in `gpu`. Errors if the row is a prediction or no value in the
/// factor's range reproduces it.
Result<double> solveCalibratedFactor(const PublishedMeasurement &measurement, const GpuConfig &gpu);

struct FactorCheck {
  std::string gpu;
  CalibratedFactor factor = CalibratedFactor::None;
  std::string measurementId;
  double yamlValue = 0;
  double derivedValue = 0;
};
/// For every calibration row: the factor as the YAML holds it and as re-derived.
Result<std::vector<FactorCheck>> checkCalibratedFactors(const std::string &gpuDirectory);

/// The whole of docs/gpu-calibration.md.
Result<std::string> renderCalibrationMarkdown(const std::string &gpuDirectory);

} // namespace conveyor::gpu
