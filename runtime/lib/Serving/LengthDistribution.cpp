// The registry of length distributions and the by-name factory.
#include "conveyor/Runtime/LengthDistribution.h"

#include <fmt/format.h>

namespace conveyor::runtime {

const std::vector<LengthDistributionInfo> &lengthDistributionRegistry() {
  static const std::vector<LengthDistributionInfo> registry = {
      fixedLengthInfo(), uniformLengthInfo(), lognormalLengthInfo()};
  return registry;
}

Result<std::unique_ptr<LengthDistribution>> makeLengthDistribution(const PolicySpec &spec,
                                                                   std::string_view what) {
  std::string known;
  for (const LengthDistributionInfo &info : lengthDistributionRegistry()) {
    if (info.name == spec.name) {
      Result<ParameterValues> values =
          resolveParameters(spec, info.parameters, fmt::format("{}: length distribution", what));
      if (!values) {
        return values.takeError();
      }
      Result<std::unique_ptr<LengthDistribution>> made = info.create(*values);
      if (!made) {
        return makeError(fmt::format("{}: {}", what, made.error()));
      }
      return made;
    }
    known += known.empty() ? info.name : ", " + info.name;
  }
  return makeError(
      fmt::format("{}: unknown length distribution '{}' (known: {})", what, spec.name, known));
}

} // namespace conveyor::runtime
