// Passes on cv.chip: placement and scheduling.
#ifndef CONVEYOR_DIALECT_CHIP_CHIPPASSES_TD
#define CONVEYOR_DIALECT_CHIP_CHIPPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Placement
//===----------------------------------------------------------------------===//

def AllocateSram : Pass<"conveyor-allocate-sram", "mlir::ModuleOp"> {
  let summary = "Give every SRAM-resident tensor a byte address within capacity";
  let description = [{
    Sets `sram_addr` on every cv.chip op that produces a tensor. Views share the
    address of their source. Fails with the bytes needed vs available when the
    tensors do not fit.
  }];
  let options = [
    Option<"systemPath", "system", "std::string", "\"\"",
           "Path of the system YAML (systems/*.yaml)">,
    Option<"checkCapacity", "check-capacity", "bool", "true",
           "Fail when the tensors exceed the chip's SRAM (off where a later step allocates "
           "again with reuse, as the multi-chip compile does for its stage templates)">
  ];
  let statistics = [
    Statistic<"numBytesAllocated", "bytes-allocated", "SRAM bytes given to tensors">
  ];
}

//===----------------------------------------------------------------------===//
// Scheduling
//===----------------------------------------------------------------------===//

def ScheduleInstructions : Pass<"conveyor-schedule", "mlir::ModuleOp"> {
  let summary = "Assign each instruction an exact issue cycle";
  let description = [{
    List scheduling in dependence order: an instruction issues at the first cycle at
    which its functional unit is free and all its operands have arrived, using the
    compiler's cost model of the chip described by `system`. Sets `issue` on every
    op, and `cv.end_cycle` on the function.
  }];
  let options = [
    Option<"systemPath", "system", "std::string", "\"\"",
           "Path of the system YAML (systems/*.yaml)">
  ];
  let statistics = [
    Statistic<"numInstructions", "instructions", "Instructions scheduled">,
    Statistic<"endCycle", "end-cycle", "Cycle at which the last instruction completes">
  ];
}

//===----------------------------------------------------------------------===//
// Decode latency
//===----------------------------------------------------------------------===//

def ShortenChains : Pass<"conveyor-chip-shorten-chains", "mlir::ModuleOp"> {
  let summary = "Shorten dependence chains of a decode step: unit-axis transposes, add chains";
  let description = [{
    Two rewrites that keep every value and shorten the critical path:
    an `sxm_transpose` that only moves size-1 axes keeps the bytes in place and becomes a
    `view`; a chain of `vxm_binary add` whose intermediate sums have no other use (the
    all-reduce of the partial sums received from tensor-parallel peers, then the residual)
    becomes one `vxm_sum` of its n addends (sums of at most 32, nested, past 32): one VXM
    pass instead of n - 1 dependent adds. The sum accumulates in f32 and rounds once, so
    its rounding differs from the chain's (as the order of peers in an all-reduce already
    makes it).
  }];
}

def FoldAttentionScale : Pass<"conveyor-chip-fold-attention-scale", "mlir::ModuleOp"> {
  let summary = "Fold a scalar multiply of the queries (the attention scale) into q's weights";
  let description = [{
    `vxm_binary mul` of a value by a one-element constant weight (the 1/sqrt(d) attention
    scale of convert-graph-to-chip) is removed when the value comes from a projection
    `mxm_matmul` by a rank-2 weight (or `mxm_matmul_dq` with its per-channel scales)
    through ops linear in it, each result used once: views, `sxm_transpose`,
    `vxm_rotary` (x cos + rotate_half(x) sin), and the lhs of the scores product
    q k^T (scaling the scores scales the queries). The factor goes into the weight's data
    (or the dequantisation scales); shape-only weights have no data to change. Run it
    before apply-precision, so that quantisation sees the scaled weights. One VXM pass
    per layer leaves the decode critical path; numerics change only by rounding.
  }];
  let statistics = [
    Statistic<"numFolded", "folded", "scalar multiplies folded into projection weights">
  ];
}

#endif // CONVEYOR_DIALECT_CHIP_CHIPPASSES_TD
