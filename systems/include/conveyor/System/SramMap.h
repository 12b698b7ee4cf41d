// Where an SRAM byte address lives on a chip: vector, MEM slice, row and bank.
//
// Shared by the compiler (allocation, --explain) and the simulator (the MEM port check),
// derived from the system description alone (chip.vector_bytes, chip.mem.slices,
// chip.mem.banks_per_slice). The map is vector-interleaved (docs/hardware-model.md
// "SRAM address map"): consecutive 320-byte vectors sit on consecutive MEM slices, so a
// tensor streams from as many slices at once as it has vectors (up to all of them).
//
//   vector v = address / vector_bytes
//   slice    = v % slices               (TSP: 88 = 2 hemispheres x 44; G1)
//   row      = v / slices               (TSP: 8,192 rows of one vector per slice; X)
//   bank     = row % banks_per_slice    (TSP: 2, pseudo-dual-port; G1)
#pragma once

#include "conveyor/System/SystemConfig.h"

#include <algorithm>
#include <cstdint>

namespace conveyor::system {

struct SramLocation {
  uint64_t vector = 0;
  uint32_t slice = 0;
  uint64_t row = 0;
  uint32_t bank = 0;
};

/// The MEM slices a byte range touches: `count` consecutive slices (modulo the slice count)
/// from `first`, with at most `perSlice` of the range's vectors on any one of them.
struct SliceSpan {
  uint32_t first = 0;
  uint32_t count = 0;    // 0 for an empty range
  uint64_t perSlice = 0; // ceil(vectors touched / slices)
};

class SramMap {
public:
  SramMap(uint32_t vectorBytes, uint32_t slices, uint32_t banksPerSlice)
      : vectorBytes_(std::max<uint32_t>(vectorBytes, 1)), slices_(std::max<uint32_t>(slices, 1)),
        banks_(std::max<uint32_t>(banksPerSlice, 1)), vectorMagic(magic(vectorBytes_)),
        sliceMagic(magic(slices_)) {}
  explicit SramMap(const ChipConfig &chip)
      : SramMap(chip.vectorBytes, chip.mem.slices, chip.mem.banksPerSlice) {}

  uint32_t vectorBytes() const { return vectorBytes_; }
  uint32_t slices() const { return slices_; }
  uint32_t banksPerSlice() const { return banks_; }

  SramLocation locate(uint64_t address) const {
    SramLocation at;
    at.vector = divide(address, vectorBytes_, vectorMagic);
    at.row = divide(at.vector, slices_, sliceMagic);
    at.slice = uint32_t(at.vector - at.row * slices_);
    at.bank = uint32_t(at.row % banks_);
    return at;
  }

  /// The slices that bytes [address, address + bytes) occupy.
  SliceSpan span(uint64_t address, uint64_t bytes) const {
    SliceSpan out;
    if (bytes == 0) {
      return out;
    }
    const uint64_t first = divide(address, vectorBytes_, vectorMagic);
    const uint64_t last = divide(address + bytes - 1, vectorBytes_, vectorMagic);
    const uint64_t vectors = last - first + 1;
    out.first = uint32_t(first - divide(first, slices_, sliceMagic) * slices_);
    if (vectors <= slices_) {
      out.count = uint32_t(vectors);
      out.perSlice = 1;
    } else {
      out.count = slices_;
      out.perSlice = divide(vectors + slices_ - 1, slices_, sliceMagic);
    }
    return out;
  }

  /// How many vectors bytes [address, address + bytes) touch.
  uint64_t vectorsTouched(uint64_t address, uint64_t bytes) const {
    if (bytes == 0) {
      return 0;
    }
    return divide(address + bytes - 1, vectorBytes_, vectorMagic) -
           divide(address, vectorBytes_, vectorMagic) + 1;
  }
  /// Two spans share a slice: writes it to `slice` and returns true.
  bool shareSlice(const SliceSpan &a, const SliceSpan &b, uint32_t &slice) const {
    if (a.count == 0 || b.count == 0) {
      return false;
    }
    uint32_t fromA = b.first >= a.first ? b.first - a.first : b.first + slices_ - a.first;
    if (fromA < a.count) {
      slice = b.first;
      return true;
    }
    uint32_t fromB = a.first >= b.first ? a.first - b.first : a.first + slices_ - b.first;
    if (fromB < b.count) {
      slice = a.first;
      return true;
    }
    return false;
  }

private:
  // Division by a run-time constant without a divide instruction, exact for 32-bit
  // numerators (D. Lemire, O. Kaser, N. Kurz, "Faster Remainder by Direct Computation",
  // Software: Practice and Experience 49(6), 2019): n / d = (M * n) >> 64 with
  // M = floor((2^64 - 1) / d) + 1. The port check splits an address per SRAM access.
  static uint64_t magic(uint32_t d) { return d <= 1 ? 0 : ~uint64_t(0) / d + 1; }
  static uint64_t divide(uint64_t n, uint32_t d, uint64_t m) {
    if (d <= 1) {
      return n;
    }
    if ((n >> 32) == 0) {
      return uint64_t(((unsigned __int128)m * n) >> 64);
    }
    return n / d;
  }

  uint32_t vectorBytes_, slices_, banks_;
  uint64_t vectorMagic, sliceMagic;
};

} // namespace conveyor::system
