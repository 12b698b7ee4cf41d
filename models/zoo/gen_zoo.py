#!/usr/bin/python3
"""Writes models/zoo/onnx/<name>.onnx: a shape-only ONNX decoder graph for every config in
models/zoo/configs/ (and refreshes models/zoo/expected.json through closed_form.py).

    /usr/bin/python3 models/zoo/gen_zoo.py            # (re)write the graphs
    /usr/bin/python3 models/zoo/gen_zoo.py --check    # regenerate into a temp dir and compare:
                                                      # exit 1 on any difference, 77 without onnx
    /usr/bin/python3 models/zoo/gen_zoo.py --only llama2-7b   # one model

Before writing, every graph must pass onnx.checker, strict ONNX shape inference, and carry
exactly the parameter count closed_form.py computes from its config (sum of the shape-only
initializers' elements). Numerical correctness of the graph structure is tested separately by
test_zoo_numerics.py (miniature configs with real weights against a PyTorch reference).
"""

import filecmp
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy  # noqa: F401  (graph_builder needs it)
    import onnx
except ImportError as missing:
    print(f"gen_zoo.py: skipped: {missing.name} is not installed "
          "(apt-get install python3-onnx python3-numpy)", file=sys.stderr)
    sys.exit(77)

import closed_form  # noqa: E402
import graph_builder  # noqa: E402
import zoo_config  # noqa: E402

ONNX_DIR = os.path.join(HERE, "onnx")
MAX_FILE_BYTES = 1 << 20  # "a 70B graph is kilobytes": fail loudly if a graph balloons


def shape_only_element_count(model):
    total = 0
    for tensor in model.graph.initializer:
        if not graph_builder.is_shape_only(tensor):
            raise ValueError(f"initializer {tensor.name} carries data; zoo graphs hold only "
                             "shape-only weights")
        count = 1
        for dim in tensor.dims:
            count *= dim
        total += count
    return total


def validate(model, config, data):
    """Raises ValueError naming the model and what is wrong."""
    name = config["name"]
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{name}: graph is {len(data)} bytes, over the {MAX_FILE_BYTES} limit")
    # The checker would look for a file named "conveyor:shape-only"; check a copy in which the
    # shape-only weights are graph inputs of the same type and shape instead.
    as_inputs = onnx.ModelProto()
    as_inputs.CopyFrom(model)
    del as_inputs.graph.initializer[:]
    as_inputs.graph.input.extend(
        onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
        for t in model.graph.initializer)
    onnx.checker.check_model(as_inputs)
    inferred = onnx.shape_inference.infer_shapes(as_inputs, check_type=True, strict_mode=True)
    logits = next(o for o in inferred.graph.output if o.name == "logits")
    dims = [d.dim_param or d.dim_value for d in logits.type.tensor_type.shape.dim]
    if dims != ["batch", "seq", config["vocab"]]:
        raise ValueError(f"{name}: logits shape {dims}, expected [batch, seq, vocab]")
    counted = shape_only_element_count(model)
    modelled = closed_form.count_params(config)["total"]
    if counted != modelled:
        raise ValueError(f"{name}: graph holds {counted:,} parameters but closed_form.py "
                         f"computes {modelled:,}; the two disagree")


def generate(configs, directory):
    """Writes every graph into `directory`; returns {file name: (bytes, nodes, initializers)}."""
    written = {}
    for config in configs:
        model = graph_builder.build_model(config)
        data = model.SerializeToString()
        validate(model, config, data)
        file_name = config["name"] + ".onnx"
        closed_form.write_atomically(os.path.join(directory, file_name), data)
        written[file_name] = (len(data), len(model.graph.node), len(model.graph.initializer))
    return written


def compare(fresh_dir, configs, only):
    """--check: the committed graphs and expected.json are what the generator writes now."""
    status = 0
    for config in configs:
        file_name = config["name"] + ".onnx"
        committed = os.path.join(ONNX_DIR, file_name)
        if not os.path.exists(committed):
            print(f"{committed}: missing; run /usr/bin/python3 models/zoo/gen_zoo.py",
                  file=sys.stderr)
            status = 1
        elif not filecmp.cmp(committed, os.path.join(fresh_dir, file_name), shallow=False):
            print(f"{committed}: differs from what gen_zoo.py writes; regenerate it",
                  file=sys.stderr)
            status = 1
    if not only:
        expected_names = {c["name"] + ".onnx" for c in configs}
        for stray in sorted(set(os.listdir(ONNX_DIR)) - expected_names):
            if stray.endswith(".onnx"):
                print(f"{os.path.join(ONNX_DIR, stray)}: no config in models/zoo/configs "
                      "produces this file; delete it", file=sys.stderr)
                status = 1
    if closed_form.main(["--check"]) != 0:
        status = 1
    return status


def main(argv):
    check = "--check" in argv
    only = None
    if "--only" in argv:
        position = argv.index("--only")
        if position + 1 >= len(argv):
            print("gen_zoo.py: --only needs a model name", file=sys.stderr)
            return 2
        only = argv[position + 1]
    try:
        configs = zoo_config.load_all()
    except zoo_config.ConfigError as error:
        print(f"gen_zoo.py: {error}", file=sys.stderr)
        return 1
    if only is not None:
        configs = [c for c in configs if c["name"] == only]
        if not configs:
            print(f"gen_zoo.py: no config named '{only}' in models/zoo/configs", file=sys.stderr)
            return 2
    target = tempfile.mkdtemp(prefix="conveyor-zoo-") if check else ONNX_DIR
    try:
        try:
            written = generate(configs, target)
        except (ValueError, onnx.checker.ValidationError,
                onnx.shape_inference.InferenceError) as error:
            print(f"gen_zoo.py: {error}", file=sys.stderr)
            return 1
        if check:
            status = compare(target, configs, only)
            if status == 0:
                print(f"models/zoo/onnx: up to date ({len(configs)} graphs)")
            return status
        for file_name, (size, nodes, inits) in written.items():
            print(f"wrote models/zoo/onnx/{file_name}: {size:,} bytes, {nodes} nodes, "
                  f"{inits} shape-only weights")
        return closed_form.main([])  # refresh expected.json alongside the graphs
    finally:
        if check:
            shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
