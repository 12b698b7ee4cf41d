// The buffers of a schedule, resolved once: sizes, storage roots of views, and id lookup.
#pragma once

#include "conveyor/Simulator/TensorShape.h"
#include "conveyor/Support/HugePages.h"
#include "schedule.pb.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace conveyor::sim {

/// One buffer of the table: 64 bytes, one cache line. Large schedules have a buffer per
/// instruction or so, and the checks read an entry per operand, so the entry is kept to the
/// fields they read; the rest stays in the message (`proto`). Filled by BufferTable only.
struct BufferInfo {
  const schedule::Buffer *proto;
  const int64_t *dims; // `rank` dimensions, in the table's own compact array (see BufferTable)
  uint64_t bytes;      // ceil(elements * bits / 8)
  uint64_t vectors;    // ceil(bytes / vectorBytes)
  // Copies of the placement fields, so that whole-table checks stay in this array.
  uint64_t address, sizeBytes;
  uint32_t id, chip;
  /// Index (into BufferTable::all()) of the buffer that owns the storage: itself unless a
  /// view, else the end of the alias_of chain.
  uint32_t root;
  // One byte each: the enums are validated (or the schedule was) before they are stored.
  uint8_t kindValue, dtypeValue;
  uint8_t rank; // at most schedule::kMaxRank
  bool view;    // alias_of != 0

  schedule::BufferKind kind() const { return schedule::BufferKind(kindValue); }
  schedule::DType dtype() const { return schedule::DType(dtypeValue); }
  ShapeRef shape() const { return ShapeRef(dims, rank); }
  /// Product of the dimensions (validated schedules keep it at most 2^56).
  uint64_t elements() const {
    uint64_t product = 1;
    for (uint8_t axis = 0; axis < rank; ++axis) {
      product *= uint64_t(dims[axis]);
    }
    return product;
  }
  bool isView() const { return view; }
  /// "'name'" (or "#id" when unnamed), for messages; built on demand, off the hot path.
  std::string label() const;
  /// "name" (or "#id" when unnamed), unquoted: the activity trace's form.
  std::string traceName() const;
};
static_assert(sizeof(BufferInfo) == 64, "one cache line per buffer (see above)");

class BufferTable {
public:
  /// `schedule` must have passed schedule::validateSchedule (ids exist, no alias cycles);
  /// it must outlive the table, unchanged (BufferInfo::proto points into it). The shapes
  /// are copied into one array of the table: the checks read them per operand, and the
  /// schedule's own shape arrays are scattered on the heap.
  BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes);
  /// The same, also trying rule 4 for an SRAM of `sramBytes` per chip on the same pass, as
  /// decodeValidated does (see placementsFitInOrder).
  BufferTable(const schedule::Schedule &schedule, uint64_t vectorBytes, uint64_t sramBytes);
  // BufferInfo::shape points into this table: moving keeps it valid, copying would not.
  BufferTable(BufferTable &&) = default;
  BufferTable &operator=(BufferTable &&) = default;
  BufferTable(const BufferTable &) = delete;
  BufferTable &operator=(const BufferTable &) = delete;

  /// The same table built in the same single pass over the buffer messages, which also makes
  /// every buffer check of schedule::validateSchedule (ids > 0 and unique, chip exists, kind
  /// and dtype known, shape sane, data size, views: source exists on the same chip, no data,
  /// no cycle, same byte count). nullopt when any of them fails, without saying which: the
  /// caller then runs validateSchedule, which words the message. `schedule` needs no prior
  /// validation. On the same pass it tries rule 4 for an SRAM of `sramBytes` per chip in
  /// the allocation-free form that only accepts placements in address order (see
  /// placementsFitInOrder).
  static std::optional<BufferTable> decodeValidated(const schedule::Schedule &schedule,
                                                    uint64_t vectorBytes, uint64_t sramBytes);

  /// True when decodeValidated built the table and found every buffer within rule 4
  /// (reserved size, inside the SRAM, views inside their root) with the non-view buffers of
  /// each chip in address order without overlap: checkSram would then pass. False says
  /// nothing (checkSram decides).
  bool placementsFitInOrder() const { return sramFitsInOrder; }

  /// Index of buffer `id`, or kMissing when no buffer has that id.
  static constexpr size_t kMissing = ~size_t(0);
  size_t find(uint32_t id) const {
    if (denseIds) {
      return id < denseIndex.size() && denseIndex[id] != kNoIndex ? denseIndex[id] : kMissing;
    }
    auto found = sparseIndex.find(id);
    return found == sparseIndex.end() ? kMissing : found->second;
  }

  std::span<const BufferInfo> all() const { return {buffers.get(), count}; }
  /// Bytes reserved (size_bytes) by the non-view buffers of each chip, indexed by chip (as
  /// long as the highest chip any buffer names, plus one).
  const std::vector<uint64_t> &reservedBytesPerChip() const { return reservedPerChip; }
  /// Index of buffer `id`; the id must exist (validated schedules guarantee it).
  size_t indexOf(uint32_t id) const { return denseIds ? denseIndex[id] : sparseIndex.at(id); }
  const BufferInfo &byIdRef(uint32_t id) const { return buffers[indexOf(id)]; }
  const BufferInfo &at(size_t index) const { return buffers[index]; }

private:
  BufferTable() = default;
  /// Fills the table in one pass; false (the table half-built) when `validate` and a buffer
  /// breaks a reader rule. `tryInOrderFit`: sets placementsFitInOrder for `sramBytes`.
  bool build(const schedule::Schedule &schedule, uint64_t vectorBytes, bool validate,
             uint64_t sramBytes, bool tryInOrderFit);

  static constexpr uint32_t kNoIndex = ~uint32_t(0);
  // Entries are written once each, in place: a std::vector would first clear them all, a
  // separate pass over the whole array (10^6 buffers: 64 MB). Large tables are on huge
  // pages (conveyor/Support/HugePages.h): fewer page faults.
  HugeArray<BufferInfo> buffers;
  size_t count = 0;
  std::vector<int64_t, HugePageAllocator<int64_t>> dims; // every shape, back to back
  std::vector<uint64_t> reservedPerChip;
  bool sramFitsInOrder = false;
  // Id -> index: a flat table when ids are dense (the usual 1..n), else a hash map. Every
  // operand of every instruction is looked up here, so no ordered map.
  bool denseIds = true;
  std::vector<uint32_t, HugePageAllocator<uint32_t>> denseIndex;
  std::unordered_map<uint32_t, uint32_t> sparseIndex;
};

} // namespace conveyor::sim
