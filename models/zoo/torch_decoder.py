"""PyTorch reference decoder for any zoo config: the tiny real-weight fixtures are exported
from it (models/tiny_llm/gen_tiny_llms.py), and the zoo graphs are checked against it
(models/zoo/test_zoo_numerics.py).

Written from the Hugging Face modeling code's semantics (Llama, Mixtral, Qwen3, Qwen3-MoE,
GPT-OSS, GPT-2), not from graph_builder.py, so that agreement between the two means something.
Module and parameter names follow Hugging Face, which is what torch.onnx.export puts into node
names. Written to export cleanly at opset 17 with dynamic batch / seq / past: positions and
masks come from torch.arange over traced sizes, never from Python ints.
"""

import math

import numpy as np
import torch
from torch import nn

import zoo_config

MASK_VALUE = torch.finfo(torch.float32).min


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def repeat_kv(x, n_rep):
    """transformers' repeat_kv: [b, kv, T, hd] -> [b, kv * n_rep, T, hd], each KV head
    repeated n_rep times in a row (head j of the result reads KV head j // n_rep)."""
    if n_rep == 1:
        return x
    b, kv, length, hd = x.shape
    return x[:, :, None, :, :].expand(b, kv, n_rep, length, hd).reshape(b, kv * n_rep, length, hd)


class Attention(nn.Module):
    def __init__(self, c, layer):
        super().__init__()
        self.c = c
        h, kv, hd, d = c["heads"], c["kv_heads"], c["head_dim"], c["hidden"]
        bias = c["attention_bias"]
        self.q_proj = nn.Linear(d, h * hd, bias=bias)
        self.k_proj = nn.Linear(d, kv * hd, bias=bias)
        self.v_proj = nn.Linear(d, kv * hd, bias=bias)
        self.o_proj = nn.Linear(h * hd, d, bias=bias)
        if c["qk_norm"]:
            self.q_norm = RMSNorm(hd, c["norm_eps"])
            self.k_norm = RMSNorm(hd, c["norm_eps"])
        if c["attention_sinks"]:
            self.sinks = nn.Parameter(torch.zeros(h))
        self.window = c["sliding_window"] if layer in zoo_config.sliding_layers(c) else None

    def forward(self, x, cos, sin, q_pos, k_pos, past_k, past_v):
        c = self.c
        b, s, _ = x.shape
        h, kv, hd = c["heads"], c["kv_heads"], c["head_dim"]
        q = self.q_proj(x).view(b, s, h, hd)
        k = self.k_proj(x).view(b, s, kv, hd)
        v = self.v_proj(x).view(b, s, kv, hd).transpose(1, 2)
        if c["qk_norm"]:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        present_k = k if past_k is None else torch.cat([past_k, k], dim=2)
        present_v = v if past_v is None else torch.cat([past_v, v], dim=2)
        keys, values = repeat_kv(present_k, h // kv), repeat_kv(present_v, h // kv)
        scores = torch.matmul(q, keys.transpose(2, 3)) / math.sqrt(hd)
        masked = k_pos[None, :] > q_pos[:, None]
        if self.window is not None:
            masked = masked | (k_pos[None, :] <= q_pos[:, None] - self.window)
        scores = scores.masked_fill(masked, MASK_VALUE)
        if c["attention_sinks"]:
            sink = self.sinks.view(1, h, 1, 1).expand(b, h, s, 1)
            joined = torch.cat([scores, sink], dim=-1)
            probs = torch.softmax(joined, dim=-1)[..., :-1]
        else:
            probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, values).transpose(1, 2).reshape(b, s, h * hd)
        return self.o_proj(out), present_k, present_v


class GatedMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f, bias = c["hidden"], c["ffn"], c["mlp_bias"]
        self.gate_proj = nn.Linear(d, f, bias=bias)
        self.up_proj = nn.Linear(d, f, bias=bias)
        self.down_proj = nn.Linear(f, d, bias=bias)
        self.act = nn.SiLU() if c["activation"] == "silu" else nn.GELU()

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class MoE(nn.Module):
    """Top-k routed experts, gpt-fast style: gather the chosen experts' weights by index."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        d, f, e = c["hidden"], c["ffn"], c["experts"]
        self.router = nn.Linear(d, e, bias=c["router_bias"])
        # Stacked [experts, in, out] tensors under mlp.experts.*, as transformers' GptOssExperts
        # stores them (Mixtral/Qwen3-MoE checkpoints keep one nn.Linear per expert instead).
        self.experts = nn.Module()
        shapes = {"down_proj": (e, f, d)}
        if c["mlp"] == "gated_interleaved":
            shapes["gate_up_proj"] = (e, d, 2 * f)
        else:
            shapes.update(gate_proj=(e, d, f), up_proj=(e, d, f))
        for name, shape in shapes.items():
            self.experts.register_parameter(name, nn.Parameter(torch.zeros(shape)))
            if c["mlp_bias"]:
                self.experts.register_parameter(name + "_bias",
                                                nn.Parameter(torch.zeros(shape[0], shape[2])))

    def expert(self, rows, name, index):
        """rows [T, k, 1, in] @ weights[index] [T, k, in, out] (+ bias[index])."""
        out = torch.matmul(rows, getattr(self.experts, name)[index])
        if self.c["mlp_bias"]:
            out = out + getattr(self.experts, name + "_bias")[index].unsqueeze(2)
        return out

    def forward(self, x):
        c = self.c
        shape = x.shape
        tokens = x.reshape(-1, c["hidden"])
        logits = self.router(tokens)
        if c["router"] == "softmax_topk_renorm":
            weights, index = torch.topk(torch.softmax(logits, dim=-1), c["top_k"], dim=-1)
            weights = weights / weights.sum(dim=-1, keepdim=True)
        else:
            top, index = torch.topk(logits, c["top_k"], dim=-1)
            weights = torch.softmax(top, dim=-1)
        rows = tokens[:, None, None, :]
        if c["mlp"] == "gated_interleaved":
            fused = self.expert(rows, "gate_up_proj", index)
            gate, up = fused[..., ::2], fused[..., 1::2]
            limit = c["swiglu_limit"]
            gate = gate.clamp(max=limit)
            up = up.clamp(min=-limit, max=limit)
            hidden = (up + 1) * (gate * torch.sigmoid(gate * c["swiglu_alpha"]))
        else:
            act = nn.functional.silu if c["activation"] == "silu" else nn.functional.gelu
            hidden = act(self.expert(rows, "gate_proj", index)) * self.expert(rows, "up_proj", index)
        out = self.expert(hidden, "down_proj", index).squeeze(2)  # [T, k, d]
        return (out * weights.unsqueeze(-1)).sum(dim=1).reshape(shape)


class LlamaLayer(nn.Module):
    def __init__(self, c, layer):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden"], c["norm_eps"])
        self.self_attn = Attention(c, layer)
        self.post_attention_layernorm = RMSNorm(c["hidden"], c["norm_eps"])
        self.mlp = MoE(c) if c["experts"] else GatedMLP(c)

    def forward(self, x, cos, sin, q_pos, k_pos, past_k, past_v):
        attn, present_k, present_v = self.self_attn(self.input_layernorm(x), cos, sin, q_pos,
                                                    k_pos, past_k, past_v)
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x)), present_k, present_v


class LlamaBody(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab"], c["hidden"])
        self.layers = nn.ModuleList(LlamaLayer(c, i) for i in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"], c["norm_eps"])


class Gpt2Layer(nn.Module):
    """HF GPT-2 block, with nn.Linear in place of Conv1D (same math, transposed storage)."""

    def __init__(self, c):
        super().__init__()
        d, f = c["hidden"], c["ffn"]
        self.c = c
        self.ln_1 = nn.LayerNorm(d, eps=c["norm_eps"])
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(d, 3 * d)
        self.attn.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=c["norm_eps"])
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(d, f)
        self.mlp.c_proj = nn.Linear(f, d)

    def forward(self, x, q_pos, k_pos, past_k, past_v):
        c = self.c
        b, s, d = x.shape
        h, hd = c["heads"], c["head_dim"]
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(b, s, h, hd).transpose(1, 2) for t in (q, k, v))
        present_k = k if past_k is None else torch.cat([past_k, k], dim=2)
        present_v = v if past_v is None else torch.cat([past_v, v], dim=2)
        scores = torch.matmul(q, present_k.transpose(-1, -2)) / math.sqrt(hd)
        allowed = k_pos[None, :] <= q_pos[:, None]
        scores = torch.where(allowed, scores, torch.tensor(MASK_VALUE))
        attended = torch.matmul(torch.softmax(scores, dim=-1), present_v)
        x = x + self.attn.c_proj(attended.transpose(1, 2).reshape(b, s, d))
        approximate = "tanh" if c["activation"] == "gelu_tanh" else "none"
        hidden = nn.functional.gelu(self.mlp.c_fc(self.ln_2(x)), approximate=approximate)
        return x + self.mlp.c_proj(hidden), present_k, present_v


class Gpt2Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["hidden"])
        self.wpe = nn.Embedding(c["max_positions"], c["hidden"])
        self.h = nn.ModuleList(Gpt2Layer(c) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["hidden"], eps=c["norm_eps"])


class Decoder(nn.Module):
    """forward(input_ids [b, s], past list of (k, v) or None) -> logits [b, s, vocab],
    presents. past=None is a cache-free prefill from position 0 (no Concat in an export)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        if c["family"] == "gpt2":
            self.transformer = Gpt2Body(c)
        else:
            self.model = LlamaBody(c)
            inverse = torch.tensor(zoo_config.rope_inverse_frequencies(c), dtype=torch.float32)
            self.register_buffer("inv_freq", inverse, persistent=False)
            self.rope_factor = zoo_config.rope_attention_factor(c)
            if not c["tied_embeddings"]:
                self.lm_head = nn.Linear(c["hidden"], c["vocab"], bias=False)

    def forward(self, input_ids, past):
        c = self.c
        seq = input_ids.shape[1]
        past_len = 0 if past is None else past[0][0].shape[2]
        if past is None:
            past = [(None, None)] * c["layers"]
        q_pos = torch.arange(past_len, past_len + seq)
        k_pos = torch.arange(0, past_len + seq)
        presents = []
        if c["family"] == "gpt2":
            body = self.transformer
            x = body.wte(input_ids) + body.wpe(q_pos)
            for layer, (pk, pv) in zip(body.h, past):
                x, k, v = layer(x, q_pos, k_pos, pk, pv)
                presents.append((k, v))
            x = body.ln_f(x)
            return torch.matmul(x, body.wte.weight.t()), presents
        body = self.model
        freqs = q_pos.float()[:, None] * self.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos() * self.rope_factor, angles.sin() * self.rope_factor
        x = body.embed_tokens(input_ids)
        for layer, (pk, pv) in zip(body.layers, past):
            x, k, v = layer(x, cos, sin, q_pos, k_pos, pk, pv)
            presents.append((k, v))
        x = body.norm(x)
        if c["tied_embeddings"]:
            return torch.matmul(x, body.embed_tokens.weight.t()), presents
        return self.lm_head(x), presents

    def empty_past(self, batch=1):
        shape = (batch, self.c["kv_heads"], 0, self.c["head_dim"])
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in range(self.c["layers"])]


def randomize(module, seed, embedding_std=1.0):
    """Deterministic weights from NumPy's generator (stable across torch versions), scaled
    like a trained model so that attention, routing and logits are far from uniform:
    matrices N(0, 1/fan_in), embeddings N(0, embedding_std^2), norm scales 1 + N(0, 0.1^2),
    biases N(0, 0.1^2), sinks N(0, 1). With a tied LM head, embeddings need a small std (GPT-2
    initialises them with 0.02): otherwise every token's logit is dominated by its own
    embedding and greedy decoding just repeats the last token."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "norm" in name or name.split(".")[-2].startswith("ln_"):
                value = 1.0 + rng.normal(0.0, 0.1, p.shape) if leaf == "weight" \
                    else rng.normal(0.0, 0.1, p.shape)
            elif leaf == "sinks":
                value = rng.normal(0.0, 1.0, p.shape)
            elif leaf == "bias" or leaf.endswith("_bias"):
                value = rng.normal(0.0, 0.1, p.shape)
            elif name.endswith(("embed_tokens.weight", "wte.weight", "wpe.weight")):
                value = rng.normal(0.0, embedding_std, p.shape)
            else:
                fan_in = p.shape[-1] if isinstance(_owner(module, name), nn.Linear) else p.shape[-2]
                value = rng.normal(0.0, 1.0 / math.sqrt(fan_in), p.shape)
            p.copy_(torch.from_numpy(np.asarray(value, dtype=np.float32)))
    return module


def _owner(module, name):
    owner = module
    for part in name.split(".")[:-1]:
        owner = getattr(owner, part)
    return owner


def onnx_weights(decoder):
    """The decoder's parameters under graph_builder's names and layouts (MatMul weights
    [in, out]: nn.Linear's [out, in] transposed; stacked expert tensors as they are)."""
    out = {}
    for name, p in decoder.named_parameters():
        array = p.detach().numpy().astype(np.float32)
        if isinstance(_owner(decoder, name), nn.Linear) and name.endswith(".weight"):
            array = array.T.copy()
        out[name] = array
    return out
