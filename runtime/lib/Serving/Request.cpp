// Checks on a request list before the token loop runs it.
#include "conveyor/Runtime/Request.h"

#include <fmt/format.h>

#include <cmath>

namespace conveyor::runtime {
namespace {
std::string nameOf(const Request &request, size_t index) {
  return request.sourceLine ? fmt::format("request {} (trace line {})", index, request.sourceLine)
                            : fmt::format("request {}", index);
}
} // namespace

Status validateRequests(std::span<const Request> requests) {
  if (requests.empty()) {
    return makeError("no requests to serve: give a trace with at least one line or a "
                     "request count of at least 1");
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const Request &request = requests[i];
    if (!std::isfinite(request.arrivalSeconds) || request.arrivalSeconds < 0) {
      return makeError(fmt::format("{}: arrival time {} s must be finite and >= 0",
                                   nameOf(request, i), request.arrivalSeconds));
    }
    if (i > 0 && request.arrivalSeconds < requests[i - 1].arrivalSeconds) {
      return makeError(fmt::format("{}: arrives at {} s, before the previous request ({} s); "
                                   "sort requests by arrival time",
                                   nameOf(request, i), request.arrivalSeconds,
                                   requests[i - 1].arrivalSeconds));
    }
    if (request.promptTokens == 0 || request.outputTokens == 0) {
      return makeError(fmt::format("{}: needs at least 1 prompt token and 1 output token "
                                   "(has {} and {})",
                                   nameOf(request, i), request.promptTokens, request.outputTokens));
    }
  }
  return Status::success();
}

} // namespace conveyor::runtime
