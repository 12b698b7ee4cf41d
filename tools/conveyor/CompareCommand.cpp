// `conveyor compare` (same traffic on LPU and GPU systems, report with plots) and
// `conveyor validation` (modeled vs published table). Flags only: the work is in
// runtime/lib/Reports.
#include "LpuSchedule.h"
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
#include <utility>

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

/// `text` with every "<root>/" removed, so the report reads the same in every checkout.
std::string relativeToRoot(std::string text, const std::string &root) {
  const std::string prefix = root + "/";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at)) {
    text.erase(at, prefix.size());
  }
  return text;
}

/// The row's short form of a fallback reason: its first clause, at most ~100 characters.
std::string shortReason(const std::string &reason) {
  std::string out = reason.substr(0, reason.find_first_of(";\n"));
  if (out.size() > 100) {
    size_t cut = out.rfind(' ', 97);
    out = out.substr(0, cut == std::string::npos || cut < 40 ? 97 : cut) + "...";
  }
  return out;
}

/// Weight precisions `--lpu-weights auto` tries, widest first (makeCompareSystem's order).
const char *const kAutoWeights[] = {"fp16", "fp8", "int8"};

/// Replaces an LPU system's planner estimate by its compiled and simulated schedule
/// (compileAndSimulateLpu, as `conveyor validation` does): the planner's deployment (chosen
/// by the compile's rule), or when the graph's plan does not hold it and --lpu-weights / --seqs
/// are auto, the next one in makeCompareSystem's order (fewer sequences, then narrower
/// weights). DECODE buckets at the contexts the traffic reaches (servingKvBuckets), the
/// compiler's default PREFILL buckets. When nothing compiles the planner estimate stays, and
/// its source says why.
void useSimulatedSchedule(reports::CompareSystem &system, const std::string &onnxPath,
                          const std::vector<runtime::Request> &requests, const std::string &root) {
  const reports::CompareSystem::LpuDeployment &chosen = *system.lpu;
  auto fallBack = [&](const std::string &why) {
    std::string reason = relativeToRoot(why, root);
    system.source = "estimated: " + shortReason(reason);
    system.notes.push_back("figures from the partition planner's estimate, not a simulated "
                           "schedule: " +
                           reason);
  };
  if (onnxPath.empty() || !std::filesystem::exists(onnxPath)) {
    fallBack(fmt::format("no ONNX graph to compile ({})",
                         onnxPath.empty() ? "the model is not in the zoo" : onnxPath));
    return;
  }
  std::vector<uint64_t> buckets = reports::servingKvBuckets(requests);
  if (buckets.empty()) {
    fallBack("no requests to size the DECODE buckets from");
    return;
  }
  if (int64_t(buckets.back()) > chosen.maxContext) {
    fallBack(fmt::format("the traffic reaches {} tokens of context, more than --max-context {} "
                         "(the KV cache's size); raise --max-context",
                         buckets.back(), chosen.maxContext));
    return;
  }
  std::string kvBuckets;
  for (uint64_t length : buckets) {
    kvBuckets += fmt::format("{}{}", kvBuckets.empty() ? "" : ",", length);
  }
  // Candidates in makeCompareSystem's order, from the planner's choice on.
  std::vector<std::string> weights = {chosen.weights};
  if (chosen.weightsAuto) {
    bool after = false;
    for (const char *name : kAutoWeights) {
      if (after) {
        weights.push_back(name);
      }
      after = after || chosen.weights == name;
    }
  }
  std::vector<std::pair<std::string, int64_t>> candidates;
  for (const std::string &w : weights) {
    // Narrower weights start again from the planner's sequences (they can hold more).
    for (int64_t sequences = chosen.sequences; sequences >= 1; sequences /= 2) {
      candidates.push_back({w, sequences});
      if (!chosen.sequencesAuto) {
        break;
      }
    }
  }
  LpuScheduleRequest request;
  request.onnxPath = onnxPath;
  request.systemPath = chosen.systemPath;
  request.planning.activations = chosen.activations;
  request.planning.kv = chosen.kv;
  request.planning.maxContext = chosen.maxContext;
  request.kvBuckets = kvBuckets;
  std::string refusal;
  bool planned = false;
  for (const auto &[w, sequences] : candidates) {
    request.planning.weights = w;
    request.planning.seqs = sequences;
    Result<cli::PlannedPartition> plan =
        cli::planCompiledPartition(onnxPath, chosen.systemPath, request.planning);
    if (plan) {
      planned = true;
      break;
    }
    if (refusal.empty()) {
      refusal = plan.error();
    }
  }
  if (!planned) {
    fallBack(fmt::format("the compile's plan (8% of SRAM reserved for the compiled step's "
                         "buffers) does not hold {} weights with {} sequences: {}",
                         chosen.weights, chosen.sequences, refusal));
    return;
  }
  request.maxSequences = uint32_t(request.planning.seqs);
  Result<LpuSchedule> schedule = compileAndSimulateLpu(request);
  if (!schedule) {
    fallBack(schedule.error());
    return;
  }
  Result<system::SystemConfig> config = system::loadSystemConfig(chosen.systemPath);
  if (!config) {
    fallBack(config.error());
    return;
  }
  const compile::CompileSummary &compiled = schedule->compiled;
  const runtime::LpuPipelineBackend &backend = *schedule->backend;
  std::vector<std::string> notes = {
      fmt::format("{} chips of {:.1f} MB ({} used: tp {} x {} pipeline stages, as compiled)",
                  config->fabric.chips, config->chip.sramBytes() / 1e6,
                  compiled.tensorParallel * compiled.pipelineStages, compiled.tensorParallel,
                  compiled.pipelineStages),
      fmt::format("weights {}, activations {}, KV {}{}", request.planning.weights,
                  request.planning.activations, request.planning.kv,
                  chosen.weightsAuto ? " (widest precision whose compile plan fits)" : ""),
      fmt::format("{} sequences in flight{}, KV for {} tokens each", request.planning.seqs,
                  request.planning.seqs != chosen.sequences ||
                          request.planning.weights != chosen.weights
                      ? fmt::format(" (the planner estimate, planned by the same rule from "
                                    "the zoo config, held {} at {}; the graph's plan does not)",
                                    chosen.sequences, chosen.weights)
                      : std::string(),
                  chosen.maxContext)};
  for (size_t b = 0; b < backend.bucketCount(); ++b) {
    notes.push_back(fmt::format(
        "simulated schedule, DECODE bucket kv {}: {} cycles ({:.4g} ms, {:.1f} tok/s for one "
        "sequence alone) per token through every stage, stage time {} cycles",
        backend.kvLength(b), backend.latencyCycles(b),
        1e3 * double(backend.latencyCycles(b)) / schedule->clockHz,
        schedule->clockHz / double(backend.latencyCycles(b)), backend.stageCycles(b)));
  }
  for (size_t b = 0; b < backend.prefillBucketCount(); ++b) {
    notes.push_back(fmt::format(
        "simulated schedule, PREFILL bucket prompt {}: {} cycles ({:.4g} ms), stage time {} "
        "cycles",
        backend.promptLength(b), backend.prefillLatencyCycles(b),
        1e3 * double(backend.prefillLatencyCycles(b)) / schedule->clockHz,
        backend.prefillStageCycles(b)));
  }
  for (const std::string &note : backend.notes()) {
    notes.push_back(note);
  }
  for (const std::string &note : compiled.notes) {
    notes.push_back("compile: " + relativeToRoot(note, root));
  }
  system.notes = std::move(notes);
  system.backend = schedule->backend;
  system.source = "simulated schedule";
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
  // GPU systems time the per-op profile of the model's cv.graph when the zoo has it; LPU
  // systems compile it.
  std::filesystem::path given(flags.model);
  const std::filesystem::path graph =
      given.extension() == ".onnx"
          ? given
          : std::filesystem::path(root) / "models/zoo/onnx" /
                ((given.extension() == ".json" ? given.stem().string() : flags.model) + ".onnx");
  {
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
  // The base traffic's requests size the LPU schedules' DECODE buckets (the load sweep only
  // moves arrivals, so its lengths are the same).
  Result<std::vector<runtime::Request>> requests = runtime::makeTraffic(options.traffic);
  if (!requests) {
    return reportFailure(requests.error());
  }
  std::vector<CompareSystem> systems;
  for (const std::string &spec : splitList(flags.systems)) {
    Result<CompareSystem> system = makeCompareSystem(spec, model, settings);
    if (!system) {
      return reportFailure(system.error());
    }
    if (system->lpu) {
      if (options.progress) {
        options.progress(spec + ": compiling and simulating the schedule");
      }
      useSimulatedSchedule(*system, graph.string(), *requests, root);
      if (!flags.quiet && system->source != "simulated schedule") {
        fmt::print(stderr, "\r{:<70}\rconveyor: warning: {}: {}\n", "", spec, system->notes.back());
      }
    }
    systems.push_back(std::move(*system));
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
      fmt::format("LPU systems are priced from their compiled and simulated schedule (the "
                  "zoo graph compiled for the system with DECODE buckets at the traffic's "
                  "contexts, simulated timing-only, served through the runtime's layer-pipeline "
                  "backend), or from the partition planner's estimate where that failed (the "
                  "row says so); GPU systems from the calibrated roofline "
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
                 "J/token  TTFT p99 {:.3g} ms  TPOT p99 {:.3g} ms  ({})\n",
                 run.system, run.report.devices, run.report.userTokensPerSecond.mean,
                 run.report.outputTokensPerSecond, run.report.joulesPerToken,
                 run.report.ttft.p99 * 1e3, run.report.tpot.p99 * 1e3, run.source);
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
