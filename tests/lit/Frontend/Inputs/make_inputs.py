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
        committed = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "*.onnx")))
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
