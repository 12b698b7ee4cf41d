// Typed YAML reading for systems/: the one file that includes yaml-cpp (STYLE.md #11).
//
// yaml-cpp reports problems by throwing YAML::Exception; every call into it is in this file,
// and its exceptions are turned into one-line messages here, so readers never see its types.

#include "conveyor/Support/YamlSchema.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

namespace conveyor::yaml {

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

struct Node::Impl {
  YAML::Node node;
  std::shared_ptr<const std::string> sourceName; // for messages about yaml-cpp failures
  Kind kind = Kind::Null;
  std::string scalar;
  int line = 0;
};

/// Builds nodes from yaml-cpp's, reading what every accessor needs once.
struct NodeFactory {
  static Node make(const YAML::Node &node, const std::shared_ptr<const std::string> &sourceName) {
    auto impl = std::make_shared<Node::Impl>();
    impl->node = node;
    impl->sourceName = sourceName;
    try {
      YAML::Mark mark = node.Mark();
      impl->line = mark.line >= 0 ? mark.line + 1 : 0;
      if (!node.IsDefined() || node.IsNull()) {
        impl->kind = Node::Kind::Null;
      } else if (node.IsMap()) {
        impl->kind = Node::Kind::Map;
      } else if (node.IsSequence()) {
        impl->kind = Node::Kind::Sequence;
      } else {
        impl->kind = Node::Kind::Scalar;
        impl->scalar = node.Scalar();
      }
    } catch (const YAML::Exception &error) {
      throw fromYaml(error, *sourceName);
    }
    return Node(std::move(impl));
  }

  static ConfigError fromYaml(const YAML::Exception &error, const std::string &sourceName) {
    return ConfigError{fmt::format("{}:{}: {}", sourceName, error.mark.line + 1, error.msg)};
  }
};

Node::Node() : impl(std::make_shared<Impl>()) {}
Node::Node(std::shared_ptr<const Impl> impl) : impl(std::move(impl)) {}

Node::Kind Node::kind() const { return impl->kind; }
const std::string &Node::scalar() const { return impl->scalar; }
int Node::line() const { return impl->line; }

std::string Node::describe() const {
  switch (kind()) {
  case Kind::Null:
    return "nothing";
  case Kind::Map:
    return "a mapping";
  case Kind::Sequence:
    return "a sequence";
  case Kind::Scalar:
    break;
  }
  return "'" + scalar() + "'";
}

std::vector<MapEntry> Node::entries() const {
  std::vector<MapEntry> entries;
  if (kind() != Kind::Map) {
    return entries;
  }
  try {
    for (auto it = impl->node.begin(); it != impl->node.end(); ++it) {
      // Copies: `it->` yields a temporary proxy, so references into it would dangle.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      entries.push_back(
          {NodeFactory::make(key, impl->sourceName), NodeFactory::make(value, impl->sourceName)});
    }
  } catch (const YAML::Exception &error) {
    throw NodeFactory::fromYaml(error, *impl->sourceName);
  }
  return entries;
}

//===----------------------------------------------------------------------===//
// Values, ranges and messages
//===----------------------------------------------------------------------===//

bool satisfies(double value, Constraint constraint) {
  if (!std::isfinite(value)) {
    return false;
  }
  switch (constraint) {
  case Constraint::Positive:
    return value > 0;
  case Constraint::NonNegative:
    return value >= 0;
  case Constraint::Fraction:
    return value > 0 && value <= 1;
  case Constraint::Any:
  case Constraint::NonEmpty:
    return true;
  }
  return true;
}

std::string numberExpectation(bool integer, Constraint constraint) {
  if (integer) {
    // Unsigned: anything but "positive" admits zero.
    return constraint == Constraint::Positive || constraint == Constraint::Fraction
               ? "a positive integer"
               : "a non-negative integer";
  }
  switch (constraint) {
  case Constraint::Positive:
    return "a positive number";
  case Constraint::NonNegative:
    return "a non-negative number";
  case Constraint::Fraction:
    return "a fraction in (0, 1]";
  case Constraint::Any:
  case Constraint::NonEmpty:
    break;
  }
  return "a number";
}

std::optional<double> parseReal(std::string text) {
  if (!text.empty() && text.front() == '+') {
    text.erase(0, 1);
  }
  double value = 0;
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::general);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> parseUnsigned(const std::string &text, uint64_t max) {
  if (!text.empty() &&
      std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value > max) {
      return std::nullopt;
    }
    return value;
  }
  std::optional<double> real = parseReal(text);
  // 2^53: beyond it a double no longer holds every integer exactly.
  if (!real || *real < 0 || *real != std::floor(*real) || *real > 9007199254740992.0 ||
      *real > double(max)) {
    return std::nullopt;
  }
  return uint64_t(*real);
}

std::string numberText(double value) { return fmt::format("{}", value); }
std::string numberText(uint64_t value) { return fmt::format("{}", value); }

std::string joinPath(const std::string &parent, const std::string &key) {
  return parent.empty() ? key : parent + "." + key;
}

namespace {
/// Levenshtein distance, for "did you mean" on misspelt keys.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string joinList(const std::vector<std::string> &items) {
  std::string list;
  for (const std::string &item : items) {
    list += (list.empty() ? "" : ", ") + item;
  }
  return list;
}
} // namespace

std::string closestKey(const std::string &key, const std::vector<std::string> &known) {
  std::string suggestion;
  size_t best = 3; // suggest only close matches
  for (const std::string &name : known) {
    size_t distance = editDistance(key, name);
    if (distance < best) {
      best = distance;
      suggestion = name;
    }
  }
  return suggestion;
}

void failAt(const Locator &locate, const std::string &path, const std::string &what) {
  throw ConfigError{locate(path) + (path.empty() ? "" : path + ": ") + what};
}

//===----------------------------------------------------------------------===//
// Sections and their fields
//===----------------------------------------------------------------------===//

namespace {
template <typename T>
Field numberField(const char *key, T &value, Constraint constraint, Presence presence) {
  const std::string expected = numberExpectation(std::is_integral_v<T>, constraint);
  Field field{key, presence, Node::Kind::Scalar, expected, nullptr, nullptr, nullptr};
  field.read = [&value, constraint, expected](SchemaReader &reader, const Node &node,
                                              const std::string &path, int line) {
    reader.readNumber(node, path, line, constraint, expected, value);
  };
  field.check = [&value, constraint, expected](const std::string &path, const Locator &locate) {
    if (!satisfies(double(value), constraint)) {
      failAt(locate, path, "expected " + expected + ", got " + numberText(value));
    }
  };
  field.write = [&value](std::string &out, const std::string &) {
    out += " " + numberText(value) + "\n";
  };
  return field;
}
} // namespace

Section::Section(std::string key, Presence presence)
    : sectionKey(std::move(key)), sectionPresence(presence) {}

Section &Section::field(const char *key, uint32_t &value, Constraint constraint,
                        Presence presence) {
  return add(numberField(key, value, constraint, presence));
}

Section &Section::field(const char *key, uint64_t &value, Constraint constraint,
                        Presence presence) {
  return add(numberField(key, value, constraint, presence));
}

Section &Section::field(const char *key, double &value, Constraint constraint, Presence presence) {
  return add(numberField(key, value, constraint, presence));
}

Section &Section::field(const char *key, std::string &value, Constraint constraint,
                        Presence presence) {
  const bool nonEmpty = constraint == Constraint::NonEmpty;
  Field field{
      key,     presence, Node::Kind::Scalar, nonEmpty ? "a non-empty string" : "a string", nullptr,
      nullptr, nullptr};
  field.read = [&value](SchemaReader &, const Node &node, const std::string &, int) {
    value = node.scalar();
  };
  if (nonEmpty) {
    field.check = [&value](const std::string &path, const Locator &locate) {
      if (value.empty()) {
        failAt(locate, path, "expected a non-empty string, got ''");
      }
    };
  }
  field.write = [&value](std::string &out, const std::string &) {
    out += " " + quoteScalar(value) + "\n";
  };
  return add(std::move(field));
}

Section &Section::add(Field field) {
  fieldList.push_back(std::move(field));
  return *this;
}

Section &Section::section(const char *key, Presence presence) {
  return sectionList.emplace_back(key, presence);
}

std::vector<std::string> Section::keys() const {
  std::vector<std::string> keys;
  for (const Field &field : fieldList) {
    keys.push_back(field.key);
  }
  for (const Section &child : sectionList) {
    keys.push_back(child.key());
  }
  return keys;
}

void checkRanges(const Section &schema, const Locator &locate, const std::string &path) {
  for (const Field &field : schema.fields()) {
    if (field.check) {
      field.check(joinPath(path, field.key), locate);
    }
  }
  for (const Section &child : schema.sections()) {
    checkRanges(child, locate, joinPath(path, child.key()));
  }
}

//===----------------------------------------------------------------------===//
// Reading a document into a schema
//===----------------------------------------------------------------------===//

SchemaReader::SchemaReader(std::string sourceName, ReadingStyle style)
    : sourceName(std::move(sourceName)), readingStyle(style) {}

void SchemaReader::readRoot(const Section &schema, const Node &root, const std::string &what) {
  if (root.isNull()) {
    throw ConfigError{fmt::format("{}: empty {}: expected a mapping with keys {}", sourceName, what,
                                  joinList(schema.keys()))};
  }
  readSection(schema, root, "", root.lineOr(1));
}

std::string SchemaReader::locate(std::string path) const {
  while (true) {
    auto found = lines.find(path);
    if (found != lines.end()) {
      return fmt::format("{}:{}: ", sourceName, found->second);
    }
    if (path.empty()) {
      return sourceName + ": ";
    }
    size_t dot = path.rfind('.');
    path = dot == std::string::npos ? "" : path.substr(0, dot);
  }
}

void SchemaReader::fail(int line, const std::string &path, const std::string &what) const {
  throw ConfigError{
      fmt::format("{}:{}: {}{}", sourceName, line, path.empty() ? "" : path + ": ", what)};
}

std::vector<MapEntry> SchemaReader::entriesOf(const Node &map, const std::string &path,
                                              int line) const {
  std::vector<MapEntry> entries;
  for (MapEntry &entry : map.entries()) {
    int keyLine = entry.key.lineOr(line);
    if (!entry.key.isScalar()) {
      fail(keyLine, path, "expected plain key names, got " + entry.key.describe());
    }
    for (const MapEntry &seen : entries) {
      if (seen.key.scalar() == entry.key.scalar()) {
        fail(keyLine, path,
             fmt::format("duplicate key '{}' (first on line {})", seen.key.scalar(),
                         seen.key.lineOr(line)));
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

/// `keyLine` is the line of the key that names this section: "missing key" messages point
/// there rather than at the section's first entry.
void SchemaReader::readSection(const Section &section, const Node &node, const std::string &path,
                               int keyLine) {
  int line = node.isNull() ? keyLine : node.lineOr(keyLine);
  if (!node.isMap()) {
    fail(line, path,
         (path.empty() ? "expected a mapping at the top level, got " : "expected a mapping, got ") +
             node.describe());
  }
  recordLine(path, keyLine);
  std::vector<MapEntry> entries = entriesOf(node, path, line);

  // Unknown keys first: a misspelt key would otherwise surface as a less helpful
  // "missing required key".
  const std::vector<std::string> known = section.keys();
  for (const MapEntry &entry : entries) {
    const std::string &key = entry.key.scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) {
      continue;
    }
    std::string suggestion = closestKey(key, known);
    throw ConfigError{fmt::format(
        "{}:{}: unknown key '{}' in {} (known: {}){}", sourceName, entry.key.lineOr(line), key,
        path.empty() ? "the top level" : path, joinList(known),
        suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion))};
  }

  auto find = [&](const std::string &key) -> const MapEntry * {
    for (const MapEntry &entry : entries) {
      if (entry.key.scalar() == key) {
        return &entry;
      }
    }
    return nullptr;
  };
  auto missing = [&](const std::string &key) {
    fail(keyLine, path,
         fmt::format("missing required key '{}'{}", key, path.empty() ? " at the top level" : ""));
  };
  for (const Field &field : section.fields()) {
    const MapEntry *entry = find(field.key);
    if (!entry) {
      if (field.presence == Presence::Required) {
        missing(field.key);
      }
      continue;
    }
    readField(field, *entry, joinPath(path, field.key));
  }
  for (const Section &child : section.sections()) {
    const MapEntry *entry = find(child.key());
    if (!entry) {
      if (child.presence() == Presence::Required) {
        missing(child.key());
      }
      continue;
    }
    readSection(child, entry->value, joinPath(path, child.key()), entry->key.lineOr(line));
  }
}

void SchemaReader::readField(const Field &field, const MapEntry &entry, const std::string &path) {
  const Node &value = entry.value;
  int keyLine = entry.key.lineOr(1);
  // yaml-cpp marks an empty value at the next token, often a line later: use the key's.
  int line = value.isNull() ? keyLine : value.lineOr(keyLine);
  recordLine(path, readingStyle == ReadingStyle::CheckWhileReading ? keyLine : line);
  if (value.kind() != field.expects) {
    fail(line, path, "expected " + field.expectation + ", got " + value.describe());
  }
  field.read(*this, value, path, line);
}

void SchemaReader::readNumber(const Node &value, const std::string &path, int line,
                              Constraint constraint, const std::string &expected,
                              double &out) const {
  if (!value.isScalar()) {
    fail(line, path, "expected " + expected + ", got " + value.describe());
  }
  const std::string &text = value.scalar();
  std::optional<double> parsed = parseReal(text);
  if (!parsed ||
      (readingStyle == ReadingStyle::CheckWhileReading && !satisfies(*parsed, constraint))) {
    fail(line, path, fmt::format("expected {}, got '{}'", expected, text));
  }
  out = *parsed;
}

uint64_t SchemaReader::readUnsigned(const Node &value, const std::string &path, int line,
                                    Constraint constraint, const std::string &expected,
                                    uint64_t max) const {
  if (!value.isScalar()) {
    fail(line, path, "expected " + expected + ", got " + value.describe());
  }
  const std::string &text = value.scalar();
  std::optional<uint64_t> parsed = parseUnsigned(text, max);
  const bool whileReading = readingStyle == ReadingStyle::CheckWhileReading;
  if (!parsed || (whileReading && !satisfies(double(*parsed), constraint))) {
    std::string limit;
    if (whileReading) {
      std::optional<double> real = parseReal(text);
      if (real && *real > double(max)) {
        limit = fmt::format(" (at most {})", max);
      }
    }
    fail(line, path, fmt::format("expected {}{}, got '{}'", expected, limit, text));
  }
  return *parsed;
}

void SchemaReader::readNumber(const Node &value, const std::string &path, int line,
                              Constraint constraint, const std::string &expected,
                              uint64_t &out) const {
  out = readUnsigned(value, path, line, constraint, expected, std::numeric_limits<uint64_t>::max());
}

void SchemaReader::readNumber(const Node &value, const std::string &path, int line,
                              Constraint constraint, const std::string &expected,
                              uint32_t &out) const {
  out = uint32_t(
      readUnsigned(value, path, line, constraint, expected, std::numeric_limits<uint32_t>::max()));
}

void SchemaReader::readKeyedEntries(
    const Node &map, const std::string &path, int line, const MapWording &wording,
    const std::function<Result<std::string>(const std::string &key)> &canonical,
    const std::function<void(const std::string &canonicalKey, const Node &value,
                             const std::string &valuePath, int valueLine)> &readValue) {
  std::map<std::string, std::string> firstSpelling; // canonical key -> as first written
  for (const MapEntry &entry : entriesOf(map, path, line)) {
    const std::string &written = entry.key.scalar();
    int keyLine = entry.key.lineOr(line);
    Result<std::string> name = canonical(written);
    if (!name) {
      fail(keyLine, path, name.error());
    }
    const std::string namePath = joinPath(path, *name);
    auto refuseRepeat = [&] {
      auto [first, inserted] = firstSpelling.emplace(*name, written);
      if (!inserted) {
        fail(keyLine, path, wording.repeated(written, first->second));
      }
    };
    if (readingStyle == ReadingStyle::CheckWhileReading) {
      refuseRepeat();
      int valueLine = entry.value.lineOr(keyLine);
      recordLine(namePath, valueLine);
      readValue(*name, entry.value, namePath, valueLine);
    } else {
      readValue(*name, entry.value, joinPath(path, written), keyLine);
      recordLine(namePath, keyLine);
      refuseRepeat();
    }
  }
}

//===----------------------------------------------------------------------===//
// Documents
//===----------------------------------------------------------------------===//

namespace {
/// yaml-cpp's message for tab indentation ("illegal map value") does not say why.
std::string tabHint(const std::string &text, int zeroBasedLine) {
  std::istringstream lines(text);
  std::string line;
  for (int i = 0; i <= zeroBasedLine && std::getline(lines, line); ++i) {
  }
  size_t indentEnd = line.find_first_not_of(" \t");
  if (line.substr(0, indentEnd).find('\t') != std::string::npos) {
    return " (the line is indented with a tab; YAML indentation must use spaces)";
  }
  return "";
}

/// The one-line message for the exception being handled, whoever threw it.
Error errorInFlight(const std::string &sourceName, const DocumentRules &rules) {
  try {
    throw;
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const YAML::Exception &error) {
    return makeError(NodeFactory::fromYaml(error, sourceName).message);
  } catch (const std::exception &error) {
    return makeError(fmt::format("{}: cannot read {}: {}", sourceName, rules.what, error.what()));
  } catch (...) {
    return makeError(fmt::format("{}: cannot read {}: unknown error", sourceName, rules.what));
  }
}

/// Ranges first: a consistency message about a value out of range would mislead.
void runChecks(const Section &schema, const Locator &locate,
               const ConsistencyCheck &checkConsistency) {
  checkRanges(schema, locate);
  if (checkConsistency) {
    checkConsistency(locate);
  }
}
} // namespace

Result<Node> parseDocument(const std::string &text, const std::string &sourceName,
                           const DocumentRules &rules) {
  try {
    if (text.find('\0') != std::string::npos) {
      return makeError(fmt::format("{}: not a YAML {} (it contains NUL bytes{})", sourceName,
                                   rules.what, rules.binaryHint));
    }
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(text);
    } catch (const YAML::Exception &error) {
      if (error.mark.line >= 0) {
        return makeError(fmt::format("{}:{}: YAML syntax error at column {}: {}{}", sourceName,
                                     error.mark.line + 1, error.mark.column + 1, error.msg,
                                     rules.explainTabs ? tabHint(text, error.mark.line) : ""));
      }
      return makeError(fmt::format("{}: YAML syntax error: {}", sourceName, error.msg));
    }
    if (documents.size() > 1) {
      return makeError(fmt::format("{}:{}: expected one YAML document, found {}{}", sourceName,
                                   documents[1].Mark().line + 1, documents.size(),
                                   rules.extraDocumentHint));
    }
    if (documents.empty()) {
      return Node();
    }
    return NodeFactory::make(documents.front(), std::make_shared<const std::string>(sourceName));
  } catch (...) {
    return errorInFlight(sourceName, rules);
  }
}

Status readDocument(const std::string &text, const std::string &sourceName,
                    const DocumentRules &rules, const Section &schema,
                    const ConsistencyCheck &checkConsistency) {
  try {
    Result<Node> root = parseDocument(text, sourceName, rules);
    if (!root) {
      return root.takeError();
    }
    SchemaReader reader(sourceName, rules.style);
    reader.readRoot(schema, *root, rules.what);
    runChecks(
        schema, [&](const std::string &path) { return reader.locate(path); }, checkConsistency);
    return Status::success();
  } catch (...) {
    return errorInFlight(sourceName, rules);
  }
}

Status checkConfig(const Section &schema, const std::string &prefix,
                   const ConsistencyCheck &checkConsistency) {
  try {
    runChecks(
        schema, [&](const std::string &) { return prefix; }, checkConsistency);
    return Status::success();
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const std::exception &error) {
    return makeError(prefix + error.what());
  }
}

FileContents readWholeFile(const std::string &path, bool regularFilesOnly) {
  try {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
      return {FileProblem::Missing, ""};
    }
    if (std::filesystem::is_directory(path, error)) {
      return {FileProblem::Directory, ""};
    }
    if (regularFilesOnly && !std::filesystem::is_regular_file(path, error)) {
      return {FileProblem::NotRegularFile, ""};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return {FileProblem::CannotOpen, ""};
    }
    std::ostringstream text;
    text << in.rdbuf();
    return {in.bad() ? FileProblem::ReadFailed : FileProblem::None, text.str()};
  } catch (const std::exception &error) {
    return {FileProblem::Failed, error.what()};
  }
}

//===----------------------------------------------------------------------===//
// Canonical text
//===----------------------------------------------------------------------===//

namespace {
void renderSection(const Section &section, int depth, std::string &out) {
  const std::string indent(size_t(depth) * 2, ' ');
  for (const Field &field : section.fields()) {
    out += indent + field.key + ":";
    field.write(out, indent);
  }
  for (const Section &child : section.sections()) {
    out += indent + child.key() + ":\n";
    renderSection(child, depth + 1, out);
  }
}
} // namespace

std::string renderCanonical(const Section &schema) {
  std::string out;
  renderSection(schema, 0, out);
  return out;
}

std::string quoteScalar(const std::string &text) {
  std::string out = "\"";
  for (unsigned char ch : text) {
    switch (ch) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (ch < 0x20 || ch == 0x7f) {
        out += fmt::format("\\x{:02x}", ch);
      } else {
        out += char(ch);
      }
    }
  }
  return out + "\"";
}

uint64_t fnv1a64(const std::string &text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : text) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

} // namespace conveyor::yaml
