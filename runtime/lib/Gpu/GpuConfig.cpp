// Reads and validates GPU descriptions (systems/gpu/*.yaml).
//
// This is the only file of the GPU model that includes yaml-cpp. Every key is declared once,
// in `gpuSchema()`: the reader, the unknown-key check and the range checks all walk that
// table, so they cannot disagree about which keys exist or what each accepts.
//
// yaml-cpp reports problems by throwing; so does this file internally (`ConfigError`).
// Both are caught at the public API, which only returns Result/Status.

#include "conveyor/Gpu/GpuConfig.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <variant>

namespace conveyor::gpu {

const char *phaseName(Phase phase) {
  switch (phase) {
  case Phase::Prefill:
    return "prefill";
  case Phase::Decode:
    return "decode";
  }
  return "unknown";
}

Result<double> GpuConfig::peakFlops(DType type) const {
  auto found = peakFlopsPerSecond.find(type);
  if (found != peakFlopsPerSecond.end()) {
    return found->second;
  }
  std::string known;
  for (const auto &[each, rate] : peakFlopsPerSecond) {
    (void)rate;
    known += (known.empty() ? "" : ", ") + std::string(system::dtypeName(each));
  }
  return makeError(fmt::format("gpu '{}' has no {} tensor-core peak (peak_flops lists: {}); "
                               "run the workload at one of those precisions",
                               name, system::dtypeName(type), known));
}

namespace {

/// Internal error carrier; never leaves this file.
struct ConfigError {
  std::string message;
};

using NumberRef = double &(*)(GpuConfig &);
using CountRef = uint32_t &(*)(GpuConfig &);
using TextRef = std::string &(*)(GpuConfig &);
using PeakMapRef = std::map<DType, double> &(*)(GpuConfig &);
using Accessor = std::variant<NumberRef, CountRef, TextRef, PeakMapRef>;

#define CONVEYOR_GPU_FIELD(member)                                                                 \
  +[](GpuConfig & c) -> auto & {                                                                   \
    return c.member;                                                                               \
  }

/// What a value accepts (for the peak map: what each entry accepts).
enum class Constraint { Any, NonEmpty, Positive, NonNegative, Fraction };

struct FieldSpec {
  const char *key;
  Accessor ref;
  Constraint constraint;
  bool required;
};

struct SectionSpec {
  const char *key; // "" for the document root
  std::vector<FieldSpec> fields;
  std::vector<SectionSpec> sections;
};

constexpr bool kRequired = true;
constexpr bool kOptional = false;

/// Every key of a GPU YAML, in the order the shipped files write them. All sections are
/// required; only `description` may be left out.
const SectionSpec &gpuSchema() {
  using C = Constraint;
  static const SectionSpec schema{
      "",
      {
          {"name", CONVEYOR_GPU_FIELD(name), C::NonEmpty, kRequired},
          {"description", CONVEYOR_GPU_FIELD(description), C::Any, kOptional},
          {"peak_flops", CONVEYOR_GPU_FIELD(peakFlopsPerSecond), C::Positive, kRequired},
      },
      {
          {"memory",
           {
               {"bytes", CONVEYOR_GPU_FIELD(memoryBytes), C::Positive, kRequired},
               {"bytes_per_second", CONVEYOR_GPU_FIELD(memoryBytesPerSecond), C::Positive,
                kRequired},
               {"usable_fraction", CONVEYOR_GPU_FIELD(usableMemoryFraction), C::Fraction,
                kRequired},
           },
           {}},
          {"interconnect",
           {
               {"name", CONVEYOR_GPU_FIELD(interconnect.name), C::NonEmpty, kRequired},
               {"bytes_per_second", CONVEYOR_GPU_FIELD(interconnect.bytesPerSecond), C::Positive,
                kRequired},
               {"allreduce_latency_seconds",
                CONVEYOR_GPU_FIELD(interconnect.allReduceLatencySeconds), C::NonNegative,
                kRequired},
               {"gpus_per_node", CONVEYOR_GPU_FIELD(interconnect.gpusPerNode), C::Positive,
                kRequired},
           },
           {}},
          {"power",
           {
               {"tdp_watts", CONVEYOR_GPU_FIELD(power.tdpWatts), C::Positive, kRequired},
               {"idle_watts", CONVEYOR_GPU_FIELD(power.idleWatts), C::NonNegative, kRequired},
           },
           {}},
          {"efficiency",
           {},
           {
               {"prefill",
                {
                    {"compute", CONVEYOR_GPU_FIELD(prefill.compute), C::Fraction, kRequired},
                    {"bandwidth", CONVEYOR_GPU_FIELD(prefill.bandwidth), C::Fraction, kRequired},
                },
                {}},
               {"decode",
                {
                    {"compute", CONVEYOR_GPU_FIELD(decode.compute), C::Fraction, kRequired},
                    {"bandwidth", CONVEYOR_GPU_FIELD(decode.bandwidth), C::Fraction, kRequired},
                },
                {}},
           }},
      }};
  return schema;
}

#undef CONVEYOR_GPU_FIELD

std::string joinPath(const std::string &parent, const std::string &key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string expectation(const Accessor &ref, Constraint constraint) {
  auto number = [&] {
    switch (constraint) {
    case Constraint::Positive:
      return std::string("a positive number");
    case Constraint::NonNegative:
      return std::string("a non-negative number");
    case Constraint::Fraction:
      return std::string("a fraction in (0, 1]");
    case Constraint::Any:
    case Constraint::NonEmpty:
      break;
    }
    return std::string("a number");
  };
  return std::visit(
      [&](auto accessor) -> std::string {
        using T = std::decay_t<decltype(accessor(std::declval<GpuConfig &>()))>;
        if constexpr (std::is_same_v<T, uint32_t>) {
          return "a positive integer";
        } else if constexpr (std::is_same_v<T, double>) {
          return number();
        } else if constexpr (std::is_same_v<T, std::string>) {
          return constraint == Constraint::NonEmpty ? "a non-empty string" : "a string";
        } else {
          return "a mapping from precision (fp16, bf16, fp8, int8, ...) to FLOP/s";
        }
      },
      ref);
}

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

/// Turns a key path into the message prefix: "file:line: " when read from YAML,
/// "gpu 'x': " for a config built in code.
using Locator = std::function<std::string(const std::string &path)>;

[[noreturn]] void failAt(const Locator &locate, const std::string &path, const std::string &what) {
  throw ConfigError{locate(path) + (path.empty() ? "" : path + ": ") + what};
}

void checkFieldRange(const FieldSpec &field, const std::string &path, GpuConfig &config,
                     const Locator &locate) {
  std::visit(
      [&](auto accessor) {
        auto &value = accessor(config);
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, double> || std::is_same_v<T, uint32_t>) {
          Constraint constraint =
              std::is_same_v<T, uint32_t> ? Constraint::Positive : field.constraint;
          if (!satisfies(double(value), constraint)) {
            failAt(locate, path,
                   fmt::format("expected {}, got {}", expectation(field.ref, field.constraint),
                               value));
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (field.constraint == Constraint::NonEmpty && value.empty()) {
            failAt(locate, path, "expected a non-empty string, got ''");
          }
        } else {
          for (const auto &[type, rate] : value) {
            if (!satisfies(rate, Constraint::Positive)) {
              failAt(locate, joinPath(path, system::dtypeName(type)),
                     fmt::format("expected a positive number of FLOP/s, got {}", rate));
            }
          }
        }
      },
      field.ref);
}

void checkSectionRanges(const SectionSpec &section, const std::string &path, GpuConfig &config,
                        const Locator &locate) {
  for (const FieldSpec &field : section.fields) {
    checkFieldRange(field, joinPath(path, field.key), config, locate);
  }
  for (const SectionSpec &child : section.sections) {
    checkSectionRanges(child, joinPath(path, child.key), config, locate);
  }
}

/// Checks that need more than one field.
void checkConsistency(const GpuConfig &config, const Locator &locate) {
  if (config.peakFlopsPerSecond.empty()) {
    failAt(locate, "peak_flops",
           "expected at least one precision with its dense peak (e.g. bf16: 989.4e12)");
  }
  if (config.power.idleWatts >= config.power.tdpWatts) {
    failAt(locate, "power.idle_watts",
           fmt::format("idle power {} W must be below tdp_watts {} W", config.power.idleWatts,
                       config.power.tdpWatts));
  }
}

void validate(GpuConfig &config, const Locator &locate) {
  checkSectionRanges(gpuSchema(), "", config, locate);
  checkConsistency(config, locate);
}

//===----------------------------------------------------------------------===//
// YAML reader
//===----------------------------------------------------------------------===//

std::optional<double> parseDouble(std::string text) {
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

std::string describeNode(const YAML::Node &node) {
  if (!node.IsDefined() || node.IsNull()) {
    return "nothing";
  }
  if (node.IsMap()) {
    return "a mapping";
  }
  if (node.IsSequence()) {
    return "a sequence";
  }
  return "'" + node.Scalar() + "'";
}

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

class GpuYamlReader {
public:
  explicit GpuYamlReader(std::string sourceName) : sourceName(std::move(sourceName)) {}

  void readRoot(const YAML::Node &root, GpuConfig &config) {
    if (!root.IsDefined() || root.IsNull()) {
      throw ConfigError{sourceName + ": empty GPU description: expected a mapping with keys "
                                     "name, description, peak_flops, memory, interconnect, "
                                     "power, efficiency"};
    }
    readSection(gpuSchema(), root, "", lineOf(root, 1), config);
  }

  /// Message prefix for a key path: the line of the deepest recorded node on that path.
  std::string locate(std::string path) const {
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

private:
  struct Entry {
    std::string key;
    YAML::Node keyNode;
    YAML::Node value;
  };

  std::string sourceName;
  std::map<std::string, int> lines; // key path -> 1-based line of its value

  int lineOf(const YAML::Node &node, int fallback) const {
    YAML::Mark mark = node.Mark();
    return mark.line >= 0 ? mark.line + 1 : fallback;
  }

  [[noreturn]] void fail(int line, const std::string &path, const std::string &what) const {
    throw ConfigError{
        fmt::format("{}:{}: {}{}", sourceName, line, path.empty() ? "" : path + ": ", what)};
  }

  std::vector<Entry> entriesOf(const YAML::Node &map, const std::string &path, int line) const {
    std::vector<Entry> entries;
    for (auto it = map.begin(); it != map.end(); ++it) {
      // Copies: `it->` yields a temporary proxy, so references into it would dangle.
      YAML::Node keyNode = it->first;
      YAML::Node value = it->second;
      int keyLine = lineOf(keyNode, line);
      if (!keyNode.IsScalar()) {
        fail(keyLine, path, "expected plain key names, got " + describeNode(keyNode));
      }
      for (const Entry &seen : entries) {
        if (seen.key == keyNode.Scalar()) {
          fail(keyLine, path,
               fmt::format("duplicate key '{}' (first on line {})", seen.key,
                           lineOf(seen.keyNode, line)));
        }
      }
      entries.push_back({keyNode.Scalar(), keyNode, value});
    }
    return entries;
  }

  void rejectUnknown(const std::vector<Entry> &entries, const std::vector<std::string> &known,
                     const std::string &path, int line) const {
    for (const Entry &entry : entries) {
      if (std::find(known.begin(), known.end(), entry.key) != known.end()) {
        continue;
      }
      std::string knownList;
      std::string suggestion;
      size_t best = 3; // suggest only close matches
      for (const std::string &name : known) {
        knownList += (knownList.empty() ? "" : ", ") + name;
        size_t distance = editDistance(entry.key, name);
        if (distance < best) {
          best = distance;
          suggestion = name;
        }
      }
      throw ConfigError{fmt::format(
          "{}:{}: unknown key '{}' in {} (known: {}){}", sourceName, lineOf(entry.keyNode, line),
          entry.key, path.empty() ? std::string("the top level") : path, knownList,
          suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion))};
    }
  }

  /// `keyLine` is the line of the key naming this section: "missing key" points there.
  void readSection(const SectionSpec &section, const YAML::Node &node, const std::string &path,
                   int keyLine, GpuConfig &config) {
    int line = node.IsNull() ? keyLine : lineOf(node, keyLine);
    if (!node.IsMap()) {
      fail(line, path.empty() ? "" : path,
           (path.empty() ? "expected a mapping at the top level, got "
                         : "expected a mapping, got ") +
               describeNode(node));
    }
    lines[path] = keyLine;
    std::vector<Entry> entries = entriesOf(node, path, line);
    std::vector<std::string> known;
    for (const FieldSpec &field : section.fields) {
      known.push_back(field.key);
    }
    for (const SectionSpec &child : section.sections) {
      known.push_back(child.key);
    }
    // Unknown keys first: a misspelt key would otherwise surface as "missing required key".
    rejectUnknown(entries, known, path, line);

    auto find = [&](const char *key) -> const Entry * {
      for (const Entry &entry : entries) {
        if (entry.key == key) {
          return &entry;
        }
      }
      return nullptr;
    };
    auto missing = [&](const char *key) {
      fail(
          keyLine, path,
          fmt::format("missing required key '{}'{}", key, path.empty() ? " at the top level" : ""));
    };
    for (const FieldSpec &field : section.fields) {
      const Entry *entry = find(field.key);
      if (!entry) {
        if (field.required) {
          missing(field.key);
        }
        continue;
      }
      readField(field, *entry, joinPath(path, field.key), config);
    }
    for (const SectionSpec &child : section.sections) {
      const Entry *entry = find(child.key);
      if (!entry) {
        missing(child.key);
      }
      readSection(child, entry->value, joinPath(path, child.key), lineOf(entry->keyNode, line),
                  config);
    }
  }

  void readField(const FieldSpec &field, const Entry &entry, const std::string &path,
                 GpuConfig &config) {
    const YAML::Node &node = entry.value;
    int line = node.IsNull() ? lineOf(entry.keyNode, 1) : lineOf(node, lineOf(entry.keyNode, 1));
    lines[path] = line;
    const std::string expected = expectation(field.ref, field.constraint);
    std::visit(
        [&](auto accessor) {
          auto &value = accessor(config);
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::map<DType, double>>) {
            if (!node.IsMap()) {
              fail(line, path, fmt::format("expected {}, got {}", expected, describeNode(node)));
            }
            std::vector<Entry> entries = entriesOf(node, path, line);
            for (const Entry &item : entries) {
              int itemLine = lineOf(item.keyNode, line);
              Result<DType> type = system::parseDType(item.key);
              if (!type.ok()) {
                fail(itemLine, path, type.error());
              }
              std::string itemPath = joinPath(path, item.key);
              std::optional<double> rate =
                  item.value.IsScalar() ? parseDouble(item.value.Scalar()) : std::nullopt;
              if (!rate) {
                fail(itemLine, itemPath,
                     "expected a positive number of FLOP/s, got " + describeNode(item.value));
              }
              lines[joinPath(path, system::dtypeName(*type))] = itemLine;
              if (!value.emplace(*type, *rate).second) {
                fail(itemLine, path,
                     fmt::format("'{}' names a precision already listed", item.key));
              }
            }
          } else {
            if (!node.IsScalar()) {
              fail(line, path, fmt::format("expected {}, got {}", expected, describeNode(node)));
            }
            const std::string &text = node.Scalar();
            if constexpr (std::is_same_v<T, std::string>) {
              value = text;
            } else if constexpr (std::is_same_v<T, double>) {
              std::optional<double> parsed = parseDouble(text);
              if (!parsed) {
                fail(line, path, fmt::format("expected {}, got '{}'", expected, text));
              }
              value = *parsed;
            } else {
              std::optional<double> parsed = parseDouble(text);
              if (!parsed || *parsed != std::floor(*parsed) || *parsed < 0 ||
                  *parsed > 4294967295.0) {
                fail(line, path, fmt::format("expected {}, got '{}'", expected, text));
              }
              value = uint32_t(*parsed);
            }
          }
        },
        field.ref);
  }
};

std::string readWholeFile(const std::string &path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw ConfigError{path + ": is a directory, expected a GPU description file (.yaml)"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError{path + ": cannot open GPU description (does the file exist?)"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

Result<GpuConfig> parseGpuConfig(const std::string &yamlText, const std::string &sourceName) {
  try {
    if (yamlText.find('\0') != std::string::npos) {
      return makeError(sourceName + ": not a YAML GPU description (it contains NUL bytes)");
    }
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(yamlText);
    } catch (const YAML::Exception &error) {
      if (error.mark.line >= 0) {
        return makeError(fmt::format("{}:{}: YAML syntax error at column {}: {}", sourceName,
                                     error.mark.line + 1, error.mark.column + 1, error.msg));
      }
      return makeError(fmt::format("{}: YAML syntax error: {}", sourceName, error.msg));
    }
    if (documents.size() > 1) {
      return makeError(fmt::format("{}:{}: expected one YAML document, found {}", sourceName,
                                   documents[1].Mark().line + 1, documents.size()));
    }
    GpuConfig config;
    GpuYamlReader reader(sourceName);
    reader.readRoot(documents.empty() ? YAML::Node() : documents.front(), config);
    validate(config, [&](const std::string &path) { return reader.locate(path); });
    return config;
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const YAML::Exception &error) {
    return makeError(fmt::format("{}:{}: {}", sourceName, error.mark.line + 1, error.msg));
  } catch (const std::exception &error) {
    return makeError(fmt::format("{}: cannot read GPU description: {}", sourceName, error.what()));
  }
}

Result<GpuConfig> loadGpuConfig(const std::string &path) {
  std::string text;
  try {
    text = readWholeFile(path);
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const std::exception &error) {
    return makeError(fmt::format("{}: cannot read GPU description: {}", path, error.what()));
  }
  return parseGpuConfig(text, path);
}

Status validateGpuConfig(const GpuConfig &config) {
  try {
    GpuConfig copy = config; // the accessors are non-const; nothing is modified
    validate(copy, [&](const std::string &) { return fmt::format("gpu '{}': ", config.name); });
    return Status::success();
  } catch (const ConfigError &error) {
    return makeError(error.message);
  }
}

Result<std::vector<GpuConfig>> loadGpuDirectory(const std::string &directory) {
  std::vector<std::string> paths;
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error);
  if (error) {
    return makeError(
        fmt::format("{}: cannot list GPU descriptions: {}", directory, error.message()));
  }
  for (const auto &entry : it) {
    if (entry.is_regular_file(error) && entry.path().extension() == ".yaml") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<GpuConfig> configs;
  for (const std::string &path : paths) {
    Result<GpuConfig> config = loadGpuConfig(path);
    if (!config.ok()) {
      return config.takeError();
    }
    configs.push_back(std::move(*config));
  }
  if (configs.empty()) {
    return makeError(directory + ": no GPU descriptions (*.yaml) found");
  }
  return configs;
}

Result<GpuConfig> loadGpuByName(const std::string &directory, const std::string &name) {
  std::filesystem::path path = std::filesystem::path(directory) / (name + ".yaml");
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    std::string known;
    std::filesystem::directory_iterator it(directory, error);
    if (!error) {
      std::vector<std::string> names;
      for (const auto &entry : it) {
        if (entry.path().extension() == ".yaml") {
          names.push_back(entry.path().stem().string());
        }
      }
      std::sort(names.begin(), names.end());
      for (const std::string &each : names) {
        known += (known.empty() ? "" : ", ") + each;
      }
    }
    return makeError(fmt::format("unknown GPU '{}' in {} (known: {})", name, directory,
                                 known.empty() ? "none" : known));
  }
  Result<GpuConfig> config = loadGpuConfig(path.string());
  if (config.ok() && config->name != name) {
    return makeError(fmt::format("{}: name '{}' does not match the file name '{}'; rename one",
                                 path.string(), config->name, name));
  }
  return config;
}

} // namespace conveyor::gpu
