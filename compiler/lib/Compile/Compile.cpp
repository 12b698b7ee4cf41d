// compileModel: the whole compiler pipeline behind `conveyor compile`, errors as one line.
#include "conveyor/Compile/Compile.h"
#include "conveyor/Conversion/Passes.h"
#include "conveyor/Conversion/Precision.h"
#include "conveyor/Dialect/Chip/ChipCostModel.h"
#include "conveyor/Dialect/Chip/ChipDialect.h"
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Dialect/Chip/ChipPasses.h"
#include "conveyor/Dialect/Chip/ChipScheduling.h"
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/GraphPasses.h"
#include "conveyor/Frontend/OnnxImporter.h"
#include "conveyor/Schedule/ScheduleFormat.h"
#include "conveyor/Sharding/ShardingPasses.h"
#include "MultiChip.h"
#include "ScheduleBuckets.h"
#include "conveyor/System/SystemConfig.h"
#include "conveyor/Target/ScheduleWriter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>
#include <fmt/format.h>
#include <iostream>

using namespace mlir;

namespace conveyor::compile {

namespace {

/// Keeps the first error diagnostic as one line "file[:line:col]: error: message".
class ErrorCapture {
public:
  ErrorCapture(MLIRContext &context, std::string defaultFile)
      : defaultFile(std::move(defaultFile)),
        handler(&context, [this](Diagnostic &diagnostic) { return record(diagnostic); }) {}

  /// The captured error, or `fallback` when no diagnostic explained the failure.
  Error take(const std::string &fallback) const {
    if (firstError.empty()) {
      return makeError(defaultFile + ": error: " + fallback);
    }
    std::string message = firstError;
    if (errorCount > 1) {
      message += " (and " + std::to_string(errorCount - 1) + " more errors)";
    }
    return makeError(message);
  }

private:
  LogicalResult record(Diagnostic &diagnostic) {
    if (diagnostic.getSeverity() != DiagnosticSeverity::Error) {
      return success(); // notes and warnings are not part of the one-line error
    }
    if (errorCount++ == 0) {
      firstError = format(diagnostic);
    }
    return success();
  }

  std::string format(Diagnostic &diagnostic) const {
    std::string file = defaultFile, position, node;
    diagnostic.getLocation()->walk([&](Location loc) {
      if (auto fileLoc = dyn_cast<FileLineColLoc>(loc); fileLoc && position.empty()) {
        file = fileLoc.getFilename().str();
        if (fileLoc.getLine() > 0) {
          position =
              ":" + std::to_string(fileLoc.getLine()) + ":" + std::to_string(fileLoc.getColumn());
        }
      } else if (auto nameLoc = dyn_cast<NameLoc>(loc); nameLoc && node.empty()) {
        node = nameLoc.getName().str();
      }
      return WalkResult::advance();
    });
    std::string message = diagnostic.str();
    for (char &c : message) {
      if (c == '\n') {
        c = ' ';
      }
    }
    // Name the ONNX node unless the message already does.
    if (!node.empty() && message.find("'" + node + "'") == std::string::npos) {
      message = "node '" + node + "': " + message;
    }
    return file + position + ": error: " + message;
  }

  std::string defaultFile;
  std::string firstError;
  unsigned errorCount = 0;
  ScopedDiagnosticHandler handler;
};

/// Writes text to stdout for "-", else atomically to the file.
Status writeText(const std::string &path, const std::string &text) {
  if (path == "-") {
    std::cout << text;
    std::cout.flush();
    return std::cout ? Status::success() : Status(makeError("error: cannot write to stdout"));
  }
  return schedule::writeFileAtomically(path, text);
}

std::string printModule(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return os.str();
}

/// Reads the numbers of the summary off the placed and scheduled module.
void summarize(ModuleOp module, CompileSummary &summary) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func) {
    return;
  }
  if (auto end = func->getAttrOfType<IntegerAttr>(chip::kEndCycleAttr)) {
    summary.endCycle = end.getValue().getZExtValue();
  }
  if (auto bytes = func->getAttrOfType<IntegerAttr>(chip::kSramBytesAttr)) {
    summary.sramBytesUsed = bytes.getValue().getZExtValue();
  }
  func.walk([&](Operation *op) {
    if (chip::isInstruction(op)) {
      ++summary.instructions;
    } else if (auto weight = dyn_cast<chip::WeightOp>(op)) {
      summary.weightBytes += chip::tensorBytes(weight.getType()).value_or(0);
    }
  });
}

} // namespace

Result<CompileSummary> compileModel(const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  if (options.onnxPath.empty()) {
    return makeError("error: no model given; pass the path of an .onnx file");
  }
  if (options.outputPath.empty()) {
    return makeError("error: no output path; pass -o <file> ('-' writes text kinds to stdout)");
  }
  if (options.emit == EmitKind::Schedule && options.outputPath == "-") {
    return makeError("error: a schedule is binary and cannot go to stdout; pass -o <file>.sched "
                     "(or emit graph/chip text)");
  }

  CompileSummary summary;
  system::SystemConfig config;
  bool needsSystem = options.emit != EmitKind::Graph;
  if (needsSystem && options.systemPath.empty()) {
    return makeError("error: no system description; pass --system systems/<name>.yaml");
  }
  if (!options.systemPath.empty()) {
    Result<system::SystemConfig> loaded = system::loadSystemConfig(options.systemPath);
    if (!loaded) {
      return loaded.takeError();
    }
    config = std::move(*loaded);
    summary.systemName = config.name;
    summary.sramBytesCapacity = config.chip.sramBytes();
  }

  DialectRegistry registry;
  registry.insert<graph::GraphDialect, chip::ChipDialect, func::FuncDialect>();
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  ErrorCapture errors(context, options.onnxPath);

  // A partitioned schedule holds one step per length bucket: DECODE (seq 1) per KV length,
  // PREFILL (past 0) per prompt length; each bucket is imported and lowered on its own.
  const bool partitionedSchedule = (options.tensorParallel > 0 || options.pipelineStages > 0) &&
                                   options.emit == EmitKind::Schedule;
  uint64_t kvLength = options.kvBucket ? options.kvBucket : 4096;
  std::vector<ScheduleBucket> buckets;
  bool decodeDefaulted = false, prefillDefaulted = false;
  if (partitionedSchedule && !options.dimSizes.empty()) {
    // --dims fixes the shapes: one DECODE bucket, for the `past` it gives.
    for (StringRef entry : llvm::split(StringRef(options.dimSizes), ',')) {
      auto [key, value] = entry.trim().split('=');
      if (key.trim() == "past") {
        value.trim().getAsInteger(10, kvLength);
      }
    }
    buckets.push_back({schedule::DECODE, kvLength, true});
  } else if (partitionedSchedule) {
    Result<std::vector<uint64_t>> decode = parseBucketList(options.kvBuckets, "--kv-buckets");
    Result<std::vector<uint64_t>> prefill =
        parseBucketList(options.prefillBuckets, "--prefill-buckets");
    if (!decode) {
      return decode.takeError();
    }
    if (!prefill) {
      return prefill.takeError();
    }
    if (!options.kvBucketsGiven) {
      // Powers of two from 512 below the longest context, and the longest context.
      decodeDefaulted = true;
      decode->clear();
      for (uint64_t length = 512; length < kvLength; length *= 2) {
        decode->push_back(length);
      }
      decode->push_back(kvLength);
    }
    if (!options.prefillBucketsGiven) {
      prefill->clear();
      for (uint64_t length : {128, 512, 2048}) {
        if (length <= kvLength) {
          prefill->push_back(length);
        }
      }
      prefillDefaulted = true;
    }
    if (decode->empty()) {
      return makeError("--kv-buckets: a serving schedule needs at least one DECODE bucket");
    }
    for (uint64_t length : *decode) {
      if (length > kvLength) {
        return makeError(fmt::format("--kv-buckets: bucket {} is longer than --max-context {}; "
                                     "raise --max-context or drop the bucket",
                                     length, kvLength));
      }
    }
    for (uint64_t length : *prefill) {
      if (length > kvLength) {
        return makeError(fmt::format("--prefill-buckets: bucket {} is longer than --max-context "
                                     "{}; raise --max-context or drop the bucket",
                                     length, kvLength));
      }
    }
    kvLength = decode->back();
    // SRAM goes to buckets in this order (a default bucket that no longer fits is left out):
    // the longest KV (the one every sequence can use), then the shortest prompt (without a
    // PREFILL program prompts run token by token), then the shorter KV buckets (each saves
    // a few % of a decode step over the next longer one), then the longer prompts (a long
    // prompt can run as several short ones).
    if (!decode->empty()) {
      buckets.push_back({schedule::DECODE, decode->back(), true});
    }
    if (!prefill->empty()) {
      buckets.push_back({schedule::PREFILL, prefill->front()});
    }
    for (auto it = std::next(decode->rbegin()); it < decode->rend(); ++it) {
      buckets.push_back({schedule::DECODE, *it, false});
    }
    for (size_t i = 1; i < prefill->size(); ++i) {
      buckets.push_back({schedule::PREFILL, (*prefill)[i]});
    }
  }
  auto dimsOf = [&](const ScheduleBucket &bucket) {
    if (!options.dimSizes.empty() || !partitionedSchedule) {
      return options.dimSizes;
    }
    return bucket.kind == schedule::PREFILL
               ? "batch=1,seq=" + std::to_string(bucket.length) + ",past=0"
               : "batch=1,seq=1,past=" + std::to_string(bucket.length);
  };

  // Import and run the graph pipeline for one set of dims (one bucket when partitioned).
  // `prefill`: a PREFILL bucket of a partitioned schedule, whose LM head is computed at the
  // prompt's last position only (conveyor-graph-last-token-logits).
  auto lowerModule = [&](const std::string &dimSizes,
                         bool prefill = false) -> Result<OwningOpRef<ModuleOp>> {
    frontend::ImportOptions importOptions;
    if (!dimSizes.empty()) {
      std::string problem = frontend::parseDimSizes(dimSizes, importOptions);
      if (!problem.empty()) {
        return makeError("--dims: " + problem);
      }
    }
    OwningOpRef<ModuleOp> module =
        frontend::importOnnxFile(context, options.onnxPath, importOptions);
    if (!module) {
      return errors.take("could not import the ONNX model");
    }
    Builder builder(&context);
    (*module)->setAttr(target::kSourcePathAttr, builder.getStringAttr(options.onnxPath));
    if (auto name = (*module)->getAttrOfType<StringAttr>("cv.model_name")) {
      summary.modelName = name.str();
    }

    PassManager pm(&context);
    pm.addPass(graph::createGraphCanonicalizeShapes());
    if (options.emit != EmitKind::Graph && !partitionedSchedule) { // not partitioned
      // Bind named dims, fuse transformer patterns, then lower everything
      std::vector<std::string> dimBindings;
      for (StringRef entry : llvm::split(StringRef(options.dimSizes), ',')) {
        if (!entry.trim().empty()) {
          dimBindings.push_back(entry.trim().str());
        }
      }
      if (!dimBindings.empty()) {
        pm.addPass(graph::createGraphSpecializeDims(graph::GraphSpecializeDimsOptions{dimBindings}));
      }
      pm.addPass(graph::createGraphFuseNorms());
      pm.addPass(graph::createGraphFuseActivations());
      pm.addPass(graph::createGraphFuseTransformer());
      pm.addPass(createCanonicalizerPass());
      pm.addPass(createCSEPass());
      pm.addPass(createConvertGraphToChip());
      pm.addPass(chip::createFoldAttentionScale()); // before quantisation sees q's weights
      // Quantise weights, round activations and the KV cache
      if (!options.weightPrecision.empty() || !options.activationPrecision.empty() ||
          !options.kvPrecision.empty()) {
        PrecisionOptions precision{options.weightPrecision, options.activationPrecision,
                                   options.kvPrecision};
        if (std::string problem = checkPrecisionOptions(precision); !problem.empty()) {
          return makeError("error: " + problem);
        }
        pm.addPass(createApplyPrecisionPass(precision));
      }
      pm.addPass(chip::createAllocateSram(chip::AllocateSramOptions{options.systemPath}));
      pm.addPass(
          chip::createScheduleInstructions(chip::ScheduleInstructionsOptions{options.systemPath}));
    }
    // Tensor/pipeline partition: one cv.graph function per chip role + decode bound
    const bool partitioned = options.tensorParallel > 0 || options.pipelineStages > 0;
    if (partitioned) {
      if (options.emit == EmitKind::Chip) { // schedules are built below
        return makeError("error: a partitioned compile (tensor parallel x pipeline stages) writes "
                         "cv.graph text only until multi-chip lowering is wired in; pass --emit graph");
      }
      if (options.systemPath.empty()) {
        return makeError("error: a partitioned compile needs --system systems/<name>.yaml for "
                         "routing and the decode bound");
      }
      pm.addPass(graph::createGraphFuseNorms());
      pm.addPass(graph::createGraphFuseActivations());
      pm.addPass(graph::createGraphFuseTransformer());
      if (prefill) {
        pm.addPass(graph::createGraphLastTokenLogits());
      }
      sharding::PartitionGraphOptions partition;
      partition.tp = std::max<uint32_t>(1, options.tensorParallel);
      partition.stages = std::max<uint32_t>(1, options.pipelineStages);
      partition.stageLayers = options.stageLayers;
      partition.systemPath = options.systemPath;
      pm.addPass(sharding::createPartitionGraph(partition));
      // The bound counts weights at the stored precision (fp16, the zoo's, when not given).
      auto dtypeName = [](const std::string &name, const char *fallback) {
        return name.empty() ? std::string(fallback) : name == "fp32" ? std::string("f32") : name;
      };
      sharding::PartitionBoundOptions bound;
      bound.systemPath = options.systemPath;
      bound.weightType = dtypeName(options.weightPrecision, "fp16");
      bound.activationType = dtypeName(options.activationPrecision, "fp16");
      pm.addPass(sharding::createPartitionBound(bound));
      // Collectives -> C2C for the multi-chip schedule
      if (partitionedSchedule) {
        sharding::LowerCollectivesOptions collectives;
        collectives.systemPath = options.systemPath;
        collectives.activationType = bound.activationType;
        collectives.weightType = bound.weightType;
        pm.addPass(sharding::createLowerCollectives(collectives));
      }
    }
    if (failed(pm.run(*module))) {
      return errors.take("compilation failed");
    }
    // Read the partition and its bound off the module
    if (partitioned) {
      auto integer = [&](StringRef name) -> uint64_t {
        auto attr = (*module)->getAttrOfType<IntegerAttr>(name);
        return attr ? attr.getValue().getZExtValue() : 0;
      };
      summary.tensorParallel = integer("cv.partition.tp");
      summary.pipelineStages = integer("cv.partition.stages");
      summary.layers = integer("cv.partition.layers");
      summary.decodeBoundCycles = integer("cv.partition.decode_bound_cycles");
      if (auto rate = (*module)->getAttrOfType<FloatAttr>("cv.partition.decode_bound_tokens_per_s")) {
        summary.decodeBoundTokensPerSecond = rate.getValueAsDouble();
      }
      for (auto func : module->getOps<func::FuncOp>()) {
        summary.partitionTemplates += func->hasAttr("cv.partition.role") ? 1 : 0;
      }
    }
    return module;
  };

  Status written;
  // Partitioned: lower each template per bucket and merge the multi-chip programs
  if (partitionedSchedule) {
    summary.kvLength = kvLength;
    ScheduleBucketMerger merger(config.chip.sramBytes(), system::SramMap(config.chip));
    std::optional<CompileSummary> longest;
    bool stopPrefill = false;
    for (const ScheduleBucket &bucket : buckets) {
      // A default bucket other than the longest DECODE one that cannot be built or does not
      // fit in SRAM is left out, and said so. Longer prompts would need more SRAM still, so
      // no PREFILL bucket is tried after one is left out; shorter DECODE buckets still are.
      const bool optional = bucket.kind == schedule::PREFILL
                                ? prefillDefaulted
                                : decodeDefaulted && bucket.length != kvLength;
      bool stop = false;
      auto leaveOut = [&](const std::string &why) {
        summary.notes.push_back(fmt::format("{} left out (a default bucket): {}", bucket.tag(),
                                            why));
        stop = bucket.kind == schedule::PREFILL;
      };
      if (stopPrefill && bucket.kind == schedule::PREFILL) {
        continue;
      }
      Result<OwningOpRef<ModuleOp>> module =
          lowerModule(dimsOf(bucket), bucket.kind == schedule::PREFILL && partitionedSchedule &&
                                          options.dimSizes.empty());
      if (!module && optional) {
        leaveOut(module.error());
        stopPrefill = stop;
        continue;
      }
      if (!module) {
        return module.takeError();
      }
      CompileSummary stepSummary = summary;
      stepSummary.weightBytes = 0;
      stepSummary.instructions = 0;
      FailureOr<schedule::Schedule> built = buildMultiChipSchedule(
          **module, config, options, bucket.kind == schedule::DECODE ? bucket.length : 0,
          stepSummary);
      if (failed(built)) {
        Error error =
            errors.take(fmt::format("could not build the multi-chip schedule of {}", bucket.tag()));
        if (optional) {
          leaveOut(error.message);
          stopPrefill = stop;
          continue;
        }
        return error;
      }
      Status added = merger.add(*built, bucket);
      if (!added && optional) {
        leaveOut(added.error());
        stopPrefill = stop;
        continue;
      }
      if (!added) {
        return makeError(options.onnxPath + ": error: " + added.error() +
                         "; drop the bucket or use a larger system");
      }
      summary.buckets.push_back(
          {bucket.kind == schedule::PREFILL ? "prefill" : "decode", bucket.length,
           stepSummary.decodeCycles, stepSummary.instructions});
      summary.instructions += stepSummary.instructions;
      summary.weightBytes = stepSummary.weightBytes;
      if (bucket.kind == schedule::DECODE && bucket.length == kvLength) {
        longest = stepSummary;
      }
    }
    // The longest DECODE bucket is the file's decode step (and its lower bound)
    if (longest) {
      summary.decodeCycles = longest->decodeCycles;
      summary.endCycle = longest->endCycle;
      summary.tokensPerStep = longest->tokensPerStep;
      summary.decodeBoundCycles = longest->decodeBoundCycles;
      summary.decodeBoundTokensPerSecond = longest->decodeBoundTokensPerSecond;
      summary.tensorParallel = longest->tensorParallel;
      summary.pipelineStages = longest->pipelineStages;
      summary.layers = longest->layers;
      summary.partitionTemplates = longest->partitionTemplates;
    }
    summary.sramBytesUsed = merger.sramBytesUsed();
    written = schedule::writeScheduleFile(merger.merged(), options.outputPath);
    if (!written) {
      return makeError(written.error());
    }
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
  }
  Result<OwningOpRef<ModuleOp>> lowered = lowerModule(options.dimSizes);
  if (!lowered) {
    return lowered.takeError();
  }
  OwningOpRef<ModuleOp> module = std::move(*lowered);

  if (options.emit == EmitKind::Graph) {
    written = writeText(options.outputPath, printModule(*module));
  } else {
    summarize(*module, summary);
    // Built for chip text too: it re-verifies the schedule and gives tokens per step.
    FailureOr<schedule::Schedule> built = target::buildSchedule(*module, config);
    if (failed(built)) {
      return errors.take("could not build the schedule");
    }
    if (built->programs_size() > 0) {
      summary.tokensPerStep = built->programs(0).tokens_per_step();
    }
    written = options.emit == EmitKind::Chip
                  ? writeText(options.outputPath, printModule(*module))
                  : schedule::writeScheduleFile(*built, options.outputPath);
  }
  if (!written) {
    return makeError(written.error());
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

} // namespace conveyor::compile
