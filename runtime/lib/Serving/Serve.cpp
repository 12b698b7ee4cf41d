// serve(): traffic options -> requests -> token loop -> metrics.
#include "conveyor/Runtime/Serve.h"

#include "conveyor/Runtime/AdmissionPolicy.h"
#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/SyntheticTraffic.h"
#include "conveyor/Runtime/TokenLoop.h"
#include "conveyor/Runtime/TraceFile.h"

#include <fmt/format.h>

namespace conveyor::runtime {

Result<std::vector<Request>> makeTraffic(const TrafficOptions &options) {
  if (!options.traceFile.empty()) {
    if (options.requests != 0 || options.rate || !options.arrivals.empty()) {
      return makeError("--trace replays a file: drop --requests, --rate and --arrivals, which "
                       "describe synthetic traffic");
    }
    return readTraceFile(options.traceFile);
  }
  if (options.requests == 0) {
    return makeError("synthetic traffic needs --requests N (or replay a file with --trace)");
  }
  SyntheticTrafficConfig config;
  config.requests = options.requests;
  config.seed = options.seed;
  if (!options.arrivals.empty()) {
    Result<PolicySpec> spec = parsePolicySpec(options.arrivals, "--arrivals");
    if (!spec) {
      return spec.takeError();
    }
    config.arrivals = *spec;
  } else if (options.rate) {
    config.arrivals = PolicySpec{"poisson", {{"rate", *options.rate}}};
  } else {
    return makeError("synthetic traffic needs an arrival rate: add --rate R (requests/s) or "
                     "--arrivals SPEC");
  }
  Result<PolicySpec> prompt = parsePolicySpec(options.promptTokens, "--prompt");
  if (!prompt) {
    return prompt.takeError();
  }
  Result<PolicySpec> output = parsePolicySpec(options.outputTokens, "--output");
  if (!output) {
    return output.takeError();
  }
  config.promptTokens = *prompt;
  config.outputTokens = *output;
  return generateRequests(config);
}

Result<ServingReport> serve(const TrafficOptions &options, ServingBackend &backend) {
  Result<std::vector<Request>> requests = makeTraffic(options);
  if (!requests) {
    return requests.takeError();
  }
  Result<PolicySpec> admissionSpec = parsePolicySpec(options.admission, "--admission");
  if (!admissionSpec) {
    return admissionSpec.takeError();
  }
  Result<std::unique_ptr<AdmissionPolicy>> admission = makeAdmissionPolicy(*admissionSpec);
  if (!admission) {
    return admission.takeError();
  }
  Result<ServingRun> run = runTokenLoop(*requests, backend, **admission);
  if (!run) {
    return run.takeError();
  }
  return makeServingReport(*run, options.slo);
}

} // namespace conveyor::runtime
