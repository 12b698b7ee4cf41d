// Typed description of one GPU model (peak rates, memory, interconnect, power, efficiency
// factors), read from systems/gpu/*.yaml. MLIR-free; the GPU roofline reads only this.
#pragma once

#include "conveyor/Support/Result.h"
#include "conveyor/System/SystemConfig.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace conveyor::gpu {

using system::DType;

/// The two kinds of work an inference step does. They run different kernels (large GEMMs
/// and flash attention for prefill; skinny GEMMs and paged KV reads for decode), so each
/// has its own achievable fractions of the peak rates.
enum class Phase : uint8_t { Prefill, Decode };
const char *phaseName(Phase phase);

/// Achievable fractions of peak for one phase, each in (0, 1]. Calibrated on a stated
/// published measurement (the YAML comment names it); never tuned per benchmark row.
struct PhaseEfficiency {
  double compute = 0;   // of the dense tensor-core peak of the workload's compute precision
  double bandwidth = 0; // of the peak HBM bandwidth
};

/// Links between GPUs of one node, as tensor parallelism uses them.
struct InterconnectConfig {
  std::string name;                   // e.g. "nvlink4", "pcie-gen5", "infinity-fabric"
  double bytesPerSecond = 0;          // per GPU, per direction, usable by one collective
  double allReduceLatencySeconds = 0; // fixed time of one small all-reduce (launch + sync)
  uint32_t gpusPerNode = 0;           // largest tensor-parallel group on these links
};

struct PowerConfig {
  double tdpWatts = 0;  // board power limit: drawn at full utilisation
  double idleWatts = 0; // drawn with nothing running (static power of the GPU)
};

struct GpuConfig {
  std::string name;
  std::string description;
  /// Dense (no 2:4 sparsity) tensor-core peak, FLOP/s (or OP/s for int8), by input precision.
  /// A precision missing here is not supported by the GPU's tensor cores.
  std::map<DType, double> peakFlopsPerSecond;
  double memoryBytes = 0;          // HBM capacity
  double memoryBytesPerSecond = 0; // peak HBM bandwidth
  /// Fraction of memoryBytes available to weights and KV cache (the rest holds the runtime,
  /// activations and allocator slack).
  double usableMemoryFraction = 0;
  InterconnectConfig interconnect;
  PowerConfig power;
  PhaseEfficiency prefill;
  PhaseEfficiency decode;

  const PhaseEfficiency &efficiency(Phase phase) const {
    return phase == Phase::Prefill ? prefill : decode;
  }
  /// Dense peak of `type`; the error names the GPU and the precisions it has.
  Result<double> peakFlops(DType type) const;
};

/// Reads a GPU description. Errors read "file:line: key.path: what is wrong"; unknown keys
/// are rejected with the list of known ones.
Result<GpuConfig> loadGpuConfig(const std::string &path);
/// Same, from text; `sourceName` prefixes every message.
Result<GpuConfig> parseGpuConfig(const std::string &yamlText, const std::string &sourceName);
/// Range and consistency checks for a config built in code; messages start "gpu 'name': ".
Status validateGpuConfig(const GpuConfig &config);

/// Every `*.yaml` in `directory`, read and sorted by name; the first bad file is the error.
Result<std::vector<GpuConfig>> loadGpuDirectory(const std::string &directory);
/// The GPU named `name` in `directory` (file `<name>.yaml`).
Result<GpuConfig> loadGpuByName(const std::string &directory, const std::string &name);

} // namespace conveyor::gpu
