// The registry of admission policies and the by-name factory.
#include "conveyor/Runtime/AdmissionPolicy.h"

#include <fmt/format.h>

namespace conveyor::runtime {

const std::vector<AdmissionPolicyInfo> &admissionPolicyRegistry() {
  static const std::vector<AdmissionPolicyInfo> registry = {maxSequencesAdmissionInfo(),
                                                            kvBudgetAdmissionInfo()};
  return registry;
}

Result<std::unique_ptr<AdmissionPolicy>> makeAdmissionPolicy(const PolicySpec &spec) {
  std::string known;
  for (const AdmissionPolicyInfo &info : admissionPolicyRegistry()) {
    if (info.name == spec.name) {
      Result<ParameterValues> values = resolveParameters(spec, info.parameters, "admission policy");
      if (!values) {
        return values.takeError();
      }
      return info.create(*values, formatPolicySpec(spec));
    }
    known += known.empty() ? info.name : ", " + info.name;
  }
  return makeError(fmt::format("unknown admission policy '{}' (known: {})", spec.name, known));
}

} // namespace conveyor::runtime
