// canonicalText() reads back to the same config, and the fingerprint tracks every parameter.
#include "SystemTestSupport.h"

#include "conveyor/System/SystemConfig.h"

#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

using namespace conveyor::system;
using namespace conveyor::system::test;

namespace {

SystemConfig loadShipped(const std::string &name) {
  auto loaded = loadSystemConfig(shippedPath(name));
  INFO(errorText(loaded));
  REQUIRE(loaded.ok());
  return *loaded;
}

std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string joinLines(const std::vector<std::string> &lines) {
  std::string text;
  for (const std::string &line : lines) {
    text += line + "\n";
  }
  return text;
}

std::string fmtNumber(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

/// Other values to try for a canonical line's value; the first one the reader accepts is used.
std::vector<std::string> alternativesFor(const std::string &value) {
  if (value.front() == '"') {
    return {value.substr(0, value.size() - 1) + " (edited)\""};
  }
  if (value == "fp16") {
    return {"int8"};
  }
  std::vector<std::string> numbers;
  char *end = nullptr;
  double number = std::strtod(value.c_str(), &end);
  if (end && *end == '\0') {
    numbers = {fmtNumber(number + 1), fmtNumber(number * 2), fmtNumber(number - 1),
               fmtNumber(number / 2)};
  }
  return numbers;
}

} // namespace

TEST_CASE("canonical text round-trips the shipped systems", "[system][canonical]") {
  for (const char *name : {"groq-1.yaml", "groq-8.yaml"}) {
    INFO(name);
    SystemConfig original = loadShipped(name);
    std::string canonical = canonicalText(original);
    auto reparsed = parseSystemConfig(canonical, std::string("canonical ") + name);
    INFO(errorText(reparsed));
    REQUIRE(reparsed.ok());
    CHECK(canonicalText(*reparsed) == canonical);
    CHECK(fingerprint(*reparsed) == fingerprint(original));
    CHECK(reparsed->chip.sramBytes() == original.chip.sramBytes());
    CHECK(reparsed->chip.clockHz == original.chip.clockHz);
    CHECK(reparsed->chip.energy.macPicojoules == original.chip.energy.macPicojoules);
  }
}

TEST_CASE("canonical text escapes strings and keeps doubles exact", "[system][canonical]") {
  SystemConfig config = loadShipped("groq-1.yaml");
  config.description = "quote \" backslash \\ newline \n tab \t colon: hash # bell \a end";
  config.chip.clockHz = 0.1 + 0.2; // not exactly representable in short decimal
  config.chip.energy.vxmOpPicojoules = 1.0 / 3.0;
  config.chip.host.bytesPerSecond = 1e300;
  auto reparsed = parseSystemConfig(canonicalText(config), "escaped");
  INFO(errorText(reparsed));
  REQUIRE(reparsed.ok());
  CHECK(reparsed->description == config.description);
  CHECK(reparsed->chip.clockHz == config.chip.clockHz);
  CHECK(reparsed->chip.energy.vxmOpPicojoules == config.chip.energy.vxmOpPicojoules);
  CHECK(reparsed->chip.host.bytesPerSecond == config.chip.host.bytesPerSecond);
  CHECK(fingerprint(*reparsed) == fingerprint(config));
}

TEST_CASE("fingerprint ignores formatting, comments and file location", "[system][canonical]") {
  std::string text = readText(shippedPath("groq-1.yaml"));
  SystemConfig fromFile = loadShipped("groq-1.yaml");
  // Flow style, comments and a different source name describe the same hardware.
  std::string restyled =
      replaceOnce(text, "  vxm:\n    alus_per_lane: 16", "  vxm: {alus_per_lane: 16,");
  restyled =
      replaceOnce(restyled, "    latency_cycles: 16\n", " latency_cycles: 16}  # one line\n");
  auto reparsed = parseSystemConfig(restyled, "elsewhere/renamed.yaml");
  INFO(errorText(reparsed));
  REQUIRE(reparsed.ok());
  CHECK(reparsed->sourcePath == "elsewhere/renamed.yaml");
  CHECK(fingerprint(*reparsed) == fingerprint(fromFile));
  // Integers may be written in exponent form when exact.
  auto exponent = parseSystemConfig(
      replaceOnce(text, "bytes_per_slice: 2621440", "bytes_per_slice: 2.62144e6"), "exp.yaml");
  INFO(errorText(exponent));
  REQUIRE(exponent.ok());
  CHECK(fingerprint(*exponent) == fingerprint(fromFile));
}

TEST_CASE("fingerprint changes when any parameter changes", "[system][canonical]") {
  // Walk every value line of the canonical text, so a parameter added later is covered too.
  SystemConfig base = loadShipped("groq-8.yaml");
  const uint64_t baseFingerprint = fingerprint(base);
  std::vector<std::string> lines = splitLines(canonicalText(base));
  std::set<uint64_t> seen{baseFingerprint};
  int mutated = 0;
  std::vector<std::string> unchanged;
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t colon = lines[i].find(": ");
    if (colon == std::string::npos) {
      continue; // a section header
    }
    const std::string key = lines[i].substr(0, colon);
    const std::string value = lines[i].substr(colon + 2);
    std::optional<uint64_t> changed;
    for (const std::string &alternative : alternativesFor(value)) {
      std::vector<std::string> edited = lines;
      edited[i] = key + ": " + alternative;
      auto reparsed = parseSystemConfig(joinLines(edited), "mutated.yaml");
      if (reparsed.ok()) {
        changed = fingerprint(*reparsed);
        break;
      }
    }
    if (!changed) {
      unchanged.push_back(lines[i]);
      continue;
    }
    INFO("edited line: " << lines[i]);
    CHECK(*changed != baseFingerprint);
    CHECK(seen.insert(*changed).second); // and differs from every other single edit
    ++mutated;
  }
  // Only the topology cannot change alone (the others contradict 8 chips in one node).
  CHECK(unchanged == std::vector<std::string>{"  topology: fully_connected"});
  CHECK(mutated >= 40);

  SystemConfig twoNodes = base;
  twoNodes.fabric.chips = 16;
  twoNodes.fabric.topology = Topology::Dragonfly;
  SystemConfig twoNodesFull = twoNodes;
  twoNodesFull.fabric.topology = Topology::FullyConnected;
  REQUIRE(validateSystemConfig(twoNodes).ok());
  REQUIRE(validateSystemConfig(twoNodesFull).ok());
  CHECK(fingerprint(twoNodes) != fingerprint(twoNodesFull));
  // Where the file lives is not a parameter.
  SystemConfig moved = base;
  moved.sourcePath = "/somewhere/else.yaml";
  CHECK(fingerprint(moved) == baseFingerprint);
}

TEST_CASE("fingerprint is 64-bit FNV-1a of the canonical text", "[system][canonical]") {
  // Readers in other languages recompute it, so the exact function is part of the contract.
  auto fnv1a = [](const std::string &bytes) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (char ch : bytes) {
      hash = (hash ^ uint8_t(ch)) * 0x100000001b3ull;
    }
    return hash;
  };
  CHECK(fnv1a("") == 0xcbf29ce484222325ull); // published FNV-1a test vectors
  CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cull);
  SystemConfig config = loadShipped("groq-1.yaml");
  CHECK(fingerprint(config) == fnv1a(canonicalText(config)));
  config.description = "UTF-8 text: \xc3\xa9\xe2\x80\x94 (bytes above 0x7f count too)";
  CHECK(fingerprint(config) == fnv1a(canonicalText(config)));
}
