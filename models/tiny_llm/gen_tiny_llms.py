#!/usr/bin/python3
"""Writes models/tiny_llm/: three tiny decoder LMs with real weights, exported by
torch.onnx.export (opset 17) from the PyTorch modules in models/zoo/torch_decoder.py, with
reference logits and greedy tokens for a fixed prompt.

    /usr/bin/python3 models/tiny_llm/gen_tiny_llms.py            # (re)write the fixtures
    /usr/bin/python3 models/tiny_llm/gen_tiny_llms.py --check    # exit 1 if out of date, 77
                                                                 # without torch/onnx/numpy

Models (2 layers, d_model 64, vocab 256 = byte values, seeded weights):
    tiny-gpt2    LayerNorm, learned positions, fused QKV + Split, tanh-GELU MLP, tied LM head
    tiny-llama   RMSNorm, RoPE, GQA (4 query heads on 2 KV heads), SwiGLU, untied head
    tiny-moe     tiny-llama's attention + Mixtral-style MoE: softmax router, top-2 of 4
                 experts, gather-based dispatch

Each model is exported twice, in the ONNX backend-test layout:
    <name>-prefill/<name>-prefill.onnx   fixed shape, no cache: input_ids [1, 8] -> logits
        test_data_set_0/input_0.pb       input_ids = the prompt
        test_data_set_0/output_0.pb      logits [1, 8, 256]
    <name>-kv/<name>-kv.onnx             dynamic batch/seq/past with KV cache:
        inputs  input_ids [batch, seq], past_key_values.{i}.{key,value} [batch, kv, past, hd]
        outputs logits [batch, seq, 256], present.{i}.{key,value} [batch, kv, past+seq, hd]
        test_data_set_0/                 one decode step: the first greedy token on top of the
                                         prompt's cache (past 8) -> logits and presents (past 9)
    <name>-*/greedy.json                 prompt and the 8 greedy continuation tokens

Nothing is written unless all of this holds: the NumPy evaluator (models/zoo/onnx_numpy.py)
running each exported graph matches PyTorch; the KV export reproduces the greedy tokens when
driven token by token from an empty cache; the zoo graph builder fed the same weights matches
too; the greedy choices have a clear margin, so another BLAS cannot flip them.
"""

import collections
import io
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.join(os.path.dirname(HERE), "zoo")
sys.path.insert(0, ZOO)

try:
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
except ImportError as missing:
    print(f"gen_tiny_llms.py: skipped: {missing.name} is not installed "
          "(apt-get install python3-onnx python3-torch python3-numpy)", file=sys.stderr)
    sys.exit(77)

import graph_builder  # noqa: E402
import onnx_numpy  # noqa: E402
import torch_decoder  # noqa: E402
import zoo_config  # noqa: E402

OPSET = 17
PROMPT = list(b"Conveyor")  # token ids are byte values
GREEDY_STEPS = 8
TOLERANCE = 1e-4  # max |diff| relative to the largest |logit|
MIN_MARGIN = 1e-2  # greedy top-1 minus top-2 logit, relative to the largest |logit|
MAX_FIXTURE_BYTES = 2 << 20

_COMMON = {
    "layers": 2, "hidden": 64, "heads": 4, "head_dim": 16, "vocab": 256, "max_positions": 64,
    "norm_eps": 1e-05, "rope_scaling": None, "attention_bias": False, "mlp_bias": False,
    "router_bias": False, "qk_norm": False, "attention_sinks": False, "sliding_window": None,
    "checkpoint_dtype": "float32",
    "source": {"config": "models/tiny_llm/gen_tiny_llms.py", "paper": "none: a test fixture"},
    "published": {"params": 1, "params_source": "none: a test fixture"},
}
MODELS = {
    "tiny-gpt2": dict(_COMMON, name="tiny-gpt2", display_name="tiny GPT-2-style", family="gpt2",
                      kv_heads=4, ffn=128, experts=0, top_k=0, router=None, norm="layernorm",
                      mlp="plain", activation="gelu_tanh", tied_embeddings=True,
                      position="learned", rope_theta=None, attention_bias=True, mlp_bias=True,
                      seed=1, embedding_std=0.02),
    "tiny-llama": dict(_COMMON, name="tiny-llama", display_name="tiny Llama-style", family="llama",
                       kv_heads=2, ffn=128, experts=0, top_k=0, router=None, norm="rmsnorm",
                       mlp="gated", activation="silu", tied_embeddings=False, position="rope",
                       rope_theta=10000.0, seed=3),
    "tiny-moe": dict(_COMMON, name="tiny-moe", display_name="tiny Mixtral-style MoE",
                     family="mixtral", kv_heads=2, ffn=32, experts=4, top_k=2,
                     router="softmax_topk_renorm", norm="rmsnorm", mlp="gated",
                     activation="silu", tied_embeddings=False, position="rope",
                     rope_theta=10000.0, seed=2),
}


class PrefillExport(torch.nn.Module):
    """input_ids -> logits, no cache (past=None: no Concat, positions from 0)."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids):
        return self.decoder(input_ids, None)[0]


class KvExport(torch.nn.Module):
    """(input_ids, past k0, v0, k1, v1, ...) -> (logits, present k0, v0, ...)."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        logits, presents = self.decoder(input_ids, past)
        return (logits,) + tuple(t for pair in presents for t in pair)


def kv_names(layers):
    past = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    present = [f"present.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    return past, present


def export(module, args, input_names, output_names, dynamic_axes):
    buffer = io.BytesIO()
    torch.onnx.export(module, args, buffer, opset_version=OPSET, do_constant_folding=True,
                      input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes)
    return buffer.getvalue()


def export_both(decoder, c):
    prefill = export(PrefillExport(decoder), (torch.tensor([PROMPT]),), ["input_ids"],
                     ["logits"], None)
    past_names, present_names = kv_names(c["layers"])
    # Trace with seq 2 and past 3 so that no size is 1 (a traced 1 can get specialised).
    shape = (1, c["kv_heads"], 3, c["head_dim"])
    sample = [torch.zeros(shape) for _ in past_names]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    axes.update({n: {0: "batch", 2: "past"} for n in past_names})
    axes.update({n: {0: "batch", 2: "past+seq"} for n in present_names})
    kv = export(KvExport(decoder), (torch.tensor([PROMPT[:2]]), *sample),
                ["input_ids"] + past_names, ["logits"] + present_names, axes)
    return prefill, kv


def relative_error(actual, expected):
    return float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-6)


def require(condition, message):
    if not condition:
        raise AssertionError(message)


def reference(decoder, c):
    """PyTorch: prompt logits, greedy tokens (through the cache), and the first decode step."""
    with torch.no_grad():
        prompt_logits, cache = decoder(torch.tensor([PROMPT]), None)
        tokens, margins = [], []
        logits, past = prompt_logits, cache
        step_io = None
        for step in range(GREEDY_STEPS):
            last = logits[0, -1].numpy()
            ordered = np.sort(last)
            margins.append((ordered[-1] - ordered[-2]) / np.abs(last).max())
            tokens.append(int(last.argmax()))
            new_logits, new_past = decoder(torch.tensor([[tokens[-1]]]), past)
            if step == 0:
                step_io = (tokens[0], [t.numpy() for pair in past for t in pair],
                           new_logits.numpy(), [t.numpy() for pair in new_past for t in pair])
            logits, past = new_logits, new_past
    return prompt_logits.numpy(), tokens, min(margins), step_io


def verify(c, decoder, prefill_bytes, kv_bytes, prompt_logits, tokens, step_io):
    """The exported graphs (and the zoo builder) compute what PyTorch computes."""
    name = c["name"]
    prefill = onnx.load_from_string(prefill_bytes)
    kv = onnx.load_from_string(kv_bytes)
    onnx.checker.check_model(prefill)
    onnx.checker.check_model(kv)
    out = onnx_numpy.run(prefill, {"input_ids": np.array([PROMPT])})["logits"]
    error = relative_error(out, prompt_logits)
    require(error <= TOLERANCE, f"{name}: prefill export differs from PyTorch by {error:.3g}")

    past_names, present_names = kv_names(c["layers"])
    empty = np.zeros((1, c["kv_heads"], 0, c["head_dim"]), dtype=np.float32)
    feeds = dict({"input_ids": np.array([PROMPT])}, **{n: empty for n in past_names})
    result = onnx_numpy.run(kv, feeds)
    error = max(error, relative_error(result["logits"], prompt_logits))
    require(error <= TOLERANCE, f"{name}: KV export prefill (empty cache) differs by {error:.3g}")
    generated = []
    for _ in range(GREEDY_STEPS):
        generated.append(int(result["logits"][0, -1].argmax()))
        feeds = {"input_ids": np.array([[generated[-1]]])}
        feeds.update({p: result[q] for p, q in zip(past_names, present_names)})
        result = onnx_numpy.run(kv, feeds)
    require(generated == tokens, f"{name}: KV export greedy tokens {generated} != PyTorch {tokens}")

    token, past, step_logits, presents = step_io
    feeds = dict({"input_ids": np.array([[token]])}, **dict(zip(past_names, past)))
    step = onnx_numpy.run(kv, feeds)
    error = max(error, relative_error(step["logits"], step_logits))
    for n, expected in zip(present_names, presents):
        error = max(error, relative_error(step[n], expected))
    require(error <= TOLERANCE, f"{name}: KV export decode step differs by {error:.3g}")

    # The zoo's hand-built graph for the same architecture agrees with torch's export.
    zoo = graph_builder.build_model(c, torch_decoder.onnx_weights(decoder))
    feeds = dict({"input_ids": np.array([PROMPT])}, **{n: empty for n in past_names})
    zoo_logits = onnx_numpy.run(zoo, feeds)["logits"]
    error = max(error, relative_error(zoo_logits, prompt_logits))
    require(error <= TOLERANCE, f"{name}: zoo graph builder differs from PyTorch by {error:.3g}")
    return error


def tensor_file(array, name, dtype):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name=name).SerializeToString()


def fixture_files(c, prefill_bytes, kv_bytes, prompt_logits, tokens, step_io):
    """{relative path: bytes}; output tensors are listed separately for a tolerant --check."""
    name = c["name"]
    fields = {
        "model": name,
        "prompt_text": bytes(PROMPT).decode(),
        "prompt": PROMPT,
        "greedy_tokens": tokens,
        "steps": GREEDY_STEPS,
        "how": "token ids are byte values; each greedy token is the argmax of the last "
               "position's logits, fed back one token at a time through the KV cache",
    }
    # One field per line, lists kept on one line: easy to read and to diff.
    greedy = ("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in fields.items())
              + "\n}\n").encode()
    files = {
        f"{name}-prefill/{name}-prefill.onnx": prefill_bytes,
        f"{name}-prefill/greedy.json": greedy,
        f"{name}-prefill/test_data_set_0/input_0.pb": tensor_file([PROMPT], "input_ids", np.int64),
        f"{name}-kv/{name}-kv.onnx": kv_bytes,
        f"{name}-kv/greedy.json": greedy,
    }
    outputs = {f"{name}-prefill/test_data_set_0/output_0.pb": ("logits", prompt_logits)}
    token, past, step_logits, presents = step_io
    past_names, present_names = kv_names(c["layers"])
    data = f"{name}-kv/test_data_set_0/"
    files[data + "input_0.pb"] = tensor_file([[token]], "input_ids", np.int64)
    for k, (n, array) in enumerate(zip(past_names, past), start=1):
        files[data + f"input_{k}.pb"] = tensor_file(array, n, np.float32)
    outputs[data + "output_0.pb"] = ("logits", step_logits)
    for k, (n, array) in enumerate(zip(present_names, presents), start=1):
        outputs[data + f"output_{k}.pb"] = (n, array)
    return files, outputs


def write_atomically(path, data):
    """Temp file + rename: an interrupted run never leaves a half-written file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def check_on_disk(files, outputs):
    """--check: graphs, inputs and JSON bit for bit; reference outputs to TOLERANCE (another
    BLAS may round the last bits differently)."""
    status = 0
    for relative, data in files.items():
        path = os.path.join(HERE, relative)
        if not os.path.exists(path):
            print(f"{path}: missing; run /usr/bin/python3 models/tiny_llm/gen_tiny_llms.py",
                  file=sys.stderr)
            status = 1
            continue
        with open(path, "rb") as handle:
            if handle.read() != data:
                print(f"{path}: differs from what gen_tiny_llms.py writes; regenerate it",
                      file=sys.stderr)
                status = 1
    for relative, (name, expected) in outputs.items():
        path = os.path.join(HERE, relative)
        tensor = onnx.TensorProto()
        try:
            with open(path, "rb") as handle:
                tensor.ParseFromString(handle.read())
        except OSError:
            print(f"{path}: missing; regenerate it", file=sys.stderr)
            status = 1
            continue
        actual = numpy_helper.to_array(tensor)
        if tensor.name != name or actual.shape != expected.shape or \
                relative_error(actual, expected) > TOLERANCE:
            print(f"{path}: differs from the PyTorch reference; regenerate it", file=sys.stderr)
            status = 1
    return status


def op_histogram(model_bytes):
    return collections.Counter(n.op_type for n in onnx.load_from_string(model_bytes).graph.node)


def main(argv):
    check = "--check" in argv
    torch.set_num_threads(1)
    status = 0
    for name, spec in MODELS.items():
        c = {k: v for k, v in spec.items() if k not in ("seed", "embedding_std")}
        zoo_config.validate(c, f"gen_tiny_llms.py model {name}")
        torch.manual_seed(spec["seed"])  # nothing draws from torch's RNG; set for safety
        decoder = torch_decoder.randomize(torch_decoder.Decoder(c).eval(), spec["seed"],
                                          spec.get("embedding_std", 1.0))
        prompt_logits, tokens, margin, step_io = reference(decoder, c)
        prefill_bytes, kv_bytes = export_both(decoder, c)
        try:
            require(margin >= MIN_MARGIN, f"{name}: a greedy choice wins by only {margin:.2g} "
                    "of the logit scale; pick another seed")
            require(len(set(tokens)) > 2, f"{name}: greedy tokens {tokens} are degenerate")
            error = verify(c, decoder, prefill_bytes, kv_bytes, prompt_logits, tokens, step_io)
        except AssertionError as failure:
            print(f"gen_tiny_llms.py: {failure}", file=sys.stderr)
            return 1
        files, outputs = fixture_files(c, prefill_bytes, kv_bytes, prompt_logits, tokens,
                                       step_io)
        if check:
            status |= check_on_disk(files, outputs)
            continue
        serialized = dict(files)
        serialized.update({p: tensor_file(a, n, np.float32) for p, (n, a) in outputs.items()})
        for folder in (f"{name}-prefill", f"{name}-kv"):
            size = sum(len(d) for p, d in serialized.items() if p.startswith(folder + "/"))
            if size > MAX_FIXTURE_BYTES:
                print(f"gen_tiny_llms.py: {folder} would be {size} bytes, over the 2 MB limit",
                      file=sys.stderr)
                return 1
        for relative, data in serialized.items():
            write_atomically(os.path.join(HERE, relative), data)
        for variant, data in (("prefill", prefill_bytes), ("kv", kv_bytes)):
            ops = ", ".join(f"{op} {n}" for op, n in sorted(op_histogram(data).items()))
            print(f"wrote models/tiny_llm/{name}-{variant}: {len(data):,} bytes of ONNX; ops: {ops}")
        print(f"  {name}: greedy {tokens}, worst relative |diff| {error:.1e}, "
              f"smallest greedy margin {margin:.3f}")
    if check and status == 0:
        print(f"models/tiny_llm: up to date ({len(MODELS)} models)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
