// What the token loop asks of an accelerator (LPU simulator, GPU roofline, analytic model):
// how long one iteration over the sequences in flight takes and how much energy it uses.
//
// Contract for implementations:
// - `iterationCost` is given the work of one iteration: for each sequence in flight, in
//   the loop's order, either a prefill of its whole prompt or the decode of one token, and
//   the number of tokens already in its KV cache. Every sequence in the list produces one
//   output token when the iteration ends.
// - It returns `seconds` > 0 and finite, `dynamicJoules` >= 0 (energy above the static
//   power, which the loop accounts separately from `idleWatts()`), and
//   `busyDeviceFraction` in [0, 1]: the time-averaged share of devices doing work during
//   the iteration. An error (e.g. a context length beyond the compiled buckets) stops the
//   run; its message names the backend and what to change.
// - Deterministic: the same work gives the same cost. It may cache by work shape.
// - Never called with an empty list, nor with more than `maxSequences()` entries.
// - An LPU runs a pipeline of P stages, each busy with one sequence at a time, so an
//   iteration of S equal sequences takes max(P, S) x stage time; a GPU runs one batched
//   step whose time depends on the batch. Both fit this one question.
#pragma once

#include "conveyor/Support/Result.h"

#include <cstdint>
#include <span>
#include <string>

namespace conveyor::runtime {

enum class SequencePhase : uint8_t { Prefill, Decode };

struct SequenceWork {
  SequencePhase phase = SequencePhase::Decode;
  uint32_t newTokens = 1;     // prompt tokens to prefill, or 1 for a decode step
  uint64_t contextTokens = 0; // tokens already in this sequence's KV cache (0 for prefill)
};

struct IterationCost {
  double seconds = 0;
  double dynamicJoules = 0;
  double busyDeviceFraction = 0;
};

class ServingBackend {
public:
  virtual ~ServingBackend() = default;
  /// Short name for reports, e.g. "lpu:groq-576" or "analytic".
  virtual std::string name() const = 0;
  /// Most sequences it can hold in flight at once (KV cache memory, pipeline slots); >= 1.
  virtual uint32_t maxSequences() const = 0;
  /// Chips (LPU) or GPUs of the whole system.
  virtual uint32_t devices() const = 0;
  /// Static power of the whole system in watts, drawn all the time, busy or idle.
  virtual double idleWatts() const = 0;
  virtual Result<IterationCost> iterationCost(std::span<const SequenceWork> work) = 0;
};

} // namespace conveyor::runtime
