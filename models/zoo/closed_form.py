#!/usr/bin/python3
"""Closed-form size and cost of each zoo model: parameters, weight bytes per precision, FLOPs
per token (prefill and decode), KV-cache bytes per token; writes models/zoo/expected.json.

    python3 models/zoo/closed_form.py            # (re)write expected.json, print the table
    python3 models/zoo/closed_form.py --check    # exit 1 if expected.json is out of date
                                                 # or a model misses its published count by >1%

Pure Python: any python3 runs it. The numbers are what `conveyor inspect model.onnx` must
reproduce from the graphs gen_zoo.py writes; the conventions below are part of that contract and
are also written into expected.json.
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo_config  # noqa: E402  (sibling module; the path insert above makes it importable)

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED_PATH = os.path.join(HERE, "expected.json")
PUBLISHED_TOLERANCE = 0.01  # issue 3: every zoo model within 1% of its published count

# Bytes per stored element. int4 packs two weights per byte.
WEIGHT_PRECISIONS = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5}
KV_PRECISIONS = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
DECODE_CONTEXTS = (1, 128, 2048, 4096, 32768)
PREFILL_LENGTHS = (128, 2048, 4096)

CONVENTIONS = {
    "params": "every weight element once: embedding tables, projections, biases, norm scales, "
              "router, experts, attention sinks; a tied LM head is the embedding table and counts "
              "once. Buffers computed from constants (RoPE inverse frequencies, masks) are not "
              "parameters. In the zoo ONNX files the parameters are exactly the shape-only "
              "initializers.",
    "non_embedding": "params minus the token embedding table and a separate LM head (and a "
                     "learned position table): the Qwen model cards' convention",
    "active": "params a token touches: MoE layers count top_k of the experts (plus the router); "
              "embedding and LM head included (Mixtral's 12.9B convention)",
    "active_excluding_input_embedding": "active minus the input embedding table (and position "
                                        "table) unless it is tied to the LM head (gpt-oss's "
                                        "5.13B convention)",
    "flops": "2 FLOPs per multiply-accumulate. matmul = 2 x (weights a token multiplies: "
             "q/k/v/o projections, the MLP or router + top_k experts, the LM head; not the "
             "embedding gather, not biases or norms). attention = per layer 4 x heads x head_dim "
             "per (query, key) pair (2 for QK^T, 2 for PV); a layer with sliding window W sees "
             "min(keys, W) keys. Elementwise work (norms, softmax, RoPE, activations) is not "
             "counted.",
    "decode": "one new token whose context holds C tokens including itself: matmul + "
              "attention over C keys (W on sliding layers). Keyed by C.",
    "prefill": "average per token over a prompt of S tokens with a causal mask, counting only "
               "unmasked (query, key) pairs: token i (1-based) sees i keys, min(i, W) on sliding "
               "layers. Keyed by S.",
    "kv_cache_bytes_per_token": "2 (K and V) x layers x kv_heads x head_dim x bytes per element: "
                                "what the graph's present.* outputs grow by per token",
    "kv_cache_bytes_per_token_beyond_window": "same, counting only layers without a sliding "
                                              "window: the growth per token once the context "
                                              "exceeds the window (sliding layers keep W tokens)",
    "weight_bytes": "params x bytes per element at each precision (int4: 0.5 bytes, rounded up "
                    "to whole bytes); a uniform precision, no quantisation scales",
}


def count_params(c):
    """Parameter counts by part; every line mirrors one initializer family in the ONNX graph."""
    d, h, kv, hd, f, v, e = (c[k] for k in ("hidden", "heads", "kv_heads", "head_dim", "ffn",
                                            "vocab", "experts"))
    norm = d * (2 if c["norm"] == "layernorm" else 1)  # scale (+ bias for LayerNorm)
    attention_weights = d * h * hd + 2 * d * kv * hd + h * hd * d
    attention = attention_weights
    if c["attention_bias"]:
        attention += h * hd + 2 * kv * hd + d
    if c["qk_norm"]:
        attention += 2 * hd
    if c["attention_sinks"]:
        attention += h
    mlp_weights = (3 if c["mlp"] != "plain" else 2) * d * f
    mlp = mlp_weights
    if c["mlp_bias"]:
        mlp += (2 * f + d) if c["mlp"] != "plain" else (f + d)
    router = (d * e + (e if c["router_bias"] else 0)) if e else 0
    per_layer_mlp = mlp * e if e else mlp
    embedding = v * d
    position = c["max_positions"] * d if c["position"] == "learned" else 0
    lm_head = 0 if c["tied_embeddings"] else v * d
    layers = c["layers"]
    total = (embedding + position + lm_head + norm
             + layers * (2 * norm + attention + router + per_layer_mlp))
    active = total - (layers * (e - c["top_k"]) * mlp if e else 0)
    input_tables = position + (0 if c["tied_embeddings"] else embedding)
    return {
        "total": total,
        "embedding": embedding,
        "position_embedding": position,
        "lm_head": lm_head,
        "attention": layers * attention,
        "mlp": layers * per_layer_mlp,
        "router": layers * router,
        "norms": norm + layers * 2 * norm,
        "non_embedding": total - embedding - lm_head - position,
        "active": active,
        "active_excluding_input_embedding": active - input_tables,
        # Inputs to the FLOP count (weights only, no biases): kept for inspect to cross-check.
        "matmul_weights_per_token": layers * (attention_weights + d * e
                                              + (c["top_k"] if e else 1) * mlp_weights)
                                    + v * d,
    }


def attention_flops_per_key(c):
    return 4 * c["heads"] * c["head_dim"]


def decode_flops(c, params, context):
    sliding = zoo_config.sliding_layers(c)
    window = c["sliding_window"]
    keys = sum(min(context, window) if layer in sliding else context
               for layer in range(c["layers"]))
    return 2 * params["matmul_weights_per_token"] + attention_flops_per_key(c) * keys


def prefill_flops_per_token(c, params, prompt):
    """Average over the prompt; exact integer arithmetic, then one division."""
    sliding = zoo_config.sliding_layers(c)
    window = c["sliding_window"]
    full_pairs = prompt * (prompt + 1) // 2  # sum_{i=1..S} i
    if window is not None:
        seen = min(prompt, window)
        window_pairs = seen * (seen + 1) // 2 + (prompt - seen) * window
    total_pairs = sum(window_pairs if layer in sliding else full_pairs
                      for layer in range(c["layers"]))
    total = 2 * params["matmul_weights_per_token"] * prompt + attention_flops_per_key(c) * total_pairs
    return total / prompt


def kv_bytes_per_token(c, only_full_layers=False):
    layers = c["layers"] - (len(zoo_config.sliding_layers(c)) if only_full_layers else 0)
    elements = 2 * layers * c["kv_heads"] * c["head_dim"]
    return {name: elements * size for name, size in KV_PRECISIONS.items()}


def describe(c):
    """Everything expected.json records for one model."""
    params = count_params(c)
    published = c["published"]
    entry = {
        "display_name": c["display_name"],
        "onnx": f"models/zoo/onnx/{c['name']}.onnx",
        "architecture": {k: c[k] for k in ("layers", "hidden", "heads", "kv_heads", "head_dim",
                                           "ffn", "vocab", "experts", "top_k", "sliding_window",
                                           "tied_embeddings")},
        "params": params,
        "weight_bytes": {name: int(-(-params["total"] * size // 1))
                         for name, size in WEIGHT_PRECISIONS.items()},
        "kv_cache_bytes_per_token": kv_bytes_per_token(c),
        "flops_per_token": {
            "matmul": 2 * params["matmul_weights_per_token"],
            "attention_per_key_per_layer": attention_flops_per_key(c),
            "decode": {str(n): decode_flops(c, params, n) for n in DECODE_CONTEXTS},
            "prefill": {str(n): prefill_flops_per_token(c, params, n) for n in PREFILL_LENGTHS},
        },
        "published": {
            "params": published["params"],
            "params_error_percent": round(100.0 * (params["total"] - published["params"])
                                          / published["params"], 3),
            "params_source": published["params_source"],
        },
    }
    if c["sliding_window"] is not None:
        entry["kv_cache_bytes_per_token_beyond_window"] = kv_bytes_per_token(c, True)
    for key, modelled in (("non_embedding_params", params["non_embedding"]),
                          ("active_params", None)):
        if key not in published:
            continue
        if modelled is None:  # the card says which convention its active count uses
            convention = published["active_params_convention"]
            modelled = (params["active_excluding_input_embedding"]
                        if "excluding the input embedding" in convention else params["active"])
            entry["published"]["active_params_convention"] = convention
        entry["published"][key] = published[key]
        entry["published"][key + "_modelled"] = modelled
        entry["published"][key + "_error_percent"] = round(
            100.0 * (modelled - published[key]) / published[key], 3)
        entry["published"][key + "_source"] = published[key + "_source"]
    return entry


def build_expected(configs):
    return {
        "generator": "models/zoo/closed_form.py (from models/zoo/configs/*.json)",
        "conventions": CONVENTIONS,
        "weight_precisions_bytes": WEIGHT_PRECISIONS,
        "kv_precisions_bytes": KV_PRECISIONS,
        "published_tolerance_percent": 100 * PUBLISHED_TOLERANCE,
        "models": {c["name"]: describe(c) for c in configs},
    }


def table(expected):
    """Markdown table: modelled vs published parameter counts."""
    lines = ["| model | modelled params | published | error | fp16 KV / token | "
             "decode GFLOP/token @4096 |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, m in expected["models"].items():
        p = m["published"]
        lines.append(f"| {m['display_name']} | {m['params']['total']:,} | {p['params']:.4g} | "
                     f"{p['params_error_percent']:+.2f}% | "
                     f"{m['kv_cache_bytes_per_token']['fp16'] / 1024:g} KiB | "
                     f"{m['flops_per_token']['decode']['4096'] / 1e9:.2f} |")
    return "\n".join(lines)


def serialize(expected):
    return (json.dumps(expected, indent=1, sort_keys=False) + "\n").encode()


def write_atomically(path, data):
    """Temp file + rename: an interrupted run never leaves a half-written file."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def check_published(expected):
    """Returns the lines naming every model that misses its published total by more than 1%."""
    failures = []
    for name, m in expected["models"].items():
        error = abs(m["published"]["params_error_percent"])
        if error > 100 * PUBLISHED_TOLERANCE:
            failures.append(f"models/zoo/configs/{name}.json: modelled {m['params']['total']:,} "
                            f"parameters is {error:.2f}% from the published "
                            f"{m['published']['params']:.4g}; check the config")
    return failures


def main(argv):
    try:
        configs = zoo_config.load_all()
    except zoo_config.ConfigError as error:
        print(f"closed_form.py: {error}", file=sys.stderr)
        return 1
    expected = build_expected(configs)
    failures = check_published(expected)
    for line in failures:
        print(line, file=sys.stderr)
    data = serialize(expected)
    if "--check" in argv:
        try:
            with open(EXPECTED_PATH, "rb") as handle:
                on_disk = handle.read()
        except OSError:
            print(f"{EXPECTED_PATH}: missing; run python3 models/zoo/closed_form.py",
                  file=sys.stderr)
            return 1
        if on_disk != data:
            print(f"{EXPECTED_PATH}: differs from what closed_form.py computes from the configs; "
                  "run python3 models/zoo/closed_form.py", file=sys.stderr)
            return 1
        print(f"models/zoo/expected.json: up to date ({len(configs)} models)")
        return 1 if failures else 0
    if failures:
        return 1
    write_atomically(EXPECTED_PATH, data)
    print(table(expected))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
