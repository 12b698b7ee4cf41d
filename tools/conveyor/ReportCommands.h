// The report subcommands of `conveyor` (compare, explore, validation): each registers its
// flags on the app and returns what to run when it was the subcommand given.
#pragma once

#include "conveyor/Partition/Planner.h"
#include "conveyor/Reports/ReportRender.h"
#include "conveyor/Reports/ReportWriter.h"
#include "conveyor/Support/Result.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace conveyor::tool {

struct ReportCommand {
  CLI::App *command = nullptr;
  std::function<int()> run;
};

/// `conveyor compare` (CompareCommand.cpp) and `conveyor validation`.
std::vector<ReportCommand> registerCompareCommands(CLI::App &app, const std::string &argv0);
/// `conveyor explore` (ExploreCommand.cpp).
ReportCommand registerExploreCommand(CLI::App &app, const std::string &argv0);

/// Prints "conveyor: error: <message>" and returns 1.
int reportFailure(const std::string &message);

/// `conveyor validation` (ValidationCommand.cpp): docs/validation.md (-o, --check) and
/// docs/gpu-calibration.md (--calibration, --check-calibration).
struct ValidationFlags {
  std::string output, check, calibration, checkCalibration;
};
int runValidation(const ValidationFlags &flags, const std::string &argv0);

/// `conveyor inspect --profile FILE` (ValidationCommand.cpp): the per-op workload profile of
/// the graph, with every op's FLOPs and bytes for a prefill of `prompt` tokens and one decode
/// step at `context` tokens, as JSON ('-' = stdout).
int writeGraphProfile(const std::string &onnxPath, const std::string &output, int64_t prompt,
                      int64_t context, const std::string &kvPrecision);

// Shared by the report subcommands (defined in CompareCommand.cpp).

/// The Conveyor source tree (models/zoo/configs) above the executable or the working
/// directory, or an error saying to set CONVEYOR_ROOT.
Result<std::string> findSourceRoot(const std::string &argv0);

/// A model resolved in the Conveyor source tree (`reports::resolveModel`).
struct SourceModel {
  std::string root; // the source tree
  partition::ModelSummary model;
};
/// findSourceRoot, then the model named by --model (zoo name, config JSON or ONNX path).
Result<SourceModel> loadSourceModel(const std::string &model, const std::string &argv0);

/// Parses --activations and --kv into `plan`; the error names the flag.
Status parseActivationAndKvPrecisions(const std::string &activations, const std::string &kv,
                                      partition::PlanOptions &plan);

/// Registers --no-plots, --json and --quiet/-q.
void addReportOutputFlags(CLI::App &command, bool &noPlots, bool &json, bool &quiet);

/// Writes `document` into `directory` (gnuplot plots unless `noPlots`), then prints its
/// JSON on stdout when `printJson`.
Result<reports::WrittenReport> writeReportDocument(const reports::Document &document,
                                                   const std::string &directory, bool noPlots,
                                                   bool printJson);

} // namespace conveyor::tool
