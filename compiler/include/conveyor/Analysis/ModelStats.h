// Model statistics (`conveyor inspect`): parameters, weight bytes, FLOPs/token, KV-cache bytes.
//
// MLIR-free on purpose: the CLI includes only this header. Definitions (what counts as a
// parameter, which matmuls count, how masks are read) are in docs/model-stats.md; the
// MLIR-level analysis behind it is conveyor/Analysis/ModelStatsAnalysis.h.
#pragma once

#include "conveyor/Support/Result.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::analysis {

/// A uniform storage precision for weights or KV-cache elements.
enum class Precision { FP32, BF16, FP16, FP8, INT8, INT4 };

inline constexpr std::array<Precision, 6> kAllPrecisions = {Precision::FP32, Precision::BF16,
                                                            Precision::FP16, Precision::FP8,
                                                            Precision::INT8, Precision::INT4};

/// "fp32", "bf16", "fp16", "fp8", "int8", "int4".
const char *precisionName(Precision precision);
/// Bits per stored element (int4 packs two per byte).
unsigned precisionBits(Precision precision);
/// Parses a name as precisionName writes it (case-insensitive); std::nullopt otherwise.
std::optional<Precision> parsePrecision(std::string_view name);
/// Bytes of `elements` at `precision`, rounded up to whole bytes.
uint64_t bytesAtPrecision(uint64_t elements, Precision precision);

/// Parameter tensors of a graph. A parameter is a `cv.graph.weight` (shape-only
/// initializer), or a floating-point `cv.graph.constant` with at least two elements that
/// meets the model's data (see docs/model-stats.md); each tensor counts once.
struct ParameterStats {
  uint64_t total = 0;   // elements of every parameter tensor
  uint64_t tensors = 0; // how many parameter tensors
  /// Lookup tables read by Gather with token ids or positions (token + position
  /// embeddings). A table that is also the LM head (tied) is counted here.
  uint64_t embedding = 0;
  /// Weights of the matmuls that produce a graph output (the LM head), unless tied to
  /// an embedding table (then 0).
  uint64_t lmHead = 0;
  uint64_t nonEmbedding = 0;  // total - embedding - lmHead
  uint64_t routedExperts = 0; // tensors gathered by a TopK's indices (stacked MoE experts)
  /// Elements a token touches: routed tensors count top_k / experts of their elements;
  /// everything else, embedding and LM head included, counts whole.
  uint64_t active = 0;
  /// active minus the embedding tables that are not also the LM head.
  uint64_t activeExcludingInputEmbedding = 0;
  uint64_t storedBytes = 0; // at the element types the graph declares
  /// Constants dropped as copies of another parameter (identical, or the transpose of a
  /// 2-D one: torch's constant folding stores a tied table twice).
  uint64_t tiedCopies = 0;
  uint64_t tiedCopyElements = 0;

  uint64_t bytesAt(Precision precision) const { return bytesAtPrecision(total, precision); }
};

/// Growth of the KV cache per token of context (batch 1), from the graph's cache inputs:
/// every @main argument concatenated with new entries into a graph output (present.*).
struct KvCacheStats {
  uint64_t cacheTensors = 0;     // cache inputs found (K and V of every layer)
  uint64_t elementsPerToken = 0; // all of them together
  /// Of those, the elements of caches that attention reads only through a sliding window
  /// (a mask that hides all but the last W keys), found at the decode context analysed.
  uint64_t windowedElementsPerToken = 0;
  uint64_t windowedCacheTensors = 0;
  int64_t slidingWindow = 0;        // W of those layers (0 when none were found)
  uint64_t storedBytesPerToken = 0; // at the element types the graph declares

  uint64_t bytesPerToken(Precision precision) const {
    return bytesAtPrecision(elementsPerToken, precision);
  }
  /// Growth once the context exceeds the window: windowed caches keep W tokens.
  uint64_t bytesPerTokenBeyondWindow(Precision precision) const {
    return bytesAtPrecision(elementsPerToken - windowedElementsPerToken, precision);
  }
};

/// Multiply-accumulates of one call of the graph at fixed shapes, by kind of matmul.
struct CallMacs {
  uint64_t weightMatmul = 0;     // a parameter is one operand (projections, experts, LM head)
  uint64_t attention = 0;        // both operands are activations: unmasked (query, key) pairs
  uint64_t attentionDense = 0;   // same matmuls as the graph computes them, masked pairs too
  uint64_t constantOperands = 0; // no operand depends on the inputs (RoPE tables): not counted
  uint64_t bufferOperand = 0;    // activation x non-parameter constant: not counted
  uint64_t weightMatmuls = 0, attentionMatmuls = 0; // op counts
  uint64_t maskedAttentionMatmuls = 0;              // attention matmuls whose mask was read
  uint64_t unresolvedMasks = 0; // masks that could not be evaluated (counted dense)

  /// FLOPs the conventions count: 2 per MAC of weight and attention matmuls.
  uint64_t countedFlops() const { return 2 * (weightMatmul + attention); }
};

/// FLOPs per token of one step (decode or prefill).
struct StepFlops {
  int64_t tokens = 0;  // tokens the call processes (batch 1 x seq)
  int64_t context = 0; // decode: keys seen by the new token (past + 1); prefill: prompt length
  CallMacs macs;       // totals of the call

  double flopsPerToken() const { return double(macs.countedFlops()) / double(tokens); }
  double matmulFlopsPerToken() const { return 2.0 * double(macs.weightMatmul) / double(tokens); }
  double attentionFlopsPerToken() const { return 2.0 * double(macs.attention) / double(tokens); }
  double denseAttentionFlopsPerToken() const {
    return 2.0 * double(macs.attentionDense) / double(tokens);
  }
};

/// Everything `conveyor inspect` reports about one model.
struct ModelStats {
  std::string modelName, path;
  ParameterStats params;
  std::optional<KvCacheStats> kvCache; // absent when the graph has no KV-cache inputs
  Precision kvPrecision = Precision::FP16;
  std::optional<StepFlops> decode; // absent without a KV cache (nothing to decode against)
  StepFlops prefill;               // one call on the prompt (past = 0), or the fixed shapes
  std::map<std::string, int64_t> decodeDims, prefillDims; // symbolic dims as bound
  std::vector<std::string> notes; // caveats worth printing (unresolved masks, fixed shapes)
};

/// What to bind and report. Symbolic dimensions are bound by name: batch = 1 always;
/// decode binds seq = 1, past = context - 1; prefill binds seq = prompt, past = 0.
struct InspectOptions {
  int64_t context = 4096; // decode: tokens in the context, the new one included (>= 1)
  int64_t prompt = 2048;  // prefill: prompt length (>= 1)
  Precision kvPrecision = Precision::FP16;
  std::string batchDim = "batch", seqDim = "seq", pastDim = "past";
  /// Sizes for any other symbolic dimension the graph names.
  std::map<std::string, int64_t> otherDims;
};

/// Parses "name=size,name=size" (the CLI's --dims) into `dims`; an error names the
/// malformed entry.
Status parseDimAssignments(std::string_view text, std::map<std::string, int64_t> &dims);

/// Imports the ONNX model at `path` (shape-only weights are fine) and computes its
/// statistics. Errors are one line naming the file (and node) at fault.
Result<ModelStats> inspectOnnxModel(const std::string &path, const InspectOptions &options = {});

/// Human-readable report (the default `conveyor inspect` output).
std::string renderModelStatsText(const ModelStats &stats);
/// The same numbers as one JSON object (`conveyor inspect --json`), exact integers.
std::string renderModelStatsJson(const ModelStats &stats);

} // namespace conveyor::analysis
