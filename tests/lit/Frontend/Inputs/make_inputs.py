#!/usr/bin/python3
"""Writes the small .onnx files that the importer lit tests read.

Run with /usr/bin/python3 (it has the onnx package):
    /usr/bin/python3 tests/lit/Frontend/Inputs/make_inputs.py
The outputs are committed; rerun after changing this script. Output is deterministic:
`--check` regenerates into a temporary folder and fails if a committed file differs
(the lit test inputs-up-to-date.test runs it).
The onnx 1.12 checker does not know opset 20, so models are not run through it.
"""
import argparse
import filecmp
import glob
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = HERE  # where save() writes; main() may point it elsewhere
FLOAT = TensorProto.FLOAT


def value(name, shape, elem=FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def save(name, nodes, inputs, outputs, initializers=(), opset=17, extra_opsets=(),
         graph_name=None):
    graph = helper.make_graph(list(nodes), graph_name or name, list(inputs), list(outputs),
                              initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v)
                                                 for d, v in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="conveyor-lit")
    model.ir_version = 8
    data = model.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    return data


def arange(shape, scale=0.25, offset=0.0):
    count = int(np.prod(shape))
    return (np.arange(count, dtype=np.float32) * scale + offset).reshape(shape)


def write_all():
    # Elementwise ops with numpy broadcasting against initializers and each other.
    save("binary", [
        helper.make_node("Add", ["x", "bias"], ["sum"], name="add0"),
        helper.make_node("Sub", ["sum", "y"], ["diff"], name="sub0"),
        helper.make_node("Mul", ["diff", "scale"], ["prod"], name="mul0"),
        helper.make_node("Div", ["prod", "y"], ["out"], name="div0"),
    ], [value("x", [2, 3, 4]), value("y", [3, 1])], [value("out", [2, 3, 4])], [
        numpy_helper.from_array(arange([4]), "bias"),
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "scale"),
    ])

    # MatMul: batched x 2-D weight, and numpy's vector cases (rank-1 operands).
    save("matmul", [
        helper.make_node("MatMul", ["x", "w"], ["y"], name="mm0"),
        helper.make_node("MatMul", ["v", "y2d"], ["vy"], name="mm_vec_lhs"),
        helper.make_node("MatMul", ["y2d", "u"], ["yu"], name="mm_vec_rhs"),
    ], [value("x", [2, 8, 16]), value("v", [5]), value("y2d", [5, 6]), value("u", [6])],
        [value("y", [2, 8, 4]), value("vy", [6]), value("yu", [5])],
        [numpy_helper.from_array(arange([16, 4], 0.01), "w")])

    # Gemm with transB, alpha/beta and a broadcast bias; and one without C.
    save("gemm", [
        helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm0", alpha=0.5, beta=2.0,
                         transB=1),
        helper.make_node("Gemm", ["at", "y"], ["z"], name="gemm1", transA=1),
    ], [value("a", [4, 8]), value("at", [4, 3])], [value("z", [3, 16])], [
        numpy_helper.from_array(arange([16, 8], 0.01), "b"),
        numpy_helper.from_array(arange([16], 0.1), "c"),
    ])

    # Relu, Softmax (default axis), Gelu (opset 20, tanh approximation).
    save("unary", [
        helper.make_node("Relu", ["x"], ["r"], name="relu0"),
        helper.make_node("Softmax", ["r"], ["s"], name="softmax0"),
        helper.make_node("Softmax", ["s"], ["s1"], name="softmax1", axis=1),
        helper.make_node("Gelu", ["s1"], ["g"], name="gelu0", approximate="tanh"),
        helper.make_node("Gelu", ["g"], ["out"], name="gelu1"),
    ], [value("x", [2, 4, 8])], [value("out", [2, 4, 8])], opset=20)

    # Gelu from the com.microsoft domain under an older default opset.
    save("gelu_microsoft", [
        helper.make_node("Gelu", ["x"], ["out"], name="msgelu", domain="com.microsoft"),
    ], [value("x", [4, 8])], [value("out", [4, 8])], opset=17,
        extra_opsets=[("com.microsoft", 1)])

    # Reshape with 0 and -1 (shape from a Constant node and from an initializer),
    # Transpose with and without perm, Identity, Constant value_float.
    save("layout", [
        helper.make_node("Constant", [], ["shape_heads"], name="shape_const",
                         value=numpy_helper.from_array(np.array([0, 0, 4, -1], np.int64))),
        helper.make_node("Reshape", ["x", "shape_heads"], ["heads"], name="split_heads"),
        helper.make_node("Transpose", ["heads"], ["heads_t"], name="to_heads",
                         perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["heads_t"], ["rev"], name="reverse"),
        helper.make_node("Identity", ["rev"], ["rev_id"], name="ident"),
        helper.make_node("Reshape", ["rev_id", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Constant", [], ["half"], name="half_const", value_float=0.5),
        helper.make_node("Mul", ["flat", "half"], ["out"], name="halve"),
    ], [value("x", [1, 8, 64])], [value("out", [8, 64])],
        [numpy_helper.from_array(np.array([-1, 64], np.int64), "flat_shape")])

    # Initializer data: raw_data and float_data encodings, an f16 and an i64 tensor that
    # are graph outputs, and an unused initializer (dropped by the importer).
    raw = numpy_helper.from_array(np.array([[1.5, -2.0], [0.25, 3.0]], np.float32), "w_raw")
    typed = helper.make_tensor("w_typed", FLOAT, [2, 2], [10.0, 20.0, 30.0, 40.0])
    half = numpy_helper.from_array(np.array([1.0, -0.5, 2.0], np.float16), "h16")
    ints = helper.make_tensor("i64", TensorProto.INT64, [3], [7, -8, 9])
    unused = numpy_helper.from_array(np.array([42.0], np.float32), "unused_init")
    save("initializers", [
        helper.make_node("Add", ["x", "w_raw"], ["t"], name="add_raw"),
        helper.make_node("Add", ["t", "w_typed"], ["y"], name="add_typed"),
    ], [value("x", [2, 2])], [value("y", [2, 2]), value("h16", [3], TensorProto.FLOAT16),
                              value("i64", [3], TensorProto.INT64)],
        [raw, typed, half, ints, unused], graph_name="")

    # --- Issue 3: the ops real transformer exports use ----------------------------------
    # Elementwise math on activations, with constant operands of other shapes/types.
    i64, boolean = TensorProto.INT64, TensorProto.BOOL
    save("math_ops", [
        helper.make_node("Neg", ["x"], ["neg"], name="neg"),
        helper.make_node("Exp", ["neg"], ["exp"], name="exp"),
        helper.make_node("Log", ["exp"], ["log"], name="log"),
        helper.make_node("Erf", ["log"], ["erf"], name="erf"),
        helper.make_node("Tanh", ["erf"], ["tanh"], name="tanh"),
        helper.make_node("Sigmoid", ["tanh"], ["sig"], name="sigmoid"),
        helper.make_node("Sqrt", ["sig"], ["sqrt"], name="sqrt"),
        helper.make_node("Reciprocal", ["sqrt"], ["rec"], name="reciprocal"),
        helper.make_node("Cos", ["rec"], ["cos"], name="cos"),
        helper.make_node("Sin", ["cos"], ["sin"], name="sin"),
        helper.make_node("Abs", ["sin"], ["abs"], name="abs"),
        # Pow with a float exponent and with an int64 exponent (stored as f32).
        helper.make_node("Pow", ["abs", "two_f"], ["sq"], name="pow_f"),
        helper.make_node("Pow", ["sq", "three_i"], ["cube"], name="pow_i"),
        helper.make_node("Max", ["cube", "x", "floor"], ["max3"], name="max3"),
        helper.make_node("Min", ["max3", "x"], ["min2"], name="min2"),
        helper.make_node("Less", ["min2", "x"], ["lt"], name="less"),
        helper.make_node("GreaterOrEqual", ["x", "floor"], ["ge"], name="ge"),
        helper.make_node("Not", ["ge"], ["nge"], name="not"),
        helper.make_node("Or", ["lt", "nge"], ["either"], name="or"),
        helper.make_node("And", ["either", "lt"], ["both"], name="and"),
        helper.make_node("Where", ["both", "min2", "floor"], ["sel"], name="where"),
        helper.make_node("Cast", ["sel"], ["half"], name="to_f16", to=TensorProto.FLOAT16),
        helper.make_node("Equal", ["ids", "pad"], ["is_pad"], name="equal"),
        helper.make_node("Cast", ["is_pad"], ["pad_f"], name="bool_to_f32", to=FLOAT),
    ], [value("x", [2, 4]), value("ids", [2, 4], i64)],
        [value("half", [2, 4], TensorProto.FLOAT16), value("pad_f", [2, 4])], [
        numpy_helper.from_array(np.array(2.0, np.float32), "two_f"),
        numpy_helper.from_array(np.array(3, np.int64), "three_i"),
        numpy_helper.from_array(np.array([-1.0], np.float32), "floor"),
        numpy_helper.from_array(np.array(0, np.int64), "pad"),
    ])

    # Reductions (opset 17: ReduceMean axes attribute, ReduceSum axes input),
    # LayerNormalization with and without bias, ArgMax.
    save("reduce_norm", [
        helper.make_node("ReduceMean", ["x"], ["mean"], name="mean", axes=[-1]),
        helper.make_node("ReduceSum", ["x", "axes01"], ["sum"], name="sum", keepdims=0),
        helper.make_node("ReduceMax", ["x"], ["max"], name="max_all", keepdims=0),
        helper.make_node("ReduceMin", ["x"], ["min"], name="min", axes=[1, 0]),
        helper.make_node("ArgMax", ["x"], ["arg"], name="argmax", axis=-1, keepdims=0),
        helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["ln"], name="ln",
                         epsilon=1e-6),
        helper.make_node("LayerNormalization", ["ln", "gamma"], ["ln2"], name="ln_nobias"),
    ], [value("x", [2, 3, 8])],
        [value("mean", [2, 3, 1]), value("sum", [8]), value("max", []),
         value("min", [1, 1, 8]), value("arg", [2, 3], i64), value("ln2", [2, 3, 8])], [
        numpy_helper.from_array(np.array([0, 1], np.int64), "axes01"),
        numpy_helper.from_array(arange([8], 0.5, 1.0), "gamma"),
        numpy_helper.from_array(arange([8], -0.5), "beta"),
    ])

    # Opset 18: reduction axes and Split's num_outputs.
    save("opset18", [
        helper.make_node("ReduceMean", ["x", "last"], ["mean"], name="mean"),
        helper.make_node("Split", ["x"], ["a", "b", "c"], name="split3", axis=-1,
                         num_outputs=3),
    ], [value("x", [2, 8])], [value("mean", [2, 1]), value("a", [2, 3]), value("b", [2, 3]),
                              value("c", [2, 2])],
        [numpy_helper.from_array(np.array([-1], np.int64), "last")], opset=18)

    # Indexing: an embedding lookup, a scalar gather with a negative index, gather/
    # scatter elements and top-k (MoE routing), trilu on activations.
    save("indexing", [
        helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
        helper.make_node("Gather", ["emb", "minus_one"], ["last"], name="last_token", axis=1),
        helper.make_node("TopK", ["logits", "k2"], ["top_v", "top_i"], name="topk"),
        helper.make_node("GatherElements", ["logits", "top_i"], ["picked"], name="pick",
                         axis=1),
        helper.make_node("ScatterElements", ["zeros", "top_i", "top_v"], ["routed"],
                         name="scatter", axis=1),
        helper.make_node("Trilu", ["scores"], ["lower"], name="tril", upper=0),
        helper.make_node("Trilu", ["scores", "one"], ["upper1"], name="triu1"),
    ], [value("ids", [1, 5], i64), value("logits", [6, 8]), value("zeros", [6, 8]),
        value("scores", [2, 5, 5])],
        [value("last", [1, 16]), value("picked", [6, 2]), value("routed", [6, 8]),
         value("top_i", [6, 2], i64), value("lower", [2, 5, 5]), value("upper1", [2, 5, 5])], [
        numpy_helper.from_array(arange([10, 16], 0.01), "table"),
        numpy_helper.from_array(np.array(-1, np.int64), "minus_one"),
        numpy_helper.from_array(np.array([2], np.int64), "k2"),
        numpy_helper.from_array(np.array(1, np.int64), "one"),
    ])

    # Joining, splitting, slicing and broadcasting activations.
    save("tensor_ops", [
        helper.make_node("Concat", ["past", "new"], ["kv"], name="cat_kv", axis=-2),
        helper.make_node("Split", ["kv", "halves"], ["k1", "k2"], name="split_feat", axis=3),
        helper.make_node("Slice", ["kv", "s_start", "s_end", "s_axes", "s_steps"], ["sl"],
                         name="slice_rev"),
        helper.make_node("Slice", ["kv", "l_start", "l_end", "l_axes"], ["lastpos"],
                         name="slice_last"),
        helper.make_node("Unsqueeze", ["k1", "ax2"], ["k1u"], name="unsq"),
        helper.make_node("Expand", ["k1u", "rep_shape"], ["k1e"], name="expand"),
        helper.make_node("Squeeze", ["lastpos", "ax2"], ["lastsq"], name="squeeze"),
        helper.make_node("Flatten", ["k2"], ["flat"], name="flatten", axis=2),
        helper.make_node("Tile", ["new", "reps"], ["tiled"], name="tile"),
    ], [value("past", [1, 2, 3, 8]), value("new", [1, 2, 1, 8])],
        [value("k1e", [1, 2, 2, 4, 4]), value("sl", [1, 2, 2, 4]), value("lastsq", [1, 2, 8]),
         value("flat", [2, 16]), value("tiled", [1, 4, 1, 16])], [
        numpy_helper.from_array(np.array([4, 4], np.int64), "halves"),
        numpy_helper.from_array(np.array([3, -1], np.int64), "s_start"),
        numpy_helper.from_array(np.array([0, -100], np.int64), "s_end"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "s_axes"),
        numpy_helper.from_array(np.array([-2, -2], np.int64), "s_steps"),
        numpy_helper.from_array(np.array([-1], np.int64), "l_start"),
        numpy_helper.from_array(np.array([2**63 - 1], np.int64), "l_end"),
        numpy_helper.from_array(np.array([2], np.int64), "l_axes"),
        numpy_helper.from_array(np.array([2], np.int64), "ax2"),
        numpy_helper.from_array(np.array([1, 1, 2, 1, 1], np.int64), "rep_shape"),
        numpy_helper.from_array(np.array([1, 2, 1, 2], np.int64), "reps"),
    ])

    # A torch-style shape subgraph that must fold away at import: Shape -> Gather ->
    # Unsqueeze -> Concat -> Reshape; a causal mask from Range/Less/Where and from
    # ConstantOfShape/Trilu; Expand's -1 fixup (Equal/Where); rotary tables from
    # Range -> Cast -> MatMul -> Cos/Sin.
    def const(name, array):
        return helper.make_node("Constant", [], [name], name=name + "_node",
                                value=numpy_helper.from_array(array))
    save("shape_folding", [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        const("idx0", np.array(0, np.int64)), const("idx1", np.array(1, np.int64)),
        const("zero1", np.array([0], np.int64)),
        helper.make_node("Gather", ["shape", "idx0"], ["b"], name="get_b", axis=0),
        helper.make_node("Gather", ["shape", "idx1"], ["s"], name="get_s", axis=0),
        helper.make_node("Unsqueeze", ["b", "zero1"], ["b1"], name="unsq_b"),
        helper.make_node("Unsqueeze", ["s", "zero1"], ["s1"], name="unsq_s"),
        const("heads", np.array([4, -1], np.int64)),
        helper.make_node("Concat", ["b1", "s1", "heads"], ["newshape"], name="cat_shape",
                         axis=0),
        helper.make_node("Reshape", ["x", "newshape"], ["xh"], name="split_heads"),
        # Causal mask: query i may not see key j > i (-inf there).
        const("start", np.array(0, np.int64)), const("step", np.array(1, np.int64)),
        helper.make_node("Range", ["start", "s", "step"], ["pos"], name="range"),
        const("one1", np.array([1], np.int64)),
        helper.make_node("Unsqueeze", ["pos", "zero1"], ["row"], name="row"),
        helper.make_node("Unsqueeze", ["pos", "one1"], ["col"], name="col"),
        helper.make_node("Less", ["col", "row"], ["future"], name="future"),
        const("neg_inf", np.array(-np.inf, np.float32)),
        const("fzero", np.array(0.0, np.float32)),
        helper.make_node("Where", ["future", "neg_inf", "fzero"], ["mask"], name="mask"),
        helper.make_node("Concat", ["s1", "s1"], ["ss"], name="cat_ss", axis=0),
        helper.make_node("ConstantOfShape", ["ss"], ["ones"], name="fill",
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        const("k1", np.array(1, np.int64)),
        helper.make_node("Trilu", ["ones", "k1"], ["triu"], name="triu"),
        # Expand with torch's -1 fixup: shape = Where(Equal(req, -1), 1, req).
        const("req", np.array([-1, 4, -1, -1], np.int64)),
        const("minus1", np.array(-1, np.int64)),
        helper.make_node("Equal", ["req", "minus1"], ["is_m1"], name="is_m1"),
        const("four", np.array([4], np.int64)),
        helper.make_node("ConstantOfShape", ["four"], ["ones_i"], name="ones_i",
                         value=numpy_helper.from_array(np.array([1], np.int64))),
        helper.make_node("Where", ["is_m1", "ones_i", "req"], ["exp_shape"], name="fix"),
        helper.make_node("Unsqueeze", ["mask", "zero1"], ["mask3"], name="mask3"),
        helper.make_node("Unsqueeze", ["mask3", "zero1"], ["mask4"], name="mask4"),
        helper.make_node("Expand", ["mask4", "exp_shape"], ["mask_e"], name="expand"),
        helper.make_node("Add", ["scores", "mask_e"], ["masked"], name="add_mask"),
        helper.make_node("Mul", ["masked", "triu"], ["scaled"], name="mul_triu"),
        # Rotary tables: t (Range, cast) outer inv_freq, then cos and sin.
        helper.make_node("Cast", ["pos"], ["t"], name="cast_t", to=FLOAT),
        helper.make_node("Unsqueeze", ["t", "one1"], ["t2"], name="t2"),
        helper.make_node("MatMul", ["t2", "inv_freq"], ["freqs"], name="freqs"),
        helper.make_node("Cos", ["freqs"], ["cos"], name="cos"),
        helper.make_node("Sin", ["freqs"], ["sin"], name="sin"),
        helper.make_node("Concat", ["cos", "sin"], ["table"], name="table", axis=1),
        helper.make_node("Unsqueeze", ["table", "one1"], ["table3"], name="table3"),
        helper.make_node("Mul", ["xh", "table3"], ["rot"], name="rot"),
    ], [value("x", [2, 3, 8]), value("scores", [2, 4, 3, 3])],
        [value("rot", [2, 3, 4, 2]), value("scaled", [2, 4, 3, 3])],
        [numpy_helper.from_array(np.array([[1.0]], np.float32), "inv_freq")])

    # Symbolic dimensions: a decoder input [batch, seq, 16] with a KV cache of length
    # past. Shapes are computed with Shape/Gather/Concat and stay symbolic.
    save("symbolic", [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        const("zero1", np.array([0], np.int64)), const("two1", np.array([2], np.int64)),
        helper.make_node("Slice", ["shape", "zero1", "two1"], ["bs"], name="bs"),
        const("heads", np.array([2, 8], np.int64)),
        helper.make_node("Concat", ["bs", "heads"], ["hshape"], name="hshape", axis=0),
        helper.make_node("Reshape", ["x", "hshape"], ["xh"], name="split_heads"),
        helper.make_node("Transpose", ["xh"], ["q"], name="to_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Concat", ["past", "q"], ["kv"], name="cat_kv", axis=2),
        helper.make_node("Transpose", ["kv"], ["kt"], name="kt", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="scores"),
        helper.make_node("Softmax", ["scores"], ["probs"], name="softmax"),
        helper.make_node("MatMul", ["probs", "kv"], ["ctx"], name="ctx"),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], name="ctx_t", perm=[0, 2, 1, 3]),
        const("merge", np.array([0, 0, -1], np.int64)),
        helper.make_node("Reshape", ["ctx_t", "merge"], ["y"], name="merge_heads"),
        # A bias broadcast to [batch, seq, 16] through a symbolic Expand, and a
        # symbolic ConstantOfShape.
        const("sixteen", np.array([16], np.int64)),
        helper.make_node("Concat", ["bs", "sixteen"], ["yshape"], name="yshape", axis=0),
        helper.make_node("Expand", ["bias", "yshape"], ["bias_e"], name="bias_e"),
        helper.make_node("ConstantOfShape", ["yshape"], ["ones"], name="ones",
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Add", ["y", "bias_e"], ["yb"], name="add_bias"),
        helper.make_node("Mul", ["yb", "ones"], ["out"], name="mul_ones"),
        # The last position's hidden state (x[:, -1]).
        const("minus1", np.array([-1], np.int64)), const("big", np.array([2**62], np.int64)),
        const("one1", np.array([1], np.int64)),
        helper.make_node("Slice", ["out", "minus1", "big", "one1"], ["last"], name="last"),
    ], [value("x", ["batch", "seq", 16]), value("past", ["batch", 2, "past", 8])],
        [value("out", ["batch", "seq", 16]), value("last", ["batch", 1, 16]),
         value("kv", ["batch", 2, "past + seq", 8])],
        [numpy_helper.from_array(arange([16], 0.1), "bias")])

    # Ops that only fold (Size, Mod, Xor, Floor, Ceil, ReduceProd on known values), and
    # CastLike, Dropout (inference: identity) and Clip on run-time values.
    save("misc_ops", [
        helper.make_node("Size", ["x"], ["n"], name="size"),
        const("three", np.array([3, -7, 8], np.int64)),
        helper.make_node("Mod", ["three", "n"], ["m"], name="mod"),
        helper.make_node("Cast", ["m"], ["mf"], name="mf", to=FLOAT),
        helper.make_node("Floor", ["halves"], ["fl"], name="floor"),
        helper.make_node("Ceil", ["halves"], ["ce"], name="ceil"),
        helper.make_node("Add", ["fl", "ce"], ["flce"], name="add_fc"),
        helper.make_node("ReduceProd", ["flce"], ["prod"], name="prod", keepdims=0),
        helper.make_node("Greater", ["three", "n"], ["gt"], name="gt"),
        helper.make_node("Less", ["three", "n"], ["lt"], name="lt"),
        helper.make_node("Xor", ["gt", "lt"], ["xr"], name="xor"),
        helper.make_node("Cast", ["xr"], ["xrf"], name="xrf", to=FLOAT),
        helper.make_node("Mul", ["mf", "xrf"], ["picked"], name="picked"),
        helper.make_node("Mul", ["picked", "prod"], ["scale"], name="scale"),
        helper.make_node("Dropout", ["x"], ["xd"], name="dropout"),
        helper.make_node("Clip", ["xd", "lo", "hi"], ["xc"], name="clip"),
        helper.make_node("Clip", ["xc", "", "hi"], ["xh"], name="clip_hi"),
        helper.make_node("Mul", ["xh", "scale"], ["y"], name="mul"),
        helper.make_node("CastLike", ["y", "like"], ["out"], name="castlike"),
    ], [value("x", [2, 3]), value("like", [1], TensorProto.FLOAT16)],
        [value("out", [2, 3], TensorProto.FLOAT16)], [
        numpy_helper.from_array(np.array([0.5, 1.5, -2.5], np.float32), "halves"),
        numpy_helper.from_array(np.array(-1.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
    ])

    # Shape-only weights (the model zoo's convention): dims and type, no data.
    def shape_only(name, dims, elem=FLOAT):
        tensor = TensorProto(name=name, data_type=elem, dims=dims)
        tensor.data_location = TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "conveyor:shape-only"
        return tensor
    save("shape_only", [
        helper.make_node("Gather", ["embed", "ids"], ["h"], name="embed"),
        helper.make_node("MatMul", ["h", "w_up"], ["up"], name="up"),
        helper.make_node("MatMul", ["up", "w_down"], ["y"], name="down"),
    ], [value("ids", ["batch", "seq"], i64)], [value("y", ["batch", "seq", 64], TensorProto.FLOAT16)],
        [shape_only("embed", [1000, 64], TensorProto.FLOAT16),
         shape_only("w_up", [64, 256], TensorProto.FLOAT16),
         shape_only("w_down", [256, 64], TensorProto.FLOAT16),
         shape_only("unused", [7], TensorProto.FLOAT16)])

    # --- Error cases -------------------------------------------------------------------
    full = save("truncated_source", [
        helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
    ], [value("x", [1, 32])], [value("y", [1, 32])],
        [numpy_helper.from_array(arange([32, 32], 0.001), "w")])
    os.remove(os.path.join(OUT, "truncated_source.onnx"))
    with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
        f.write(full[: len(full) // 2])

    save("unknown_op", [
        helper.make_node("Relu", ["x"], ["r"], name="n1"),
        helper.make_node("Foo", ["r"], ["y"], name="n3"),
    ], [value("x", [4])], [value("y", [4])])

    save("symbolic_input", [
        helper.make_node("Relu", ["x"], ["y"], name="r"),
    ], [value("x", ["batch", 8])], [value("y", ["batch", 8])])

    save("missing_input", [
        helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost"),
    ], [value("x", [4])], [value("y", [4])])

    save("unsupported_type", [
        helper.make_node("Relu", ["x"], ["y"], name="r"),
    ], [value("x", [4], TensorProto.UINT8)], [value("y", [4], TensorProto.UINT8)])

    save("empty_graph", [], [value("x", [4])], [value("x", [4])])

    external = TensorProto(name="w_ext", data_type=FLOAT, dims=[4])
    external.data_location = TensorProto.EXTERNAL
    entry = external.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    save("external_data", [
        helper.make_node("Add", ["x", "w_ext"], ["y"], name="add_ext"),
    ], [value("x", [4])], [value("y", [4])], [external])

    save("shape_mismatch", [
        helper.make_node("MatMul", ["x", "w"], ["y"], name="bad_matmul"),
    ], [value("x", [2, 8])], [value("y", [2, 4])],
        [numpy_helper.from_array(arange([7, 4]), "w")])

    save("gelu_old_opset", [
        helper.make_node("Gelu", ["x"], ["y"], name="early_gelu"),
    ], [value("x", [4])], [value("y", [4])], opset=17)

    save("softmax_legacy", [
        helper.make_node("Softmax", ["x"], ["y"], name="legacy_softmax"),
    ], [value("x", [2, 3, 4])], [value("y", [2, 3, 4])], opset=11)

    save("output_mismatch", [
        helper.make_node("Relu", ["x"], ["y"], name="r"),
    ], [value("x", [2, 3])], [value("y", [3, 2])])

    # --- Error cases for the issue-3 ops ------------------------------------------------
    i64 = TensorProto.INT64
    save("err_reshape_runtime_shape", [
        helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_by_input"),
    ], [value("x", [2, 4]), value("shape", [2], i64)], [value("y", [4, 2])])

    save("err_layer_norm_mean", [
        helper.make_node("LayerNormalization", ["x", "g"], ["y", "mean", "inv"], name="ln"),
    ], [value("x", [2, 4])], [value("y", [2, 4]), value("mean", [2, 1])],
        [numpy_helper.from_array(arange([4]), "g")])

    save("symbolic_range", [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "one"], ["n"], name="len"),
        helper.make_node("Range", ["zero", "n", "one"], ["pos"], name="positions"),
        helper.make_node("Cast", ["pos"], ["posf"], name="to_float", to=FLOAT),
        helper.make_node("Add", ["x", "posf"], ["y"], name="add_pos"),
    ], [value("x", [1, "seq"])], [value("y", [1, "seq"])],
        [numpy_helper.from_array(np.array(1, np.int64), "one"),
         numpy_helper.from_array(np.array(0, np.int64), "zero")])

    save("symbolic_as_data", [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Cast", ["s"], ["sf"], name="to_float", to=FLOAT),
        helper.make_node("Mul", ["x", "sf"], ["y"], name="scale"),
    ], [value("x", ["batch", 2])], [value("y", ["batch", 2])])

    save("err_gather_index", [
        helper.make_node("Gather", ["x", "nine"], ["y"], name="pick", axis=1),
    ], [value("x", [2, 4])], [value("y", [2])],
        [numpy_helper.from_array(np.array(9, np.int64), "nine")])

    save("err_squeeze", [
        helper.make_node("Squeeze", ["x", "ax"], ["y"], name="squeeze"),
    ], [value("x", [2, 3])], [value("y", [2])],
        [numpy_helper.from_array(np.array([1], np.int64), "ax")])

    save("err_cast_type", [
        helper.make_node("Cast", ["x"], ["y"], name="to_u8", to=TensorProto.UINT8),
    ], [value("x", [2])], [value("y", [2], TensorProto.UINT8)])

    save("err_argmax_last", [
        helper.make_node("ArgMax", ["x"], ["y"], name="argmax", select_last_index=1),
    ], [value("x", [2, 3])], [value("y", [1, 3], i64)])

    save("err_topk_runtime_k", [
        helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk"),
    ], [value("x", [2, 3]), value("k", [1], i64)], [value("v", [2, 1])])

    save("symbolic_slice", [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Slice", ["s", "zero", "one"], ["seq"], name="seq_len"),
        helper.make_node("Slice", ["table", "zero", "seq"], ["rows"], name="cache_rows"),
        helper.make_node("Add", ["x", "rows"], ["y"], name="add"),
    ], [value("x", ["seq", 4])], [value("y", ["seq", 4])],
        [numpy_helper.from_array(arange([16, 4]), "table"),
         numpy_helper.from_array(np.array([0], np.int64), "zero"),
         numpy_helper.from_array(np.array([1], np.int64), "one")])

    save("err_concat_rank", [
        helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=0),
    ], [value("a", [2, 3]), value("b", [3])], [value("y", [5, 3])])

    save("err_expand", [
        helper.make_node("Expand", ["x", "shape"], ["y"], name="expand"),
    ], [value("x", [3, 2])], [value("y", [4, 2])],
        [numpy_helper.from_array(np.array([4, 2], np.int64), "shape")])

    save("err_floor_runtime", [
        helper.make_node("Floor", ["x"], ["y"], name="floor"),
    ], [value("x", [2])], [value("y", [2])])

    save("err_split_sizes", [
        helper.make_node("Split", ["x", "sizes"], ["a", "b"], name="split", axis=1),
    ], [value("x", [2, 8])], [value("a", [2, 3]), value("b", [2, 3])],
        [numpy_helper.from_array(np.array([3, 3], np.int64), "sizes")])

    save("symbolic_shape_output", [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
    ], [value("x", ["batch", 2])], [value("s", [2], i64)])


def main():
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare freshly generated files with the committed ones")
    args = parser.parse_args()
    if not args.check:
        write_all()
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        OUT = scratch
        write_all()
        fresh = sorted(os.path.basename(p) for p in glob.glob(os.path.join(scratch, "*.onnx")))
        # torch_*.onnx come from make_torch_inputs.py, which checks them itself.
        committed = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "*.onnx"))
                           if not os.path.basename(p).startswith("torch_"))
        stale = [name for name in fresh if name not in committed or
                 not filecmp.cmp(os.path.join(scratch, name), os.path.join(HERE, name),
                                 shallow=False)]
        extra = [name for name in committed if name not in fresh]
    if stale or extra:
        print("make_inputs.py: stale: %s; not generated: %s; rerun "
              "/usr/bin/python3 %s" % (", ".join(stale) or "none", ", ".join(extra) or "none",
                                       os.path.relpath(__file__)), file=sys.stderr)
        return 1
    print("make_inputs.py: %d inputs up to date" % len(fresh))
    return 0


if __name__ == "__main__":
    sys.exit(main())
