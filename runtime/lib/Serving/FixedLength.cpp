// Length distribution "fixed": every request has the same number of tokens.
#include "conveyor/Runtime/LengthDistribution.h"

namespace conveyor::runtime {
namespace {

class FixedLength final : public LengthDistribution {
public:
  explicit FixedLength(uint32_t tokens) : tokens(tokens) {}
  uint32_t sample(Rng &) const override { return tokens; }

private:
  uint32_t tokens;
};

} // namespace

LengthDistributionInfo fixedLengthInfo() {
  ParameterInfo tokens{"tokens", "length of every request", "tokens", std::nullopt, true};
  tokens.minimum = 1;
  tokens.maximum = 1u << 30;
  tokens.integer = true;
  return {"fixed",
          "the same length for every request (a bare number N means fixed:tokens=N)",
          {tokens},
          [](const ParameterValues &values) -> Result<std::unique_ptr<LengthDistribution>> {
            return std::unique_ptr<LengthDistribution>(
                std::make_unique<FixedLength>(static_cast<uint32_t>(values.get("tokens"))));
          }};
}

} // namespace conveyor::runtime
