// Resolves a schedule's buffers once: byte and vector counts, view roots, id lookup.
#include "conveyor/Simulator/BufferTable.h"

#include "conveyor/Simulator/HardwareModel.h"

#include <fmt/format.h>

namespace conveyor::sim {

BufferTable::BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes) {
  buffers.reserve(schedule.buffers_size());
  for (const schedule::Buffer &buffer : schedule.buffers()) {
    BufferInfo info;
    info.proto = &buffer;
    info.id = buffer.id();
    info.label = buffer.name().empty() ? fmt::format("#{}", buffer.id())
                                       : fmt::format("'{}'", buffer.name());
    info.chip = buffer.chip();
    info.kind = buffer.kind();
    info.dtype = buffer.dtype();
    info.shape.assign(buffer.shape().begin(), buffer.shape().end());
    info.elements = elementCount(info.shape);
    info.bytes = (info.elements * dtypeBits(info.dtype) + 7) / 8;
    info.vectors = (info.bytes + vectorBytes - 1) / vectorBytes;
    byId.emplace(info.id, buffers.size());
    buffers.push_back(std::move(info));
  }
  // Validated schedules have no alias cycles, so every chain ends at a non-view buffer.
  for (BufferInfo &info : buffers) {
    size_t root = byId.at(info.id);
    while (buffers[root].proto->alias_of() != 0) {
      root = byId.at(buffers[root].proto->alias_of());
    }
    info.root = root;
  }
}

} // namespace conveyor::sim
