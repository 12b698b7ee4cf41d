// Text and JSON renderings of ModelStats (the output of `conveyor inspect`).
#include "conveyor/Analysis/ModelStats.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <utility>

namespace conveyor::analysis {

namespace {

/// 6738415616 -> "6,738,415,616".
std::string grouped(uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

/// Three significant digits in the way model cards write counts: "6.74e9".
std::string scientific(double value) {
  if (value <= 0) {
    return "0";
  }
  int exponent = static_cast<int>(std::floor(std::log10(value)));
  double mantissa = value / std::pow(10.0, exponent);
  if (std::round(mantissa * 100) >= 1000) { // 9.995e9 rounds to 1.00e10
    mantissa /= 10;
    ++exponent;
  }
  return fmt::format("{:.2f}e{}", mantissa, exponent);
}

/// Bytes as KiB: whole numbers stay whole ("512 KiB"), others get two decimals.
std::string kibibytes(uint64_t bytes) {
  if (bytes % 1024 == 0) {
    return fmt::format("{} KiB", bytes / 1024);
  }
  return fmt::format("{:.2f} KiB", bytes / 1024.0);
}

/// Decimal bytes with a unit that keeps small models readable: "13.48 GB", "213.50 kB".
std::string decimalBytes(uint64_t bytes) {
  if (bytes < 1000) {
    return fmt::format("{} B", bytes);
  }
  static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
  double value = bytes / 1e3;
  size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(units)) {
    value /= 1000;
    ++unit;
  }
  return fmt::format("{:.2f} {}", value, units[unit]);
}

/// The FLOP unit for `flops`: GFLOP for LLMs, smaller for tiny models.
std::pair<double, const char *> flopUnit(double flops) {
  if (flops >= 1e9) {
    return {1e9, "GFLOP"};
  }
  if (flops >= 1e6) {
    return {1e6, "MFLOP"};
  }
  if (flops >= 1e3) {
    return {1e3, "kFLOP"};
  }
  return {1, "FLOP"};
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        out += fmt::format("\\u{:04x}", static_cast<int>(c));
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

/// A double that JSON can carry and that reads back exactly ("13751287808.0" style).
std::string jsonNumber(double value) {
  if (!std::isfinite(value)) {
    return "null";
  }
  return fmt::format("{}", value);
}

std::string jsonDims(const std::map<std::string, int64_t> &dims) {
  std::string out = "{";
  bool first = true;
  for (const auto &[name, size] : dims) {
    out += fmt::format("{}{}: {}", first ? "" : ", ", jsonString(name), size);
    first = false;
  }
  return out + "}";
}

std::string stepLine(const char *label, const StepFlops &step) {
  auto [scale, unit] = flopUnit(step.flopsPerToken());
  std::string line = fmt::format(
      "{} {:.2f} {}/token (matmul {:.2f} + attention {:.2f})", label, step.flopsPerToken() / scale,
      unit, step.matmulFlopsPerToken() / scale, step.attentionFlopsPerToken() / scale);
  if (step.macs.attentionDense != step.macs.attention) {
    line += fmt::format("; attention as the graph computes it, masked pairs too: {:.2f}",
                        step.denseAttentionFlopsPerToken() / scale);
  }
  return line + "\n";
}

std::string stepJson(const StepFlops &step, const char *contextKey,
                     const std::map<std::string, int64_t> &dims) {
  const CallMacs &m = step.macs;
  return fmt::format(
      "{{\"{}\": {}, \"tokens\": {}, \"dims\": {}, \"flops_per_token\": {}, "
      "\"matmul_flops_per_token\": {}, \"attention_flops_per_token\": {}, "
      "\"dense_attention_flops_per_token\": {}, \"total_flops\": {}, \"macs\": {{"
      "\"weight_matmul\": {}, \"attention\": {}, \"attention_dense\": {}, "
      "\"constant_operands\": {}, \"buffer_operand\": {}}}, \"weight_matmuls\": {}, "
      "\"attention_matmuls\": {}, \"masked_attention_matmuls\": {}, \"unresolved_masks\": {}}}",
      contextKey, step.context, step.tokens, jsonDims(dims), jsonNumber(step.flopsPerToken()),
      jsonNumber(step.matmulFlopsPerToken()), jsonNumber(step.attentionFlopsPerToken()),
      jsonNumber(step.denseAttentionFlopsPerToken()), m.countedFlops(), m.weightMatmul, m.attention,
      m.attentionDense, m.constantOperands, m.bufferOperand, m.weightMatmuls, m.attentionMatmuls,
      m.maskedAttentionMatmuls, m.unresolvedMasks);
}

} // namespace

std::string renderModelStatsText(const ModelStats &stats) {
  const ParameterStats &p = stats.params;
  std::string out = fmt::format("model: {} ({})\n", stats.modelName, stats.path);
  out += fmt::format("parameters: {} ({}) in {} tensors\n", grouped(p.total),
                     scientific(double(p.total)), p.tensors);
  out +=
      fmt::format("  embedding tables {}, LM head {}{}, non-embedding {}\n", grouped(p.embedding),
                  grouped(p.lmHead), p.lmHead == 0 && p.embedding > 0 ? " (tied or none)" : "",
                  grouped(p.nonEmbedding));
  out += fmt::format("  active per token {} ({}), without input embedding {}", grouped(p.active),
                     scientific(double(p.active)), grouped(p.activeExcludingInputEmbedding));
  if (p.routedExperts > 0) {
    out += fmt::format("; routed experts {}", grouped(p.routedExperts));
  }
  out += "\n";
  if (p.tiedCopies > 0) {
    out += fmt::format("  tied copies counted once: {} ({} elements)\n", p.tiedCopies,
                       grouped(p.tiedCopyElements));
  }
  out += "weights:";
  for (Precision precision : kAllPrecisions) {
    out += fmt::format(" {} {}{}", precisionName(precision), decimalBytes(p.bytesAt(precision)),
                       precision == Precision::INT4 ? "" : ",");
  }
  out += fmt::format(" (as stored: {})\n", decimalBytes(p.storedBytes));
  if (stats.kvCache) {
    const KvCacheStats &kv = *stats.kvCache;
    out += fmt::format("KV cache: {} per token ({}), {} bytes, {} cache tensors\n",
                       kibibytes(kv.bytesPerToken(stats.kvPrecision)),
                       precisionName(stats.kvPrecision),
                       grouped(kv.bytesPerToken(stats.kvPrecision)), kv.cacheTensors);
    if (kv.windowedCacheTensors > 0) {
      out += fmt::format("  beyond the {}-key window: {} per token ({})\n", kv.slidingWindow,
                         kibibytes(kv.bytesPerTokenBeyondWindow(stats.kvPrecision)),
                         precisionName(stats.kvPrecision));
    }
  } else {
    out += "KV cache: none (no cache inputs)\n";
  }
  if (stats.decode) {
    out +=
        stepLine(fmt::format("decode @ context {}:", stats.decode->context).c_str(), *stats.decode);
    out += fmt::format("  = {} FLOP per token\n",
                       grouped(stats.decode->macs.countedFlops() / uint64_t(stats.decode->tokens)));
  }
  out +=
      stepLine(fmt::format("prefill @ prompt {}:", stats.prefill.context).c_str(), stats.prefill);
  for (const std::string &note : stats.notes) {
    out += "note: " + note + "\n";
  }
  return out;
}

std::string renderModelStatsJson(const ModelStats &stats) {
  const ParameterStats &p = stats.params;
  std::string weightBytes = "{";
  for (Precision precision : kAllPrecisions) {
    weightBytes += fmt::format("\"{}\": {}, ", precisionName(precision), p.bytesAt(precision));
  }
  weightBytes += fmt::format("\"stored\": {}}}", p.storedBytes);

  std::string kv = "null";
  if (stats.kvCache) {
    const KvCacheStats &k = *stats.kvCache;
    std::string byPrecision = "{", beyond = "{";
    for (Precision precision : kAllPrecisions) {
      if (precision == Precision::INT4) {
        continue; // KV caches are not stored at 4 bits here (expected.json neither)
      }
      const char *sep = precision == Precision::INT8 ? "" : ", ";
      byPrecision +=
          fmt::format("\"{}\": {}{}", precisionName(precision), k.bytesPerToken(precision), sep);
      beyond += fmt::format("\"{}\": {}{}", precisionName(precision),
                            k.bytesPerTokenBeyondWindow(precision), sep);
    }
    byPrecision += "}";
    beyond += "}";
    kv = fmt::format(
        "{{\"precision\": \"{}\", \"bytes_per_token\": {}, \"bytes_per_token_beyond_window\": {}, "
        "\"elements_per_token\": {}, \"stored_bytes_per_token\": {}, \"cache_tensors\": {}, "
        "\"windowed_cache_tensors\": {}, \"sliding_window\": {}, "
        "\"bytes_per_token_by_precision\": {}, "
        "\"bytes_per_token_beyond_window_by_precision\": {}}}",
        precisionName(stats.kvPrecision), k.bytesPerToken(stats.kvPrecision),
        k.bytesPerTokenBeyondWindow(stats.kvPrecision), k.elementsPerToken, k.storedBytesPerToken,
        k.cacheTensors, k.windowedCacheTensors, k.slidingWindow, byPrecision, beyond);
  }

  std::string notes = "[";
  for (size_t i = 0; i < stats.notes.size(); ++i) {
    notes += (i ? ", " : "") + jsonString(stats.notes[i]);
  }
  notes += "]";

  return fmt::format(
      "{{\n  \"model\": {},\n  \"file\": {},\n  \"parameters\": {{\"total\": {}, \"tensors\": {}, "
      "\"embedding\": {}, \"lm_head\": {}, \"non_embedding\": {}, \"active\": {}, "
      "\"active_excluding_input_embedding\": {}, \"routed_experts\": {}, \"tied_copies\": {}, "
      "\"tied_copy_elements\": {}}},\n  \"weight_bytes\": {},\n  \"kv_cache\": {},\n"
      "  \"decode\": {},\n  \"prefill\": {},\n  \"notes\": {}\n}}\n",
      jsonString(stats.modelName), jsonString(stats.path), p.total, p.tensors, p.embedding,
      p.lmHead, p.nonEmbedding, p.active, p.activeExcludingInputEmbedding, p.routedExperts,
      p.tiedCopies, p.tiedCopyElements, weightBytes, kv,
      stats.decode ? stepJson(*stats.decode, "context", stats.decodeDims) : "null",
      stepJson(stats.prefill, "prompt", stats.prefillDims), notes);
}

} // namespace conveyor::analysis
