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


//===----------------------------------------------------------------------===//
// Parameters without data (shape-only models)
//===----------------------------------------------------------------------===//

def Graph_WeightOp : Graph_Op<"weight", [Pure]> {
  let summary = "A named parameter whose shape and type are known but not its values";
  let description = [{
    Shape-only model graphs (the model zoo's 70B-parameter configurations) carry no
    weight data: each initializer marked `conveyor:shape-only` becomes one of these.
    Analyses (parameter counts, memory sizing, scheduling) treat it like a
    `cv.graph.constant`; anything that needs values must reject it.
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// More elementwise ops
//===----------------------------------------------------------------------===//

// Unary math that only makes sense on floating-point tensors.
class Graph_FloatUnaryOp<string mnemonic, string summaryText> :
    Graph_UnaryOp<mnemonic, summaryText> {
  let description = "Elementwise on a floating-point tensor; the result has the input's type.";
  let hasVerifier = 1;
}

def Graph_ExpOp : Graph_FloatUnaryOp<"exp", "e^x">;
def Graph_LogOp : Graph_FloatUnaryOp<"log", "Natural logarithm">;
def Graph_ErfOp : Graph_FloatUnaryOp<"erf", "Gauss error function">;
def Graph_TanhOp : Graph_FloatUnaryOp<"tanh", "Hyperbolic tangent">;
def Graph_SigmoidOp : Graph_FloatUnaryOp<"sigmoid", "1 / (1 + e^-x)">;
def Graph_SqrtOp : Graph_FloatUnaryOp<"sqrt", "Square root">;
def Graph_ReciprocalOp : Graph_FloatUnaryOp<"reciprocal", "1 / x">;
def Graph_CosOp : Graph_FloatUnaryOp<"cos", "Cosine">;
def Graph_SiluOp : Graph_FloatUnaryOp<"silu", "x * sigmoid(x) (SiLU / swish, recognised from its decomposition)">;
def Graph_SinOp : Graph_FloatUnaryOp<"sin", "Sine">;

// Unary ops on any numeric (non-boolean) tensor.
class Graph_NumericUnaryOp<string mnemonic, string summaryText> :
    Graph_UnaryOp<mnemonic, summaryText> {
  let description = "Elementwise on an integer or floating-point (not i1) tensor.";
  let hasVerifier = 1;
}

def Graph_NegOp : Graph_NumericUnaryOp<"neg", "-x">;
def Graph_AbsOp : Graph_NumericUnaryOp<"abs", "|x|">;

def Graph_NotOp : Graph_UnaryOp<"not", "Logical negation of an i1 tensor"> {
  let hasVerifier = 1;
}

def Graph_PowOp : Graph_BinaryOp<"pow", "Elementwise lhs ^ rhs (ONNX Pow)">;
def Graph_MaxOp : Graph_BinaryOp<"max", "Elementwise maximum (ONNX Max of two inputs)">;
def Graph_MinOp : Graph_BinaryOp<"min", "Elementwise minimum (ONNX Min of two inputs)">;

class Graph_LogicalBinaryOp<string mnemonic, string summaryText> :
    Graph_BinaryOp<mnemonic, summaryText> {
  let description = "Elementwise on i1 tensors with numpy broadcasting.";
  let hasVerifier = 1;
}

def Graph_AndOp : Graph_LogicalBinaryOp<"and", "Logical and">;
def Graph_OrOp : Graph_LogicalBinaryOp<"or", "Logical or">;

// Comparisons: operands of one element type, an i1 result of the broadcast shape.
class Graph_CompareOp<string mnemonic, string summaryText> : Graph_Op<mnemonic,
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = summaryText;
  let description = [{
    Elementwise comparison with numpy broadcasting; the result is i1.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)";
}

def Graph_EqualOp : Graph_CompareOp<"equal", "lhs == rhs">;
def Graph_LessOp : Graph_CompareOp<"less", "lhs < rhs">;
def Graph_LessEqualOp : Graph_CompareOp<"less_equal", "lhs <= rhs">;
def Graph_GreaterOp : Graph_CompareOp<"greater", "lhs > rhs">;
def Graph_GreaterEqualOp : Graph_CompareOp<"greater_equal", "lhs >= rhs">;

def Graph_WhereOp : Graph_Op<"where",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "condition ? lhs : rhs, elementwise (ONNX Where)";
  let description = [{
    `condition` is i1; `lhs` and `rhs` share an element type; all three broadcast
    (numpy rules) to the result shape.
  }];
  let arguments = (ins AnyRankedTensor:$condition, AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$condition `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Graph_CastOp : Graph_Op<"cast", [Pure]> {
  let summary = "Convert the element type (ONNX Cast)";
  let description = [{
    The result has the input's shape and any element type. Float to integer rounds
    toward zero; anything to i1 is `x != 0`.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions and normalisation
//===----------------------------------------------------------------------===//

class Graph_ReduceOp<string mnemonic, string summaryText> : Graph_Op<mnemonic,
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = summaryText;
  let description = [{
    Reduces over `axes`, which are distinct, in [0, rank) and increasing (the importer
    normalises ONNX's negative and unordered axes). With `keepdims` each reduced
    dimension stays as size 1, else it is removed.
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                   DefaultValuedAttr<BoolAttr, "true">:$keepdims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $axes attr-dict `:` type($input) `->` type($result)";
}

def Graph_ReduceSumOp : Graph_ReduceOp<"reduce_sum", "Sum over axes">;
def Graph_ReduceMeanOp : Graph_ReduceOp<"reduce_mean", "Mean over axes">;
def Graph_ReduceMaxOp : Graph_ReduceOp<"reduce_max", "Maximum over axes">;
def Graph_ReduceMinOp : Graph_ReduceOp<"reduce_min", "Minimum over axes">;

def Graph_ArgMaxOp : Graph_Op<"argmax",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Index of the largest element along one axis (first one on ties)";
  let description = [{
    `axis` is in [0, rank); the result is i64, with the axis kept as size 1 when
    `keepdims` is set, else removed.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "true">:$keepdims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

// Normalisation over the trailing dimensions [axis, rank), scaled by `scale`.
class Graph_NormOp<string mnemonic, string summaryText, dag extraArgs> : Graph_Op<mnemonic,
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = summaryText;
  let arguments = !con((ins AnyRankedTensor:$input, AnyRankedTensor:$scale), extraArgs,
                       (ins DefaultValuedAttr<I64Attr, "-1">:$axis,
                            DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon));
  let results = (outs AnyRankedTensor:$result);
}

def Graph_LayerNormOp : Graph_NormOp<"layer_norm",
    "(x - mean) / sqrt(var + epsilon) * scale + bias (ONNX LayerNormalization)",
    (ins Optional<AnyRankedTensor>:$bias)> {
  let description = [{
    Mean and variance are taken over dimensions [axis, rank) (`axis` may be negative);
    `scale` and the optional `bias` broadcast to those trailing dimensions. The result
    has the input's type, which must be floating point.
  }];
  let assemblyFormat = "$input `,` $scale (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def Graph_RmsNormOp : Graph_NormOp<"rms_norm",
    "x / sqrt(mean(x^2) + epsilon) * scale (RMSNorm, recognised from its decomposition)",
    (ins)> {
  let description = [{
    The mean of squares is taken over dimensions [axis, rank); `scale` broadcasts to
    those trailing dimensions. The result has the input's type (floating point).
  }];
  let assemblyFormat = "$input `,` $scale attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Indexing, joining and slicing
//===----------------------------------------------------------------------===//

def Graph_GatherOp : Graph_Op<"gather",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Take slices of `data` along `axis` at `indices` (ONNX Gather, embeddings)";
  let description = [{
    The result shape is data[:axis] + indices + data[axis+1:]. `indices` is an integer
    tensor; a negative index counts from the end of the axis.
  }];
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                   DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` `(` type($data) `,` type($indices) `)` `->` type($result)";
}

def Graph_GatherElementsOp : Graph_Op<"gather_elements",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "result[i][j] = data[indices[i][j]][j] along `axis` (ONNX GatherElements)";
  let description = [{
    `data` and `indices` have the same rank; the result has the shape of `indices` and
    the element type of `data`.
  }];
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                   DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` `(` type($data) `,` type($indices) `)` `->` type($result)";
}

def Graph_ScatterElementsOp : Graph_Op<"scatter_elements",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Copy of `data` with `updates` written at `indices` along `axis`";
  let description = [{
    ONNX ScatterElements: `indices` and `updates` have one shape, and all three operands
    one rank. `reduction` is "none", "add", "mul", "max" or "min". The result has the
    type of `data`.
  }];
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                   AnyRankedTensor:$updates, DefaultValuedAttr<I64Attr, "0">:$axis,
                   DefaultValuedAttr<StrAttr, "\"none\"">:$reduction);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices `,` $updates attr-dict `:` functional-type(operands, results)";
}

def Graph_ConcatOp : Graph_Op<"concat",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Join tensors along `axis` (ONNX Concat)";
  let description = [{
    All inputs share rank and element type and agree on every dimension but `axis`
    (in [0, rank)), whose sizes add up.
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $result)";
}

def Graph_SplitOp : Graph_Op<"split",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Cut a tensor into consecutive pieces along `axis` (ONNX Split)";
  let description = [{
    `sizes` lists each piece's extent along `axis` (in [0, rank)); they add up to the
    input's dimension when it is static. One result per entry.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
}

def Graph_SliceOp : Graph_Op<"slice",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Strided slice along some axes (ONNX Slice, with static bounds)";
  let description = [{
    For each listed axis, takes `sizes[i]` elements starting at `starts[i]` with stride
    `steps[i]` (non-zero; negative walks backwards); other dimensions are kept whole.
    `axes` are distinct and in [0, rank). On a static dimension every index taken must
    be in range and `starts` is not negative; on a dynamic one a negative start counts
    from the end (`x[:, -1:]`).
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                   DenseI64ArrayAttr:$starts, DenseI64ArrayAttr:$sizes,
                   DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Graph_ExpandOp : Graph_Op<"expand", [Pure]> {
  let summary = "Broadcast a tensor to a larger shape (ONNX Expand)";
  let description = [{
    The input broadcasts to the result (numpy rules, aligned from the right): each input
    dimension is 1 or equal to the result's, and the result may add leading dimensions.
    The importer computes ONNX's bidirectional result shape.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Graph_TriluOp : Graph_Op<"trilu", [Pure, SameOperandsAndResultType]> {
  let summary = "Keep the upper or lower triangle of the last two dimensions (ONNX Trilu)";
  let description = [{
    With `upper`, keeps elements with column - row >= k, else those with
    column - row <= k; the rest become zero. The input has rank >= 2.
  }];
  let arguments = (ins AnyRankedTensor:$input, DefaultValuedAttr<BoolAttr, "true">:$upper,
                   DefaultValuedAttr<I64Attr, "0">:$k);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Graph_TopKOp : Graph_Op<"topk",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "The k largest (or smallest) entries along `axis` and their indices";
  let description = [{
    ONNX TopK with a static `k` (1 <= k <= the axis size when static) and `axis` in
    [0, rank). Both results have the input's shape with the axis cut to k; `indices`
    is i64. `sorted` orders the values (largest first when `largest`).
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$k, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "true">:$largest,
                   DefaultValuedAttr<BoolAttr, "true">:$sorted);
  let results = (outs AnyRankedTensor:$values, AnyRankedTensor:$indices);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($values) `,` type($indices)";
}

//===----------------------------------------------------------------------===//
// Symbolic sizes as values
//===----------------------------------------------------------------------===//

def Graph_DimValueOp : Graph_Op<"dim_value", [Pure]> {
  let summary = "Integer tensor whose entries are symbolic dimension sizes";
  let description = [{
    Each entry of `exprs` is a size expression over named dimensions (the DimExpr text
    form, e.g. "past + 1"), in row-major order; the result has a static shape with that
    many elements. Exports use sizes as data (positions from `past`, a mask offset);
    once the names are bound the op folds to a constant.
  }];
  let arguments = (ins StrArrayAttr:$exprs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$exprs attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Graph_IotaOp : Graph_Op<"iota", [Pure]> {
  let summary = "The 1-D tensor 0, 1, ..., n - 1";
  let description = [{
    n is the result's single dimension, which may be dynamic (then named by the
    `cv.dims` attribute, e.g. ["seq"]). The element type is an integer or float type.
  }];
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Transformer-level ops (recognised by conveyor-graph-fuse-transformer)
//===----------------------------------------------------------------------===//

def Graph_EmbeddingOp : Graph_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup: table[ids] (a Gather on axis 0 of a 2-D parameter)";
  let description = [{
    `table` is [vocab, hidden] (a cv.graph.weight or constant), `ids` an integer tensor;
    the result is ids.shape + [hidden] with the table's element type. Parameters:
    vocab * hidden; FLOPs: none (a row copy per token).
  }];
  let arguments = (ins AnyRankedTensor:$table, AnyRankedTensor:$ids);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$table `,` $ids attr-dict `:` `(` type($table) `,` type($ids) `)` `->` type($result)";
  let hasVerifier = 1;
}

def Graph_LmHeadOp : Graph_Op<"lm_head", [Pure]> {
  let summary = "Final projection to vocabulary logits: x @ weight";
  let description = [{
    `x` is [..., hidden], `weight` [hidden, vocab]; the result [..., vocab]. It is the
    matmul whose result the function returns as logits. Parameters: hidden * vocab
    (shared with the embedding table when `weight` is its transpose); FLOPs: 2 * tokens *
    hidden * vocab.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_GatedMlpOp : Graph_Op<"gated_mlp", [Pure]> {
  let summary = "Gated feed-forward: (act(x @ w_gate) * (x @ w_up)) @ w_down (SwiGLU / GeGLU)";
  let description = [{
    `x` is [..., hidden], `w_gate` and `w_up` [hidden, ffn], `w_down` [ffn, out]; the
    result is [..., out]. `activation` is "silu" (SwiGLU), "gelu" (GeGLU, erf form) or
    "gelu_tanh". Parameters: 2 * hidden * ffn + ffn * out; FLOPs: 2 * tokens *
    (2 * hidden * ffn + ffn * out) plus tokens * ffn activations and products.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$w_gate, AnyRankedTensor:$w_up,
                   AnyRankedTensor:$w_down, StrAttr:$activation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $w_gate `,` $w_up `,` $w_down attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_RotaryOp : Graph_Op<"rotary", [Pure]> {
  let summary = "Rotary position embedding, rotate-half form: x * cos + rotate_half(x) * sin";
  let description = [{
    `input` is [..., head_dim] with an even head_dim; `cos` and `sin` have one type and
    broadcast against `input` (numpy rules) without enlarging it.
    rotate_half(x) = concat(-x[..., head_dim/2:], x[..., :head_dim/2]). The result has
    the input's type. No parameters; FLOPs: 3 * elements(input) (two products, one sum)
    plus elements(input) / 2 negations.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$cos, AnyRankedTensor:$sin);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $cos `,` $sin attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

// Attention and MoE

def Graph_AttentionOp : Graph_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "Scaled dot-product attention core: softmax(q k^T * scale + mask) v";
  let description = [{
    `query` is [b, heads, s, d], `key` [b, kv_heads, t, d], `value` [b, kv_heads, t, dv]:
    the full caches after the KV concat (t = past + s), which stays a separate
    cv.graph.concat whose result is also the present.* output. `heads` is a multiple of
    `kv_heads` (grouped-query attention): query head h reads KV head h / (heads / kv_heads),
    as transformers' repeat_kv lays them out. The result is [b, heads, s, dv]; head
    split/merge transposes and reshapes stay outside the op.

    scores[b, h, i, j] = scale * sum_c q[b, h, i, c] * k[b, h / rep, j, c], then:
    - `causal`: query i sits at absolute position p_i = t - s + i (the cache is in front of
      it); key j is masked out when j > p_i;
    - `sliding_window` W > 0 (needs `causal`): key j is also masked when j <= p_i - W;
    - the optional `mask` (float, broadcasting to [b, heads, s, t]) is added to the scores,
      for masks that are not plain causal or sliding-window ones;
    - the optional `sinks` ([heads], gpt-oss) is one extra logit per head that joins every
      softmax row's denominator and receives no value.
    Masked keys get probability zero; a row with every key masked is undefined (never
    produced by causal masks). Softmax over j, then the product with `value`.
    Parameters: none (sinks: heads). FLOPs: 2 * b * heads * (d + dv) * (attended pairs),
    where attended pairs is s * t unmasked, fewer under `causal` / `sliding_window`.
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key, AnyRankedTensor:$value,
                   Optional<AnyRankedTensor>:$mask, Optional<AnyRankedTensor>:$sinks,
                   F64Attr:$scale, DefaultValuedAttr<BoolAttr, "false">:$causal,
                   DefaultValuedAttr<I64Attr, "0">:$sliding_window);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `)`)? (`sinks` `(` $sinks^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Graph_MoeOp : Graph_Op<"moe", [Pure]> {
  let summary = "Mixture of experts: router, top-k selection and the chosen experts' MLPs";
  let description = [{
    `input` is [..., hidden]; each token (row) is routed independently. `w_router` is
    [hidden, E]: logits = x @ w_router. Routing:
    - `softmax_after_topk` false (Mixtral, Qwen3-MoE): p = softmax(logits); the top_k
      largest p are the chosen experts and their weights; with `normalize_weights` the
      weights are divided by their sum;
    - `softmax_after_topk` true (gpt-oss): the top_k largest logits are chosen and the
      weights are softmax over those k logits (`normalize_weights` must be false).
    Expert e is act(x @ w_gate[e]) * (x @ w_up[e]) @ w_down[e] (gated), or
    act(x @ w_gate[e]) @ w_down[e] when `w_up` is absent; w_gate and w_up are
    [E, hidden, ffn], w_down [E, ffn, hidden]. `activation` is "silu", "gelu" (erf) or
    "gelu_tanh". The result, with the input's type, is sum over the chosen experts of
    weight * expert(x); the residual add stays outside. Ties in top-k pick the lower index.
    Parameters: hidden * E + E * (per-expert matrices); active per token: the router and
    top_k experts. FLOPs per token: 2 * hidden * E + top_k * 2 * (matrix elements of one
    expert), plus activations and the weighted sum.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$w_router,
                   AnyRankedTensor:$w_gate, Optional<AnyRankedTensor>:$w_up,
                   AnyRankedTensor:$w_down, I64Attr:$top_k, StrAttr:$activation,
                   DefaultValuedAttr<BoolAttr, "false">:$normalize_weights,
                   DefaultValuedAttr<BoolAttr, "false">:$softmax_after_topk);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `router` `(` $w_router `)` `gate` `(` $w_gate `)` (`up` `(` $w_up^ `)`)?
    `down` `(` $w_down `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

// Collectives, pipeline transfers and layer repetition (conveyor-partition)

def Graph_AllReduceOp : Graph_Op<"all_reduce", [SameOperandsAndResultType]> {
  let summary = "Reduce a tensor elementwise over the chips of a tensor-parallel group";
  let description = [{
    Every one of the `group_size` chips of the group that runs this op holds a partial
    value of the same shape; afterwards every chip holds the `reduction` ("sum", "max"
    or "min") of all of them. Inserted by conveyor-partition after row-split matmuls
    (Megatron's o-projection and MLP down-projection), vocabulary-split embeddings and
    ffn-split experts.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$group_size,
                   DefaultValuedAttr<StrAttr, "\"sum\"">:$reduction);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Graph_AllGatherOp : Graph_Op<"all_gather"> {
  let summary = "Concatenate the shards of a tensor held by the chips of a group";
  let description = [{
    The group's `group_size` chips hold `parts` distinct shards (parts divides
    group_size; with fewer parts than chips, group_size / parts consecutive chips hold
    the same shard). The result concatenates them along `axis` in chip order: its
    dimension `axis` is `parts` times the input's, the others are the input's.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis, I64Attr:$group_size,
                   I64Attr:$parts);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Graph_SendOp : Graph_Op<"send"> {
  let summary = "Send a tensor to the same tensor-parallel rank of another pipeline stage";
  let description = [{
    `stage_offset` is relative (+1: the next stage), so one template serves every stage
    that runs it; `tag` pairs the send with its cv.graph.recv.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$stage_offset, I64Attr:$tag);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Graph_RecvOp : Graph_Op<"recv"> {
  let summary = "Receive a tensor from the same tensor-parallel rank of another stage";
  let description = [{
    `stage_offset` is relative (-1: the previous stage); `tag` names the matching
    cv.graph.send.
  }];
  let arguments = (ins I64Attr:$stage_offset, I64Attr:$tag);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Graph_RepeatOp : Graph_Op<"repeat", [RecursiveMemoryEffects]> {
  let summary = "Run one layer body `count` times (layer repetition, not unrolled)";
  let description = [{
    The body's block arguments are the carried values (the residual stream), initialised
    from `inits`. The body ends with cv.graph.yield of the next carried values followed
    by per-iteration outputs (a layer's present K/V). The results are the final carried
    values followed by the per-iteration outputs, each typed as one iteration's value:
    iteration i binds them (and the function arguments marked cv.partition.per_layer)
    to layer first_layer + i's buffers. Weights in the body marked
    cv.partition.per_layer name layer i's parameter.
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inits, I64Attr:$count);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$count `(` $inits `)` attr-dict `:` functional-type($inits, $results) $body";
  let hasVerifier = 1;
}

def Graph_YieldOp : Graph_Op<"yield", [Pure, Terminator, HasParent<"RepeatOp">]> {
  let summary = "End of a cv.graph.repeat body: next carried values, then per-iteration outputs";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}


#endif // CONVEYOR_DIALECT_GRAPH_GRAPHOPS_TD
