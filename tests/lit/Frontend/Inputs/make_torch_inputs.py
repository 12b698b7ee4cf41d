#!/usr/bin/python3
"""Exports tiny transformer blocks with torch.onnx.export for the importer lit tests.

The point is to test what torch 1.13's exporter (opset 17) really emits for the
architectures issue 3 names, not hand-built graphs: a Llama-style decoder (RMSNorm,
rotary embeddings, grouped-query attention with a KV cache, SwiGLU), a GPT-2-style
block (Conv1D as addmm, fused QKV split, a causal-mask buffer, tanh GELU, learned
positions) and a top-2 mixture-of-experts layer (router softmax, TopK, scatter).
The modules are written the way Hugging Face writes them, so the exports contain the
same Shape/Gather/Range/Where subgraphs.

Run with /usr/bin/python3 (it has torch 1.13 and onnx):
    /usr/bin/python3 tests/lit/Frontend/Inputs/make_torch_inputs.py
The outputs are committed; `--check` re-exports into a temporary folder and fails if a
committed file differs (the lit test torch-inputs-up-to-date.test runs it). Next to each
export, torch_<name>_data/ holds its inputs and torch's outputs for them as ONNX test
data (input_N.pb, output_N.pb), which numerics.test compares the importer against.
"""
import argparse
import filecmp
import glob
import io
import math
import os
import sys
import tempfile
import warnings

import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "torch_"  # every file this script writes starts with it


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim) + 0.1 * torch.randn(dim))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class LlamaBlock(nn.Module):
    """Embedding, one Llama decoder layer with a KV cache, final norm and LM head."""

    def __init__(self, vocab=40, dim=16, heads=4, kv_heads=2, ffn=32, max_pos=32):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.embed = nn.Embedding(vocab, dim)
        self.input_norm, self.post_norm, self.final_norm = RMSNorm(dim), RMSNorm(dim), RMSNorm(dim)
        self.q = nn.Linear(dim, heads * self.head_dim, bias=False)
        self.k = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.gate = nn.Linear(dim, ffn, bias=False)
        self.up = nn.Linear(dim, ffn, bias=False)
        self.down = nn.Linear(ffn, dim, bias=False)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        freqs = torch.outer(torch.arange(max_pos).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos(), persistent=False)
        self.register_buffer("sin_cached", emb.sin(), persistent=False)

    def forward(self, input_ids, past_key, past_value):
        batch, seq = input_ids.shape
        past = past_key.shape[2]
        hidden = self.embed(input_ids)
        x = self.input_norm(hidden)
        q = self.q(x).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        position_ids = torch.arange(past, past + seq)
        cos = self.cos_cached[position_ids][None, None]
        sin = self.sin_cached[position_ids][None, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([past_key, k], dim=2)
        v = torch.cat([past_value, v], dim=2)
        present_key, present_value = k, v
        total = past + seq
        repeats = self.heads // self.kv_heads
        k = k[:, :, None].expand(batch, self.kv_heads, repeats, total, self.head_dim)
        k = k.reshape(batch, self.heads, total, self.head_dim)
        v = v[:, :, None].expand(batch, self.kv_heads, repeats, total, self.head_dim)
        v = v.reshape(batch, self.heads, total, self.head_dim)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim)
        mask = torch.full((seq, total), float("-inf")).triu(past + 1)
        probs = F.softmax(scores + mask, dim=-1)
        attn = (probs @ v).transpose(1, 2).reshape(batch, seq, -1)
        hidden = hidden + self.o(attn)
        x = self.post_norm(hidden)
        hidden = hidden + self.down(F.silu(self.gate(x)) * self.up(x))
        logits = self.lm_head(self.final_norm(hidden))
        return logits, present_key, present_value


class Conv1D(nn.Module):
    """GPT-2's transposed linear layer (exported as Gemm through addmm)."""

    def __init__(self, out_features, in_features):
        super().__init__()
        self.weight = nn.Parameter(0.1 * torch.randn(in_features, out_features))
        self.bias = nn.Parameter(0.1 * torch.randn(out_features))

    def forward(self, x):
        shape = x.size()[:-1] + (self.weight.size(-1),)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(shape)


def new_gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Gpt2Block(nn.Module):
    """Token and position embeddings, one GPT-2 layer, final LayerNorm, tied LM head."""

    def __init__(self, vocab=40, dim=16, heads=2, max_pos=32):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(max_pos, dim)
        self.ln_1, self.ln_2, self.ln_f = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.c_attn = Conv1D(3 * dim, dim)
        self.c_proj = Conv1D(dim, dim)
        self.c_fc = Conv1D(4 * dim, dim)
        self.mlp_proj = Conv1D(dim, 4 * dim)
        self.register_buffer(
            "bias", torch.tril(torch.ones((max_pos, max_pos), dtype=torch.bool)).view(
                1, 1, max_pos, max_pos), persistent=False)

    def split_heads(self, x):
        return x.view(x.size()[:-1] + (self.heads, self.head_dim)).permute(0, 2, 1, 3)

    def forward(self, input_ids):
        seq = input_ids.size(-1)
        position_ids = torch.arange(0, seq, dtype=torch.long).unsqueeze(0)
        hidden = self.wte(input_ids) + self.wpe(position_ids)
        query, key, value = self.c_attn(self.ln_1(hidden)).split(self.heads * self.head_dim, dim=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        weights = torch.matmul(query, key.transpose(-1, -2)) / torch.full(
            [], value.size(-1) ** 0.5, dtype=query.dtype)
        query_length, key_length = query.size(-2), key.size(-2)
        causal = self.bias[:, :, key_length - query_length: key_length, :key_length]
        min_value = torch.full([], torch.finfo(weights.dtype).min, dtype=weights.dtype)
        weights = torch.where(causal, weights, min_value)
        weights = F.softmax(weights, dim=-1)
        attn = torch.matmul(weights, value).permute(0, 2, 1, 3).contiguous()
        attn = attn.view(attn.size()[:-2] + (self.heads * self.head_dim,))
        hidden = hidden + self.c_proj(attn)
        hidden = hidden + self.mlp_proj(new_gelu(self.c_fc(self.ln_2(hidden))))
        hidden = self.ln_f(hidden)
        return F.linear(hidden, self.wte.weight)


class MoeLayer(nn.Module):
    """Top-2 routing over four SwiGLU experts, computed densely (Mixtral-style weights)."""

    def __init__(self, dim=16, ffn=24, experts=4, top_k=2):
        super().__init__()
        self.top_k = top_k
        self.router = nn.Linear(dim, experts, bias=False)
        self.gates = nn.ModuleList(nn.Linear(dim, ffn, bias=False) for _ in range(experts))
        self.ups = nn.ModuleList(nn.Linear(dim, ffn, bias=False) for _ in range(experts))
        self.downs = nn.ModuleList(nn.Linear(ffn, dim, bias=False) for _ in range(experts))

    def forward(self, hidden):
        tokens = hidden.view(-1, hidden.shape[-1])
        probs = F.softmax(self.router(tokens), dim=-1)
        top_weights, top_experts = torch.topk(probs, self.top_k, dim=-1)
        top_weights = top_weights / top_weights.sum(dim=-1, keepdim=True)
        routing = torch.zeros_like(probs).scatter(1, top_experts, top_weights)
        out = torch.zeros_like(tokens)
        for e, (gate, up, down) in enumerate(zip(self.gates, self.ups, self.downs)):
            expert = down(F.silu(gate(tokens)) * up(tokens))
            out = out + routing[:, e:e + 1] * expert
        return out.view(hidden.shape)


def export(module, args, names, outputs, path, dynamic_axes=None):
    """Exports `module` to `path` and writes its inputs and torch's outputs for them to
    the ONNX test-data folder `path` minus ".onnx" plus "_data"."""
    module.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, opset_version=17, input_names=names,
                          output_names=outputs, dynamic_axes=dynamic_axes)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
    with torch.no_grad():
        results = module(*args)
    results = results if isinstance(results, tuple) else (results,)
    data = path[:-len(".onnx")] + "_data"
    os.makedirs(data, exist_ok=True)
    for kind, tensors, tensor_names in (("input", args, names), ("output", results, outputs)):
        for index, (tensor, name) in enumerate(zip(tensors, tensor_names)):
            proto = numpy_helper.from_array(tensor.numpy(), name)
            with open(os.path.join(data, "%s_%d.pb" % (kind, index)), "wb") as f:
                f.write(proto.SerializeToString())


def write_all(out):
    torch.manual_seed(0)
    llama = LlamaBlock()
    ids = torch.randint(0, 40, (1, 5))
    past_k, past_v = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    llama_io = (["input_ids", "past_key", "past_value"], ["logits", "present_key", "present_value"])
    export(llama, (ids, past_k, past_v), *llama_io, os.path.join(out, PREFIX + "llama.onnx"))
    export(llama, (ids, past_k, past_v), *llama_io, os.path.join(out, PREFIX + "llama_dynamic.onnx"),
           dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                         "past_key": {0: "batch", 2: "past"},
                         "past_value": {0: "batch", 2: "past"}})
    gpt2 = Gpt2Block()
    export(gpt2, (torch.randint(0, 40, (1, 6)),), ["input_ids"], ["logits"],
           os.path.join(out, PREFIX + "gpt2.onnx"))
    export(gpt2, (torch.randint(0, 40, (1, 6)),), ["input_ids"], ["logits"],
           os.path.join(out, PREFIX + "gpt2_dynamic.onnx"),
           dynamic_axes={"input_ids": {0: "batch", 1: "seq"}})
    export(MoeLayer(), (torch.randn(1, 3, 16),), ["hidden"], ["out"],
           os.path.join(out, PREFIX + "moe.onnx"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare freshly exported files with the committed ones")
    args = parser.parse_args()
    if not args.check:
        write_all(HERE)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        write_all(scratch)
        def files(root):
            found = glob.glob(os.path.join(root, PREFIX + "*.onnx"))
            found += glob.glob(os.path.join(root, PREFIX + "*_data", "*.pb"))
            return sorted(os.path.relpath(p, root) for p in found)
        fresh, committed = files(scratch), files(HERE)
        stale = [name for name in fresh if name not in committed or
                 not filecmp.cmp(os.path.join(scratch, name), os.path.join(HERE, name),
                                 shallow=False)]
        extra = [name for name in committed if name not in fresh]
    if stale or extra:
        print("make_torch_inputs.py: stale: %s; not generated: %s; rerun "
              "/usr/bin/python3 %s" % (", ".join(stale) or "none", ", ".join(extra) or "none",
                                       os.path.relpath(__file__)), file=sys.stderr)
        return 1
    print("make_torch_inputs.py: %d exports and %d data files up to date"
          % (sum(name.endswith(".onnx") for name in fresh),
             sum(name.endswith(".pb") for name in fresh)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
