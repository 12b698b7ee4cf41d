// The calibration table: each calibrated factor in systems/gpu/*.yaml reproduces its stated
// measurement, the solver finds factors it did not see, and docs/gpu-calibration.md is the
// current rendering.
#include "GpuTestSupport.h"

#include "conveyor/Gpu/Calibration.h"

#include <cmath>
#include <set>

using namespace conveyor::gpu;
using namespace conveyor::gpu::test;
using Catch::Matchers::Contains;

TEST_CASE("every calibrated factor in the YAML reproduces its measurement", "[gpu][calibration]") {
  auto checks = checkCalibratedFactors(gpuDirectory());
  INFO(errorText(checks));
  REQUIRE(checks.ok());
  REQUIRE(checks->size() >= 5);
  for (const FactorCheck &check : *checks) {
    INFO(check.gpu << " " << calibratedFactorKey(check.factor) << " from " << check.measurementId);
    CHECK(check.yamlValue == Approx(check.derivedValue).epsilon(0.01));
  }
}

TEST_CASE("one calibration point per factor and GPU; predictions calibrate nothing",
          "[gpu][calibration]") {
  std::set<std::string> seen;
  std::set<std::string> ids;
  for (const PublishedMeasurement &row : publishedMeasurements()) {
    INFO(row.id);
    CHECK(ids.insert(row.id).second);
    CHECK(row.published > 0);
    CHECK_FALSE(row.source.empty());
    CHECK_FALSE(row.note.empty());
    if (row.calibrates != CalibratedFactor::None) {
      CHECK(seen.insert(row.gpu + "/" + calibratedFactorKey(row.calibrates)).second);
    } else {
      CHECK_FALSE(solveCalibratedFactor(row, roundGpu()).ok());
    }
  }
}

TEST_CASE("the solver recovers a factor the model was run with", "[gpu][calibration]") {
  auto gpu = loadGpuByName(gpuDirectory(), "a100-sxm-80g");
  REQUIRE(gpu.ok());
  for (const PublishedMeasurement &row : publishedMeasurements()) {
    if (row.gpu != "a100-sxm-80g" || row.calibrates != CalibratedFactor::DecodeBandwidth) {
      continue;
    }
    // Make a synthetic "measurement" from a known bandwidth efficiency of 0.5.
    GpuConfig known = *gpu;
    known.decode.bandwidth = 0.5;
    auto outcome = evaluateMeasurement(row, known);
    REQUIRE(outcome.ok());
    PublishedMeasurement synthetic = row;
    synthetic.published = outcome->modeled;
    auto solved = solveCalibratedFactor(synthetic, *gpu);
    INFO(errorText(solved));
    REQUIRE(solved.ok());
    CHECK(*solved == Approx(0.5).epsilon(1e-6));
    // An impossible measurement (faster than the HBM allows) is reported, not clamped.
    synthetic.published = 1e6;
    auto impossible = solveCalibratedFactor(synthetic, *gpu);
    REQUIRE_FALSE(impossible.ok());
    CHECK_THAT(impossible.error(), Contains("no efficiency.decode.bandwidth in"));
  }
}

TEST_CASE("the calibration document names where its profiles came from",
          "[gpu][calibration][docs]") {
  // docs/gpu-calibration.md itself is rendered by `conveyor validation --calibration` from the
  // zoo graphs' profiles, and ctest's gpu-calibration-doc-current checks that it is current.
  // Here: the document follows the provider it is given.
  CalibrationDocument spec;
  int calls = 0;
  spec.profiles = [&calls](const std::string &model, const ProfileOptions &options) {
    ++calls;
    return modelCardProfile(model, options);
  };
  spec.profileSource = "PROFILES FROM A TEST";
  spec.regenerate = "REGENERATE COMMAND";
  auto rendered = renderCalibrationMarkdown(gpuDirectory(), spec);
  INFO(errorText(rendered));
  REQUIRE(rendered.ok());
  CHECK(calls > int(publishedMeasurements().size()));
  CHECK_THAT(*rendered, Contains("PROFILES FROM A TEST"));
  CHECK_THAT(*rendered, Contains("REGENERATE COMMAND"));
  for (const PublishedMeasurement &row : publishedMeasurements()) {
    CHECK_THAT(*rendered, Contains("`" + row.id + "`"));
  }
  // A provider that fails names the measurement.
  spec.profiles = [](const std::string &,
                     const ProfileOptions &) -> conveyor::Result<WorkloadProfile> {
    return conveyor::makeError("no graph");
  };
  auto failed = renderCalibrationMarkdown(gpuDirectory(), spec);
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error(), Contains("measurement '"));
  CHECK_THAT(failed.error(), Contains("no graph"));
}
