// The LPU side of `conveyor compare` / `conveyor explore`: what a deployment of a model on an
// LPU fabric costs per token, behind a small interface so that the planner's estimate used
// today can be replaced by simulated step programs later without touching the reports.
//
// Pipeline model (docs/reports.md): a token of one sequence passes the P pipeline stages one
// after another, taking `latency` seconds end to end, and occupies each stage for
// `occupancy` seconds. An iteration that advances the sequences i lasts
//     T = max(sum_i occupancy_i, max_i latency_i)
// (stages serve one sequence at a time; a sequence needs its whole latency before its next
// token). A decode token has occupancy = latency / P, so S equal decodes take
// max(S, P) x latency / P: per-user speed is flat until S exceeds P.
#pragma once

#include "conveyor/Runtime/ServingBackend.h"
#include "conveyor/Support/Result.h"

#include <memory>
#include <string>

namespace conveyor::reports {

/// Time and energy of one sequence's share of an iteration.
struct TokenCost {
  double latencySeconds = 0;   // first stage in to last stage out
  double occupancySeconds = 0; // time it holds each stage
  double dynamicJoules = 0;    // energy above static power, all chips
};

/// Contract: deterministic, latency >= occupancy > 0, joules >= 0.
class LpuStepModel {
public:
  virtual ~LpuStepModel() = default;
  virtual std::string name() const = 0;
  virtual uint32_t chips() const = 0;
  virtual uint32_t pipelineStages() const = 0;
  /// Sequences whose KV cache is resident at once.
  virtual uint32_t maxSequences() const = 0;
  /// Static power of the whole system (all chips), watts.
  virtual double staticWatts() const = 0;
  /// Decoding one token with `contextTokens` already cached.
  virtual TokenCost decode(uint64_t contextTokens) const = 0;
  /// Prefilling a prompt of `promptTokens` (its first output token included).
  virtual TokenCost prefill(uint32_t promptTokens) const = 0;
};

/// The closed-form numbers of an LPU deployment, as the partition planner estimates them
/// (PlannerEstimate.h fills it from a Plan). All times in seconds, energies in joules.
struct LpuDeploymentEstimate {
  std::string name; // e.g. "lpu:groq-576 int8"
  uint32_t chips = 1;
  uint32_t pipelineStages = 1;
  uint32_t maxSequences = 1;
  double staticWattsPerChip = 0;
  /// Decode latency of one token at context 0 (weight load, compute, fixed latencies,
  /// collectives and stage hops: the planner's LatencyEstimate).
  double decodeSeconds = 0;
  /// Extra decode latency per cached context token (K and V read through the MXM path).
  double decodeSecondsPerContextToken = 0;
  /// Extra prefill latency per prompt token after the first: the slowest stage's MXM time
  /// for one token (prompt tokens stream through the pipeline back to back).
  double prefillSecondsPerToken = 0;
  /// Dynamic energy of one decode token at context 0 (weights read, MACs, C2C traffic).
  double decodeJoules = 0;
  /// Dynamic energy per cached context token read by one decode (K and V reads).
  double joulesPerContextToken = 0;
  /// Prefill: weights read once per prompt, then per prompt token MACs, C2C and KV writes.
  double prefillFixedJoules = 0;
  double prefillJoulesPerToken = 0;
};

/// Checks an estimate (counts >= 1, times > 0 where needed, nothing negative or NaN); the
/// message names the estimate and the field.
Status validateEstimate(const LpuDeploymentEstimate &estimate);

/// The step model of an estimate:
///   decode(c):  latency = decodeSeconds + c x decodeSecondsPerContextToken,
///               occupancy = latency / P, joules = decodeJoules + c x joulesPerContextToken
///   prefill(n): latency = decodeSeconds + (n - 1) x prefillSecondsPerToken,
///               occupancy = decodeSeconds / P + (n - 1) x prefillSecondsPerToken,
///               joules = prefillFixedJoules + n x prefillJoulesPerToken
class EstimatedLpuStepModel final : public LpuStepModel {
public:
  static Result<std::unique_ptr<EstimatedLpuStepModel>> create(LpuDeploymentEstimate estimate);

  std::string name() const override { return estimate.name; }
  uint32_t chips() const override { return estimate.chips; }
  uint32_t pipelineStages() const override { return estimate.pipelineStages; }
  uint32_t maxSequences() const override { return estimate.maxSequences; }
  double staticWatts() const override { return estimate.staticWattsPerChip * estimate.chips; }
  TokenCost decode(uint64_t contextTokens) const override;
  TokenCost prefill(uint32_t promptTokens) const override;
  const LpuDeploymentEstimate &settings() const { return estimate; }

private:
  explicit EstimatedLpuStepModel(LpuDeploymentEstimate estimate) : estimate(std::move(estimate)) {}
  LpuDeploymentEstimate estimate;
};

/// An LpuStepModel as the runtime's ServingBackend, with the iteration rule above;
/// busyDeviceFraction = min(1, sum occupancy / T).
class LpuStepBackend final : public runtime::ServingBackend {
public:
  explicit LpuStepBackend(std::shared_ptr<const LpuStepModel> model) : model(std::move(model)) {}

  std::string name() const override { return model->name(); }
  uint32_t maxSequences() const override { return model->maxSequences(); }
  uint32_t devices() const override { return model->chips(); }
  double idleWatts() const override { return model->staticWatts(); }
  Result<runtime::IterationCost>
  iterationCost(std::span<const runtime::SequenceWork> work) override;

private:
  std::shared_ptr<const LpuStepModel> model;
};

/// Steady-state decode with `sequences` in flight at `contextTokens` each, straight from
/// the iteration rule: per-user tokens/s, aggregate tokens/s and J/token (static power of
/// every chip over the iteration plus the dynamic energy, over the tokens it produces).
struct SteadyDecode {
  double iterationSeconds = 0;
  double perUserTokensPerSecond = 0;
  double aggregateTokensPerSecond = 0;
  double joulesPerToken = 0;
  double watts = 0;
};
Result<SteadyDecode> steadyDecode(runtime::ServingBackend &backend, uint32_t sequences,
                                  uint64_t contextTokens);

} // namespace conveyor::reports
