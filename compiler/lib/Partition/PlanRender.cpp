// Text and JSON renderings of a partition plan (`conveyor compile --explain [--json]`).
#include "conveyor/Partition/Planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace conveyor::partition {

namespace {

std::string mb(uint64_t bytes) { return fmt::format("{:.1f} MB", double(bytes) / 1e6); }
std::string gb(uint64_t bytes) { return fmt::format("{:.2f} GB", double(bytes) / 1e9); }

/// "0-7, 16-23": sorted ids as ranges.
std::string idRanges(const std::vector<uint32_t> &ids) {
  std::string out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) {
      ++j;
    }
    if (!out.empty()) {
      out += ", ";
    }
    out += i == j ? fmt::format("{}", ids[i]) : fmt::format("{}-{}", ids[i], ids[j]);
    i = j + 1;
  }
  return out;
}

/// Chips whose memory map is identical, grouped (in order of first appearance).
struct ChipGroup {
  const ChipMemory *sample = nullptr;
  std::vector<uint32_t> chips, stages;
};

std::vector<ChipGroup> groupChips(const Plan &plan) {
  std::vector<ChipGroup> groups;
  auto key = [](const ChipMemory &m) {
    return std::make_tuple(m.weightBytes, m.scaleBytes, m.kvBytes, m.activationBytes,
                           m.reservedBytes, m.capacityBytes);
  };
  for (const ChipMemory &m : plan.chips) {
    ChipGroup *found = nullptr;
    for (ChipGroup &g : groups) {
      if (key(*g.sample) == key(m)) {
        found = &g;
        break;
      }
    }
    if (!found) {
      groups.push_back({&m, {}, {}});
      found = &groups.back();
    }
    found->chips.push_back(m.chip);
    if (found->stages.empty() || found->stages.back() != m.stage) {
      found->stages.push_back(m.stage);
    }
  }
  return groups;
}

std::string stageRole(const StagePlan &stage) {
  std::string role;
  if (stage.holdsEmbedding) {
    role += ", embedding";
  }
  if (stage.holdsLmHead) {
    role += ", LM head";
  }
  return role;
}

std::string us(double seconds) { return fmt::format("{:.1f} us", seconds * 1e6); }

} // namespace

std::string renderPlanText(const Plan &plan, const system::SystemConfig &system) {
  const PlanOptions &o = plan.options;
  std::string out;
  out += fmt::format("plan: {} on {} ({} chips of {} SRAM, {})\n", plan.modelName, system.name,
                     system.fabric.chips, mb(system.chip.sramBytes()), system.chip.name);
  out += fmt::format("precision: weights {}, activations {}, KV {}; KV sized for {} tokens x {} "
                     "sequences\n",
                     system::dtypeName(o.weights), system::dtypeName(o.activations),
                     system::dtypeName(o.kv), o.maxContext, o.seqsInFlight);
  out += fmt::format("footprint: {} weights + {} KV = {}; fabric SRAM {}\n",
                     gb(plan.footprint.weightBytes), gb(plan.footprint.kvBytes),
                     gb(plan.footprint.totalBytes()),
                     gb(uint64_t(system.fabric.chips) * system.chip.sramBytes()));
  if (!plan.fits) {
    out += "verdict: does not fit: " + plan.refusal + "\n";
    return out;
  }
  out += fmt::format("partition: tp {} x {} stages = {} chips used of {} (fewest that fit: {}); "
                     "{} layouts tried\n",
                     plan.tp, plan.stageCount, plan.chipsUsed, plan.chipsAvailable,
                     plan.minimumChips, plan.candidatesTried);
  out += fmt::format("layout: {} layer ranges; chips {}\n",
                     plan.nearEqualStages() ? "near-equal" : "unequal",
                     plan.denseChips() ? "stage * tp + rank" : "aligned to nodes / racks");
  if (o.compiledLayout && !o.alignStagesToGroups) {
    out += fmt::format("rule: what `conveyor compile -o` builds (near-equal layer ranges, or "
                       "when none fits stages filled front to back with at least one layer "
                       "each; {:.0f}% of SRAM reserved); tp: {}\n",
                       o.sramReserveFraction * 100, plan.tpChoice);
  } else if (o.compiledLayout) {
    out += fmt::format("rule: the compile's (near-equal or greedy layer ranges, {:.0f}% of SRAM "
                       "reserved; "
                       "tp: {}) with stages aligned to nodes / racks (--align-stages), which "
                       "`conveyor compile -o` does not build\n",
                       o.sramReserveFraction * 100, plan.tpChoice);
  }
  out += "stages:\n";
  // Consecutive stages with the same layer count and role print as one line.
  for (size_t i = 0; i < plan.stages.size();) {
    size_t j = i;
    while (j + 1 < plan.stages.size() &&
           plan.stages[j + 1].layerCount == plan.stages[i].layerCount &&
           stageRole(plan.stages[j + 1]) == stageRole(plan.stages[i])) {
      ++j;
    }
    const StagePlan &a = plan.stages[i], &b = plan.stages[j];
    const uint32_t lastLayer = b.firstLayer + b.layerCount;
    std::string layers = lastLayer == a.firstLayer
                             ? std::string("no layers")
                             : fmt::format("layers {}-{}", a.firstLayer, lastLayer - 1);
    std::vector<uint32_t> chips;
    for (size_t k = i; k <= j; ++k) {
      chips.insert(chips.end(), plan.stages[k].chips.begin(), plan.stages[k].chips.end());
    }
    out += fmt::format("  {} {}: {} ({} per stage), chips {}{}\n", i == j ? "stage" : "stages",
                       i == j ? fmt::format("{}", i) : fmt::format("{}-{}", i, j), layers,
                       a.layerCount, idRanges(chips), stageRole(a));
    i = j + 1;
  }
  out += "memory map per chip (identical chips grouped):\n";
  for (const ChipGroup &g : groupChips(plan)) {
    const ChipMemory &m = *g.sample;
    out += fmt::format("  chips {} (stages {}): weights {} (scales {}), KV {}, activations {}, "
                       "reserve {}, free {}; {} of {} MEM slices' worth\n",
                       idRanges(g.chips), idRanges(g.stages), mb(m.weightBytes), mb(m.scaleBytes),
                       mb(m.kvBytes), mb(m.activationBytes), mb(m.reservedBytes),
                       mb(uint64_t(std::max<int64_t>(0, m.freeBytes()))), m.slicesUsed,
                       system.chip.mem.slices);
  }
  const LatencyEstimate &d = plan.decode;
  out += fmt::format("decode step estimate: {} = weight load {} + compute {} + unit latencies {} "
                     "+ all-reduces {} + pipeline hops {}; {:.0f} tokens/s per sequence\n",
                     us(d.total()), us(d.weightLoad), us(d.compute), us(d.fixed), us(d.collectives),
                     us(d.pipelineHops), d.tokensPerSecondPerSeq());
  return out;
}

std::string renderPlanJson(const Plan &plan, const system::SystemConfig &system) {
  const PlanOptions &o = plan.options;
  std::string out = "{\n";
  out += fmt::format("  \"model\": \"{}\",\n  \"system\": \"{}\",\n  \"fits\": {},\n",
                     plan.modelName, system.name, plan.fits ? "true" : "false");
  out += fmt::format("  \"weights\": \"{}\",\n  \"activations\": \"{}\",\n  \"kv\": \"{}\",\n"
                     "  \"max_context\": {},\n  \"seqs\": {},\n",
                     system::dtypeName(o.weights), system::dtypeName(o.activations),
                     system::dtypeName(o.kv), o.maxContext, o.seqsInFlight);
  out +=
      fmt::format("  \"weight_bytes\": {},\n  \"kv_bytes\": {},\n  \"sram_bytes_per_chip\": {},\n"
                  "  \"chips_available\": {},\n  \"minimum_chips\": {},\n",
                  plan.footprint.weightBytes, plan.footprint.kvBytes, system.chip.sramBytes(),
                  plan.chipsAvailable, plan.minimumChips);
  if (!plan.fits) {
    std::string escaped;
    for (char c : plan.refusal) {
      if (c == '"' || c == '\\') {
        escaped += '\\';
      }
      escaped += c;
    }
    out += fmt::format("  \"sram_per_chip_needed\": {},\n  \"refusal\": \"{}\"\n}}\n",
                       plan.sramPerChipNeeded, escaped);
    return out;
  }
  out +=
      fmt::format("  \"tp\": {},\n  \"stage_count\": {},\n  \"chips_used\": {},\n"
                  "  \"candidates_tried\": {},\n  \"near_equal_stages\": {},\n"
                  "  \"dense_chips\": {},\n  \"compiled_rule\": {},\n  \"sram_reserve\": {},\n"
                  "  \"tp_choice\": \"{}\",\n",
                  plan.tp, plan.stageCount, plan.chipsUsed, plan.candidatesTried,
                  plan.nearEqualStages() ? "true" : "false", plan.denseChips() ? "true" : "false",
                  o.compiledLayout ? "true" : "false", o.sramReserveFraction, plan.tpChoice);
  const LatencyEstimate &d = plan.decode;
  out += fmt::format("  \"decode_seconds\": {{\"total\": {:.9g}, \"weight_load\": {:.9g}, "
                     "\"compute\": {:.9g}, \"fixed\": {:.9g}, \"collectives\": {:.9g}, "
                     "\"pipeline_hops\": {:.9g}}},\n",
                     d.total(), d.weightLoad, d.compute, d.fixed, d.collectives, d.pipelineHops);
  out += "  \"stages\": [\n";
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const StagePlan &s = plan.stages[i];
    out += fmt::format("    {{\"index\": {}, \"first_layer\": {}, \"layers\": {}, \"tp\": {}, "
                       "\"first_chip\": {}, \"embedding\": {}, \"lm_head\": {}}}{}\n",
                       s.index, s.firstLayer, s.layerCount, s.tp, s.chips.front(),
                       s.holdsEmbedding ? "true" : "false", s.holdsLmHead ? "true" : "false",
                       i + 1 < plan.stages.size() ? "," : "");
  }
  out += "  ],\n  \"memory_map\": [\n";
  std::vector<ChipGroup> groups = groupChips(plan);
  for (size_t i = 0; i < groups.size(); ++i) {
    const ChipMemory &m = *groups[i].sample;
    out += fmt::format("    {{\"chips\": \"{}\", \"count\": {}, \"weight_bytes\": {}, "
                       "\"scale_bytes\": {}, \"kv_bytes\": {}, \"activation_bytes\": {}, "
                       "\"reserved_bytes\": {}, \"free_bytes\": {}, \"slices_used\": {}}}{}\n",
                       idRanges(groups[i].chips), groups[i].chips.size(), m.weightBytes,
                       m.scaleBytes, m.kvBytes, m.activationBytes, m.reservedBytes, m.freeBytes(),
                       m.slicesUsed, i + 1 < groups.size() ? "," : "");
  }
  out += "  ]\n}\n";
  return out;
}

std::string renderMemoryMapsText(const std::vector<StageMemoryMap> &maps,
                                 const system::ChipConfig &chip, size_t top) {
  std::string out = fmt::format(
      "tensor placement per chip role (rank 0 shown; every tp rank holds the same shapes): "
      "addresses aligned to {} B, {} B vectors interleaved over {} MEM slices of {} B "
      "(slice = vector mod {}, bank = row mod {}), reserve at the top of SRAM\n",
      chip.vectorBytes, chip.vectorBytes, chip.mem.slices, chip.mem.bytesPerSlice,
      chip.mem.slices, chip.mem.banksPerSlice);
  const uint32_t sliceCount = std::max<uint32_t>(chip.mem.slices, 1);
  // A tensor's slices: consecutive, wrapping past the last slice to 0.
  auto slices = [&](const PlacedTensor &t) {
    if (t.sliceCount >= sliceCount) {
      return fmt::format("all {}", sliceCount);
    }
    if (t.firstSlice == t.lastSlice) {
      return fmt::format("{}", t.firstSlice);
    }
    if (t.firstSlice < t.lastSlice) {
      return fmt::format("{}-{}", t.firstSlice, t.lastSlice);
    }
    return fmt::format("{}-{},0-{}", t.firstSlice, sliceCount - 1, t.lastSlice);
  };
  const uint64_t rowsPerSlice =
      chip.mem.bytesPerSlice / std::max<uint64_t>(chip.vectorBytes, 1);
  for (const StageMemoryMap &map : maps) {
    const uint64_t usable = map.capacityBytes - map.reservedBytes;
    const bool fits = map.endAddress <= usable;
    out += fmt::format("  {} {} (chips {}): {} tensors in [0, {}) of {} usable B: {}\n",
                       map.stages.size() == 1 ? "stage" : "stages", idRanges(map.stages), idRanges(map.chips), map.tensors.size(),
                       map.endAddress, usable,
                       fits ? fmt::format("fits, {} B free", usable - map.endAddress)
                            : fmt::format("OVER by {} B", map.endAddress - usable));
    uint64_t bankTotal = 0;
    for (uint64_t v : map.bankVectors) {
      bankTotal += v;
    }
    std::string banks;
    for (size_t b = 0; b < map.bankVectors.size(); ++b) {
      banks += fmt::format("{}{:.1f} %", b ? " / " : "",
                           bankTotal ? 100.0 * double(map.bankVectors[b]) / double(bankTotal) : 0.0);
    }
    out += fmt::format("    MEM map: {} of {} slices hold data, rows 0-{} of {} per slice; "
                       "{}-{} B per slice (least-most loaded); banks 0-{}: {} of vectors\n",
                       map.slicesUsed, sliceCount, map.rowsUsed ? map.rowsUsed - 1 : 0,
                       rowsPerSlice, map.sliceBytesMin, map.sliceBytesMax,
                       map.bankVectors.empty() ? 0 : map.bankVectors.size() - 1, banks);
    const PlacedTensor::Kind kinds[] = {PlacedTensor::Kind::Weight, PlacedTensor::Kind::Scale,
                                        PlacedTensor::Kind::KvCache,
                                        PlacedTensor::Kind::Activation};
    for (PlacedTensor::Kind kind : kinds) {
      uint64_t bytes = 0, count = 0;
      std::vector<bool> touched(sliceCount, false);
      for (const PlacedTensor &t : map.tensors) {
        if (t.kind == kind) {
          bytes += t.bytes;
          ++count;
          for (uint32_t k = 0; k < std::min(t.sliceCount, sliceCount); ++k) {
            touched[(t.firstSlice + k) % sliceCount] = true;
          }
        }
      }
      if (count > 0) {
        out += fmt::format("    {:<12} {:>4} tensors {:>13} B  on {} slices\n",
                           placedKindName(kind), count, bytes,
                           std::count(touched.begin(), touched.end(), true));
      }
    }
    out += fmt::format("    {:<12} {:>4}         {:>13} B  [{}, {})\n", "reserve", "",
                       map.reservedBytes, usable, map.capacityBytes);
    std::vector<const PlacedTensor *> shown;
    for (const PlacedTensor &t : map.tensors) {
      shown.push_back(&t);
    }
    if (top > 0 && top < shown.size()) {
      std::stable_sort(shown.begin(), shown.end(), [](const PlacedTensor *a, const PlacedTensor *b) {
        return a->bytes > b->bytes;
      });
      shown.resize(top);
      out += fmt::format("    largest {} of {} (--explain-all for every tensor):\n", top,
                         map.tensors.size());
    } else {
      out += "    every tensor:\n";
    }
    for (const PlacedTensor *t : shown) {
      out += fmt::format("      {:<24} {:<11} slices {:<7} [{:#09x}, {:#09x}) {:>11} B\n",
                         t->name, placedKindName(t->kind), slices(*t),
                         t->address, t->address + t->bytes, t->bytes);
    }
  }
  return out;
}

std::string renderPlanJson(const Plan &plan, const system::SystemConfig &system,
                           const std::vector<StageMemoryMap> &maps) {
  std::string out = renderPlanJson(plan, system);
  const size_t close = out.rfind("\n}");
  if (close == std::string::npos || maps.empty()) {
    return out;
  }
  std::string map = ",\n  \"tensor_map\": [\n";
  for (size_t i = 0; i < maps.size(); ++i) {
    const StageMemoryMap &m = maps[i];
    std::string banks;
    for (size_t b = 0; b < m.bankVectors.size(); ++b) {
      banks += fmt::format("{}{}", b ? ", " : "", m.bankVectors[b]);
    }
    map += fmt::format("    {{\"stages\": \"{}\", \"chips\": \"{}\", \"end_address\": {}, "
                       "\"usable_bytes\": {}, \"alignment_bytes\": {}, \"slices_used\": {}, "
                       "\"slice_bytes_min\": {}, \"slice_bytes_max\": {}, \"rows_used\": {}, "
                       "\"bank_vectors\": [{}], \"tensors\": [\n",
                       idRanges(m.stages), idRanges(m.chips), m.endAddress,
                       m.capacityBytes - m.reservedBytes, m.alignmentBytes, m.slicesUsed,
                       m.sliceBytesMin, m.sliceBytesMax, m.rowsUsed, banks);
    for (size_t j = 0; j < m.tensors.size(); ++j) {
      const PlacedTensor &t = m.tensors[j];
      map += fmt::format("      {{\"name\": \"{}\", \"kind\": \"{}\", \"address\": {}, "
                         "\"bytes\": {}, \"first_slice\": {}, \"last_slice\": {}, "
                         "\"slice_count\": {}}}{}\n",
                         t.name, placedKindName(t.kind), t.address, t.bytes, t.firstSlice,
                         t.lastSlice, t.sliceCount, j + 1 < m.tensors.size() ? "," : "");
    }
    map += fmt::format("    ]}}{}\n", i + 1 < maps.size() ? "," : "");
  }
  map += "  ]";
  out.insert(close, map);
  return out;
}

} // namespace conveyor::partition
