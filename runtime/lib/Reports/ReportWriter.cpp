// Writes a report's files and draws its plots with gnuplot (Debian's gnuplot-nox).
#include "conveyor/Reports/ReportWriter.h"
#include "conveyor/Reports/ReportRender.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace conveyor::reports {
namespace {

namespace fs = std::filesystem;

/// A string as a gnuplot single-quoted literal ('' is a quote inside one).
std::string gnuplotString(const std::string &text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') {
      out += '\'';
    }
  }
  return out + "'";
}

std::string dataNumber(double value) {
  return std::isfinite(value) ? fmt::format("{}", value) : std::string("NaN");
}

Result<std::string> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(path + ": cannot read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

std::string gnuplotScript(const Plot &plot, const std::string &svgPath) {
  std::string out = fmt::format("# {}: written by conveyor; run `gnuplot {}.gp` to redraw.\n",
                                plot.title, plot.id);
  out += "set terminal svg size 720,440 dynamic enhanced font 'sans,11' background '#ffffff'\n";
  out += "set output " + gnuplotString(svgPath) + "\n";
  out += "set title " + gnuplotString(plot.title) + " noenhanced\n";
  out += "set xlabel " + gnuplotString(plot.xLabel) + " noenhanced\n";
  out += "set ylabel " + gnuplotString(plot.yLabel) + " noenhanced\n";
  out += "set grid\nset key outside right top noenhanced\n";
  if (plot.logX) {
    out += "set logscale x\n";
  }
  if (plot.logY) {
    out += "set logscale y\n";
  }
  // Data: one datablock per series, "x y [colour]" per line.
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const PlotSeries &series = plot.series[s];
    out += fmt::format("$s{} << EOD\n", s);
    for (size_t i = 0; i < series.x.size(); ++i) {
      out += dataNumber(series.x[i]) + " " + dataNumber(series.y[i]);
      if (!series.colorValues.empty()) {
        out += ' ';
        out += dataNumber(series.colorValues[i]);
      }
      out += "\n";
    }
    out += "EOD\n";
  }
  if (plot.series.empty()) {
    out += "set label 1 'no data' at graph 0.5, graph 0.5 center\nplot NaN notitle\n";
    return out;
  }
  if (plot.style == PlotStyle::Bars) {
    out += "set style fill solid 0.7 border -1\nset boxwidth 0.6\nset yrange [0:*]\n"
           "set xrange [-0.6:" +
           fmt::format("{}", double(plot.categories.size()) - 0.4) + "]\nset xtics (";
    for (size_t i = 0; i < plot.categories.size(); ++i) {
      out += i ? ", " : "";
      out += gnuplotString(plot.categories[i]) + fmt::format(" {}", i);
    }
    out += ") rotate by -20 noenhanced\nset key off\n";
    out += "plot $s0 using 1:2 with boxes lc rgb '#4878a8' notitle\n";
    return out;
  }
  bool colored = std::any_of(plot.series.begin(), plot.series.end(),
                             [](const PlotSeries &s) { return !s.colorValues.empty(); });
  if (colored) {
    // Inside the frame: the colour box already takes the right margin.
    out += "set palette rgb 33,13,10\nset cblabel " + gnuplotString(plot.colorLabel) +
           " noenhanced\nset key inside top right opaque box\nset xtics rotate by -30\n";
  }
  out += "plot ";
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const PlotSeries &series = plot.series[s];
    out += s ? ", \\\n     " : "";
    if (plot.style == PlotStyle::Points && !series.colorValues.empty()) {
      out += fmt::format("$s{} using 1:2:3 with points pt 7 ps 0.8 palette title {}", s,
                         gnuplotString(series.name));
    } else if (plot.style == PlotStyle::Points && colored) {
      // An overlay on coloured points (e.g. the Pareto front): large open black circles.
      out += fmt::format("$s{} using 1:2 with points pt 6 ps 1.8 lw 1.5 lc rgb 'black' title {}", s,
                         gnuplotString(series.name));
    } else if (plot.style == PlotStyle::Points) {
      out += fmt::format("$s{} using 1:2 with points pt 7 ps 0.8 title {}", s,
                         gnuplotString(series.name));
    } else {
      out += fmt::format("$s{} using 1:2 with linespoints pt 7 ps 0.6 lw 1.5 title {}", s,
                         gnuplotString(series.name));
    }
  }
  return out + "\n";
}

std::optional<std::string> findGnuplot() {
  if (const char *forced = std::getenv("CONVEYOR_GNUPLOT")) {
    std::string path = forced;
    if (path.empty() || path == "none") {
      return std::nullopt;
    }
    return path;
  }
  const char *searchPath = std::getenv("PATH");
  std::string dirs = searchPath ? searchPath : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/gnuplot";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return std::nullopt;
}

Status runGnuplot(const std::string &gnuplot, const std::string &scriptPath) {
  std::string errorPath = scriptPath + ".stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errorPath.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char *> argv = {const_cast<char *>(gnuplot.c_str()),
                              const_cast<char *>(scriptPath.c_str()), nullptr};
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, gnuplot.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return makeError(fmt::format("cannot run {}: {}", gnuplot, std::strerror(spawned)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return makeError(fmt::format("waiting for {}: {}", gnuplot, std::strerror(errno)));
    }
  }
  std::string firstLine;
  if (Result<std::string> errors = readFile(errorPath); errors.ok()) {
    std::istringstream lines(*errors);
    while (std::getline(lines, firstLine) &&
           firstLine.find_first_not_of(" \t^") == std::string::npos) {
    }
  }
  std::error_code ignored;
  fs::remove(errorPath, ignored);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return makeError(fmt::format("{} {} failed (status {}){}", gnuplot, scriptPath,
                                 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                 firstLine.empty() ? "" : ": " + firstLine));
  }
  return Status::success();
}

Status writeFileAtomically(const std::string &path, const std::string &text) {
  std::string temporary = path + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      return makeError(fmt::format("{}: cannot write (does the directory exist and is it "
                                   "writable?)",
                                   temporary));
    }
    out << text;
    if (!out.flush()) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      return makeError(fmt::format("{}: write failed (disk full?)", temporary));
    }
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    fs::remove(temporary, error);
    return makeError(fmt::format("{}: cannot replace: {}", path, error.message()));
  }
  return Status::success();
}

Result<WrittenReport> writeReport(const Document &document, const std::string &directory,
                                  const ReportWriteOptions &options) {
  if (Status checked = checkDocument(document); !checked) {
    return makeError(checked.error());
  }
  std::error_code error;
  fs::path root(directory);
  fs::create_directories(root / "plots", error);
  if (error) {
    return makeError(
        fmt::format("{}: cannot create the report directory: {}", directory, error.message()));
  }
  WrittenReport written;
  auto write = [&](const fs::path &path, const std::string &text) -> Status {
    Status status = writeFileAtomically(path.string(), text);
    if (status) {
      written.files.push_back(path.string());
    }
    return status;
  };

  // Plots first: the Markdown and HTML say which ones were drawn.
  PlotImages images;
  std::optional<std::string> gnuplot;
  if (options.drawPlots) {
    gnuplot = options.gnuplot ? options.gnuplot : findGnuplot();
    if (!gnuplot) {
      images.skippedReason = "gnuplot is not installed (Debian: apt-get install gnuplot-nox)";
    }
  } else {
    images.skippedReason = "plots were turned off";
  }
  std::vector<std::string> failures;
  for (const Section &section : document.sections) {
    for (const Plot &plot : section.plots) {
      fs::path script = root / "plots" / (plot.id + ".gp");
      fs::path svg = root / "plots" / (plot.id + ".svg");
      // The script names its output relative to the plots folder, so the folder can move.
      if (Status status = write(script, gnuplotScript(plot, plot.id + ".svg")); !status) {
        return makeError(status.error());
      }
      if (!gnuplot) {
        continue;
      }
      // gnuplot writes its output straight to the file: draw to a temporary name (absolute,
      // so the working directory does not matter) in a copy of the script and rename, so an
      // interrupted run leaves no partial SVG.
      fs::path drawScript = root / "plots" / (plot.id + ".draw.gp");
      fs::path partial = fs::absolute(root / "plots" / (plot.id + ".svg.partial"));
      if (Status status =
              writeFileAtomically(drawScript.string(), gnuplotScript(plot, partial.string()));
          !status) {
        return makeError(status.error());
      }
      Status drawn = runGnuplot(*gnuplot, drawScript.string());
      fs::remove(drawScript, error);
      if (!drawn) {
        failures.push_back(plot.id + ": " + drawn.error());
        fs::remove(partial, error);
        continue;
      }
      fs::rename(partial, svg, error);
      Result<std::string> text = readFile(svg.string());
      if (error || !text) {
        failures.push_back(plot.id + ": gnuplot wrote no SVG");
        continue;
      }
      written.files.push_back(svg.string());
      images.svgById[plot.id] = std::move(*text);
    }
  }
  if (!failures.empty() && images.skippedReason.empty()) {
    images.skippedReason = "gnuplot failed: " + failures.front();
  }
  written.plotsDrawn = gnuplot.has_value() && failures.empty();
  written.plotNote = images.skippedReason;

  for (const Section &section : document.sections) {
    for (const Table &table : section.tables) {
      if (Status status = write(root / (document.name + "-" + table.id + ".csv"), renderCsv(table));
          !status) {
        return makeError(status.error());
      }
    }
  }
  if (Status status = write(root / (document.name + ".json"), renderJson(document)); !status) {
    return makeError(status.error());
  }
  if (Status status = write(root / (document.name + ".md"), renderMarkdown(document, images));
      !status) {
    return makeError(status.error());
  }
  if (Status status = write(root / (document.name + ".html"), renderHtml(document, images));
      !status) {
    return makeError(status.error());
  }
  return written;
}

} // namespace conveyor::reports
