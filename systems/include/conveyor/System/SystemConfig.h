// Typed description of an LPU-style system (chip + fabric + energy), read from systems/*.yaml.
//
// This is the only description of hardware that the compiler and the simulator share.
// It holds parameters, never timing code: the compiler's scheduler and the simulator
// each derive latencies from these numbers with their own code, so that the simulator
// is an independent check of the schedule.
#pragma once

#include "conveyor/Support/Result.h"

#include <cstdint>
#include <map>
#include <string>

namespace conveyor::system {

/// Element types that the hardware and the schedule know about.
enum class DType { F32, F16, BF16, FP8, INT8, INT4, INT32 };

/// Bits per element (INT4: 4).
unsigned dtypeBits(DType type);
const char *dtypeName(DType type);
/// Parses "f32", "fp16"/"f16", "bf16", "fp8", "int8", "int4", "int32".
Result<DType> parseDType(const std::string &name);

/// MXM (matrix unit) parameters.
struct MxmConfig {
  uint32_t planes = 0;                 // independent MACC planes (TSP: 4)
  uint32_t rows = 0;                   // plane rows (TSP: 320)
  uint32_t cols = 0;                   // plane columns (TSP: 320)
  uint64_t weightLoadBytesPerCycle = 0; // MEM -> MXM weight install rate (TSP: 10,240 B/cycle)
  /// Multiply-accumulates per cycle for the whole chip, by input precision
  /// (TSP: int8 409,600; fp16 102,400). A precision missing here is not supported
  /// by the MXM; f32 maps to the entry named in `floatTimingAs`.
  std::map<DType, uint64_t> macsPerCycle;
  DType floatTimingAs = DType::F16;    // which rate an f32 matmul is timed at
  uint32_t latencyCycles = 0;          // pipeline fill from first vector in to first result out
};

/// VXM (vector unit) parameters.
struct VxmConfig {
  uint32_t alusPerLane = 0;  // TSP: 16 (4x4 mesh)
  uint32_t latencyCycles = 0;
};

/// SXM (switch unit: transpose, permute, shift) parameters.
struct SxmConfig {
  uint32_t latencyCycles = 0;
};

/// MEM (SRAM) parameters.
struct MemConfig {
  uint32_t slices = 0;            // TSP: 88
  uint64_t bytesPerSlice = 0;     // TSP: 2.5 MiB
  uint32_t banksPerSlice = 0;     // TSP: 2 (pseudo-dual-port)
  uint32_t latencyCycles = 0;     // read-to-stream latency (not published: a parameter)
  uint64_t totalBytes() const { return uint64_t(slices) * bytesPerSlice; }
};

/// Chip-to-chip links.
struct C2CConfig {
  uint32_t links = 0;           // TSP: 16
  uint32_t lanesPerLink = 0;    // TSP: 4
  double gbpsPerLane = 0;       // TSP: 30 Gb/s (28 cabled)
  uint32_t latencyCycles = 0;   // one hop, TSP: ~216 cycles
};

/// Host interface (model inputs in, outputs out).
struct HostConfig {
  double bytesPerSecond = 0; // PCIe Gen4 x16: ~31.5 GB/s per direction
  uint32_t latencyCycles = 0;
};

/// Energy per operation and static power; every number cites its source in the YAML.
struct EnergyConfig {
  std::map<DType, double> macPicojoules;  // one multiply-accumulate, by input precision
  double vxmOpPicojoules = 0;             // one 32-bit ALU op
  double sramReadPicojoulesPerBit = 0;
  double sramWritePicojoulesPerBit = 0;
  double streamPicojoulesPerBit = 0;     // moving one bit MEM <-> functional unit over the streams
  double c2cPicojoulesPerBit = 0;
  double hostPicojoulesPerBit = 0;
  double staticWatts = 0;                 // per chip, always on
};

struct ChipConfig {
  std::string name;
  double clockHz = 0;
  uint32_t vectorBytes = 0;          // TSP: 320
  uint32_t streamsPerDirection = 0;  // TSP: 32
  uint32_t instructionQueues = 0;    // TSP: 144
  MemConfig mem;
  MxmConfig mxm;
  VxmConfig vxm;
  SxmConfig sxm;
  C2CConfig c2c;
  HostConfig host;
  EnergyConfig energy;
  uint64_t sramBytes() const { return mem.totalBytes(); }
};

enum class Topology { Single, FullyConnected, Dragonfly };

/// YAML spelling of a topology: "single", "fully_connected", "dragonfly".
const char *topologyName(Topology topology);
Result<Topology> parseTopology(const std::string &name);

struct FabricConfig {
  uint32_t chips = 1;
  uint32_t chipsPerNode = 1;
  Topology topology = Topology::Single;
  double clockDriftPpm = 0;
  uint32_t syncPeriodCycles = 0;

  // Dragonfly structure (issue 4). Inside a node every chip has a direct link to every other;
  // nodes form groups (a GroqRack: 9 nodes) joined by global links; groups are joined by
  // global links too. The last group may be partly filled (1,024 chips = 14 racks + 2 nodes).
  uint32_t nodesPerGroup = 1;
  /// Links per chip to the other chips of its node; 0 = chipsPerNode - 1 (the minimum).
  uint32_t localLinksPerChip = 0;
  /// Links per chip that leave the node (TSP: 4); 0 = the chip's links not used locally.
  uint32_t globalLinksPerChip = 0;

  uint32_t nodes() const { return chipsPerNode ? (chips + chipsPerNode - 1) / chipsPerNode : 0; }
  uint32_t groups() const;
  uint32_t effectiveLocalLinks() const;
  uint32_t effectiveGlobalLinks(uint32_t chipLinks) const;
  uint32_t nodeOf(uint32_t chip) const { return chip / chipsPerNode; }
  uint32_t groupOf(uint32_t chip) const { return nodeOf(chip) / nodesPerGroup; }
  /// C2C hops on a minimal route: 0 (same chip), 1 (same node), 3 (same group: local,
  /// global, local) or 5 (other group: local, global, local, global, local; P22's "<= 5").
  uint32_t hopsBetween(uint32_t chipA, uint32_t chipB) const;
};

struct SystemConfig {
  std::string name;
  std::string description;
  std::string sourcePath; // file it was read from (for messages)
  ChipConfig chip;
  FabricConfig fabric;
};

/// Reads and validates a system description. Errors name the file, line and key,
/// e.g. "systems/x.yaml:12: chip.mxm.planes: expected a positive integer, got 'four'".
/// Unknown keys are rejected.
Result<SystemConfig> loadSystemConfig(const std::string &path);
/// Same, from YAML text (`sourceName` is used in messages).
Result<SystemConfig> parseSystemConfig(const std::string &yamlText, const std::string &sourceName);

/// Checks ranges and cross-field consistency (the same checks `parseSystemConfig` runs) for
/// a config built in code, e.g. by a design-space sweep. Messages name the key path.
Status validateSystemConfig(const SystemConfig &config);

/// A canonical, order-fixed YAML rendering of every parameter (what the fingerprint hashes).
/// `parseSystemConfig(canonicalText(c))` must succeed and give the same fingerprint, so a
/// schedule that embeds it can be simulated without the original file.
std::string canonicalText(const SystemConfig &config);
/// 64-bit FNV-1a of `canonicalText`: schedules record it, readers compare it.
uint64_t fingerprint(const SystemConfig &config);

} // namespace conveyor::system
