// The buffers of a schedule, resolved once: sizes, storage roots of views, and id lookup.
#pragma once

#include "conveyor/Simulator/TensorShape.h"
#include "schedule.pb.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace conveyor::sim {

struct BufferInfo {
  const schedule::Buffer *proto = nullptr;
  uint32_t id = 0;
  std::string label; // "'name'" (or "#id" when unnamed), for messages
  uint32_t chip = 0;
  schedule::BufferKind kind = schedule::BUFFER_KIND_UNSPECIFIED;
  schedule::DType dtype = schedule::DTYPE_UNSPECIFIED;
  Shape shape;
  uint64_t elements = 0;
  uint64_t bytes = 0;   // ceil(elements * bits / 8)
  uint64_t vectors = 0; // ceil(bytes / vectorBytes)
  /// Index (into BufferTable::all()) of the buffer that owns the storage: itself unless a
  /// view, else the end of the alias_of chain.
  size_t root = 0;
  bool isView() const { return proto->alias_of() != 0; }
};

class BufferTable {
public:
  /// `schedule` must have passed schedule::validateSchedule (ids exist, no alias cycles);
  /// it must outlive the table.
  BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes);

  const std::vector<BufferInfo> &all() const { return buffers; }
  /// Index of buffer `id`; the id must exist (validated schedules guarantee it).
  size_t indexOf(uint32_t id) const { return byId.at(id); }
  const BufferInfo &byIdRef(uint32_t id) const { return buffers[indexOf(id)]; }
  const BufferInfo &at(size_t index) const { return buffers[index]; }

private:
  std::vector<BufferInfo> buffers;
  std::map<uint32_t, size_t> byId;
};

} // namespace conveyor::sim
