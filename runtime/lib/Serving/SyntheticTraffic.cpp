// Seeded synthetic traffic: arrival process + prompt/output length distributions.
#include "conveyor/Runtime/SyntheticTraffic.h"

#include "conveyor/Runtime/ArrivalProcess.h"
#include "conveyor/Runtime/LengthDistribution.h"

#include <fmt/format.h>

namespace conveyor::runtime {
namespace {
// Stream numbers of the three independent random sequences drawn from one seed.
constexpr uint64_t arrivalStream = 1, promptStream = 2, outputStream = 3;
} // namespace

Result<std::vector<Request>> generateRequests(const SyntheticTrafficConfig &config) {
  if (config.requests == 0) {
    return makeError("synthetic traffic: requests must be at least 1");
  }
  Result<std::unique_ptr<ArrivalProcess>> arrivals = makeArrivalProcess(config.arrivals);
  if (!arrivals) {
    return arrivals.takeError();
  }
  Result<std::unique_ptr<LengthDistribution>> prompt =
      makeLengthDistribution(config.promptTokens, "prompt tokens");
  if (!prompt) {
    return prompt.takeError();
  }
  Result<std::unique_ptr<LengthDistribution>> output =
      makeLengthDistribution(config.outputTokens, "output tokens");
  if (!output) {
    return output.takeError();
  }
  Rng arrivalRng(config.seed, arrivalStream), promptRng(config.seed, promptStream),
      outputRng(config.seed, outputStream);
  std::vector<Request> requests(config.requests);
  double now = 0;
  for (Request &request : requests) {
    now += (*arrivals)->nextGapSeconds(arrivalRng);
    request.arrivalSeconds = now;
    request.promptTokens = (*prompt)->sample(promptRng);
    request.outputTokens = (*output)->sample(outputRng);
  }
  return requests;
}

} // namespace conveyor::runtime
