// Typed YAML reading for the descriptions under systems/: a schema of keys bound to a config.
//
// A reader declares every key once, as a `Section` tree whose fields are bound to the members
// of one config object. The same tree then reads a document into the config (required and
// optional keys, unknown keys rejected with "did you mean", duplicate keys refused), checks
// ranges (for a document or for a config built in code) and renders canonical text, so those
// cannot disagree about which keys exist, in which order they are written or what each accepts.
// Every message is one line, "file:line: key.path: what is wrong".
//
// yaml-cpp is included by YamlSchema.cpp only: a `Node` is an opaque handle on its tree. The
// schema binds references, so a `Section` must not outlive the config it was built over.
//
// Inside reading and checking, failures are thrown as `ConfigError` (by `SchemaReader::fail`
// and `failAt`); `readDocument` and `checkConfig` catch them and return a Status, so no
// exception leaves a reader's public API.
#pragma once

#include "conveyor/Support/Result.h"

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace conveyor::yaml {

/// A one-line message thrown while reading or checking; caught by `readDocument`/`checkConfig`.
struct ConfigError {
  std::string message;
};

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

struct MapEntry;

/// One value of a parsed document: a cheap handle, copied freely. Children are produced on
/// demand, so aliases are never expanded into a larger tree than the schema walks.
class Node {
public:
  enum class Kind { Null, Scalar, Sequence, Map };

  /// A null value with no line (what an empty document reads as).
  Node();

  Kind kind() const;
  bool isNull() const { return kind() == Kind::Null; }
  bool isScalar() const { return kind() == Kind::Scalar; }
  bool isMap() const { return kind() == Kind::Map; }
  /// The text of a scalar as written (quotes removed); "" for anything else.
  const std::string &scalar() const;
  /// 1-based line where the value starts; 0 where the parser recorded none.
  int line() const;
  int lineOr(int fallback) const { return line() > 0 ? line() : fallback; }
  /// For messages: "nothing", "a mapping", "a sequence" or the scalar in single quotes.
  std::string describe() const;
  /// A mapping's entries in file order (empty for anything else). Throws ConfigError if the
  /// parser fails on them.
  std::vector<MapEntry> entries() const;

private:
  struct Impl; // holds the yaml-cpp node, so that only YamlSchema.cpp sees yaml-cpp's types
  explicit Node(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl;
  friend struct NodeFactory;
};

struct MapEntry {
  Node key;
  Node value;
};

//===----------------------------------------------------------------------===//
// Values, ranges and messages
//===----------------------------------------------------------------------===//

/// What values a field accepts (for a map: what each of its values accepts).
enum class Constraint { Any, NonEmpty, Positive, NonNegative, Fraction };
enum class Presence { Required, Optional };

/// False for NaN and infinities; otherwise whether `value` meets the constraint (Any and
/// NonEmpty accept every finite number).
bool satisfies(double value, Constraint constraint);
/// The phrase every type and range message uses: "a positive integer", "a non-negative
/// number", "a fraction in (0, 1]", ...
std::string numberExpectation(bool integer, Constraint constraint);
/// A finite decimal or scientific number, with an optional leading '+'.
std::optional<double> parseReal(std::string text);
/// Plain digits, or a number in scientific form that is an exact integer (64e3), up to `max`
/// (and up to 2^53 when written in scientific form).
std::optional<uint64_t> parseUnsigned(const std::string &text, uint64_t max);
/// fmt's "{}": the shortest text that reads back to the same double; integers in full.
std::string numberText(double value);
std::string numberText(uint64_t value);
inline std::string numberText(uint32_t value) { return numberText(uint64_t(value)); }
/// "parent.key", or "key" at the top level.
std::string joinPath(const std::string &parent, const std::string &key);
/// The known key within two edits of `key` (the first such at the smallest distance), or "".
std::string closestKey(const std::string &key, const std::vector<std::string> &known);

/// Turns a key path into the message prefix: "file:line: " for a document, "gpu 'x': " for a
/// config built in code.
using Locator = std::function<std::string(const std::string &path)>;
/// Throws ConfigError "<locate(path)><path>: <what>".
[[noreturn]] void failAt(const Locator &locate, const std::string &path, const std::string &what);

//===----------------------------------------------------------------------===//
// The schema
//===----------------------------------------------------------------------===//

/// The two reading styles the shipped descriptions were written against. They differ only in
/// details that show in messages, and both are kept so that no message changes.
enum class ReadingStyle {
  /// systems/*.yaml: a number is range-checked as it is read, and the message quotes it as
  /// written ("got '-1'") and names an integer field's limit ("(at most 4294967295)"); later
  /// messages about a field cite its key's line; each value of a keyed map is read like a
  /// field of its own (its line, its canonical key path), after repeated keys are refused.
  CheckWhileReading,
  /// systems/gpu/*.yaml: a number is only parsed while reading; its range is checked after
  /// the whole document is read, by the pass that checks configs built in code ("got -1");
  /// later messages cite a field's value line; a keyed map's entry is reported at its key,
  /// under the key as written, and its value is read before repeated keys are refused.
  CheckAfterReading,
};

/// How the values of an enum (or the keys of a keyed map) are spelt.
template <typename Enum> struct Names {
  Result<Enum> (*parse)(const std::string &text); // the error names the known spellings
  const char *(*name)(Enum value);                // the canonical spelling
  std::string expectation;                        // e.g. "a dtype (f32, fp16, ...)"
};

/// The wording of a keyed map's messages.
struct MapWording {
  std::string expectation; // what the whole value must be: "a mapping from dtype to ..."
  std::string valueUnit;   // appended to each value's expectation, e.g. " of FLOP/s"
  /// The message for a key naming an entry already given under `firstSpelling`.
  std::string (*repeated)(const std::string &key, const std::string &firstSpelling);
};

class SchemaReader;

/// One key of a section, bound to a member of the config being read, checked or written.
struct Field {
  std::string key;
  Presence presence = Presence::Required;
  Node::Kind expects = Node::Kind::Scalar; // a value of another kind is refused before `read`
  std::string expectation;                 // "expected <this>, got a sequence"
  /// Stores `value` (at `path`; `line` is where messages point).
  std::function<void(SchemaReader &reader, const Node &value, const std::string &path, int line)>
      read;
  /// Range check of the stored value (may be empty).
  std::function<void(const std::string &path, const Locator &locate)> check;
  /// Canonical text after "key:" (starting with a space or a newline).
  std::function<void(std::string &out, const std::string &indent)> write;
};

/// A mapping of keys: fields first, then subsections, each in declaration order (the order
/// of "known:" lists and of canonical text).
class Section {
public:
  explicit Section(std::string key = "", Presence presence = Presence::Required);

  Section &field(const char *key, uint32_t &value, Constraint constraint,
                 Presence presence = Presence::Required);
  Section &field(const char *key, uint64_t &value, Constraint constraint,
                 Presence presence = Presence::Required);
  Section &field(const char *key, double &value, Constraint constraint,
                 Presence presence = Presence::Required);
  Section &field(const char *key, std::string &value, Constraint constraint,
                 Presence presence = Presence::Required);
  /// A scalar spelt as one of an enum's names.
  template <typename Enum>
  Section &choice(const char *key, Enum &value, const Names<Enum> &names,
                  Presence presence = Presence::Required);
  /// A mapping from enum names (e.g. dtypes) to numbers; two spellings of one key are refused.
  template <typename Key, typename Value>
  Section &keyedMap(const char *key, std::map<Key, Value> &map, const Names<Key> &keys,
                    Constraint valueConstraint, const MapWording &wording,
                    Presence presence = Presence::Required);
  /// Any other kind of value.
  Section &add(Field field);
  /// Adds a subsection and returns it, to declare its keys.
  Section &section(const char *key, Presence presence = Presence::Required);

  const std::string &key() const { return sectionKey; }
  Presence presence() const { return sectionPresence; }
  const std::vector<Field> &fields() const { return fieldList; }
  const std::list<Section> &sections() const { return sectionList; }
  /// Every key of this section, fields then subsections.
  std::vector<std::string> keys() const;

private:
  std::string sectionKey;
  Presence sectionPresence;
  std::vector<Field> fieldList;
  std::list<Section> sectionList; // a list: `section()` hands out references that must stay valid
};

/// The state of reading one document: where each key path was found, for later messages.
class SchemaReader {
public:
  SchemaReader(std::string sourceName, ReadingStyle style);

  /// Reads the document root into the fields of `schema`. `what` names the document in the
  /// message for an empty one ("<file>: empty <what>: expected a mapping with keys ...").
  void readRoot(const Section &schema, const Node &root, const std::string &what);
  /// "file:line: " for the deepest key on `path` that was read, or "file: ".
  std::string locate(std::string path) const;
  ReadingStyle style() const { return readingStyle; }

  // For field kinds.
  [[noreturn]] void fail(int line, const std::string &path, const std::string &what) const;
  void recordLine(const std::string &path, int line) { lines[path] = line; }
  /// A mapping's entries; refuses keys that are not scalars and keys given twice.
  std::vector<MapEntry> entriesOf(const Node &map, const std::string &path, int line) const;
  /// Parses a number (and, when checking while reading, applies `constraint`).
  void readNumber(const Node &value, const std::string &path, int line, Constraint constraint,
                  const std::string &expected, double &out) const;
  void readNumber(const Node &value, const std::string &path, int line, Constraint constraint,
                  const std::string &expected, uint64_t &out) const;
  void readNumber(const Node &value, const std::string &path, int line, Constraint constraint,
                  const std::string &expected, uint32_t &out) const;
  /// Walks a keyed map: `canonical` turns a key as written into its canonical spelling (or an
  /// error); `readValue` reads the value of the entry named `canonicalKey`.
  void readKeyedEntries(
      const Node &map, const std::string &path, int line, const MapWording &wording,
      const std::function<Result<std::string>(const std::string &key)> &canonical,
      const std::function<void(const std::string &canonicalKey, const Node &value,
                               const std::string &valuePath, int valueLine)> &readValue);

private:
  void readSection(const Section &section, const Node &node, const std::string &path, int keyLine);
  void readField(const Field &field, const MapEntry &entry, const std::string &path);
  uint64_t readUnsigned(const Node &value, const std::string &path, int line, Constraint constraint,
                        const std::string &expected, uint64_t max) const;

  std::string sourceName;
  ReadingStyle readingStyle;
  std::map<std::string, int> lines; // key path -> line that later messages cite
};

/// Range checks of every field of `schema` (and its subsections), in declaration order.
void checkRanges(const Section &schema, const Locator &locate, const std::string &path = "");

//===----------------------------------------------------------------------===//
// Documents
//===----------------------------------------------------------------------===//

/// How a kind of document is named and read; the text of its messages.
struct DocumentRules {
  std::string what;              // "system description": "empty <what>", "cannot read <what>"
  std::string binaryHint;        // after "it contains NUL bytes", e.g. "; is it a binary file?"
  std::string extraDocumentHint; // after "expected one YAML document, found 2"
  bool explainTabs = false;      // a syntax error on a tab-indented line says why
  ReadingStyle style = ReadingStyle::CheckWhileReading;
};

/// Checks that need more than one field; they fail through `failAt(locate, ...)`.
using ConsistencyCheck = std::function<void(const Locator &locate)>;

/// Parses `text` as at most one YAML document; its root (a null Node when it is empty).
Result<Node> parseDocument(const std::string &text, const std::string &sourceName,
                           const DocumentRules &rules);
/// Parses `text` and reads it into the config `schema` is bound to, then checks every range
/// and runs `checkConsistency`, whose messages cite the lines the keys were read from.
Status readDocument(const std::string &text, const std::string &sourceName,
                    const DocumentRules &rules, const Section &schema,
                    const ConsistencyCheck &checkConsistency);
/// The same checks for a config built in code; every message starts with `prefix`.
Status checkConfig(const Section &schema, const std::string &prefix,
                   const ConsistencyCheck &checkConsistency);

/// `readDocument` for a reader's config type: `schemaOf(Config &)` builds its schema and
/// `checkConsistency(const Config &, const Locator &)` its cross-field checks. `config` holds
/// the defaults that optional keys left out keep.
template <typename Config, typename SchemaOf, typename CheckConsistency>
Result<Config> readConfig(const std::string &text, const std::string &sourceName,
                          const DocumentRules &rules, Config config, SchemaOf schemaOf,
                          CheckConsistency checkConsistency) {
  Status read = readDocument(text, sourceName, rules, schemaOf(config),
                             [&](const Locator &locate) { checkConsistency(config, locate); });
  if (!read) {
    return makeError(read.error());
  }
  return config;
}

/// `checkConfig` for a reader's config type. The schema binds non-const references, so it is
/// built over a copy; nothing is modified.
template <typename Config, typename SchemaOf, typename CheckConsistency>
Status checkConfig(const Config &config, const std::string &prefix, SchemaOf schemaOf,
                   CheckConsistency checkConsistency) {
  Config copy = config;
  return checkConfig(schemaOf(copy), prefix,
                     [&](const Locator &locate) { checkConsistency(copy, locate); });
}

/// Why a file could not be read, checked in this order.
enum class FileProblem {
  None,
  Missing,        // nothing at the path (or the path cannot be examined)
  Directory,      //
  NotRegularFile, // a device, FIFO or socket (reported only when regular files are required)
  CannotOpen,     //
  ReadFailed,     // the stream failed part way; `text` holds what was read
  Failed,         // an exception; `text` holds its message
};
struct FileContents {
  FileProblem problem = FileProblem::None;
  std::string text;
};
/// Reads a whole file; each reader phrases the problems its own way.
FileContents readWholeFile(const std::string &path, bool regularFilesOnly);

//===----------------------------------------------------------------------===//
// Canonical text
//===----------------------------------------------------------------------===//

/// Every field of `schema` as YAML in declaration order, two spaces per level.
std::string renderCanonical(const Section &schema);
/// A double-quoted YAML scalar that reads back to `text`.
std::string quoteScalar(const std::string &text);
/// 64-bit FNV-1a.
uint64_t fnv1a64(const std::string &text);

//===----------------------------------------------------------------------===//
// Template definitions
//===----------------------------------------------------------------------===//

template <typename Enum>
Section &Section::choice(const char *key, Enum &value, const Names<Enum> &names,
                         Presence presence) {
  Field field{key, presence, Node::Kind::Scalar, names.expectation, nullptr, nullptr, nullptr};
  field.read = [&value, parse = names.parse](SchemaReader &reader, const Node &node,
                                             const std::string &path, int line) {
    Result<Enum> parsed = parse(node.scalar());
    if (!parsed) {
      reader.fail(line, path, parsed.error());
    }
    value = *parsed;
  };
  field.write = [&value, name = names.name](std::string &out, const std::string &) {
    out += std::string(" ") + name(value) + "\n";
  };
  return add(std::move(field));
}

template <typename Key, typename Value>
Section &Section::keyedMap(const char *key, std::map<Key, Value> &map, const Names<Key> &keys,
                           Constraint valueConstraint, const MapWording &wording,
                           Presence presence) {
  static_assert(std::is_same_v<Value, double> || std::is_same_v<Value, uint64_t> ||
                    std::is_same_v<Value, uint32_t>,
                "keyed maps hold numbers");
  const std::string valueExpectation =
      numberExpectation(std::is_integral_v<Value>, valueConstraint) + wording.valueUnit;
  Field field{key, presence, Node::Kind::Map, wording.expectation, nullptr, nullptr, nullptr};
  field.read = [&map, keys, valueConstraint, valueExpectation, wording](
                   SchemaReader &reader, const Node &node, const std::string &path, int line) {
    map.clear();
    std::map<std::string, Key> byName;
    reader.readKeyedEntries(
        node, path, line, wording,
        [&](const std::string &written) -> Result<std::string> {
          Result<Key> parsed = keys.parse(written);
          if (!parsed) {
            return parsed.takeError();
          }
          std::string name = keys.name(*parsed);
          byName.emplace(name, *parsed);
          return name;
        },
        [&](const std::string &name, const Node &value, const std::string &valuePath,
            int valueLine) {
          reader.readNumber(value, valuePath, valueLine, valueConstraint, valueExpectation,
                            map[byName.at(name)]);
        });
  };
  field.check = [&map, name = keys.name, valueConstraint, valueExpectation](const std::string &path,
                                                                            const Locator &locate) {
    for (const auto &[entryKey, entryValue] : map) {
      if (!satisfies(double(entryValue), valueConstraint)) {
        failAt(locate, joinPath(path, name(entryKey)),
               "expected " + valueExpectation + ", got " + numberText(entryValue));
      }
    }
  };
  field.write = [&map, name = keys.name](std::string &out, const std::string &indent) {
    if (map.empty()) {
      out += " {}\n";
      return;
    }
    out += "\n";
    for (const auto &[entryKey, entryValue] : map) {
      out += indent + "  " + name(entryKey) + ": " + numberText(entryValue) + "\n";
    }
  };
  return add(std::move(field));
}

} // namespace conveyor::yaml
