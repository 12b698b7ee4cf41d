#!/usr/bin/python3
"""Checks that the zoo graphs compute the right decoder: for every config, a miniature of it
(same features: GQA ratio, qk-norm, biases, sinks, sliding window, YaRN, router kind, tied
head; tiny sizes) is built by graph_builder.py with real random weights, run by the NumPy
evaluator, and compared with the PyTorch reference decoder (torch_decoder.py):

  1. prefill of 5 tokens (batch 2, empty cache): logits and present K/V;
  2. a second chunk of 3 tokens on top of that cache (past 5, seq 3): logits must equal the
     reference's full 8-token run at positions 5..7, which exercises positions, causal and
     sliding-window masks across the cache boundary;
  3. one decode step (batch 1, past 8): the MatMul FLOPs the graph performs must equal
     closed_form.py's decode formula, so expected.json's FLOPs describe these graphs. (The
     graph multiplies masked keys too, so sliding layers are counted over all keys here, and
     the one RoPE angle MatMul, head_dim FLOPs, is added.)

    /usr/bin/python3 models/zoo/test_zoo_numerics.py     # exit 0 pass, 1 fail, 77 skipped
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import onnx  # noqa: F401
    import torch
except ImportError as missing:
    print(f"test_zoo_numerics.py: skipped: {missing.name} is not installed", file=sys.stderr)
    sys.exit(77)

import closed_form  # noqa: E402
import graph_builder  # noqa: E402
import onnx_numpy  # noqa: E402
import torch_decoder  # noqa: E402
import zoo_config  # noqa: E402

TOLERANCE = 2e-4  # max |diff| relative to the largest |logit| (float32 torch vs float64 NumPy)
SEED = 7
BATCH = 2
FIRST, SECOND = 5, 3


def miniature(c):
    """The same architecture at toy size: every feature flag kept, every size shrunk."""
    m = dict(c)
    ratio = c["heads"] // c["kv_heads"]
    heads = max(4, 2 * ratio)  # at least 2 KV heads, or a wrong GQA head order goes unseen
    m.update(heads=heads, kv_heads=heads // ratio, head_dim=8, layers=2, vocab=50,
             max_positions=32)
    # Keep Qwen3's hidden != heads * head_dim (its q_proj widens); otherwise match them.
    m["hidden"] = heads * 8 if c["hidden"] == c["heads"] * c["head_dim"] else 24
    if c["experts"]:
        m.update(experts=min(c["experts"], 6), top_k=min(c["top_k"], 3), ffn=12)
    else:
        m["ffn"] = 40
    if c["sliding_window"] is not None:
        m["sliding_window"] = 3  # smaller than the test sequence, so the window matters
    m["name"] = c["name"] + "-mini"
    zoo_config.validate(m, f"miniature of {c['name']}")
    return m


def compare(what, actual, expected):
    scale = max(float(np.abs(expected).max()), 1e-6)
    error = float(np.abs(actual - expected).max()) / scale
    if actual.shape != expected.shape or not error <= TOLERANCE:
        raise AssertionError(f"{what}: shape {actual.shape} vs {expected.shape}, "
                             f"relative max |diff| {error:.3g} > {TOLERANCE}")
    return error


def check(config):
    m = miniature(config)
    torch.manual_seed(SEED)
    decoder = torch_decoder.randomize(torch_decoder.Decoder(m).eval(), SEED)
    weights = torch_decoder.onnx_weights(decoder)
    shapes = graph_builder.parameter_shapes(m)
    if set(weights) != set(shapes):
        raise AssertionError(f"parameter names differ: torch only {sorted(set(weights) - set(shapes))}"
                             f", graph only {sorted(set(shapes) - set(weights))}")
    model = graph_builder.build_model(m, weights)
    rng = np.random.default_rng(SEED)
    tokens = rng.integers(0, m["vocab"], size=(BATCH, FIRST + SECOND), dtype=np.int64)

    with torch.no_grad():
        full, _ = decoder(torch.from_numpy(tokens), decoder.empty_past(BATCH))
        first, presents = decoder(torch.from_numpy(tokens[:, :FIRST]), decoder.empty_past(BATCH))
    full, first = full.numpy(), first.numpy()
    if float(full.std()) < 0.1:
        raise AssertionError("reference logits are nearly constant; the test would prove little")

    empty = np.zeros((BATCH, m["kv_heads"], 0, m["head_dim"]), dtype=np.float32)
    feeds = {"input_ids": tokens[:, :FIRST]}
    for i in range(m["layers"]):
        feeds[f"past_key_values.{i}.key"] = empty
        feeds[f"past_key_values.{i}.value"] = empty
    out = onnx_numpy.run(model, feeds)
    worst = compare("prefill logits", out["logits"], first)
    for i, (k, v) in enumerate(presents):
        compare(f"present.{i}.key", out[f"present.{i}.key"], k.numpy())
        compare(f"present.{i}.value", out[f"present.{i}.value"], v.numpy())

    feeds = {"input_ids": tokens[:, FIRST:]}
    for i in range(m["layers"]):
        feeds[f"past_key_values.{i}.key"] = out[f"present.{i}.key"]
        feeds[f"past_key_values.{i}.value"] = out[f"present.{i}.value"]
    second = onnx_numpy.run(model, feeds)
    worst = max(worst, compare("cached chunk logits", second["logits"], full[:, FIRST:]))
    if second["present.0.key"].shape[2] != FIRST + SECOND:
        raise AssertionError("present K/V did not grow by the chunk length")
    check_decode_flops(m, model, out, tokens)
    return worst


def check_decode_flops(m, model, prefill_out, tokens):
    counted = [0]

    def count(node, inputs, outputs):
        if node.op_type == "MatMul":
            a, y = inputs[0], outputs[0]
            counted[0] += 2 * int(np.prod(y.shape)) * a.shape[-1]

    feeds = {"input_ids": tokens[:1, FIRST:FIRST + 1]}
    for i in range(m["layers"]):
        for kind in ("key", "value"):
            feeds[f"past_key_values.{i}.{kind}"] = prefill_out[f"present.{i}.{kind}"][:1]
    onnx_numpy.run(model, feeds, on_node=count)
    dense_attention = dict(m, sliding_window=None)
    expected = closed_form.decode_flops(dense_attention, closed_form.count_params(m), FIRST + 1)
    expected += m["head_dim"]  # [1, 1] x [1, head_dim / 2] RoPE angles
    if m["position"] != "rope":
        expected -= m["head_dim"]
    if counted[0] != expected:
        raise AssertionError(f"decode step performs {counted[0]} MatMul FLOPs, closed_form.py "
                             f"predicts {expected}")


def main():
    failures = 0
    for config in zoo_config.load_all():
        try:
            worst = check(config)
            print(f"{config['name']}: miniature matches the PyTorch reference "
                  f"(relative max |diff| {worst:.1e})")
        except (AssertionError, RuntimeError, ValueError, NotImplementedError) as error:
            print(f"{config['name']}: FAILED: {error}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
