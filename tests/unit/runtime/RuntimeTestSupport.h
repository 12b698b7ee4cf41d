// Shared helpers for the runtime unit tests: building backends, policies and requests.
#pragma once

#include "conveyor/Runtime/AdmissionPolicy.h"
#include "conveyor/Runtime/AnalyticBackend.h"
#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/Request.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace conveyor::runtime::test {

inline AnalyticBackend makeBackend(const AnalyticBackendConfig &config) {
  Result<AnalyticBackend> backend = AnalyticBackend::create(config);
  INFO((backend ? std::string() : backend.error()));
  REQUIRE(backend.ok());
  return std::move(*backend);
}

/// A backend whose every iteration takes `seconds`, whatever the work.
inline AnalyticBackend constantBackend(double seconds, uint32_t maxSequences) {
  AnalyticBackendConfig config;
  config.iterationFixedSeconds = seconds;
  config.maxSequences = maxSequences;
  return makeBackend(config);
}

inline std::unique_ptr<AdmissionPolicy> makePolicy(const std::string &text) {
  Result<PolicySpec> spec = parsePolicySpec(text, "--admission");
  REQUIRE(spec.ok());
  Result<std::unique_ptr<AdmissionPolicy>> policy = makeAdmissionPolicy(*spec);
  INFO((policy ? std::string() : policy.error()));
  REQUIRE(policy.ok());
  return std::move(*policy);
}

inline Request request(double arrival, uint32_t prompt, uint32_t output) {
  Request r;
  r.arrivalSeconds = arrival;
  r.promptTokens = prompt;
  r.outputTokens = output;
  return r;
}

/// Approx with a tolerance for sums of a few dozen doubles.
inline Approx near(double value) { return Approx(value).margin(1e-12).epsilon(1e-12); }

} // namespace conveyor::runtime::test
