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

/// For a process that simulates one schedule after another (compare, explore, validation,
/// the benchmarks): glibc keeps the heap memory a simulation frees instead of returning the
/// heap's top to the kernel, and serves requests of up to 32 MiB (its largest threshold)
/// from the heap instead of mapping each afresh (mallopt: M_TRIM_THRESHOLD -1,
/// M_MMAP_THRESHOLD 32 MiB). Otherwise whether the next simulation faults its tables in again
/// depends on what the heap held before: a 10^6-instruction fabric simulation repeated on a
/// schedule parsed in memory faulted in ~47 k pages per run and ran at 1.4-1.7 M
/// instructions/s instead of 11 (docs/simulator.md, session 15). Process-wide and permanent;
/// arrays above 32 MiB go through pooledAlloc. Returns false if glibc refused a setting.
bool keepFreedHeapMemory();

/// Like hugeAlloc, but a fresh mapping stays on 4 KiB pages (no MADV_HUGEPAGE): for large
/// arrays that one simulation fills once, front to back, such as the fabric engine's program
/// image and a run's states. Faulting those in as 2 MiB pages made a first simulation slower
/// on the development VM (docs/simulator.md, session 13), while what matters is that a
/// process simulating again reuses them: freed mappings are kept as hugeFree's are
/// (keepFreedHugeMappings), each for a later request of its own kind. Without the pool, glibc maps each such array afresh on every
/// simulation whenever its heap has no free chunk that large (arrays over 32 MiB always),
/// and the next simulation faults the same pages in again.
void *pooledAlloc(size_t bytes);
/// Frees what pooledAlloc(bytes) returned (the same `bytes`). Null is ignored.
void pooledFree(void *memory, size_t bytes);

/// Where a PageAllocator's memory comes from.
struct HugeMappings {
  static void *allocate(size_t bytes) { return hugeAlloc(bytes); }
  static void free(void *memory, size_t bytes) { hugeFree(memory, bytes); }
};
struct PooledMappings {
  static void *allocate(size_t bytes) { return pooledAlloc(bytes); }
  static void free(void *memory, size_t bytes) { pooledFree(memory, bytes); }
};

/// A std::allocator for large vectors, through `Source`'s functions.
template <typename T, typename Source> struct PageAllocator {
  using value_type = T;
  PageAllocator() = default;
  template <typename U> PageAllocator(const PageAllocator<U, Source> &) noexcept {}
  T *allocate(size_t count) { return static_cast<T *>(Source::allocate(count * sizeof(T))); }
  void deallocate(T *memory, size_t count) noexcept { Source::free(memory, count * sizeof(T)); }
  template <typename U> bool operator==(const PageAllocator<U, Source> &) const noexcept {
    return true;
  }
};
template <typename T> using HugePageAllocator = PageAllocator<T, HugeMappings>;
template <typename T> using PooledAllocator = PageAllocator<T, PooledMappings>;

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
