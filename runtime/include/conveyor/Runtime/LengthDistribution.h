// Swappable policy: how many prompt or output tokens a synthetic request has (fixed,
// uniform, lognormal), chosen by name.
//
// Contract for implementations:
// - `sample` returns a whole number of tokens >= 1 (and within the implementation's
//   documented clip range), drawing randomness only from the `Rng` passed in.
// - `sample` is const: a distribution keeps no state between draws.
#pragma once

#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/Random.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace conveyor::runtime {

class LengthDistribution {
public:
  virtual ~LengthDistribution() = default;
  virtual uint32_t sample(Rng &rng) const = 0;
};

struct LengthDistributionInfo {
  std::string name;
  std::string summary;
  std::vector<ParameterInfo> parameters;
  std::function<Result<std::unique_ptr<LengthDistribution>>(const ParameterValues &)> create;
};

/// Every length distribution, in a fixed order ("fixed", "uniform", "lognormal").
const std::vector<LengthDistributionInfo> &lengthDistributionRegistry();

/// Builds the distribution `spec` names, e.g. "fixed:tokens=128", "uniform:min=64,max=512",
/// "lognormal:mean=512,sigma=0.8,max=4096". `what` names the option in messages.
Result<std::unique_ptr<LengthDistribution>> makeLengthDistribution(const PolicySpec &spec,
                                                                   std::string_view what);

LengthDistributionInfo fixedLengthInfo();
LengthDistributionInfo uniformLengthInfo();
LengthDistributionInfo lognormalLengthInfo();

} // namespace conveyor::runtime
