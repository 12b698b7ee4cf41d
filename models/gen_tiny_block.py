#!/usr/bin/python3
"""Writes models/tiny/: a one-block transformer ONNX model with real weights + reference data.

Run with the system Python (it has onnx, torch and numpy):

    /usr/bin/python3 models/gen_tiny_block.py            # (re)write the files
    /usr/bin/python3 models/gen_tiny_block.py --check    # exit 1 if they are out of date

Outputs (ONNX backend-test layout, TensorProto names = graph input/output names):
    models/tiny/tiny-block.onnx
    models/tiny/test_data_set_0/input_0.pb    x: float32 [1, 8, 64]
    models/tiny/test_data_set_0/output_0.pb   y: float32 [1, 8, 64]

Three independent computations must agree before anything is written:
  1. the reference output comes from a PyTorch nn.Module that holds the same weights in its
     own layout (nn.Linear keeps [out, in]; the ONNX graph keeps MatMul weights as [in, out]);
  2. a small NumPy interpreter runs the ONNX graph as written (node by node, from the
     initializers in the serialized model), in float64;
  3. both must agree to 1e-5, and the block must really change its input (weights large
     enough that attention and the MLP matter, causal mask effective).
"""

import math
import os
import sys
import tempfile

try:
    import numpy as np
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper
except ImportError as missing:  # only regenerating/checking fixtures needs these
    print(f"gen_tiny_block.py: skipped: {missing.name} is not installed "
          "(apt-get install python3-onnx python3-torch)", file=sys.stderr)
    sys.exit(77)

SEED = 20240601
POSITIONS = 8
D_MODEL = 64
HEADS = 4
HEAD_DIM = D_MODEL // HEADS  # 16
D_FF = 256
OPSET = 20  # first opset where Gelu is a standard (default-domain) op
MASK_VALUE = -1e4
TOLERANCE = 1e-5

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "tiny")


def make_weights(rng):
    """Weights in PyTorch layout ([out, in] for linear layers).

    Scaled like a trained block (std 1/sqrt(fan_in)) rather than a fresh N(0, 0.02) init, so
    that attention scores spread out and the MLP output is of the same order as its input.
    """

    def linear(fan_in, fan_out):
        weight = rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=(fan_out, fan_in))
        bias = rng.normal(0.0, 0.1, size=(fan_out,))
        return weight.astype(np.float32), bias.astype(np.float32)

    weights = {}
    for name, (fan_in, fan_out) in {
        "q": (D_MODEL, D_MODEL),
        "k": (D_MODEL, D_MODEL),
        "v": (D_MODEL, D_MODEL),
        "o": (D_MODEL, D_MODEL),
        "fc1": (D_MODEL, D_FF),
        "fc2": (D_FF, D_MODEL),
    }.items():
        weights[name + ".weight"], weights[name + ".bias"] = linear(fan_in, fan_out)
    return weights


def causal_mask():
    """[8, 8] additive mask: 0 where a position may attend (itself and earlier), -1e4 after."""
    allowed = np.tril(np.ones((POSITIONS, POSITIONS), dtype=bool))
    return np.where(allowed, 0.0, MASK_VALUE).astype(np.float32)


class TinyBlock(torch.nn.Module):
    """Post-residual transformer block without layer norm: attention then a GELU MLP."""

    def __init__(self, weights):
        super().__init__()
        self.q = torch.nn.Linear(D_MODEL, D_MODEL)
        self.k = torch.nn.Linear(D_MODEL, D_MODEL)
        self.v = torch.nn.Linear(D_MODEL, D_MODEL)
        self.o = torch.nn.Linear(D_MODEL, D_MODEL)
        self.fc1 = torch.nn.Linear(D_MODEL, D_FF)
        self.fc2 = torch.nn.Linear(D_FF, D_MODEL)
        state = {name: torch.from_numpy(value) for name, value in weights.items()}
        self.load_state_dict(state, strict=True)
        self.register_buffer("mask", torch.from_numpy(causal_mask()))

    def forward(self, x):
        batch, positions, _ = x.shape

        def heads(t):  # [B, P, D] -> [B, H, P, Dh]
            return t.view(batch, positions, HEADS, HEAD_DIM).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(HEAD_DIM) + self.mask
        attended = torch.softmax(scores, dim=-1) @ v
        merged = attended.transpose(1, 2).reshape(batch, positions, D_MODEL)
        h = x + self.o(merged)
        return h + self.fc2(torch.nn.functional.gelu(self.fc1(h)))  # exact (erf) GELU

    def attention_probabilities(self, x):
        batch, positions, _ = x.shape
        q = self.q(x).view(batch, positions, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k(x).view(batch, positions, HEADS, HEAD_DIM).transpose(1, 2)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(HEAD_DIM) + self.mask, dim=-1)


def build_onnx(weights):
    """The same block as an ONNX graph using only MatMul, Gemm, Add, Mul, Gelu, Softmax,
    Reshape and Transpose, with weights as initializers."""
    inits = []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name=name))
        return name

    # MatMul takes [in, out]: transpose PyTorch's [out, in] weights.
    for proj in ("q", "k", "v"):
        init(f"{proj}_proj.weight", weights[f"{proj}.weight"].T.copy())
        init(f"{proj}_proj.bias", weights[f"{proj}.bias"])
    # Gemm with transB=1 takes the [out, in] layout as it is.
    init("out_proj.weight", weights["o.weight"])
    init("out_proj.bias", weights["o.bias"])
    init("fc1.weight", weights["fc1.weight"].T.copy())
    init("fc1.bias", weights["fc1.bias"])
    init("fc2.weight", weights["fc2.weight"].T.copy())
    init("fc2.bias", weights["fc2.bias"])
    init("heads_shape", np.array([1, POSITIONS, HEADS, HEAD_DIM], dtype=np.int64))
    init("rows_shape", np.array([POSITIONS, D_MODEL], dtype=np.int64))
    init("block_shape", np.array([1, POSITIONS, D_MODEL], dtype=np.int64))
    init("attention_scale", np.array(1.0 / math.sqrt(HEAD_DIM), dtype=np.float32))
    init("causal_mask", causal_mask())

    nodes = []

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def projection(proj):
        product = node("MatMul", ["x", f"{proj}_proj.weight"], f"{proj}_matmul")
        return node("Add", [product, f"{proj}_proj.bias"], f"{proj}_proj")

    q = node("Reshape", [projection("q"), "heads_shape"], "q_heads")
    q = node("Transpose", [q], "q_bhpd", perm=[0, 2, 1, 3])  # [1, 4, 8, 16]
    k = node("Reshape", [projection("k"), "heads_shape"], "k_heads")
    k = node("Transpose", [k], "k_bhdp", perm=[0, 2, 3, 1])  # [1, 4, 16, 8]: K^T directly
    v = node("Reshape", [projection("v"), "heads_shape"], "v_heads")
    v = node("Transpose", [v], "v_bhpd", perm=[0, 2, 1, 3])  # [1, 4, 8, 16]

    scores = node("MatMul", [q, k], "scores")  # [1, 4, 8, 8]
    scores = node("Mul", [scores, "attention_scale"], "scores_scaled")
    scores = node("Add", [scores, "causal_mask"], "scores_masked")
    probs = node("Softmax", [scores], "attention_probs", axis=-1)
    attended = node("MatMul", [probs, v], "attended")  # [1, 4, 8, 16]
    merged = node("Transpose", [attended], "attended_bphd", perm=[0, 2, 1, 3])
    rows = node("Reshape", [merged, "rows_shape"], "attended_rows")  # [8, 64]
    out = node("Gemm", [rows, "out_proj.weight", "out_proj.bias"], "out_proj", transB=1)
    out = node("Reshape", [out, "block_shape"], "out_proj_block")
    h = node("Add", ["x", out], "attention_residual")

    fc1 = node("MatMul", [h, "fc1.weight"], "fc1_matmul")
    fc1 = node("Add", [fc1, "fc1.bias"], "fc1")
    act = node("Gelu", [fc1], "gelu", approximate="none")
    fc2 = node("MatMul", [act, "fc2.weight"], "fc2_matmul")
    fc2 = node("Add", [fc2, "fc2.bias"], "fc2")
    nodes.append(helper.make_node("Add", [h, fc2], ["y"], name="mlp_residual"))

    graph = helper.make_graph(
        nodes,
        "tiny_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, POSITIONS, D_MODEL])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, POSITIONS, D_MODEL])],
        initializer=inits,
        doc_string="One transformer block (no layer norm): 4-head causal attention + GELU MLP. "
        "Generated by models/gen_tiny_block.py.",
    )
    model = helper.make_model(
        graph,
        producer_name="conveyor/models/gen_tiny_block.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    # IR version 9 goes with opset 20 (ONNX 1.15). The installed onnx 1.12 predates both, so
    # its checker is not run; the NumPy interpreter below checks the graph instead.
    model.ir_version = 9
    return model


def run_onnx_with_numpy(model, feeds):
    """Evaluates the ONNX graph node by node in float64 (only the ops this model uses)."""
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) if t.data_type == TensorProto.FLOAT
              else numpy_helper.to_array(t) for t in model.graph.initializer}
    values.update({name: array.astype(np.float64) for name, array in feeds.items()})
    erf = np.vectorize(math.erf)
    for n in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        args = [values[name] for name in n.input]
        if n.op_type == "MatMul":
            result = np.matmul(args[0], args[1])
        elif n.op_type == "Gemm":
            a = args[0].T if attrs.get("transA", 0) else args[0]
            b = args[1].T if attrs.get("transB", 0) else args[1]
            result = attrs.get("alpha", 1.0) * (a @ b) + attrs.get("beta", 1.0) * args[2]
        elif n.op_type == "Add":
            result = args[0] + args[1]
        elif n.op_type == "Mul":
            result = args[0] * args[1]
        elif n.op_type == "Relu":
            result = np.maximum(args[0], 0.0)
        elif n.op_type == "Gelu":
            assert attrs.get("approximate", b"none") in (b"none", "none")
            result = 0.5 * args[0] * (1.0 + erf(args[0] / math.sqrt(2.0)))
        elif n.op_type == "Softmax":
            axis = attrs.get("axis", -1)
            shifted = np.exp(args[0] - args[0].max(axis=axis, keepdims=True))
            result = shifted / shifted.sum(axis=axis, keepdims=True)
        elif n.op_type == "Reshape":
            result = args[0].reshape([int(d) for d in args[1]])
        elif n.op_type == "Transpose":
            result = np.transpose(args[0], attrs["perm"])
        else:
            raise SystemExit(f"gen_tiny_block.py: node '{n.name}' uses op {n.op_type}, "
                             "which this model must not contain")
        values[n.output[0]] = result
    return {out.name: values[out.name] for out in model.graph.output}


def write_atomically(path, data):
    """Temp file + rename: an interrupted run never leaves a half-written file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)  # mkstemp creates 0600; these files are meant to be shared
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def check_files_on_disk(files, y_expected):
    """--check: the committed files are what this script produces (the model and input
    bit for bit; the output to 1e-5, since another BLAS may round differently)."""
    for path, data in files.items():
        if not os.path.exists(path):
            print(f"{path}: missing; run /usr/bin/python3 models/gen_tiny_block.py", file=sys.stderr)
            return 1
        with open(path, "rb") as f:
            on_disk = f.read()
        if path.endswith("output_0.pb"):
            tensor = TensorProto()
            tensor.ParseFromString(on_disk)
            actual = numpy_helper.to_array(tensor)
            if tensor.name != "y" or actual.shape != y_expected.shape or \
                    np.abs(actual - y_expected).max() > TOLERANCE:
                print(f"{path}: differs from the PyTorch reference; regenerate it", file=sys.stderr)
                return 1
        elif on_disk != data:
            print(f"{path}: differs from what the generator writes; regenerate it", file=sys.stderr)
            return 1
    print("models/tiny: up to date")
    return 0


def main():
    torch.manual_seed(SEED)  # nothing below draws from torch's RNG; set for safety
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    weights = make_weights(rng)
    x = rng.normal(0.0, 1.0, size=(1, POSITIONS, D_MODEL)).astype(np.float32)

    block = TinyBlock(weights).eval()
    with torch.no_grad():
        y_torch = block(torch.from_numpy(x)).numpy().astype(np.float32)
        probs = block.attention_probabilities(torch.from_numpy(x)).numpy()

    model = build_onnx(weights)
    model_bytes = model.SerializeToString()
    reloaded = onnx.load_from_string(model_bytes)
    allowed = {"MatMul", "Gemm", "Add", "Mul", "Relu", "Gelu", "Softmax", "Reshape", "Transpose"}
    used = {n.op_type for n in reloaded.graph.node}
    assert used <= allowed, f"unexpected ops {used - allowed}"
    y_numpy = run_onnx_with_numpy(reloaded, {"x": x})["y"]

    max_error = float(np.abs(y_numpy - y_torch).max())
    assert max_error <= TOLERANCE, f"NumPy ONNX run differs from PyTorch by {max_error:.3g}"
    # The block must do real work, or a broken compiler could pass by copying x to y.
    change = float(np.linalg.norm(y_torch - x) / np.linalg.norm(x))
    assert change > 0.3, f"output too close to input (relative change {change:.3f})"
    assert np.all(np.triu(probs, k=1) < 1e-30), "causal mask not effective"
    assert probs[..., 1:, :].max(axis=-1).min() < 0.9 and probs.max() > 0.5, \
        "attention is trivially uniform or one-hot"

    data_dir = os.path.join(OUT_DIR, "test_data_set_0")
    files = {
        os.path.join(OUT_DIR, "tiny-block.onnx"): model_bytes,
        os.path.join(data_dir, "input_0.pb"): numpy_helper.from_array(x, name="x").SerializeToString(),
        os.path.join(data_dir, "output_0.pb"): numpy_helper.from_array(y_torch, name="y").SerializeToString(),
    }
    if "--check" in sys.argv[1:]:
        return check_files_on_disk(files, y_torch)
    for path, data in files.items():
        write_atomically(path, data)
    print(f"wrote {os.path.relpath(OUT_DIR, os.getcwd())}: tiny-block.onnx ({len(model_bytes)} bytes, "
          f"{len(reloaded.graph.node)} nodes), test_data_set_0/{{input_0,output_0}}.pb; "
          f"NumPy vs PyTorch max |diff| {max_error:.2e}, relative change of x {change:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
