// Reads, validates, renders and fingerprints system descriptions (systems/*.yaml).
//
// Every parameter is declared once, in the schema built by `systemSchema()` (see
// conveyor/Support/YamlSchema.h): the reader, the range checks, `canonicalText()` and the
// unknown-key check all walk that one table, so they cannot disagree about which keys exist,
// in which order they are written, or what range each one accepts. This file adds only what
// is particular to systems: element types, topologies and the cross-field checks.

#include "conveyor/System/SystemConfig.h"

#include "conveyor/Support/YamlSchema.h"

#include <fmt/format.h>

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

using yaml::Constraint;
using yaml::failAt;
using yaml::joinPath;
using yaml::Locator;

std::string sameDTypeMessage(const std::string &key, const std::string &firstSpelling) {
  return fmt::format("'{}' names the same dtype as '{}'", key, firstSpelling);
}

/// A mapping from dtype to a number, e.g. chip.mxm.macs_per_cycle.
template <typename Value>
void dtypeMap(yaml::Section &section, const char *key, std::map<DType, Value> &map,
              const yaml::Names<DType> &dtypes, Constraint constraint) {
  const std::string perEntry = yaml::numberExpectation(std::is_integral_v<Value>, constraint);
  section.keyedMap(key, map, dtypes, constraint,
                   {"a mapping from dtype to " + perEntry, "", sameDTypeMessage});
}

/// Every key of a system YAML, in canonical order, bound to the members of `c`. Optional keys
/// keep the SystemConfig default when absent.
yaml::Section systemSchema(SystemConfig &c) {
  using C = Constraint;
  constexpr auto kOptional = yaml::Presence::Optional;
  const yaml::Names<DType> dtypes{parseDType, dtypeName, "a dtype (" + knownDTypeList() + ")"};
  const yaml::Names<Topology> topologies{parseTopology, topologyName,
                                         "a topology (single, fully_connected, dragonfly)"};

  yaml::Section root;
  root.field("name", c.name, C::NonEmpty).field("description", c.description, C::Any, kOptional);

  ChipConfig &chip = c.chip;
  yaml::Section &chipKeys = root.section("chip");
  chipKeys.field("name", chip.name, C::NonEmpty)
      .field("clock_hz", chip.clockHz, C::Positive)
      .field("vector_bytes", chip.vectorBytes, C::Positive)
      .field("streams_per_direction", chip.streamsPerDirection, C::Positive)
      .field("instruction_queues", chip.instructionQueues, C::Positive);
  chipKeys.section("mem")
      .field("slices", chip.mem.slices, C::Positive)
      .field("bytes_per_slice", chip.mem.bytesPerSlice, C::Positive)
      .field("banks_per_slice", chip.mem.banksPerSlice, C::Positive)
      .field("latency_cycles", chip.mem.latencyCycles, C::NonNegative);
  yaml::Section &mxm = chipKeys.section("mxm");
  mxm.field("planes", chip.mxm.planes, C::Positive)
      .field("rows", chip.mxm.rows, C::Positive)
      .field("cols", chip.mxm.cols, C::Positive)
      .field("weight_load_bytes_per_cycle", chip.mxm.weightLoadBytesPerCycle, C::Positive);
  dtypeMap(mxm, "macs_per_cycle", chip.mxm.macsPerCycle, dtypes, C::Positive);
  mxm.choice("float_timing_as", chip.mxm.floatTimingAs, dtypes)
      .field("latency_cycles", chip.mxm.latencyCycles, C::NonNegative);
  chipKeys.section("vxm")
      .field("alus_per_lane", chip.vxm.alusPerLane, C::Positive)
      .field("latency_cycles", chip.vxm.latencyCycles, C::NonNegative);
  chipKeys.section("sxm").field("latency_cycles", chip.sxm.latencyCycles, C::NonNegative);
  chipKeys.section("c2c")
      .field("links", chip.c2c.links, C::NonNegative)
      .field("lanes_per_link", chip.c2c.lanesPerLink, C::Positive)
      .field("gbps_per_lane", chip.c2c.gbpsPerLane, C::Positive)
      .field("latency_cycles", chip.c2c.latencyCycles, C::NonNegative);
  chipKeys.section("host")
      .field("bytes_per_second", chip.host.bytesPerSecond, C::Positive)
      .field("latency_cycles", chip.host.latencyCycles, C::NonNegative);
  yaml::Section &energy = chipKeys.section("energy");
  dtypeMap(energy, "mac_picojoules", chip.energy.macPicojoules, dtypes, C::NonNegative);
  energy.field("vxm_op_picojoules", chip.energy.vxmOpPicojoules, C::NonNegative)
      .field("sram_read_picojoules_per_bit", chip.energy.sramReadPicojoulesPerBit, C::NonNegative)
      .field("sram_write_picojoules_per_bit", chip.energy.sramWritePicojoulesPerBit, C::NonNegative)
      .field("stream_picojoules_per_bit", chip.energy.streamPicojoulesPerBit, C::NonNegative)
      .field("c2c_picojoules_per_bit", chip.energy.c2cPicojoulesPerBit, C::NonNegative)
      .field("host_picojoules_per_bit", chip.energy.hostPicojoulesPerBit, C::NonNegative)
      .field("static_watts", chip.energy.staticWatts, C::NonNegative);

  // A single-chip system may leave `fabric` out entirely.
  FabricConfig &fabric = c.fabric;
  root.section("fabric", kOptional)
      .field("chips", fabric.chips, C::Positive)
      .field("chips_per_node", fabric.chipsPerNode, C::Positive)
      .choice("topology", fabric.topology, topologies)
      .field("clock_drift_ppm", fabric.clockDriftPpm, C::NonNegative, kOptional)
      .field("sync_period_cycles", fabric.syncPeriodCycles, C::NonNegative, kOptional)
      .field("nodes_per_group", fabric.nodesPerGroup, C::Positive, kOptional)
      .field("local_links_per_chip", fabric.localLinksPerChip, C::NonNegative, kOptional)
      .field("global_links_per_chip", fabric.globalLinksPerChip, C::NonNegative, kOptional);
  return root;
}

//===----------------------------------------------------------------------===//
// Consistency checks (shared by the reader and validateSystemConfig)
//===----------------------------------------------------------------------===//

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
  // Dragonfly structure: links used inside the node plus links leaving it fit the chip.
  if (fabric.localLinksPerChip != 0 && fabric.localLinksPerChip + 1 < fabric.chipsPerNode) {
    failAt(locate, "fabric.local_links_per_chip",
           fmt::format("a node of {} fully connected chips needs {} local links per chip, got {}",
                       fabric.chipsPerNode, fabric.chipsPerNode - 1, fabric.localLinksPerChip));
  }
  if (uint64_t(fabric.effectiveLocalLinks()) + fabric.globalLinksPerChip > chip.c2c.links) {
    failAt(locate, "fabric.global_links_per_chip",
           fmt::format("{} local + {} global links exceed the chip's {} (chip.c2c.links)",
                       fabric.effectiveLocalLinks(), fabric.globalLinksPerChip, chip.c2c.links));
  }
  if (fabric.chips > fabric.chipsPerNode && fabric.effectiveGlobalLinks(chip.c2c.links) == 0) {
    failAt(locate, "fabric.global_links_per_chip",
           fmt::format("{} nodes need links between nodes, but every chip link is used inside "
                       "the node; lower fabric.local_links_per_chip",
                       fabric.nodes()));
  }
  if (fabric.chips > 1 && fabric.clockDriftPpm > 0 && fabric.syncPeriodCycles == 0) {
    failAt(locate, "fabric.sync_period_cycles",
           "clocks drift (fabric.clock_drift_ppm > 0) so a multi-chip fabric must "
           "resynchronise: expected a positive integer");
  }
}

const yaml::DocumentRules kSystemDocument{
    "system description", "; is it a binary file?", "; split the file or remove the extra '---'",
    /*explainTabs=*/true, yaml::ReadingStyle::CheckWhileReading};

} // namespace

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

Result<SystemConfig> parseSystemConfig(const std::string &yamlText, const std::string &sourceName) {
  SystemConfig config;
  config.sourcePath = sourceName;
  return yaml::readConfig(yamlText, sourceName, kSystemDocument, std::move(config), systemSchema,
                          checkConsistency);
}

Result<SystemConfig> loadSystemConfig(const std::string &path) {
  yaml::FileContents file = yaml::readWholeFile(path, /*regularFilesOnly=*/true);
  const std::string cannotRead = path + ": cannot read system description: ";
  switch (file.problem) {
  case yaml::FileProblem::None:
    return parseSystemConfig(file.text, path);
  case yaml::FileProblem::Missing:
    return makeError(cannotRead +
                     "no such file; the shipped ones are in systems/ (e.g. systems/groq-1.yaml)");
  case yaml::FileProblem::Directory:
  case yaml::FileProblem::NotRegularFile:
    return makeError(cannotRead + "not a regular file");
  case yaml::FileProblem::CannotOpen:
    return makeError(cannotRead + "cannot open the file (check its permissions)");
  case yaml::FileProblem::ReadFailed:
    return makeError(cannotRead + "read error");
  case yaml::FileProblem::Failed:
    return makeError(cannotRead + file.text);
  }
  return makeError(cannotRead + "unknown error");
}

Status validateSystemConfig(const SystemConfig &config) {
  return yaml::checkConfig(config, fmt::format("system '{}': ", config.name), systemSchema,
                           checkConsistency);
}

// Fabric structure helpers (issue 4)
uint32_t FabricConfig::groups() const {
  const uint32_t perGroup = nodesPerGroup ? nodesPerGroup : 1;
  return (nodes() + perGroup - 1) / perGroup;
}

uint32_t FabricConfig::effectiveLocalLinks() const {
  if (localLinksPerChip != 0) {
    return localLinksPerChip;
  }
  return chipsPerNode > 0 ? chipsPerNode - 1 : 0;
}

uint32_t FabricConfig::effectiveGlobalLinks(uint32_t chipLinks) const {
  if (globalLinksPerChip != 0) {
    return globalLinksPerChip;
  }
  const uint32_t local = effectiveLocalLinks();
  return chipLinks > local ? chipLinks - local : 0;
}

uint32_t FabricConfig::hopsBetween(uint32_t chipA, uint32_t chipB) const {
  if (chipA == chipB) {
    return 0;
  }
  if (chipsPerNode == 0 || nodeOf(chipA) == nodeOf(chipB)) {
    return 1;
  }
  // A fully connected fabric wider than a node has a direct link between any two chips.
  if (topology == Topology::FullyConnected) {
    return 1;
  }
  return groupOf(chipA) == groupOf(chipB) ? 3 : 5;
}

std::string canonicalText(const SystemConfig &config) {
  SystemConfig copy = config; // the schema binds non-const references; nothing is modified
  return yaml::renderCanonical(systemSchema(copy));
}

uint64_t fingerprint(const SystemConfig &config) { return yaml::fnv1a64(canonicalText(config)); }

} // namespace conveyor::system
