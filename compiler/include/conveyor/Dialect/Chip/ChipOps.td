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

#endif // CONVEYOR_DIALECT_CHIP_CHIPOPS_TD
