// Runs the same traffic on every compared system and builds the compare report.
#include "conveyor/Reports/Compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace conveyor::reports {

std::vector<double> defaultLoads(double baseRate) {
  std::vector<double> loads;
  for (double factor : {0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0}) {
    loads.push_back(baseRate * factor);
  }
  return loads;
}

std::vector<uint64_t> servingKvBuckets(std::span<const runtime::Request> requests) {
  if (requests.empty()) {
    return {};
  }
  uint64_t longest = 0, shortestPrompt = UINT64_MAX;
  for (const runtime::Request &request : requests) {
    longest = std::max(longest, uint64_t(request.promptTokens) + request.outputTokens);
    shortestPrompt = std::min<uint64_t>(shortestPrompt, request.promptTokens);
  }
  std::vector<uint64_t> buckets;
  // The first decode step of a sequence needs its prompt + 1 tokens of KV.
  for (uint64_t length = 512; length < longest; length *= 2) {
    if (length > shortestPrompt) {
      buckets.push_back(length);
    }
  }
  buckets.push_back(longest);
  return buckets;
}

Result<std::vector<CompareRun>> runCompare(const std::vector<CompareSystem> &systems,
                                           const CompareOptions &options) {
  if (systems.empty()) {
    return makeError("compare: no systems to compare; pass --systems lpu:NAME,gpu:NAMExN");
  }
  bool trace = !options.traffic.traceFile.empty();
  std::vector<CompareRun> runs;
  for (const CompareSystem &system : systems) {
    std::vector<std::pair<double, bool>> rates; // (rate, base)
    rates.push_back({trace ? NAN : options.traffic.rate.value_or(NAN), true});
    if (!trace) {
      for (double load : options.loads) {
        rates.push_back({load, false});
      }
    }
    for (const auto &[rate, base] : rates) {
      runtime::TrafficOptions traffic = options.traffic;
      if (!trace) {
        traffic.rate = rate;
        traffic.arrivals.clear();
      }
      if (options.progress) {
        options.progress(trace ? fmt::format("{}: trace {}", system.label, traffic.traceFile)
                               : fmt::format("{} at {:.4g} req/s", system.label, rate));
      }
      Result<runtime::ServingReport> report = runtime::serve(traffic, *system.backend);
      if (!report) {
        return makeError(fmt::format("{}{}: {}", system.label,
                                     trace ? "" : fmt::format(" at {:.4g} req/s", rate),
                                     report.error()));
      }
      runs.push_back({system.label, system.kind, system.source, rate, base, std::move(*report)});
    }
  }
  return runs;
}

namespace {

std::vector<Column> runColumns(bool withLoad) {
  std::vector<Column> columns = {
      {"system", "system"}, {"kind", "kind"}, {"source", "figures from"}};
  if (withLoad) {
    columns.push_back({"offered_req_s", "offered load (req/s)", NumberFormat::Auto});
  }
  std::vector<Column> metrics = {
      {"devices", "chips / GPUs", NumberFormat::Integer},
      {"per_user_tok_s", "per-user tok/s (mean)", NumberFormat::Fixed1},
      {"aggregate_tok_s", "aggregate tok/s", NumberFormat::Fixed1},
      {"j_per_token", "J/token", NumberFormat::Auto},
      {"idle_energy_share", "idle share of energy", NumberFormat::Percent},
      {"ttft_p50_ms", "TTFT p50 (ms)", NumberFormat::Auto},
      {"ttft_p99_ms", "TTFT p99 (ms)", NumberFormat::Auto},
      {"tpot_p50_ms", "TPOT p50 (ms)", NumberFormat::Auto},
      {"tpot_p99_ms", "TPOT p99 (ms)", NumberFormat::Auto},
      {"e2e_p99_s", "E2E p99 (s)", NumberFormat::Auto},
      {"mean_seqs_in_flight", "mean sequences in flight", NumberFormat::Fixed1},
      {"slo_attainment", "SLO met", NumberFormat::Percent},
      {"average_kw", "average power (kW)", NumberFormat::Auto},
      {"requests", "requests", NumberFormat::Integer}};
  columns.insert(columns.end(), metrics.begin(), metrics.end());
  return columns;
}

std::vector<Cell> runRow(const CompareRun &run, bool withLoad) {
  const runtime::ServingReport &r = run.report;
  std::vector<Cell> row = {run.system, run.kind, run.source};
  if (withLoad) {
    row.push_back(run.offeredRate);
  }
  std::vector<Cell> metrics = {r.devices,
                               r.userTokensPerSecond.mean,
                               r.outputTokensPerSecond,
                               r.joulesPerToken,
                               r.idleEnergyShare,
                               r.ttft.p50 * 1e3,
                               r.ttft.p99 * 1e3,
                               r.tpot.p50 * 1e3,
                               r.tpot.p99 * 1e3,
                               r.e2e.p99,
                               r.meanSequencesInFlight,
                               r.sloAttainment,
                               r.averageWatts / 1e3,
                               r.requests};
  row.insert(row.end(), metrics.begin(), metrics.end());
  return row;
}

Plot barPlot(const std::string &id, const std::string &title, const std::string &yLabel,
             const std::vector<const CompareRun *> &base,
             double (*metric)(const runtime::ServingReport &)) {
  Plot plot;
  plot.id = id;
  plot.title = title;
  plot.xLabel = "system";
  plot.yLabel = yLabel;
  plot.style = PlotStyle::Bars;
  PlotSeries series{yLabel, {}, {}, {}};
  for (size_t i = 0; i < base.size(); ++i) {
    plot.categories.push_back(base[i]->system);
    series.x.push_back(double(i));
    series.y.push_back(metric(base[i]->report));
  }
  plot.series.push_back(std::move(series));
  return plot;
}

Plot curvePlot(const std::string &id, const std::string &title, const std::string &xLabel,
               const std::string &yLabel, bool logY, const std::vector<CompareSystem> &systems,
               const std::vector<CompareRun> &runs, double (*x)(const CompareRun &),
               double (*y)(const CompareRun &)) {
  Plot plot;
  plot.id = id;
  plot.title = title;
  plot.xLabel = xLabel;
  plot.yLabel = yLabel;
  plot.logX = true;
  plot.logY = logY;
  for (const CompareSystem &system : systems) {
    PlotSeries series{system.label, {}, {}, {}};
    for (const CompareRun &run : runs) {
      if (run.system == system.label && !run.base && std::isfinite(y(run))) {
        series.x.push_back(x(run));
        series.y.push_back(y(run));
      }
    }
    plot.series.push_back(std::move(series));
  }
  return plot;
}

} // namespace

Document makeCompareDocument(const std::string &model, const std::vector<std::string> &setup,
                             const std::vector<CompareSystem> &systems,
                             const std::vector<CompareRun> &runs) {
  Document document;
  document.name = "compare";
  document.title = "Serving comparison: " + model;
  document.summary = setup;

  std::vector<const CompareRun *> base;
  bool sweep = false;
  for (const CompareRun &run : runs) {
    if (run.base) {
      base.push_back(&run);
    } else {
      sweep = true;
    }
  }

  Section systemsSection;
  systemsSection.heading = "Systems";
  for (const CompareSystem &system : systems) {
    std::string line = fmt::format("**{}** ({})", system.label, system.kind);
    for (const std::string &note : system.notes) {
      line += "; " + note;
    }
    systemsSection.paragraphs.push_back(line + ".");
  }
  document.sections.push_back(std::move(systemsSection));

  Section headline;
  headline.heading = "At the base load";
  headline.paragraphs.push_back(
      "Per-user tok/s is the mean over requests of (output tokens - 1) / (last token - first "
      "token); aggregate tok/s is all output tokens over the makespan; J/token counts static "
      "power over the whole run (busy or idle) plus the dynamic energy, over output tokens. "
      "Definitions: docs/runtime.md. \"Figures from\" says where a system's numbers come "
      "from: an LPU's compiled and simulated schedule, or (\"estimated: ...\", with the "
      "reason) the partition planner's estimate when no schedule could be built; a GPU's "
      "calibrated roofline. Method: docs/reports.md.");
  Table table;
  table.id = "systems";
  table.columns = runColumns(false);
  for (const CompareRun *run : base) {
    table.rows.push_back(runRow(*run, false));
  }
  headline.tables.push_back(std::move(table));
  headline.plots.push_back(
      barPlot("per-user-tokens", model + ": per-user tokens/s", "tokens/s", base,
              [](const runtime::ServingReport &r) { return r.userTokensPerSecond.mean; }));
  headline.plots.push_back(
      barPlot("aggregate-tokens", model + ": aggregate tokens/s", "tokens/s", base,
              [](const runtime::ServingReport &r) { return r.outputTokensPerSecond; }));
  headline.plots.push_back(
      barPlot("joules-per-token", model + ": J/token", "J/token", base,
              [](const runtime::ServingReport &r) { return r.joulesPerToken; }));
  headline.plots.push_back(
      barPlot("ttft-p99", model + ": TTFT p99", "ms", base,
              [](const runtime::ServingReport &r) { return r.ttft.p99 * 1e3; }));
  headline.plots.push_back(
      barPlot("tpot-p99", model + ": TPOT p99", "ms", base,
              [](const runtime::ServingReport &r) { return r.tpot.p99 * 1e3; }));
  headline.plots.push_back(
      barPlot("devices", model + ": chips or GPUs used", "devices", base,
              [](const runtime::ServingReport &r) { return double(r.devices); }));
  document.sections.push_back(std::move(headline));

  if (sweep) {
    Section curves;
    curves.heading = "Latency-throughput over load";
    curves.paragraphs.push_back(
        "The same traffic (seed, lengths) at each offered request rate. A curve bends up where "
        "the system saturates: queueing then dominates TTFT, and larger batches (GPU) or more "
        "sequences in the pipeline (LPU) lengthen TPOT.");
    Table loads;
    loads.id = "loads";
    loads.columns = runColumns(true);
    for (const CompareRun &run : runs) {
      if (!run.base) {
        loads.rows.push_back(runRow(run, true));
      }
    }
    curves.tables.push_back(std::move(loads));
    auto aggregate = [](const CompareRun &r) { return r.report.outputTokensPerSecond; };
    curves.plots.push_back(curvePlot("latency-tpot", model + ": p99 TPOT vs aggregate throughput",
                                     "aggregate tokens/s", "TPOT p99 (ms)", true, systems, runs,
                                     aggregate,
                                     [](const CompareRun &r) { return r.report.tpot.p99 * 1e3; }));
    curves.plots.push_back(curvePlot("latency-ttft", model + ": p99 TTFT vs aggregate throughput",
                                     "aggregate tokens/s", "TTFT p99 (ms)", true, systems, runs,
                                     aggregate,
                                     [](const CompareRun &r) { return r.report.ttft.p99 * 1e3; }));
    curves.plots.push_back(curvePlot(
        "user-vs-load", model + ": per-user tokens/s vs offered load", "offered load (req/s)",
        "per-user tokens/s", false, systems, runs,
        [](const CompareRun &r) { return r.offeredRate; },
        [](const CompareRun &r) { return r.report.userTokensPerSecond.mean; }));
    curves.plots.push_back(curvePlot(
        "energy-vs-load", model + ": J/token vs offered load", "offered load (req/s)", "J/token",
        true, systems, runs, [](const CompareRun &r) { return r.offeredRate; },
        [](const CompareRun &r) { return r.report.joulesPerToken; }));
    document.sections.push_back(std::move(curves));
  }
  return document;
}

} // namespace conveyor::reports
