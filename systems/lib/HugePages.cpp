#include "conveyor/Support/HugePages.h"

#include <cstdint>
#include <cstdlib>
#include <new>
#include <sys/mman.h>

namespace conveyor {
namespace {

constexpr size_t kPage = 4096;

size_t roundToPages(size_t bytes) { return (bytes + kPage - 1) & ~(kPage - 1); }

} // namespace

void *hugeAlloc(size_t bytes) {
  if (bytes < kHugePageBytes) {
    void *small = std::malloc(bytes == 0 ? 1 : bytes);
    if (small == nullptr) {
      throw std::bad_alloc();
    }
    return small;
  }
  const size_t mapped = roundToPages(bytes) + kHugePageBytes;
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
  const uintptr_t alignedEnd = aligned + roundToPages(bytes);
  if (end > alignedEnd) {
    ::munmap(reinterpret_cast<void *>(alignedEnd), end - alignedEnd);
  }
  ::madvise(reinterpret_cast<void *>(aligned), roundToPages(bytes), MADV_HUGEPAGE);
  return reinterpret_cast<void *>(aligned);
}

void hugeFree(void *memory, size_t bytes) {
  if (memory == nullptr) {
    return;
  }
  if (bytes < kHugePageBytes) {
    std::free(memory);
    return;
  }
  ::munmap(memory, roundToPages(bytes));
}

} // namespace conveyor
