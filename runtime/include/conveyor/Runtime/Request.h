// One inference request as the serving runtime sees it: when it arrives and how many
// tokens it brings and wants.
#pragma once

#include "conveyor/Support/Result.h"

#include <cstdint>
#include <span>

namespace conveyor::runtime {

struct Request {
  double arrivalSeconds = 0; // from the start of the trace; >= 0, non-decreasing in a trace
  uint32_t promptTokens = 1; // >= 1: prefilled in one iteration
  uint32_t outputTokens = 1; // >= 1: the first comes out of prefill, the rest from decode
  /// Line in the trace file it came from (0 for synthetic traffic), for messages.
  uint32_t sourceLine = 0;
};

/// Checks what the token loop relies on: at least one request, finite non-negative
/// non-decreasing arrivals, at least one prompt and one output token. Messages name the
/// request index (and its trace line when known).
Status validateRequests(std::span<const Request> requests);

} // namespace conveyor::runtime
