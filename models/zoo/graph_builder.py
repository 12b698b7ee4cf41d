"""Builds a decoder-only transformer as an ONNX graph from a zoo config, in the op vocabulary
that torch.onnx.export / Hugging Face exports use (opset 17).

Weights are either shape-only initializers (the zoo files: dims + data_type, no data, external
location "conveyor:shape-only", so a 70B graph stays small) or real arrays (the numerical tests
build miniature configs with real weights and run them). Graph interface, as optimum exports it:

    inputs   input_ids                    int64 [batch, seq]
             past_key_values.{i}.key      float [batch, kv_heads, past, head_dim]   (and .value)
    outputs  logits                       float [batch, seq, vocab]
             present.{i}.key              float [batch, kv_heads, past+seq, head_dim] (and .value)

Positions are past .. past+seq-1, read from the shape of the first past key (Shape, Gather,
Range: a shape subgraph the importer folds). No padding mask: all sequences of a batch share
one length. MatMul weights are stored [in, out] (the transpose of nn.Linear's [out, in]) under
the Hugging Face parameter names.
"""

import math

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import zoo_config

OPSET = 17  # torch 1.13's newest export opset; also the newest the installed onnx 1.12 knows
SHAPE_ONLY_LOCATION = "conveyor:shape-only"
MASK_VALUE = float(np.finfo(np.float32).min)  # what HF adds at masked positions


def shape_only_initializer(name, shape, data_type=TensorProto.FLOAT):
    """The shape-only weight convention shared with the importer (issue 3)."""
    tensor = TensorProto()
    tensor.name = name
    tensor.data_type = data_type
    tensor.dims.extend(shape)
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key = "location"
    entry.value = SHAPE_ONLY_LOCATION
    return tensor


def is_shape_only(tensor):
    return (tensor.data_location == TensorProto.EXTERNAL
            and any(e.key == "location" and e.value == SHAPE_ONLY_LOCATION
                    for e in tensor.external_data))


def parameter_shapes(c):
    """Every parameter of the model: name -> shape, in graph order. closed_form.py's count
    must equal the sum of these element counts (gen_zoo.py checks it)."""
    d, h, kv, hd, f, v, e = (c[k] for k in ("hidden", "heads", "kv_heads", "head_dim", "ffn",
                                            "vocab", "experts"))
    shapes = {}
    if c["family"] == "gpt2":
        shapes["transformer.wte.weight"] = [v, d]
        shapes["transformer.wpe.weight"] = [c["max_positions"], d]
        for i in range(c["layers"]):
            p = f"transformer.h.{i}."
            shapes[p + "ln_1.weight"] = [d]
            shapes[p + "ln_1.bias"] = [d]
            shapes[p + "attn.c_attn.weight"] = [d, 3 * d]
            shapes[p + "attn.c_attn.bias"] = [3 * d]
            shapes[p + "attn.c_proj.weight"] = [d, d]
            shapes[p + "attn.c_proj.bias"] = [d]
            shapes[p + "ln_2.weight"] = [d]
            shapes[p + "ln_2.bias"] = [d]
            shapes[p + "mlp.c_fc.weight"] = [d, f]
            shapes[p + "mlp.c_fc.bias"] = [f]
            shapes[p + "mlp.c_proj.weight"] = [f, d]
            shapes[p + "mlp.c_proj.bias"] = [d]
        shapes["transformer.ln_f.weight"] = [d]
        shapes["transformer.ln_f.bias"] = [d]
        return shapes
    if c["family"] != "gpt2" and (c["position"] != "rope" or c["norm"] != "rmsnorm"
                                  or c["mlp"] == "plain"):
        raise ValueError(f"{c['name']}: non-GPT-2 families are built as RMSNorm + RoPE + gated "
                         "MLP decoders; set family 'gpt2' for LayerNorm/learned positions")
    shapes["model.embed_tokens.weight"] = [v, d]
    for i in range(c["layers"]):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = [d]
        for proj, out in (("q", h * hd), ("k", kv * hd), ("v", kv * hd)):
            shapes[p + f"self_attn.{proj}_proj.weight"] = [d, out]
            if c["attention_bias"]:
                shapes[p + f"self_attn.{proj}_proj.bias"] = [out]
        if c["qk_norm"]:
            shapes[p + "self_attn.q_norm.weight"] = [hd]
            shapes[p + "self_attn.k_norm.weight"] = [hd]
        shapes[p + "self_attn.o_proj.weight"] = [h * hd, d]
        if c["attention_bias"]:
            shapes[p + "self_attn.o_proj.bias"] = [d]
        if c["attention_sinks"]:
            shapes[p + "self_attn.sinks"] = [h]
        shapes[p + "post_attention_layernorm.weight"] = [d]
        if e:
            shapes[p + "mlp.router.weight"] = [d, e]
            if c["router_bias"]:
                shapes[p + "mlp.router.bias"] = [e]
            if c["mlp"] == "gated_interleaved":
                shapes[p + "mlp.experts.gate_up_proj"] = [e, d, 2 * f]
                if c["mlp_bias"]:
                    shapes[p + "mlp.experts.gate_up_proj_bias"] = [e, 2 * f]
            else:
                shapes[p + "mlp.experts.gate_proj"] = [e, d, f]
                shapes[p + "mlp.experts.up_proj"] = [e, d, f]
                if c["mlp_bias"]:
                    shapes[p + "mlp.experts.gate_proj_bias"] = [e, f]
                    shapes[p + "mlp.experts.up_proj_bias"] = [e, f]
            shapes[p + "mlp.experts.down_proj"] = [e, f, d]
            if c["mlp_bias"]:
                shapes[p + "mlp.experts.down_proj_bias"] = [e, d]
        else:
            for proj, shape in (("gate", [d, f]), ("up", [d, f]), ("down", [f, d])):
                shapes[p + f"mlp.{proj}_proj.weight"] = shape
                if c["mlp_bias"]:
                    shapes[p + f"mlp.{proj}_proj.bias"] = [shape[1]]
    shapes["model.norm.weight"] = [d]
    if not c["tied_embeddings"]:
        shapes["lm_head.weight"] = [d, v]
    return shapes


class _Graph:
    """Node/constant bookkeeping. Node names double as output names (one output per node
    except Split and TopK), named by scope like torch's exporter does, but short."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self._constants = {}
        self._used_names = set()

    def node(self, op, inputs, name, outputs=1, **attrs):
        if name in self._used_names:
            raise ValueError(f"duplicate node name {name}")
        self._used_names.add(name)
        out_names = [name] if outputs == 1 else [f"{name}:{k}" for k in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, out_names, name=name, **attrs))
        return out_names[0] if outputs == 1 else out_names

    def const(self, value, dtype):
        """A Constant node holding a small real tensor, shared by every user of that value."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            label = "x".join(str(d) for d in array.shape) or "s"
            name = f"const/{array.dtype.name}_{label}_{len(self._constants)}"
            self._used_names.add(name)
            self.nodes.append(helper.make_node(
                "Constant", [], [name], name=name,
                value=numpy_helper.from_array(array, name=name)))
            self._constants[key] = name
        return self._constants[key]

    def i64(self, *values):
        return self.const(list(values), np.int64)

    def scalar_i64(self, value):
        return self.const(value, np.int64)

    def f32(self, value):
        return self.const(value, np.float32)


class DecoderGraphBuilder:
    """One config -> one ONNX ModelProto (see the module docstring for the interface)."""

    def __init__(self, config, weights=None):
        self.c = config
        self.weights = weights
        self.shapes = parameter_shapes(config)
        self.g = _Graph()
        self.sliding = zoo_config.sliding_layers(config)

    # -- parameters -----------------------------------------------------------------------

    def param(self, name):
        shape = self.shapes[name]
        if self.weights is None:
            self.g.initializers.append(shape_only_initializer(name, shape))
        else:
            array = np.asarray(self.weights[name], dtype=np.float32)
            if list(array.shape) != list(shape):
                raise ValueError(f"weight {name} has shape {list(array.shape)}, "
                                 f"the graph needs {shape}")
            self.g.initializers.append(numpy_helper.from_array(array, name=name))
        return name

    def linear(self, x, weight, bias, scope):
        y = self.g.node("MatMul", [x, self.param(weight)], f"{scope}/MatMul")
        if bias is not None:
            y = self.g.node("Add", [y, self.param(bias)], f"{scope}/Add")
        return y

    # -- normalisation (decomposed, as torch exports RMSNorm and pre-opset-17 LayerNorm) ----

    def rms_norm(self, x, weight, scope):
        g = self.g
        squared = g.node("Pow", [x, g.f32(2.0)], f"{scope}/Pow")
        mean = g.node("ReduceMean", [squared], f"{scope}/ReduceMean", axes=[-1], keepdims=1)
        shifted = g.node("Add", [mean, g.f32(self.c["norm_eps"])], f"{scope}/Add")
        root = g.node("Sqrt", [shifted], f"{scope}/Sqrt")
        inverse = g.node("Div", [g.f32(1.0), root], f"{scope}/Div")  # torch.rsqrt's export
        normed = g.node("Mul", [x, inverse], f"{scope}/Mul")
        return g.node("Mul", [self.param(weight), normed], f"{scope}/Mul_1")

    def layer_norm(self, x, weight, bias, scope):
        g = self.g
        mean = g.node("ReduceMean", [x], f"{scope}/ReduceMean", axes=[-1], keepdims=1)
        centred = g.node("Sub", [x, mean], f"{scope}/Sub")
        squared = g.node("Pow", [centred, g.f32(2.0)], f"{scope}/Pow")
        variance = g.node("ReduceMean", [squared], f"{scope}/ReduceMean_1", axes=[-1], keepdims=1)
        shifted = g.node("Add", [variance, g.f32(self.c["norm_eps"])], f"{scope}/Add")
        root = g.node("Sqrt", [shifted], f"{scope}/Sqrt")
        normed = g.node("Div", [centred, root], f"{scope}/Div")
        scaled = g.node("Mul", [normed, self.param(weight)], f"{scope}/Mul")
        return g.node("Add", [scaled, self.param(bias)], f"{scope}/Add_1")

    def norm(self, x, prefix, scope):
        if self.c["norm"] == "layernorm":
            return self.layer_norm(x, prefix + ".weight", prefix + ".bias", scope)
        return self.rms_norm(x, prefix + ".weight", scope)

    # -- positions, masks, rotary tables (once per graph) -----------------------------------

    def prologue(self):
        g = self.g
        ids_shape = g.node("Shape", ["input_ids"], "pos/Shape")
        self.seq = g.node("Gather", [ids_shape, g.scalar_i64(1)], "pos/Gather", axis=0)
        past_shape = g.node("Shape", ["past_key_values.0.key"], "pos/Shape_1")
        self.past = g.node("Gather", [past_shape, g.scalar_i64(2)], "pos/Gather_1", axis=0)
        self.total = g.node("Add", [self.past, self.seq], "pos/Add")
        self.positions = g.node("Range", [self.past, self.total, g.scalar_i64(1)], "pos/Range")
        if self.c["position"] == "rope":
            self.rotary_tables()

    def rotary_tables(self):
        g = self.g
        half = self.c["head_dim"] // 2
        inverse = zoo_config.rope_inverse_frequencies(self.c)
        as_float = g.node("Cast", [self.positions], "rope/Cast", to=TensorProto.FLOAT)
        column = g.node("Unsqueeze", [as_float, g.i64(1)], "rope/Unsqueeze")  # [seq, 1]
        row = g.const(np.array(inverse, dtype=np.float32).reshape(1, half), np.float32)
        freqs = g.node("MatMul", [column, row], "rope/MatMul")  # [seq, head_dim/2]
        angles = g.node("Concat", [freqs, freqs], "rope/Concat", axis=-1)  # [seq, head_dim]
        self.cos = g.node("Cos", [angles], "rope/Cos")
        self.sin = g.node("Sin", [angles], "rope/Sin")
        factor = zoo_config.rope_attention_factor(self.c)
        if factor != 1.0:  # YaRN attention scaling rides on cos and sin
            self.cos = g.node("Mul", [self.cos, g.f32(factor)], "rope/Mul")
            self.sin = g.node("Mul", [self.sin, g.f32(factor)], "rope/Mul_1")

    def additive_causal_mask(self):
        """[seq, past+seq] float, 0 where allowed, MASK_VALUE where the key is in the future
        (and, for sliding layers, a second mask for keys W or more positions back)."""
        g = self.g
        keys = g.node("Range", [g.scalar_i64(0), self.total, g.scalar_i64(1)], "mask/Range")
        queries = g.node("Unsqueeze", [self.positions, g.i64(1)], "mask/Unsqueeze")  # [seq, 1]
        future = g.node("Less", [queries, keys], "mask/Less")
        self.mask = g.node("Where", [future, g.f32(MASK_VALUE), g.f32(0.0)], "mask/Where")
        self.sliding_mask = None
        if self.sliding:
            oldest = g.node("Sub", [queries, g.scalar_i64(self.c["sliding_window"] - 1)],
                            "mask/Sub")
            too_old = g.node("Less", [keys, oldest], "mask/Less_1")
            self.sliding_mask = g.node("Where", [too_old, g.f32(MASK_VALUE), self.mask],
                                       "mask/Where_1")

    def trilu_causal_mask(self):
        """GPT-2 style boolean mask [seq, past+seq]: true where the key may be attended."""
        g = self.g
        rows = g.node("Unsqueeze", [self.seq, g.i64(0)], "mask/Unsqueeze")
        cols = g.node("Unsqueeze", [self.total, g.i64(0)], "mask/Unsqueeze_1")
        shape = g.node("Concat", [rows, cols], "mask/Concat", axis=0)
        ones = g.node("ConstantOfShape", [shape], "mask/ConstantOfShape",
                      value=helper.make_tensor("value", TensorProto.BOOL, [1], [True]))
        self.allowed = g.node("Trilu", [ones, self.past], "mask/Trilu", upper=0)

    # -- attention --------------------------------------------------------------------------

    def split_heads(self, x, heads, scope, norm_weight=None):
        """[b, s, heads*hd] -> [b, heads, s, hd] (with Qwen3's per-head RMSNorm before the
        transpose, as its modeling code applies q_norm/k_norm to the [b, s, h, hd] view)."""
        g = self.g
        split = g.node("Reshape", [x, g.i64(0, 0, heads, self.c["head_dim"])],
                       f"{scope}/Reshape")
        if norm_weight is not None:
            split = self.rms_norm(split, norm_weight, f"{scope}/norm")
        return g.node("Transpose", [split], f"{scope}/Transpose", perm=[0, 2, 1, 3])

    def rotate(self, x, scope):
        """x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2])."""
        g = self.g
        half = self.c["head_dim"] // 2
        first = g.node("Slice", [x, g.i64(0), g.i64(half), g.i64(-1)], f"{scope}/Slice")
        second = g.node("Slice", [x, g.i64(half), g.i64(np.iinfo(np.int64).max), g.i64(-1)],
                        f"{scope}/Slice_1")
        negated = g.node("Neg", [second], f"{scope}/Neg")
        rotated = g.node("Concat", [negated, first], f"{scope}/Concat", axis=-1)
        a = g.node("Mul", [x, self.cos], f"{scope}/Mul")
        b = g.node("Mul", [rotated, self.sin], f"{scope}/Mul_1")
        return g.node("Add", [a, b], f"{scope}/Add")

    def repeat_kv(self, x, scope):
        """HF's repeat_kv: [b, kv, T, hd] -> [b, kv*n, T, hd] via Unsqueeze + Expand + Reshape."""
        n_rep = self.c["heads"] // self.c["kv_heads"]
        if n_rep == 1:
            return x
        g = self.g
        unsqueezed = g.node("Unsqueeze", [x, g.i64(2)], f"{scope}/Unsqueeze")
        expanded = g.node("Expand", [unsqueezed, g.i64(1, 1, n_rep, 1, 1)], f"{scope}/Expand")
        return g.node("Reshape", [expanded, g.i64(0, self.c["heads"], -1, self.c["head_dim"])],
                      f"{scope}/Reshape")

    def attend(self, q, k, v, i, scope):
        """softmax(q k^T * scale + mask) v with the cache already concatenated into k and v."""
        g = self.g
        c = self.c
        key_t = g.node("Transpose", [k], f"{scope}/Transpose", perm=[0, 1, 3, 2])
        scores = g.node("MatMul", [q, key_t], f"{scope}/MatMul")
        if c["family"] == "gpt2":  # HF GPT-2 divides by sqrt(head_dim) and masks with where()
            scores = g.node("Div", [scores, g.f32(math.sqrt(c["head_dim"]))], f"{scope}/Div")
            scores = g.node("Where", [self.allowed, scores, g.f32(MASK_VALUE)], f"{scope}/Where")
        else:
            scores = g.node("Mul", [scores, g.f32(c["head_dim"] ** -0.5)], f"{scope}/Mul")
            mask = self.sliding_mask if i in self.sliding else self.mask
            scores = g.node("Add", [scores, mask], f"{scope}/Add")
        if c["attention_sinks"]:
            scores = self.append_sink_column(scores, f"model.layers.{i}.self_attn.sinks", scope)
        probs = g.node("Softmax", [scores], f"{scope}/Softmax", axis=-1)
        if c["attention_sinks"]:  # drop the sink's probability mass
            probs = g.node("Slice", [probs, g.i64(0), g.i64(-1), g.i64(-1)], f"{scope}/Slice")
        return g.node("MatMul", [probs, v], f"{scope}/MatMul_1")

    def append_sink_column(self, scores, sinks, scope):
        """gpt-oss: one learned logit per head joins every softmax row, then max-subtraction."""
        g = self.g
        column = g.node("Reshape", [self.param(sinks), g.i64(1, -1, 1, 1)], f"{scope}/sink/Reshape")
        shape = g.node("Shape", [scores], f"{scope}/sink/Shape")
        leading = g.node("Slice", [shape, g.i64(0), g.i64(3), g.i64(0)], f"{scope}/sink/Slice")
        target = g.node("Concat", [leading, g.i64(1)], f"{scope}/sink/Concat", axis=0)
        expanded = g.node("Expand", [column, target], f"{scope}/sink/Expand")
        joined = g.node("Concat", [scores, expanded], f"{scope}/sink/Concat_1", axis=-1)
        peak = g.node("ReduceMax", [joined], f"{scope}/sink/ReduceMax", axes=[-1], keepdims=1)
        return g.node("Sub", [joined, peak], f"{scope}/sink/Sub")

    def attention_block(self, x, i):
        g = self.g
        c = self.c
        h, kv, hd = c["heads"], c["kv_heads"], c["head_dim"]
        if c["family"] == "gpt2":
            p, scope = f"transformer.h.{i}.attn.", f"h{i}/attn"
            qkv = self.linear(x, p + "c_attn.weight", p + "c_attn.bias", f"{scope}/c_attn")
            q, k, v = g.node("Split", [qkv, g.i64(h * hd, h * hd, h * hd)], f"{scope}/Split",
                             outputs=3, axis=2)
            q = self.split_heads(q, h, f"{scope}/q")
            k = self.split_heads(k, h, f"{scope}/k")
            v = self.split_heads(v, h, f"{scope}/v")
            o_weight, o_bias = p + "c_proj.weight", p + "c_proj.bias"
        else:
            p, scope = f"model.layers.{i}.self_attn.", f"l{i}/attn"

            def bias(name):
                return p + name + ".bias" if c["attention_bias"] else None

            q = self.linear(x, p + "q_proj.weight", bias("q_proj"), f"{scope}/q_proj")
            k = self.linear(x, p + "k_proj.weight", bias("k_proj"), f"{scope}/k_proj")
            v = self.linear(x, p + "v_proj.weight", bias("v_proj"), f"{scope}/v_proj")
            q = self.split_heads(q, h, f"{scope}/q", p + "q_norm.weight" if c["qk_norm"] else None)
            k = self.split_heads(k, kv, f"{scope}/k", p + "k_norm.weight" if c["qk_norm"] else None)
            v = self.split_heads(v, kv, f"{scope}/v")
            q = self.rotate(q, f"{scope}/q_rope")
            k = self.rotate(k, f"{scope}/k_rope")
            o_weight, o_bias = p + "o_proj.weight", bias("o_proj")
        k = g.node("Concat", [f"past_key_values.{i}.key", k], f"present.{i}.key", axis=2)
        v = g.node("Concat", [f"past_key_values.{i}.value", v], f"present.{i}.value", axis=2)
        k = self.repeat_kv(k, f"{scope}/repeat_k")
        v = self.repeat_kv(v, f"{scope}/repeat_v")
        attended = self.attend(q, k, v, i, scope)
        merged = g.node("Transpose", [attended], f"{scope}/Transpose_1", perm=[0, 2, 1, 3])
        merged = g.node("Reshape", [merged, g.i64(0, 0, h * hd)], f"{scope}/Reshape")
        return self.linear(merged, o_weight, o_bias, f"{scope}/o_proj")

    # -- MLPs -------------------------------------------------------------------------------

    def silu(self, x, scope):
        g = self.g
        return g.node("Mul", [x, g.node("Sigmoid", [x], f"{scope}/Sigmoid")], f"{scope}/Mul")

    def gelu_tanh(self, x, scope):
        """GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
        g = self.g
        cube = g.node("Pow", [x, g.f32(3.0)], f"{scope}/Pow")
        inner = g.node("Add", [x, g.node("Mul", [cube, g.f32(0.044715)], f"{scope}/Mul")],
                       f"{scope}/Add")
        scaled = g.node("Mul", [inner, g.f32(math.sqrt(2.0 / math.pi))], f"{scope}/Mul_1")
        shifted = g.node("Add", [g.node("Tanh", [scaled], f"{scope}/Tanh"), g.f32(1.0)],
                         f"{scope}/Add_1")
        half = g.node("Mul", [x, g.f32(0.5)], f"{scope}/Mul_2")
        return g.node("Mul", [half, shifted], f"{scope}/Mul_3")

    def gelu_erf(self, x, scope):
        g = self.g
        scaled = g.node("Div", [x, g.f32(math.sqrt(2.0))], f"{scope}/Div")
        shifted = g.node("Add", [g.node("Erf", [scaled], f"{scope}/Erf"), g.f32(1.0)],
                         f"{scope}/Add")
        return g.node("Mul", [g.node("Mul", [x, shifted], f"{scope}/Mul"), g.f32(0.5)],
                      f"{scope}/Mul_1")

    def gate_activation(self, x, scope):
        return self.silu(x, scope) if self.c["activation"] == "silu" else self.gelu_erf(x, scope)

    def dense_mlp(self, x, i):
        c = self.c
        g = self.g
        if c["family"] == "gpt2":
            p, scope = f"transformer.h.{i}.mlp.", f"h{i}/mlp"
            up = self.linear(x, p + "c_fc.weight", p + "c_fc.bias", f"{scope}/c_fc")
            act = (self.gelu_tanh(up, f"{scope}/act") if c["activation"] == "gelu_tanh"
                   else self.gelu_erf(up, f"{scope}/act"))
            return self.linear(act, p + "c_proj.weight", p + "c_proj.bias", f"{scope}/c_proj")
        p, scope = f"model.layers.{i}.mlp.", f"l{i}/mlp"

        def bias(name):
            return p + name + ".bias" if c["mlp_bias"] else None

        gate = self.linear(x, p + "gate_proj.weight", bias("gate_proj"), f"{scope}/gate_proj")
        up = self.linear(x, p + "up_proj.weight", bias("up_proj"), f"{scope}/up_proj")
        hidden = g.node("Mul", [self.gate_activation(gate, f"{scope}/act"), up], f"{scope}/Mul")
        return self.linear(hidden, p + "down_proj.weight", bias("down_proj"), f"{scope}/down_proj")

    def moe_mlp(self, x, i):
        """Router + top-k experts with gather-based dispatch: each token gathers its k experts'
        weight matrices by index and multiplies only those (gpt-fast's ConditionalFeedForward,
        what torch.onnx.export emits for `w[expert_indices]`); the expert outputs are summed
        with the routing weights. No data-dependent control flow, and MatMul FLOPs equal the
        active (top-k) FLOPs."""
        g = self.g
        c = self.c
        p, scope = f"model.layers.{i}.mlp.", f"l{i}/mlp"
        d = c["hidden"]
        tokens = g.node("Reshape", [x, g.i64(-1, d)], f"{scope}/Reshape")  # [T, d]
        logits = self.linear(tokens, p + "router.weight",
                             p + "router.bias" if c["router_bias"] else None, f"{scope}/router")
        k = g.i64(c["top_k"])
        if c["router"] == "softmax_topk_renorm":  # Mixtral, Qwen3-MoE (norm_topk_prob)
            probs = g.node("Softmax", [logits], f"{scope}/Softmax", axis=-1)
            top, index = g.node("TopK", [probs, k], f"{scope}/TopK", outputs=2, axis=-1)
            total = g.node("ReduceSum", [top, g.i64(-1)], f"{scope}/ReduceSum", keepdims=1)
            weights = g.node("Div", [top, total], f"{scope}/Div")
        else:  # gpt-oss: softmax over the top-k logits
            top, index = g.node("TopK", [logits, k], f"{scope}/TopK", outputs=2, axis=-1)
            weights = g.node("Softmax", [top], f"{scope}/Softmax", axis=-1)
        rows = g.node("Unsqueeze", [tokens, g.i64(1, 2)], f"{scope}/Unsqueeze")  # [T, 1, 1, d]

        def expert_linear(inp, weight, bias, name):
            chosen = g.node("Gather", [self.param(p + weight), index], f"{scope}/{name}/Gather",
                            axis=0)  # [T, k, in, out]
            y = g.node("MatMul", [inp, chosen], f"{scope}/{name}/MatMul")  # [T, k, 1, out]
            if bias is not None:
                chosen_bias = g.node("Gather", [self.param(p + bias), index],
                                     f"{scope}/{name}/Gather_1", axis=0)  # [T, k, out]
                chosen_bias = g.node("Unsqueeze", [chosen_bias, g.i64(2)],
                                     f"{scope}/{name}/Unsqueeze")
                y = g.node("Add", [y, chosen_bias], f"{scope}/{name}/Add")
            return y

        with_bias = c["mlp_bias"]
        if c["mlp"] == "gated_interleaved":  # gpt-oss: gate = even columns, up = odd columns
            fused = expert_linear(rows, "experts.gate_up_proj",
                                  "experts.gate_up_proj_bias" if with_bias else None, "gate_up")
            big = np.iinfo(np.int64).max
            gate = g.node("Slice", [fused, g.i64(0), g.i64(big), g.i64(-1), g.i64(2)],
                          f"{scope}/Slice")
            up = g.node("Slice", [fused, g.i64(1), g.i64(big), g.i64(-1), g.i64(2)],
                        f"{scope}/Slice_1")
            limit = c["swiglu_limit"]
            gate = g.node("Clip", [gate, "", g.f32(limit)], f"{scope}/Clip")
            up = g.node("Clip", [up, g.f32(-limit), g.f32(limit)], f"{scope}/Clip_1")
            scaled = g.node("Mul", [gate, g.f32(c["swiglu_alpha"])], f"{scope}/Mul")
            glu = g.node("Mul", [gate, g.node("Sigmoid", [scaled], f"{scope}/Sigmoid")],
                         f"{scope}/Mul_1")
            shifted = g.node("Add", [up, g.f32(1.0)], f"{scope}/Add")
            hidden = g.node("Mul", [shifted, glu], f"{scope}/Mul_2")
        else:
            gate = expert_linear(rows, "experts.gate_proj",
                                 "experts.gate_proj_bias" if with_bias else None, "gate")
            up = expert_linear(rows, "experts.up_proj",
                               "experts.up_proj_bias" if with_bias else None, "up")
            hidden = g.node("Mul", [self.gate_activation(gate, f"{scope}/act"), up],
                            f"{scope}/Mul")
        out = expert_linear(hidden, "experts.down_proj",
                            "experts.down_proj_bias" if with_bias else None, "down")
        out = g.node("Squeeze", [out, g.i64(2)], f"{scope}/Squeeze")  # [T, k, d]
        weighted = g.node("Mul", [out, g.node("Unsqueeze", [weights, g.i64(-1)],
                                              f"{scope}/Unsqueeze_1")], f"{scope}/Mul_3")
        mixed = g.node("ReduceSum", [weighted, g.i64(1)], f"{scope}/ReduceSum_1", keepdims=0)
        return g.node("Reshape", [mixed, g.node("Shape", [x], f"{scope}/Shape")],
                      f"{scope}/Reshape_1")

    # -- whole model ------------------------------------------------------------------------

    def build(self):
        c = self.c
        g = self.g
        self.prologue()
        if c["family"] == "gpt2":
            self.trilu_causal_mask()
            tokens = g.node("Gather", [self.param("transformer.wte.weight"), "input_ids"],
                            "wte/Gather", axis=0)
            positions = g.node("Gather", [self.param("transformer.wpe.weight"), self.positions],
                               "wpe/Gather", axis=0)
            x = g.node("Add", [tokens, positions], "embed/Add")
        else:
            self.additive_causal_mask()
            x = g.node("Gather", [self.param("model.embed_tokens.weight"), "input_ids"],
                       "embed_tokens/Gather", axis=0)
        for i in range(c["layers"]):
            if c["family"] == "gpt2":
                pre, post, scope = f"transformer.h.{i}.ln_1", f"transformer.h.{i}.ln_2", f"h{i}"
            else:
                pre = f"model.layers.{i}.input_layernorm"
                post = f"model.layers.{i}.post_attention_layernorm"
                scope = f"l{i}"
            # Node names are scoped like torch's exporter names them, only shorter (l3/ln1/Pow
            # rather than /model/layers.3/input_layernorm/Pow): names are most of a file's bytes.
            attention = self.attention_block(self.norm(x, pre, f"{scope}/ln1"), i)
            x = g.node("Add", [x, attention], f"{scope}/Add")
            normed = self.norm(x, post, f"{scope}/ln2")
            mlp = self.moe_mlp(normed, i) if c["experts"] else self.dense_mlp(normed, i)
            x = g.node("Add", [x, mlp], f"{scope}/Add_1")
        if c["family"] == "gpt2":
            x = self.norm(x, "transformer.ln_f", "ln_f")
            head = g.node("Transpose", ["transformer.wte.weight"], "lm_head/Transpose", perm=[1, 0])
        else:
            x = self.norm(x, "model.norm", "norm")
            if c["tied_embeddings"]:
                head = g.node("Transpose", ["model.embed_tokens.weight"], "lm_head/Transpose",
                              perm=[1, 0])
            else:
                head = self.param("lm_head.weight")
        g.node("MatMul", [x, head], "logits")
        return self.model()

    def model(self):
        c = self.c
        kv_shape = ["batch", c["kv_heads"], "past", c["head_dim"]]
        present_shape = ["batch", c["kv_heads"], "past+seq", c["head_dim"]]
        inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                 ["batch", "seq", c["vocab"]])]
        for i in range(c["layers"]):
            for kind in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(
                    f"past_key_values.{i}.{kind}", TensorProto.FLOAT, kv_shape))
                outputs.append(helper.make_tensor_value_info(
                    f"present.{i}.{kind}", TensorProto.FLOAT, present_shape))
        weights = "shape-only weights" if self.weights is None else "real weights"
        graph = helper.make_graph(
            self.g.nodes, c["name"].replace("-", "_").replace(".", "_"), inputs, outputs,
            initializer=self.g.initializers,
            doc_string=f"{c['display_name']} decoder ({weights}), generated by "
                       f"models/zoo/gen_zoo.py from models/zoo/configs/{c['name']}.json. "
                       f"Config source: {c['source']['config']}")
        model = helper.make_model(graph, producer_name="conveyor/models/zoo/gen_zoo.py",
                                  producer_version="1",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8  # what onnx 1.12 writes for opset 17
        return model


def build_model(config, weights=None):
    return DecoderGraphBuilder(config, weights).build()
