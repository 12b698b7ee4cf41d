// The shipped GPU descriptions load and agree with their datasheets' arithmetic; each kind of
// bad description gives one message naming the file, line and key.
//
// Bad inputs are the shipped h100-sxm.yaml with one edit, so line numbers are realistic; the
// expected line is found by searching the edited text, independently of yaml-cpp.
#include "GpuTestSupport.h"

#include "conveyor/Gpu/GpuConfig.h"

#include <filesystem>
#include <set>

using namespace conveyor::gpu;
using namespace conveyor::gpu::test;
using Catch::Matchers::Contains;

namespace {

const char *kSource = "systems/gpu/x.yaml";

std::string h100Text() { return readText(gpuDirectory() + "/h100-sxm.yaml"); }

std::string errorOf(const std::string &text) {
  auto parsed = parseGpuConfig(text, kSource);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

std::string at(const std::string &text, const std::string &needle) {
  return std::string(kSource) + ":" + std::to_string(lineOf(text, needle)) + ": ";
}

} // namespace

TEST_CASE("every shipped GPU loads, is named after its file and has sane numbers",
          "[gpu][config][shipped]") {
  auto all = loadGpuDirectory(gpuDirectory());
  INFO(errorText(all));
  REQUIRE(all.ok());
  std::set<std::string> names;
  for (const GpuConfig &gpu : *all) {
    INFO(gpu.name);
    names.insert(gpu.name);
    auto byName = loadGpuByName(gpuDirectory(), gpu.name);
    INFO(errorText(byName));
    CHECK(byName.ok());
    CHECK(validateGpuConfig(gpu).ok());
    // Every GPU runs bf16; int8 and fp8, where present, are at least the bf16 rate.
    REQUIRE(gpu.peakFlopsPerSecond.count(DType::BF16));
    double bf16 = gpu.peakFlopsPerSecond.at(DType::BF16);
    for (DType type : {DType::FP8, DType::INT8}) {
      if (gpu.peakFlopsPerSecond.count(type)) {
        CHECK(gpu.peakFlopsPerSecond.at(type) == Approx(2 * bf16).epsilon(1e-4));
      }
    }
    CHECK(gpu.power.idleWatts < gpu.power.tdpWatts);
    CHECK(gpu.interconnect.gpusPerNode == 8);
  }
  for (const char *required :
       {"h100-sxm", "h100-pcie", "h200", "a100-sxm-80g", "a100-sxm-40g", "b200", "mi300x"}) {
    CHECK(names.count(required) == 1);
  }
}

TEST_CASE("shipped GPUs carry their datasheet numbers", "[gpu][config][shipped]") {
  auto h100 = loadGpuByName(gpuDirectory(), "h100-sxm");
  REQUIRE(h100.ok());
  CHECK(h100->peakFlopsPerSecond.at(DType::FP8) == 1979e12);
  CHECK(h100->memoryBytesPerSecond == 3.35e12);
  CHECK(h100->power.tdpWatts == 700);
  auto a100 = loadGpuByName(gpuDirectory(), "a100-sxm-80g");
  REQUIRE(a100.ok());
  CHECK(a100->peakFlopsPerSecond.count(DType::FP8) == 0); // Ampere has no FP8
  CHECK(a100->memoryBytesPerSecond == 2.039e12);
  auto mi300x = loadGpuByName(gpuDirectory(), "mi300x");
  REQUIRE(mi300x.ok());
  CHECK(mi300x->memoryBytes == 192e9);
  auto fp8 = a100->peakFlops(DType::FP8);
  REQUIRE_FALSE(fp8.ok());
  CHECK_THAT(fp8.error(), Contains("gpu 'a100-sxm-80g' has no fp8 tensor-core peak"));
}

TEST_CASE("unknown and misspelt keys are rejected with the known list", "[gpu][config][errors]") {
  std::string text = replaceOnce(h100Text(), "  tdp_watts: 700", "  tdp_wats: 700");
  CHECK(errorOf(text) == at(text, "tdp_wats") +
                             "unknown key 'tdp_wats' in power (known: tdp_watts, idle_watts); "
                             "did you mean 'tdp_watts'?");
  text = replaceOnce(h100Text(), "name: h100-sxm\n", "name: h100-sxm\nvendor: nvidia\n");
  CHECK_THAT(errorOf(text),
             Contains(at(text, "vendor:") + "unknown key 'vendor' in the top level"));
}

TEST_CASE("missing, mistyped and out-of-range values name file, line and key",
          "[gpu][config][errors]") {
  std::string text = replaceOnce(h100Text(), "  idle_watts: 75", "  # idle_watts removed");
  CHECK(errorOf(text) == at(text, "power:") + "power: missing required key 'idle_watts'");

  text = replaceOnce(h100Text(), "bytes_per_second: 3.35e12", "bytes_per_second: fast");
  CHECK(errorOf(text) == at(text, "bytes_per_second: fast") +
                             "memory.bytes_per_second: expected a positive number, got 'fast'");

  text = replaceOnce(h100Text(), "bandwidth: 0.523           # CALIBRATED",
                     "bandwidth: 1.5           # CALIBRATED");
  CHECK(errorOf(text) == at(text, "bandwidth: 1.5") +
                             "efficiency.decode.bandwidth: expected a fraction in (0, 1], got 1.5");

  text = replaceOnce(h100Text(), "gpus_per_node: 8", "gpus_per_node: 2.5");
  CHECK(errorOf(text) == at(text, "gpus_per_node: 2.5") +
                             "interconnect.gpus_per_node: expected a positive integer, got '2.5'");

  text = replaceOnce(h100Text(), "idle_watts: 75", "idle_watts: 900");
  CHECK(errorOf(text) == at(text, "idle_watts: 900") +
                             "power.idle_watts: idle power 900 W must be below tdp_watts 700 W");

  text = replaceOnce(h100Text(), "memory:\n", "memory: 80e9\nunused:\n");
  CHECK_THAT(errorOf(text), Contains(kSource));
}

TEST_CASE("peak_flops entries are checked one by one", "[gpu][config][errors]") {
  std::string text = replaceOnce(h100Text(), "  int8: 1979e12", "  int9: 1979e12");
  CHECK_THAT(errorOf(text), Contains(at(text, "int9") + "peak_flops: unknown dtype 'int9'"));

  text = replaceOnce(h100Text(), "  int8: 1979e12", "  int8: -1");
  CHECK(errorOf(text) ==
        at(text, "int8: -1") + "peak_flops.int8: expected a positive number of FLOP/s, got -1");

  text = replaceOnce(h100Text(), "  int8: 1979e12", "  fp8: 1e12");
  CHECK_THAT(errorOf(text), Contains("duplicate key 'fp8'"));
}

TEST_CASE("syntax errors, empty files and name mismatches", "[gpu][config][errors]") {
  CHECK_THAT(errorOf("name: [unclosed"), Contains("YAML syntax error"));
  CHECK_THAT(errorOf(""), Contains(std::string(kSource) + ": empty GPU description"));
  CHECK_THAT(errorOf("- a\n- b\n"), Contains("expected a mapping at the top level"));

  auto missingFile = loadGpuConfig(gpuDirectory() + "/no-such-gpu.yaml");
  REQUIRE_FALSE(missingFile.ok());
  CHECK_THAT(missingFile.error(), Contains("cannot open GPU description"));

  auto unknown = loadGpuByName(gpuDirectory(), "h800");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error(), Contains("unknown GPU 'h800'"));
  CHECK_THAT(unknown.error(), Contains("h100-sxm"));

  // A file whose name disagrees with its contents is refused.
  std::filesystem::path directory = std::filesystem::path(CONVEYOR_BINARY_DIR) / "gpu-config-test";
  std::filesystem::create_directories(directory);
  {
    std::ofstream out(directory / "renamed.yaml");
    out << h100Text();
  }
  auto renamed = loadGpuByName(directory.string(), "renamed");
  REQUIRE_FALSE(renamed.ok());
  CHECK_THAT(renamed.error(), Contains("name 'h100-sxm' does not match the file name 'renamed'"));
}

TEST_CASE("configs built in code are validated with the GPU's name", "[gpu][config][errors]") {
  GpuConfig gpu = roundGpu();
  CHECK(validateGpuConfig(gpu).ok());
  gpu.decode.compute = 0;
  auto status = validateGpuConfig(gpu);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() ==
        "gpu 'round': efficiency.decode.compute: expected a fraction in (0, 1], got 0");
  gpu = roundGpu();
  gpu.peakFlopsPerSecond.clear();
  CHECK_THAT(validateGpuConfig(gpu).error(), Contains("peak_flops: expected at least one"));
}
