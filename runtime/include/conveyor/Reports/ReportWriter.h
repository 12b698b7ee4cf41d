// Writes a report Document to a directory: <name>.md, <name>.html, <name>.json, one
// <name>-<table>.csv per table, and plots/<id>.gp (gnuplot scripts with their data inline)
// drawn to plots/<id>.svg by gnuplot when it is installed. Without gnuplot the other files
// are still written and say that the plots were skipped.
#pragma once

#include "conveyor/Reports/ReportDocument.h"
#include "conveyor/Support/Result.h"

#include <optional>
#include <string>
#include <vector>

namespace conveyor::reports {

/// The gnuplot script that draws `plot` to `svgPath` (an SVG 720x440), data inline as
/// datablocks so the script runs on its own.
std::string gnuplotScript(const Plot &plot, const std::string &svgPath);

/// The gnuplot executable: $CONVEYOR_GNUPLOT when set (empty or "none" = no gnuplot), else
/// `gnuplot` on PATH; nullopt when there is none.
std::optional<std::string> findGnuplot();

/// Runs `gnuplot script` (no shell); the error quotes its exit status and first stderr line.
Status runGnuplot(const std::string &gnuplot, const std::string &scriptPath);

/// Writes `text` to `path` through `<path>.partial` and a rename: a failed write leaves
/// no half-written file.
Status writeFileAtomically(const std::string &path, const std::string &text);

struct ReportWriteOptions {
  bool drawPlots = true;
  /// gnuplot to use; nullopt = findGnuplot().
  std::optional<std::string> gnuplot;
};

struct WrittenReport {
  std::vector<std::string> files; // every file written, in writing order
  bool plotsDrawn = false;
  std::string plotNote; // why plots were not drawn (empty when they were)
};

/// Creates `directory` if needed and writes every file of the report. Checks the document
/// first (checkDocument).
Result<WrittenReport> writeReport(const Document &document, const std::string &directory,
                                  const ReportWriteOptions &options = {});

} // namespace conveyor::reports
