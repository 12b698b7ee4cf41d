// `conveyor`: compile an ONNX model to a schedule, simulate a schedule, dump a schedule.
// Thin by design: every decision lives in a library that tests reach.
#include "CompilePlanning.h" // planning flags (issue 4)
#include "ReportCommands.h" // compare / explore / validation
#include "conveyor/Analysis/ModelStats.h"
#include "conveyor/Compile/Compile.h"
#include "conveyor/Runtime/LpuServingBackend.h"
#include "conveyor/Runtime/ReferenceCheck.h"
#include "conveyor/Runtime/Serve.h"
#include "conveyor/Runtime/StepSimulation.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Simulator/Simulator.h"
#include "conveyor/Support/HugePages.h"
#include "conveyor/System/SystemConfig.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>
#include <string_view>

namespace {

int fail(std::string message) {
  std::fflush(stdout);
  // Compiler errors arrive labelled the compiler way ("file:line:col: error: ..." or
  // "error: ..."); drop that label so the line reads "conveyor: error: file:line:col: ...".
  if (message.rfind("error: ", 0) == 0) {
    message.erase(0, 7);
  } else if (size_t at = message.find(": error: "); at != std::string::npos) {
    message.erase(at + 2, 7);
  }
  fmt::print(stderr, "conveyor: error: {}\n", message);
  return 1;
}

// Prints `text` to stdout, or writes it atomically to `path` when one is given.
int emit(const std::string &text, const std::string &path) {
  if (path.empty() || path == "-") {
    fmt::print("{}", text);
    return 0;
  }
  conveyor::Status status = conveyor::schedule::writeFileAtomically(path, text);
  return status.ok() ? 0 : fail(status.error());
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

// Adds `"key": value` as the last member of the JSON object `json`.
std::string appendJsonMember(const std::string &json, const std::string &key,
                             const std::string &value) {
  size_t close = json.find_last_of('}');
  size_t last = json.find_last_not_of(" \n", close - 1);
  return json.substr(0, last + 1) + ",\n  \"" + key + "\": " + value + "\n}\n";
}

struct CompileFlags {
  std::string model, system, output, emitKind = "sched", jsonPath, dims;
  std::string kvBuckets, prefillBuckets; // length buckets of a multi-chip schedule
  bool kvBucketsGiven = false, prefillBucketsGiven = false;
  bool json = false, stats = false;
  conveyor::cli::PlanningFlags planning; // precisions, partition, --min-chips
};

int runCompile(const CompileFlags &flags) {
  using namespace conveyor::compile;
  // Plan first: --min-chips / --explain / refusal stop here; a multi-chip plan that
  // fits goes on to the shard pass as tp x stages
  conveyor::cli::PlannedPartition planned;
  const bool wantsOutput =
      (!flags.output.empty() && flags.output != "-") || flags.emitKind != "sched";
  if (std::optional<int> rc = conveyor::cli::runPlanning(flags.model, flags.system, flags.json,
                                                         wantsOutput, flags.planning, planned)) {
    return *rc;
  }
  CompileOptions options;
  options.tensorParallel = planned.tp;      // 0 = one chip
  options.pipelineStages = planned.stages;
  options.stageLayers = planned.stageLayers;
  options.kvBucket = uint64_t(planned.maxContext ? planned.maxContext
                                                 : flags.planning.maxContext); // the decode bucket
  options.onnxPath = flags.model;
  options.systemPath = flags.system;
  options.outputPath = flags.output;
  options.dimSizes = flags.dims;
  options.kvBuckets = flags.kvBuckets;
  options.prefillBuckets = flags.prefillBuckets;
  options.kvBucketsGiven = flags.kvBucketsGiven;
  options.prefillBucketsGiven = flags.prefillBucketsGiven;
  // Precision numerics follow the planning flags once --weights is given
  if (!flags.planning.weights.empty()) {
    options.weightPrecision = flags.planning.weights;
    options.activationPrecision = flags.planning.activations;
    options.kvPrecision = flags.planning.kv;
  }
  if (flags.emitKind == "graph") {
    options.emit = EmitKind::Graph;
  } else if (flags.emitKind == "chip") {
    options.emit = EmitKind::Chip;
  } else {
    options.emit = EmitKind::Schedule;
    if (flags.output.empty() || flags.output == "-") {
      return fail("--emit sched needs an output file: add -o model.sched");
    }
  }
  if (options.outputPath.empty()) {
    options.outputPath = "-";
  }
  conveyor::Result<CompileSummary> summary = compileModel(options);
  if (!summary) {
    return fail(summary.error());
  }
  const CompileSummary &s = *summary;
  if (flags.json || !flags.jsonPath.empty()) {
    std::string json = fmt::format(
        "{{\n  \"model\": {},\n  \"system\": {},\n  \"output\": {},\n  \"instructions\": {},\n"
        "  \"end_cycle\": {},\n  \"sram_bytes_used\": {},\n  \"sram_bytes_capacity\": {},\n"
        "  \"weight_bytes\": {},\n  \"tokens_per_step\": {},\n  \"compile_seconds\": {}\n}}\n",
        jsonString(s.modelName), jsonString(s.systemName), jsonString(options.outputPath),
        s.instructions, s.endCycle, s.sramBytesUsed, s.sramBytesCapacity, s.weightBytes,
        s.tokensPerStep, s.seconds);
    // The decode step of a partitioned schedule and its lower bound
    if (s.decodeCycles > 0) {
      json = appendJsonMember(json, "decode",
                              fmt::format("{{\"kv_length\": {}, \"tp\": {}, \"stages\": {}, "
                                          "\"cycles\": {}, \"bound_cycles\": {}, "
                                          "\"bound_tokens_per_s\": {}}}",
                                          s.kvLength, s.tensorParallel, s.pipelineStages,
                                          s.decodeCycles, s.decodeBoundCycles,
                                          s.decodeBoundTokensPerSecond));
    }
    if (!s.buckets.empty()) {
      std::string list = "[";
      for (const CompiledBucket &bucket : s.buckets) {
        list += fmt::format("{}{{\"kind\": \"{}\", \"length\": {}, \"cycles\": {}, "
                            "\"instructions\": {}}}",
                            list.size() > 1 ? ", " : "", bucket.kind, bucket.length,
                            bucket.cycles, bucket.instructions);
      }
      json = appendJsonMember(json, "buckets", list + "]");
    }
    if (!flags.jsonPath.empty()) {
      if (int rc = emit(json, flags.jsonPath)) {
        return rc;
      }
    }
    if (flags.json) {
      fmt::print("{}", json);
      return 0;
    }
  }
  if (options.emit == EmitKind::Schedule || flags.stats) {
    fmt::print("compiled {} for {}: {} instructions, {} cycles (compiler estimate), "
               "SRAM {:.2f} of {:.2f} MiB, {:.3f} s -> {}\n",
               s.modelName, s.systemName, s.instructions, s.endCycle,
               s.sramBytesUsed / 1048576.0, s.sramBytesCapacity / 1048576.0, s.seconds,
               options.outputPath);
  }
  // Every length bucket of a partitioned schedule, then notes (buckets left out)
  if (options.emit == EmitKind::Schedule || flags.stats) {
    for (const CompiledBucket &bucket : s.buckets) {
      fmt::print("{} bucket {} {}: {} cycles compiled (one sequence, all stages), {} "
                 "instructions\n",
                 bucket.kind, bucket.kind == "prefill" ? "prompt" : "kv", bucket.length,
                 bucket.cycles, bucket.instructions);
    }
    for (const std::string &note : s.notes) {
      fmt::print("note: {}\n", note);
    }
  }
  // Decode step of a partitioned schedule against the partition lower bound
  if (s.decodeCycles > 0 && (options.emit == EmitKind::Schedule || flags.stats)) {
    fmt::print("decode step (kv {}): tp {} x {} stages, {} cycles compiled, lower bound {} "
               "cycles ({:.0f} tok/s): efficiency {:.1f}%\n",
               s.kvLength, s.tensorParallel, s.pipelineStages, s.decodeCycles,
               s.decodeBoundCycles, s.decodeBoundTokensPerSecond,
               s.decodeBoundCycles ? 100.0 * double(s.decodeBoundCycles) / double(s.decodeCycles)
                                   : 0.0);
  }
  return 0;
}

struct SimulateFlags {
  std::string schedule, system, inputs, jsonPath, traceOut, traceChips;
  bool json = false, timingOnly = false;
  std::optional<double> tolerance;
  // Request traffic (any of these turns on the serving run).
  conveyor::runtime::TrafficOptions traffic;
  uint32_t maxInFlight = 1;
  /// The first option given that only shapes a serving run (--prompt, --seed, ...), if any.
  std::string servingOnlyOption;
  bool serving() const {
    return !traffic.traceFile.empty() || traffic.requests != 0 || traffic.rate ||
           !traffic.arrivals.empty();
  }
};

/// --activity-chips: "N", "A-B", comma-separated, each chip below `chips`.
conveyor::Result<std::set<uint32_t>> parseChipList(const std::string &text, uint32_t chips,
                                                   const std::string &systemName) {
  auto bad = [&] {
    return conveyor::makeError(fmt::format("--activity-chips '{}': expected chip numbers N or "
                                           "ranges A-B (A <= B), comma-separated, e.g. 0-15,432",
                                           text));
  };
  auto number = [](std::string_view digits, uint64_t &out) {
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    out = std::stoull(std::string(digits));
    return true;
  };
  std::set<uint32_t> chosen;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t dash = item.find('-');
    uint64_t first = 0, last = 0;
    if (!number(item.substr(0, dash), first) ||
        !number(dash == std::string_view::npos ? item.substr(0, dash) : item.substr(dash + 1),
                last) ||
        first > last) {
      return bad();
    }
    if (last >= chips) {
      return conveyor::makeError(fmt::format("--activity-chips: chip {} does not exist: system "
                                             "'{}' has {} chip(s), 0-{}",
                                             last, systemName, chips, chips - 1));
    }
    for (uint64_t chip = first; chip <= last; ++chip) {
      chosen.insert(uint32_t(chip));
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest = rest.substr(comma + 1);
  }
  return chosen;
}

int runSimulate(const SimulateFlags &flags) {
  using namespace conveyor;
  if (!flags.traceChips.empty() && flags.traceOut.empty()) {
    return fail("--activity-chips chooses the chips of the activity trace: add --activity-out "
                "FILE");
  }
  if (!flags.servingOnlyOption.empty() && !flags.serving()) {
    return fail(fmt::format("{0} shapes the request traffic of a serving run, and this run "
                            "serves none: add --requests N with --rate R (or --trace FILE), or "
                            "leave {0} out",
                            flags.servingOnlyOption));
  }
  // Read-only from here on, and large for a multi-chip model: parsed into an arena.
  Result<schedule::ArenaSchedule> file = schedule::readScheduleFileToArena(flags.schedule);
  if (!file) {
    return fail(file.error());
  }
  const schedule::Schedule *sched = &file->get();
  // The system: the file given, or the resolved description the schedule embeds.
  Result<system::SystemConfig> config =
      flags.system.empty()
          ? system::parseSystemConfig(sched->system().canonical_text(),
                                      flags.schedule + " (embedded system '" +
                                          sched->system().name() + "')")
          : system::loadSystemConfig(flags.system);
  if (!config) {
    return fail(config.error());
  }
  std::vector<sim::TensorData> inputs, references;
  if (!flags.inputs.empty()) {
    Result<std::vector<sim::TensorData>> loaded = sim::loadTensorDir(flags.inputs, "input_");
    if (!loaded) {
      return fail(loaded.error());
    }
    inputs = std::move(*loaded);
    Result<std::vector<sim::TensorData>> refs = sim::loadTensorDir(flags.inputs, "output_");
    if (!refs) {
      return fail(refs.error());
    }
    references = std::move(*refs);
  }
  std::set<uint32_t> traceChips;
  if (!flags.traceChips.empty()) {
    Result<std::set<uint32_t>> chosen =
        parseChipList(flags.traceChips, config->fabric.chips, config->name);
    if (!chosen) {
      return fail(chosen.error());
    }
    traceChips = std::move(*chosen);
  }
  sim::SimulationOptions options;
  options.functional = !flags.timingOnly && !flags.inputs.empty();
  options.collectTrace = !flags.traceOut.empty();
  options.traceChips = traceChips; // only their records are collected
  options.structureValidated = true; // the reader has checked `sched`, which is const
  // One fabric run per length bucket: a chip runs one bucket's step at a time.
  Result<sim::SimulationReport> report = runtime::simulateSteps(*sched, *config, inputs, options);
  if (!report) {
    return fail(report.error());
  }
  if (!flags.traceOut.empty()) {
    Status written = schedule::writeFileAtomically(flags.traceOut, sim::renderTrace(*report, traceChips));
    if (!written) {
      return fail(written.error());
    }
  }
  std::optional<runtime::ReferenceCheck> check;
  if (options.functional && !references.empty()) {
    Result<runtime::ReferenceCheck> compared = runtime::compareOutputs(report->outputs, references);
    if (!compared) {
      return fail(compared.error());
    }
    check = std::move(*compared);
  }
  // Serve request traffic on the simulated program's timing and energy.
  // A v2 schedule of DECODE stages is priced as a layer pipeline, a v1 one per program run.
  std::optional<runtime::ServingReport> serving;
  std::vector<std::string> servingNotes;
  if (flags.serving()) {
    Result<runtime::ServingReport> served = makeError("no serving backend");
    if (runtime::hasDecodePrograms(*sched)) {
      Result<runtime::LpuPipelineBackend> backend = runtime::LpuPipelineBackend::create(
          *sched, *report, *config, {.maxSequences = flags.maxInFlight});
      if (!backend) {
        return fail(backend.error());
      }
      for (size_t b = 0; b < backend->bucketCount(); ++b) {
        servingNotes.push_back(fmt::format(
            "decode pipeline: latency {} cycles ({:.4g} ms) per token of one sequence, stage "
            "time {} cycles; up to {} sequences in flight{}",
            backend->latencyCycles(b), 1e3 * double(backend->latencyCycles(b)) / report->clockHz,
            backend->stageCycles(b), backend->maxSequences(),
            backend->bucketCount() > 1 ? fmt::format(" (kv bucket {})", backend->kvLength(b))
                                       : std::string()));
      }
      for (size_t b = 0; b < backend->prefillBucketCount(); ++b) {
        servingNotes.push_back(fmt::format(
            "prefill pipeline (prompt bucket {}): latency {} cycles ({:.4g} ms), stage time {} "
            "cycles",
            backend->promptLength(b), backend->prefillLatencyCycles(b),
            1e3 * double(backend->prefillLatencyCycles(b)) / report->clockHz,
            backend->prefillStageCycles(b)));
      }
      servingNotes.insert(servingNotes.end(), backend->notes().begin(), backend->notes().end());
      served = runtime::serve(flags.traffic, *backend);
    } else {
      Result<runtime::LpuServingBackend> backend = runtime::LpuServingBackend::create(
          *report, *config, {.maxSequences = flags.maxInFlight});
      if (!backend) {
        return fail(backend.error());
      }
      served = runtime::serve(flags.traffic, *backend);
    }
    if (!served) {
      return fail(served.error());
    }
    serving = std::move(*served);
  }
  if (flags.json || !flags.jsonPath.empty()) {
    std::string json = sim::renderJson(*report);
    if (check) {
      json = appendJsonMember(json, "reference_check",
                              fmt::format("{{\"max_abs_error\": {}, \"tensors\": {}}}",
                                          check->maxAbsError, check->tensors.size()));
    }
    if (serving) {
      json = appendJsonMember(json, "serving", runtime::renderJson(*serving));
      std::string notes = "[";
      for (const std::string &note : servingNotes) {
        notes += fmt::format("{}\"{}\"", notes.size() > 1 ? ", " : "", note);
      }
      json = appendJsonMember(json, "serving_notes", notes + "]");
    }
    if (!flags.jsonPath.empty()) {
      if (int rc = emit(json, flags.jsonPath)) {
        return rc;
      }
    }
    if (flags.json) {
      fmt::print("{}", json);
    }
  }
  if (!flags.json) {
    fmt::print("{}", sim::renderText(*report));
    if (check) {
      for (const runtime::TensorComparison &t : check->tensors) {
        fmt::print("reference check: output '{}' ({} values): max |error| = {:.3g} "
                   "(max |reference| = {:.3g})\n",
                   t.name, t.elements, t.maxAbsError, t.maxReference);
      }
    }
    if (serving) {
      fmt::print("\n{}", runtime::renderText(*serving));
      for (const std::string &note : servingNotes) {
        fmt::print("note: {}\n", note);
      }
    }
  }
  if (check && flags.tolerance && !check->withinTolerance(*flags.tolerance)) {
    return fail(fmt::format("simulated outputs differ from the reference in '{}': max |error| "
                            "{:.3g} > tolerance {:.3g}",
                            flags.inputs, check->maxAbsError, *flags.tolerance));
  }
  if (flags.tolerance && !check) {
    return fail("--tolerance needs reference outputs: pass --inputs DIR holding output_*.pb");
  }
  return 0;
}

int runDump(const std::string &path, bool json) {
  conveyor::Result<conveyor::schedule::Schedule> sched =
      conveyor::schedule::readScheduleFile(path);
  if (!sched) {
    return fail(sched.error());
  }
  if (!json) {
    fmt::print("{}", conveyor::schedule::dumpSchedule(*sched));
    return 0;
  }
  conveyor::Result<std::string> text = conveyor::schedule::dumpScheduleJson(*sched);
  if (!text) {
    return fail(text.error());
  }
  fmt::print("{}", *text);
  return 0;
}

struct InspectFlags {
  std::string model, kvPrecision = "fp16", dims;
  std::string profile; // --profile FILE: per-op workload profile as JSON
  int64_t context = 4096, prompt = 2048;
  bool json = false;
};

int runInspect(const InspectFlags &flags) {
  using namespace conveyor::analysis;
  InspectOptions options;
  options.context = flags.context;
  options.prompt = flags.prompt;
  std::optional<Precision> precision = parsePrecision(flags.kvPrecision);
  if (!precision) {
    return fail("--kv-precision must be fp32, bf16, fp16, fp8, int8 or int4; got '" +
                flags.kvPrecision + "'");
  }
  options.kvPrecision = *precision;
  if (conveyor::Status status = parseDimAssignments(flags.dims, options.otherDims); !status) {
    return fail(status.error());
  }
  if (!flags.profile.empty()) {
    return conveyor::tool::writeGraphProfile(flags.model, flags.profile, flags.prompt,
                                             flags.context, flags.kvPrecision);
  }
  conveyor::Result<ModelStats> stats = inspectOnnxModel(flags.model, options);
  if (!stats) {
    return fail(stats.error());
  }
  fmt::print("{}", flags.json ? renderModelStatsJson(*stats) : renderModelStatsText(*stats));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Conveyor: compile ONNX models to static schedules for LPU-style "
               "accelerators and simulate them cycle by cycle."};
  app.set_version_flag("--version", std::string("conveyor ") + CONVEYOR_VERSION);
  app.require_subcommand(1);

  CompileFlags compileFlags;
  CLI::App *compile = app.add_subcommand(
      "compile", "Compile an ONNX model for a system into a schedule file (*.sched)");
  compile->add_option("model", compileFlags.model, "ONNX model file")->required();
  compile->add_option("--system,-s", compileFlags.system, "System description (systems/*.yaml)")
      ->required();
  compile->add_option("-o,--output", compileFlags.output,
                      "Output file (schedule, or IR text with --emit; '-' = stdout)");
  compile->add_option("--emit", compileFlags.emitKind,
                      "What to write: sched (default), graph (cv.graph MLIR), chip (scheduled "
                      "cv.chip MLIR)")
      ->check(CLI::IsMember({"sched", "graph", "chip"}));
  compile->add_option("--dims", compileFlags.dims,
                      "Sizes for the model's symbolic dimensions, e.g. batch=1,seq=8,past=0");
  CLI::Option *kvBuckets = compile->add_option(
      "--kv-buckets", compileFlags.kvBuckets,
      "Multi-chip: DECODE programs for these KV lengths, e.g. 512,1024,4096 (default: powers "
      "of two from 512 up to --max-context, and --max-context)");
  CLI::Option *prefillBuckets = compile->add_option(
      "--prefill-buckets", compileFlags.prefillBuckets,
      "Multi-chip: PREFILL programs for these prompt lengths, or none (default: 128,512,2048 "
      "up to --max-context, leaving out those that do not fit in SRAM)");
  compile->add_flag("--stats", compileFlags.stats, "Print the compile summary");
  compile->add_flag("--json", compileFlags.json, "Print the compile summary as JSON");
  compile->add_option("--json-out", compileFlags.jsonPath, "Write the JSON summary to this file");
  conveyor::cli::addPlanningFlags(*compile, compileFlags.planning);

  SimulateFlags simulateFlags;
  // Options that only shape a serving run: given without one, they are refused by name.
  std::vector<CLI::Option *> servingOnly;
  CLI::App *simulate = app.add_subcommand(
      "simulate", "Check a schedule against the hardware model, execute it and report cycles, "
                  "time, tokens/s, energy and SRAM use");
  simulate->add_option("schedule", simulateFlags.schedule, "Schedule file (*.sched)")->required();
  simulate->add_option("--system,-s", simulateFlags.system,
                       "System description; default: the one embedded in the schedule (a "
                       "given file must match the schedule's fingerprint)");
  simulate->add_option("--inputs", simulateFlags.inputs,
                       "Directory with ONNX test data (input_N.pb, and output_N.pb references): "
                       "runs the numerics and compares");
  simulate->add_option("--tolerance", simulateFlags.tolerance,
                       "Fail (exit 1) if any output differs from its reference by more than this");
  simulate->add_flag("--timing-only", simulateFlags.timingOnly, "Skip the numerics");
  simulate->add_flag("--json", simulateFlags.json, "Print the report as JSON");
  simulate->add_option("--json-out", simulateFlags.jsonPath,
                       "Also write the JSON report to this file");
  simulate->add_option("--trace", simulateFlags.traffic.traceFile,
                       "Serve the requests of this trace (JSONL or CSV: arrival_s, prompt_tokens, "
                       "output_tokens) and report TTFT, TPOT, latency percentiles, tokens/s, "
                       "goodput and J/token");
  simulate->add_option("--requests", simulateFlags.traffic.requests,
                       "Serve this many synthetic requests");
  simulate->add_option("--rate", simulateFlags.traffic.rate,
                       "Synthetic Poisson arrival rate (requests/s)");
  simulate->add_option("--arrivals", simulateFlags.traffic.arrivals,
                       "Synthetic arrival process: poisson:rate=R, gamma:rate=R,cv=C, "
                       "onoff:rate=R,on_s=A,off_s=B");
  servingOnly.push_back(simulate->add_option("--prompt", simulateFlags.traffic.promptTokens,
                       "Prompt length: N, uniform:min=A,max=B or lognormal:mean=M,sigma=S")
      ->capture_default_str());
  servingOnly.push_back(simulate->add_option("--output", simulateFlags.traffic.outputTokens,
                       "Output length, as --prompt")
      ->capture_default_str());
  servingOnly.push_back(
      simulate->add_option("--seed", simulateFlags.traffic.seed, "Seed of the synthetic traffic")
          ->capture_default_str());
  servingOnly.push_back(simulate->add_option("--max-in-flight", simulateFlags.maxInFlight,
                       "Sequences the system holds in flight at once")
      ->capture_default_str());
  servingOnly.push_back(simulate->add_option("--admission", simulateFlags.traffic.admission,
                       "Admission policy: fcfs[:max_sequences=N] or fcfs-kv:...")
      ->capture_default_str());
  servingOnly.push_back(simulate->add_option("--slo-ttft", simulateFlags.traffic.slo.ttftSeconds,
                       "Goodput SLO on time to first token (s)"));
  servingOnly.push_back(simulate->add_option("--slo-tpot", simulateFlags.traffic.slo.tpotSeconds,
                       "Goodput SLO on time per output token (s)"));
  simulate->add_option("--activity-out", simulateFlags.traceOut,
                       "Write the activity trace (Chrome trace JSON: open it in ui.perfetto.dev "
                       "or chrome://tracing) to this file");
  simulate->add_option("--activity-chips", simulateFlags.traceChips,
                       "Only these chips' tracks in the activity trace: N or A-B, "
                       "comma-separated (default: every chip)");

  InspectFlags inspectFlags;
  CLI::App *inspect = app.add_subcommand(
      "inspect", "Print an ONNX model's parameter count, weight bytes per precision, FLOPs per "
                 "token (decode and prefill) and KV-cache bytes per token");
  inspect->add_option("model", inspectFlags.model, "ONNX model file (shape-only weights are fine)")
      ->required();
  inspect->add_option("--context", inspectFlags.context,
                      "Decode: tokens in the context, the new one included")
      ->capture_default_str();
  inspect->add_option("--prompt", inspectFlags.prompt, "Prefill: prompt length in tokens")
      ->capture_default_str();
  inspect->add_option("--kv-precision", inspectFlags.kvPrecision,
                      "KV-cache element precision: fp32, bf16, fp16, fp8, int8")
      ->capture_default_str();
  inspect->add_option("--dims", inspectFlags.dims,
                      "Sizes for symbolic dimensions other than batch, seq and past (name=N,...)");
  inspect->add_flag("--json", inspectFlags.json, "Print the statistics as JSON");
  inspect->add_option("--profile", inspectFlags.profile,
                      "Instead, write the per-op workload profile (FLOPs, weight, activation "
                      "and KV bytes per op for prefill of --prompt tokens and a decode step at "
                      "--context) as JSON to this file ('-' = stdout)");

  std::string dumpPath;
  CLI::App *dump = app.add_subcommand("dump", "Print a schedule file as text");
  dump->add_option("schedule", dumpPath, "Schedule file (*.sched)")->required();
  bool dumpJson = false;
  dump->add_flag("--json", dumpJson, "Print the whole schedule as JSON");

  // Compare / explore / validation (tools/conveyor/ReportCommands.h)
  std::vector<conveyor::tool::ReportCommand> reportCommands =
      conveyor::tool::registerCompareCommands(app, argv[0]);
  reportCommands.push_back(conveyor::tool::registerExploreCommand(app, argv[0]));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // Help and version exit 0; every usage error exits 2 (not CLI11's internal codes).
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Commands that read and simulate a schedule once: freed huge-page mappings would only
  // raise the peak resident set (HugePages.h). compare, explore and validation simulate many
  // design points and keep them, and freed heap memory, for the next.
  if (compile->parsed() || simulate->parsed() || inspect->parsed() || dump->parsed()) {
    conveyor::keepFreedHugeMappings(false);
  } else if (!conveyor::keepFreedHeapMemory()) {
    // The report commands: the heap memory one simulation frees is kept for the next too.
    std::cerr << "conveyor: glibc refused to keep freed heap memory for reuse\n";
    return 1;
  }
  if (compile->parsed()) {
    compileFlags.kvBucketsGiven = kvBuckets->count() > 0;
    compileFlags.prefillBucketsGiven = prefillBuckets->count() > 0;
    return runCompile(compileFlags);
  }
  if (simulate->parsed()) {
    for (const CLI::Option *option : servingOnly) {
      if (option->count() > 0 && simulateFlags.servingOnlyOption.empty()) {
        simulateFlags.servingOnlyOption = option->get_name();
      }
    }
    return runSimulate(simulateFlags);
  }
  if (inspect->parsed()) {
    return runInspect(inspectFlags);
  }
  for (const conveyor::tool::ReportCommand &command : reportCommands) {
    if (command.command->parsed()) {
      return command.run();
    }
  }
  if (dump->parsed()) {
    return runDump(dumpPath, dumpJson);
  }
  return 1;
}
