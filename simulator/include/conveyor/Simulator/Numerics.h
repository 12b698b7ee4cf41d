// Number formats of the simulated chip: decoding weight bytes of every schedule dtype to f32
// and rounding f32 values to a dtype (f16, bf16, fp8 e4m3, integers), as the hardware stores them.
#pragma once

#include "schedule.pb.h"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace conveyor::sim {

/// `x` rounded to the nearest value of `type` (ties to even): F16 and BF16 overflow to
/// +-inf, FP8 (e4m3fn, no infinities) saturates to +-448, integer types truncate toward
/// zero and saturate to their range; F32 is unchanged. NaN stays NaN.
float roundToDType(float x, schedule::DType type);

/// Rounds every value in place (no-op for F32).
void roundInPlace(std::span<float> values, schedule::DType type);

/// Decodes `elements` little-endian values of `type` from `bytes` (INT4: two's-complement
/// nibbles, the even element in the low nibble). `bytes` must hold ceil(elements * bits / 8).
std::vector<float> decodeElements(std::string_view bytes, schedule::DType type, uint64_t elements);

/// The value of an IEEE half, bfloat16 and fp8 e4m3fn bit pattern.
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
float fp8e4m3ToFloat(uint8_t bits);

} // namespace conveyor::sim
