// Reads a model zoo config (models/zoo/configs/*.json) into the planner's DecoderShape: the
// top-level numbers and names only (nested "source"/"published" objects are skipped).
#include "conveyor/Reports/PlannerEstimate.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace conveyor::reports {
namespace {

struct JsonScalar {
  enum class Kind { Null, Number, String, Bool, Nested } kind = Kind::Null;
  double number = 0;
  std::string text;
  bool boolean = false;
};

/// A small JSON reader for one object's top-level members; nested values are checked for
/// balance and skipped. Errors name the file and byte offset.
class TopLevelReader {
public:
  TopLevelReader(const std::string &text, const std::string &path) : text(text), path(path) {}

  Result<std::map<std::string, JsonScalar>> read() {
    std::map<std::string, JsonScalar> members;
    space();
    if (!consume('{')) {
      return fail("expected a JSON object");
    }
    space();
    if (consume('}')) {
      return members;
    }
    while (true) {
      space();
      std::string key;
      if (!string(key)) {
        return fail("expected a member name");
      }
      space();
      if (!consume(':')) {
        return fail("expected ':'");
      }
      space();
      JsonScalar value;
      if (!scalarOrSkip(value)) {
        return fail("bad value of \"" + key + "\"");
      }
      members[key] = value;
      space();
      if (consume(',')) {
        continue;
      }
      if (consume('}')) {
        return members;
      }
      return fail("expected ',' or '}'");
    }
  }

private:
  Error fail(const std::string &what) {
    return makeError(fmt::format("{}: {} at byte {}", path, what, position));
  }
  void space() {
    while (position < text.size() && std::isspace(static_cast<unsigned char>(text[position]))) {
      ++position;
    }
  }
  bool consume(char c) {
    if (position < text.size() && text[position] == c) {
      ++position;
      return true;
    }
    return false;
  }
  bool string(std::string &out) {
    if (!consume('"')) {
      return false;
    }
    while (position < text.size() && text[position] != '"') {
      if (text[position] == '\\') {
        ++position;
      }
      if (position < text.size()) {
        out += text[position++];
      }
    }
    return consume('"');
  }
  bool skipNested() {
    int depth = 0;
    while (position < text.size()) {
      char c = text[position];
      if (c == '"') {
        std::string ignored;
        if (!string(ignored)) {
          return false;
        }
        continue;
      }
      ++position;
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          return true;
        }
      }
    }
    return false;
  }
  bool scalarOrSkip(JsonScalar &value) {
    if (position >= text.size()) {
      return false;
    }
    char c = text[position];
    if (c == '{' || c == '[') {
      value.kind = JsonScalar::Kind::Nested;
      return skipNested();
    }
    if (c == '"') {
      value.kind = JsonScalar::Kind::String;
      return string(value.text);
    }
    for (const auto &[word, kind, flag] : {std::tuple{"null", JsonScalar::Kind::Null, false},
                                           std::tuple{"true", JsonScalar::Kind::Bool, true},
                                           std::tuple{"false", JsonScalar::Kind::Bool, false}}) {
      std::string_view w(word);
      if (text.compare(position, w.size(), w) == 0) {
        position += w.size();
        value.kind = kind;
        value.boolean = flag;
        return true;
      }
    }
    const char *begin = text.data() + position;
    auto [end, error] = std::from_chars(begin, text.data() + text.size(), value.number);
    if (error != std::errc()) {
      return false;
    }
    value.kind = JsonScalar::Kind::Number;
    position += size_t(end - begin);
    return true;
  }

  const std::string &text;
  std::string path;
  size_t position = 0;
};

} // namespace

Result<partition::DecoderShape> loadZooDecoderShape(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(path + ": cannot read the zoo config");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  Result<std::map<std::string, JsonScalar>> members = TopLevelReader(text, path).read();
  if (!members) {
    return makeError(members.error());
  }
  auto number = [&](const char *key, uint64_t &out, bool required) -> Status {
    auto found = members->find(key);
    if (found == members->end() || found->second.kind == JsonScalar::Kind::Null) {
      if (required) {
        return makeError(fmt::format("{}: \"{}\" is missing", path, key));
      }
      return Status::success();
    }
    double value = found->second.number;
    if (found->second.kind != JsonScalar::Kind::Number || value < 0 || value > 1e12 ||
        value != std::floor(value)) {
      return makeError(fmt::format("{}: \"{}\" must be a whole number >= 0", path, key));
    }
    out = uint64_t(value);
    return Status::success();
  };
  auto text_ = [&](const char *key) -> std::string {
    auto found = members->find(key);
    return found != members->end() && found->second.kind == JsonScalar::Kind::String
               ? found->second.text
               : std::string();
  };
  auto flag = [&](const char *key) {
    auto found = members->find(key);
    return found != members->end() && found->second.kind == JsonScalar::Kind::Bool &&
           found->second.boolean;
  };
  partition::DecoderShape shape;
  shape.name = text_("name");
  if (shape.name.empty()) {
    return makeError(path + ": \"name\" is missing");
  }
  uint64_t layers = 0, experts = 0, topK = 0, window = 0, positions = 0;
  for (Status status : {number("layers", layers, true), number("hidden", shape.hidden, true),
                        number("heads", shape.heads, true), number("kv_heads", shape.kvHeads, true),
                        number("head_dim", shape.headDim, true), number("ffn", shape.ffn, true),
                        number("vocab", shape.vocab, true), number("experts", experts, false),
                        number("top_k", topK, false), number("sliding_window", window, false),
                        number("max_positions", positions, false)}) {
    if (!status) {
      return makeError(status.error());
    }
  }
  if (layers == 0 || shape.hidden == 0 || shape.heads == 0) {
    return makeError(path + ": \"layers\", \"hidden\" and \"heads\" must be positive");
  }
  shape.layers = uint32_t(layers);
  shape.experts = uint32_t(experts);
  shape.topK = uint32_t(topK);
  shape.gatedMlp = text_("mlp").rfind("gated", 0) == 0;
  shape.tiedEmbedding = flag("tied_embeddings");
  shape.attentionBias = flag("attention_bias");
  shape.mlpBias = flag("mlp_bias");
  shape.layerNorm = text_("norm") == "layernorm";
  shape.positionEmbedding = text_("position") == "learned" ? positions : 0;
  shape.slidingWindow = int64_t(window);
  return shape;
}

} // namespace conveyor::reports
