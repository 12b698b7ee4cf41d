// Reads and validates GPU descriptions (systems/gpu/*.yaml).
//
// Every key is declared once, in the schema built by `gpuSchema()` (see
// conveyor/Support/YamlSchema.h, which also does the YAML parsing): the reader, the
// unknown-key check and the range checks all walk that table, so they cannot disagree about
// which keys exist or what each accepts.

#include "conveyor/Gpu/GpuConfig.h"

#include "conveyor/Support/YamlSchema.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

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

using yaml::Constraint;
using yaml::failAt;
using yaml::Locator;

std::string repeatedPrecisionMessage(const std::string &key, const std::string &) {
  return fmt::format("'{}' names a precision already listed", key);
}

/// Every key of a GPU YAML, in the order the shipped files write them, bound to the members
/// of `g`. All sections are required; only `description` may be left out.
yaml::Section gpuSchema(GpuConfig &g) {
  using C = Constraint;
  const yaml::Names<DType> precisions{system::parseDType, system::dtypeName, ""};
  const yaml::MapWording peakWording{
      "a mapping from precision (fp16, bf16, fp8, int8, ...) to FLOP/s", " of FLOP/s",
      repeatedPrecisionMessage};

  yaml::Section root;
  root.field("name", g.name, C::NonEmpty)
      .field("description", g.description, C::Any, yaml::Presence::Optional)
      .keyedMap("peak_flops", g.peakFlopsPerSecond, precisions, C::Positive, peakWording);
  root.section("memory")
      .field("bytes", g.memoryBytes, C::Positive)
      .field("bytes_per_second", g.memoryBytesPerSecond, C::Positive)
      .field("usable_fraction", g.usableMemoryFraction, C::Fraction);
  root.section("interconnect")
      .field("name", g.interconnect.name, C::NonEmpty)
      .field("bytes_per_second", g.interconnect.bytesPerSecond, C::Positive)
      .field("allreduce_latency_seconds", g.interconnect.allReduceLatencySeconds, C::NonNegative)
      .field("gpus_per_node", g.interconnect.gpusPerNode, C::Positive);
  root.section("power")
      .field("tdp_watts", g.power.tdpWatts, C::Positive)
      .field("idle_watts", g.power.idleWatts, C::NonNegative);
  yaml::Section &efficiency = root.section("efficiency");
  for (auto [key, phase] : {std::pair{"prefill", &g.prefill}, std::pair{"decode", &g.decode}}) {
    efficiency.section(key)
        .field("compute", phase->compute, C::Fraction)
        .field("bandwidth", phase->bandwidth, C::Fraction);
  }
  return root;
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

const yaml::DocumentRules kGpuDocument{"GPU description", "", "", /*explainTabs=*/false,
                                       yaml::ReadingStyle::CheckAfterReading};

} // namespace

Result<GpuConfig> parseGpuConfig(const std::string &yamlText, const std::string &sourceName) {
  return yaml::readConfig(yamlText, sourceName, kGpuDocument, GpuConfig{}, gpuSchema,
                          checkConsistency);
}

Result<GpuConfig> loadGpuConfig(const std::string &path) {
  // Anything but a directory is read as it is: a missing file is one that cannot be opened,
  // and a read that fails part way parses what arrived, as this reader always has.
  yaml::FileContents file = yaml::readWholeFile(path, /*regularFilesOnly=*/false);
  switch (file.problem) {
  case yaml::FileProblem::None:
  case yaml::FileProblem::ReadFailed:
  case yaml::FileProblem::NotRegularFile:
    return parseGpuConfig(file.text, path);
  case yaml::FileProblem::Directory:
    return makeError(path + ": is a directory, expected a GPU description file (.yaml)");
  case yaml::FileProblem::Missing:
  case yaml::FileProblem::CannotOpen:
    return makeError(path + ": cannot open GPU description (does the file exist?)");
  case yaml::FileProblem::Failed:
    break;
  }
  return makeError(fmt::format("{}: cannot read GPU description: {}", path, file.text));
}

Status validateGpuConfig(const GpuConfig &config) {
  return yaml::checkConfig(config, fmt::format("gpu '{}': ", config.name), gpuSchema,
                           checkConsistency);
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
