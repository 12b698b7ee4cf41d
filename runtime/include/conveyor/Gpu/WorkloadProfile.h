// What a model costs per operation, independent of MLIR: the input of the GPU roofline.
//
// A WorkloadProfile is a flat list of operations, each with its FLOPs and bytes per token
// (and, for attention, per cached context token). A transformer config builds one here;
// a later analysis of a `cv.graph` module fills the same structure op by op, so the GPU
// model stays "per operation" and never needs to know which model it is timing.
#pragma once

#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"

#include <cstdint>
#include <string>
#include <vector>

namespace conveyor::gpu {

using system::DType;

enum class OpKind : uint8_t {
  /// Weights read once per step whatever the batch; FLOPs and activations scale with tokens.
  Dense,
  /// Attention over the KV cache: FLOPs per (query token, key token) pair, K and V bytes per
  /// key token of every sequence.
  Attention,
  /// One MoE expert's FFN. Each token runs `topK` of `experts` copies; a step reads the
  /// weights of every distinct expert its tokens chose.
  Expert,
};
const char *opKindName(OpKind kind);

/// The cost of one operation. All numbers are for the whole (unsharded) model; tensor
/// parallelism divides them at evaluation time.
struct OpCost {
  std::string name;
  OpKind kind = OpKind::Dense;
  /// How many times a step runs it (a per-layer op: the layer count).
  uint32_t repeats = 1;
  /// FLOPs per new token, excluding the context-dependent part of attention.
  /// Expert ops: per token per selected expert.
  double flopsPerToken = 0;
  /// Weight bytes read per run. Expert ops: the bytes of ONE expert.
  double weightBytes = 0;
  /// Activation bytes read and written per new token (Expert: per selected expert).
  double activationBytesPerToken = 0;
  /// Attention: FLOPs per (query token, key token) pair (QK^T and PV: 4 x heads x head_dim).
  double flopsPerContextPair = 0;
  /// Attention: K + V bytes per key token (cached or new) per run.
  double kvBytesPerContextToken = 0;
  /// Attention: KV heads; tensor parallelism splits the KV cache at most this many ways.
  uint32_t kvHeads = 0;
  /// Attention: > 0 when each query sees only the last `slidingWindow` keys (a sliding-window
  /// layer): pairs and KV reads stop growing past the window.
  uint64_t slidingWindow = 0;
  /// Split across the GPUs of a tensor-parallel group (false: every GPU runs all of it).
  bool tensorParallel = true;
  /// Runs for one token per sequence instead of every new token: the LM head needs only the
  /// last position's logits, also during prefill.
  bool perSequence = false;
};

/// A model as the GPU roofline sees it.
struct WorkloadProfile {
  std::string name;
  std::vector<OpCost> ops;
  uint32_t layers = 0;
  /// MoE: experts per layer and experts each token runs; 0 and 0 for a dense model.
  uint32_t experts = 0;
  uint32_t topK = 0;
  double parameters = 0;      // stored parameters, all experts included
  double weightBytes = 0;     // bytes of all stored weights (what must fit in HBM)
  double kvBytesPerToken = 0; // KV-cache bytes of one token of one sequence, all layers
  /// Precision whose dense tensor-core peak times the matmuls.
  DType computeType = DType::BF16;
  /// Bytes of one token's hidden state in a tensor-parallel all-reduce.
  double allReduceBytesPerToken = 0;
  /// All-reduces per step under tensor parallelism (Megatron style: 2 per layer).
  uint32_t allReducesPerStep = 0;
};

/// Checks every op and the totals (non-negative, finite, attention ops with KV, expert
/// ops only with experts/topK set). Messages name the profile and the op.
Status validateWorkloadProfile(const WorkloadProfile &profile);

/// The shape of a decoder-only transformer; field names follow models/zoo/configs/*.json.
struct TransformerConfig {
  std::string name;
  uint32_t layers = 0;
  uint32_t hidden = 0;
  uint32_t heads = 0;
  uint32_t kvHeads = 0;
  uint32_t headDim = 0;
  uint32_t ffn = 0; // FFN (per-expert) intermediate size
  uint32_t vocab = 0;
  uint32_t experts = 0; // 0: dense MLP
  uint32_t topK = 0;
  bool gatedMlp = true; // SwiGLU-style: gate and up projections
  bool tiedEmbeddings = false;
};

/// Storage and arithmetic precisions of one deployment.
struct PrecisionConfig {
  DType weights = DType::BF16; // layer weights
  DType head = DType::BF16;    // embedding table and LM head (FP8 recipes keep these 16-bit)
  DType kvCache = DType::BF16;
  DType activations = DType::BF16; // hidden states, all-reduce messages
  DType compute = DType::BF16;     // tensor-core input precision (its peak applies)
};

struct ProfileOptions {
  PrecisionConfig precision;
  /// Megatron shards the LM head over the tensor-parallel group; some runtimes (gpt-fast)
  /// replicate it on every GPU.
  bool shardLmHead = true;
};

/// Builds the per-op profile of a transformer: per layer qkv_proj, attention, o_proj,
/// mlp (or router + expert), elementwise; once per step embedding, final norm, lm_head.
Result<WorkloadProfile> buildTransformerProfile(const TransformerConfig &config,
                                                const ProfileOptions &options);

/// Bytes of `elements` values of `type` (int4: half a byte each).
double bytesOf(double elements, DType type);

} // namespace conveyor::gpu
