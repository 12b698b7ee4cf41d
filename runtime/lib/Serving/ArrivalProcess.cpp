// The registry of arrival processes and the by-name factory.
#include "conveyor/Runtime/ArrivalProcess.h"

#include <fmt/format.h>

namespace conveyor::runtime {

const std::vector<ArrivalProcessInfo> &arrivalProcessRegistry() {
  static const std::vector<ArrivalProcessInfo> registry = {
      poissonArrivalsInfo(), gammaArrivalsInfo(), onOffArrivalsInfo()};
  return registry;
}

Result<std::unique_ptr<ArrivalProcess>> makeArrivalProcess(const PolicySpec &spec) {
  std::string known;
  for (const ArrivalProcessInfo &info : arrivalProcessRegistry()) {
    if (info.name == spec.name) {
      Result<ParameterValues> values = resolveParameters(spec, info.parameters, "arrival process");
      if (!values) {
        return values.takeError();
      }
      return info.create(*values);
    }
    known += known.empty() ? info.name : ", " + info.name;
  }
  return makeError(fmt::format("unknown arrival process '{}' (known: {})", spec.name, known));
}

} // namespace conveyor::runtime
