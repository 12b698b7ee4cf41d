// The LPU serving backend: prices token-loop iterations from the simulator's per-program
// results, so that served traffic runs on cycles the simulator checked: v1 FORWARD programs
// (LpuServingBackend) and v2 layer pipelines of DECODE programs (LpuPipelineBackend).
#pragma once

#include "conveyor/Runtime/ServingBackend.h"
#include "conveyor/Simulator/Simulator.h"

#include <string>
#include <vector>

namespace conveyor::runtime {

struct LpuServingOptions {
  /// Sequences the system may hold in flight (KV capacity and pipeline slots).
  uint32_t maxSequences = 1;
};

/// v1 schedules hold one fixed-shape FORWARD program per chip that processes
/// `tokensPerStep` token positions of one sequence per run, with no KV cache. An iteration
/// therefore runs, one after another on the chip, ceil(newTokens / tokensPerStep) program
/// runs for each sequence in it (a decode step is one run); the context length does not
/// change the cost. Dynamic energy is the program's energy less its static share; static
/// power is `idleWatts()`. When decode/prefill programs per length bucket exist (issue 5)
/// this backend prices iterations from those instead.
class LpuServingBackend final : public ServingBackend {
public:
  /// Fails if the report holds no program, or a program with zero time or tokens.
  static Result<LpuServingBackend> create(const sim::SimulationReport &report,
                                          const system::SystemConfig &system,
                                          const LpuServingOptions &options = {});

  std::string name() const override { return backendName; }
  uint32_t maxSequences() const override { return sequenceLimit; }
  uint32_t devices() const override { return chips; }
  double idleWatts() const override { return staticWatts; }
  Result<IterationCost> iterationCost(std::span<const SequenceWork> work) override;

private:
  LpuServingBackend() = default;
  std::string backendName;
  uint32_t sequenceLimit = 1, chips = 1;
  double staticWatts = 0;
  double runSeconds = 0;       // one run of the step program
  double runDynamicJoules = 0; // its energy above static power
  uint64_t tokensPerRun = 1;
};

/// One pipeline stage of a v2 PREFILL or DECODE step as the simulator timed it: the stage's
/// template program and its instances run together on `chips` chips.
struct DecodeStage {
  std::string program;
  uint32_t chips = 0;
  uint64_t endCycle = 0;   // latest end over the stage's chips (stages run in sequence, so
                           // this counts from the step entering stage 0)
  uint64_t busyCycles = 0; // the stage's busiest unit on its busiest chip
  double dynamicJoules = 0; // energy above static power, all the stage's chips, one step
};

/// The programs of one length bucket, in pipeline (schedule) order: DECODE programs of one
/// kv_length, or (prefill) PREFILL programs of one prompt_length.
struct DecodeBucket {
  uint64_t kvLength = 0; // 0 = not bucketed (serves any context)
  std::vector<DecodeStage> stages;
  bool prefill = false;      // a PREFILL bucket
  uint64_t promptLength = 0; // its prompt length (prefill only)
};

/// True when `schedule` holds DECODE programs (a v2 layer-pipeline schedule).
bool hasDecodePrograms(const schedule::Schedule &schedule);

/// Groups the simulated runs of every DECODE and PREFILL program by bucket (kv_length,
/// prompt_length) and stage, buckets in order of first appearance. Fails, naming the
/// program, if a program has no simulated run or a zero end cycle.
Result<std::vector<DecodeBucket>> pipelineBuckets(const schedule::Schedule &schedule,
                                                  const sim::SimulationReport &report);
/// The DECODE buckets of pipelineBuckets() only.
Result<std::vector<DecodeBucket>> decodeBuckets(const schedule::Schedule &schedule,
                                                const sim::SimulationReport &report);

/// Prices token-loop iterations on a v2 layer pipeline of P stages (docs/runtime.md,
/// "LpuPipelineBackend"). Per bucket: latency L = end cycle of the last stage (one step of
/// one sequence through all stages); stage time T = max over stages of
/// max(end_k - end_{k-1}, busy_k). Every sequence in flight takes one step per iteration,
/// priced from its own bucket: a decode step from the smallest DECODE bucket that holds its
/// KV after the step (latency L, occupancy T); a prefill from the smallest PREFILL bucket
/// that holds the prompt (c runs of the largest when none does: latency L + (c-1) T,
/// occupancy c T) or, when that is quicker or no PREFILL program exists, token by token
/// through DECODE programs (latency L + (u-1) T, occupancy u T). The steps share the
/// pipeline: an iteration takes max(max latency, sum of occupancies) cycles, so S decoding
/// sequences take max(L, S T): per token per sequence max(T, L / S). Sequences in flight
/// are limited by maxSequences and by the fewest stages of any bucket.
class LpuPipelineBackend final : public ServingBackend {
public:
  static Result<LpuPipelineBackend> create(const schedule::Schedule &schedule,
                                           const sim::SimulationReport &report,
                                           const system::SystemConfig &system,
                                           const LpuServingOptions &options = {});
  /// From buckets already grouped (tests, or a caller with its own fabric run); PREFILL
  /// buckets are those with `prefill` set. At least one DECODE bucket is needed.
  static Result<LpuPipelineBackend> create(std::vector<DecodeBucket> buckets, double clockHz,
                                           const std::string &systemName,
                                           const system::SystemConfig &system,
                                           const LpuServingOptions &options = {});

  std::string name() const override { return backendName; }
  uint32_t maxSequences() const override { return sequenceLimit; }
  uint32_t devices() const override { return chips; }
  double idleWatts() const override { return staticWatts; }
  Result<IterationCost> iterationCost(std::span<const SequenceWork> work) override;

  /// Per DECODE bucket (ascending kv length): latency L and stage time T in cycles.
  uint64_t latencyCycles(size_t bucket) const { return buckets[bucket].latency; }
  uint64_t stageCycles(size_t bucket) const { return buckets[bucket].stage; }
  uint64_t kvLength(size_t bucket) const { return buckets[bucket].length; }
  size_t bucketCount() const { return buckets.size(); }
  /// Per PREFILL bucket (ascending prompt length).
  uint64_t prefillLatencyCycles(size_t bucket) const { return prefills[bucket].latency; }
  uint64_t prefillStageCycles(size_t bucket) const { return prefills[bucket].stage; }
  uint64_t promptLength(size_t bucket) const { return prefills[bucket].length; }
  size_t prefillBucketCount() const { return prefills.size(); }
  /// Approximations and limits of this pricing, one line each, for the report.
  const std::vector<std::string> &notes() const { return modelNotes; }

private:
  struct Priced {
    uint64_t length = 0, latency = 0, stage = 0; // length: kv (decode) or prompt (prefill)
    uint32_t stages = 0;
    double busyChipCycles = 0; // sum over stages of chips x stage occupancy, one step
    double dynamicJoules = 0;  // one step through all stages
  };
  /// One sequence's part of an iteration, in cycles and joules.
  struct StepCost {
    double latency = 0, occupancy = 0, busyChipCycles = 0, dynamicJoules = 0;
  };
  Result<StepCost> decodeCost(uint64_t tokens, uint64_t context) const;
  LpuPipelineBackend() = default;
  std::string backendName;
  uint32_t sequenceLimit = 1, chips = 1;
  double staticWatts = 0, clockHz = 0;
  std::vector<Priced> buckets;  // DECODE, ascending kv length
  std::vector<Priced> prefills; // PREFILL, ascending prompt length
  std::vector<std::string> modelNotes;
};

} // namespace conveyor::runtime
