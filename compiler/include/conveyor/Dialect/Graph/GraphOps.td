// cv.graph operations.
#ifndef CONVEYOR_DIALECT_GRAPH_GRAPHOPS_TD
#define CONVEYOR_DIALECT_GRAPH_GRAPHOPS_TD

include "conveyor/Dialect/Graph/GraphDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Constants and layout
//===----------------------------------------------------------------------===//

def Graph_ConstantOp : Graph_Op<"constant", [Pure, ConstantLike]> {
  let summary = "A constant tensor (an ONNX initializer or Constant node)";
  let description = [{
    `value`'s type must equal the result type, which must be static. `name` is the
    ONNX initializer or Constant output name, kept for weight names downstream.
  }];
  let arguments = (ins ElementsAttr:$value, OptionalAttr<StrAttr>:$name);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict $value `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_ReshapeOp : Graph_Op<"reshape", [Pure]> {
  let summary = "Reshape to a static shape (element count preserved)";
  let description = [{
    The result shape is static (the importer resolves ONNX's 0 and -1 entries) and
    has the input's element type and, when the input is static, its element count.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Graph_TransposeOp : Graph_Op<"transpose",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Permute dimensions";
  let description = [{
    `perm` is a permutation of [0, rank); result dimension i is input dimension
    perm[i] (the result type is inferred and checked).
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $perm attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

def Graph_MatMulOp : Graph_Op<"matmul",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Matrix product with numpy semantics (ONNX MatMul)";
  let description = [{
    `lhs` is [..., M, K] and `rhs` is [..., K, N]; batch dimensions broadcast.
    Rank-1 operands are not accepted: the importer reshapes them first.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)";
}

def Graph_GemmOp : Graph_Op<"gemm",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "alpha * op(A) * op(B) + beta * C (ONNX Gemm)";
  let description = [{
    `a` and `b` are rank 2; op(X) is X transposed when transX is set. The result is
    [M, N]; the optional `c` broadcasts unidirectionally to it ([N], [1, N], [M, 1],
    [M, N] or a scalar).
  }];
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b, Optional<AnyRankedTensor>:$c,
                   DefaultValuedAttr<F32Attr, "1.0">:$alpha,
                   DefaultValuedAttr<F32Attr, "1.0">:$beta,
                   DefaultValuedAttr<BoolAttr, "false">:$transA,
                   DefaultValuedAttr<BoolAttr, "false">:$transB);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Graph_BinaryOp<string mnemonic, string summaryText> : Graph_Op<mnemonic,
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = summaryText;
  let description = "Elementwise with numpy (multidirectional) broadcasting.";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)";
}

def Graph_AddOp : Graph_BinaryOp<"add", "Elementwise sum">;
def Graph_SubOp : Graph_BinaryOp<"sub", "Elementwise difference">;
def Graph_MulOp : Graph_BinaryOp<"mul", "Elementwise product">;
def Graph_DivOp : Graph_BinaryOp<"div", "Elementwise quotient">;

class Graph_UnaryOp<string mnemonic, string summaryText, dag extraArgs = (ins)> : Graph_Op<mnemonic,
    [Pure, SameOperandsAndResultType]> {
  let summary = summaryText;
  let arguments = !con((ins AnyRankedTensor:$input), extraArgs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Graph_ReluOp : Graph_UnaryOp<"relu", "max(x, 0)">;
def Graph_GeluOp : Graph_UnaryOp<"gelu", "Gaussian error linear unit",
    (ins DefaultValuedAttr<StrAttr, "\"none\"">:$approximate)> {
  let description = [{
    `approximate = "none"`: 0.5 x (1 + erf(x / sqrt 2)); `"tanh"`: the tanh approximation.
  }];
  let hasVerifier = 1;
}
def Graph_SoftmaxOp : Graph_UnaryOp<"softmax", "Softmax along one axis",
    (ins DefaultValuedAttr<I64Attr, "-1">:$axis)> {
  let description = [{
    Normalises along the single dimension `axis` (ONNX opset-13 semantics), which may
    be negative and counts from the end; the element type must be floating point.
  }];
  let hasVerifier = 1;
}

#endif // CONVEYOR_DIALECT_GRAPH_GRAPHOPS_TD
