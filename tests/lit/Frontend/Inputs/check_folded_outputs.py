#!/usr/bin/python3
"""Checks the importer's semantics numerically against reference outputs.

Usage: check_folded_outputs.py CONVEYOR_TRANSLATE MODEL.onnx TEST_DATA_DIR [--rtol R]

The model's graph inputs are replaced by initializers holding TEST_DATA_DIR's
input_*.pb tensors, so every node's inputs are known at import time and the importer
evaluates the whole graph (the same attribute handling, shape resolution and kernels it
uses to fold shape subgraphs). The outputs then appear as cv.graph.constant ops, which
this script reads back and compares with output_*.pb (the reference that torch or the
model's generator computed). Prints one line per output and fails on a mismatch.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

ELEMENT_TYPES = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i64": np.int64,
                 "i32": np.int32, "i8": np.int8, "i1": np.bool_}


def parse_dense(text, shape, dtype):
    """Parses the body of dense<...> as printed by MLIR."""
    count = int(np.prod(shape)) if shape else 1
    if text.startswith('"0x'):
        raw = bytes.fromhex(text[3:-1])
        if dtype is np.bool_:
            return np.frombuffer(raw, np.uint8).astype(np.bool_).reshape(shape)
        return np.frombuffer(raw, dtype).reshape(shape)

    def scalar(token):
        if token in ("true", "false"):
            return 1.0 if token == "true" else 0.0
        if token.startswith("0x"):  # a float printed as its bit pattern (inf, nan)
            bits = int(token, 16)
            width = {np.float16: np.uint16, np.float32: np.uint32,
                     np.float64: np.uint64}[dtype]
            return np.array(bits, width).view(dtype).item()
        return float(token)
    tokens = [scalar(t) for t in re.findall(r"0x[0-9A-Fa-f]+|true|false|[-+0-9.eE]+", text)]
    values = np.array(tokens * count if len(tokens) == 1 else tokens)
    return values.astype(dtype).reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("translate")
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args()

    model = onnx.load(args.model)
    graph = model.graph
    inputs = {}
    index = 0
    while os.path.exists(os.path.join(args.data, "input_%d.pb" % index)):
        tensor = onnx.TensorProto()
        with open(os.path.join(args.data, "input_%d.pb" % index), "rb") as f:
            tensor.ParseFromString(f.read())
        inputs[graph.input[index].name if not tensor.name else tensor.name] = tensor
        index += 1
    for name, tensor in inputs.items():
        tensor.name = name
        graph.initializer.append(tensor)
    kept = [i for i in graph.input if i.name not in inputs]
    del graph.input[:]
    graph.input.extend(kept)

    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "folded.onnx")
        onnx.save(model, path)
        run = subprocess.run([args.translate, "--import-onnx", path,
                              "--mlir-print-elementsattrs-with-hex-if-larger=1"],
                             capture_output=True, text=True)
    if run.returncode != 0:
        print("import failed: " + run.stderr.strip())
        return 1

    constants = {}
    for match in re.finditer(r"(%\S+) = cv\.graph\.constant(?: \{[^}]*\})? dense<(.*?)> : "
                             r"tensor<([0-9x]*?)x?([a-z]+[0-9]+)>", run.stdout):
        name, body, dims, element = match.groups()
        shape = [int(d) for d in dims.split("x") if d]
        constants[name] = parse_dense(body, shape, ELEMENT_TYPES[element])
    returned = re.search(r"return (.*?) :", run.stdout)
    if not returned:
        print("the folded module has no return op")
        return 1
    operands = [op.strip() for op in returned.group(1).split(",")]
    failures = 0
    for index, (operand, output) in enumerate(zip(operands, graph.output)):
        reference = onnx.TensorProto()
        with open(os.path.join(args.data, "output_%d.pb" % index), "rb") as f:
            reference.ParseFromString(f.read())
        expected = numpy_helper.to_array(reference)
        if operand not in constants:
            print("output '%s' was not folded to a constant" % output.name)
            failures += 1
            continue
        actual = constants[operand]
        if actual.shape != expected.shape:
            print("output '%s': shape %s, expected %s" % (output.name, actual.shape,
                                                          expected.shape))
            failures += 1
            continue
        error = np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)),
                       initial=0.0)
        ok = np.allclose(actual, expected, rtol=args.rtol, atol=args.atol)
        print("output '%s' %s: max abs error %.3g" % (output.name,
                                                     "matches" if ok else "DIFFERS", error))
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
