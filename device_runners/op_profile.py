#!/usr/bin/env python3
"""Where a .tflite model's time goes, per op type, with this machine's LiteRT (``edgebench time --profile``).

LiteRT's Python API offers no op profiler: the interpreter has no profiler hook (its one profiling flag,
``experimental_force_delegate_node_profiling``, only feeds a C++ profiler), the CompiledModel wrapper
exposes none, and ``benchmark_model --enable_op_profiling`` is a C++ binary the wheel does not ship. So
this measures it another way, and says so in the result's ``method``:

1. The full model runs once on the builtin kernels with ``experimental_preserve_all_tensors`` (values
   only, never a timing), which gives every tensor the value it has in a real inference.
2. For each op type, a model of its own is written (the schema's object API): every node of that type,
   disconnected from each other, each with copies of its constant inputs and its other inputs fed the
   values step 1 captured (so post-processing sees the scores the detector really produces).
3. That model is timed on the requested delegate and threads (median of repeated invokes); the median
   invoke of a one-op model of a single ADD (Python's and LiteRT's fixed cost per invoke) is subtracted.
4. The whole model is timed in the same process, so ``sum of op types / whole model`` says how well the
   parts add up: fusion across op types and cache effects between neighbours are absent from the parts.

Runs as a script in a child process (a crash costs only the profile), importing ``worker`` beside it.

    python op_profile.py --model m.tflite --delegate xnnpack --threads 1 --out profile.json
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np

try:  # run as a script from device_runners/ (the runner's way), or imported from the package (tests)
    import worker
except ImportError:
    from device_runners import worker

# Named groups across op types, by the name of each node's first output tensor (the Keras layer names the
# edgebench zoo gives: bench/models/layers.py). Hard-swish is one HARD_SWISH op, or ADD+RELU6, MUL, MUL in
# the _xnnpack recipes; squeeze-excite is MEAN, two CONV_2D, activations and a MUL.
GROUPS = {"hard-swish": "hswish", "squeeze-excite": "_se_"}
METHOD = (
    "each op type timed alone: all its nodes in a one-type model, fed the values they get in the full "
    "model, same delegate and threads, median of repeated invokes minus the per-invoke overhead"
)


def schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def op_type_name(model, code_index: int) -> str:
    """BuiltinOperator name (CONV_2D), or the custom op's own name."""
    code = model.operatorCodes[code_index]
    builtin = max(code.builtinCode or 0, code.deprecatedBuiltinCode or 0)
    names = {v: k for k, v in vars(schema().BuiltinOperator).items() if not k.startswith("_")}
    name = names.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM" and code.customCode:
        custom = code.customCode
        return custom.decode() if isinstance(custom, bytes) else str(custom)
    return name


def capture_values(path: str, seed: int) -> dict[int, np.ndarray]:
    """Every tensor's value in one inference of the full model (builtin kernels, all tensors kept)."""
    interpreter_class, resolver, _ = worker.load_litert()
    interpreter = interpreter_class(
        model_path=path,
        experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    worker.fill_inputs(interpreter, seed)
    interpreter.invoke()
    values = {}
    for detail in interpreter.get_tensor_details():
        try:
            values[detail["index"]] = np.array(interpreter.get_tensor(detail["index"]))
        except ValueError:  # a tensor without data (e.g. optional, unallocated)
            continue
    return values


def type_model(model, operators: list, values: dict[int, np.ndarray]) -> tuple[bytes, list[np.ndarray]]:
    """The flatbuffer of a model holding ``operators`` (of one type, or a named group), disconnected, and
    the values its inputs are fed, in input order."""
    import flatbuffers

    s = schema()
    source = model.subgraphs[0]
    tensors, buffers, feeds, inputs, outputs = [], [s.BufferT()], [], [], []
    buffer_map: dict[int, int] = {}

    def copy_tensor(index: int, is_output: bool) -> int:
        tensor = copy.copy(source.tensors[index])
        data = model.buffers[tensor.buffer].data if tensor.buffer else None
        if data is not None and len(data) and not is_output:
            if tensor.buffer not in buffer_map:
                buffer_map[tensor.buffer] = len(buffers)
                buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = buffer_map[tensor.buffer]
        else:
            tensor.buffer = 0
            if index in values:
                tensor.shape = list(values[index].shape)
            tensor.shapeSignature = None
            if not is_output:
                inputs.append(len(tensors))
                feeds.append(values[index])
            else:
                outputs.append(len(tensors))
        tensors.append(tensor)
        return len(tensors) - 1

    new_ops = []
    codes = list(dict.fromkeys(op.opcodeIndex for op in operators))
    for op in operators:
        new = copy.copy(op)
        new.opcodeIndex = codes.index(op.opcodeIndex)
        new.inputs = [copy_tensor(int(t), False) if t >= 0 else -1 for t in op.inputs]
        new.outputs = [copy_tensor(int(t), True) for t in op.outputs]
        new.intermediates = None
        new_ops.append(new)
    subgraph = s.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = (
        tensors,
        new_ops,
        inputs,
        outputs,
    )
    built = s.ModelT()
    built.version = model.version
    built.operatorCodes = [model.operatorCodes[code] for code in codes]
    built.subgraphs, built.buffers, built.description = [subgraph], buffers, "edgebench op profile"
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(built.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), feeds


def add_model() -> tuple[bytes, list[np.ndarray]]:
    """A one-op model (ADD of two one-element floats): what an invoke costs with nothing to compute."""
    import flatbuffers

    s = schema()
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.ADD
    code.version = 1
    tensors = []
    for name in ("a", "b", "sum"):
        tensor = s.TensorT()
        tensor.shape, tensor.type, tensor.buffer, tensor.name = [1], s.TensorType.FLOAT32, 0, name
        tensors.append(tensor)
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.AddOptions, s.AddOptionsT()
    subgraph = s.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = tensors, [op], [0, 1], [2]
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [subgraph], [s.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    one = np.ones([1], np.float32)
    return bytes(builder.Output()), [one, one]


def median_invoke_ms(
    content: bytes | None, feeds, delegate: str, threads: int, path: str | None = None
) -> float:
    """Median latency of invoking a model (from bytes, or the file at ``path`` with seeded inputs)."""
    interpreter_class, resolver, _ = worker.load_litert()
    kind = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES if delegate == "cpu" else resolver.BUILTIN
    interpreter = interpreter_class(
        model_path=path, model_content=content, num_threads=threads, experimental_op_resolver_type=kind
    )
    interpreter.allocate_tensors()
    if path is not None:
        worker.fill_inputs(interpreter, 0)
    for detail, value in zip(interpreter.get_input_details(), feeds or [], strict=False):
        interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
    worker.run_phase(interpreter.invoke, 3, 0.05, 10.0)
    return float(np.median(worker.run_phase(interpreter.invoke, 15, 0.2, 10.0)))


def profile(path: str, delegate: str, threads: int, seed: int = 0) -> dict:
    """The per-op-type breakdown of ``path`` (see the module docstring)."""
    with open(path, "rb") as handle:
        buffer = handle.read()
    model = schema().ModelT.InitFromPackedBuf(buffer, 0)
    values = capture_values(path, seed)
    by_type: dict[str, list] = {}
    for op in model.subgraphs[0].operators:
        by_type.setdefault(op_type_name(model, op.opcodeIndex), []).append(op)
    full, _, _ = worker.build_interpreter(path, delegate, threads)
    outside = worker.delegation(full, len(model.subgraphs[0].operators))["outside"] or []
    overhead = median_invoke_ms(*add_model(), delegate, threads)
    names = model.subgraphs[0].tensors
    groups = {
        group: [
            op
            for op in model.subgraphs[0].operators
            if op.outputs is not None and len(op.outputs) and text in _name(names[op.outputs[0]])
        ]
        for group, text in GROUPS.items()
    }
    skipped: list[str] = []

    def timed(parts: dict[str, list], delegated) -> list[dict]:
        out = []
        for name, operators in parts.items():
            if not operators:
                continue
            try:
                content, feeds = type_model(model, operators, values)
                ms = median_invoke_ms(content, feeds, delegate, threads)
            except (ValueError, RuntimeError, KeyError) as error:  # an op that cannot stand alone
                skipped.append(f"{name}: {' '.join(str(error).split())[:120]}")
                continue
            entry = {"op_type": name, "count": len(operators), "ms": max(0.0, ms - overhead)}
            out.append({**entry, "delegated": delegated(name, operators)})
        return sorted(out, key=lambda op: -op["ms"])

    def by_name(name: str, operators: list) -> int:
        return 0 if delegate == "cpu" else len(operators) - sum(1 for o in outside if o == name)

    ops = timed(by_type, by_name)
    grouped = timed(groups, lambda name, operators: 0)
    model_ms = median_invoke_ms(None, None, delegate, threads, path=path)
    return {
        "method": METHOD,
        "model_ms": model_ms,
        "overhead_ms": overhead,
        "ops": ops,
        "groups": grouped,
        "skipped": skipped,
    }


def _name(tensor) -> str:
    name = tensor.name or b""
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-op-type time of a .tflite model; one JSON file.")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--delegate", choices=worker.DELEGATES, default="xnnpack")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    header = {"protocol": worker.PROTOCOL, "model": args.model}
    try:
        body = {"ok": True, **profile(args.model, args.delegate, args.threads)}
    except (ValueError, RuntimeError, OSError) as error:
        body = {"ok": False, "error": {"type": type(error).__name__, "message": " ".join(str(error).split())}}
    worker.write_atomically(args.out, {**header, **body})
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown, as worker.py does
