"""Loads and validates the model-zoo architecture configs in models/zoo/configs/*.json.

Pure Python (no numpy/onnx): closed_form.py must run wherever python3 does. Every error is one
line naming the file and the field at fault.
"""

import json
import os

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


class ConfigError(Exception):
    """A config file is missing a field or holds a value the generator cannot build."""


# field -> (accepted Python types, allowed values or None). bool is tested before int because
# bool is a subclass of int in Python and `True` must not pass as a layer count.
_FIELDS = {
    "name": (str, None),
    "display_name": (str, None),
    "family": (str, None),
    "layers": (int, None),
    "hidden": (int, None),
    "heads": (int, None),
    "kv_heads": (int, None),
    "head_dim": (int, None),
    "ffn": (int, None),
    "vocab": (int, None),
    "experts": (int, None),
    "top_k": (int, None),
    "router": ((str, type(None)), {None, "softmax_topk_renorm", "topk_softmax"}),
    "norm": (str, {"rmsnorm", "layernorm"}),
    "norm_eps": (float, None),
    "mlp": (str, {"gated", "gated_interleaved", "plain"}),
    "activation": (str, {"silu", "silu_clamped", "gelu_tanh", "gelu"}),
    "tied_embeddings": (bool, None),
    "position": (str, {"rope", "learned"}),
    "rope_theta": ((float, type(None)), None),
    "rope_scaling": ((dict, type(None)), None),
    "max_positions": (int, None),
    "attention_bias": (bool, None),
    "mlp_bias": (bool, None),
    "router_bias": (bool, None),
    "qk_norm": (bool, None),
    "attention_sinks": (bool, None),
    "sliding_window": ((int, type(None)), None),
    "checkpoint_dtype": (str, None),
    "source": (dict, None),
    "published": (dict, None),
}
_OPTIONAL = {"swiglu_alpha": float, "swiglu_limit": float}


def validate(config, where):
    """Checks types, allowed values and the consistency rules the graph builder relies on.

    `where` names the config (a file path) in error messages."""
    for field, (types, allowed) in _FIELDS.items():
        if field not in config:
            raise ConfigError(f"{where}: missing field '{field}'")
        value = config[field]
        types = types if isinstance(types, tuple) else (types,)
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(f"{where}: field '{field}' must not be a boolean")
        if not isinstance(value, types) and not (float in types and isinstance(value, int)):
            raise ConfigError(f"{where}: field '{field}' has type {type(value).__name__}, "
                              f"expected {' or '.join(t.__name__ for t in types)}")
        if allowed is not None and value not in allowed:
            raise ConfigError(f"{where}: field '{field}' is {value!r}; "
                              f"use one of {sorted(str(a) for a in allowed)}")
    unknown = set(config) - set(_FIELDS) - set(_OPTIONAL)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; fix the spelling or "
                          "teach models/zoo/zoo_config.py the new field")
    for field in ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "vocab",
                  "max_positions"):
        if config[field] <= 0:
            raise ConfigError(f"{where}: field '{field}' must be positive, got {config[field]}")
    if config["heads"] % config["kv_heads"]:
        raise ConfigError(f"{where}: heads ({config['heads']}) must be a multiple of kv_heads "
                          f"({config['kv_heads']}) for grouped-query attention")
    if config["head_dim"] % 2 and config["position"] == "rope":
        raise ConfigError(f"{where}: head_dim must be even for rotary embeddings")
    if config["experts"] < 0 or config["top_k"] < 0:
        raise ConfigError(f"{where}: 'experts' and 'top_k' must be >= 0")
    if config["experts"]:
        if not 1 <= config["top_k"] <= config["experts"]:
            raise ConfigError(f"{where}: top_k ({config['top_k']}) must be in 1..experts "
                              f"({config['experts']})")
        if config["router"] is None:
            raise ConfigError(f"{where}: an MoE config (experts > 0) needs a 'router'")
        if config["mlp"] == "plain":
            raise ConfigError(f"{where}: MoE experts are gated MLPs; set mlp to 'gated'")
    elif config["top_k"] or config["router"] is not None or config["router_bias"]:
        raise ConfigError(f"{where}: a dense config (experts 0) must have top_k 0, router null "
                          "and router_bias false")
    if config["position"] == "rope" and config["rope_theta"] is None:
        raise ConfigError(f"{where}: rotary position needs 'rope_theta'")
    if config["position"] == "learned" and config["rope_theta"] is not None:
        raise ConfigError(f"{where}: learned positions take no 'rope_theta'; set it to null")
    scaling = config["rope_scaling"]
    if scaling is not None:
        needed = {"type", "factor", "beta_fast", "beta_slow", "original_max_positions"}
        if scaling.get("type") != "yarn" or set(scaling) != needed:
            raise ConfigError(f"{where}: rope_scaling must be null or a yarn block with exactly "
                              f"{sorted(needed)}")
    if config["activation"] == "silu_clamped":
        for field in _OPTIONAL:
            if not isinstance(config.get(field), (int, float)):
                raise ConfigError(f"{where}: activation 'silu_clamped' needs '{field}'")
    if config["mlp"] == "gated" and config["activation"] not in ("silu", "gelu"):
        raise ConfigError(f"{where}: mlp 'gated' takes activation silu or gelu")
    if config["mlp"] == "gated_interleaved" and config["activation"] != "silu_clamped":
        raise ConfigError(f"{where}: mlp 'gated_interleaved' (gpt-oss) takes activation "
                          "'silu_clamped'")
    if config["mlp"] == "plain" and config["activation"] not in ("gelu_tanh", "gelu"):
        raise ConfigError(f"{where}: mlp 'plain' takes activation gelu_tanh or gelu")
    if config["sliding_window"] is not None and config["sliding_window"] <= 0:
        raise ConfigError(f"{where}: sliding_window must be null or positive")
    published = config["published"]
    if not isinstance(published.get("params"), (int, float)) or not published.get("params_source"):
        raise ConfigError(f"{where}: 'published' needs 'params' (a number) and 'params_source'")
    if not config["source"].get("config") or not config["source"].get("paper"):
        raise ConfigError(f"{where}: 'source' needs 'config' and 'paper'")
    return config


def sliding_layers(config):
    """Indices of the layers that use the sliding window (gpt-oss: the even ones, as
    `layer_types` in its config.json alternates sliding_attention, full_attention)."""
    if config["sliding_window"] is None:
        return set()
    return set(range(0, config["layers"], 2))


def load(path):
    """Reads and validates one config file."""
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: line {error.lineno}: invalid JSON: {error.msg}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: top level must be a JSON object")
    validate(config, path)
    expected_name = os.path.splitext(os.path.basename(path))[0]
    if config["name"] != expected_name:
        raise ConfigError(f"{path}: field 'name' is '{config['name']}' but the file is named "
                          f"'{expected_name}.json'; make them agree")
    return config


def load_all(directory=CONFIG_DIR):
    """All configs, sorted by name."""
    names = sorted(f for f in os.listdir(directory) if f.endswith(".json"))
    if not names:
        raise ConfigError(f"{directory}: no *.json configs found")
    return [load(os.path.join(directory, name)) for name in names]


def rope_inverse_frequencies(config):
    """Rotary inverse frequencies (head_dim / 2 floats), as transformers computes them:
    theta^(-2i/d), or YaRN's blend of interpolated and extrapolated frequencies (gpt-oss;
    `truncate` false as in its config.json). Shared by the ONNX builder and the torch reference
    so that both use the same constants; the math stays independent of either."""
    import math

    dim, base = config["head_dim"], config["rope_theta"]
    exponents = [i / dim for i in range(0, dim, 2)]
    scaling = config["rope_scaling"]
    if scaling is None:
        return [1.0 / base ** e for e in exponents]
    factor, original = scaling["factor"], scaling["original_max_positions"]

    def correction_dim(rotations):
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low = max(correction_dim(scaling["beta_fast"]), 0.0)
    high = min(correction_dim(scaling["beta_slow"]), dim - 1.0)
    if low == high:
        high += 0.001
    frequencies = []
    for i, e in enumerate(exponents):
        ramp = min(max((i - low) / (high - low), 0.0), 1.0)
        extrapolation_weight = 1.0 - ramp
        extrapolated = 1.0 / base ** e
        interpolated = 1.0 / (factor * base ** e)
        frequencies.append(interpolated * (1.0 - extrapolation_weight)
                           + extrapolated * extrapolation_weight)
    return frequencies


def rope_attention_factor(config):
    """YaRN scales cos and sin by 0.1 ln(factor) + 1; plain RoPE by 1."""
    import math

    scaling = config["rope_scaling"]
    if scaling is None or scaling["factor"] <= 1.0:
        return 1.0
    return 0.1 * math.log(scaling["factor"]) + 1.0
