#!/usr/bin/env python3
"""Time one .tflite model with the LiteRT interpreter of this machine and write one JSON result file.

A self-contained single file: it imports only the standard library, numpy and ``ai_edge_litert``
(``tflite_runtime`` as a fallback), so a runner can copy it to a board or phone and run it with that
machine's Python. It never imports TensorFlow, which keeps start-up fast.

    python worker.py --model m.tflite --delegate xnnpack --threads 2 --out result.json [timing flags]
    python worker.py --model m.tflite --check --out result.json      # load only: inputs, outputs, ops
    python worker.py --model a.tflite --model b.tflite --rounds 5 --out result.json   # interleaved

Interleaved rounds (``--rounds R``): every model is loaded once, then R rounds each give every model one
window of ``1/R`` of the timed runs and seconds (the full warm-up before a model's first window, one
warm-up run before each later one, as switching models cools the caches). A slow spell of the machine
then hits every model alike. The result file is rewritten after every window and says which model is
being loaded or timed (``current``), so a parent whose child died knows the culprit and keeps the rest.

Methodology as LiteRT's benchmark_model (tflite/tools/benchmark): a warmup phase of at least
``--warmup-runs`` runs and ``--warmup-min-secs`` seconds, then a timed phase of at least ``--min-runs``
runs and ``--min-secs`` seconds, each cut off after ``--max-secs``; every sample is kept.

Exit codes: 0 a result file was written (``"ok": false`` with an ``error`` when LiteRT could not load or
run the model), 2 bad arguments, anything else (or a signal) means the worker itself died.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time

import numpy as np

PROTOCOL = 1  # bump when the result layout changes; parents check it
# Test-only hook: "<segv|abort|kill|exit|hang>[:<delegate>[:<text>]]" makes the worker die that way after
# loading the model (for that delegate only, when one is named; in rounds mode only before the first
# window of a model whose path contains <text>), so tests can exercise crash isolation.
TEST_CRASH_ENV = "EDGEBENCH_TEST_CRASH"
DELEGATES = ("cpu", "xnnpack")


def load_litert():
    """Import ai_edge_litert's interpreter, else tflite_runtime's: (Interpreter, OpResolverType, label)."""
    try:
        from ai_edge_litert import interpreter as module

        package = "ai_edge_litert"
    except ImportError:
        from tflite_runtime import interpreter as module

        package = "tflite_runtime"
    version = _package_version(package)
    return module.Interpreter, module.OpResolverType, f"{package} {version}".strip()


def _package_version(package: str) -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version(package.replace("_", "-"))
    except (ImportError, PackageNotFoundError):
        return ""


def build_interpreter(model: str, delegate: str, threads: int):
    """Create and allocate the interpreter. Returns (interpreter, init_ms, nodes in the model file).

    ``cpu`` uses the builtin kernels with no default delegate; ``xnnpack`` lets LiteRT apply its default
    XNNPack delegate, which it does lazily during the first tensor allocation.
    """
    interpreter_class, resolver, _ = load_litert()
    kind = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES if delegate == "cpu" else resolver.BUILTIN
    start = time.perf_counter()
    interpreter = interpreter_class(model_path=model, num_threads=threads, experimental_op_resolver_type=kind)
    model_nodes = _num_nodes(interpreter)  # before allocation: no delegate node exists yet
    interpreter.allocate_tensors()
    return interpreter, (time.perf_counter() - start) * 1000.0, model_nodes


def _num_nodes(interpreter) -> int | None:
    # The wrapper is private API; never hold a reference to it (the interpreter counts references to
    # refuse invoke() while numpy views of its buffers exist).
    wrapper = getattr(interpreter, "_interpreter", None)
    return wrapper.NumNodes() if wrapper is not None and hasattr(wrapper, "NumNodes") else None


def delegation(interpreter, model_nodes: int | None) -> dict:
    """Which of the model's nodes a delegate replaced.

    Delegation keeps the model's nodes and appends one kernel node per delegated partition, whose inputs
    and outputs are the partition's boundary tensors. Walking back from a partition's outputs through
    producer nodes, stopping at its inputs, finds the nodes it replaced (partitions are convex).
    """
    if model_nodes is None:
        return {"ops_total": None, "delegate_partitions": None, "outside": None}
    wrapper = interpreter._interpreter
    producer = {}
    for node in range(model_nodes):
        for tensor in wrapper.NodeOutputs(node):
            producer[int(tensor)] = node
    replaced: set[int] = set()
    partitions = wrapper.NumNodes() - model_nodes
    for kernel in range(model_nodes, model_nodes + partitions):
        boundary = {int(t) for t in wrapper.NodeInputs(kernel)}
        pending = [int(t) for t in wrapper.NodeOutputs(kernel)]
        while pending:
            node = producer.get(pending.pop())
            if node is None or node in replaced:
                continue
            replaced.add(node)
            pending.extend(int(t) for t in wrapper.NodeInputs(node) if t >= 0 and int(t) not in boundary)
    outside = [wrapper.NodeName(node) for node in range(model_nodes) if node not in replaced]
    return {"ops_total": model_nodes, "delegate_partitions": partitions, "outside": outside}


def fill_inputs(interpreter, seed: int) -> list[dict]:
    """Set every input to seeded random data of its dtype; returns the input descriptions."""
    rng = np.random.default_rng(seed)
    described = []
    for detail in interpreter.get_input_details():
        shape, dtype = [int(n) for n in detail["shape"]], np.dtype(detail["dtype"])
        if dtype.kind == "f":
            value = rng.uniform(-1.0, 1.0, shape).astype(dtype)
        elif dtype.itemsize == 1 and dtype.kind in "iu":  # quantized images: the full range
            info = np.iinfo(dtype)
            value = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
        elif dtype.kind in "iu":  # likely indices or counts: small non-negative values stay in range
            value = rng.integers(0, 9, shape, endpoint=True).astype(dtype)
        elif dtype.kind == "b":
            value = rng.integers(0, 1, shape, endpoint=True).astype(bool)
        else:  # strings and the like: leave the zero-initialised tensor as is
            value = None
        if value is not None:
            interpreter.set_tensor(detail["index"], value)
        described.append({"name": detail["name"], "shape": shape, "dtype": dtype.name})
    return described


def run_phase(
    invoke, min_runs: int, min_secs: float, max_secs: float, max_runs: int | None = None
) -> list[float]:
    """Invoke until both minimums are met or a limit is hit; returns each latency in ms.

    Same loop condition as benchmark_model: run while (runs < min_runs or elapsed < min_secs) and
    elapsed <= max_secs, so at least one run happens whenever a minimum asks for one.
    """
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    while (len(samples) < min_runs or clock() - start < min_secs) and clock() - start <= max_secs:
        if max_runs is not None and len(samples) >= max_runs:
            break
        began = clock()
        invoke()
        samples.append((clock() - began) * 1000.0)
    return samples


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process so far, in MB (the interpreter, Python and numpy).

    On Linux this is VmHWM from /proc/self/status, not ``getrusage``: the kernel carries ru_maxrss across
    exec, so a child forked from a big parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _test_crash(delegate: str, model: str = "") -> None:
    spec = os.environ.get(TEST_CRASH_ENV, "")
    kind, _, rest = spec.partition(":")
    only, _, text = rest.partition(":")
    if not kind or (only and only != delegate) or (text and text not in model):
        return
    sys.stderr.write(f"worker: test hook {TEST_CRASH_ENV}={spec}: dying by {kind}\n")
    sys.stderr.flush()
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "abort":
        os.abort()
    elif kind == "kill":  # what the kernel's out-of-memory killer sends
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "hang":
        time.sleep(3600)
    os._exit(5)  # "exit", or an unknown kind: a plain non-zero exit with no result file


def measure(args: argparse.Namespace) -> dict:
    """Load, then (unless --check) warm up and time; returns the result body."""
    interpreter, result = load_described(args.model[0], args.delegate, args.threads, args.seed)
    if args.check:
        return result
    _test_crash(args.delegate)
    if args.cooldown_secs > 0:
        time.sleep(args.cooldown_secs)
    invoke = interpreter.invoke
    warmup = run_phase(invoke, args.warmup_runs, args.warmup_min_secs, args.max_secs)
    samples = run_phase(invoke, args.min_runs, args.min_secs, args.max_secs, args.max_runs)
    first = warmup[0] if warmup else samples[0]
    return {**result, "first_inference_ms": first, "warmup_samples_ms": warmup, "samples_ms": samples}


def load_described(model: str, delegate: str, threads: int, seed: int) -> tuple:
    """Load one model for timing: (interpreter, its description: inputs, outputs, init_ms, ops)."""
    interpreter, init_ms, model_nodes = build_interpreter(model, delegate, threads)
    inputs = fill_inputs(interpreter, seed)
    outputs = [
        {"name": d["name"], "shape": [int(n) for n in d["shape"]], "dtype": np.dtype(d["dtype"]).name}
        for d in interpreter.get_output_details()
    ]
    graph = delegation(interpreter, model_nodes)
    described = {"inputs": inputs, "outputs": outputs, "init_ms": init_ms, **_ops_fields(graph, delegate)}
    return interpreter, described


def measure_rounds(args: argparse.Namespace, write) -> dict:
    """Interleaved rounds over every ``--model`` (see the module docstring); ``write(state)`` is called
    before each load and window and after each window, with the whole state so far."""
    rounds = args.rounds
    per_runs = -(-args.min_runs // rounds)  # ceil: at least the asked-for runs in total
    per_max = None if args.max_runs is None else max(1, args.max_runs // rounds)
    # windows: [round, model index] of every window in the order run (what interleaving means, checkable).
    state = {"rounds": rounds, "done_rounds": 0, "current": None, "models": [], "windows": []}
    loaded = []
    # Each model's memory: the process before any model, plus what loading it and its first window
    # added (what a process timing it alone would have peaked at, near enough).
    base_rss = rss_mb()
    for index, model in enumerate(args.model):
        state["current"] = {"model": index, "phase": "load"}
        write(state)
        entry = {"model": model}
        before = rss_mb()
        try:
            interpreter, described = load_described(model, args.delegate, args.threads, args.seed)
        except (ValueError, RuntimeError, OSError) as error:
            entry.update(ok=False, error=_error_body(error))
            interpreter = None
        else:
            entry.update(ok=True, **described, samples_ms=[], round_sizes=[], warmup_samples_ms=[])
            entry["growth_mb"] = _difference(rss_mb(), before)
        state["models"].append(entry)
        loaded.append(interpreter)
    if args.cooldown_secs > 0:
        time.sleep(args.cooldown_secs)
    for round_index in range(rounds):
        for index, interpreter in enumerate(loaded):
            if interpreter is None:
                continue
            entry = state["models"][index]
            state["current"] = {"model": index, "phase": "window", "round": round_index}
            write(state)
            _test_crash(args.delegate, args.model[index])
            invoke = interpreter.invoke
            if round_index == 0:
                before = rss_mb()
                warmup = run_phase(invoke, args.warmup_runs, args.warmup_min_secs, args.max_secs)
                growth = (entry.pop("growth_mb") or 0.0) + (_difference(rss_mb(), before) or 0.0)
                entry["peak_rss_mb"] = None if base_rss is None else base_rss + growth
            else:
                warmup = run_phase(invoke, 1, 0.0, args.max_secs)
            samples = run_phase(invoke, per_runs, args.min_secs / rounds, args.max_secs / rounds, per_max)
            if round_index == 0:
                entry["warmup_samples_ms"] = warmup
                entry["first_inference_ms"] = warmup[0] if warmup else samples[0]
            entry["samples_ms"].extend(samples)
            entry["round_sizes"].append(len(samples))
            state["windows"].append([round_index, index])
        state["done_rounds"] = round_index + 1
    state["current"] = None
    return state


def rss_mb() -> float | None:
    """This process's resident set size now (VmRSS), in MB; None where /proc is absent."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def _difference(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else max(0.0, after - before)


def _error_body(error: Exception) -> dict:
    message = " ".join(str(error).split()) or type(error).__name__
    return {"type": type(error).__name__, "message": message}


def _ops_fields(graph: dict, delegate: str) -> dict:
    # With the plain CPU kernels there is no delegate, so "outside the delegate" does not apply: None.
    outside = None if delegate == "cpu" else graph["outside"]
    return {
        "ops_total": graph["ops_total"],
        "ops_outside_delegate": None if outside is None else len(outside),
        "outside_ops": outside,
        "delegate_partitions": graph["delegate_partitions"],
    }


def write_atomically(path: str, payload: dict) -> None:
    """Write JSON to a temp file beside ``path`` and rename it over: a reader never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".worker-", suffix=".json")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temp, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time one .tflite model with LiteRT; write one JSON file.")
    parser.add_argument(
        "--model", required=True, action="append", help="the .tflite file (repeat it with --rounds)"
    )
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--delegate", choices=DELEGATES, default="xnnpack")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="load and describe only, no timing")
    parser.add_argument("--warmup-runs", type=int, default=1)
    parser.add_argument("--warmup-min-secs", type=float, default=0.5)
    parser.add_argument("--min-runs", type=int, default=50)
    parser.add_argument("--min-secs", type=float, default=1.0)
    parser.add_argument("--max-runs", type=int, default=None)
    parser.add_argument("--max-secs", type=float, default=150.0)
    parser.add_argument("--cooldown-secs", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds over every --model")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads: must be at least 1; got {args.threads}")
    if args.rounds is not None and (args.rounds < 1 or args.check):
        parser.error(f"--rounds: must be at least 1 and cannot go with --check; got {args.rounds}")
    if args.rounds is None and len(args.model) != 1:
        parser.error(f"--model: one model without --rounds; got {len(args.model)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    header = {"protocol": PROTOCOL, "delegate": args.delegate, "threads": args.threads}
    _, _, litert = load_litert()
    runtime = {
        "litert": litert,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow_imported": "tensorflow" in sys.modules,
    }

    def write(body: dict) -> None:
        write_atomically(args.out, {**header, **body, "runtime": runtime, "peak_rss_mb": peak_rss_mb()})

    if args.rounds is not None:
        write(measure_rounds(args, write))
        return 0
    try:
        body = {"ok": True, **measure(args)}
    except (ValueError, RuntimeError, OSError) as error:  # what LiteRT raises for a model it cannot use
        body = {"ok": False, "error": _error_body(error)}
    write({"model": args.model[0], **body})
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: a delegate that crashes in its destructor must not turn a finished
    # measurement into a crash.
    os._exit(code)
