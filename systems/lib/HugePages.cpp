#include "conveyor/Support/HugePages.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <malloc.h>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <vector>

namespace conveyor {
namespace {

constexpr size_t kPage = 4096;

size_t roundToPages(size_t bytes) { return (bytes + kPage - 1) & ~(kPage - 1); }

/// A fresh 2 MiB-aligned anonymous mapping of `bytes` (a multiple of the page), marked for
/// huge pages.
void *mapAligned(size_t bytes) {
  const size_t mapped = bytes + kHugePageBytes;
  void *raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    throw std::bad_alloc();
  }
  // Keep the 2 MiB-aligned part: huge pages need aligned addresses.
  const auto begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + kHugePageBytes - 1) & ~uintptr_t(kHugePageBytes - 1);
  if (aligned > begin) {
    ::munmap(raw, aligned - begin);
  }
  const uintptr_t end = begin + mapped;
  const uintptr_t alignedEnd = aligned + bytes;
  if (end > alignedEnd) {
    ::munmap(reinterpret_cast<void *>(alignedEnd), end - alignedEnd);
  }
  ::madvise(reinterpret_cast<void *>(aligned), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<void *>(aligned);
}

/// Mappings freed by hugeFree or pooledFree, kept for the next request of about their size
/// and of the same kind (marked for huge pages or not) instead of unmapped (see HugePages.h:
/// a sweep simulates one schedule after another, and each would otherwise fault in and clear
/// the same hundreds of megabytes again). Bounded in count and bytes; the oldest is unmapped
/// first. `lent` records the true size of every mapping given out from the pool, since the
/// caller frees with the size it asked for.
class MappingPool {
public:
  void *take(size_t bytes, bool huge) {
    std::lock_guard<std::mutex> lock(mutex);
    // The smallest kept mapping of the kind that holds `bytes` without wasting more than half
    // of it.
    auto best = kept.end();
    for (auto it = kept.begin(); it != kept.end(); ++it) {
      if (it->huge == huge && it->bytes >= bytes && it->bytes / 2 <= bytes &&
          (best == kept.end() || it->bytes < best->bytes)) {
        best = it;
      }
    }
    if (best == kept.end()) {
      return nullptr;
    }
    const Mapping found = *best;
    kept.erase(best);
    lent.push_back(found);
    return found.memory;
  }

  void setKeeping(bool keep) {
    std::lock_guard<std::mutex> lock(mutex);
    keeping = keep;
    if (!keep) {
      unmapOldestUntil([&] { return kept.empty(); });
    }
  }

  /// Keeps the mapping at `memory` (asked for as `bytes`, page-rounded; marked for huge pages
  /// or not) or unmaps it.
  void give(void *memory, size_t bytes, bool huge) {
    std::lock_guard<std::mutex> lock(mutex);
    Mapping mapping{memory, bytes, huge};
    auto wasLent = std::find_if(lent.begin(), lent.end(),
                                [&](const Mapping &m) { return m.memory == memory; });
    if (wasLent != lent.end()) {
      mapping = *wasLent;
      *wasLent = lent.back();
      lent.pop_back();
    }
    if (!keeping || mapping.bytes > kMaxKeptBytes) {
      ::munmap(mapping.memory, mapping.bytes);
      return;
    }
    unmapOldestUntil([&] {
      size_t keptBytes = 0;
      for (const Mapping &held : kept) {
        keptBytes += held.bytes;
      }
      return kept.size() < kMaxKept && keptBytes + mapping.bytes <= kMaxKeptBytes;
    });
    kept.push_back(mapping);
  }

private:
  struct Mapping {
    void *memory;
    size_t bytes;
    bool huge; // MADV_HUGEPAGE (hugeAlloc) or not (pooledAlloc)
  };
  // Enough for the largest tables of a 10^6-instruction simulation several times over; the
  // process keeps at most this much mapped between simulations.
  static constexpr size_t kMaxKept = 32;
  static constexpr size_t kMaxKeptBytes = size_t(1) << 30;
  std::mutex mutex;
  std::vector<Mapping> kept; // oldest first
  std::vector<Mapping> lent;
  bool keeping = true;

  /// Unmaps kept mappings, oldest first, until `enough` holds (or none is left).
  template <typename Enough> void unmapOldestUntil(Enough enough) {
    while (!kept.empty() && !enough()) {
      ::munmap(kept.front().memory, kept.front().bytes);
      kept.erase(kept.begin());
    }
  }
};

MappingPool &pool() {
  // Never destroyed: vectors on huge pages may be freed by static destructors after it.
  static MappingPool *const instance = new MappingPool();
  return *instance;
}

/// hugeAlloc and pooledAlloc: small requests from malloc; large ones from the pool, else a
/// fresh mapping, marked for huge pages (`huge`) or left on 4 KiB pages.
void *acquire(size_t bytes, bool huge) {
  if (bytes < kHugePageBytes) {
    void *small = std::malloc(bytes == 0 ? 1 : bytes);
    if (small == nullptr) {
      throw std::bad_alloc();
    }
    return small;
  }
  const size_t rounded = roundToPages(bytes);
  if (void *reused = pool().take(rounded, huge)) {
    return reused;
  }
  if (huge) {
    return mapAligned(rounded);
  }
  void *fresh =
      ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fresh == MAP_FAILED) {
    throw std::bad_alloc();
  }
  return fresh;
}

/// hugeFree and pooledFree: small requests came from malloc, large ones go to the pool.
void release(void *memory, size_t bytes, bool huge) {
  if (memory == nullptr) {
    return;
  }
  if (bytes < kHugePageBytes) {
    std::free(memory);
    return;
  }
  pool().give(memory, roundToPages(bytes), huge);
}

} // namespace

void *hugeAlloc(size_t bytes) { return acquire(bytes, true); }

void *pooledAlloc(size_t bytes) { return acquire(bytes, false); }

void pooledFree(void *memory, size_t bytes) { release(memory, bytes, false); }

void keepFreedHugeMappings(bool keep) { pool().setKeeping(keep); }

bool keepFreedHeapMemory() {
  // glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX); setting either
  // value also stops glibc from moving the thresholds itself.
  constexpr int kLargestMmapThreshold = 32 << 20;
  const bool trim = ::mallopt(M_TRIM_THRESHOLD, -1) == 1;
  const bool mmap = ::mallopt(M_MMAP_THRESHOLD, kLargestMmapThreshold) == 1;
  return trim && mmap;
}

void hugeFree(void *memory, size_t bytes) { release(memory, bytes, true); }

} // namespace conveyor
