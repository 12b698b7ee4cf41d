// inspectOnnxModel: import an ONNX file with its symbolic sizes bound, then analyse it.
//
// One import keeps the dimensions symbolic (to learn their names), one binds them for a
// decode step (seq = 1, past = context - 1) and one for prefill (seq = prompt, past = 0).
// Importing is cheap (a 70B shape-only graph is ~0.1 s); binding at import time lets the
// importer fold every shape and position computation, so the analysis sees static shapes.
#include "conveyor/Analysis/ModelStats.h"
#include "conveyor/Analysis/ModelStatsAnalysis.h"

#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Dialect/Graph/SymbolicDim.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <map>
#include <optional>

using namespace mlir;

namespace conveyor::analysis {

namespace {

/// Keeps the first error diagnostic as one line "file: error: [node 'n': ]message".
class FirstErrorCapture {
public:
  FirstErrorCapture(MLIRContext &context, std::string file)
      : file(std::move(file)), handler(&context, [this](Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() == DiagnosticSeverity::Error && message.empty()) {
            message = format(diagnostic);
          }
          return success();
        }) {}

  /// The first error, else `fallback`; `stage` (e.g. "decode at --context 4096 (seq=1,
  /// past=4095)") is inserted after "error: " so the user sees which binding failed.
  Error take(const std::string &fallback, const std::string &stage = "") const {
    std::string text = message.empty() ? file + ": error: " + fallback : message;
    if (!stage.empty()) {
      // The symbolic import succeeded, so the sizes are what the graph rejects.
      size_t at = text.find(": error: ");
      text.insert(at == std::string::npos ? 0 : at + 9, stage + ": ");
      text += " (the model may not support this length: try a smaller --context / --prompt)";
    }
    return makeError(text);
  }

private:
  std::string format(Diagnostic &diagnostic) const {
    std::string where = file, node;
    diagnostic.getLocation()->walk([&](Location loc) {
      if (auto nameLoc = dyn_cast<NameLoc>(loc); nameLoc && node.empty()) {
        node = nameLoc.getName().str();
      }
      return WalkResult::advance();
    });
    std::string text = diagnostic.str();
    for (char &c : text) {
      if (c == '\n') {
        c = ' ';
      }
    }
    if (!node.empty() && text.find("'" + node + "'") == std::string::npos) {
      text = "node '" + node + "': " + text;
    }
    return where + ": error: " + text;
  }

  std::string file, message;
  ScopedDiagnosticHandler handler;
};

/// The symbolic names @main's arguments use (from `cv.dim_names`), with the argument
/// that first uses each, for messages.
std::map<std::string, std::string> symbolicDimNames(ModuleOp module) {
  std::map<std::string, std::string> names;
  for (auto function : module.getOps<func::FuncOp>()) {
    for (unsigned i = 0; i < function.getNumArguments(); ++i) {
      auto dims = function.getArgAttrOfType<ArrayAttr>(i, graph::kDimNamesAttrName);
      auto argName = function.getArgAttrOfType<StringAttr>(i, "cv.name");
      if (!dims) {
        continue;
      }
      for (Attribute dim : dims) {
        auto text = dyn_cast<StringAttr>(dim);
        if (!text || text.getValue().empty()) {
          continue;
        }
        if (std::optional<graph::DimExpr> expr = graph::DimExpr::parse(text.getValue())) {
          for (const std::string &symbol : expr->getSymbols()) {
            names.emplace(symbol, argName ? argName.getValue().str() : "#" + std::to_string(i));
          }
        }
      }
    }
  }
  return names;
}

/// Tokens one call processes: the element count of the first integer input (token ids,
/// [batch, seq]); without one, the first float input of rank >= 2 read as hidden states
/// [batch, seq, hidden] (elements / hidden); else `fallback`.
int64_t tokensPerCall(ModuleOp module, int64_t fallback) {
  std::optional<int64_t> hiddenStates;
  for (auto function : module.getOps<func::FuncOp>()) {
    for (BlockArgument argument : function.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!type || !type.hasStaticShape() || type.getNumElements() == 0) {
        continue;
      }
      if (isa<IntegerType>(type.getElementType())) {
        return type.getNumElements();
      }
      if (!hiddenStates && isa<FloatType>(type.getElementType()) && type.getRank() >= 2) {
        hiddenStates = type.getNumElements() / type.getShape().back();
      }
    }
  }
  return hiddenStates.value_or(fallback);
}

} // namespace

Result<ModelStats> inspectOnnxModel(const std::string &path, const InspectOptions &options) {
  if (options.context < 1) {
    return makeError("inspect: --context must be at least 1 (tokens in the context, the new "
                     "one included); got " +
                     std::to_string(options.context));
  }
  if (options.prompt < 1) {
    return makeError("inspect: --prompt must be at least 1; got " + std::to_string(options.prompt));
  }
  DialectRegistry registry;
  registry.insert<graph::GraphDialect, func::FuncDialect>();
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  FirstErrorCapture capture(context, path);

  auto import = [&](const std::map<std::string, int64_t> &sizes) {
    frontend::ImportOptions importOptions;
    for (const auto &[name, size] : options.otherDims) {
      importOptions.dimSizes[name] = size;
    }
    for (const auto &[name, size] : sizes) {
      importOptions.dimSizes[name] = size;
    }
    return frontend::importOnnxFile(context, path, importOptions);
  };

  // 1. Which symbolic dimensions does the graph have?
  OwningOpRef<ModuleOp> symbolic = import({});
  if (!symbolic) {
    return capture.take("cannot import the model");
  }
  std::map<std::string, std::string> names = symbolicDimNames(*symbolic);
  for (const auto &[name, input] : names) {
    if (name != options.batchDim && name != options.seqDim && name != options.pastDim) {
      return makeError(path + ": error: input '" + input + "' has the symbolic dimension '" + name +
                       "', which inspect does not bind; give its size with --dims " + name + "=N");
    }
  }
  bool hasSeq = names.count(options.seqDim) != 0;
  bool hasPast = names.count(options.pastDim) != 0;

  ModelStats stats;
  stats.path = path;
  stats.kvPrecision = options.kvPrecision;
  if (auto name = (*symbolic)->getAttrOfType<StringAttr>("cv.model_name")) {
    stats.modelName = name.getValue().str();
  }
  // Parameters from the symbolic import: once sizes are bound the importer folds
  // position-derived tables (RoPE cos/sin, gathered position rows) into constants that
  // look like parameters; with the sizes symbolic they stay computations.
  FailureOr<ParameterStats> params = analyzeParameters(*symbolic);
  if (failed(params)) {
    return capture.take("cannot count the parameters");
  }
  stats.params = *params;
  auto describe = [](const char *step, const std::map<std::string, int64_t> &sizes) {
    std::string text = step;
    const char *separator = " (";
    for (const auto &[name, size] : sizes) {
      text += separator + name + "=" + std::to_string(size);
      separator = ", ";
    }
    return sizes.empty() ? text : text + ")";
  };
  auto bindings = [&](int64_t seq, int64_t past) {
    std::map<std::string, int64_t> sizes;
    if (names.count(options.batchDim)) {
      sizes[options.batchDim] = 1;
    }
    if (hasSeq) {
      sizes[options.seqDim] = seq;
    }
    if (hasPast) {
      sizes[options.pastDim] = past;
    }
    return sizes;
  };

  // 2. Prefill: the prompt with an empty cache (or the graph's fixed shapes).
  stats.prefillDims = bindings(options.prompt, 0);
  OwningOpRef<ModuleOp> prefill = import(stats.prefillDims);
  if (!prefill) {
    return capture.take("cannot import the model for prefill",
                        describe(("prefill of --prompt " + std::to_string(options.prompt)).c_str(),
                                 stats.prefillDims));
  }
  FailureOr<GraphStats> prefillStats = analyzeGraph(*prefill);
  if (failed(prefillStats)) {
    return capture.take("cannot analyse the prefill graph");
  }
  stats.prefill.tokens = tokensPerCall(*prefill, hasSeq ? options.prompt : 1);
  stats.prefill.context = hasSeq ? options.prompt : stats.prefill.tokens;
  stats.prefill.macs = prefillStats->macs;
  if (!hasSeq) {
    stats.notes.push_back("the graph's shapes are fixed: prefill is one call on its own " +
                          std::to_string(stats.prefill.tokens) + " tokens (--prompt ignored)");
  }

  // 3. Decode: one new token against a cache of context - 1 (only with a cache input).
  if (hasPast) {
    stats.decodeDims = bindings(1, options.context - 1);
    OwningOpRef<ModuleOp> decode = import(stats.decodeDims);
    if (!decode) {
      return capture.take(
          "cannot import the model for decode",
          describe(("decode at --context " + std::to_string(options.context)).c_str(),
                   stats.decodeDims));
    }
    FailureOr<GraphStats> decodeStats = analyzeGraph(*decode);
    if (failed(decodeStats)) {
      return capture.take("cannot analyse the decode graph");
    }
    StepFlops step;
    step.tokens = tokensPerCall(*decode, 1);
    step.context = options.context;
    step.macs = decodeStats->macs;
    stats.decode = step;
    stats.kvCache = decodeStats->kvCache;
    if (stats.kvCache && stats.kvCache->windowedCacheTensors > 0) {
      stats.notes.push_back(
          std::to_string(stats.kvCache->windowedCacheTensors) + " of " +
          std::to_string(stats.kvCache->cacheTensors) + " cache tensors are read through a " +
          std::to_string(stats.kvCache->slidingWindow) +
          "-key sliding window: past it the cache grows by " +
          std::to_string(stats.kvCache->bytesPerTokenBeyondWindow(options.kvPrecision)) +
          " bytes per token at " + precisionName(options.kvPrecision));
    }
  } else {
    stats.notes.push_back("no '" + options.pastDim +
                          "' dimension: the graph has no KV-cache inputs, so no decode step");
  }

  for (const StepFlops *step : {&stats.prefill, stats.decode ? &*stats.decode : nullptr}) {
    if (step && step->macs.unresolvedMasks > 0) {
      stats.notes.push_back(std::to_string(step->macs.unresolvedMasks) +
                            " attention matmuls have a mask inspect cannot evaluate; they are "
                            "counted dense (every query-key pair)");
      break;
    }
  }
  return stats;
}

} // namespace conveyor::analysis
