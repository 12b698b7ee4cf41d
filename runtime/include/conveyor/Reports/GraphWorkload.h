// The GPU roofline's per-op workload profile of a model as the compiler sees it: built from
// the planner's ModelSummary, which conveyor/Partition/ModelSummaryAnalysis.h reads off the
// imported cv.graph (weights by role and layer, KV-cache inputs, router top_k). So the GPU
// side of `conveyor compare` and of the validation table times the same graph that the LPU
// compiler partitions. Formulas: docs/gpu-model.md, "Workload profile from the graph".
#pragma once

#include "conveyor/Gpu/WorkloadProfile.h"
#include "conveyor/Partition/Planner.h"
#include "conveyor/Support/Result.h"

#include <cstdint>
#include <string>

namespace conveyor::reports {

/// Per op, per layer group: attn.qkv_proj, attn.core, attn.o_proj, mlp.up + mlp.down (or
/// moe.router + moe.expert) and elementwise (norms); once per step embedding, final_norm and
/// lm_head. Consecutive layers with identical summaries share one set of ops (`repeats` =
/// the group's size); groups after the first are named with their layer range. Weight bytes
/// are the summary's element counts at `options.precision`; norm weights stay 16-bit.
/// An Error (naming the model) for a summary without layers, heads or hidden size.
Result<gpu::WorkloadProfile> buildGraphWorkloadProfile(const partition::ModelSummary &model,
                                                       const gpu::ProfileOptions &options);

/// One op's work in one step, as the roofline counts it on one GPU (no tensor parallelism).
struct OpStepWork {
  std::string name, kind;
  uint32_t repeats = 1;
  double flops = 0, weightBytes = 0, activationBytes = 0, kvBytes = 0;
};
/// Every op's FLOPs and bytes for a prefill of `prompt` tokens and for one decode step at a
/// KV length of `kvLength` tokens (batch 1), all repeats included.
struct ProfileStepTable {
  uint64_t prompt = 0, kvLength = 0;
  std::vector<OpStepWork> prefill, decode;
};
Result<ProfileStepTable> profileStepTable(const gpu::WorkloadProfile &profile, uint64_t prompt,
                                          uint64_t kvLength);

/// `conveyor inspect --profile`: the profile (per-op costs per token / per context token) and
/// its step table as one JSON object. `source` names the graph it was read from.
std::string renderWorkloadProfileJson(const gpu::WorkloadProfile &profile,
                                      const ProfileStepTable &table, const std::string &source,
                                      const gpu::PrecisionConfig &precision);

} // namespace conveyor::reports
