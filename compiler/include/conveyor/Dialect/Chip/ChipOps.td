// cv.chip operations: one instruction each.
#ifndef CONVEYOR_DIALECT_CHIP_CHIPOPS_TD
#define CONVEYOR_DIALECT_CHIP_CHIPOPS_TD

include "conveyor/Dialect/Chip/ChipDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

// Placement and timing attributes every instruction may carry.
defvar ChipPlacement = (ins OptionalAttr<I64Attr>:$issue,
                            OptionalAttr<I64Attr>:$sram_addr,
                            OptionalAttr<I32Attr>:$chip);

//===----------------------------------------------------------------------===//
// MEM: residency and host transfers
//===----------------------------------------------------------------------===//

def Chip_WeightOp : Chip_Op<"weight", [Pure]> {
  let summary = "A constant resident in SRAM before the program starts";
  let arguments = !con((ins ElementsAttr:$value, StrAttr:$name), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The contents as little-endian, row-major bytes (what the schedule file stores);
    /// an empty string when the value is shape-only (an elided resource). Emits an
    /// error on this op and fails for element types without a whole-byte layout.
    ::mlir::FailureOr<std::string> getDataBytes();
  }];
}

def Chip_MemWriteOp : Chip_Op<"mem_write", [SameOperandsAndResultType]> {
  let summary = "Host -> SRAM: load a model input";
  let arguments = !con((ins AnyRankedTensor:$input, StrAttr:$name), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $name attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Chip_MemReadOp : Chip_Op<"mem_read", [SameOperandsAndResultType]> {
  let summary = "SRAM -> host: read a model output";
  let arguments = !con((ins AnyRankedTensor:$input, StrAttr:$name), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $name attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Chip_ViewOp : Chip_Op<"view", [Pure]> {
  let summary = "Reinterpret an SRAM tensor with another shape (no data movement)";
  let arguments = !con((ins AnyRankedTensor:$input), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_MemCopyOp : Chip_Op<"mem_copy", [SameOperandsAndResultType]> {
  let summary = "SRAM -> SRAM copy into a new buffer";
  let description = [{
    Gives a value its own storage, e.g. when a model output is a weight, a model
    input or another output and must be read back from a distinct OUTPUT buffer.
  }];
  let arguments = !con((ins AnyRankedTensor:$input), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MXM
//===----------------------------------------------------------------------===//

def Chip_MatMulOp : Chip_Op<"mxm_matmul", [Pure]> {
  let summary = "Matrix product on the MXM; `rhs` is installed as weights";
  let arguments = !con((ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// VXM
//===----------------------------------------------------------------------===//

def Chip_BinaryOp : Chip_Op<"vxm_binary", [Pure]> {
  let summary = "Elementwise binary op with broadcasting on the VXM";
  let description = "`kind` is one of add, sub, mul, div.";
  let arguments = !con((ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, StrAttr:$kind), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind $lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_UnaryOp : Chip_Op<"vxm_unary", [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise unary op on the VXM";
  let description = "`kind` is one of relu, gelu, gelu_tanh.";
  let arguments = !con((ins AnyRankedTensor:$input, StrAttr:$kind), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind $input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Chip_SoftmaxOp : Chip_Op<"vxm_softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax along `axis` on the VXM";
  let arguments = !con((ins AnyRankedTensor:$input, I64Attr:$axis), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// SXM
//===----------------------------------------------------------------------===//

def Chip_TransposeOp : Chip_Op<"sxm_transpose", [Pure]> {
  let summary = "Permute dimensions on the SXM";
  let arguments = !con((ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $perm attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Transformer ops (one burst instruction of one functional unit each)
//===----------------------------------------------------------------------===//

def Chip_GatherOp : Chip_Op<"mem_gather", [Pure]> {
  let summary = "MEM: take slices of `table` along `axis` at integer `indices`";
  let description = [{
    Embedding rows and MoE expert weights: the result is table[:axis] + indices +
    table[axis+1:]. Index-addressed SRAM reads; indices are i32 (a negative index counts
    from the end).
  }];
  let arguments = !con((ins AnyRankedTensor:$table, AnyRankedTensor:$indices, I64Attr:$axis),
                       ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$table `,` $indices attr-dict `:` `(` type($table) `,` type($indices) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_SliceOp : Chip_Op<"mem_slice", [Pure]> {
  let summary = "MEM: strided copy, result[i] = input[starts + i * steps] on every axis";
  let arguments = !con((ins AnyRankedTensor:$input, DenseI64ArrayAttr:$starts,
                            DenseI64ArrayAttr:$steps), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $starts `,` $steps attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_ConcatOp : Chip_Op<"mem_concat", [Pure]> {
  let summary = "MEM: join two tensors along `axis` (KV cache append)";
  let arguments = !con((ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, I64Attr:$axis),
                       ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_BroadcastOp : Chip_Op<"sxm_broadcast", [Pure]> {
  let summary = "SXM: replicate a tensor to a larger shape (numpy broadcasting)";
  let arguments = !con((ins AnyRankedTensor:$input), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_ReduceOp : Chip_Op<"vxm_reduce", [Pure]> {
  let summary = "VXM: reduce over `axes` (kept as size 1); `kind` is sum, mean, max or min";
  let arguments = !con((ins AnyRankedTensor:$input, StrAttr:$kind, DenseI64ArrayAttr:$axes),
                       ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind $input `,` $axes attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_RmsNormOp : Chip_Op<"vxm_rms_norm", [Pure]> {
  let summary = "VXM: x / sqrt(mean(x^2 over [axis, rank)) + epsilon) * scale";
  let arguments = !con((ins AnyRankedTensor:$input, AnyRankedTensor:$scale, I64Attr:$axis,
                            F32Attr:$epsilon), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $scale attr-dict `:` `(` type($input) `,` type($scale) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_LayerNormOp : Chip_Op<"vxm_layer_norm", [Pure]> {
  let summary = "VXM: (x - mean) / sqrt(var + epsilon) * scale + bias over [axis, rank)";
  let arguments = !con((ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                            AnyRankedTensor:$bias, I64Attr:$axis, F32Attr:$epsilon),
                       ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $scale `,` $bias attr-dict `:` `(` type($input) `,` type($scale) `,` type($bias) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_SelectOp : Chip_Op<"vxm_select", [Pure]> {
  let summary = "VXM: condition (i8, non-zero = true) ? lhs : rhs, numpy broadcasting";
  let arguments = !con((ins AnyRankedTensor:$condition, AnyRankedTensor:$lhs,
                            AnyRankedTensor:$rhs), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$condition `,` $lhs `,` $rhs attr-dict `:` `(` type($condition) `,` type($lhs) `,` type($rhs) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_TopKOp : Chip_Op<"vxm_topk", [Pure]> {
  let summary = "VXM: the k largest entries along `axis`, largest first (ties: lower index)";
  let description = [{
    The result holds the values, or with `indices` their positions as i32. A top-k
    with both results lowers to two of these.
  }];
  let arguments = !con((ins AnyRankedTensor:$input, I64Attr:$k, I64Attr:$axis,
                            BoolAttr:$indices), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_CastOp : Chip_Op<"vxm_cast", [Pure]> {
  let summary = "VXM: convert the element type (round to nearest even; float->int truncates)";
  let arguments = !con((ins AnyRankedTensor:$input), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_RotaryOp : Chip_Op<"vxm_rotary", [Pure]> {
  let summary = "VXM: x * cos + rotate_half(x) * sin (rotary position embedding)";
  let arguments = !con((ins AnyRankedTensor:$input, AnyRankedTensor:$cos, AnyRankedTensor:$sin),
                       ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $cos `,` $sin attr-dict `:` `(` type($input) `,` type($cos) `,` type($sin) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Chip_SumOp : Chip_Op<"vxm_sum", [Pure]> {
  let summary = "VXM: the sum of 2 to 32 tensors of the result's type, in one burst";
  let description = [{
    Each addend is read on its own stream and the ALU mesh chains the n - 1 adds, so a
    sum of up to alus_per_lane + 1 tensors takes one pass (an all-reduce's received
    partials plus the residual; `conveyor-chip-shorten-chains` builds it from add chains).
  }];
  let arguments = !con((ins Variadic<AnyRankedTensor>:$addends), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$addends attr-dict `:` type($addends) `->` type($result)";
  let hasVerifier = 1;
}

def Chip_MatMulDqOp : Chip_Op<"mxm_matmul_dq", [Pure]> {
  let summary = "MXM: lhs @ dequant(weight) * scale[n], low-precision weights, fp32 accumulation";
  let description = [{
    `weight` [.., K, N] is int8, int4 (symmetric), fp8 e4m3, f16 or bf16; `scale` [N] is
    the per-output-channel f32 scale (ones for f16/bf16). The result has lhs's element type.
  }];
  let arguments = !con((ins AnyRankedTensor:$lhs, AnyRankedTensor:$weight,
                            AnyRankedTensor:$scale), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $weight `,` $scale attr-dict `:` `(` type($lhs) `,` type($weight) `,` type($scale) `)` `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Chip-to-chip transfers (lowered collectives and stage sends)
//===----------------------------------------------------------------------===//

def Chip_C2CSendOp : Chip_Op<"c2c_send"> {
  let summary = "C2C: send a tensor to a peer chip in a reserved link slot";
  let description = [{
    The peer is relative, so one template serves every chip that runs it: in `group`
    "tp" it is tensor-parallel rank (rank + peer_offset) mod tp of the same stage, in
    "pipeline" the same rank of stage + peer_offset. `link` is the port the message
    leaves on for the template's first chip (ProgramInstance.link_map rewrites it for
    the others), `hops` the C2C hops of the route (the most over the chips that run the
    template), `slot_cycles` how long the port is reserved (bytes / link rate, rounded
    up). `tag` pairs it with the cv.chip.c2c_recv on the peer.
  }];
  let arguments = !con((ins AnyRankedTensor:$input, StrAttr:$group, I64Attr:$peer_offset,
                            I64Attr:$tag, I64Attr:$link, I64Attr:$hops, I64Attr:$slot_cycles),
                       ChipPlacement);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Chip_C2CRecvOp : Chip_Op<"c2c_recv"> {
  let summary = "C2C: receive the tensor a peer chip sent with the same tag";
  let description = [{
    `peer_offset` is the sender's position relative to this chip (tp: rank offset mod
    tp; pipeline: stage offset); `link` the port it arrives on, `hops` the route length.
  }];
  let arguments = !con((ins StrAttr:$group, I64Attr:$peer_offset, I64Attr:$tag, I64Attr:$link,
                            I64Attr:$hops), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// MoE: expert products that read the selected experts' weights in place
//===----------------------------------------------------------------------===//

def Chip_ExpertMatMulOp : Chip_Op<"mxm_expert_matmul", [Pure]> {
  let summary = "MXM: per (token, slot), lhs @ table[indices[t, j]] (optionally * scale)";
  let description = [{
    `table` [E, K, N] is the whole resident expert stack, `indices` [T, k] (i32) the
    experts chosen per token, `lhs` [T, k or 1, M, K]. The MXM installs only the chosen
    experts' K x N rows, read where they live in SRAM: no gathered copy. The result is
    [T, k, M, N] with result[t, j] = lhs[t, j or 0] @ table[indices[t, j]]. With `scale`
    [E, 1, N] (f32) the table holds narrow weights (int8, int4, fp8, f16, bf16) and each
    product is multiplied by its expert's per-output-channel scale (fp32 accumulation).
  }];
  let arguments = !con((ins AnyRankedTensor:$lhs, AnyRankedTensor:$table,
                            AnyRankedTensor:$indices, Optional<AnyRankedTensor>:$scale),
                       ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $table `,` $indices (`,` $scale^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Decode KV cache: in-place append into the resident cache
//===----------------------------------------------------------------------===//

def Chip_KvAppendOp : Chip_Op<"kv_append"> {
  let summary = "MEM: write the new tokens' K or V rows into the resident cache, in place";
  let description = [{
    `cache` is the resident KV cache of one layer (a cv.chip.weight without data that the
    schedule marks KV_CACHE), `rows` [b, kv, s, d] the new tokens. With `axis` = 2 the cache
    is [b, kv, T, d] and cache[:, :, position + i, :] = rows[:, :, i, :]; with `axis` = 3 it
    is kept transposed, [b, kv, d, T], and cache[:, :, :, position + i] = rows[:, :, i, :]
    (a MEM scatter). The result is the cache after the write, in the same storage (no copy).
  }];
  let arguments = !con((ins AnyRankedTensor:$cache, AnyRankedTensor:$rows, I64Attr:$axis,
                            I64Attr:$position), ChipPlacement);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$cache `,` $rows attr-dict `:` `(` type($cache) `,` type($rows) `)` `->` type($result)";
  let hasVerifier = 1;
}

#endif // CONVEYOR_DIALECT_CHIP_CHIPOPS_TD
