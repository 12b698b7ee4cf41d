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
constexpr size_t kPrefetchDistance = 32;
/// The reader's limit on a tensor's element count (ScheduleFormat.cpp kMaxElements).
constexpr uint64_t kMaxElements = uint64_t(1) << 56;

} // namespace

std::string BufferInfo::label() const {
  return proto->name().empty() ? fmt::format("#{}", id) : fmt::format("'{}'", proto->name());
}

BufferTable::BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes) {
  build(schedule, vectorBytes, /*validate=*/false, /*sramBytes=*/0);
}

std::optional<BufferTable> BufferTable::decodeValidated(const schedule::Schedule &schedule,
                                                        uint64_t vectorBytes,
                                                        uint64_t sramBytes) {
  BufferTable table;
  if (!table.build(schedule, vectorBytes, /*validate=*/true, sramBytes)) {
    return std::nullopt;
  }
  return table;
}

bool BufferTable::build(const schedule::Schedule &schedule, uint64_t vectorBytes, bool validate,
                        uint64_t sramBytes) {
  // One pass over the buffer messages (scattered on the heap) that writes each entry once;
  // the rest works on compact arrays. Large schedules do not fit the caches, so every extra
  // pass over the table or the messages costs a trip to memory.
  const size_t count = size_t(schedule.buffers_size());
  const uint32_t chips = schedule.system().chips();
  // Sized once, each entry a copy of a blank one: one pass of plain stores (value-initialising
  // them instead compiles to a short `rep stos` per entry, several times slower), then each
  // entry is filled in place.
  buffers.assign(count, BufferInfo{});
  dims.reserve(2 * count + 16);
  std::vector<uint32_t> ids(count); // compact, for the id index below
  std::vector<size_t> views;
  uint32_t maxId = 0;
  const CeilDivider perVector(vectorBytes);
  // Rule 4 in address order (ScheduleChecker.cpp sramFitsInOrder, on the same records while
  // they are in the cache): the end of the last non-empty root placement on each chip.
  sramFitsInOrder = validate;
  std::vector<uint64_t> lastEnd(validate ? size_t(chips) : 0, 0);
  for (size_t index = 0; index < count; ++index) {
    // The messages and their shape arrays are separate heap blocks: ask for them a few
    // buffers ahead so that the misses overlap instead of stalling one after another.
    if (index + kPrefetchDistance < count) {
      const char *ahead =
          reinterpret_cast<const char *>(&schedule.buffers(int(index + kPrefetchDistance)));
      for (size_t offset = 0; offset < sizeof(schedule::Buffer); offset += 64) {
        __builtin_prefetch(ahead + offset);
      }
    }
    if (index + kPrefetchDistance / 2 < count) {
      __builtin_prefetch(schedule.buffers(int(index + kPrefetchDistance / 2)).shape().data());
    }
    const schedule::Buffer &buffer = schedule.buffers(int(index));
    BufferInfo &info = buffers[index];
    info.proto = &buffer;
    info.id = buffer.id();
    info.chip = buffer.chip();
    info.kind = buffer.kind();
    info.dtype = buffer.dtype();
    info.address = buffer.address();
    info.sizeBytes = buffer.size_bytes();
    info.aliasOf = buffer.alias_of();
    const size_t rank = size_t(buffer.shape_size());
    if (dims.size() + rank > dims.capacity()) {
      // Growing moves the array: point the shapes taken so far at the new one.
      const int64_t *before = dims.data();
      dims.reserve(2 * (dims.size() + rank));
      for (size_t earlier = 0; earlier < index; ++earlier) {
        ShapeRef &shape = buffers[earlier].shape;
        shape = ShapeRef(dims.data() + (shape.data() - before), shape.size());
      }
    }
    const size_t offset = dims.size();
    for (int64_t dim : buffer.shape()) { // a loop: ranks are small, a memmove call is not
      dims.push_back(dim);
    }
    info.shape = ShapeRef(dims.data() + offset, rank);
    uint64_t elements = 1;
    if (validate) {
      // The reader's buffer rules (ScheduleFormat.cpp validateStructure), as booleans.
      if (info.id == 0 || info.chip >= chips || !schedule::BufferKind_IsValid(info.kind) ||
          info.kind == schedule::BUFFER_KIND_UNSPECIFIED ||
          !schedule::DType_IsValid(info.dtype) || info.dtype == schedule::DTYPE_UNSPECIFIED) {
        return false;
      }
      for (int64_t dim : info.shape) {
        if (dim < 0 || (unsigned __int128)elements * uint64_t(dim) > kMaxElements) {
          return false;
        }
        elements *= uint64_t(dim);
      }
    } else {
      for (int64_t dim : info.shape) {
        elements *= uint64_t(dim);
      }
    }
    info.elements = elements;
    info.bytes = (elements * dtypeBits(info.dtype) + 7) / 8;
    if (validate && !buffer.data().empty() &&
        (info.aliasOf != 0 || buffer.data().size() != info.bytes)) {
      return false; // wrong data size, or a view with data of its own
    }
    info.vectors = perVector(info.bytes);
    info.root = index;
    if (sramFitsInOrder) { // validated: chip < chips
      if (info.sizeBytes < info.bytes || info.address > sramBytes ||
          info.sizeBytes > sramBytes - info.address) {
        sramFitsInOrder = false;
      } else if (info.aliasOf == 0 && info.sizeBytes > 0) {
        if (info.address < lastEnd[info.chip]) {
          sramFitsInOrder = false; // out of order, or overlapping the previous placement
        } else {
          lastEnd[info.chip] = info.address + info.sizeBytes;
        }
      }
    }
    if (info.aliasOf != 0) {
      views.push_back(index);
    } else {
      if (info.chip >= reservedPerChip.size()) {
        reservedPerChip.resize(size_t(info.chip) + 1, 0); // chip < chips once validated
      }
      reservedPerChip[info.chip] += info.sizeBytes;
    }
    ids[index] = info.id;
    maxId = std::max(maxId, info.id);
  }

  denseIds = uint64_t(maxId) <= 4 * uint64_t(count) + 1024;
  if (denseIds) {
    denseIndex.assign(size_t(maxId) + 1, kNoIndex);
    for (size_t index = 0; index < count; ++index) {
      uint32_t &slot = denseIndex[ids[index]];
      if (validate && slot != kNoIndex) {
        return false; // duplicate id
      }
      slot = uint32_t(index);
    }
  } else {
    sparseIndex.reserve(count);
    for (size_t index = 0; index < count; ++index) {
      if (!sparseIndex.emplace(ids[index], uint32_t(index)).second && validate) {
        return false;
      }
    }
  }
  // Validated schedules have no alias cycles, so every chain ends at a non-view buffer.
  for (size_t index : views) {
    size_t root = index;
    if (validate) {
      const size_t source = find(buffers[index].aliasOf);
      if (source == kMissing || buffers[source].chip != buffers[index].chip ||
          buffers[source].bytes != buffers[index].bytes) {
        return false;
      }
      // A chain longer than the buffer count revisits a buffer: a cycle.
      for (size_t steps = 0; buffers[root].aliasOf != 0; ++steps) {
        const size_t next = find(buffers[root].aliasOf);
        if (next == kMissing || steps >= count) {
          return false;
        }
        root = next;
      }
      // A view must lie inside its root's reservation (rule 4).
      const BufferInfo &view = buffers[index], &storage = buffers[root];
      if (view.address < storage.address ||
          view.address + view.bytes > storage.address + storage.sizeBytes) {
        sramFitsInOrder = false;
      }
    } else {
      while (buffers[root].aliasOf != 0) {
        root = indexOf(buffers[root].aliasOf);
      }
    }
    buffers[index].root = root;
  }
  return true;
}

} // namespace conveyor::sim
