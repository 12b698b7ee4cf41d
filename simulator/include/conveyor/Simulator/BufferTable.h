// The buffers of a schedule, resolved once: sizes, storage roots of views, and id lookup.
#pragma once

#include "conveyor/Simulator/TensorShape.h"
#include "schedule.pb.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace conveyor::sim {

struct BufferInfo {
  const schedule::Buffer *proto = nullptr;
  uint32_t id = 0;
  uint32_t chip = 0;
  schedule::BufferKind kind = schedule::BUFFER_KIND_UNSPECIFIED;
  schedule::DType dtype = schedule::DTYPE_UNSPECIFIED;
  ShapeRef shape; // the schedule's own dimensions (no copy)
  uint64_t elements = 0;
  uint64_t bytes = 0;   // ceil(elements * bits / 8)
  uint64_t vectors = 0; // ceil(bytes / vectorBytes)
  // Copies of the placement fields, so that whole-table checks stay in this array.
  uint64_t address = 0, sizeBytes = 0;
  uint32_t aliasOf = 0;
  /// Index (into BufferTable::all()) of the buffer that owns the storage: itself unless a
  /// view, else the end of the alias_of chain.
  size_t root = 0;
  bool isView() const { return aliasOf != 0; }
  /// "'name'" (or "#id" when unnamed), for messages; built on demand, off the hot path.
  std::string label() const;
};

class BufferTable {
public:
  /// `schedule` must have passed schedule::validateSchedule (ids exist, no alias cycles);
  /// it must outlive the table, unchanged (BufferInfo::shape points into it).
  BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes);

  const std::vector<BufferInfo> &all() const { return buffers; }
  /// Index of buffer `id`; the id must exist (validated schedules guarantee it).
  size_t indexOf(uint32_t id) const { return denseIds ? denseIndex[id] : sparseIndex.at(id); }
  const BufferInfo &byIdRef(uint32_t id) const { return buffers[indexOf(id)]; }
  const BufferInfo &at(size_t index) const { return buffers[index]; }

private:
  std::vector<BufferInfo> buffers;
  // Id -> index: a flat table when ids are dense (the usual 1..n), else a hash map. Every
  // operand of every instruction is looked up here, so no ordered map.
  bool denseIds = true;
  std::vector<uint32_t> denseIndex;
  std::unordered_map<uint32_t, uint32_t> sparseIndex;
};

} // namespace conveyor::sim
