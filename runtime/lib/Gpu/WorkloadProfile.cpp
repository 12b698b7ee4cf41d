// Builds per-operation cost profiles of decoder-only transformers and checks profiles.

#include "conveyor/Gpu/WorkloadProfile.h"

#include <fmt/format.h>

#include <cmath>

namespace conveyor::gpu {

const char *opKindName(OpKind kind) {
  switch (kind) {
  case OpKind::Dense:
    return "dense";
  case OpKind::Attention:
    return "attention";
  case OpKind::Expert:
    return "expert";
  }
  return "unknown";
}

double bytesOf(double elements, DType type) {
  return elements * double(system::dtypeBits(type)) / 8.0;
}

Status validateWorkloadProfile(const WorkloadProfile &profile) {
  auto fail = [&](const std::string &what) -> Status {
    return makeError(fmt::format("workload '{}': {}", profile.name, what));
  };
  auto bad = [](double value) { return !std::isfinite(value) || value < 0; };
  if (profile.ops.empty()) {
    return fail("has no operations; build it from a model config or a graph analysis");
  }
  if ((profile.experts == 0) != (profile.topK == 0) || profile.topK > profile.experts) {
    return fail(fmt::format("topK {} of {} experts is not a valid MoE routing; use 0 and 0 "
                            "for a dense model",
                            profile.topK, profile.experts));
  }
  for (const OpCost &op : profile.ops) {
    std::string where = fmt::format("op '{}' ({})", op.name, opKindName(op.kind));
    if (op.name.empty()) {
      return fail("an op has no name; every op needs one for the per-op breakdown");
    }
    if (op.repeats == 0) {
      return fail(where + ": repeats must be at least 1");
    }
    if (bad(op.flopsPerToken) || bad(op.weightBytes) || bad(op.activationBytesPerToken) ||
        bad(op.flopsPerContextPair) || bad(op.kvBytesPerContextToken)) {
      return fail(where + ": FLOPs and bytes must be finite and non-negative");
    }
    if (op.kind == OpKind::Attention && (op.kvBytesPerContextToken <= 0 || op.kvHeads == 0)) {
      return fail(where + ": an attention op needs kvBytesPerContextToken > 0 and kvHeads > 0");
    }
    if (op.kind != OpKind::Attention &&
        (op.flopsPerContextPair != 0 || op.kvBytesPerContextToken != 0 ||
         op.slidingWindow != 0)) {
      return fail(where + ": only attention ops have context FLOPs, KV bytes or a sliding "
                          "window");
    }
    if (op.kind == OpKind::Expert && profile.experts == 0) {
      return fail(where + ": an expert op needs the profile's experts and topK set");
    }
  }
  if (bad(profile.parameters) || bad(profile.weightBytes) || bad(profile.kvBytesPerToken) ||
      bad(profile.allReduceBytesPerToken)) {
    return fail("parameters, weight bytes, KV bytes and all-reduce bytes must be finite and "
                "non-negative");
  }
  return Status::success();
}

Result<WorkloadProfile> buildTransformerProfile(const TransformerConfig &config,
                                                const ProfileOptions &options) {
  auto fail = [&](const std::string &what) -> Error {
    return makeError(fmt::format("transformer config '{}': {}", config.name, what));
  };
  if (config.layers == 0 || config.hidden == 0 || config.heads == 0 || config.kvHeads == 0 ||
      config.headDim == 0 || config.ffn == 0 || config.vocab == 0) {
    return fail("layers, hidden, heads, kv_heads, head_dim, ffn and vocab must all be positive");
  }
  if (config.heads % config.kvHeads != 0) {
    return fail(
        fmt::format("heads {} is not a multiple of kv_heads {}", config.heads, config.kvHeads));
  }
  if ((config.experts == 0) != (config.topK == 0) || config.topK > config.experts) {
    return fail(fmt::format("top_k {} of {} experts is not valid; use 0 and 0 for a dense MLP",
                            config.topK, config.experts));
  }

  const PrecisionConfig &p = options.precision;
  const double hidden = config.hidden;
  const double queryWidth = double(config.heads) * config.headDim;
  const double kvWidth = double(config.kvHeads) * config.headDim;
  const double ffn = config.ffn;
  const double mlpMatrices = config.gatedMlp ? 3.0 : 2.0;
  auto act = [&](double elements) { return bytesOf(elements, p.activations); };

  WorkloadProfile profile;
  profile.name = config.name;
  profile.layers = config.layers;
  profile.experts = config.experts;
  profile.topK = config.topK;
  profile.computeType = p.compute;
  profile.allReduceBytesPerToken = act(hidden);
  profile.allReducesPerStep = 2 * config.layers;
  profile.kvBytesPerToken = config.layers * bytesOf(2 * kvWidth, p.kvCache);

  double layerParams = 0;
  auto dense = [&](const char *name, double params, double activationElements) {
    layerParams += params;
    OpCost op;
    op.name = name;
    op.repeats = config.layers;
    op.flopsPerToken = 2 * params;
    op.weightBytes = bytesOf(params, p.weights);
    op.activationBytesPerToken = act(activationElements);
    profile.ops.push_back(op);
  };

  dense("attn.qkv_proj", hidden * (queryWidth + 2 * kvWidth), hidden + queryWidth + 2 * kvWidth);
  {
    OpCost attention;
    attention.name = "attn.core";
    attention.kind = OpKind::Attention;
    attention.repeats = config.layers;
    attention.flopsPerContextPair = 4 * queryWidth; // QK^T and PV, 2 FLOPs per MAC each
    attention.kvBytesPerContextToken = bytesOf(2 * kvWidth, p.kvCache);
    attention.activationBytesPerToken = act(2 * queryWidth); // read Q, write the output
    attention.kvHeads = config.kvHeads;
    profile.ops.push_back(attention);
  }
  dense("attn.o_proj", queryWidth * hidden, queryWidth + hidden);
  if (config.experts == 0) {
    dense("mlp.up", (mlpMatrices - 1) * hidden * ffn, hidden + (mlpMatrices - 1) * ffn);
    dense("mlp.down", ffn * hidden, ffn + hidden);
  } else {
    dense("moe.router", hidden * config.experts, hidden + config.experts);
    double expertParams = mlpMatrices * hidden * ffn;
    layerParams += expertParams * config.experts;
    OpCost expert;
    expert.name = "moe.expert";
    expert.kind = OpKind::Expert;
    expert.repeats = config.layers;
    expert.flopsPerToken = 2 * expertParams;
    expert.weightBytes = bytesOf(expertParams, p.weights);
    expert.activationBytesPerToken = act(2 * hidden + (mlpMatrices - 1) * ffn);
    profile.ops.push_back(expert);
  }
  {
    // Two RMSNorms, two residual adds, RoPE and the MLP activation: small, kept so that the
    // per-op breakdown shows where activation traffic goes. Norm weights stay 16-bit.
    OpCost elementwise;
    elementwise.name = "elementwise";
    elementwise.repeats = config.layers;
    elementwise.flopsPerToken = 12 * hidden;
    elementwise.weightBytes = bytesOf(2 * hidden, DType::BF16);
    elementwise.activationBytesPerToken = act(10 * hidden);
    elementwise.tensorParallel = false; // runs on the full hidden state on every GPU
    profile.ops.push_back(elementwise);
    layerParams += 2 * hidden;
  }

  const double embeddingParams = double(config.vocab) * hidden;
  {
    // A lookup reads only the rows of the step's tokens, counted as activation traffic.
    OpCost embedding;
    embedding.name = "embedding";
    embedding.activationBytesPerToken = bytesOf(hidden, p.head) + act(hidden);
    embedding.tensorParallel = false;
    profile.ops.push_back(embedding);
  }
  {
    OpCost finalNorm;
    finalNorm.name = "final_norm";
    finalNorm.flopsPerToken = 4 * hidden;
    finalNorm.weightBytes = bytesOf(hidden, DType::BF16);
    finalNorm.activationBytesPerToken = act(2 * hidden);
    finalNorm.tensorParallel = false;
    profile.ops.push_back(finalNorm);
  }
  {
    OpCost head;
    head.name = "lm_head";
    head.flopsPerToken = 2 * embeddingParams;
    head.weightBytes = bytesOf(embeddingParams, p.head);
    head.activationBytesPerToken = act(hidden + double(config.vocab));
    head.tensorParallel = options.shardLmHead;
    head.perSequence = true;
    profile.ops.push_back(head);
  }

  const double headParams = config.tiedEmbeddings ? embeddingParams : 2 * embeddingParams;
  const double normParams = hidden; // the final norm
  const double perLayerNormParams = 2 * hidden;
  const double layerWeightParams = layerParams - perLayerNormParams;
  profile.parameters = config.layers * layerParams + headParams + normParams;
  profile.weightBytes = config.layers * (bytesOf(layerWeightParams, p.weights) +
                                         bytesOf(perLayerNormParams, DType::BF16)) +
                        bytesOf(headParams, p.head) + bytesOf(normParams, DType::BF16);

  Status valid = validateWorkloadProfile(profile);
  if (!valid.ok()) {
    return makeError(valid.error());
  }
  return profile;
}

} // namespace conveyor::gpu
