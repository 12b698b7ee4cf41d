// One call from "this traffic on this backend" to a ServingReport: what `conveyor simulate
// --requests/--rate/--trace` (and later `conveyor compare`) runs, for any backend.
#pragma once

#include "conveyor/Runtime/Request.h"
#include "conveyor/Runtime/ServingBackend.h"
#include "conveyor/Runtime/ServingReport.h"
#include "conveyor/Support/Result.h"

#include <optional>
#include <string>
#include <vector>

namespace conveyor::runtime {

struct TrafficOptions {
  std::string traceFile;          // JSONL or CSV; when set, replayed instead of synthetic traffic
  uint32_t requests = 0;          // synthetic: how many requests
  std::optional<double> rate;     // synthetic: Poisson arrivals at this rate (requests/s)
  std::string arrivals;           // synthetic: full arrival spec ("gamma:rate=4,cv=3"); wins over rate
  std::string promptTokens = "128"; // length spec ("512", "uniform:min=64,max=512", ...)
  std::string outputTokens = "128";
  uint64_t seed = 1;
  std::string admission = "fcfs"; // admission spec ("fcfs:max_sequences=8", "fcfs-kv:...")
  ServiceLevelObjectives slo;
};

/// The request stream the options describe (trace file, or synthetic with a seed). Errors
/// name the option or trace line at fault.
Result<std::vector<Request>> makeTraffic(const TrafficOptions &options);

/// Runs the traffic through the token loop on `backend` and measures it.
Result<ServingReport> serve(const TrafficOptions &options, ServingBackend &backend);

} // namespace conveyor::runtime
