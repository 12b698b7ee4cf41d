// `conveyor compare` (same traffic on LPU and GPU systems, report with plots) and
// `conveyor validation` (modeled vs published table). Flags only: the work is in
// runtime/lib/Reports.
#include "ReportCommands.h"

#include "conveyor/Partition/ModelSummaryAnalysis.h"
#include "conveyor/Reports/Compare.h"
#include "conveyor/Reports/PlannerEstimate.h"
#include "conveyor/Reports/ReportRender.h"
#include "conveyor/Reports/ReportWriter.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace conveyor::tool {
namespace {

struct CompareFlags {
  std::string model, systems = "lpu:groq-576,gpu:h100x8", report = "out";
  runtime::TrafficOptions traffic;
  double rate = 2;
  std::string loads = "auto";
  std::string lpuWeights = "auto", activations = "fp16", kv = "fp16", gpuPrecision = "bf16";
  std::string seqs = "auto";
  int64_t maxContext = 4096;
  bool noPlots = false, json = false, quiet = false;
};

std::vector<std::string> splitList(const std::string &text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return parts;
}

int runCompare(const CompareFlags &flags, const std::string &argv0) {
  using namespace conveyor::reports;
  Result<SourceModel> source = loadSourceModel(flags.model, argv0);
  if (!source) {
    return reportFailure(source.error());
  }
  const std::string &root = source->root;
  const partition::ModelSummary &model = source->model;
  CompareSettings settings;
  settings.root = root;
  settings.lpuWeights = flags.lpuWeights;
  settings.gpuPrecision = flags.gpuPrecision;
  settings.maxContextTokens = uint64_t(flags.maxContext);
  settings.lpu.plan.maxContext = flags.maxContext;
  if (flags.seqs == "auto") {
    settings.lpuSequencesAuto = true;
  } else if (flags.seqs.empty() ||
             flags.seqs.find_first_not_of("0123456789") != std::string::npos ||
             flags.seqs.size() > 6 || std::stol(flags.seqs) < 1) {
    return reportFailure("--seqs must be 'auto' or a whole number >= 1, got '" + flags.seqs + "'");
  } else {
    settings.lpu.plan.seqsInFlight = std::stol(flags.seqs);
  }
  if (Status precisions =
          parseActivationAndKvPrecisions(flags.activations, flags.kv, settings.lpu.plan);
      !precisions) {
    return reportFailure(precisions.error());
  }
  if (flags.maxContext < 1) {
    return reportFailure("--max-context must be at least 1");
  }
  // GPU systems time the per-op profile of the model's cv.graph when the zoo has it.
  {
    std::filesystem::path given(flags.model);
    std::filesystem::path graph =
        given.extension() == ".onnx"
            ? given
            : std::filesystem::path(root) / "models/zoo/onnx" /
                  ((given.extension() == ".json" ? given.stem().string() : flags.model) + ".onnx");
    if (std::filesystem::exists(graph)) {
      Result<partition::ModelSummary> summary = partition::summarizeOnnxModel(graph.string());
      if (!summary) {
        // The config still describes the model: say why the graph was not used, go on.
        fmt::print(stderr, "conveyor: warning: GPU profiles from the zoo config: {}\n",
                   summary.error());
      } else {
        settings.graphModel = std::move(*summary);
      }
    }
    if (settings.graphModel) {
      settings.graphModel->name = model.name;
      settings.graphSource = graph.lexically_relative(root).string();
      if (settings.graphSource.empty() || settings.graphSource.rfind("..", 0) == 0) {
        settings.graphSource = graph.string();
      }
    }
  }

  std::vector<CompareSystem> systems;
  for (const std::string &spec : splitList(flags.systems)) {
    Result<CompareSystem> system = makeCompareSystem(spec, model, settings);
    if (!system) {
      return reportFailure(system.error());
    }
    systems.push_back(std::move(*system));
  }

  CompareOptions options;
  options.traffic = flags.traffic;
  if (options.traffic.traceFile.empty()) {
    if (!(flags.rate > 0)) {
      return reportFailure("--rate must be positive (requests/s)");
    }
    options.traffic.rate = flags.rate;
    if (options.traffic.requests == 0) {
      options.traffic.requests = 200;
    }
  }
  if (flags.loads == "auto") {
    options.loads = defaultLoads(flags.rate);
  } else if (flags.loads != "none") {
    Result<std::vector<double>> loads = parseSweepRange(flags.loads, "--loads");
    if (!loads) {
      return reportFailure(loads.error());
    }
    options.loads = *loads;
  }
  if (!flags.quiet) {
    options.progress = [](const std::string &line) {
      fmt::print(stderr, "\rcompare: {:<60}", line);
      std::fflush(stderr);
    };
  }
  Result<std::vector<CompareRun>> runs = reports::runCompare(systems, options);
  if (!flags.quiet) {
    fmt::print(stderr, "\r{:<70}\r", "");
  }
  if (!runs) {
    return reportFailure(runs.error());
  }
  std::vector<std::string> setup = {
      fmt::format("Model `{}` ({:.2f} B parameters); systems: {}.", model.name,
                  double(model.totalWeights()) / 1e9, flags.systems),
      options.traffic.traceFile.empty()
          ? fmt::format("Traffic: {} synthetic requests, Poisson arrivals at {} req/s (base "
                        "load), prompt `{}`, output `{}`, seed {}, admission `{}`; every "
                        "system serves the same requests.",
                        options.traffic.requests, flags.rate, options.traffic.promptTokens,
                        options.traffic.outputTokens, options.traffic.seed,
                        options.traffic.admission)
          : fmt::format("Traffic: trace `{}` (no load sweep: its arrivals are fixed).",
                        options.traffic.traceFile),
      fmt::format("LPU systems are priced from the partition planner's estimate (not a "
                  "simulated schedule); GPU systems from the calibrated roofline "
                  "(docs/gpu-model.md) over the per-op profile of {}. Method: docs/reports.md.",
                  settings.graphModel ? "the graph " + settings.graphSource
                                      : std::string("the zoo config (no zoo graph found)"))};
  Document document = makeCompareDocument(model.name, setup, systems, *runs);
  Result<WrittenReport> written =
      writeReportDocument(document, flags.report, flags.noPlots, flags.json);
  if (!written) {
    return reportFailure(written.error());
  }
  if (flags.json) {
    return 0;
  }
  fmt::print("compare: {} systems x {} loads -> {}/compare.{{md,html,json}} ({} files){}\n",
             systems.size(), options.traffic.traceFile.empty() ? 1 + options.loads.size() : 1,
             flags.report, written->files.size(),
             written->plotsDrawn ? "" : "; plots skipped: " + written->plotNote);
  for (const CompareRun &run : *runs) {
    if (run.base) {
      fmt::print("  {:<18} {:>5} devices  {:>8.1f} tok/s/user  {:>9.1f} tok/s  {:>8.3g} "
                 "J/token  TTFT p99 {:.3g} ms  TPOT p99 {:.3g} ms\n",
                 run.system, run.report.devices, run.report.userTokensPerSecond.mean,
                 run.report.outputTokensPerSecond, run.report.joulesPerToken,
                 run.report.ttft.p99 * 1e3, run.report.tpot.p99 * 1e3);
    }
  }
  return 0;
}

} // namespace

int reportFailure(const std::string &message) {
  std::fflush(stdout);
  fmt::print(stderr, "conveyor: error: {}\n", message);
  return 1;
}

Result<std::string> findSourceRoot(const std::string &argv0) {
  std::optional<std::string> root = reports::findRepoRoot(argv0);
  if (!root) {
    return makeError("cannot find the Conveyor source tree (models/zoo/configs) above the "
                     "executable or the working directory; set CONVEYOR_ROOT to the repository");
  }
  return *root;
}

Result<SourceModel> loadSourceModel(const std::string &model, const std::string &argv0) {
  Result<std::string> root = findSourceRoot(argv0);
  if (!root) {
    return root.takeError();
  }
  Result<partition::ModelSummary> summary = reports::resolveModel(model, *root);
  if (!summary) {
    return summary.takeError();
  }
  return SourceModel{*root, std::move(*summary)};
}

Status parseActivationAndKvPrecisions(const std::string &activations, const std::string &kv,
                                      partition::PlanOptions &plan) {
  for (auto [text, target, option] :
       {std::tuple{&activations, &plan.activations, "--activations"},
        std::tuple{&kv, &plan.kv, "--kv"}}) {
    Result<system::DType> type = system::parseDType(*text);
    if (!type) {
      return makeError(std::string(option) + ": " + type.error());
    }
    *target = *type;
  }
  return Status::success();
}

void addReportOutputFlags(CLI::App &command, bool &noPlots, bool &json, bool &quiet) {
  command.add_flag("--no-plots", noPlots, "Do not run gnuplot");
  command.add_flag("--json", json, "Print the report's JSON on stdout");
  command.add_flag("--quiet,-q", quiet, "No progress on stderr");
}

Result<reports::WrittenReport> writeReportDocument(const reports::Document &document,
                                                   const std::string &directory, bool noPlots,
                                                   bool printJson) {
  reports::ReportWriteOptions writeOptions;
  writeOptions.drawPlots = !noPlots;
  Result<reports::WrittenReport> written = reports::writeReport(document, directory, writeOptions);
  if (written && printJson) {
    fmt::print("{}", reports::renderJson(document));
  }
  return written;
}

std::vector<ReportCommand> registerCompareCommands(CLI::App &app, const std::string &argv0) {
  auto flags = std::make_shared<CompareFlags>();
  flags->traffic.promptTokens = "512";
  flags->traffic.outputTokens = "128";
  CLI::App *compare = app.add_subcommand(
      "compare", "Serve the same request traffic on LPU and GPU systems and write a report "
                 "(Markdown, HTML, CSV, JSON, gnuplot plots): per-user and aggregate tokens/s, "
                 "J/token, TTFT, p99 TPOT, devices, latency-throughput curves over load");
  compare
      ->add_option("--model,-m", flags->model,
                   "Zoo model name (models/zoo/configs/NAME.json), a zoo config or a zoo ONNX "
                   "path")
      ->required();
  compare
      ->add_option("--systems", flags->systems,
                   "Comma-separated: lpu:NAME (systems/NAME.yaml) and gpu:NAMExN[:tpT] "
                   "(systems/gpu/NAME.yaml; h100 = h100-sxm, a100 = a100-sxm-80g)")
      ->capture_default_str();
  compare->add_option("--report,-r", flags->report, "Directory to write the report into")
      ->capture_default_str();
  compare->add_option("--trace", flags->traffic.traceFile,
                      "Serve this trace (JSONL or CSV) instead of synthetic traffic");
  compare->add_option("--requests", flags->traffic.requests,
                      "Synthetic requests per run (default 200)");
  compare->add_option("--rate", flags->rate, "Base load: Poisson arrivals, requests/s")
      ->capture_default_str();
  compare
      ->add_option("--prompt", flags->traffic.promptTokens,
                   "Prompt length: N, uniform:min=A,max=B or lognormal:mean=M,sigma=S")
      ->capture_default_str();
  compare->add_option("--output", flags->traffic.outputTokens, "Output length, as --prompt")
      ->capture_default_str();
  compare->add_option("--seed", flags->traffic.seed, "Seed of the synthetic traffic")
      ->capture_default_str();
  compare
      ->add_option("--admission", flags->traffic.admission,
                   "Admission policy: fcfs[:max_sequences=N] or fcfs-kv:kv_tokens=N")
      ->capture_default_str();
  compare->add_option("--slo-ttft", flags->traffic.slo.ttftSeconds, "Goodput SLO on TTFT (s)");
  compare->add_option("--slo-tpot", flags->traffic.slo.tpotSeconds, "Goodput SLO on TPOT (s)");
  compare
      ->add_option("--loads", flags->loads,
                   "Request rates of the latency-throughput sweep: A,B,C, A..B (doubling), "
                   "A..B:STEP, 'auto' (base x 1/8..32) or 'none'")
      ->capture_default_str();
  compare
      ->add_option("--lpu-weights", flags->lpuWeights,
                   "LPU weight precision: auto (widest of fp16, fp8, int8 that fits) or a "
                   "dtype")
      ->capture_default_str();
  compare->add_option("--activations", flags->activations, "LPU activation precision")
      ->capture_default_str();
  compare->add_option("--kv", flags->kv, "LPU KV-cache precision")->capture_default_str();
  compare
      ->add_option("--seqs", flags->seqs,
                   "LPU sequences in flight (KV cache resident for each): N, or auto = the "
                   "most of 64, 32, ..., 1 that fit")
      ->capture_default_str();
  compare
      ->add_option("--max-context", flags->maxContext,
                   "Longest context a sequence may reach (sizes the KV cache)")
      ->capture_default_str();
  compare->add_option("--gpu-precision", flags->gpuPrecision, "GPU weights/compute: bf16 or fp8")
      ->capture_default_str();
  addReportOutputFlags(*compare, flags->noPlots, flags->json, flags->quiet);

  auto validationFlags = std::make_shared<ValidationFlags>();
  CLI::App *validation = app.add_subcommand(
      "validation", "Write the validation table: LPU per-user speed (compiled multi-chip "
                    "schedule, simulated) vs Groq's published figures and the GPU roofline "
                    "(per-op profiles of the zoo graphs) vs published measurements, every "
                    "error shown; and the GPU calibration table");
  validation->add_option("-o,--output", validationFlags->output,
                         "Write here (e.g. docs/validation.md); default stdout");
  validation->add_option("--check", validationFlags->check,
                         "Exit 1 if this checked-in document is not the current rendering");
  validation->add_option("--calibration", validationFlags->calibration,
                         "Also write the GPU calibration table here (docs/gpu-calibration.md)");
  validation->add_option("--check-calibration", validationFlags->checkCalibration,
                         "Exit 1 if this checked-in calibration table is not current");

  return {{compare, [flags, argv0] { return runCompare(*flags, argv0); }},
          {validation,
           [validationFlags, argv0] { return runValidation(*validationFlags, argv0); }}};
}

} // namespace conveyor::tool
