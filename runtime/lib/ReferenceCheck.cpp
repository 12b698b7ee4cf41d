// Output-vs-reference comparison used by `conveyor simulate --inputs` and the e2e tests.
#include "conveyor/Runtime/ReferenceCheck.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

namespace conveyor::runtime {

Result<ReferenceCheck> compareOutputs(const std::vector<sim::TensorData> &outputs,
                                      const std::vector<sim::TensorData> &references) {
  ReferenceCheck check;
  for (size_t r = 0; r < references.size(); ++r) {
    const sim::TensorData &reference = references[r];
    const sim::TensorData *output = nullptr;
    for (const sim::TensorData &candidate : outputs) {
      if (!reference.name.empty() && candidate.name == reference.name) {
        output = &candidate;
      }
    }
    if (!output && reference.name.empty() && r < outputs.size()) {
      output = &outputs[r];
    }
    if (!output) {
      return makeError(fmt::format(
          "reference tensor '{}' matches no model output (outputs: {}); check that the "
          "reference data belongs to this model",
          reference.name, fmt::join([&] {
            std::vector<std::string> names;
            for (const auto &o : outputs) {
              names.push_back(o.name);
            }
            return names;
          }(), ", ")));
    }
    if (output->values.size() != reference.values.size()) {
      return makeError(fmt::format("output '{}' has {} elements (shape [{}]) but its reference has "
                                   "{} (shape [{}])",
                                   output->name, output->values.size(),
                                   fmt::join(output->shape, ","), reference.values.size(),
                                   fmt::join(reference.shape, ",")));
    }
    TensorComparison comparison;
    comparison.name = output->name;
    comparison.elements = reference.values.size();
    for (size_t i = 0; i < reference.values.size(); ++i) {
      double error = std::fabs(double(output->values[i]) - double(reference.values[i]));
      if (std::isnan(error)) {
        error = INFINITY; // a NaN output never passes
      }
      if (error > comparison.maxAbsError) {
        comparison.maxAbsError = error;
        comparison.worstIndex = i;
      }
      comparison.maxReference = std::max(comparison.maxReference, std::fabs(double(reference.values[i])));
    }
    check.maxAbsError = std::max(check.maxAbsError, comparison.maxAbsError);
    check.tensors.push_back(comparison);
  }
  return check;
}

} // namespace conveyor::runtime
