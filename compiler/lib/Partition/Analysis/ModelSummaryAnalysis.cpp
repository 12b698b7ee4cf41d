// ModelSummary from a cv.graph module: weights by layer and role, attention and KV dims.
#include "conveyor/Partition/ModelSummaryAnalysis.h"
#include "conveyor/Dialect/Graph/GraphDialect.h"
#include "conveyor/Frontend/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>

using namespace mlir;

namespace conveyor::partition {

namespace {

enum class Role { Q, K, V, O, Qkv, Gate, Up, GateUp, Down, Experts, Router, Norm };

bool contains(const std::string &text, const char *needle) {
  return text.find(needle) != std::string::npos;
}

/// Role of a weight inside a layer from the rest of its name (after "layers.N.").
Role roleOf(const std::string &rest) {
  if (contains(rest, "norm") || contains(rest, "ln_") || rest.rfind("ln", 0) == 0 ||
      contains(rest, "sinks")) {
    return Role::Norm;
  }
  if (contains(rest, "experts")) {
    return Role::Experts;
  }
  if (contains(rest, "router") || contains(rest, "block_sparse_moe.gate") ||
      rest.rfind("mlp.gate.", 0) == 0) {
    return Role::Router;
  }
  if (contains(rest, "c_attn") || contains(rest, "qkv") || contains(rest, "query_key_value")) {
    return Role::Qkv;
  }
  if (contains(rest, "q_proj") || contains(rest, "query")) {
    return Role::Q;
  }
  if (contains(rest, "k_proj") || contains(rest, ".key")) {
    return Role::K;
  }
  if (contains(rest, "v_proj") || contains(rest, ".value")) {
    return Role::V;
  }
  if (contains(rest, "o_proj") || contains(rest, "out_proj") || contains(rest, "attn.c_proj") ||
      contains(rest, "attention.dense")) {
    return Role::O;
  }
  if (contains(rest, "gate_up")) {
    return Role::GateUp;
  }
  if (contains(rest, "gate_proj") || contains(rest, ".w1")) {
    return Role::Gate;
  }
  if (contains(rest, "up_proj") || contains(rest, "c_fc") || contains(rest, "fc1") ||
      contains(rest, ".w3")) {
    return Role::Up;
  }
  if (contains(rest, "down_proj") || contains(rest, "mlp.c_proj") || contains(rest, "fc2") ||
      contains(rest, ".w2")) {
    return Role::Down;
  }
  return Role::Norm; // anything else small and per-layer: counted whole on every rank
}

struct NamedWeight {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t elements = 0;
  bool isBias() const { return contains(name, "bias"); }
};

std::optional<NamedWeight> weightOf(Operation *op) {
  const llvm::StringRef opName = op->getName().getStringRef();
  if (opName != "cv.graph.weight" && opName != "cv.graph.constant") {
    return std::nullopt;
  }
  auto name = op->getAttrOfType<StringAttr>("name");
  if (!name || op->getNumResults() != 1) {
    return std::nullopt;
  }
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!type || !type.hasStaticShape() || !isa<FloatType>(type.getElementType()) ||
      type.getNumElements() < 2) {
    return std::nullopt;
  }
  NamedWeight w;
  w.name = name.str();
  w.shape.assign(type.getShape().begin(), type.getShape().end());
  w.elements = uint64_t(type.getNumElements());
  return w;
}

} // namespace

Result<ModelSummary> summarizeGraph(ModuleOp module, const std::string &sourceName) {
  func::FuncOp main = module.lookupSymbol<func::FuncOp>("main");
  if (!main) {
    for (auto f : module.getOps<func::FuncOp>()) {
      main = f;
      break;
    }
  }
  if (!main) {
    return makeError(sourceName + ": no function to summarise");
  }
  ModelSummary m;
  if (auto name = module->getAttrOfType<StringAttr>("cv.model_name")) {
    m.name = name.str();
  }
  if (m.name.empty()) {
    m.name = std::filesystem::path(sourceName).stem().string();
  }

  // KV heads and head size from the cache tensors: one [batch, heads, seq, headDim] tensor
  // per layer and key/value, found by name.
  std::map<uint32_t, uint64_t> kvPerLayer;
  auto recordCacheTensor = [&](StringAttr name, Type valueType, const std::regex &pattern) {
    auto type = dyn_cast<RankedTensorType>(valueType);
    std::smatch match;
    std::string text = name ? name.str() : std::string();
    if (!type || type.getRank() != 4 || !std::regex_match(text, match, pattern)) {
      return;
    }
    const int64_t heads = type.getDimSize(1), headDim = type.getDimSize(3);
    if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(headDim)) {
      return;
    }
    m.kvHeads = uint64_t(heads);
    m.headDim = uint64_t(headDim);
    kvPerLayer[uint32_t(std::stoul(match[1].str()))] += uint64_t(heads * headDim);
  };
  static const std::regex cacheName(R"(past_key_values\.(\d+)\.(key|value))");
  for (unsigned i = 0; i < main.getNumArguments(); ++i) {
    recordCacheTensor(main.getArgAttrOfType<StringAttr>(i, "cv.name"),
                      main.getArgument(i).getType(), cacheName);
  }

  // A prefill export has no cache inputs but returns the cache it built: present.N.key.
  static const std::regex presentName(R"(present\.(\d+)\.(key|value))");
  if (kvPerLayer.empty()) {
    for (unsigned i = 0; i < main.getNumResults(); ++i) {
      recordCacheTensor(main.getResultAttrOfType<StringAttr>(i, "cv.name"),
                        main.getResultTypes()[i], presentName);
    }
  }

  // Weights by layer and role.
  static const std::regex layerName(R"((?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.(.*))");
  std::map<uint32_t, LayerSummary> layers;
  uint64_t qWidth = 0, qkvWidth = 0, ffn = 0;
  // Unnamed matmul weights (torch renames the transposed copies it exports "onnx::MatMul_N")
  // go to the layer whose named weights (its norms) were used last, or to the tail.
  std::map<uint32_t, std::vector<NamedWeight>> anonymous;
  std::set<std::pair<uint32_t, Role>> namedRoles; // (layer, role) with a named weight matrix
  std::set<uint32_t> fusedQkvLayers;
  std::set<Operation *> anonymousSeen;
  int64_t currentLayer = -1;
  bool inTail = false;
  auto layerIndexOf = [&](const std::string &name) -> std::optional<uint32_t> {
    std::smatch match;
    if (std::regex_search(name, match, layerName)) {
      return uint32_t(std::stoul(match[1].str()));
    }
    return std::nullopt;
  };
  main.walk([&](Operation *op) {
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      std::optional<NamedWeight> used = def ? weightOf(def) : std::nullopt;
      if (!used) {
        continue;
      }
      if (std::optional<uint32_t> index = layerIndexOf(used->name)) {
        currentLayer = *index;
        inTail = false;
      } else if (currentLayer >= 0 &&
                 (contains(used->name, "norm") || contains(used->name, "ln_f"))) {
        inTail = true;
      }
    }
    const llvm::StringRef kind = op->getName().getStringRef();
    if ((kind == "cv.graph.matmul" || kind == "cv.graph.gemm") && op->getNumOperands() >= 2) {
      Operation *def = op->getOperand(1).getDefiningOp();
      if (def && def->getName().getStringRef() == "cv.graph.transpose") {
        def = def->getOperand(0).getDefiningOp();
      }
      std::optional<NamedWeight> w = def ? weightOf(def) : std::nullopt;
      if (w && w->shape.size() == 2 && !layerIndexOf(w->name) && !contains(w->name, "embed") &&
          !contains(w->name, "lm_head") && !contains(w->name, "wte") &&
          anonymousSeen.insert(def).second) {
        if (inTail) {
          m.lmHeadElements += w->elements;
        } else if (currentLayer >= 0) {
          anonymous[uint32_t(currentLayer)].push_back(*w);
        }
      }
    }
  });

  main.walk([&](Operation *op) {
    if (op->getName().getStringRef() == "cv.graph.topk" && m.topK == 0) {
      if (auto k = op->getAttrOfType<IntegerAttr>("k")) {
        m.topK = uint32_t(k.getInt());
      }
    }
    std::optional<NamedWeight> w = weightOf(op);
    if (!w) {
      return;
    }
    std::smatch match;
    if (!std::regex_search(w->name, match, layerName)) {
      if (contains(w->name, "lm_head")) {
        m.lmHeadElements += w->elements;
      } else if (contains(w->name, "embed") || contains(w->name, "wte") ||
                 contains(w->name, "wpe")) {
        m.embeddingElements += w->elements;
        if ((contains(w->name, "embed_tokens") || contains(w->name, "wte")) &&
            w->shape.size() == 2) {
          m.vocab = uint64_t(w->shape[0]);
          m.hidden = uint64_t(w->shape[1]);
        }
        // A learned position table (GPT-2's wpe) bounds the context to its rows.
        if ((contains(w->name, "wpe") || contains(w->name, "position")) && w->shape.size() == 2) {
          m.maxPositions = uint64_t(w->shape[0]);
        }
      } else if (anonymousSeen.count(op)) {
        return; // counted with its layer or as the LM head
      } else if (contains(w->name, "norm") || contains(w->name, "ln_f") ||
                 op->getName().getStringRef() == "cv.graph.weight") {
        // Named constants outside the layers that are not norms are buffers (RoPE inverse
        // frequencies), not parameters (docs/model-stats.md).
        m.finalNormElements += w->elements;
      }
      return;
    }
    const uint32_t index = uint32_t(std::stoul(match[1].str()));
    LayerSummary &layer = layers[index];
    const std::string rest = match[2].str();
    const uint64_t n = w->elements;
    if (!w->isBias()) {
      namedRoles.insert({index, roleOf(rest)});
    } else if (roleOf(rest) == Role::Qkv) {
      fusedQkvLayers.insert(index); // a named c_attn bias: its unnamed weight is fused too
    }
    switch (roleOf(rest)) {
    case Role::Q:
      layer.attnQ += n;
      if (!w->isBias())
        qWidth = uint64_t(w->shape.back());
      break;
    case Role::K:
      layer.attnK += n;
      break;
    case Role::V:
      layer.attnV += n;
      break;
    case Role::O:
      layer.attnO += n;
      break;
    case Role::Qkv:
      // Split by width once the head counts are known (below); park it in Q for now.
      layer.attnQ += n;
      if (!w->isBias())
        qkvWidth = uint64_t(w->shape.back());
      break;
    case Role::Gate:
      layer.mlpGate += n;
      break;
    case Role::Up:
      layer.mlpUp += n;
      if (!w->isBias() && w->shape.size() == 2)
        ffn = uint64_t(w->shape.back());
      break;
    case Role::GateUp:
      if (w->shape.size() >= 1 && contains(rest, "experts")) {
        layer.experts += n;
      } else {
        layer.mlpGate += n / 2;
        layer.mlpUp += n - n / 2;
      }
      break;
    case Role::Down:
      layer.mlpDown += n;
      break;
    case Role::Experts:
      layer.experts += n;
      if (!w->isBias() && w->shape.size() == 3) {
        layer.numExperts = uint32_t(w->shape[0]);
        if (contains(rest, "gate_up")) {
          ffn = uint64_t(w->shape[2]) / 2;
        } else if (contains(rest, "gate") || contains(rest, "up")) {
          ffn = uint64_t(w->shape[2]);
        }
      }
      break;
    case Role::Router:
      layer.router += n;
      break;
    case Role::Norm:
      layer.norms += n;
      break;
    }
  });
  if (layers.empty()) {
    return makeError(sourceName + ": no decoder layers found (weights are not named like "
                                  "'model.layers.N.*' or 'transformer.h.N.*'); the planner "
                                  "needs a decoder-only transformer");
  }
  if (m.headDim == 0) {
    return makeError(sourceName + ": no KV-cache inputs or outputs (past_key_values.N.key, "
                                  "present.N.key) found, so the head size is unknown; export the "
                                  "model with its cache");
  }
  const uint64_t kvWidth = m.kvHeads * m.headDim;
  for (auto &[index, list] : anonymous) {
    LayerSummary &layer = layers[index];
    const uint64_t h = m.hidden;
    // Fused QKV when no [hidden, kv_width] matrix follows the first one and K/V are unnamed.
    auto named = [&](Role role) { return namedRoles.count({index, role}) != 0; };
    // (An MHA layer whose o-projection is [hidden, hidden] needs the bias hint: shapes alone
    // cannot tell q, k, v, o from fused qkv + o.)
    const bool fused = fusedQkvLayers.count(index) != 0;
    bool separateKv = named(Role::K);
    for (size_t i = 1; i < list.size() && !separateKv && !fused; ++i) {
      separateKv = uint64_t(list[i].shape[0]) == h && uint64_t(list[i].shape[1]) == kvWidth;
    }
    uint64_t layerQ = 0;
    int kvSeen = named(Role::K) || !separateKv ? 2 : 0;
    bool haveO = named(Role::O);
    std::vector<const NamedWeight *> mlpIn;
    for (const NamedWeight &w : list) {
      const uint64_t in = uint64_t(w.shape[0]), out = uint64_t(w.shape[1]);
      if (layerQ == 0 && !named(Role::Q) && !named(Role::Qkv) && in == h) {
        layerQ = out;
        if (separateKv) {
          layer.attnQ += w.elements;
          qWidth = out;
        } else {
          layer.attnQ += w.elements; // split below like a named c_attn
          qkvWidth = out;
        }
      } else if (kvSeen < 2 && in == h && out == kvWidth) {
        (kvSeen++ == 0 ? layer.attnK : layer.attnV) += w.elements;
      } else if (!haveO && out == h &&
                 (in == qWidth || (qkvWidth && in == qkvWidth - 2 * kvWidth))) {
        layer.attnO += w.elements;
        haveO = true;
      } else if (in == h && layer.numExperts > 0 && out == layer.numExperts) {
        layer.router += w.elements;
      } else if (in == h) {
        mlpIn.push_back(&w);
        ffn = out;
      } else if (out == h) {
        layer.mlpDown += w.elements;
      } else {
        layer.norms += w.elements;
      }
    }
    // Two [hidden, ffn] matrices are gate and up; one is up (a plain MLP).
    for (size_t i = 0; i < mlpIn.size(); ++i) {
      (mlpIn.size() >= 2 && i == 0 ? layer.mlpGate : layer.mlpUp) += mlpIn[i]->elements;
    }
  }
  if (m.hidden == 0 && qWidth == 0 && qkvWidth == 0) {
    return makeError(sourceName + ": no attention projections found in the layers");
  }
  if (qkvWidth != 0) {
    // Fused QKV: width = (heads + 2 kv_heads) x head_dim.
    qWidth = qkvWidth - 2 * kvWidth;
    for (auto &[index, layer] : layers) {
      const uint64_t fused = layer.attnQ;
      layer.attnK = fused / qkvWidth * kvWidth;
      layer.attnV = layer.attnK;
      layer.attnQ = fused - 2 * layer.attnK;
    }
  }
  m.heads = qWidth / m.headDim;
  if (m.hidden == 0) {
    m.hidden = m.heads * m.headDim;
  }
  m.ffn = ffn;
  m.tiedEmbedding = m.lmHeadElements == 0;
  uint32_t expected = 0;
  for (auto &[index, layer] : layers) {
    if (index != expected++) {
      return makeError(
          fmt::format("{}: layer {} is missing (found layer {})", sourceName, expected - 1, index));
    }
    if (layer.experts > 0) {
      m.experts = std::max(m.experts, layer.numExperts);
      layer.topK = m.topK;
    }
    auto kv = kvPerLayer.find(index);
    layer.kvElementsPerToken = kv != kvPerLayer.end() ? kv->second : 2 * m.kvHeads * m.headDim;
    m.layers.push_back(layer);
  }
  if (m.experts == 0) {
    m.topK = 0;
  }
  return m;
}

Result<ModelSummary> summarizeOnnxModel(const std::string &onnxPath) {
  DialectRegistry registry;
  registry.insert<graph::GraphDialect, func::FuncDialect>();
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  std::string firstError;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    if (diagnostic.getSeverity() == DiagnosticSeverity::Error && firstError.empty()) {
      firstError = diagnostic.str();
    }
    return success();
  });
  OwningOpRef<ModuleOp> module = frontend::importOnnxFile(context, onnxPath);
  if (!module) {
    return makeError(
        onnxPath + ": error: " +
        (firstError.empty() ? std::string("could not import the ONNX model") : firstError));
  }
  Result<ModelSummary> summary = summarizeGraph(*module, onnxPath);
  if (summary) {
    // Messages name the model as its file does (llama2-70b), not the ONNX graph name.
    summary->name = std::filesystem::path(onnxPath).stem().string();
  }
  return summary;
}

} // namespace conveyor::partition
