// Synthetic request traffic: an arrival process plus prompt and output length
// distributions, fixed by a seed so that every backend can be fed the identical stream.
#pragma once

#include "conveyor/Runtime/PolicySpec.h"
#include "conveyor/Runtime/Request.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <vector>

namespace conveyor::runtime {

struct SyntheticTrafficConfig {
  uint32_t requests = 1000;
  uint64_t seed = 1;
  PolicySpec arrivals{"poisson", {{"rate", 10.0}}};
  PolicySpec promptTokens{"fixed", {{"tokens", 512.0}}};
  PolicySpec outputTokens{"fixed", {{"tokens", 128.0}}};
};

/// Draws `config.requests` requests. Arrivals, prompt lengths and output lengths use three
/// independent random streams of one seed: changing the prompt distribution leaves the
/// arrival times unchanged. The first arrival is one gap after time 0.
Result<std::vector<Request>> generateRequests(const SyntheticTrafficConfig &config);

} // namespace conveyor::runtime
