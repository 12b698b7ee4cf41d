// The explore report: fitting frontier, Pareto front and every swept point, with plots.
#include "conveyor/Reports/Explore.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace conveyor::reports {
namespace {

std::vector<Column> pointColumns() {
  return {{"precision", "weights"},
          {"sram_mb", "SRAM per chip (MB)", NumberFormat::Integer},
          {"chips", "chips", NumberFormat::Integer},
          {"seqs", "sequences in flight", NumberFormat::Integer},
          {"fits", "fits"},
          {"tp", "TP", NumberFormat::Integer},
          {"stages", "pipeline stages", NumberFormat::Integer},
          {"decode_step_ms", "decode step (ms)", NumberFormat::Auto},
          {"per_user_tok_s", "per-user tok/s", NumberFormat::Fixed1},
          {"aggregate_tok_s", "aggregate tok/s", NumberFormat::Integer},
          {"j_per_token", "J/token", NumberFormat::Auto},
          {"kw", "power (kW)", NumberFormat::Fixed1},
          {"note", "note"}};
}

std::vector<Cell> pointRow(const ExploreResult &r) {
  return {r.point.precision,
          r.point.sramMegabytes,
          r.point.chips,
          r.point.sequences,
          r.fits ? "yes" : "no",
          r.fits ? Cell(r.tensorParallel) : Cell(),
          r.fits ? Cell(r.pipelineStages) : Cell(),
          r.decodeStepSeconds * 1e3,
          r.perUserTokensPerSecond,
          r.aggregateTokensPerSecond,
          r.joulesPerToken,
          r.watts / 1e3,
          r.reason};
}

} // namespace

Document makeExploreDocument(const std::string &model, const std::vector<std::string> &setup,
                             const std::vector<ExploreResult> &results) {
  Document document;
  document.name = "explore";
  document.title = "Design-space exploration: " + model;
  size_t fitting =
      std::count_if(results.begin(), results.end(), [](const ExploreResult &r) { return r.fits; });
  document.summary = setup;
  document.summary.push_back(fmt::format("{} points swept, {} fit.", results.size(), fitting));

  // Fitting frontier.
  Section frontier;
  frontier.heading = "Fitting frontier";
  frontier.paragraphs.push_back(
      "Fewest chips that hold the model (weights, KV cache for the sweep's context and "
      "sequences, activations, reserve) for each SRAM size and weight precision. "
      "\"fewest swept\" is the smallest chip count of the sweep grid that fits; \"minimum\" is "
      "the exact minimum at the fewest sequences swept, off the grid. Both follow the compile's "
      "rule (docs/partition.md): 8% of SRAM reserved, near-equal layer ranges, a node-sized tp "
      "when it fits, whole nodes; the minimum is what `conveyor compile --min-chips` prints for "
      "the base system with that SRAM per chip.");
  Table frontierTable;
  frontierTable.id = "frontier";
  frontierTable.columns = {
      {"precision", "weights"},
      {"sram_mb", "SRAM per chip (MB)", NumberFormat::Integer},
      {"fewest_swept_chips", "fewest swept chips that fit", NumberFormat::Integer},
      {"minimum_chips", "minimum chips (compile's rule)", NumberFormat::Integer}};
  std::vector<FrontierRow> rows = fittingFrontier(results);
  std::map<std::string, PlotSeries> byPrecision;
  std::vector<std::string> precisionOrder;
  for (const FrontierRow &row : rows) {
    frontierTable.rows.push_back({row.precision, row.sramMegabytes,
                                  row.fewestSweptChips ? Cell(row.fewestSweptChips) : Cell(),
                                  row.minimumChips ? Cell(row.minimumChips) : Cell()});
    if (!byPrecision.count(row.precision)) {
      precisionOrder.push_back(row.precision);
      byPrecision[row.precision].name = row.precision;
    }
    if (row.minimumChips) {
      byPrecision[row.precision].x.push_back(row.sramMegabytes);
      byPrecision[row.precision].y.push_back(row.minimumChips);
    }
  }
  frontier.tables.push_back(std::move(frontierTable));
  Plot frontierPlot;
  frontierPlot.id = "explore-frontier";
  frontierPlot.title = model + ": minimum chips vs SRAM per chip";
  frontierPlot.xLabel = "SRAM per chip (MB)";
  frontierPlot.yLabel = "minimum chips";
  frontierPlot.logY = true;
  for (const std::string &precision : precisionOrder) {
    frontierPlot.series.push_back(byPrecision[precision]);
  }
  frontier.plots.push_back(std::move(frontierPlot));
  document.sections.push_back(std::move(frontier));

  // Pareto front over the fitting points.
  Section pareto;
  pareto.heading = "Pareto front";
  pareto.paragraphs.push_back(
      "Fitting points that no other point beats on all three of: per-user tokens/s (higher "
      "is better), J/token (lower) and chips (lower). Steady-state decode at the sweep's mean "
      "context with the stated sequences in flight; J/token counts every chip's static power.");
  std::vector<size_t> fitIndex;
  std::vector<std::vector<double>> objectives;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].fits) {
      fitIndex.push_back(i);
      objectives.push_back({results[i].perUserTokensPerSecond, results[i].joulesPerToken,
                            double(results[i].point.chips)});
    }
  }
  std::vector<size_t> front =
      paretoFront(objectives, {Goal::Maximize, Goal::Minimize, Goal::Minimize});
  std::vector<const ExploreResult *> frontPoints;
  for (size_t f : front) {
    frontPoints.push_back(&results[fitIndex[f]]);
  }
  std::stable_sort(frontPoints.begin(), frontPoints.end(),
                   [](const ExploreResult *a, const ExploreResult *b) {
                     if (a->point.chips != b->point.chips) {
                       return a->point.chips < b->point.chips;
                     }
                     return a->perUserTokensPerSecond > b->perUserTokensPerSecond;
                   });
  Table frontTable;
  frontTable.id = "pareto";
  frontTable.title =
      fmt::format("{} of {} fitting points are on the front", front.size(), fitIndex.size());
  frontTable.columns = pointColumns();
  for (const ExploreResult *r : frontPoints) {
    frontTable.rows.push_back(pointRow(*r));
  }
  pareto.tables.push_back(std::move(frontTable));

  Plot scatter;
  scatter.id = "explore-pareto";
  scatter.title = model + ": per-user tokens/s vs J/token (colour: chips)";
  scatter.xLabel = "per-user tokens/s";
  scatter.yLabel = "J/token";
  scatter.colorLabel = "chips";
  scatter.logY = true;
  scatter.style = PlotStyle::Points;
  PlotSeries all{"all fitting points", {}, {}, {}};
  PlotSeries onFront{"Pareto front", {}, {}, {}};
  for (size_t i : fitIndex) {
    all.x.push_back(results[i].perUserTokensPerSecond);
    all.y.push_back(results[i].joulesPerToken);
    all.colorValues.push_back(results[i].point.chips);
  }
  for (const ExploreResult *r : frontPoints) {
    onFront.x.push_back(r->perUserTokensPerSecond);
    onFront.y.push_back(r->joulesPerToken);
  }
  scatter.series = {all, onFront};
  pareto.plots.push_back(std::move(scatter));

  Plot speed;
  speed.id = "explore-speed-vs-chips";
  speed.title = model + ": best per-user tokens/s by chip count (fitting points)";
  speed.xLabel = "chips";
  speed.yLabel = "per-user tokens/s";
  speed.logX = true;
  std::map<std::string, std::map<uint32_t, double>> best;
  for (size_t i : fitIndex) {
    double &slot = best[results[i].point.precision][results[i].point.chips];
    slot = std::max(slot, results[i].perUserTokensPerSecond);
  }
  for (const std::string &precision : precisionOrder) {
    PlotSeries series{precision, {}, {}, {}};
    for (const auto &[chips, tokens] : best[precision]) {
      series.x.push_back(chips);
      series.y.push_back(tokens);
    }
    if (!series.x.empty()) {
      speed.series.push_back(std::move(series));
    }
  }
  pareto.plots.push_back(std::move(speed));
  document.sections.push_back(std::move(pareto));

  Section all_;
  all_.heading = "Every point";
  all_.paragraphs.push_back("In sweep order (precision, SRAM, chips, sequences). The same rows "
                            "are in explore.jsonl, which a rerun resumes from.");
  Table pointsTable;
  pointsTable.id = "points";
  pointsTable.columns = pointColumns();
  for (const ExploreResult &r : results) {
    pointsTable.rows.push_back(pointRow(r));
  }
  all_.tables.push_back(std::move(pointsTable));
  document.sections.push_back(std::move(all_));
  return document;
}

} // namespace conveyor::reports
