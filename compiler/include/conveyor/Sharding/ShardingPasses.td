// Passes that split a cv.graph model over many chips (tensor and pipeline parallel).
#ifndef CONVEYOR_SHARDING_SHARDINGPASSES_TD
#define CONVEYOR_SHARDING_SHARDINGPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Partition
//===----------------------------------------------------------------------===//

def PartitionGraph : Pass<"conveyor-partition", "mlir::ModuleOp"> {
  let summary = "Split a fused decoder graph into pipeline stages and tensor-parallel shards";
  let description = [{
    Input: a fused, dims-specialised cv.graph module whose `main` is a decoder (an
    embedding, a residual stream of repeated layers, a tail). The pass finds the layers
    from the residual stream (adds whose other operand depends on the stream), checks
    that they repeat op for op, and writes one function per distinct chip role:

      pre ops (first stage) or cv.graph.recv, then cv.graph.repeat <layers in stage>
      over ONE layer body, then the tail (last stage) or cv.graph.send.

    Each function lists its stages, chips (stage-major, rank order: chip = stage * tp +
    rank), tensor-parallel degree and repeat count as cv.partition.* attributes.
    With tp > 1 every template is split Megatron-style: q/k/v column-split by heads
    (kv heads replicated in groups when tp > kv_heads), attention by heads, o-projection
    and MLP down-projection row-split followed by cv.graph.all_reduce, gate/up
    column-split, MoE experts split by ffn columns + all_reduce, embedding split by
    vocabulary rows + all_reduce, LM head split by vocabulary columns + all_gather.
    Ops it cannot split run replicated behind a cv.graph.all_gather. Sharded weights
    are shape-only cv.graph.weight ops with `shard = [axis, parts]`: every rank's shard
    has one shape, so one template serves all ranks.
  }];
  let options = [
    Option<"tp", "tp", "unsigned", "1", "Tensor-parallel degree (chips per stage)">,
    Option<"stages", "stages", "unsigned", "1",
           "Pipeline stages; layers are split into contiguous, near-equal ranges">,
    ListOption<"stageLayers", "stage-layers", "unsigned",
               "Layers per pipeline stage, in order (sums to the model's layers, at least "
               "one per stage): an unequal split instead of the near-equal one">,
    Option<"systemPath", "system", "std::string", "\"\"",
           "System description (systems/*.yaml); when given, stages whose tensor-parallel "
           "group or pipeline neighbours sit a different number of C2C hops apart get "
           "their own role, so that a template's link timing is that of its own stages">
  ];
  let statistics = [
    Statistic<"numTemplates", "templates", "Distinct chip-role functions written">,
    Statistic<"numAllReduces", "all-reduces", "cv.graph.all_reduce ops inserted">,
    Statistic<"numAllGathers", "all-gathers", "cv.graph.all_gather ops inserted">,
    Statistic<"numShardedWeights", "sharded-weights", "Weights split across ranks">
  ];
}

//===----------------------------------------------------------------------===//
// Communication
//===----------------------------------------------------------------------===//

def LowerCollectives : Pass<"conveyor-lower-collectives", "mlir::ModuleOp"> {
  let summary = "Lower stage sends/receives, all-reduces and all-gathers to routed cv.chip C2C transfers";
  let description = [{
    Run after conveyor-partition. Routes on the fabric of `system` (chip = stage * tp +
    rank, as conveyor-partition places them): cv.graph.send / recv become
    cv.chip.c2c_send / c2c_recv in group "pipeline"; a cv.graph.all_reduce over tp ranks
    becomes a direct exchange, the latency-optimal choice for decode-sized messages on a
    fully connected node: tp - 1 sends of the whole partial value, one per local link,
    tp - 1 receives and a chain of cv.graph.add; when the compiler's own cost of the
    two forms (ChipCostModel for slices, adds and landing payloads, LinkTiming for the
    links) says it is faster, as for prefill's [P, hidden] partials, it becomes a
    reduce-scatter then an all-gather instead: the partial's last axis cut into tp chunks
    numbered relative to the rank, 2 x (tp - 1) messages of 1/tp of it. Each transfer records its port (for the
    template's first chip), its hop count (the most over the chips running the
    template) and its link slot length (bytes / link rate). A cv.graph.all_gather
    becomes parts - 1 sends of this rank's shard, parts - 1 receives and a balanced tree
    of two-operand cv.graph.concat in peer-offset order (own shard first: rank 0 holds
    chip order).

    Column blocks: a direct all-reduce whose partial is a row-parallel matmul of a
    rank-2 weight (the attention o-projection, or the down-projection of a
    cv.graph.gated_mlp, which is unfused for it) is cut into c column blocks: c
    matmuls over the weight's column slices (weights `<name>.cols<j>`; constant data is
    sliced, so numerics are unchanged), each block sent to the peers, received and
    summed as soon as it is produced, so that the links serialise block j while the
    MXM computes block j + 1. When the all-reduce's only user adds the residual, each
    block sum takes the matching column slice of the residual. The block sums are
    joined by a left-to-right cv.graph.concat. c (1, 2, 4, 8 or 16) minimises the
    compiler's estimate of the time from the matmul's issue to the joined sum (matmul,
    link, landing, sum and concatenation costs from ChipCostModel and LinkTiming).
  }];
  let dependentDialects = ["::conveyor::chip::ChipDialect"];
  let options = [
    Option<"systemPath", "system", "std::string", "\"\"",
           "Path of the system YAML (systems/*.yaml)">,
    Option<"activationType", "activations", "std::string", "\"fp16\"",
           "Precision of the messages on the links">,
    Option<"weightType", "weights", "std::string", "\"fp16\"",
           "Precision the MXM weights are stored at (times the column blocks' installs)">,
    Option<"maxColumnBlocks", "max-column-blocks", "unsigned", "16",
           "Most column blocks per all-reduce (1 turns column blocking off)">
  ];
  let statistics = [
    Statistic<"numSends", "c2c-sends", "cv.chip.c2c_send ops written">,
    Statistic<"numColumnBlocked", "column-blocked",
              "all-reduces lowered as column blocks of their matmul">,
    Statistic<"numReduceScatters", "reduce-scatters",
              "all-reduces lowered as reduce-scatter + all-gather">
  ];
}

def VerifyLinkSlots : Pass<"conveyor-verify-link-slots", "mlir::ModuleOp"> {
  let summary = "Check the link slots of scheduled C2C transfers in each chip-role template";
  let description = [{
    For every function whose cv.chip.c2c_send / c2c_recv ops carry `issue` cycles: a
    send's slot is at least its serialisation time (bytes at `activations` precision /
    link rate); slots on one port are disjoint (a port is busy from a send's issue for
    slot_cycles); and a tensor-parallel receive issues no earlier than its send (same
    tag, same template: every rank runs the same cycles) plus the slot and hops x hop
    latency. Pipeline receives are matched across templates only once stage start
    offsets exist (not yet). Errors name the op at fault and the cycle it needed.
  }];
  let options = [
    Option<"systemPath", "system", "std::string", "\"\"",
           "Path of the system YAML (systems/*.yaml)">,
    Option<"activationType", "activations", "std::string", "\"fp16\"",
           "Precision of the messages on the links">
  ];
}

//===----------------------------------------------------------------------===//
// Cost
//===----------------------------------------------------------------------===//

def PartitionBound : Pass<"conveyor-partition-bound", "mlir::ModuleOp"> {
  let summary = "Lower bound on one decode step of a partitioned graph (weight load, MXM, C2C)";
  let description = [{
    Run after conveyor-partition. For each chip-role function, per chip: weight bytes
    (at `weights` precision) plus K/V bytes that go through the MXM weight-install path
    (at `activations` precision), divided by the weight-load rate; MACs divided by the
    MXM rate for `weights`; and the C2C time of its collectives, which sit on the critical
    path (the next op needs their result): a direct all-reduce / all-gather moves one
    message over each of group_size - 1 links in parallel (bytes / link rate + one hop),
    a stage send bytes / link rate + hops x hop latency (hops from the fabric). A layer
    costs max(weight load, MXM) + C2C; a stage pre + repeat x layer + tail. With one
    sequence in flight a token passes every stage in turn, so the decode bound is the sum
    over stages. Writes cv.partition.bound on each function and
    cv.partition.decode_bound_cycles / _tokens_per_s on the module.
  }];
  let options = [
    Option<"systemPath", "system", "std::string", "\"\"",
           "Path of the system YAML (systems/*.yaml)">,
    Option<"weightType", "weights", "std::string", "\"int8\"",
           "Stored weight precision: fp16, bf16, fp8, int8, int4">,
    Option<"activationType", "activations", "std::string", "\"fp16\"",
           "Precision of activations, K/V and C2C messages">
  ];
  let statistics = [
    Statistic<"decodeBoundCycles", "decode-bound-cycles", "Lower bound of one decode step">
  ];
}

#endif // CONVEYOR_SHARDING_SHARDINGPASSES_TD
