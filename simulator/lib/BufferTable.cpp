// Resolves a schedule's buffers once: byte and vector counts, view roots, id lookup.
#include "conveyor/Simulator/BufferTable.h"

#include "conveyor/Schedule/ScheduleFormat.h"
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
// The enums are checked as ranges 1..MAX and kept in a byte each, the rank too. DType's
// values are pinned where dtypeBits reads them (HardwareModel.h); BufferKind's here.
static_assert(schedule::BUFFER_KIND_UNSPECIFIED == 0 && schedule::WEIGHT == 1 &&
              schedule::INPUT == 2 && schedule::OUTPUT == 3 && schedule::ACTIVATION == 4 &&
              schedule::KV_CACHE == 5 && schedule::BufferKind_MAX == 5);
static_assert(schedule::kMaxRank <= 255);

/// The reader's limit on a tensor's element count (ScheduleFormat.cpp kMaxElements).
constexpr uint64_t kMaxElements = uint64_t(1) << 56;

} // namespace

std::string BufferInfo::label() const {
  return proto->name().empty() ? fmt::format("#{}", id) : fmt::format("'{}'", proto->name());
}

std::string BufferInfo::traceName() const {
  return proto->name().empty() ? fmt::format("#{}", id) : proto->name();
}

BufferTable::BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes) {
  build(schedule, vectorBytes, /*validate=*/false, /*sramBytes=*/0, /*tryInOrderFit=*/false);
}

BufferTable::BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes,
                         uint64_t sramBytes) {
  build(schedule, vectorBytes, /*validate=*/false, sramBytes, /*tryInOrderFit=*/true);
}

std::optional<BufferTable> BufferTable::decodeValidated(const schedule::Schedule &schedule,
                                                        uint64_t vectorBytes,
                                                        uint64_t sramBytes) {
  BufferTable table;
  if (!table.build(schedule, vectorBytes, /*validate=*/true, sramBytes,
                   /*tryInOrderFit=*/true)) {
    return std::nullopt;
  }
  return table;
}

bool BufferTable::build(const schedule::Schedule &schedule, uint64_t vectorBytes, bool validate,
                        uint64_t sramBytes, bool tryInOrderFit) {
  // One pass over the buffer messages (scattered on the heap) that writes each entry once;
  // the rest works on compact arrays. Large schedules do not fit the caches, so every extra
  // pass over the table or the messages costs a trip to memory.
  count = size_t(schedule.buffers_size());
  const uint32_t chips = schedule.system().chips();
  // Left uninitialised: each entry is written whole, once, in the loop below (clearing the
  // array first would be one more pass over it, and fresh pages to fault in twice as long).
  buffers = hugeArrayForOverwrite<BufferInfo>(count);
  dims.reserve(2 * count + 16);
  std::vector<uint32_t, HugePageAllocator<uint32_t>> ids(count); // compact, for the index
  std::vector<std::pair<uint32_t, uint32_t>> views; // (index, alias_of) of each view
  uint32_t maxId = 0;
  const CeilDivider perVector(vectorBytes);
  // Rule 4 in address order (ScheduleChecker.cpp sramFitsInOrder, on the same records while
  // they are in the cache): the end of the last non-empty root placement on each chip.
  sramFitsInOrder = tryInOrderFit;
  std::vector<uint64_t> lastEnd(tryInOrderFit ? size_t(chips) : 0, 0);
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
    const int kind = buffer.kind(), dtype = buffer.dtype();
    const uint32_t id = buffer.id(), chip = buffer.chip(), aliasOf = buffer.alias_of();
    const int rank = buffer.shape_size();
    if (validate &&
        (id == 0 || chip >= chips || rank > schedule::kMaxRank ||
         // The reader's enum checks (IsValid and not UNSPECIFIED) as ranges: both enums
         // are 0..MAX without gaps (asserted above).
         uint32_t(kind) - 1 >= uint32_t(schedule::BufferKind_MAX) ||
         uint32_t(dtype) - 1 >= uint32_t(schedule::DType_MAX))) {
      return false;
    }
    if (dims.size() + size_t(rank) > dims.capacity()) {
      // Growing moves the array: point the shapes taken so far at the new one.
      const int64_t *before = dims.data();
      dims.reserve(2 * (dims.size() + size_t(rank)));
      for (size_t earlier = 0; earlier < index; ++earlier) {
        buffers[earlier].dims = dims.data() + (buffers[earlier].dims - before);
      }
    }
    const size_t offset = dims.size();
    uint64_t elements = 1;
    bool overflow = false;
    for (int64_t dim : buffer.shape()) { // a loop: ranks are small, a memmove call is not
      dims.push_back(dim);
      // The reader's limits, checked as the product grows: no dimension below 0, at most
      // 2^56 elements (unvalidated input is already known to keep both).
      overflow |= dim < 0 || __builtin_mul_overflow(elements, uint64_t(dim), &elements) ||
                  elements > kMaxElements;
    }
    if (validate && overflow) {
      return false;
    }
    const uint64_t bytes = (elements * dtypeBits(schedule::DType(dtype)) + 7) / 8;
    if (validate && !buffer.data().empty() &&
        (aliasOf != 0 || buffer.data().size() != bytes)) {
      return false; // wrong data size, or a view with data of its own
    }
    const uint64_t address = buffer.address(), sizeBytes = buffer.size_bytes();
    // The whole entry in one go, in field order.
    BufferInfo &info = buffers[index];
    info.proto = &buffer;
    info.dims = dims.data() + offset;
    info.bytes = bytes;
    info.vectors = perVector(bytes);
    info.address = address;
    info.sizeBytes = sizeBytes;
    info.id = id;
    info.chip = chip;
    info.root = uint32_t(index);
    info.kindValue = uint8_t(kind);
    info.dtypeValue = uint8_t(dtype);
    info.rank = uint8_t(rank);
    info.view = aliasOf != 0;
    if (sramFitsInOrder) { // validated (here or by the reader): chip < chips
      if (chip >= lastEnd.size() || sizeBytes < bytes || address > sramBytes ||
          sizeBytes > sramBytes - address) {
        sramFitsInOrder = false;
      } else if (aliasOf == 0 && sizeBytes > 0) {
        if (address < lastEnd[chip]) {
          sramFitsInOrder = false; // out of order, or overlapping the previous placement
        } else {
          lastEnd[chip] = address + sizeBytes;
        }
      }
    }
    if (aliasOf != 0) {
      views.emplace_back(uint32_t(index), aliasOf);
    } else {
      if (chip >= reservedPerChip.size()) {
        reservedPerChip.resize(size_t(chip) + 1, 0); // chip < chips once validated
      }
      reservedPerChip[chip] += sizeBytes;
    }
    ids[index] = id;
    maxId = std::max(maxId, id);
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
  // A view's alias_of is in `views`; the message is read again only for chains of views.
  auto aliasOf = [&](size_t index) { return buffers[index].proto->alias_of(); };
  for (const auto [index, source] : views) {
    size_t root = validate ? find(source) : indexOf(source);
    if (validate) {
      if (root == kMissing || buffers[root].chip != buffers[index].chip ||
          buffers[root].bytes != buffers[index].bytes) {
        return false;
      }
      // A chain longer than the buffer count revisits a buffer: a cycle.
      for (size_t steps = 0; buffers[root].view; ++steps) {
        const size_t next = find(aliasOf(root));
        if (next == kMissing || steps >= count) {
          return false;
        }
        root = next;
      }
    } else {
      while (buffers[root].view) {
        root = indexOf(aliasOf(root));
      }
    }
    // A view must lie inside its root's reservation (rule 4).
    const BufferInfo &view = buffers[index], &storage = buffers[root];
    if (sramFitsInOrder && (view.address < storage.address ||
                            view.address + view.bytes > storage.address + storage.sizeBytes)) {
      sramFitsInOrder = false;
    }
    buffers[index].root = uint32_t(root);
  }
  return true;
}

} // namespace conveyor::sim
