// Swappable policy: whether the request at the head of the waiting queue may join the
// sequences in flight now (fcfs, fcfs-kv), chosen by name.
//
// Contract for implementations:
// - The token loop serves the queue in arrival order (first come, first served) and asks
//   only about its head; a refusal blocks everything behind it until the next iteration.
// - `admitNow` is a pure function of its arguments and the policy's parameters.
// - Monotone: if a request is refused on an idle system (nothing in flight) it would be
//   refused forever; the loop then stops with an error naming the request.
// - The loop itself never exceeds the backend's `maxSequences()`, whatever the policy says.
#pragma once

#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/Request.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace conveyor::runtime {

/// What the loop tells a policy about the sequences already in flight.
struct AdmissionState {
  uint32_t sequencesInFlight = 0;
  /// Sum over in-flight sequences of prompt + output tokens: the KV cache each will
  /// hold at its end, reserved up front so that no sequence is ever preempted.
  uint64_t kvTokensReserved = 0;
};

class AdmissionPolicy {
public:
  virtual ~AdmissionPolicy() = default;
  virtual bool admitNow(const AdmissionState &state, const Request &candidate) const = 0;
  /// The spec it was built from, for reports ("fcfs:max_sequences=64").
  virtual std::string describe() const = 0;
};

struct AdmissionPolicyInfo {
  std::string name;
  std::string summary;
  std::vector<ParameterInfo> parameters;
  std::function<std::unique_ptr<AdmissionPolicy>(const ParameterValues &, std::string spec)> create;
};

/// Every admission policy, in a fixed order ("fcfs", "fcfs-kv").
const std::vector<AdmissionPolicyInfo> &admissionPolicyRegistry();

/// Builds the policy `spec` names, e.g. "fcfs:max_sequences=64" or
/// "fcfs-kv:max_sequences=256,kv_tokens=1000000".
Result<std::unique_ptr<AdmissionPolicy>> makeAdmissionPolicy(const PolicySpec &spec);

AdmissionPolicyInfo maxSequencesAdmissionInfo();
AdmissionPolicyInfo kvBudgetAdmissionInfo();

} // namespace conveyor::runtime
