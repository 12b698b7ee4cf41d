// The SRAM address map shared by compiler and simulator (conveyor/System/SramMap.h,
// docs/hardware-model.md "SRAM address map"): vectors interleave over the MEM slices, rows
// alternate banks; spans of byte ranges and whether two spans share a slice.
#include "SystemTestSupport.h"

#include "conveyor/System/SramMap.h"

#include <catch2/catch.hpp>

using namespace conveyor;

TEST_CASE("SRAM map: vectors interleave over the slices, rows alternate banks", "[sram-map]") {
  const system::SramMap map(320, 88, 2);
  CHECK(map.locate(0).slice == 0);
  CHECK(map.locate(319).slice == 0);
  CHECK(map.locate(320).slice == 1);
  const system::SramLocation last = map.locate(87 * 320);
  CHECK(last.slice == 87);
  CHECK(last.row == 0);
  const system::SramLocation wrap = map.locate(88 * 320 + 5);
  CHECK(wrap.vector == 88);
  CHECK(wrap.slice == 0);
  CHECK(wrap.row == 1);
  CHECK(wrap.bank == 1);
  CHECK(map.locate(2 * 88 * 320).bank == 0);
  // The shipped chip's last byte: 230,686,720 B = 720,896 vectors = 8,192 rows of 88.
  const system::SramLocation end = map.locate(230686720 - 1);
  CHECK(end.slice == 87);
  CHECK(end.row == 8191);
  // Beyond 2^32 the map divides the slow way, with the same answers.
  const uint64_t far = (uint64_t(1) << 33) + 640;
  CHECK(map.locate(far).vector == far / 320);
  CHECK(map.locate(far).slice == (far / 320) % 88);

  const system::SliceSpan one = map.span(320, 320);
  CHECK(one.first == 1);
  CHECK(one.count == 1);
  CHECK(one.perSlice == 1);
  const system::SliceSpan straddle = map.span(300, 40); // bytes 300..339: vectors 0 and 1
  CHECK(straddle.first == 0);
  CHECK(straddle.count == 2);
  const system::SliceSpan big = map.span(0, 1000 * 320); // 1000 vectors: ceil(1000/88) = 12
  CHECK(big.count == 88);
  CHECK(big.perSlice == 12);
  CHECK(map.span(0, 0).count == 0);

  uint32_t slice = 99;
  CHECK(map.shareSlice({86, 4, 1}, {1, 1, 1}, slice)); // 86, 87, 0, 1 wrap round
  CHECK(slice == 1);
  CHECK_FALSE(map.shareSlice({86, 4, 1}, {2, 10, 1}, slice));
  CHECK_FALSE(map.shareSlice({2, 10, 1}, {86, 4, 1}, slice));
  CHECK(map.shareSlice({1, 10, 1}, {86, 4, 1}, slice));
  CHECK(slice == 1);
}

TEST_CASE("SRAM map: built from the shipped chip's YAML fields", "[sram-map]") {
  auto loaded = system::loadSystemConfig(system::test::shippedPath("groq-1.yaml"));
  REQUIRE(loaded.ok());
  const system::SystemConfig &config = *loaded;
  const system::SramMap map(config.chip);
  CHECK(map.vectorBytes() == 320);
  CHECK(map.slices() == 88);
  CHECK(map.banksPerSlice() == 2);
  // Every slice holds bytes_per_slice / vector_bytes rows of one vector.
  const uint64_t rows = config.chip.mem.bytesPerSlice / config.chip.vectorBytes;
  CHECK(map.locate(config.chip.sramBytes() - 1).row == rows - 1);
}

TEST_CASE("SRAM map: degenerate fields do not divide by zero", "[sram-map]") {
  const system::SramMap map(0, 0, 0); // a chip built in code, not validated
  CHECK(map.locate(1000).slice == 0);
  CHECK(map.span(5, 10).count == 1);
}
