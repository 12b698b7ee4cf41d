// Reads, validates, renders and fingerprints system descriptions (systems/*.yaml).
//
// This is the only file that includes yaml-cpp. Every parameter is declared once, in the
// table built by `systemSchema()`: the reader, the range checks, `canonicalText()` and the
// unknown-key check all walk that one table, so they cannot disagree about which keys exist,
// in which order they are written, or what range each one accepts.
//
// yaml-cpp reports problems by throwing; so does this file internally (`ConfigError`).
// Both are caught at the public API, which only ever returns Result/Status.

#include "conveyor/System/SystemConfig.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <system_error>
#include <variant>
#include <vector>

namespace conveyor::system {

//===----------------------------------------------------------------------===//
// Element types and topologies
//===----------------------------------------------------------------------===//

namespace {
constexpr DType kAllDTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::FP8,
                                DType::INT8, DType::INT4, DType::INT32};
constexpr Topology kAllTopologies[] = {Topology::Single, Topology::FullyConnected,
                                       Topology::Dragonfly};

std::string knownDTypeList() {
  std::string list;
  for (DType type : kAllDTypes) {
    list += list.empty() ? "" : ", ";
    list += dtypeName(type);
  }
  return list;
}
} // namespace

unsigned dtypeBits(DType type) {
  switch (type) {
  case DType::F32:
  case DType::INT32:
    return 32;
  case DType::F16:
  case DType::BF16:
    return 16;
  case DType::FP8:
  case DType::INT8:
    return 8;
  case DType::INT4:
    return 4;
  }
  return 0;
}

const char *dtypeName(DType type) {
  switch (type) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "fp16";
  case DType::BF16:
    return "bf16";
  case DType::FP8:
    return "fp8";
  case DType::INT8:
    return "int8";
  case DType::INT4:
    return "int4";
  case DType::INT32:
    return "int32";
  }
  return "unknown";
}

Result<DType> parseDType(const std::string &name) {
  for (DType type : kAllDTypes) {
    if (name == dtypeName(type)) {
      return type;
    }
  }
  // Aliases people commonly write; dtypeName() always prints the canonical spelling.
  if (name == "f16") {
    return DType::F16;
  }
  if (name == "fp32") {
    return DType::F32;
  }
  return makeError(fmt::format("unknown dtype '{}' (known: {})", name, knownDTypeList()));
}

const char *topologyName(Topology topology) {
  switch (topology) {
  case Topology::Single:
    return "single";
  case Topology::FullyConnected:
    return "fully_connected";
  case Topology::Dragonfly:
    return "dragonfly";
  }
  return "unknown";
}

Result<Topology> parseTopology(const std::string &name) {
  for (Topology topology : kAllTopologies) {
    if (name == topologyName(topology)) {
      return topology;
    }
  }
  return makeError(
      fmt::format("unknown topology '{}' (known: single, fully_connected, dragonfly)", name));
}

//===----------------------------------------------------------------------===//
// The parameter table
//===----------------------------------------------------------------------===//

namespace {

/// Internal error carrier; never leaves this file.
struct ConfigError {
  std::string message;
};

using RateMap = std::map<DType, uint64_t>;
using EnergyMap = std::map<DType, double>;

// Accessors are captureless lambdas turned into function pointers, so the table is plain data.
using U32Ref = uint32_t &(*)(SystemConfig &);
using U64Ref = uint64_t &(*)(SystemConfig &);
using DoubleRef = double &(*)(SystemConfig &);
using StringRef = std::string &(*)(SystemConfig &);
using DTypeRef = DType &(*)(SystemConfig &);
using TopologyRef = Topology &(*)(SystemConfig &);
using RateMapRef = RateMap &(*)(SystemConfig &);
using EnergyMapRef = EnergyMap &(*)(SystemConfig &);
using Accessor = std::variant<U32Ref, U64Ref, DoubleRef, StringRef, DTypeRef, TopologyRef,
                              RateMapRef, EnergyMapRef>;

#define CONVEYOR_FIELD(member)                                                                     \
  +[](SystemConfig & c) -> auto & {                                                                \
    return c.member;                                                                               \
  }

/// What values a field accepts (for maps: what each value accepts).
enum class Constraint { Any, Positive, NonNegative, NonEmpty };

struct FieldSpec {
  const char *key;
  Accessor ref;
  Constraint constraint;
  bool required;
};

struct SectionSpec {
  const char *key; // "" for the document root
  bool required;
  std::vector<FieldSpec> fields;
  std::vector<SectionSpec> sections;
};

constexpr bool kRequired = true;
constexpr bool kOptional = false;

/// Every key of a system YAML, in canonical order. Optional keys keep the SystemConfig
/// default when absent.
const SectionSpec &systemSchema() {
  using C = Constraint;
  static const SectionSpec schema{
      "",
      kRequired,
      {
          {"name", CONVEYOR_FIELD(name), C::NonEmpty, kRequired},
          {"description", CONVEYOR_FIELD(description), C::Any, kOptional},
      },
      {
          {"chip",
           kRequired,
           {
               {"name", CONVEYOR_FIELD(chip.name), C::NonEmpty, kRequired},
               {"clock_hz", CONVEYOR_FIELD(chip.clockHz), C::Positive, kRequired},
               {"vector_bytes", CONVEYOR_FIELD(chip.vectorBytes), C::Positive, kRequired},
               {"streams_per_direction", CONVEYOR_FIELD(chip.streamsPerDirection), C::Positive,
                kRequired},
               {"instruction_queues", CONVEYOR_FIELD(chip.instructionQueues), C::Positive,
                kRequired},
           },
           {
               {"mem",
                kRequired,
                {
                    {"slices", CONVEYOR_FIELD(chip.mem.slices), C::Positive, kRequired},
                    {"bytes_per_slice", CONVEYOR_FIELD(chip.mem.bytesPerSlice), C::Positive,
                     kRequired},
                    {"banks_per_slice", CONVEYOR_FIELD(chip.mem.banksPerSlice), C::Positive,
                     kRequired},
                    {"latency_cycles", CONVEYOR_FIELD(chip.mem.latencyCycles), C::NonNegative,
                     kRequired},
                },
                {}},
               {"mxm",
                kRequired,
                {
                    {"planes", CONVEYOR_FIELD(chip.mxm.planes), C::Positive, kRequired},
                    {"rows", CONVEYOR_FIELD(chip.mxm.rows), C::Positive, kRequired},
                    {"cols", CONVEYOR_FIELD(chip.mxm.cols), C::Positive, kRequired},
                    {"weight_load_bytes_per_cycle",
                     CONVEYOR_FIELD(chip.mxm.weightLoadBytesPerCycle), C::Positive, kRequired},
                    {"macs_per_cycle", CONVEYOR_FIELD(chip.mxm.macsPerCycle), C::Positive,
                     kRequired},
                    {"float_timing_as", CONVEYOR_FIELD(chip.mxm.floatTimingAs), C::Any, kRequired},
                    {"latency_cycles", CONVEYOR_FIELD(chip.mxm.latencyCycles), C::NonNegative,
                     kRequired},
                },
                {}},
               {"vxm",
                kRequired,
                {
                    {"alus_per_lane", CONVEYOR_FIELD(chip.vxm.alusPerLane), C::Positive, kRequired},
                    {"latency_cycles", CONVEYOR_FIELD(chip.vxm.latencyCycles), C::NonNegative,
                     kRequired},
                },
                {}},
               {"sxm",
                kRequired,
                {
                    {"latency_cycles", CONVEYOR_FIELD(chip.sxm.latencyCycles), C::NonNegative,
                     kRequired},
                },
                {}},
               {"c2c",
                kRequired,
                {
                    {"links", CONVEYOR_FIELD(chip.c2c.links), C::NonNegative, kRequired},
                    {"lanes_per_link", CONVEYOR_FIELD(chip.c2c.lanesPerLink), C::Positive,
                     kRequired},
                    {"gbps_per_lane", CONVEYOR_FIELD(chip.c2c.gbpsPerLane), C::Positive, kRequired},
                    {"latency_cycles", CONVEYOR_FIELD(chip.c2c.latencyCycles), C::NonNegative,
                     kRequired},
                },
                {}},
               {"host",
                kRequired,
                {
                    {"bytes_per_second", CONVEYOR_FIELD(chip.host.bytesPerSecond), C::Positive,
                     kRequired},
                    {"latency_cycles", CONVEYOR_FIELD(chip.host.latencyCycles), C::NonNegative,
                     kRequired},
                },
                {}},
               {"energy",
                kRequired,
                {
                    {"mac_picojoules", CONVEYOR_FIELD(chip.energy.macPicojoules), C::NonNegative,
                     kRequired},
                    {"vxm_op_picojoules", CONVEYOR_FIELD(chip.energy.vxmOpPicojoules),
                     C::NonNegative, kRequired},
                    {"sram_read_picojoules_per_bit",
                     CONVEYOR_FIELD(chip.energy.sramReadPicojoulesPerBit), C::NonNegative,
                     kRequired},
                    {"sram_write_picojoules_per_bit",
                     CONVEYOR_FIELD(chip.energy.sramWritePicojoulesPerBit), C::NonNegative,
                     kRequired},
                    {"stream_picojoules_per_bit",
                     CONVEYOR_FIELD(chip.energy.streamPicojoulesPerBit), C::NonNegative, kRequired},
                    {"c2c_picojoules_per_bit", CONVEYOR_FIELD(chip.energy.c2cPicojoulesPerBit),
                     C::NonNegative, kRequired},
                    {"host_picojoules_per_bit", CONVEYOR_FIELD(chip.energy.hostPicojoulesPerBit),
                     C::NonNegative, kRequired},
                    {"static_watts", CONVEYOR_FIELD(chip.energy.staticWatts), C::NonNegative,
                     kRequired},
                },
                {}},
           }},
          // A single-chip system may leave `fabric` out entirely.
          {"fabric",
           kOptional,
           {
               {"chips", CONVEYOR_FIELD(fabric.chips), C::Positive, kRequired},
               {"chips_per_node", CONVEYOR_FIELD(fabric.chipsPerNode), C::Positive, kRequired},
               {"topology", CONVEYOR_FIELD(fabric.topology), C::Any, kRequired},
               {"clock_drift_ppm", CONVEYOR_FIELD(fabric.clockDriftPpm), C::NonNegative, kOptional},
               {"sync_period_cycles", CONVEYOR_FIELD(fabric.syncPeriodCycles), C::NonNegative,
                kOptional},
           },
           {}},
      }};
  return schema;
}

#undef CONVEYOR_FIELD

std::string joinPath(const std::string &parent, const std::string &key) {
  return parent.empty() ? key : parent + "." + key;
}

/// Human phrase for what a field accepts, used in every type and range message.
std::string expectation(const Accessor &ref, Constraint constraint) {
  auto integer = [&] {
    return constraint == Constraint::Positive ? std::string("a positive integer")
                                              : std::string("a non-negative integer");
  };
  auto number = [&] {
    return constraint == Constraint::Positive ? std::string("a positive number")
                                              : std::string("a non-negative number");
  };
  return std::visit(
      [&](auto accessor) -> std::string {
        using T = std::decay_t<decltype(accessor(std::declval<SystemConfig &>()))>;
        if constexpr (std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
          return integer();
        } else if constexpr (std::is_same_v<T, double>) {
          return number();
        } else if constexpr (std::is_same_v<T, std::string>) {
          return constraint == Constraint::NonEmpty ? "a non-empty string" : "a string";
        } else if constexpr (std::is_same_v<T, DType>) {
          return "a dtype (" + knownDTypeList() + ")";
        } else if constexpr (std::is_same_v<T, Topology>) {
          return "a topology (single, fully_connected, dragonfly)";
        } else if constexpr (std::is_same_v<T, RateMap>) {
          return "a mapping from dtype to " + integer();
        } else {
          return "a mapping from dtype to " + number();
        }
      },
      ref);
}

//===----------------------------------------------------------------------===//
// Range and consistency checks (shared by the reader and validateSystemConfig)
//===----------------------------------------------------------------------===//

/// Turns a key path into the message prefix: "file:line: " when read from YAML,
/// "system 'x': " for a config built in code.
using Locator = std::function<std::string(const std::string &path)>;

[[noreturn]] void failAt(const Locator &locate, const std::string &path, const std::string &what) {
  throw ConfigError{locate(path) + (path.empty() ? "" : path + ": ") + what};
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
  case Constraint::Any:
  case Constraint::NonEmpty:
    return true;
  }
  return true;
}

void checkFieldRange(const FieldSpec &field, const std::string &path, SystemConfig &config,
                     const Locator &locate) {
  const std::string expected = expectation(field.ref, field.constraint);
  std::visit(
      [&](auto accessor) {
        auto &value = accessor(config);
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t> ||
                      std::is_same_v<T, double>) {
          if (!satisfies(double(value), field.constraint)) {
            failAt(locate, path, fmt::format("expected {}, got {}", expected, value));
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (field.constraint == Constraint::NonEmpty && value.empty()) {
            failAt(locate, path, fmt::format("expected {}, got ''", expected));
          }
        } else if constexpr (std::is_same_v<T, RateMap> || std::is_same_v<T, EnergyMap>) {
          for (const auto &[type, entry] : value) {
            if (!satisfies(double(entry), field.constraint)) {
              std::string entryPath = joinPath(path, dtypeName(type));
              failAt(locate, entryPath,
                     fmt::format("expected {} {}, got {}",
                                 field.constraint == Constraint::Positive ? "a positive"
                                                                          : "a non-negative",
                                 std::is_same_v<T, RateMap> ? "integer" : "number", entry));
            }
          }
        }
      },
      field.ref);
}

void checkSectionRanges(const SectionSpec &section, const std::string &path, SystemConfig &config,
                        const Locator &locate) {
  for (const FieldSpec &field : section.fields) {
    checkFieldRange(field, joinPath(path, field.key), config, locate);
  }
  for (const SectionSpec &child : section.sections) {
    checkSectionRanges(child, joinPath(path, child.key), config, locate);
  }
}

/// Checks that need more than one field.
void checkConsistency(const SystemConfig &config, const Locator &locate) {
  const ChipConfig &chip = config.chip;
  const MxmConfig &mxm = chip.mxm;
  if (mxm.macsPerCycle.empty()) {
    failAt(locate, "chip.mxm.macs_per_cycle",
           "expected at least one dtype with its MAC rate (e.g. int8: 409600)");
  }
  // In double: three 32-bit factors can overflow 64 bits; fmt prints whole doubles exactly.
  const double arrayMacs = double(mxm.planes) * mxm.rows * mxm.cols;
  for (const auto &[type, rate] : mxm.macsPerCycle) {
    if (double(rate) > arrayMacs) {
      failAt(locate, joinPath("chip.mxm.macs_per_cycle", dtypeName(type)),
             fmt::format("{} MACs/cycle exceeds planes*rows*cols = {}; lower the rate or "
                         "enlarge the array",
                         rate, arrayMacs));
    }
  }
  if (!mxm.macsPerCycle.count(mxm.floatTimingAs)) {
    failAt(locate, "chip.mxm.float_timing_as",
           fmt::format("'{}' has no rate in chip.mxm.macs_per_cycle; name one of its dtypes",
                       dtypeName(mxm.floatTimingAs)));
  }
  for (const auto &[type, rate] : mxm.macsPerCycle) {
    (void)rate;
    if (!chip.energy.macPicojoules.count(type)) {
      failAt(locate, "chip.energy.mac_picojoules",
             fmt::format("missing an entry for '{}', which chip.mxm.macs_per_cycle supports",
                         dtypeName(type)));
    }
  }

  const FabricConfig &fabric = config.fabric;
  if (fabric.chipsPerNode > fabric.chips || fabric.chips % fabric.chipsPerNode != 0) {
    failAt(locate, "fabric.chips_per_node",
           fmt::format("{} chips do not split into whole nodes of {}", fabric.chips,
                       fabric.chipsPerNode));
  }
  if ((fabric.topology == Topology::Single) != (fabric.chips == 1)) {
    failAt(locate, "fabric.topology",
           fabric.chips == 1
               ? std::string("a one-chip fabric must use topology 'single'")
               : fmt::format("topology 'single' holds one chip, but fabric.chips is {}; use "
                             "'fully_connected' or 'dragonfly'",
                             fabric.chips));
  }
  if (fabric.chips > 1 && chip.c2c.links == 0) {
    failAt(locate, "chip.c2c.links",
           fmt::format("a {}-chip fabric needs chip-to-chip links, got 0", fabric.chips));
  }
  if (fabric.topology == Topology::FullyConnected && fabric.chips - 1 > chip.c2c.links) {
    failAt(locate, "fabric.topology",
           fmt::format("fully connecting {} chips needs {} links per chip, chip.c2c.links is {}",
                       fabric.chips, fabric.chips - 1, chip.c2c.links));
  }
  if (fabric.topology == Topology::Dragonfly && fabric.chips == fabric.chipsPerNode) {
    failAt(locate, "fabric.topology",
           "a dragonfly joins several nodes, but fabric.chips equals fabric.chips_per_node; "
           "use 'fully_connected' for one node");
  }
  if (fabric.chips > 1 && fabric.clockDriftPpm > 0 && fabric.syncPeriodCycles == 0) {
    failAt(locate, "fabric.sync_period_cycles",
           "clocks drift (fabric.clock_drift_ppm > 0) so a multi-chip fabric must "
           "resynchronise: expected a positive integer");
  }
}

void validate(SystemConfig &config, const Locator &locate) {
  checkSectionRanges(systemSchema(), "", config, locate);
  checkConsistency(config, locate);
}

//===----------------------------------------------------------------------===//
// Scalar parsing
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

/// Accepts plain digits, or a number written in scientific form that is an exact integer
/// (e.g. 64e3), up to `max`.
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
  std::optional<double> real = parseDouble(text);
  // 2^53: beyond it a double no longer holds every integer exactly.
  if (!real || *real < 0 || *real != std::floor(*real) || *real > 9007199254740992.0 ||
      *real > double(max)) {
    return std::nullopt;
  }
  return uint64_t(*real);
}

//===----------------------------------------------------------------------===//
// YAML reader
//===----------------------------------------------------------------------===//

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

class YamlReader {
public:
  explicit YamlReader(std::string sourceName) : sourceName(std::move(sourceName)) {}

  void readRoot(const YAML::Node &root, SystemConfig &config) {
    if (!root.IsDefined() || root.IsNull()) {
      throw ConfigError{sourceName + ": empty system description: expected a mapping with "
                                     "keys name, description, chip, fabric"};
    }
    readSection(systemSchema(), root, "", lineOf(root, 1), config);
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

  std::string sectionName(const std::string &path) const {
    return path.empty() ? "the top level" : path;
  }

  std::vector<Entry> entriesOf(const YAML::Node &map, const std::string &path, int line) {
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

  /// `keyLine` is the line of the key that names this section: "missing key" messages point
  /// there rather than at the section's first entry.
  void readSection(const SectionSpec &section, const YAML::Node &node, const std::string &path,
                   int keyLine, SystemConfig &config) {
    int line = node.IsNull() ? keyLine : lineOf(node, keyLine);
    if (!node.IsMap()) {
      if (path.empty()) {
        throw ConfigError{fmt::format("{}:{}: expected a mapping at the top level, got {}",
                                      sourceName, line, describeNode(node))};
      }
      fail(line, path, "expected a mapping, got " + describeNode(node));
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
    // Unknown keys first: a misspelt key would otherwise surface as a less helpful
    // "missing required key".
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
      throw ConfigError{
          fmt::format("{}:{}: unknown key '{}' in {} (known: {}){}", sourceName,
                      lineOf(entry.keyNode, line), entry.key, sectionName(path), knownList,
                      suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion))};
    }

    auto find = [&](const char *key) -> const Entry * {
      for (const Entry &entry : entries) {
        if (entry.key == key) {
          return &entry;
        }
      }
      return nullptr;
    };
    auto missing = [&](const char *key) {
      if (path.empty()) {
        throw ConfigError{fmt::format("{}:{}: missing required key '{}' at the top level",
                                      sourceName, keyLine, key)};
      }
      fail(keyLine, path, fmt::format("missing required key '{}'", key));
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
        if (child.required) {
          missing(child.key);
        }
        continue;
      }
      readSection(child, entry->value, joinPath(path, child.key), lineOf(entry->keyNode, line),
                  config);
    }
  }

  void readField(const FieldSpec &field, const Entry &entry, const std::string &path,
                 SystemConfig &config) {
    const YAML::Node &node = entry.value;
    int keyLine = lineOf(entry.keyNode, 1);
    // yaml-cpp marks an empty value at the next token, often a line later: use the key's.
    int line = node.IsNull() ? keyLine : lineOf(node, keyLine);
    // Consistency errors point at the key; for a block mapping the value starts a line later.
    lines[path] = keyLine;
    const std::string expected = expectation(field.ref, field.constraint);
    auto wrongType = [&]() {
      fail(line, path, "expected " + expected + ", got " + describeNode(node));
    };

    std::visit(
        [&](auto accessor) {
          auto &target = accessor(config);
          using T = std::decay_t<decltype(target)>;
          if constexpr (std::is_same_v<T, RateMap> || std::is_same_v<T, EnergyMap>) {
            if (!node.IsMap()) {
              wrongType();
            }
            target.clear();
            std::map<DType, std::string> spelledAs;
            for (const Entry &item : entriesOf(node, path, line)) {
              int itemLine = lineOf(item.keyNode, line);
              Result<DType> type = parseDType(item.key);
              if (!type) {
                fail(itemLine, path, type.error());
              }
              if (spelledAs.count(*type)) {
                fail(itemLine, path,
                     fmt::format("'{}' names the same dtype as '{}'", item.key, spelledAs[*type]));
              }
              spelledAs[*type] = item.key;
              std::string itemPath = joinPath(path, dtypeName(*type));
              lines[itemPath] = lineOf(item.value, itemLine);
              target[*type] = readNumber<typename T::mapped_type>(
                  item.value, itemPath, lines[itemPath], field.constraint);
            }
          } else {
            if (!node.IsScalar()) {
              wrongType();
            }
            const std::string &text = node.Scalar();
            if constexpr (std::is_same_v<T, std::string>) {
              target = text;
            } else if constexpr (std::is_same_v<T, DType>) {
              Result<DType> type = parseDType(text);
              if (!type) {
                fail(line, path, type.error());
              }
              target = *type;
            } else if constexpr (std::is_same_v<T, Topology>) {
              Result<Topology> topology = parseTopology(text);
              if (!topology) {
                fail(line, path, topology.error());
              }
              target = *topology;
            } else {
              target = readNumber<T>(node, path, line, field.constraint);
            }
          }
        },
        field.ref);
  }

  /// Parses a number and applies the field's range, so that "0" for a positive field
  /// gets the same message whether it came from YAML or from code.
  template <typename T>
  T readNumber(const YAML::Node &node, const std::string &path, int line,
               Constraint constraint) const {
    const std::string expected =
        std::is_same_v<T, double>
            ? (constraint == Constraint::Positive ? "a positive number" : "a non-negative number")
            : (constraint == Constraint::Positive ? "a positive integer"
                                                  : "a non-negative integer");
    if (!node.IsScalar()) {
      fail(line, path, "expected " + expected + ", got " + describeNode(node));
    }
    const std::string &text = node.Scalar();
    if constexpr (std::is_same_v<T, double>) {
      std::optional<double> value = parseDouble(text);
      if (!value || !satisfies(*value, constraint)) {
        fail(line, path, fmt::format("expected {}, got '{}'", expected, text));
      }
      return *value;
    } else {
      std::optional<uint64_t> value = parseUnsigned(text, std::numeric_limits<T>::max());
      if (!value || !satisfies(double(*value), constraint)) {
        std::optional<double> real = parseDouble(text);
        bool tooLarge = real && *real > double(std::numeric_limits<T>::max());
        std::string limit =
            tooLarge ? fmt::format(" (at most {})", std::numeric_limits<T>::max()) : "";
        fail(line, path, fmt::format("expected {}{}, got '{}'", expected, limit, text));
      }
      return T(*value);
    }
  }
};

//===----------------------------------------------------------------------===//
// Canonical text
//===----------------------------------------------------------------------===//

std::string quoteYaml(const std::string &text) {
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

void writeSection(const SectionSpec &section, int depth, SystemConfig &config, std::string &out) {
  const std::string indent(size_t(depth) * 2, ' ');
  for (const FieldSpec &field : section.fields) {
    out += indent + field.key + ":";
    std::visit(
        [&](auto accessor) {
          const auto &value = accessor(config);
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, RateMap> || std::is_same_v<T, EnergyMap>) {
            if (value.empty()) {
              out += " {}\n";
            } else {
              out += "\n";
              for (const auto &[type, entry] : value) {
                // fmt's "{}" prints the shortest text that reads back to the same double.
                out += fmt::format("{}  {}: {}\n", indent, dtypeName(type), entry);
              }
            }
          } else if constexpr (std::is_same_v<T, std::string>) {
            out += " " + quoteYaml(value) + "\n";
          } else if constexpr (std::is_same_v<T, DType>) {
            out += std::string(" ") + dtypeName(value) + "\n";
          } else if constexpr (std::is_same_v<T, Topology>) {
            out += std::string(" ") + topologyName(value) + "\n";
          } else {
            out += fmt::format(" {}\n", value);
          }
        },
        field.ref);
  }
  for (const SectionSpec &child : section.sections) {
    out += indent + child.key + ":\n";
    writeSection(child, depth + 1, config, out);
  }
}

std::string readWholeFile(const std::string &path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw ConfigError{path + ": cannot read system description: no such file; the shipped "
                             "ones are in systems/ (e.g. systems/groq-1.yaml)"};
  }
  if (!std::filesystem::is_regular_file(path, error)) {
    throw ConfigError{path + ": cannot read system description: not a regular file"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError{path + ": cannot read system description: cannot open the file "
                             "(check its permissions)"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError{path + ": cannot read system description: read error"};
  }
  return text.str();
}

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

} // namespace

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

Result<SystemConfig> parseSystemConfig(const std::string &yamlText, const std::string &sourceName) {
  try {
    if (yamlText.find('\0') != std::string::npos) {
      return makeError(sourceName + ": not a YAML system description (it contains NUL "
                                    "bytes; is it a binary file?)");
    }
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(yamlText);
    } catch (const YAML::Exception &error) {
      if (error.mark.line >= 0) {
        return makeError(fmt::format("{}:{}: YAML syntax error at column {}: {}{}", sourceName,
                                     error.mark.line + 1, error.mark.column + 1, error.msg,
                                     tabHint(yamlText, error.mark.line)));
      }
      return makeError(fmt::format("{}: YAML syntax error: {}", sourceName, error.msg));
    }
    if (documents.size() > 1) {
      return makeError(fmt::format("{}:{}: expected one YAML document, found {}; split the "
                                   "file or remove the extra '---'",
                                   sourceName, documents[1].Mark().line + 1, documents.size()));
    }
    SystemConfig config;
    config.sourcePath = sourceName;
    YamlReader reader(sourceName);
    reader.readRoot(documents.empty() ? YAML::Node() : documents.front(), config);
    validate(config, [&](const std::string &path) { return reader.locate(path); });
    return config;
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const YAML::Exception &error) {
    return makeError(fmt::format("{}:{}: {}", sourceName, error.mark.line + 1, error.msg));
  } catch (const std::exception &error) {
    return makeError(
        fmt::format("{}: cannot read system description: {}", sourceName, error.what()));
  } catch (...) {
    return makeError(sourceName + ": cannot read system description: unknown error");
  }
}

Result<SystemConfig> loadSystemConfig(const std::string &path) {
  std::string text;
  try {
    text = readWholeFile(path);
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const std::exception &error) {
    return makeError(fmt::format("{}: cannot read system description: {}", path, error.what()));
  }
  return parseSystemConfig(text, path);
}

Status validateSystemConfig(const SystemConfig &config) {
  try {
    // The checks only read; the accessors are shared with the reader, hence non-const.
    SystemConfig copy = config;
    validate(copy, [&](const std::string &) { return fmt::format("system '{}': ", config.name); });
    return Status::success();
  } catch (const ConfigError &error) {
    return makeError(error.message);
  } catch (const std::exception &error) {
    return makeError(fmt::format("system '{}': {}", config.name, error.what()));
  }
}

std::string canonicalText(const SystemConfig &config) {
  SystemConfig copy = config; // accessors are non-const; nothing is modified
  std::string out;
  writeSection(systemSchema(), 0, copy, out);
  return out;
}

uint64_t fingerprint(const SystemConfig &config) {
  // FNV-1a, 64-bit.
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : canonicalText(config)) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

} // namespace conveyor::system
