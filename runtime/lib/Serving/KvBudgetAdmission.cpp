// Admission policy "fcfs-kv": first come, first served, while the sequences in flight and
// their KV cache (prompt + output tokens reserved up front) stay within budget.
#include "conveyor/Runtime/AdmissionPolicy.h"

#include "AdmissionParameters.h"

#include <limits>

namespace conveyor::runtime {

namespace {

// Reserving each sequence's final KV size at admission means a sequence, once admitted,
// can always finish: no preemption or recomputation is needed.
class KvBudgetAdmission final : public AdmissionPolicy {
public:
  KvBudgetAdmission(uint32_t maxSequences, uint64_t kvTokens, std::string spec)
      : maxSequences(maxSequences), kvTokens(kvTokens), spec(std::move(spec)) {}
  bool admitNow(const AdmissionState &state, const Request &candidate) const override {
    const uint64_t needed = uint64_t(candidate.promptTokens) + candidate.outputTokens;
    return state.sequencesInFlight < maxSequences && state.kvTokensReserved + needed <= kvTokens;
  }
  std::string describe() const override { return spec; }

private:
  uint32_t maxSequences;
  uint64_t kvTokens;
  std::string spec;
};

} // namespace

AdmissionPolicyInfo kvBudgetAdmissionInfo() {
  ParameterInfo kvTokens{"kv_tokens",
                         "KV-cache budget over all sequences in flight (prompt + output each)",
                         "tokens", std::nullopt, true};
  kvTokens.minimum = 1;
  kvTokens.maximum = 9.0e15; // whole numbers stay exact in a double
  kvTokens.integer = true;
  return {"fcfs-kv",
          "arrival order; admit while under max_sequences and the KV-token budget",
          {maxSequencesParameter(), kvTokens},
          [](const ParameterValues &values, std::string spec) -> std::unique_ptr<AdmissionPolicy> {
            const double limit =
                values.find("max_sequences").value_or(std::numeric_limits<uint32_t>::max());
            return std::make_unique<KvBudgetAdmission>(
                static_cast<uint32_t>(limit), static_cast<uint64_t>(values.get("kv_tokens")),
                std::move(spec));
          }};
}

} // namespace conveyor::runtime
