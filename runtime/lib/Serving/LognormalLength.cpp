// Length distribution "lognormal": right-skewed lengths (most short, a long tail), as real
// chat prompts and answers are; given by its mean in tokens, rounded and clipped.
#include "conveyor/Runtime/LengthDistribution.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace conveyor::runtime {
namespace {

class LognormalLength final : public LengthDistribution {
public:
  // exp(N(mu, sigma^2)) has mean exp(mu + sigma^2/2): mu = ln(mean) - sigma^2/2.
  LognormalLength(double mean, double sigma, double low, double high)
      : mu(std::log(mean) - 0.5 * sigma * sigma), sigma(sigma), low(low), high(high) {}
  uint32_t sample(Rng &rng) const override {
    const double tokens = std::floor(std::exp(mu + sigma * rng.standardNormal()) + 0.5);
    return static_cast<uint32_t>(std::clamp(tokens, low, high));
  }

private:
  double mu, sigma, low, high;
};

} // namespace

LengthDistributionInfo lognormalLengthInfo() {
  ParameterInfo mean{"mean", "mean length before rounding and clipping", "tokens", std::nullopt,
                     true};
  mean.minimumExclusive = true;
  ParameterInfo sigma{"sigma", "standard deviation of the length's logarithm", "1", 0.5};
  sigma.maximum = 5;
  ParameterInfo low{"min", "shortest length (draws below are raised to it)", "tokens", 1.0};
  ParameterInfo high{"max", "longest length (draws above are cut to it)", "tokens",
                     double(1u << 20)};
  for (ParameterInfo *info : {&low, &high}) {
    info->minimum = 1;
    info->maximum = 1u << 30;
    info->integer = true;
  }
  return {"lognormal",
          "lognormal lengths with a given mean and log-sigma, rounded, clipped to [min, max]",
          {mean, sigma, low, high},
          [](const ParameterValues &values) -> Result<std::unique_ptr<LengthDistribution>> {
            const double low = values.get("min"), high = values.get("max");
            if (low > high) {
              return makeError(fmt::format(
                  "length distribution 'lognormal': min = {} is greater than max = {}", low, high));
            }
            return std::unique_ptr<LengthDistribution>(std::make_unique<LognormalLength>(
                values.get("mean"), values.get("sigma"), low, high));
          }};
}

} // namespace conveyor::runtime
