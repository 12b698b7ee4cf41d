#!/usr/bin/env python3
"""Measure real GPU inference throughput of Llama-shaped models for the roofline calibration.

The GPU roofline (docs/gpu-model.md) is calibrated against published measurements; this script
adds measurements taken on a GPU we can run ourselves. It builds a Llama decoder with the zoo
model's shapes and random bf16 weights (throughput does not depend on the weight values), then
times, with CUDA events:

  * a static batch exactly as runtime/lib/Gpu/BenchmarkScenarios.cpp models it: one batched
    prefill of B x prompt tokens, then output-1 decode steps; output tokens/s =
    B * output / (prefill + decode time);
  * the first-token latency of one long prompt (batch 1).

Decode steps run from a CUDA graph over a static KV cache (the gpt-fast recipe), so kernel
launch overhead does not hide the memory-bound work the roofline models. Attention reads the
whole static cache (prompt + output positions) under a mask. GPU power is sampled with
nvidia-smi during the decode loop.

Usage (on a machine with a CUDA GPU and PyTorch):
  python3 models/gpu/measure_llama_gpu.py --out results.json
  python3 models/gpu/measure_llama_gpu.py --device cpu --tiny     # smoke test without a GPU
"""

import argparse
import json
import math
import os
import subprocess
import threading
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # ctest skips (77) where python3-torch is missing
    print("measure_llama_gpu.py: PyTorch is not installed")
    raise SystemExit(77)

# Shapes of the zoo models (models/zoo/configs), HF config names in comments.
CONFIGS = {
    "llama2-7b": dict(dim=4096, layers=32, heads=32, kv_heads=32, ffn=11008, vocab=32000),
    "llama2-13b": dict(dim=5120, layers=40, heads=40, kv_heads=40, ffn=13824, vocab=32000),
    "llama3-8b": dict(dim=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=128256),
    "tiny": dict(dim=64, layers=2, heads=4, kv_heads=2, ffn=128, vocab=256),
}


_HAS_GQA = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 5)


def sdpa(q, k, v, mask, causal, group=1):
    """F.scaled_dot_product_attention (grouped-query heads read in place where PyTorch can),
    with a plain fallback for old PyTorch (smoke tests)."""
    if hasattr(F, "scaled_dot_product_attention"):
        if group == 1:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        if _HAS_GQA:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                                  enable_gqa=True)
    if group != 1:
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
    if not hasattr(F, "scaled_dot_product_attention"):
        return _plain_attention(q, k, v, mask, causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


def _plain_attention(q, k, v, mask, causal):
    s = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        t = q.shape[-2]
        mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return (s.softmax(-1) @ v.float()).to(q.dtype)


class Llama:
    def __init__(self, cfg, batch, max_len, device, dtype, init_std=0.02):
        self.cfg = cfg
        self.device = device
        d, h, kvh = cfg["dim"], cfg["heads"], cfg["kv_heads"]
        self.hd = d // h
        gen = torch.Generator(device=device).manual_seed(0)

        def w(*shape):
            t = torch.empty(*shape, device=device, dtype=dtype)
            t.normal_(0.0, init_std, generator=gen)
            return t

        self.emb = w(cfg["vocab"], d)
        self.lm_head = w(cfg["vocab"], d)
        self.norm = torch.ones(d, device=device, dtype=dtype)
        self.layers = []
        for _ in range(cfg["layers"]):
            self.layers.append(
                dict(
                    wqkv=w((h + 2 * kvh) * self.hd, d),
                    wo=w(d, d),
                    w13=w(2 * cfg["ffn"], d),
                    w2=w(d, cfg["ffn"]),
                    n1=torch.ones(d, device=device, dtype=dtype),
                    n2=torch.ones(d, device=device, dtype=dtype),
                    k=torch.zeros(batch, kvh, max_len, self.hd, device=device, dtype=dtype),
                    v=torch.zeros(batch, kvh, max_len, self.hd, device=device, dtype=dtype),
                )
            )
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2, device=device).float() / self.hd))
        ang = torch.outer(torch.arange(max_len, device=device).float(), inv)
        self.cos = torch.cos(ang).to(dtype)
        self.sin = torch.sin(ang).to(dtype)
        self.max_len = max_len

    def weight_bytes(self):
        n = self.emb.numel() + self.lm_head.numel()
        for l in self.layers:
            n += l["wqkv"].numel() + l["wo"].numel() + l["w13"].numel() + l["w2"].numel()
        return n * self.emb.element_size()

    @staticmethod
    def rms(x, g):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype) * g

    @staticmethod
    def rope(x, c, s):  # x [B, H, T, hd], c/s [T, hd/2]
        x1, x2 = x[..., 0::2], x[..., 1::2]
        out = torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1)
        return out.flatten(-2)

    @staticmethod
    def layer(x, wqkv, wo, w13, w2, n1, n2, kc, vc, pos, c, s, mask, causal: bool, heads: int,
              kv_heads: int):
        """One decoder layer; a plain function of tensors so torch.compile can fuse it."""
        b, t, d = x.shape
        hd = d // heads
        y = Llama.rms(x, n1)
        qkv = y @ wqkv.t()
        q, k, v = qkv.split([heads * hd, kv_heads * hd, kv_heads * hd], dim=-1)
        q = Llama.rope(q.view(b, t, heads, hd).transpose(1, 2), c, s)
        k = Llama.rope(k.view(b, t, kv_heads, hd).transpose(1, 2), c, s)
        v = v.view(b, t, kv_heads, hd).transpose(1, 2)
        kc.index_copy_(2, pos, k)
        vc.index_copy_(2, pos, v)
        if causal:  # prefill from position 0: attend to the prompt only
            kk, vv = k, v
        else:
            kk, vv = kc, vc
        a = sdpa(q, kk, vv, mask, causal, heads // kv_heads)
        x = x + a.transpose(1, 2).reshape(b, t, heads * hd) @ wo.t()
        y = Llama.rms(x, n2)
        g, u = (y @ w13.t()).chunk(2, dim=-1)
        return x + (F.silu(g) * u) @ w2.t()

    def forward(self, tokens, pos, causal, layer_fn=None, logits_out=None):
        """tokens [B, T]; pos [T] positions (device tensor). Returns next tokens [B]."""
        cfg = self.cfg
        layer_fn = layer_fn or Llama.layer
        x = self.emb[tokens]
        if causal:
            mask = None
        else:
            mask = torch.arange(self.max_len, device=self.device)[None, :] <= pos[:, None]
        c, s = self.cos[pos], self.sin[pos]
        for l in self.layers:
            x = layer_fn(x, l["wqkv"], l["wo"], l["w13"], l["w2"], l["n1"], l["n2"], l["k"],
                         l["v"], pos, c, s, mask, causal, cfg["heads"], cfg["kv_heads"])
        logits = self.rms(x[:, -1], self.norm) @ self.lm_head.t()
        if logits_out is not None:
            logits_out.append(logits)
        return logits.argmax(-1)


class PowerSampler:
    """Samples nvidia-smi power.draw every 100 ms while running."""

    def __init__(self):
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader,nounits"],
                    capture_output=True, text=True, timeout=5)
                self.samples.append(float(out.stdout.strip().splitlines()[0]))
            except Exception:
                return
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def mean(self):
        return sum(self.samples) / len(self.samples) if self.samples else None


def timer(device):
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def static_batch(model_name, batch, prompt, output, device, dtype, use_graph, repeats,
                 compiled=False):
    cfg = CONFIGS[model_name]
    # two spare positions: the CUDA-graph warm-up runs two steps from position `prompt`
    m = Llama(cfg, batch, prompt + output + 2, device, dtype)
    layer_fn = None
    if compiled:  # fuse the decode layer's small kernels (gpt-fast style); prefill stays eager
        layer_fn = torch.compile(Llama.layer, fullgraph=True, dynamic=False)
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, cfg["vocab"], (batch, prompt), generator=gen).to(device)
    ppos = torch.arange(prompt, device=device)
    # static decode state
    tok = torch.zeros(batch, 1, dtype=torch.long, device=device)
    pos = torch.zeros(1, dtype=torch.long, device=device)

    def decode_step():
        nxt = m.forward(tok, pos, causal=False, layer_fn=layer_fn)
        tok.copy_(nxt[:, None])
        pos.add_(1)

    graph = None
    if use_graph:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):  # warm up kernels outside capture
            pos.fill_(prompt)
            for _ in range(2):
                decode_step()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        pos.fill_(prompt)
        with torch.cuda.graph(graph):
            decode_step()

    def run_once(sampler=None):
        t0 = timer(device)
        first = m.forward(tokens, ppos, causal=True)
        t1 = timer(device)
        tok.copy_(first[:, None])
        pos.fill_(prompt)
        for _ in range(output - 1):
            if graph is not None:
                graph.replay()
            else:
                decode_step()
        t2 = timer(device)
        return t1 - t0, t2 - t1

    run_once()  # warm-up
    runs = [run_once() for _ in range(repeats)]
    power = None
    if graph is not None and output > 1:
        # Decode power: replay the decode steps for ~3 s while nvidia-smi samples.
        with PowerSampler() as sampler:
            end = time.perf_counter() + 3.0
            while time.perf_counter() < end:
                pos.fill_(prompt)
                for _ in range(output - 1):
                    graph.replay()
                torch.cuda.synchronize()
        power = sampler.mean()
    runs.sort(key=lambda r: r[0] + r[1])
    pre, dec = runs[len(runs) // 2]  # median by total
    total = pre + dec
    result = dict(
        model=model_name, batch=batch, prompt=prompt, output=output, dtype=str(dtype),
        weight_bytes=m.weight_bytes(), prefill_seconds=pre,
        decode_step_seconds=dec / max(output - 1, 1),
        output_tokens_per_second=batch * output / total,
        decode_weight_bandwidth=m.weight_bytes() / (dec / max(output - 1, 1)),
        mean_power_watts_decode=power, repeats=repeats, cuda_graph=graph is not None,
        torch_compile_decode=compiled,
        all_runs=[[p, d] for p, d in runs])
    del m
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def self_check(device):
    """The static-cache decode must produce the tokens a full recompute produces (tiny shapes)."""
    cfg, batch, prompt, output = CONFIGS["tiny"], 2, 8, 6
    dtype = torch.float32
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, cfg["vocab"], (batch, prompt), generator=gen).to(device)
    std = 0.3  # large enough that attention and position matter to the logits
    m = Llama(cfg, batch, prompt + output, device, dtype, std)
    fast, slow = [], []
    tok = m.forward(tokens, torch.arange(prompt, device=device), causal=True,
                    logits_out=fast)[:, None]
    seq = torch.cat([tokens, tok], dim=1)
    for p in range(prompt, prompt + output - 1):
        tok = m.forward(tok, torch.tensor([p], device=device), causal=False,
                        logits_out=fast)[:, None]
        seq = torch.cat([seq, tok], dim=1)
    for t in range(prompt, prompt + output):  # recompute every step from scratch
        r = Llama(cfg, batch, prompt + output, device, dtype, std)
        r.forward(seq[:, :t], torch.arange(t, device=device), causal=True, logits_out=slow)
    worst = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(fast, slow))
    if worst > 1e-4:
        print(f"self-check FAILED: cached-decode logits differ from a full recompute by "
              f"{worst:.3g} (relative)")
        return 1
    fast = seq[:, prompt:]
    print(f"self-check ok: cached-decode logits match a full recompute within {worst:.2g} "
          f"(tokens {fast.tolist()})")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes (smoke test)")
    ap.add_argument("--out", default="-")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget-seconds", type=float, default=400,
                    help="skip remaining cases once this much time has passed")
    ap.add_argument("--self-check", action="store_true",
                    help="check the cached decode against a full recompute (tiny, CPU ok)")
    ap.add_argument("--cases", default=None,
                    help="semicolon-separated model,batch,prompt,output,compile cases")
    args = ap.parse_args()
    device = args.device
    if args.self_check:
        with torch.inference_mode():
            raise SystemExit(self_check(device))
    dtype = torch.bfloat16
    use_graph = device == "cuda"
    if args.tiny:
        cases = [("tiny", 1, 16, 8, 0), ("tiny", 4, 16, 8, 0), ("tiny", 1, 32, 1, 0)]
    else:  # (model, batch, prompt, output, torch.compile the decode layer)
        cases = [
            ("llama2-7b", 1, 128, 128, 1),
            ("llama2-7b", 1, 128, 128, 0),
            ("llama2-7b", 1, 2048, 1, 0),
            ("llama2-7b", 16, 128, 128, 1),
            ("llama2-7b", 64, 128, 128, 1),
            ("llama2-13b", 1, 128, 128, 1),
            ("llama2-7b", 32, 128, 128, 1),
        ]
    if args.cases:
        cases = []
        for c in args.cases.split(";"):
            name, b, p, o, comp = c.split(",")
            cases.append((name, int(b), int(p), int(o), int(comp)))
    info = dict(torch=torch.__version__)
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        try:
            info["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,"
                 "power.limit", "--format=csv"], capture_output=True, text=True).stdout
        except Exception as e:  # noqa: BLE001
            info["nvidia_smi"] = str(e)
    results = []
    start = time.time()
    with torch.inference_mode():
        for case in cases:
            if time.time() - start > args.budget_seconds:
                results.append(dict(skipped=list(case), reason="time budget"))
                continue
            try:
                r = static_batch(*case[:4], device=device, dtype=dtype, use_graph=use_graph,
                                 repeats=args.repeats, compiled=bool(case[4]))
            except Exception as e:  # noqa: BLE001  (record and go on to the next case)
                r = dict(failed=list(case), error=f"{type(e).__name__}: {e}"[:2000])
                if device == "cuda":
                    torch.cuda.empty_cache()
            print(json.dumps({k: v for k, v in r.items() if k != "all_runs"}), flush=True)
            results.append(r)
            if args.out != "-":  # after every case, so a run cut short keeps what it measured
                with open(args.out + ".tmp", "w") as f:
                    f.write(json.dumps(dict(info=info, results=results), indent=1))
                os.replace(args.out + ".tmp", args.out)
    if args.out == "-":
        print(json.dumps(dict(info=info, results=results), indent=1))


if __name__ == "__main__":
    main()
