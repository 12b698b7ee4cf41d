// Number formats of the simulated chip: bit patterns decode to the values the format
// definitions give, and rounding to f16/bf16/fp8/int follows round-to-nearest-even,
// overflow and saturation rules.
#include "conveyor/Simulator/Numerics.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

using namespace conveyor;
using namespace conveyor::sim;

TEST_CASE("half, bfloat16 and fp8 e4m3fn bit patterns decode to their values", "[numerics]") {
  CHECK(halfToFloat(0x3C00) == 1.0f);
  CHECK(halfToFloat(0xC000) == -2.0f);
  CHECK(halfToFloat(0x7BFF) == 65504.0f);
  CHECK(halfToFloat(0x0001) == std::ldexp(1.0f, -24)); // smallest subnormal
  CHECK(std::isinf(halfToFloat(0x7C00)));
  CHECK(std::isnan(halfToFloat(0x7E00)));
  CHECK(bfloat16ToFloat(0x3F80) == 1.0f);
  CHECK(bfloat16ToFloat(0xC0A0) == -5.0f);
  CHECK(fp8e4m3ToFloat(0x38) == 1.0f);
  CHECK(fp8e4m3ToFloat(0x7E) == 448.0f); // largest finite
  CHECK(fp8e4m3ToFloat(0xFE) == -448.0f);
  CHECK(fp8e4m3ToFloat(0x01) == std::ldexp(1.0f, -9)); // smallest subnormal
  CHECK(std::isnan(fp8e4m3ToFloat(0x7F)));
}

TEST_CASE("weight bytes of every dtype decode element by element", "[numerics]") {
  // INT4: two's-complement nibbles, the even element in the low nibble.
  std::string int4 = {char(0x8F), char(0x71)};
  std::vector<float> values = decodeElements(int4, schedule::INT4, 4);
  CHECK(values == std::vector<float>{-1, -8, 1, 7});
  std::string int8 = {char(0x80), char(0x7F), char(0xFF)};
  CHECK(decodeElements(int8, schedule::INT8, 3) == std::vector<float>{-128, 127, -1});
  std::string half = {char(0x00), char(0x3C), char(0x00), char(0xC0)};
  CHECK(decodeElements(half, schedule::F16, 2) == std::vector<float>{1.0f, -2.0f});
  std::string f32(4, '\0');
  float three = 3.0f;
  std::memcpy(f32.data(), &three, 4);
  CHECK(decodeElements(f32, schedule::F32, 1) == std::vector<float>{3.0f});
  std::string i32 = {char(0xFE), char(0xFF), char(0xFF), char(0xFF)};
  CHECK(decodeElements(i32, schedule::INT32, 1) == std::vector<float>{-2.0f});
}

TEST_CASE("rounding to a dtype is round-to-nearest-even with the format's range",
          "[numerics]") {
  const float ulpHalf = std::ldexp(1.0f, -10); // f16 spacing in [1, 2)
  CHECK(roundToDType(1.0f + ulpHalf / 2, schedule::F16) == 1.0f);             // tie -> even
  CHECK(roundToDType(1.0f + 3 * ulpHalf / 2, schedule::F16) == 1.0f + 2 * ulpHalf); // tie -> even
  CHECK(roundToDType(1.0f + ulpHalf * 0.6f, schedule::F16) == 1.0f + ulpHalf);
  CHECK(std::isinf(roundToDType(65520.0f, schedule::F16))); // halfway to 2^16 rounds up: inf
  CHECK(roundToDType(65519.0f, schedule::F16) == 65504.0f);
  CHECK(roundToDType(std::ldexp(1.0f, -25) * 3, schedule::F16) == std::ldexp(1.0f, -23)); // subnormal
  CHECK(roundToDType(0.3f, schedule::BF16) == 0.30078125f);
  CHECK(roundToDType(500.0f, schedule::FP8) == 448.0f); // e4m3fn saturates
  CHECK(roundToDType(-0.3f, schedule::FP8) == -0.3125f);
  CHECK(roundToDType(2.7f, schedule::INT8) == 2.0f);
  CHECK(roundToDType(-200.0f, schedule::INT8) == -128.0f);
  CHECK(roundToDType(9.0f, schedule::INT4) == 7.0f);
  CHECK(roundToDType(0.1f, schedule::F32) == 0.1f);
  CHECK(std::isnan(roundToDType(std::numeric_limits<float>::quiet_NaN(), schedule::BF16)));
}

TEST_CASE("rounding agrees with decoding: every f16 value is a fixed point", "[numerics]") {
  for (uint32_t bits = 0; bits < 0x7C00; bits += 7) {
    const float value = halfToFloat(uint16_t(bits));
    REQUIRE(roundToDType(value, schedule::F16) == value);
    REQUIRE(roundToDType(-value, schedule::F16) == -value);
  }
  for (uint32_t bits = 0; bits < 0x7F; ++bits) {
    const float value = fp8e4m3ToFloat(uint8_t(bits));
    REQUIRE(roundToDType(value, schedule::FP8) == value);
  }
}
