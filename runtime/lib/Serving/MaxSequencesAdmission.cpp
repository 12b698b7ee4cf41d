// Admission policy "fcfs": first come, first served, up to a number of sequences in flight.
#include "conveyor/Runtime/AdmissionPolicy.h"

#include "AdmissionParameters.h"

#include <limits>

namespace conveyor::runtime {
namespace {

class MaxSequencesAdmission final : public AdmissionPolicy {
public:
  MaxSequencesAdmission(uint32_t maxSequences, std::string spec)
      : maxSequences(maxSequences), spec(std::move(spec)) {}
  bool admitNow(const AdmissionState &state, const Request &) const override {
    return state.sequencesInFlight < maxSequences;
  }
  std::string describe() const override { return spec; }

private:
  uint32_t maxSequences;
  std::string spec;
};

} // namespace

ParameterInfo maxSequencesParameter() {
  ParameterInfo info{"max_sequences", "most sequences in flight (absent: the backend's limit)",
                     "sequences", std::nullopt};
  info.minimum = 1;
  info.maximum = std::numeric_limits<uint32_t>::max();
  info.integer = true;
  return info;
}

AdmissionPolicyInfo maxSequencesAdmissionInfo() {
  return {"fcfs",
          "arrival order; admit while fewer than max_sequences are in flight",
          {maxSequencesParameter()},
          [](const ParameterValues &values, std::string spec) -> std::unique_ptr<AdmissionPolicy> {
            const double limit =
                values.find("max_sequences").value_or(std::numeric_limits<uint32_t>::max());
            return std::make_unique<MaxSequencesAdmission>(static_cast<uint32_t>(limit),
                                                           std::move(spec));
          }};
}

} // namespace conveyor::runtime
