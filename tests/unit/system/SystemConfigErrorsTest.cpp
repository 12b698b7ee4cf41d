// Each kind of bad system description gives one message naming the file, line and key.
//
// Inputs are the shipped groq-1.yaml with one edit, so line numbers are realistic; the
// expected line is found by searching the edited text, independently of yaml-cpp.
#include "SystemTestSupport.h"

#include "conveyor/System/SystemConfig.h"

#include <limits>
#include <regex>

using namespace conveyor::system;
using namespace conveyor::system::test;

namespace {

const char *kSource = "systems/x.yaml";

std::string groq1Text() { return readText(shippedPath("groq-1.yaml")); }
std::string groq8Text() { return readText(shippedPath("groq-8.yaml")); }

/// Parses `text` and returns the error, failing the test if it parsed.
std::string errorOf(const std::string &text) {
  auto parsed = parseSystemConfig(text, kSource);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

std::string at(const std::string &text, const std::string &needle) {
  return std::string(kSource) + ":" + std::to_string(lineOf(text, needle)) + ": ";
}

} // namespace

TEST_CASE("mistyped values name file, line, key path and the bad text", "[system][errors]") {
  std::string text = replaceOnce(groq1Text(), "planes: 4 ", "planes: four ");
  CHECK(errorOf(text) ==
        at(text, "planes: four") + "chip.mxm.planes: expected a positive integer, got 'four'");

  text = replaceOnce(groq1Text(), "clock_hz: 900e6", "clock_hz: fast");
  CHECK(errorOf(text) ==
        at(text, "clock_hz: fast") + "chip.clock_hz: expected a positive number, got 'fast'");

  text = replaceOnce(groq1Text(), "rows: 320", "rows: 3.5");
  CHECK(errorOf(text) ==
        at(text, "rows: 3.5") + "chip.mxm.rows: expected a positive integer, got '3.5'");

  text = replaceOnce(groq1Text(), "rows: 320", "rows: {a: 1}");
  CHECK(errorOf(text) ==
        at(text, "rows: {a: 1}") + "chip.mxm.rows: expected a positive integer, got a mapping");

  text = replaceOnce(groq1Text(), "rows: 320", "rows:");
  CHECK(errorOf(text) ==
        at(text, "rows:") + "chip.mxm.rows: expected a positive integer, got nothing");

  text = replaceOnce(groq1Text(), "topology: single", "topology: [single]");
  CHECK(errorOf(text) ==
        at(text, "topology: [") +
            "fabric.topology: expected a topology (single, fully_connected, dragonfly), got a "
            "sequence");

  text = replaceOnce(groq1Text(), "topology: single", "topology: ring");
  CHECK(errorOf(text) ==
        at(text, "topology: ring") +
            "fabric.topology: unknown topology 'ring' (known: single, fully_connected, dragonfly)");

  text = replaceOnce(groq1Text(), "float_timing_as: fp16", "float_timing_as: fp12");
  CHECK(errorOf(text) == at(text, "float_timing_as: fp12") +
                             "chip.mxm.float_timing_as: unknown dtype 'fp12' (known: f32, fp16, "
                             "bf16, fp8, int8, int4, int32)");

  text = replaceOnce(groq1Text(), "  sxm:\n", "  sxm: 18\n  sxm_was:\n");
  CHECK(errorOf(text) == at(text, "sxm_was") + "unknown key 'sxm_was' in chip (known: name, "
                                               "clock_hz, vector_bytes, streams_per_direction, "
                                               "instruction_queues, mem, mxm, vxm, sxm, c2c, "
                                               "host, energy)");
}

TEST_CASE("a section that is not a mapping", "[system][errors]") {
  std::string text = groq1Text();
  size_t start = text.find("  sxm:\n");
  size_t end = text.find("  c2c:\n");
  REQUIRE(start != std::string::npos);
  text.replace(start, end - start, "  sxm: 18\n");
  CHECK(errorOf(text) == at(text, "sxm: 18") + "chip.sxm: expected a mapping, got '18'");
}

TEST_CASE("missing required keys point at the section", "[system][errors]") {
  std::string text = replaceOnce(groq1Text(), "    planes: 4 ", "    # planes removed ");
  CHECK(errorOf(text) == at(text, "  mxm:") + "chip.mxm: missing required key 'planes'");

  text = replaceOnce(groq1Text(), "    links: 16 ", "    # links removed ");
  CHECK(errorOf(text) == at(text, "  c2c:") + "chip.c2c: missing required key 'links'");

  text = replaceOnce(groq1Text(), "  name: groq-tsp-v1\n", "");
  CHECK(errorOf(text) == at(text, "chip:") + "chip: missing required key 'name'");

  text = replaceOnce(groq1Text(), "name: groq-1\n", "");
  CHECK(errorOf(text) == at(text, "description:") + "missing required key 'name' at the top level");

  // Optional keys may go: no description, no fabric (a single chip).
  text = replaceOnce(groq1Text(), "description: ", "# description: ");
  std::string fabric = text.substr(text.find("fabric:"));
  text = replaceOnce(text, fabric, "");
  auto parsed = parseSystemConfig(text, kSource);
  INFO(errorText(parsed));
  REQUIRE(parsed.ok());
  CHECK(parsed->description.empty());
  CHECK(parsed->fabric.chips == 1);
  CHECK(parsed->fabric.topology == Topology::Single);
}

TEST_CASE("unknown keys are rejected with the known ones and a suggestion", "[system][errors]") {
  std::string text = replaceOnce(groq1Text(), "planes: 4 ", "plnaes: 4 ");
  CHECK(errorOf(text) == at(text, "plnaes") +
                             "unknown key 'plnaes' in chip.mxm (known: planes, rows, cols, "
                             "weight_load_bytes_per_cycle, macs_per_cycle, float_timing_as, "
                             "latency_cycles); did you mean 'planes'?");

  text = replaceOnce(groq1Text(), "name: groq-1\n", "name: groq-1\nvendor: groq\n");
  CHECK(errorOf(text) == at(text, "vendor:") + "unknown key 'vendor' in the top level (known: "
                                               "name, description, chip, fabric)");

  text = replaceOnce(groq1Text(), "  chips: 1\n", "  chips: 1\n  chips: 2\n");
  CHECK(errorOf(text) == at(text, "  chips: 2") + "fabric: duplicate key 'chips' (first on line " +
                             std::to_string(lineOf(text, "  chips: 1")) + ")");

  text = replaceOnce(groq1Text(), "      int8: 409600", "      int9: 409600");
  CHECK(errorOf(text) == at(text, "int9") +
                             "chip.mxm.macs_per_cycle: unknown dtype 'int9' (known: f32, fp16, "
                             "bf16, fp8, int8, int4, int32)");

  text = replaceOnce(groq1Text(), "      int8: 409600", "      f16: 409600");
  CHECK(errorOf(text) ==
        at(text, "fp16: 102400") + "chip.mxm.macs_per_cycle: 'fp16' names the same dtype as 'f16'");
}

TEST_CASE("broken YAML syntax reports the line and column", "[system][errors]") {
  std::regex syntax(R"(systems/x\.yaml:(\d+): YAML syntax error at column \d+: .+)");
  std::smatch match;

  std::string text = replaceOnce(groq1Text(), "rows: 320", "rows: [320");
  std::string error = errorOf(text);
  INFO(error);
  REQUIRE(std::regex_match(error, match, syntax));
  CHECK(std::stoi(match[1]) >= lineOf(text, "rows: [320"));

  text = replaceOnce(groq1Text(), "description: \"", "description: \"unterminated ");
  text = replaceOnce(text, "PCIe Gen4 x16.\"", "PCIe Gen4 x16.");
  error = errorOf(text);
  INFO(error);
  REQUIRE(std::regex_match(error, match, syntax));

  text = replaceOnce(groq1Text(), "    cols: 320\n", "      cols: 320\n");
  error = errorOf(text);
  INFO(error);
  REQUIRE(std::regex_match(error, match, syntax));
  CHECK(std::stoi(match[1]) == lineOf(text, "      cols: 320"));

  text = replaceOnce(groq1Text(), "\n  clock_hz:", "\n\tclock_hz:");
  error = errorOf(text);
  INFO(error);
  REQUIRE(std::regex_match(error, match, syntax));
  CHECK(std::stoi(match[1]) == lineOf(text, "\tclock_hz"));
  CHECK(error.find("indented with a tab") != std::string::npos);
}

TEST_CASE("files that are missing, empty or not YAML mappings", "[system][errors]") {
  auto missing = loadSystemConfig("/nonexistent/conveyor/x.yaml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error() == "/nonexistent/conveyor/x.yaml: cannot read system description: no "
                           "such file; the shipped ones are in systems/ (e.g. "
                           "systems/groq-1.yaml)");

  std::string directory = std::string(CONVEYOR_SOURCE_DIR) + "/systems";
  auto notFile = loadSystemConfig(directory);
  REQUIRE_FALSE(notFile.ok());
  CHECK(notFile.error() == directory + ": cannot read system description: not a regular file");

  CHECK(errorOf("") == std::string(kSource) +
                           ": empty system description: expected a mapping with keys name, "
                           "description, chip, fabric");
  CHECK(errorOf("# only a comment\n") ==
        std::string(kSource) +
            ": empty system description: expected a mapping with keys name, description, chip, "
            "fabric");
  CHECK(errorOf("\n\ngroq-1\n") ==
        std::string(kSource) + ":3: expected a mapping at the top level, got 'groq-1'");
  CHECK(errorOf("- a\n- b\n") ==
        std::string(kSource) + ":1: expected a mapping at the top level, got a sequence");
  CHECK(errorOf(std::string("\x7f"
                            "ELF\x02\x01\x01\0\0\0",
                            10)) ==
        std::string(kSource) +
            ": not a YAML system description (it contains NUL bytes; is it a binary file?)");

  std::string twoDocuments = groq1Text() + "---\nname: second\n";
  CHECK(errorOf(twoDocuments) == at(twoDocuments, "name: second") +
                                     "expected one YAML document, found 2; split the file or "
                                     "remove the extra '---'");
}

TEST_CASE("out-of-range values are rejected", "[system][errors]") {
  std::string text = replaceOnce(groq1Text(), "planes: 4 ", "planes: 0 ");
  CHECK(errorOf(text) ==
        at(text, "planes: 0") + "chip.mxm.planes: expected a positive integer, got '0'");

  text = replaceOnce(groq1Text(), "clock_hz: 900e6", "clock_hz: -900e6");
  CHECK(errorOf(text) ==
        at(text, "clock_hz: -") + "chip.clock_hz: expected a positive number, got '-900e6'");

  text = replaceOnce(groq1Text(), "clock_hz: 900e6", "clock_hz: 1e999");
  CHECK(errorOf(text) ==
        at(text, "clock_hz: 1e999") + "chip.clock_hz: expected a positive number, got '1e999'");

  text = replaceOnce(groq1Text(), "planes: 4 ", "planes: 4294967296 ");
  CHECK(errorOf(text) == at(text, "planes: 4294967296") +
                             "chip.mxm.planes: expected a positive integer (at most 4294967295), "
                             "got '4294967296'");

  text = replaceOnce(groq1Text(), "static_watts: 172", "static_watts: -1");
  CHECK(errorOf(text) == at(text, "static_watts: -1") +
                             "chip.energy.static_watts: expected a non-negative number, got '-1'");

  text = replaceOnce(groq1Text(), "      fp16: 0.492", "      fp16: -0.492");
  CHECK(errorOf(text) == at(text, "fp16: -0.492") +
                             "chip.energy.mac_picojoules.fp16: expected a non-negative number, "
                             "got '-0.492'");

  text = replaceOnce(groq1Text(), "name: groq-1\n", "name: \"\"\n");
  CHECK(errorOf(text) == at(text, "name: \"\"") + "name: expected a non-empty string, got ''");
}

TEST_CASE("inconsistent parameters name the field to fix", "[system][errors]") {
  std::string text = replaceOnce(groq1Text(), "int8: 409600", "int8: 500000");
  CHECK(errorOf(text) == at(text, "int8: 500000") +
                             "chip.mxm.macs_per_cycle.int8: 500000 MACs/cycle exceeds "
                             "planes*rows*cols = 409600; lower the rate or enlarge the array");

  text = replaceOnce(groq1Text(), "float_timing_as: fp16", "float_timing_as: int4");
  CHECK(errorOf(text) == at(text, "float_timing_as: int4") +
                             "chip.mxm.float_timing_as: 'int4' has no rate in "
                             "chip.mxm.macs_per_cycle; name one of its dtypes");

  text = replaceOnce(groq1Text(), "      int8: 0.0737\n", "");
  CHECK(errorOf(text) == at(text, "mac_picojoules:") +
                             "chip.energy.mac_picojoules: missing an entry for 'int8', which "
                             "chip.mxm.macs_per_cycle supports");

  text = replaceOnce(groq8Text(), "  chips: 8 ", "  chips: 12 ");
  CHECK(errorOf(text) == at(text, "chips_per_node: 8") +
                             "fabric.chips_per_node: 12 chips do not split into whole nodes of 8");

  text = replaceOnce(groq8Text(), "topology: fully_connected", "topology: single");
  CHECK(errorOf(text) == at(text, "topology: single") +
                             "fabric.topology: topology 'single' holds one chip, but fabric.chips "
                             "is 8; use 'fully_connected' or 'dragonfly'");

  text = replaceOnce(groq1Text(), "topology: single", "topology: dragonfly");
  CHECK(errorOf(text) == at(text, "topology: dragonfly") +
                             "fabric.topology: a one-chip fabric must use topology 'single'");

  text = replaceOnce(groq8Text(), "    links: 16 ", "    links: 6 ");
  CHECK(errorOf(text) == at(text, "topology: fully_connected") +
                             "fabric.topology: fully connecting 8 chips needs 7 links per chip, "
                             "chip.c2c.links is 6");

  text = replaceOnce(groq8Text(), "topology: fully_connected", "topology: dragonfly");
  CHECK(errorOf(text) == at(text, "topology: dragonfly") +
                             "fabric.topology: a dragonfly joins several nodes, but fabric.chips "
                             "equals fabric.chips_per_node; use 'fully_connected' for one node");

  text = replaceOnce(groq8Text(), "sync_period_cycles: 256", "sync_period_cycles: 0");
  CHECK(errorOf(text) == at(text, "sync_period_cycles: 0") +
                             "fabric.sync_period_cycles: clocks drift (fabric.clock_drift_ppm > "
                             "0) so a multi-chip fabric must resynchronise: expected a positive "
                             "integer");
}

TEST_CASE("validateSystemConfig checks configs built in code", "[system][errors]") {
  auto loaded = loadSystemConfig(shippedPath("groq-1.yaml"));
  REQUIRE(loaded.ok());
  CHECK(validateSystemConfig(*loaded).ok());

  SystemConfig config = *loaded;
  config.chip.mxm.planes = 0;
  conveyor::Status status = validateSystemConfig(config);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "system 'groq-1': chip.mxm.planes: expected a positive integer, got 0");

  config = *loaded;
  config.chip.clockHz = std::numeric_limits<double>::quiet_NaN();
  status = validateSystemConfig(config);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "system 'groq-1': chip.clock_hz: expected a positive number, got nan");

  config = *loaded;
  config.chip.mxm.macsPerCycle.clear();
  status = validateSystemConfig(config);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "system 'groq-1': chip.mxm.macs_per_cycle: expected at least one dtype "
                          "with its MAC rate (e.g. int8: 409600)");

  status = validateSystemConfig(SystemConfig{});
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "system '': name: expected a non-empty string, got ''");
}
