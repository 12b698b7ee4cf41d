// Deterministic random numbers for the serving runtime: xoshiro256** seeded by splitmix64.
//
// std:: distributions are not used on purpose: their output is implementation-defined and
// differs between standard libraries, and a seed must give the same traffic everywhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace conveyor::runtime {

/// splitmix64 step: the standard seeder for the xoshiro family (Vigna).
inline uint64_t splitMix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// xoshiro256** (Blackman & Vigna) with hand-written draws for the distributions the
/// runtime needs. Same seed and stream, same sequence of numbers, on every platform
/// whose libm gives the same log/sqrt/cos (glibc does across versions for these).
class Rng {
public:
  /// `stream` separates independent sequences from one user seed (arrivals, prompt
  /// lengths, output lengths), so changing one distribution leaves the others unchanged.
  explicit Rng(uint64_t seed, uint64_t stream = 0) {
    uint64_t mix = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (uint64_t &word : state) {
      word = splitMix64(mix);
    }
  }

  uint64_t nextU64() {
    const uint64_t result = rotl(state[1] * 5, 7) * 9;
    const uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(nextU64() >> 11) * 0x1.0p-53; }

  /// Uniform in (0, 1]: safe to take the logarithm of.
  double uniformOpen0() { return 1.0 - uniform01(); }

  /// Uniform integer in [low, high] (inclusive). Uses rejection to avoid modulo bias.
  uint64_t uniformInt(uint64_t low, uint64_t high) {
    const uint64_t span = high - low;
    if (span == UINT64_MAX) {
      return nextU64();
    }
    const uint64_t range = span + 1;
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
    uint64_t draw = nextU64();
    while (draw >= limit) {
      draw = nextU64();
    }
    return low + draw % range;
  }

  /// Exponential with the given mean, by inversion: -mean * log(u), u in (0, 1].
  double exponential(double mean) { return -mean * std::log(uniformOpen0()); }

  /// Standard normal by Box-Muller (one value per call; the pair's second half is
  /// dropped so the number of draws per call is fixed, which keeps streams simple).
  double standardNormal() {
    const double radius = std::sqrt(-2.0 * std::log(uniformOpen0()));
    return radius * std::cos(2.0 * std::numbers::pi * uniform01());
  }

  /// Gamma(shape, scale) by Marsaglia & Tsang (2000); shape < 1 via the boost
  /// Gamma(shape) = Gamma(shape + 1) * U^(1/shape).
  double gamma(double shape, double scale) {
    if (shape < 1.0) {
      const double boost = std::pow(uniformOpen0(), 1.0 / shape);
      return gamma(shape + 1.0, scale) * boost;
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    while (true) {
      double x, v;
      do {
        x = standardNormal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniformOpen0();
      if (u < 1.0 - 0.0331 * x * x * x * x ||
          std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) {
        return d * v * scale;
      }
    }
  }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state[4];
};

} // namespace conveyor::runtime
