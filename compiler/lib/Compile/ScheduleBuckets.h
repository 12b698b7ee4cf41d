// Merges the multi-chip schedules of several length buckets (PREFILL per prompt length,
// DECODE per KV length) into one v2 schedule that shares the weights in SRAM.
#pragma once

#include "conveyor/Support/Result.h"
#include "conveyor/System/SramMap.h"
#include "schedule.pb.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace conveyor::compile {

/// One bucket of a serving schedule: its kind and its length (prompt tokens for PREFILL,
/// KV tokens for DECODE).
struct ScheduleBucket {
  schedule::ProgramKind kind = schedule::DECODE;
  uint64_t length = 0;
  /// Keep the programs' own names ("decode.stage<k>"): the longest DECODE bucket does, so
  /// a file with one bucket reads as before.
  bool plainNames = false;
  /// "prefill.p512" / "decode.kv4096": the prefix of its program names.
  std::string tag() const;
};

/// Parses "128,512,2048" (positive integers; "none" or "" = no bucket), sorted and unique.
/// `flag` names the option in the error.
Result<std::vector<uint64_t>> parseBucketList(const std::string &text, const std::string &flag);

/// Builds the merged schedule bucket by bucket (docs/schedule-format.md, "Buckets"):
///  * WEIGHT buffers with the same chip, name, dtype, shape, data and repeat stride as one
///    already merged are that buffer (the weights are resident once);
///  * every other buffer (activations, step inputs/outputs, bucket-shaped constants, and
///    each DECODE bucket's own KV cache, whose shape depends on the bucket) gets fresh SRAM
///    above everything merged so far on its chip;
///  * programs are renamed "<tag>.stage<k>" (unless plainNames), given the bucket's kind and length, and their
///    transfer ids are offset past every id merged so far (transfers pair across the whole
///    file).
/// add() leaves the merged schedule unchanged when it fails (e.g. SRAM full).
class ScheduleBucketMerger {
public:
  /// Without a map, roots are placed at 64-byte multiples. With the chip's SRAM map, at
  /// whole vectors, and a small root (fewer vectors than slices, not strided) moves up by
  /// whole vectors until it shares no MEM slice with the small roots that one instruction
  /// streams beside it (its other operands, or its other results): a slice reads one vector
  /// per cycle and writes one (the simulator's MEM port rule, docs/simulator.md).
  explicit ScheduleBucketMerger(uint64_t sramBytes,
                                std::optional<system::SramMap> sramMap = std::nullopt)
      : sramBytes(sramBytes), sramMap(sramMap),
        alignBytes(sramMap ? sramMap->vectorBytes() : 64) {}

  /// Adds the programs of `built` (one bucket, as buildMultiChipSchedule writes it).
  Status add(const schedule::Schedule &built, const ScheduleBucket &bucket);

  /// Largest SRAM use over chips so far (bytes, strided spans included).
  uint64_t sramBytesUsed() const;
  const schedule::Schedule &merged() const { return out; }
  schedule::Schedule take() { return std::move(out); }

private:
  uint64_t alignUp(uint64_t bytes) const { return (bytes + alignBytes - 1) / alignBytes * alignBytes; }

  uint64_t sramBytes;
  std::optional<system::SramMap> sramMap;
  uint64_t alignBytes;
  schedule::Schedule out;
  std::map<uint32_t, uint64_t> highWater; // chip -> first free byte
  std::map<std::pair<uint32_t, std::string>, uint32_t> byName; // (chip, name) -> first root id
  std::map<uint32_t, int64_t> strideOf;   // merged root id -> per-layer address stride
  uint64_t nextTransferId = 0;
};

} // namespace conveyor::compile
