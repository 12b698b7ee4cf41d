// A strict little JSON parser for tests: reads renderer output back into a value tree so
// that tests check structure and numbers instead of substrings.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace conveyor::test {

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool flag = false;
  double number = 0;
  std::string text; // string contents, or a number's literal text
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members; // in document order

  bool isObject() const { return type == Type::Object; }
  bool isArray() const { return type == Type::Array; }
  bool isString() const { return type == Type::String; }
  bool isNumber() const { return type == Type::Number; }
  bool has(const std::string &key) const { return find(key) != nullptr; }
  const JsonValue *find(const std::string &key) const {
    for (const auto &[name, value] : members) {
      if (name == key) {
        return &value;
      }
    }
    return nullptr;
  }
  /// Member `key`; a missing key gives a shared null value (tests then fail on its type).
  const JsonValue &operator[](const std::string &key) const {
    static const JsonValue missing;
    const JsonValue *found = find(key);
    return found ? *found : missing;
  }
};

/// Parses a whole document; nullopt (and `error` set) on any syntax error, a duplicate key
/// or trailing characters.
class MiniJsonParser {
public:
  explicit MiniJsonParser(std::string text) : s(std::move(text)) {}

  std::optional<JsonValue> parse() {
    JsonValue value;
    if (!parseValue(value, 0)) {
      return std::nullopt;
    }
    skipSpace();
    if (pos != s.size()) {
      return failAt("trailing characters");
    }
    return value;
  }
  std::string error;

private:
  std::nullopt_t failAt(const std::string &what) {
    error = what + " at offset " + std::to_string(pos);
    return std::nullopt;
  }
  bool fail(const std::string &what) {
    failAt(what);
    return false;
  }
  void skipSpace() {
    while (pos < s.size() &&
           (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\t' || s[pos] == '\r')) {
      ++pos;
    }
  }
  bool literal(const char *word) {
    const std::string w(word);
    if (s.compare(pos, w.size(), w) != 0) {
      return fail("bad literal");
    }
    pos += w.size();
    return true;
  }
  bool parseValue(JsonValue &value, int depth) {
    if (depth > 64) {
      return fail("nesting too deep");
    }
    skipSpace();
    if (pos >= s.size()) {
      return fail("unexpected end");
    }
    const char c = s[pos];
    if (c == '{') {
      return parseObject(value, depth);
    }
    if (c == '[') {
      return parseArray(value, depth);
    }
    if (c == '"') {
      value.type = JsonValue::Type::String;
      return parseString(value.text);
    }
    if (c == 't') {
      value.type = JsonValue::Type::Bool;
      value.flag = true;
      return literal("true");
    }
    if (c == 'f') {
      value.type = JsonValue::Type::Bool;
      return literal("false");
    }
    if (c == 'n') {
      return literal("null");
    }
    return parseNumber(value);
  }
  bool parseNumber(JsonValue &value) {
    const size_t start = pos;
    auto digits = [&] {
      const size_t from = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        ++pos;
      }
      return pos > from;
    };
    if (pos < s.size() && s[pos] == '-') {
      ++pos;
    }
    if (pos < s.size() && s[pos] == '0') {
      ++pos;
    } else if (!digits()) {
      return fail("bad number");
    }
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      if (!digits()) {
        return fail("bad fraction");
      }
    }
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
      ++pos;
      if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        ++pos;
      }
      if (!digits()) {
        return fail("bad exponent");
      }
    }
    value.type = JsonValue::Type::Number;
    value.text = s.substr(start, pos - start);
    value.number = std::strtod(value.text.c_str(), nullptr);
    return true;
  }
  bool parseString(std::string &out) {
    ++pos; // opening quote
    while (pos < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[pos++]);
      if (c == '"') {
        return true;
      }
      if (c < 0x20) {
        return fail("raw control character in string");
      }
      if (c != '\\') {
        out += char(c);
        continue;
      }
      if (pos >= s.size()) {
        break;
      }
      const char e = s[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        if (pos + 4 > s.size()) {
          return fail("short \\u escape");
        }
        const unsigned code = unsigned(std::strtoul(s.substr(pos, 4).c_str(), nullptr, 16));
        pos += 4;
        if (code >= 0x80) {
          return fail("\\u escape beyond ASCII (not produced by our renderers)");
        }
        out += char(code);
        break;
      }
      default:
        return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }
  bool parseArray(JsonValue &value, int depth) {
    value.type = JsonValue::Type::Array;
    ++pos;
    skipSpace();
    if (pos < s.size() && s[pos] == ']') {
      ++pos;
      return true;
    }
    while (true) {
      JsonValue item;
      if (!parseValue(item, depth + 1)) {
        return false;
      }
      value.items.push_back(std::move(item));
      skipSpace();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == ']') {
        ++pos;
        return true;
      }
      return fail("expected , or ]");
    }
  }
  bool parseObject(JsonValue &value, int depth) {
    value.type = JsonValue::Type::Object;
    ++pos;
    skipSpace();
    if (pos < s.size() && s[pos] == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (pos >= s.size() || s[pos] != '"') {
        return fail("expected a key");
      }
      std::string key;
      if (!parseString(key)) {
        return false;
      }
      if (value.has(key)) {
        return fail("duplicate key '" + key + "'");
      }
      skipSpace();
      if (pos >= s.size() || s[pos] != ':') {
        return fail("expected :");
      }
      ++pos;
      JsonValue member;
      if (!parseValue(member, depth + 1)) {
        return false;
      }
      value.members.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected , or }");
    }
  }

  std::string s;
  size_t pos = 0;
};

} // namespace conveyor::test
