// hugeAlloc / hugeFree / HugePageAllocator, pooledAlloc, keepFreedHeapMemory
// (conveyor/Support/HugePages.h).
#include "conveyor/Support/HugePages.h"

#include <catch2/catch.hpp>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <malloc.h>
#include <string>
#include <sys/mman.h>
#include <vector>

using namespace conveyor;

TEST_CASE("hugeAlloc gives 2 MiB-aligned writable memory for large requests", "[hugepages]") {
  const size_t bytes = kHugePageBytes + 12345; // not a multiple of any page size
  auto *memory = static_cast<unsigned char *>(hugeAlloc(bytes));
  REQUIRE(memory != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(memory) % kHugePageBytes == 0);
  std::memset(memory, 0xab, bytes); // every byte is there
  CHECK(memory[0] == 0xab);
  CHECK(memory[bytes - 1] == 0xab);
  hugeFree(memory, bytes);
  // Small requests come from malloc, and free the same way.
  auto *small = static_cast<unsigned char *>(hugeAlloc(100));
  REQUIRE(small != nullptr);
  std::memset(small, 1, 100);
  hugeFree(small, 100);
  hugeFree(nullptr, bytes);
}

TEST_CASE("a vector on HugePageAllocator grows through both sizes and keeps its values",
          "[hugepages]") {
  std::vector<uint64_t, HugePageAllocator<uint64_t>> values;
  for (uint64_t i = 0; i < 1000000; ++i) { // 8 MB: from malloc'd to mapped on the way
    values.push_back(i * 3);
  }
  uint64_t sum = 0;
  for (uint64_t value : values) {
    sum += value;
  }
  CHECK(sum == 3 * (uint64_t(999999) * 1000000 / 2));
  values.shrink_to_fit();
  values.resize(10);
  values.shrink_to_fit();
  CHECK(values[9] == 27);
}

TEST_CASE("a HugeArray holds what is written to it, large or small, and frees itself",
          "[hugepages]") {
  struct Entry {
    uint64_t a;
    uint32_t b;
  };
  for (size_t count : {size_t(0), size_t(7), size_t(300000)}) { // 0, tiny, 4.8 MB
    HugeArray<Entry> entries = hugeArrayForOverwrite<Entry>(count);
    REQUIRE(entries != nullptr);
    CHECK(entries.get_deleter().bytes == count * sizeof(Entry));
    for (size_t i = 0; i < count; ++i) {
      entries[i] = {i * 5, uint32_t(i)};
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < count; ++i) {
      sum += entries[i].a + entries[i].b;
    }
    CHECK(sum == (count == 0 ? 0 : 6 * (uint64_t(count - 1) * count / 2)));
  }
}

TEST_CASE("freed mappings are reused by the next request of about their size, at their true "
          "size",
          "[hugepages]") {
  // An empty pool (turning keeping off unmaps what other tests left), then sizes no other
  // test asks for: each request below has one candidate at most.
  keepFreedHugeMappings(false);
  keepFreedHugeMappings(true);
  const size_t large = 10 * kHugePageBytes + 3 * 4096, smaller = 6 * kHugePageBytes + 4096;
  auto *first = static_cast<unsigned char *>(hugeAlloc(large));
  std::memset(first, 0x5a, large);
  hugeFree(first, large);
  // A request of more than half the kept mapping takes it, whole.
  auto *second = static_cast<unsigned char *>(hugeAlloc(smaller));
  CHECK(second == first);
  std::memset(second, 0x11, smaller);
  // Freed with the size it was asked for, it goes back at the size it has: a request for the
  // larger size finds it again, and every byte of it is there.
  hugeFree(second, smaller);
  auto *third = static_cast<unsigned char *>(hugeAlloc(large));
  CHECK(third == first);
  std::memset(third, 0x22, large);
  CHECK(third[large - 1] == 0x22);
  // Kept again, it is not given to a request of less than half its size (which gets other
  // memory; the kept mapping is still mapped, so no fresh mapping can land on it).
  hugeFree(third, large);
  auto *small = static_cast<unsigned char *>(hugeAlloc(2 * kHugePageBytes));
  CHECK(small != first);
  std::memset(small, 0x33, 2 * kHugePageBytes);
  hugeFree(small, 2 * kHugePageBytes);
}

TEST_CASE("with keeping off, freed mappings are unmapped at once; on, they stay mapped",
          "[hugepages]") {
  // mincore(2) fails with ENOMEM on an address range that is not mapped.
  auto mapped = [](void *memory, size_t bytes) {
    std::vector<unsigned char> pages((bytes + 4095) / 4096);
    return ::mincore(memory, bytes, pages.data()) == 0;
  };
  const size_t bytes = 5 * kHugePageBytes + 7 * 4096;
  void *kept = hugeAlloc(bytes);
  std::memset(kept, 1, bytes);
  hugeFree(kept, bytes);
  CHECK(mapped(kept, bytes)); // kept for the next request (on by default)
  keepFreedHugeMappings(false);
  CHECK_FALSE(mapped(kept, bytes)); // turning it off unmaps what was kept
  void *dropped = hugeAlloc(bytes);
  std::memset(dropped, 2, bytes);
  hugeFree(dropped, bytes);
  CHECK_FALSE(mapped(dropped, bytes));
  keepFreedHugeMappings(true);
}

TEST_CASE("the pool keeps at most 32 mappings and 1 GiB, unmapping the oldest first",
          "[hugepages]") {
  auto mapped = [](void *memory, size_t bytes) {
    std::vector<unsigned char> pages((bytes + 4095) / 4096);
    return ::mincore(memory, bytes, pages.data()) == 0;
  };
  // An empty pool; the mappings below are never touched, so they cost address space only.
  keepFreedHugeMappings(false);
  keepFreedHugeMappings(true);
  SECTION("count") {
    const size_t bytes = kHugePageBytes + 4096;
    std::vector<void *> blocks;
    for (int i = 0; i < 33; ++i) {
      blocks.push_back(hugeAlloc(bytes));
    }
    for (void *block : blocks) {
      hugeFree(block, bytes);
    }
    CHECK_FALSE(mapped(blocks[0], bytes)); // the 33rd pushed the oldest out
    for (size_t i = 1; i < blocks.size(); ++i) {
      CHECK(mapped(blocks[i], bytes));
    }
  }
  SECTION("bytes") {
    const size_t bytes = size_t(400) << 20;
    void *first = hugeAlloc(bytes), *second = hugeAlloc(bytes), *third = hugeAlloc(bytes);
    hugeFree(first, bytes);
    hugeFree(second, bytes);
    CHECK(mapped(first, bytes));
    hugeFree(third, bytes); // 1,200 MiB would pass the 1 GiB: the oldest goes
    CHECK_FALSE(mapped(first, bytes));
    CHECK(mapped(second, bytes));
    CHECK(mapped(third, bytes));
    // A mapping larger than the whole allowance is unmapped at once; the kept ones stay.
    const size_t huge = (size_t(3) << 30) / 2;
    void *whole = hugeAlloc(huge);
    hugeFree(whole, huge);
    CHECK_FALSE(mapped(whole, huge));
    CHECK(mapped(second, bytes));
  }
  keepFreedHugeMappings(false);
  keepFreedHugeMappings(true);
}

namespace {
/// The VmFlags of the mapping that holds `address`, from /proc/self/smaps ("" if none).
std::string vmFlagsAt(const void *address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " ", &begin, &end) == 2 &&
        line.find(':') > line.find(' ')) {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}
} // namespace

TEST_CASE("pooledAlloc maps large requests on ordinary pages and takes freed mappings from "
          "the pool",
          "[hugepages]") {
  keepFreedHugeMappings(false); // an empty pool
  keepFreedHugeMappings(true);
  const size_t bytes = 9 * kHugePageBytes + 5 * 4096;
  auto *first = static_cast<unsigned char *>(pooledAlloc(bytes));
  std::memset(first, 0x44, bytes);
  // Not marked for huge pages ("hg"), unlike hugeAlloc's mappings.
  const std::string flags = vmFlagsAt(first);
  REQUIRE(!flags.empty());
  CHECK(flags.find(" hg") == std::string::npos);
  void *huge = hugeAlloc(bytes);
  CHECK(vmFlagsAt(huge).find(" hg") != std::string::npos);
  // Freed, both are kept, each for a request of its own kind: the next pooledAlloc of the
  // size gets its mapping back with its pages (not the older huge one), hugeAlloc the other.
  hugeFree(huge, bytes);
  pooledFree(first, bytes);
  auto *second = static_cast<unsigned char *>(pooledAlloc(bytes));
  CHECK(second == first);
  CHECK(second[bytes - 1] == 0x44);
  void *hugeAgain = hugeAlloc(bytes);
  CHECK(hugeAgain == huge);
  hugeFree(hugeAgain, bytes);
  pooledFree(second, bytes);
  // Small requests come from malloc.
  auto *small = static_cast<unsigned char *>(pooledAlloc(64));
  std::memset(small, 1, 64);
  pooledFree(small, 64);
  pooledFree(nullptr, bytes);
  keepFreedHugeMappings(false);
  keepFreedHugeMappings(true);
}

TEST_CASE("keepFreedHeapMemory serves blocks up to 32 MiB from the heap and keeps them when "
          "freed",
          "[hugepages]") {
  REQUIRE(keepFreedHeapMemory());
  const size_t bytes = size_t(24) << 20;
  const size_t mappedBefore = mallinfo2().hblkhd; // bytes in blocks glibc mapped on their own
  auto *block = static_cast<unsigned char *>(std::malloc(bytes));
  REQUIRE(block != nullptr);
  std::memset(block, 0x66, bytes);
  CHECK(mallinfo2().hblkhd == mappedBefore); // from the heap, not a mapping of its own
  std::free(block);
  // The heap's top is not given back to the kernel: what was freed is there for the next.
  CHECK(mallinfo2().keepcost >= bytes);
}
