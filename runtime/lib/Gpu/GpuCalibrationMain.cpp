// gpu-calibration: prints the calibrated factors (as the YAML holds them and as re-derived),
// or renders the calibration table from the model cards' shapes (MLIR-free). The checked-in
// docs/gpu-calibration.md is rendered from the zoo graphs' per-op profiles by `conveyor
// validation --calibration` (the same numbers: graph-profile-tests checks the profiles agree).

#include "conveyor/Gpu/Calibration.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

using namespace conveyor;

/// Writes `text` to `path` through a temporary file and a rename, so a failed write never
/// leaves half a document behind.
Status writeAtomically(const std::string &path, const std::string &text) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      return makeError(fmt::format("{}: cannot write (does the directory exist?)", temporary));
    }
    out << text;
    if (!out.flush()) {
      return makeError(fmt::format("{}: write failed", temporary));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    return makeError(fmt::format("{}: cannot replace: {}", path, error.message()));
  }
  return Status::success();
}

int printFactors(const std::string &systemsDir) {
  Result<std::vector<gpu::FactorCheck>> checks = gpu::checkCalibratedFactors(systemsDir);
  if (!checks.ok()) {
    std::cerr << "gpu-calibration: " << checks.error() << "\n";
    return 1;
  }
  for (const gpu::FactorCheck &check : *checks) {
    std::cout << fmt::format("{:<14} {:<40} yaml {:<12.6g} derived {:<12.6g} from {}\n", check.gpu,
                             gpu::calibratedFactorKey(check.factor), check.yamlValue,
                             check.derivedValue, check.measurementId);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Prints the GPU roofline's calibrated efficiency factors re-derived from their "
               "stated sources (--factors), or the modeled-vs-published table computed from the "
               "model cards' shapes. docs/gpu-calibration.md itself is written by `conveyor "
               "validation --calibration docs/gpu-calibration.md` from the zoo graphs."};
  std::string systemsDir = "systems/gpu";
  std::string output;
  std::string check;
  bool factors = false;
  app.add_option("--systems-dir", systemsDir, "directory of GPU descriptions (*.yaml)")
      ->capture_default_str();
  app.add_option("-o,--output", output, "write the document here (default: standard output)");
  app.add_option("--check", check, "compare with this checked-in document; exit 1 if it is stale");
  app.add_flag("--factors", factors,
               "print each calibrated factor as the YAML holds it and as re-derived");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  if (factors) {
    return printFactors(systemsDir);
  }
  Result<std::string> document = gpu::renderCalibrationMarkdown(systemsDir);
  if (!document.ok()) {
    std::cerr << "gpu-calibration: " << document.error() << "\n";
    return 1;
  }
  if (!check.empty()) {
    std::ifstream in(check, std::ios::binary);
    if (!in) {
      std::cerr << "gpu-calibration: " << check << ": cannot open the document to check\n";
      return 1;
    }
    std::ostringstream current;
    current << in.rdbuf();
    if (current.str() != *document) {
      std::cerr << "gpu-calibration: " << check
                << " differs from the model-card rendering (the checked-in "
                   "docs/gpu-calibration.md is the graph rendering: check it with conveyor "
                   "validation --check-calibration)\n";
      return 1;
    }
    return 0;
  }
  if (output.empty()) {
    std::cout << *document;
    return 0;
  }
  Status written = writeAtomically(output, *document);
  if (!written.ok()) {
    std::cerr << "gpu-calibration: " << written.error() << "\n";
    return 1;
  }
  return 0;
}
