// `conveyor explore`: sweep chips x SRAM per chip x precision x sequences in flight for a
// model and report the fitting frontier and the Pareto front. Flags only: the sweep engine
// and the planner evaluator are in runtime/lib/Reports.
#include "ReportCommands.h"

#include "conveyor/Reports/Explore.h"
#include "conveyor/Reports/PlannerEstimate.h"
#include "conveyor/Reports/ReportRender.h"
#include "conveyor/Reports/ReportWriter.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

namespace conveyor::tool {
namespace {

struct ExploreFlags {
  std::string model, system = "groq-576", report = "out";
  std::string chips = "64..1024", sramMb = "128..512", precisions = "int8,fp8,fp16",
              seqs = "1,8,32";
  std::string activations = "fp16", kv = "fp16";
  int64_t maxContext = 4096, context = 640;
  unsigned jobs = 0;
  bool noPlots = false, json = false, quiet = false;
};

int runExplore(const ExploreFlags &flags, const std::string &argv0) {
  using namespace conveyor::reports;
  Result<SourceModel> source = loadSourceModel(flags.model, argv0);
  if (!source) {
    return reportFailure(source.error());
  }
  const std::string &root = source->root;
  const partition::ModelSummary &model = source->model;
  std::string systemPath =
      flags.system.find('/') != std::string::npos || flags.system.ends_with(".yaml")
          ? flags.system
          : (std::filesystem::path(root) / "systems" / (flags.system + ".yaml")).string();
  Result<system::SystemConfig> base = system::loadSystemConfig(systemPath);
  if (!base) {
    return reportFailure(base.error());
  }
  LpuSettings settings;
  settings.plan.maxContext = flags.maxContext;
  if (Status precisions =
          parseActivationAndKvPrecisions(flags.activations, flags.kv, settings.plan);
      !precisions) {
    return reportFailure(precisions.error());
  }
  if (flags.maxContext < 1 || flags.context < 0 || flags.context > flags.maxContext) {
    return reportFailure("--context must be between 0 and --max-context (>= 1)");
  }

  ExploreOptions options;
  auto wholeList = [&](const std::string &text, const char *option,
                       std::vector<uint32_t> &out) -> Status {
    Result<std::vector<double>> values = parseSweepRange(text, option);
    if (!values) {
      return makeError(values.error());
    }
    for (double value : *values) {
      if (value != std::floor(value) || value > 1e6) {
        return makeError(
            fmt::format("{} '{}': {} is not a whole number up to 1,000,000", option, text, value));
      }
      out.push_back(uint32_t(value));
    }
    return Status::success();
  };
  if (Status status = wholeList(flags.chips, "--chips", options.chips); !status) {
    return reportFailure(status.error());
  }
  if (Status status = wholeList(flags.seqs, "--seqs", options.sequences); !status) {
    return reportFailure(status.error());
  }
  Result<std::vector<double>> sram = parseSweepRange(flags.sramMb, "--sram-mb");
  if (!sram) {
    return reportFailure(sram.error());
  }
  options.sramMegabytes = *sram;
  std::stringstream precisionList(flags.precisions);
  for (std::string precision; std::getline(precisionList, precision, ',');) {
    Result<system::DType> type = system::parseDType(precision);
    if (!type) {
      return reportFailure("--precisions: " + type.error());
    }
    options.precisions.push_back(system::dtypeName(*type));
  }
  options.jobs = flags.jobs ? flags.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::error_code error;
  std::filesystem::create_directories(flags.report, error);
  if (error) {
    return reportFailure(
        fmt::format("{}: cannot create the report directory: {}", flags.report, error.message()));
  }
  options.resultsPath = (std::filesystem::path(flags.report) / "explore.jsonl").string();
  // Everything besides the swept axes that the results depend on.
  options.sweepId = fmt::format("model={} system={}:{:016x} activations={} kv={} "
                                "max_context={} context={} estimator=planner-v2 rule=compiled",
                                model.name, base->name, system::fingerprint(*base),
                                flags.activations, flags.kv, flags.maxContext, flags.context);
  auto started = std::chrono::steady_clock::now();
  if (!flags.quiet) {
    auto lastPrinted = std::make_shared<double>(-1);
    options.progress = [started, lastPrinted](size_t done, size_t total, size_t reused) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      // At most ten lines a second, and always the last one.
      if (done != total && seconds - *lastPrinted < 0.1) {
        return;
      }
      *lastPrinted = seconds;
      fmt::print(stderr, "\rexplore: {}/{} points ({} resumed from explore.jsonl), {:.1f} s ", done,
                 total, reused, seconds);
      std::fflush(stderr);
    };
  }
  Result<ExploreRun> run = reports::runExplore(
      options, makePlannerEvaluator(model, *base, settings, uint64_t(flags.context)));
  if (!flags.quiet) {
    fmt::print(stderr, "\n");
  }
  if (!run) {
    return reportFailure(run.error());
  }
  std::vector<std::string> setup = {
      fmt::format("Model `{}` ({:.2f} B parameters) on `{}` chips ({:.1f} MB SRAM, {} W static "
                  "each as shipped), resized per point.",
                  model.name, double(model.totalWeights()) / 1e9, base->chip.name,
                  base->chip.sramBytes() / 1e6, base->chip.energy.staticWatts),
      fmt::format("Sweep: chips `{}`, SRAM per chip `{}` MB, weights `{}`, sequences in flight "
                  "`{}`; activations {}, KV cache {} sized for {} tokens per sequence; decode "
                  "priced at a context of {} tokens.",
                  flags.chips, flags.sramMb, flags.precisions, flags.seqs, flags.activations,
                  flags.kv, flags.maxContext, flags.context),
      "Each point is planned by the partition planner under the compile's rule (8% of SRAM "
      "reserved, near-equal layer ranges or else the greedy split, a node-sized tp when it "
      "fits; docs/partition.md): "
      "its fit, minimum and tp x stages are what `conveyor compile` builds on that system. It "
      "is priced from the planner's estimate of that plan (docs/reports.md): not a simulated "
      "schedule. Static power is charged for every chip of the point, used by the plan or not."};
  Document document = makeExploreDocument(model.name, setup, run->results);
  Result<WrittenReport> written =
      writeReportDocument(document, flags.report, flags.noPlots, flags.json);
  if (!written) {
    return reportFailure(written.error());
  }
  if (flags.json) {
    return 0;
  }
  size_t fits = 0;
  for (const ExploreResult &result : run->results) {
    fits += result.fits;
  }
  fmt::print("explore: {} points ({} evaluated, {} resumed), {} fit -> {}/explore.{{md,html,"
             "json,jsonl}}{}\n",
             run->results.size(), run->evaluated, run->reused, fits, flags.report,
             written->plotsDrawn ? "" : "; plots skipped: " + written->plotNote);
  fmt::print("  fit and minimum by the compile's rule (8% SRAM reserved, near-equal layer ranges "
             "or else the greedy split, node-sized tp; `conveyor compile --min-chips` for that "
             "SRAM per chip):\n");
  for (const FrontierRow &row : fittingFrontier(run->results)) {
    fmt::print("  {:<5} {:>6.0f} MB/chip: fewest swept chips {:>5}, compile's minimum {}\n",
               row.precision, row.sramMegabytes,
               row.fewestSweptChips ? std::to_string(row.fewestSweptChips) : "-",
               row.minimumChips ? std::to_string(row.minimumChips) : "-");
  }
  return 0;
}

} // namespace

ReportCommand registerExploreCommand(CLI::App &app, const std::string &argv0) {
  auto flags = std::make_shared<ExploreFlags>();
  CLI::App *explore = app.add_subcommand(
      "explore", "Sweep chip count x SRAM per chip x weight precision x sequences in flight "
                 "for a model; report the fitting frontier and the Pareto front of per-user "
                 "tokens/s vs J/token vs chips. Parallel, deterministic, resumable.");
  explore
      ->add_option("--model,-m", flags->model, "Zoo model name, zoo config JSON or zoo ONNX path")
      ->required();
  explore
      ->add_option("--system", flags->system,
                   "Base system (name in systems/ or a YAML path) whose chip is resized")
      ->capture_default_str();
  explore->add_option("--chips", flags->chips, "Chip counts: A..B (doubling), A..B:STEP, A,B,C")
      ->capture_default_str();
  explore->add_option("--sram-mb", flags->sramMb, "SRAM per chip in MB (1e6 bytes), as --chips")
      ->capture_default_str();
  explore->add_option("--precisions", flags->precisions, "Weight precisions, comma-separated")
      ->capture_default_str();
  explore->add_option("--seqs", flags->seqs, "Sequences in flight, as --chips")
      ->capture_default_str();
  explore->add_option("--activations", flags->activations, "Activation precision")
      ->capture_default_str();
  explore->add_option("--kv", flags->kv, "KV-cache precision")->capture_default_str();
  explore
      ->add_option("--max-context", flags->maxContext,
                   "KV cache sized for this many tokens per sequence")
      ->capture_default_str();
  explore->add_option("--context", flags->context, "Context at which decode is priced")
      ->capture_default_str();
  explore->add_option("--jobs,-j", flags->jobs, "Threads (default: all cores)");
  explore
      ->add_option("--report,-r", flags->report,
                   "Directory for the report and explore.jsonl (resumed when present)")
      ->capture_default_str();
  addReportOutputFlags(*explore, flags->noPlots, flags->json, flags->quiet);
  return {explore, [flags, argv0] { return runExplore(*flags, argv0); }};
}

} // namespace conveyor::tool
