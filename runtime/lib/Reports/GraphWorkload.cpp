// Per-op GPU workload profiles from the planner's ModelSummary of a cv.graph, their step
// tables and the JSON of `conveyor inspect --profile`.
#include "conveyor/Reports/GraphWorkload.h"

#include "conveyor/Gpu/Roofline.h"

#include <fmt/format.h>

#include <cmath>

namespace conveyor::reports {
namespace {

using gpu::bytesOf;
using gpu::OpCost;
using gpu::OpKind;

bool sameShape(const partition::LayerSummary &a, const partition::LayerSummary &b) {
  return a.attnQ == b.attnQ && a.attnK == b.attnK && a.attnV == b.attnV && a.attnO == b.attnO &&
         a.mlpGate == b.mlpGate && a.mlpUp == b.mlpUp && a.mlpDown == b.mlpDown &&
         a.experts == b.experts && a.router == b.router && a.norms == b.norms &&
         a.numExperts == b.numExperts && a.topK == b.topK &&
         a.kvElementsPerToken == b.kvElementsPerToken && a.slidingWindow == b.slidingWindow;
}

std::string jsonText(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out + "\"";
}

} // namespace

Result<gpu::WorkloadProfile> buildGraphWorkloadProfile(const partition::ModelSummary &model,
                                                       const gpu::ProfileOptions &options) {
  auto fail = [&](const std::string &what) -> Error {
    return makeError(fmt::format("workload profile of '{}': {}", model.name, what));
  };
  if (model.layers.empty() || model.hidden == 0 || model.heads == 0) {
    return fail("the model summary has no layers, hidden size or attention heads");
  }
  const gpu::PrecisionConfig &p = options.precision;
  const double hidden = double(model.hidden);
  const double headDim = double(model.headDim ? model.headDim : model.hidden / model.heads);
  const uint64_t kvHeads = model.kvHeads ? model.kvHeads : model.heads;
  const double queryWidth = double(model.heads) * headDim;
  const double kvWidth = double(kvHeads) * headDim;
  const double ffn = double(model.ffn);
  auto act = [&](double elements) { return bytesOf(elements, p.activations); };

  gpu::WorkloadProfile profile;
  profile.name = model.name;
  profile.layers = uint32_t(model.layers.size());
  profile.experts = model.experts;
  profile.topK = model.topK;
  profile.computeType = p.compute;
  profile.allReduceBytesPerToken = act(hidden);
  profile.allReducesPerStep = 2 * profile.layers;
  profile.kvBytesPerToken = bytesOf(double(model.kvElementsPerToken()), p.kvCache);

  double weightBytes = 0;
  size_t first = 0;
  const size_t layerCount = model.layers.size();
  while (first < layerCount) {
    size_t end = first + 1;
    while (end < layerCount && sameShape(model.layers[end], model.layers[first])) {
      ++end;
    }
    const partition::LayerSummary &layer = model.layers[first];
    const uint32_t repeats = uint32_t(end - first);
    // The first group keeps the plain op names (a uniform model reads like the model-card
    // builder's profile); later groups say which layers they cover.
    const std::string suffix =
        first == 0 ? "" : fmt::format("[layers {}-{}]", first, end - 1);
    auto dense = [&](const std::string &name, double params, double activationElements) {
      OpCost op;
      op.name = name + suffix;
      op.repeats = repeats;
      op.flopsPerToken = 2 * params;
      op.weightBytes = bytesOf(params, p.weights);
      op.activationBytesPerToken = act(activationElements);
      profile.ops.push_back(op);
    };
    dense("attn.qkv_proj", double(layer.attnQ + layer.attnK + layer.attnV),
          hidden + queryWidth + 2 * kvWidth);
    {
      OpCost attention;
      attention.name = "attn.core" + suffix;
      attention.kind = OpKind::Attention;
      attention.repeats = repeats;
      attention.flopsPerContextPair = 4 * queryWidth; // QK^T and PV, 2 FLOPs per MAC each
      attention.kvBytesPerContextToken = bytesOf(double(layer.kvElementsPerToken), p.kvCache);
      attention.activationBytesPerToken = act(2 * queryWidth);
      attention.kvHeads = uint32_t(kvHeads);
      attention.slidingWindow = layer.slidingWindow > 0 ? uint64_t(layer.slidingWindow) : 0;
      if (attention.kvBytesPerContextToken <= 0) {
        return fail(fmt::format("layer {} has no KV-cache input; the roofline needs the "
                                "cache growth per token of every layer",
                                first));
      }
      profile.ops.push_back(attention);
    }
    dense("attn.o_proj", double(layer.attnO), queryWidth + hidden);
    if (layer.numExperts == 0) {
      double upMatrices = layer.mlpGate > 0 ? 2.0 : 1.0;
      dense("mlp.up", double(layer.mlpGate + layer.mlpUp), hidden + upMatrices * ffn);
      dense("mlp.down", double(layer.mlpDown), ffn + hidden);
    } else {
      if (profile.experts == 0 || layer.topK == 0) {
        return fail(fmt::format("layer {} has {} experts but the model's top_k is unknown",
                                first, layer.numExperts));
      }
      dense("moe.router", double(layer.router), hidden + layer.numExperts);
      double expertParams = double(layer.experts) / layer.numExperts;
      // gate + up + down (3 matrices of hidden x ffn) or up + down (2).
      double matrices = ffn > 0 ? std::round(expertParams / (hidden * ffn)) : 3.0;
      OpCost expert;
      expert.name = "moe.expert" + suffix;
      expert.kind = OpKind::Expert;
      expert.repeats = repeats;
      expert.flopsPerToken = 2 * expertParams;
      expert.weightBytes = bytesOf(expertParams, p.weights);
      expert.activationBytesPerToken = act(2 * hidden + (matrices - 1) * ffn);
      profile.ops.push_back(expert);
    }
    {
      // Norms, residual adds, RoPE and the MLP activation; norm weights stay 16-bit.
      OpCost elementwise;
      elementwise.name = "elementwise" + suffix;
      elementwise.repeats = repeats;
      elementwise.flopsPerToken = 12 * hidden;
      elementwise.weightBytes = bytesOf(double(layer.norms), system::DType::BF16);
      elementwise.activationBytesPerToken = act(10 * hidden);
      elementwise.tensorParallel = false;
      profile.ops.push_back(elementwise);
    }
    weightBytes += repeats * (bytesOf(double(layer.attentionWeights() + layer.mlpWeights()),
                                      p.weights) +
                              bytesOf(double(layer.norms), system::DType::BF16));
    first = end;
  }

  const double headElements =
      model.lmHeadElements > 0 ? double(model.lmHeadElements) : double(model.vocab) * hidden;
  {
    OpCost embedding; // a row gather: only the step's tokens' rows are read
    embedding.name = "embedding";
    embedding.activationBytesPerToken = bytesOf(hidden, p.head) + act(hidden);
    embedding.tensorParallel = false;
    profile.ops.push_back(embedding);
  }
  {
    OpCost finalNorm;
    finalNorm.name = "final_norm";
    finalNorm.flopsPerToken = 4 * hidden;
    finalNorm.weightBytes = bytesOf(double(model.finalNormElements), system::DType::BF16);
    finalNorm.activationBytesPerToken = act(2 * hidden);
    finalNorm.tensorParallel = false;
    profile.ops.push_back(finalNorm);
  }
  {
    OpCost head;
    head.name = "lm_head";
    head.flopsPerToken = 2 * headElements;
    head.weightBytes = bytesOf(headElements, p.head);
    head.activationBytesPerToken = act(hidden + double(model.vocab));
    head.tensorParallel = options.shardLmHead;
    head.perSequence = true;
    profile.ops.push_back(head);
  }
  weightBytes += bytesOf(double(model.embeddingElements), p.head) +
                 (model.tiedEmbedding ? 0.0 : bytesOf(double(model.lmHeadElements), p.head)) +
                 bytesOf(double(model.finalNormElements), system::DType::BF16);
  profile.weightBytes = weightBytes;
  profile.parameters = double(model.totalWeights());

  Status valid = gpu::validateWorkloadProfile(profile);
  if (!valid) {
    return makeError(valid.error());
  }
  return profile;
}

Result<ProfileStepTable> profileStepTable(const gpu::WorkloadProfile &profile, uint64_t prompt,
                                          uint64_t kvLength) {
  if (prompt == 0) {
    return makeError("profile step table: the prompt needs at least one token");
  }
  // A unit GPU (1 FLOP/s, 1 B/s, efficiencies 1): the roofline's own per-op counting gives
  // each op's FLOPs and bytes, so the table and the timing can never disagree.
  gpu::GpuConfig unit;
  unit.name = "unit";
  unit.peakFlopsPerSecond[profile.computeType] = 1;
  unit.memoryBytes = 1;
  unit.memoryBytesPerSecond = 1;
  unit.usableMemoryFraction = 1;
  unit.interconnect = {"none", 1, 0, 1};
  unit.power = {1, 0};
  unit.prefill = {1, 1};
  unit.decode = {1, 1};
  ProfileStepTable table;
  table.prompt = prompt;
  table.kvLength = kvLength;
  for (bool decode : {false, true}) {
    gpu::SequenceGroup group =
        decode ? gpu::SequenceGroup{gpu::Phase::Decode, 1, kvLength, 1}
               : gpu::SequenceGroup{gpu::Phase::Prefill, uint32_t(prompt), 0, 1};
    Result<gpu::StepCost> step = gpu::evaluateStep(unit, profile, 1, std::span(&group, 1));
    if (!step) {
      return step.takeError();
    }
    std::vector<OpStepWork> &rows = decode ? table.decode : table.prefill;
    for (size_t i = 0; i < step->ops.size(); ++i) {
      const gpu::OpTime &time = step->ops[i];
      const OpCost &op = profile.ops[i];
      rows.push_back({time.name, gpu::opKindName(op.kind), op.repeats, time.flops,
                      time.weightBytes, time.activationBytes, time.kvBytes});
    }
  }
  return table;
}

std::string renderWorkloadProfileJson(const gpu::WorkloadProfile &profile,
                                      const ProfileStepTable &table, const std::string &source,
                                      const gpu::PrecisionConfig &precision) {
  std::string out = "{\n";
  out += fmt::format("  \"model\": {},\n  \"source\": {},\n", jsonText(profile.name),
                     jsonText(source));
  out += fmt::format(
      "  \"precision\": {{\"weights\": \"{}\", \"head\": \"{}\", \"kv_cache\": \"{}\", "
      "\"activations\": \"{}\", \"compute\": \"{}\"}},\n",
      system::dtypeName(precision.weights), system::dtypeName(precision.head),
      system::dtypeName(precision.kvCache), system::dtypeName(precision.activations),
      system::dtypeName(precision.compute));
  out += fmt::format("  \"layers\": {},\n  \"experts\": {},\n  \"top_k\": {},\n"
                     "  \"parameters\": {},\n  \"weight_bytes\": {},\n"
                     "  \"kv_bytes_per_token\": {},\n  \"all_reduces_per_step\": {},\n"
                     "  \"all_reduce_bytes_per_token\": {},\n",
                     profile.layers, profile.experts, profile.topK, profile.parameters,
                     profile.weightBytes, profile.kvBytesPerToken, profile.allReducesPerStep,
                     profile.allReduceBytesPerToken);
  out += "  \"ops\": [\n";
  for (size_t i = 0; i < profile.ops.size(); ++i) {
    const OpCost &op = profile.ops[i];
    out += fmt::format(
        "    {{\"name\": {}, \"kind\": \"{}\", \"repeats\": {}, \"flops_per_token\": {}, "
        "\"weight_bytes\": {}, \"activation_bytes_per_token\": {}, "
        "\"flops_per_context_pair\": {}, \"kv_bytes_per_context_token\": {}, \"kv_heads\": {}, "
        "\"sliding_window\": {}, \"tensor_parallel\": {}, \"per_sequence\": {}}}{}\n",
        jsonText(op.name), gpu::opKindName(op.kind), op.repeats, op.flopsPerToken,
        op.weightBytes, op.activationBytesPerToken, op.flopsPerContextPair,
        op.kvBytesPerContextToken, op.kvHeads, op.slidingWindow,
        op.tensorParallel ? "true" : "false", op.perSequence ? "true" : "false",
        i + 1 < profile.ops.size() ? "," : "");
  }
  out += "  ],\n";
  auto steps = [&](const char *key, const std::vector<OpStepWork> &rows, const std::string &what,
                   bool last) {
    double flops = 0, weights = 0, activations = 0, kv = 0;
    std::string list;
    for (size_t i = 0; i < rows.size(); ++i) {
      const OpStepWork &row = rows[i];
      flops += row.flops;
      weights += row.weightBytes;
      activations += row.activationBytes;
      kv += row.kvBytes;
      list += fmt::format("      {{\"name\": {}, \"kind\": \"{}\", \"repeats\": {}, \"flops\": "
                          "{}, \"weight_bytes\": {}, \"activation_bytes\": {}, \"kv_bytes\": "
                          "{}}}{}\n",
                          jsonText(row.name), row.kind, row.repeats, row.flops, row.weightBytes,
                          row.activationBytes, row.kvBytes, i + 1 < rows.size() ? "," : "");
    }
    out += fmt::format("  \"{}\": {{{}, \"flops\": {}, \"weight_bytes\": {}, "
                       "\"activation_bytes\": {}, \"kv_bytes\": {}, \"ops\": [\n{}    ]}}{}\n",
                       key, what, flops, weights, activations, kv, list, last ? "" : ",");
  };
  steps("prefill", table.prefill, fmt::format("\"prompt\": {}", table.prompt), false);
  steps("decode", table.decode, fmt::format("\"kv_length\": {}", table.kvLength), true);
  out += "}\n";
  return out;
}

} // namespace conveyor::reports
