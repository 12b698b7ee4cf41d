// Policy specs ("gamma:rate=10,cv=3"): parsing, parameter tables, defaults and the errors
// for unknown names, unknown or missing parameters and out-of-range values.
#include "RuntimeTestSupport.h"

#include "conveyor/Runtime/ArrivalProcess.h"
#include "conveyor/Runtime/LengthDistribution.h"

using namespace conveyor;
using namespace conveyor::runtime;

namespace {
std::string arrivalError(const std::string &text) {
  Result<PolicySpec> spec = parsePolicySpec(text, "--arrival");
  if (!spec) {
    return spec.error();
  }
  Result<std::unique_ptr<ArrivalProcess>> process = makeArrivalProcess(*spec);
  REQUIRE_FALSE(process.ok());
  return process.error();
}
} // namespace

TEST_CASE("policy specs parse names and parameters") {
  Result<PolicySpec> spec = parsePolicySpec(" gamma : rate=10, cv = 2.5 ", "--arrival");
  REQUIRE(spec.ok());
  CHECK(spec->name == "gamma");
  REQUIRE(spec->parameters.size() == 2);
  CHECK(spec->parameters[0] == std::pair<std::string, double>("rate", 10));
  CHECK(spec->parameters[1] == std::pair<std::string, double>("cv", 2.5));
  CHECK(formatPolicySpec(*spec) == "gamma:rate=10,cv=2.5");

  spec = parsePolicySpec("512", "--prompt");
  REQUIRE(spec.ok());
  CHECK(formatPolicySpec(*spec) == "fixed:tokens=512");
  spec = parsePolicySpec("fcfs", "--admission");
  REQUIRE(spec.ok());
  CHECK(spec->parameters.empty());

  CHECK_THAT(parsePolicySpec("", "--arrival").error(), Catch::Contains("--arrival: empty"));
  CHECK_THAT(parsePolicySpec("gamma:rate", "--arrival").error(),
             Catch::Contains("'rate' in 'gamma:rate' is not key=value"));
  CHECK_THAT(parsePolicySpec("gamma:rate=fast", "--arrival").error(),
             Catch::Contains("expected key=<number>"));
  CHECK_THAT(parsePolicySpec(":rate=1", "--arrival").error(), Catch::Contains("no name"));
}

TEST_CASE("policy parameters are checked against the implementation's table") {
  CHECK_THAT(arrivalError("weibull:rate=1"), Catch::Contains("unknown arrival process 'weibull'") &&
                                                 Catch::Contains("poisson, gamma, onoff"));
  CHECK_THAT(arrivalError("poisson"),
             Catch::Contains("arrival process 'poisson': missing required parameter 'rate'"));
  CHECK_THAT(arrivalError("poisson:rate=0"),
             Catch::Contains("parameter 'rate' = 0 is out of range: expected greater than 0"));
  CHECK_THAT(arrivalError("poisson:rate=1,cv=2"),
             Catch::Contains("unknown parameter 'cv' (known: rate)"));
  CHECK_THAT(arrivalError("gamma:rate=1,rate=2"), Catch::Contains("'rate' given twice"));
  CHECK_THAT(arrivalError("gamma:rate=1,cv=0"), Catch::Contains("'cv' = 0 is out of range"));

  Result<PolicySpec> spec = parsePolicySpec("uniform:min=5,max=2.5", "--output");
  REQUIRE(spec.ok());
  CHECK_THAT(makeLengthDistribution(*spec, "--output").error(),
             Catch::Contains("--output: length distribution 'uniform': parameter 'max' = 2.5 "
                             "must be a whole number"));
  spec = parsePolicySpec("uniform:min=5,max=2", "--output");
  CHECK_THAT(makeLengthDistribution(*spec, "--output").error(),
             Catch::Contains("min = 5 is greater than max = 2"));
  spec = parsePolicySpec("fcfs-kv:max_sequences=4", "--admission");
  CHECK_THAT(makeAdmissionPolicy(*spec).error(),
             Catch::Contains("missing required parameter 'kv_tokens'"));
  spec = parsePolicySpec("lifo", "--admission");
  CHECK_THAT(makeAdmissionPolicy(*spec).error(), Catch::Contains("known: fcfs, fcfs-kv"));
}

TEST_CASE("every registered policy documents its parameters") {
  for (const ArrivalProcessInfo &info : arrivalProcessRegistry()) {
    CHECK_FALSE(info.summary.empty());
    CHECK_THAT(describeParameters(info.parameters), Catch::Contains("rate (requests/s"));
  }
  for (const LengthDistributionInfo &info : lengthDistributionRegistry()) {
    CHECK_FALSE(info.summary.empty());
    CHECK_FALSE(info.parameters.empty());
  }
  for (const AdmissionPolicyInfo &info : admissionPolicyRegistry()) {
    CHECK_THAT(describeParameters(info.parameters), Catch::Contains("max_sequences"));
  }
}
