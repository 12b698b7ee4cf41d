// Resolves a schedule's buffers once: byte and vector counts, view roots, id lookup.
#include "conveyor/Simulator/BufferTable.h"

#include "conveyor/Simulator/HardwareModel.h"

#include <fmt/format.h>

#include <algorithm>

namespace conveyor::sim {
namespace {

/// ceil(n / d) for one divisor d > 0 used many times: a multiplication by the reciprocal and
/// a one-step correction instead of a 64-bit division (tens of cycles) per buffer. Exact.
class CeilDivider {
public:
  explicit CeilDivider(uint64_t divisor)
      : divisor(divisor), inverse(divisor == 0 ? 0.0 : 1.0 / double(divisor)) {}

  uint64_t operator()(uint64_t n) const {
    if (divisor == 0) {
      return 0; // HardwareModel rejects a zero vector width before any table is built
    }
    if (n >= (uint64_t(1) << 52)) { // beyond exact doubles: divide
      return n / divisor + (n % divisor != 0);
    }
    // |n * inverse - n / divisor| < 1, so `floor` is off by at most one either way.
    uint64_t floor = uint64_t(double(n) * inverse);
    if (floor * divisor > n) {
      --floor;
    } else if ((floor + 1) * divisor <= n) {
      ++floor;
    }
    return floor + (floor * divisor != n);
  }

private:
  uint64_t divisor;
  double inverse;
};

/// How many messages ahead a walk over scattered protobuf messages asks for memory.
constexpr size_t kPrefetchDistance = 16;

} // namespace

std::string BufferInfo::label() const {
  return proto->name().empty() ? fmt::format("#{}", id) : fmt::format("'{}'", proto->name());
}

BufferTable::BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes) {
  // One pass over the buffer messages (scattered on the heap) that writes each entry once;
  // the rest works on compact arrays. Large schedules do not fit the caches, so every extra
  // pass over the table or the messages costs a trip to memory.
  const size_t count = size_t(schedule.buffers_size());
  buffers.reserve(count);
  std::vector<uint32_t> ids;
  ids.reserve(count);
  std::vector<size_t> views;
  uint32_t maxId = 0;
  const CeilDivider perVector(vectorBytes);
  for (size_t index = 0; index < count; ++index) {
    // The messages and their shape arrays are separate heap blocks: ask for them a few
    // buffers ahead so that the misses overlap instead of stalling one after another.
    if (index + kPrefetchDistance < count) {
      __builtin_prefetch(&schedule.buffers(int(index + kPrefetchDistance)));
    }
    if (index + kPrefetchDistance / 2 < count) {
      __builtin_prefetch(schedule.buffers(int(index + kPrefetchDistance / 2)).shape().data());
    }
    const schedule::Buffer &buffer = schedule.buffers(int(index));
    BufferInfo &info = buffers.emplace_back();
    info.proto = &buffer;
    info.id = buffer.id();
    info.chip = buffer.chip();
    info.kind = buffer.kind();
    info.dtype = buffer.dtype();
    info.address = buffer.address();
    info.sizeBytes = buffer.size_bytes();
    info.aliasOf = buffer.alias_of();
    info.shape = ShapeRef(buffer.shape().data(), size_t(buffer.shape_size()));
    uint64_t elements = 1;
    for (int64_t dim : info.shape) {
      elements *= uint64_t(dim);
    }
    info.elements = elements;
    info.bytes = (elements * dtypeBits(info.dtype) + 7) / 8;
    info.vectors = perVector(info.bytes);
    info.root = index;
    if (info.aliasOf != 0) {
      views.push_back(index);
    }
    ids.push_back(info.id);
    maxId = std::max(maxId, info.id);
  }

  denseIds = uint64_t(maxId) <= 4 * uint64_t(count) + 1024;
  if (denseIds) {
    denseIndex.assign(size_t(maxId) + 1, 0);
    for (size_t index = 0; index < count; ++index) {
      denseIndex[ids[index]] = uint32_t(index);
    }
  } else {
    sparseIndex.reserve(count);
    for (size_t index = 0; index < count; ++index) {
      sparseIndex.emplace(ids[index], uint32_t(index));
    }
  }
  // Validated schedules have no alias cycles, so every chain ends at a non-view buffer.
  for (size_t index : views) {
    size_t root = index;
    while (buffers[root].aliasOf != 0) {
      root = indexOf(buffers[root].aliasOf);
    }
    buffers[index].root = root;
  }
}

} // namespace conveyor::sim
