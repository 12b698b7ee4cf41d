// Static-batch and offline continuous-batching runs replayed on the GPU roofline.

#include "conveyor/Gpu/BenchmarkScenarios.h"

#include "conveyor/Gpu/Roofline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace conveyor::gpu {

namespace {

Status checkDeployment(const WorkloadProfile &profile, const GpuConfig &gpu,
                       Deployment deployment) {
  if (deployment.tensorParallel == 0 || deployment.replicas == 0) {
    return makeError(fmt::format("{} on {}: tensor parallelism and replicas must be at least 1",
                                 profile.name, gpu.name));
  }
  return Status::success();
}

} // namespace

Result<ScenarioResult> runStaticBatch(const GpuConfig &gpu, const WorkloadProfile &profile,
                                      Deployment deployment, const StaticBatchRun &run) {
  if (Status ok = checkDeployment(profile, gpu, deployment); !ok.ok()) {
    return makeError(ok.error());
  }
  if (run.batch == 0 || run.promptTokens == 0 || run.outputTokens == 0) {
    return makeError(fmt::format("{} on {}: a static batch needs batch, prompt and output "
                                 "tokens of at least 1",
                                 profile.name, gpu.name));
  }
  Result<MemoryPlan> plan = planMemory(gpu, profile, deployment.tensorParallel);
  if (!plan.ok()) {
    return makeError(plan.error());
  }
  double kvTokens = double(run.batch) * (double(run.promptTokens) + run.outputTokens);
  if (kvTokens > plan->kvTokenCapacity) {
    return makeError(fmt::format(
        "{} on {} x {}: batch {} of {}+{} tokens needs KV for {:.0f} tokens, the free HBM "
        "holds {:.0f}; lower the batch or add tensor parallelism",
        profile.name, deployment.tensorParallel, gpu.name, run.batch, run.promptTokens,
        run.outputTokens, kvTokens, plan->kvTokenCapacity));
  }

  SequenceGroup prefill{Phase::Prefill, run.promptTokens, 0, double(run.batch)};
  Result<StepCost> first = evaluateStep(gpu, profile, deployment.tensorParallel, {&prefill, 1});
  if (!first.ok()) {
    return makeError(first.error());
  }
  double seconds = first->seconds;
  double joules = first->joules;
  double decodeSeconds = 0;
  for (uint32_t step = 1; step < run.outputTokens; ++step) {
    SequenceGroup decode{Phase::Decode, 1, uint64_t(run.promptTokens) + step - 1,
                         double(run.batch)};
    Result<StepCost> cost = evaluateStep(gpu, profile, deployment.tensorParallel, {&decode, 1});
    if (!cost.ok()) {
      return makeError(cost.error());
    }
    decodeSeconds += cost->seconds;
    joules += cost->joules;
  }
  seconds += decodeSeconds;

  ScenarioResult result;
  double tokensPerReplica = double(run.batch) * run.outputTokens;
  result.outputTokensPerSecond = tokensPerReplica / seconds * deployment.replicas;
  result.batch = run.batch;
  result.firstTokenSeconds = first->seconds;
  result.decodeStepSeconds = run.outputTokens > 1 ? decodeSeconds / (run.outputTokens - 1) : 0;
  result.joulesPerOutputToken = joules / tokensPerReplica;
  result.meanWattsPerGpu = joules / (seconds * deployment.tensorParallel);
  return result;
}

Result<ScenarioResult> runOffline(const GpuConfig &gpu, const WorkloadProfile &profile,
                                  Deployment deployment, const OfflineRun &run) {
  if (Status ok = checkDeployment(profile, gpu, deployment); !ok.ok()) {
    return makeError(ok.error());
  }
  if (run.promptTokens == 0 || run.outputTokens < 2 || run.maxBatch == 0) {
    return makeError(fmt::format("{} on {}: an offline run needs prompt tokens >= 1, output "
                                 "tokens >= 2 and a max batch >= 1",
                                 profile.name, gpu.name));
  }
  Result<MemoryPlan> plan = planMemory(gpu, profile, deployment.tensorParallel);
  if (!plan.ok()) {
    return makeError(plan.error());
  }
  const double decodeSteps = run.outputTokens - 1;
  const double meanContext = run.promptTokens + decodeSteps / 2.0;
  // Paged KV: the cache holds each sequence's current length, on average the mean context.
  double fitting = std::floor(plan->kvTokenCapacity / (meanContext + 1));
  double batch = std::min<double>(run.maxBatch, fitting);
  if (batch < 1) {
    return makeError(fmt::format("{} on {} x {}: not even one sequence of {} tokens fits "
                                 "next to the weights",
                                 profile.name, deployment.tensorParallel, gpu.name,
                                 uint64_t(meanContext)));
  }
  SequenceGroup groups[2] = {
      {Phase::Decode, 1, uint64_t(std::llround(meanContext)), batch},
      {Phase::Prefill, run.promptTokens, 0, batch / decodeSteps},
  };
  Result<StepCost> step = evaluateStep(gpu, profile, deployment.tensorParallel, groups);
  if (!step.ok()) {
    return makeError(step.error());
  }
  SequenceGroup onePrompt{Phase::Prefill, run.promptTokens, 0, 1};
  Result<StepCost> prompt = evaluateStep(gpu, profile, deployment.tensorParallel, {&onePrompt, 1});
  if (!prompt.ok()) {
    return makeError(prompt.error());
  }

  ScenarioResult result;
  double tokensPerStep = batch * run.outputTokens / decodeSteps;
  result.outputTokensPerSecond = tokensPerStep / step->seconds * deployment.replicas;
  result.batch = batch;
  result.firstTokenSeconds = prompt->seconds;
  result.decodeStepSeconds = step->seconds;
  result.joulesPerOutputToken = step->joules / tokensPerStep;
  result.meanWattsPerGpu = step->wattsPerGpu;
  return result;
}

} // namespace conveyor::gpu
