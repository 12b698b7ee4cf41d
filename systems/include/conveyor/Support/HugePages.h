// Memory for large, short-lived buffers on transparent huge pages: a schedule's protobuf
// arena blocks, the buffer table, the fabric engine's transfer records and pairing tables, the
// reader's per-buffer facts. On the development VM a
// 4 KiB page fault costs microseconds (paravirtualised), and a large multi-chip schedule
// touches hundreds of megabytes of fresh memory; 2 MiB pages take 512 times fewer faults.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

namespace conveyor {

/// Requests of at least this many bytes get an anonymous mapping aligned to 2 MiB and
/// marked MADV_HUGEPAGE (a hint: the kernel may ignore it; Debian's default THP mode,
/// "madvise", honours it); smaller ones go to malloc. Throws std::bad_alloc on failure.
inline constexpr size_t kHugePageBytes = size_t(2) << 20;
void *hugeAlloc(size_t bytes);
/// Frees what hugeAlloc(bytes) returned (the same `bytes`). Null is ignored.
void hugeFree(void *memory, size_t bytes);

/// Whether hugeFree keeps freed mappings (at most 32, 1 GiB in all) for the next hugeAlloc
/// of about their size, instead of unmapping them. On by default: a process that simulates
/// one schedule after another (a sweep, the benchmarks) then stops faulting in and clearing
/// the same tables every time (on the paravirtualised development VM a fifth of a repeated
/// 10^6-instruction fabric simulation: 145 -> 117 ms, docs/simulator.md "Speed").
/// A process that simulates once gains nothing and would only hold the memory longer (its
/// peak resident set grows by what it freed and did not ask for again): `conveyor simulate`
/// turns it off. Turning it off unmaps what is kept.
void keepFreedHugeMappings(bool keep);

/// A std::allocator for large vectors, through hugeAlloc.
template <typename T> struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U> HugePageAllocator(const HugePageAllocator<U> &) noexcept {}
  T *allocate(size_t count) { return static_cast<T *>(hugeAlloc(count * sizeof(T))); }
  void deallocate(T *memory, size_t count) noexcept { hugeFree(memory, count * sizeof(T)); }
  template <typename U> bool operator==(const HugePageAllocator<U> &) const noexcept {
    return true;
  }
};

/// An array that hugeAlloc gave, for trivial element types written before they are read
/// (no clearing pass over fresh memory), freed whole.
template <typename T> struct HugeArrayFree {
  size_t bytes = 0;
  void operator()(T *memory) const noexcept { hugeFree(memory, bytes); }
};
template <typename T> using HugeArray = std::unique_ptr<T[], HugeArrayFree<T>>;
template <typename T> HugeArray<T> hugeArrayForOverwrite(size_t count) {
  static_assert(std::is_trivially_default_constructible_v<T> &&
                std::is_trivially_destructible_v<T>);
  const size_t bytes = count * sizeof(T);
  return HugeArray<T>(static_cast<T *>(hugeAlloc(bytes)), HugeArrayFree<T>{bytes});
}

} // namespace conveyor
