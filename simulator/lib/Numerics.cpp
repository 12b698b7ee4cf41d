// Number formats of the simulated chip: weight decoding and rounding to a dtype, written from
// the format definitions (IEEE 754 binary16, bfloat16, OCP fp8 e4m3fn), independent of the
// compiler's APFloat-based quantiser.
#include "conveyor/Simulator/Numerics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace conveyor::sim {
namespace {

/// A binary float format: `mantissaBits` stored fraction bits, `minExponent` the exponent
/// of the smallest normal number, `maxFinite` the largest finite value.
struct FloatFormat {
  int mantissaBits;
  int minExponent;
  float maxFinite;
  bool saturates; // no infinity: out-of-range values clamp to +-maxFinite
};

constexpr FloatFormat kHalf{10, -14, 65504.0f, false};
constexpr FloatFormat kBfloat16{7, -126, 3.38953139e38f, false};
constexpr FloatFormat kFp8E4M3{3, -6, 448.0f, true};

float roundToFormat(float x, const FloatFormat &format) {
  if (x == 0.0f || !std::isfinite(x)) {
    return x;
  }
  int exponent = 0;
  std::frexp(x, &exponent); // |x| = m * 2^exponent, m in [0.5, 1)
  // The quantum (spacing of representable values) at x's binade; subnormals share the
  // smallest normal binade's quantum.
  const int leading = std::max(exponent - 1, format.minExponent);
  const double quantum = std::ldexp(1.0, leading - format.mantissaBits);
  // Scaling by a power of two is exact; nearbyint rounds half to even.
  const double rounded = std::nearbyint(double(x) / quantum) * quantum;
  if (std::fabs(rounded) > double(format.maxFinite)) {
    if (format.saturates) {
      return std::copysign(format.maxFinite, x);
    }
    return std::copysign(std::numeric_limits<float>::infinity(), x);
  }
  return float(rounded);
}

float roundToInteger(float x, double lowest, double highest) {
  if (std::isnan(x)) {
    return 0.0f;
  }
  return float(std::clamp(std::trunc(double(x)), lowest, highest));
}

} // namespace

float roundToDType(float x, schedule::DType type) {
  switch (type) {
  case schedule::F16:
    return roundToFormat(x, kHalf);
  case schedule::BF16:
    if (std::isnan(x)) {
      return x;
    }
    return roundToFormat(x, kBfloat16);
  case schedule::FP8:
    return roundToFormat(x, kFp8E4M3);
  case schedule::INT8:
    return roundToInteger(x, -128, 127);
  case schedule::INT4:
    return roundToInteger(x, -8, 7);
  case schedule::INT32:
    return roundToInteger(x, -2147483648.0, 2147483647.0);
  default:
    return x;
  }
}

void roundInPlace(std::span<float> values, schedule::DType type) {
  if (type == schedule::F32) {
    return;
  }
  for (float &value : values) {
    value = roundToDType(value, type);
  }
}

float halfToFloat(uint16_t bits) {
  const int sign = bits >> 15, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(float(mantissa), -24); // subnormal: m * 2^-14 / 2^10
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? std::numeric_limits<float>::infinity()
                              : std::numeric_limits<float>::quiet_NaN();
  } else {
    magnitude = std::ldexp(float(1024 + mantissa), exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

float bfloat16ToFloat(uint16_t bits) {
  const uint32_t wide = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

float fp8e4m3ToFloat(uint8_t bits) {
  const int sign = bits >> 7, exponent = (bits >> 3) & 0xf, mantissa = bits & 0x7;
  float magnitude;
  if (exponent == 15 && mantissa == 7) {
    magnitude = std::numeric_limits<float>::quiet_NaN(); // e4m3fn: the only NaN, no inf
  } else if (exponent == 0) {
    magnitude = std::ldexp(float(mantissa), -9); // subnormal: m/8 * 2^-6
  } else {
    magnitude = std::ldexp(float(8 + mantissa), exponent - 10);
  }
  return sign ? -magnitude : magnitude;
}

std::vector<float> decodeElements(std::string_view bytes, schedule::DType type,
                                  uint64_t elements) {
  std::vector<float> out(elements);
  const auto *raw = reinterpret_cast<const unsigned char *>(bytes.data());
  auto le16 = [&](uint64_t i) { return uint16_t(raw[2 * i] | (raw[2 * i + 1] << 8)); };
  for (uint64_t i = 0; i < elements; ++i) {
    switch (type) {
    case schedule::F32: {
      uint32_t word = uint32_t(raw[4 * i]) | uint32_t(raw[4 * i + 1]) << 8 |
                      uint32_t(raw[4 * i + 2]) << 16 | uint32_t(raw[4 * i + 3]) << 24;
      std::memcpy(&out[i], &word, sizeof word);
      break;
    }
    case schedule::F16:
      out[i] = halfToFloat(le16(i));
      break;
    case schedule::BF16:
      out[i] = bfloat16ToFloat(le16(i));
      break;
    case schedule::FP8:
      out[i] = fp8e4m3ToFloat(raw[i]);
      break;
    case schedule::INT8:
      out[i] = float(int8_t(raw[i]));
      break;
    case schedule::INT4: {
      const int nibble = (i % 2 == 0 ? raw[i / 2] : raw[i / 2] >> 4) & 0xf;
      out[i] = float(nibble >= 8 ? nibble - 16 : nibble);
      break;
    }
    case schedule::INT32: {
      uint32_t word = uint32_t(raw[4 * i]) | uint32_t(raw[4 * i + 1]) << 8 |
                      uint32_t(raw[4 * i + 2]) << 16 | uint32_t(raw[4 * i + 3]) << 24;
      out[i] = float(int32_t(word));
      break;
    }
    default:
      out[i] = std::numeric_limits<float>::quiet_NaN();
      break;
    }
  }
  return out;
}

} // namespace conveyor::sim
