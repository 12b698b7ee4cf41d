"""A small NumPy evaluator for the ONNX ops that decoder exports use (opset 13-17 semantics).

Lets the generators check, without onnxruntime (not packaged for Debian 12), that the graphs
they write compute what the PyTorch reference computes. Floats are evaluated in float64 so the
comparison measures the graph, not rounding. An op it does not know raises NotImplementedError
naming the op and node, so a new op in an export is never skipped silently.
"""

import math

import numpy as np
from onnx import TensorProto, helper, numpy_helper

_FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
_CAST = {
    TensorProto.FLOAT: np.float64, TensorProto.DOUBLE: np.float64,
    TensorProto.FLOAT16: np.float64, TensorProto.INT64: np.int64, TensorProto.INT32: np.int32,
    TensorProto.BOOL: np.bool_, TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8,
}
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _widen(array):
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def _tensor(proto):
    return _widen(numpy_helper.to_array(proto))


def _axes(attrs, inputs, position):
    """Axes come from an attribute before opset 13/18 and from an optional input after."""
    if len(inputs) > position and inputs[position] is not None:
        return [int(a) for a in np.atleast_1d(inputs[position])]
    if "axes" in attrs:
        return list(attrs["axes"])
    return None


def _reduce(function, x, axes, keepdims, noop_with_empty_axes=0):
    if axes is None or len(axes) == 0:
        if noop_with_empty_axes:
            return x
        axes = list(range(x.ndim))
    return function(x, axis=tuple(a % x.ndim for a in axes), keepdims=bool(keepdims))


def _slice(x, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        size = x.shape[axis]
        start, end, step = int(start), int(end), int(step)
        # ONNX clamps out-of-range bounds (INT64_MAX means "to the end").
        if step > 0:
            start = min(max(start + size if start < 0 else start, 0), size)
            end = min(max(end + size if end < 0 else end, 0), size)
        else:
            start = min(max(start + size if start < 0 else start, -1), size - 1)
            end = min(max(end + size if end < 0 else end, -1), size - 1)
            end = None if end < 0 else end
        index[axis] = slice(start, end, step)
    return x[tuple(index)]


def _topk(x, k, axis, largest, sorted_):
    axis %= x.ndim
    # Stable sort on the key keeps ties in index order, as ONNX requires.
    order = np.argsort(-x if largest else x, axis=axis, kind="stable")
    index = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, index, axis=axis), index.astype(np.int64)


def _scatter_elements(data, indices, updates, axis, reduction):
    out = data.copy()
    axis %= data.ndim
    for position in np.ndindex(*indices.shape):
        target = list(position)
        target[axis] = int(indices[position])
        if reduction == "add":
            out[tuple(target)] += updates[position]
        elif reduction == "mul":
            out[tuple(target)] *= updates[position]
        else:
            out[tuple(target)] = updates[position]
    return out


def _layer_norm(x, scale, bias, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(variance + eps) * scale
    return y + bias if bias is not None else y


def _softmax(x, axis):
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _reshape(x, shape, allowzero):
    shape = [int(s) for s in shape]
    if not allowzero:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _gemm(a, b, c, attrs):
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b
    y = attrs.get("alpha", 1.0) * (a @ b)
    return y + attrs.get("beta", 1.0) * c if c is not None else y


def _constant(attrs):
    if "value" in attrs:
        return _tensor(attrs["value"])
    for key, dtype in (("value_float", np.float64), ("value_int", np.int64),
                       ("value_floats", np.float64), ("value_ints", np.int64)):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    raise NotImplementedError(f"Constant with attributes {sorted(attrs)}")


def _trilu(x, k, upper):
    k = int(k) if k is not None else 0
    return np.triu(x, k) if upper else np.tril(x, k)


_UNARY = {
    "Neg": np.negative, "Exp": np.exp, "Sqrt": np.sqrt, "Reciprocal": np.reciprocal,
    "Tanh": np.tanh, "Cos": np.cos, "Sin": np.sin, "Erf": _erf, "Abs": np.abs,
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)), "Relu": lambda x: np.maximum(x, 0),
    "Not": np.logical_not, "Identity": lambda x: x, "Log": np.log, "Floor": np.floor,
    "Ceil": np.ceil,
}
_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or,
    "Xor": np.logical_xor, "MatMul": np.matmul,
}


def _div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer Div truncates
    return a / b


def _evaluate(op, x, attrs, name):
    """One node: x is the list of input arrays (None for omitted optional inputs)."""
    if op in _UNARY:
        return [_UNARY[op](x[0])]
    if op in _BINARY:
        result = _BINARY[op](x[0], x[1])
        if op == "Pow" and x[0].dtype.kind == "f":
            result = result.astype(x[0].dtype)
        return [result]
    if op == "Div":
        return [_div(x[0], x[1])]
    if op in ("Max", "Min", "Sum", "Mean"):
        function = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add, "Mean": np.add}[op]
        result = x[0]
        for other in x[1:]:
            result = function(result, other)
        return [result / len(x) if op == "Mean" else result]
    if op == "Constant":
        return [_constant(attrs)]
    if op == "Shape":
        shape = np.array(x[0].shape, dtype=np.int64)
        return [shape[attrs.get("start", 0):attrs.get("end", None)]]
    if op == "Size":
        return [np.array(x[0].size, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x[0], x[1].astype(np.int64), axis=attrs.get("axis", 0))]
    if op == "GatherElements":
        return [np.take_along_axis(x[0], x[1].astype(np.int64), axis=attrs.get("axis", 0))]
    if op == "ScatterElements":
        return [_scatter_elements(x[0], x[1], x[2], attrs.get("axis", 0),
                                  attrs.get("reduction", b"none").decode()
                                  if isinstance(attrs.get("reduction"), bytes)
                                  else attrs.get("reduction", "none"))]
    if op == "Reshape":
        return [_reshape(x[0], x[1], attrs.get("allowzero", 0))]
    if op == "Transpose":
        return [np.transpose(x[0], attrs.get("perm"))]
    if op == "Concat":
        return [np.concatenate(x, axis=attrs["axis"])]
    if op == "Split":
        axis = attrs.get("axis", 0) % x[0].ndim
        if len(x) > 1 and x[1] is not None:
            sizes = [int(s) for s in x[1]]
        elif "split" in attrs:
            sizes = list(attrs["split"])
        else:
            raise NotImplementedError(f"node {name}: Split without sizes")
        return np.split(x[0], np.cumsum(sizes)[:-1], axis=axis)
    if op == "Slice":
        return [_slice(x[0], x[1], x[2], x[3] if len(x) > 3 else None,
                       x[4] if len(x) > 4 else None)]
    if op == "Unsqueeze":
        axes = _axes(attrs, x, 1)
        out = x[0]
        rank = out.ndim + len(axes)
        for axis in sorted(a % rank for a in axes):
            out = np.expand_dims(out, axis)
        return [out]
    if op == "Squeeze":
        axes = _axes(attrs, x, 1)
        if axes is None:
            return [np.squeeze(x[0])]
        return [np.squeeze(x[0], axis=tuple(a % x[0].ndim for a in axes))]
    if op == "Expand":
        target = np.broadcast_shapes(x[0].shape, tuple(int(s) for s in x[1]))
        return [np.broadcast_to(x[0], target).copy()]
    if op == "Tile":
        return [np.tile(x[0], [int(r) for r in x[1]])]
    if op == "ConstantOfShape":
        value = _tensor(attrs["value"]) if "value" in attrs else np.zeros(1)
        return [np.full([int(s) for s in x[0]], value.reshape(-1)[0], dtype=value.dtype)]
    if op == "Range":
        return [np.arange(x[0], x[1], x[2]).astype(np.result_type(x[0], x[1], x[2]))]
    if op == "Cast":
        target = attrs["to"]
        if target not in _CAST:
            raise NotImplementedError(f"node {name}: Cast to data type {target}")
        return [x[0].astype(_CAST[target])]
    if op == "Where":
        return [np.where(x[0], x[1], x[2])]
    if op == "Trilu":
        return [_trilu(x[0], x[1] if len(x) > 1 else None, attrs.get("upper", 1))]
    if op == "Softmax":
        return [_softmax(x[0], attrs.get("axis", -1))]
    if op == "ReduceMean":
        return [_reduce(np.mean, x[0], _axes(attrs, x, 1), attrs.get("keepdims", 1))]
    if op == "ReduceSum":
        return [_reduce(np.sum, x[0], _axes(attrs, x, 1), attrs.get("keepdims", 1),
                        attrs.get("noop_with_empty_axes", 0))]
    if op == "ReduceMax":
        return [_reduce(np.max, x[0], _axes(attrs, x, 1), attrs.get("keepdims", 1))]
    if op == "LayerNormalization":
        return [_layer_norm(x[0], x[1], x[2] if len(x) > 2 else None, attrs.get("axis", -1),
                            attrs.get("epsilon", 1e-5))]
    if op == "TopK":
        return list(_topk(x[0], int(np.asarray(x[1]).reshape(-1)[0]), attrs.get("axis", -1),
                          attrs.get("largest", 1), attrs.get("sorted", 1)))
    if op == "Clip":
        low = x[1] if len(x) > 1 and x[1] is not None else -np.inf
        high = x[2] if len(x) > 2 and x[2] is not None else np.inf
        return [np.clip(x[0], low, high)]
    if op == "Gemm":
        return [_gemm(x[0], x[1], x[2] if len(x) > 2 else None, attrs)]
    if op == "Gelu":
        if attrs.get("approximate", "none") in ("tanh", b"tanh"):
            v = x[0]
            return [0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))]
        return [0.5 * x[0] * (1.0 + _erf(x[0] / math.sqrt(2.0)))]
    raise NotImplementedError(f"node '{name}': op {op} is not implemented in onnx_numpy.py")


def run(model, feeds, weights=None, on_node=None):
    """Evaluates `model` on `feeds` (name -> array) and returns {output name: array}.
    `weights` (name -> array) supplies data for shape-only initializers; `on_node(node, inputs,
    outputs)`, if given, sees every evaluated node (tests count FLOPs with it)."""
    values = {}
    for tensor in model.graph.initializer:
        if weights is not None and tensor.name in weights:
            values[tensor.name] = _widen(np.asarray(weights[tensor.name]))
        elif tensor.data_location == TensorProto.EXTERNAL:
            raise ValueError(f"initializer {tensor.name} has no data; pass it in `weights`")
        else:
            values[tensor.name] = _tensor(tensor)
    for name, array in feeds.items():
        values[name] = _widen(np.asarray(array))
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        args = [values[i] if i else None for i in node.input]
        try:
            results = _evaluate(node.op_type, args, attrs, node.name)
        except NotImplementedError:
            raise
        except Exception as error:  # name the node: a shape mismatch deep in a graph is opaque
            shapes = [None if a is None else a.shape for a in args]
            raise RuntimeError(f"node '{node.name}' ({node.op_type}) on inputs {shapes}: "
                               f"{error}") from error
        results = [np.asarray(r) for r in results]
        if on_node is not None:
            on_node(node, args, results)
        for output, result in zip(node.output, results):
            values[output] = result
    return {o.name: values[o.name] for o in model.graph.output}
