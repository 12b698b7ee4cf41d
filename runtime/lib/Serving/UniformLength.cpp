// Length distribution "uniform": every whole number of tokens in [min, max] equally likely.
#include "conveyor/Runtime/LengthDistribution.h"

#include <fmt/format.h>

namespace conveyor::runtime {
namespace {

class UniformLength final : public LengthDistribution {
public:
  UniformLength(uint32_t low, uint32_t high) : low(low), high(high) {}
  uint32_t sample(Rng &rng) const override {
    return static_cast<uint32_t>(rng.uniformInt(low, high));
  }

private:
  uint32_t low, high;
};

} // namespace

LengthDistributionInfo uniformLengthInfo() {
  ParameterInfo low{"min", "shortest length", "tokens", std::nullopt, true};
  ParameterInfo high{"max", "longest length", "tokens", std::nullopt, true};
  for (ParameterInfo *info : {&low, &high}) {
    info->minimum = 1;
    info->maximum = 1u << 30;
    info->integer = true;
  }
  return {"uniform",
          "whole numbers of tokens in [min, max], equally likely",
          {low, high},
          [](const ParameterValues &values) -> Result<std::unique_ptr<LengthDistribution>> {
            const double low = values.get("min"), high = values.get("max");
            if (low > high) {
              return makeError(fmt::format(
                  "length distribution 'uniform': min = {} is greater than max = {}", low, high));
            }
            return std::unique_ptr<LengthDistribution>(std::make_unique<UniformLength>(
                static_cast<uint32_t>(low), static_cast<uint32_t>(high)));
          }};
}

} // namespace conveyor::runtime
