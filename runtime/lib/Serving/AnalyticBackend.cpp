// The closed-form pipeline backend (formulas in AnalyticBackend.h and docs/runtime.md).
#include "conveyor/Runtime/AnalyticBackend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace conveyor::runtime {

Result<AnalyticBackend> AnalyticBackend::create(const AnalyticBackendConfig &config) {
  const std::string where = fmt::format("analytic backend '{}'", config.name);
  struct Count {
    const char *field;
    uint32_t value;
  };
  for (const Count &count :
       {Count{"pipeline_stages", config.pipelineStages},
        Count{"max_sequences", config.maxSequences}, Count{"devices", config.devices}}) {
    if (count.value == 0) {
      return makeError(fmt::format("{}: {} must be at least 1", where, count.field));
    }
  }
  struct Amount {
    const char *field;
    double value;
  };
  for (const Amount &amount :
       {Amount{"idle_watts", config.idleWatts},
        Amount{"iteration_fixed_seconds", config.iterationFixedSeconds},
        Amount{"stage_seconds", config.stageSeconds},
        Amount{"stage_seconds_per_new_token", config.stageSecondsPerNewToken},
        Amount{"stage_seconds_per_context_token", config.stageSecondsPerContextToken},
        Amount{"iteration_fixed_joules", config.iterationFixedJoules},
        Amount{"joules_per_new_token", config.joulesPerNewToken},
        Amount{"joules_per_context_token", config.joulesPerContextToken}}) {
    if (!std::isfinite(amount.value) || amount.value < 0) {
      return makeError(
          fmt::format("{}: {} = {} must be finite and >= 0", where, amount.field, amount.value));
    }
  }
  // Every sequence in an iteration brings at least one new token, so this sum bounds the
  // iteration time away from zero and time always advances.
  if (config.iterationFixedSeconds + config.stageSeconds + config.stageSecondsPerNewToken <= 0) {
    return makeError(fmt::format("{}: an iteration would take no time; set "
                                 "iteration_fixed_seconds, stage_seconds or "
                                 "stage_seconds_per_new_token above 0",
                                 where));
  }
  return AnalyticBackend(config);
}

Result<IterationCost> AnalyticBackend::iterationCost(std::span<const SequenceWork> work) {
  if (work.empty()) {
    return makeError(
        fmt::format("analytic backend '{}': asked to cost an empty iteration", config.name));
  }
  double stageSum = 0, stageMax = 0;
  double newTokens = 0, contextTokens = 0;
  for (const SequenceWork &sequence : work) {
    const double stage = config.stageSeconds + config.stageSecondsPerNewToken * sequence.newTokens +
                         config.stageSecondsPerContextToken * double(sequence.contextTokens);
    stageSum += stage;
    stageMax = std::max(stageMax, stage);
    newTokens += sequence.newTokens;
    contextTokens += double(sequence.contextTokens);
  }
  const double pipeline = std::max(stageSum, double(config.pipelineStages) * stageMax);
  IterationCost cost;
  cost.seconds = config.iterationFixedSeconds + pipeline;
  cost.dynamicJoules = config.iterationFixedJoules + config.joulesPerNewToken * newTokens +
                       config.joulesPerContextToken * contextTokens;
  cost.busyDeviceFraction = std::min(1.0, (config.iterationFixedSeconds + stageSum) / cost.seconds);
  return cost;
}

} // namespace conveyor::runtime
