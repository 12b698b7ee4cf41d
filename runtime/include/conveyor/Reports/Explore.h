// `conveyor explore`: a sweep of chip count x SRAM per chip x weight precision x sequences in
// flight for one model, evaluated in parallel, deterministic, resumable from its own JSONL
// results file, and reported as the fitting frontier (fewest chips per SRAM size and
// precision) and the Pareto front of per-user tokens/s vs J/token vs chips.
//
// The engine knows nothing about how a point is priced: the caller passes a PointEvaluator
// (the partition planner's estimate in `conveyor explore`, a closed form in the tests).
#pragma once

#include "conveyor/Reports/ReportDocument.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace conveyor::reports {

struct ExplorePoint {
  uint32_t chips = 0;
  double sramMegabytes = 0; // SRAM per chip, 1 MB = 1e6 bytes
  std::string precision;    // weight precision: "int8", "fp8", "fp16", ...
  uint32_t sequences = 1;   // sequences in flight
};

struct ExploreResult {
  ExplorePoint point;
  bool fits = false;
  std::string reason; // why it does not fit, or a caveat when it does
  uint32_t tensorParallel = 0, pipelineStages = 0;
  double decodeStepSeconds = NAN; // one token through the pipeline at the sweep's context
  double perUserTokensPerSecond = NAN;
  double aggregateTokensPerSecond = NAN;
  double joulesPerToken = NAN;
  double watts = NAN;
  double weightBytes = NAN, kvBytes = NAN; // whole model, at the point's precisions
  uint32_t minimumChips = 0;               // fewest chips of this SRAM size that fit (0: none)
};

/// Evaluates one point; an Error stops the sweep (a point that does not fit is a result).
/// Called from several threads at once: it must be thread-safe and deterministic.
using PointEvaluator = std::function<Result<ExploreResult>(const ExplorePoint &point)>;

struct ExploreOptions {
  std::vector<uint32_t> chips;
  std::vector<double> sramMegabytes;
  std::vector<std::string> precisions;
  std::vector<uint32_t> sequences;
  /// Identifies everything else the results depend on (model, context, system, version):
  /// lines of the results file with another sweep id are an error, not reused.
  std::string sweepId;
  std::string resultsPath; // JSONL: read for resume, then appended to; "" = none
  unsigned jobs = 1;
  /// Called after each point (from the calling thread) with (done, total, reused).
  std::function<void(size_t done, size_t total, size_t reused)> progress;
};

struct ExploreRun {
  std::vector<ExploreResult> results; // in sweep order (precision, SRAM, chips, sequences)
  size_t reused = 0;                  // taken from the results file
  size_t evaluated = 0;               // computed by this run
};

/// The sweep's points in their fixed order: precision, then SRAM, then chips, then sequences.
std::vector<ExplorePoint> explorePoints(const ExploreOptions &options);

/// Runs the sweep: reads `resultsPath` (if it exists), evaluates the points it lacks on
/// `jobs` threads and appends each result to it in sweep order as soon as all earlier ones
/// are written, so an interrupted run resumes where it stopped and the file's order does
/// not depend on thread timing.
Result<ExploreRun> runExplore(const ExploreOptions &options, const PointEvaluator &evaluate);

/// One result as one JSON line (no newline), with the sweep id.
std::string renderResultLine(const ExploreResult &result, const std::string &sweepId);
/// Parses a line renderResultLine wrote; `where` ("file:line") prefixes errors. Returns the
/// sweep id through `sweepId`.
Result<ExploreResult> parseResultLine(const std::string &line, const std::string &where,
                                      std::string &sweepId);

/// Parses "64..1024" (doubling from the first to the last, the last always included),
/// "64..1024:64" (arithmetic step) or "64,128,576" (a list); `option` names the flag in errors.
Result<std::vector<double>> parseSweepRange(const std::string &text, const std::string &option);

enum class Goal : uint8_t { Maximize, Minimize };

/// Indices of the points no other point dominates (at least as good in every objective and
/// better in one), ascending. `objectives[i]` are point i's values in the order of `goals`;
/// points with a NaN objective are never on the front. Exact duplicates are all kept.
std::vector<size_t> paretoFront(const std::vector<std::vector<double>> &objectives,
                                const std::vector<Goal> &goals);

/// For each (precision, SRAM size) of the sweep, the fewest chips among the fitting results
/// (sweep grid) and the planner's exact minimum; in sweep order.
struct FrontierRow {
  std::string precision;
  double sramMegabytes = 0;
  uint32_t fewestSweptChips = 0; // 0: no swept chip count fits
  uint32_t minimumChips = 0;     // 0: none fits at any count
};
std::vector<FrontierRow> fittingFrontier(const std::vector<ExploreResult> &results);

/// The explore report: setup, frontier table and plot, Pareto table and plots, all points.
Document makeExploreDocument(const std::string &model, const std::vector<std::string> &setup,
                             const std::vector<ExploreResult> &results);

} // namespace conveyor::reports
