"""Parse what LiteRT's ``benchmark_model`` prints (stdout or logcat), in every form seen in the wild.

The contract is /work/shared/reference/benchmark_model.md. Units as printed: statistics lines and the
"Inference timings" line are microseconds, "Initialized session in" is milliseconds, memory is MB.
The parser never raises on odd text: what it does not recognise is ignored, what it cannot read as a
number becomes None, and ``nan`` / ``inf`` stay floats (callers drop them at the record boundary).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

# A C++ iostream number: plain, scientific (1.24027e+06), or nan / -nan / inf.
_NUMBER = r"[-+]?(?:nan|inf(?:inity)?|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_KEY_VALUE = re.compile(rf"(\w+)=({_NUMBER})(\(all same\))?", re.IGNORECASE)
_STATS = re.compile(r"\bcount=")
_PHASE = re.compile(r"Running benchmark for at least (\d+) iterations")
_TIMINGS = re.compile(r"(?:Average )?[Ii]nference timings in us:(.*)")
_TIMING_ITEM = re.compile(rf"([A-Za-z][A-Za-z ()]*?):\s*({_NUMBER})", re.IGNORECASE)
_SESSION = re.compile(rf"Initialized session in ({_NUMBER})\s*ms", re.IGNORECASE)
_MODEL_SIZE = re.compile(rf"input model file size \(MB\):\s*({_NUMBER})", re.IGNORECASE)
_FOOTPRINT = re.compile(
    r"(Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\):(.*)"
)
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring:\s*({_NUMBER})")
_APPLIED_FULL = re.compile(
    r"Explicitly applied (\w+) delegate, and the model graph will be completely executed"
)
_APPLIED_PARTIAL = re.compile(
    r"Explicitly applied (\w+) delegate, and the model graph will be partially executed by the delegate"
    r"(?: w/ (\d+) delegate kernels)?"
)
_NOT_APPLIED = re.compile(
    r"Though (\w+) delegate is explicitly applied, the model graph will not be executed"
)
_REPLACING = re.compile(
    r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]+)\) node, yielding (\d+) partitions"
)
# A delegate's own count (LiteRT's Core ML delegate, SimpleDelegate-based ones): "CoreML delegate: 58 nodes
# delegated out of 63 nodes, with 2 partitions."
_NODES_DELEGATED = re.compile(
    r"(\w+) delegate: (\d+) nodes delegated out of (\d+) nodes,? with (\d+) partitions"
)
_UNSUPPORTED_HEADER = re.compile(r"Following operations are not supported by (\w+) delegate")
_UNSUPPORTED_OP = re.compile(r"^([A-Z][A-Z0-9_]*(?: [\w.]+)?):(?: .*)?$")
_SPLIT = re.compile(
    r"(\d+) operations will run on the (\w+), and the remaining (\d+) operations? will run on the CPU"
)
_SPLIT_NONE = re.compile(r"No operations will run on the (\w+), and all (\d+) operations will run on the CPU")
_UNCONSUMED = re.compile(r"Unconsumed cmdline flags:\s*(.*)")
# Prefixes before the message: "INFO: ", "ERROR: ", logcat's "... I tflite  : " or "I/tflite (123): ",
# NSLog's "2024-05-01 12:00:00.123 TFLiteBenchmark[12:345] " (the iOS benchmark app's console).
_PREFIX = re.compile(
    r"^(?:\d{4}-\d\d-\d\d [\d:.]+(?:[+-]\d{4})? \w+\[\d+:\w+\] )?"
    r"(?:.*?\b[VDIWEF][/ ]tflite\s*(?:\(\s*\d+\))?\s*:\s*|(?:INFO|WARNING|ERROR|VERBOSE): )?"
)
# The iOS benchmark app's own summary (BenchmarkViewController.mm's results listener), in milliseconds:
# "Startup latency: 41.2 ms", then "Inference:" / "Warmup:" sections of " - Average: 12.3 ms" lines.
_IOS_STARTUP = re.compile(rf"^Startup latency:\s*({_NUMBER})\s*ms", re.IGNORECASE)
_IOS_SECTION = re.compile(r"^(Inference|Warmup):$")
_IOS_STAT = re.compile(rf"^-\s*(Num runs|Average|Min|Max|Std deviation):\s*({_NUMBER})", re.IGNORECASE)
_IOS_KEYS = {"num runs": "count", "average": "avg", "min": "min", "max": "max", "std deviation": "std"}
# ProcessInfo.thermalState as an app may print it ("Thermal state: nominal"); iOS has no other reading.
_THERMAL_STATE = re.compile(r"^Thermal state:\s*(nominal|fair|serious|critical)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RunStats:
    """One statistics line (``count=50 first=... avg=... p95=...``), in microseconds."""

    count: int | None
    values_us: dict[
        str, float
    ]  # every key=value token but count: first, curr, min, max, avg, std, p5, median, p95
    all_same: bool = False  # "curr=100(all same)": every sample had the same value

    def get(self, key: str) -> float | None:
        """A statistic in microseconds; for an all-same line every statistic equals ``curr``."""
        if key in self.values_us:
            return self.values_us[key]
        if self.all_same or self.count == 1:
            if key == "std":
                return 0.0
            return self.values_us.get("curr")
        return None


@dataclass(frozen=True)
class Delegation:
    """What one delegate said about the graph it was given."""

    delegate: str  # as printed, upper-cased: "GPU", "XNNPACK", "NNAPI"
    mode: str | None = None  # "full", "partial" or "none"; None when only node counts were printed
    delegate_kernels: int | None = None
    nodes_replaced: int | None = None
    nodes_total: int | None = None
    partitions: int | None = None
    ops_on_cpu: int | None = None  # from "N operations will run on the GPU, and the remaining M ..."
    unsupported_ops: tuple[
        str, ...
    ] = ()  # e.g. "CUSTOM TFLite_Detection_PostProcess: Operation is not supported."


@dataclass(frozen=True)
class BenchmarkOutput:
    """Everything ``benchmark_model`` printed that a record can use."""

    warmup: RunStats | None = None
    run: RunStats | None = None
    init_us: float | None = None  # from the "Inference timings" line
    first_inference_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    session_init_ms: float | None = None  # "Initialized session in X ms."
    model_size_mb: float | None = None
    footprint_init_mb: float | None = None
    footprint_overall_mb: float | None = None
    peak_memory_mb: float | None = None  # periodic monitoring, when printed
    delegations: dict[str, Delegation] = field(default_factory=dict)  # keyed by upper-case delegate name
    unconsumed_flags: tuple[str, ...] = ()
    cpu_fallback_disallowed: bool = False  # "Disallowed CPU fallback detected." (--require_full_delegation)
    thermal_states: tuple[str, ...] = ()  # iOS: "Thermal state: ..." lines in order (nominal .. critical)
    app_startup_ms: float | None = None  # iOS app: "Startup latency: X ms" (interpreter init)
    errors: tuple[str, ...] = ()  # "ERROR:" lines, for the record's message

    @property
    def has_timings(self) -> bool:
        """Whether the run reached its timing summary."""
        return self.run is not None or self.inference_avg_us is not None


def strip_prefix(line: str) -> str:
    """The message part of a stdout or logcat line."""
    return _PREFIX.sub("", line.rstrip("\r\n"), count=1).strip()


def to_float(text: str) -> float:
    """A C++ printed number as a float (``-nan`` becomes nan, ``1.2e+06`` 1200000.0)."""
    return float(text.lower().replace("infinity", "inf"))


def parse(text: str) -> BenchmarkOutput:
    """Parse the whole output of one benchmark_model run.

    Args:
        text: stdout (with or without ``INFO:`` prefixes) or the ``tflite`` lines of logcat.

    Returns:
        What was found; fields stay None where the output did not say.
    """
    state = _State()
    for raw in text.splitlines():
        line = strip_prefix(raw)
        if line:
            state.feed(line, raw)
    return state.result()


class _State:
    """Accumulates facts line by line; stat lines are assigned to phases by "Running benchmark" lines."""

    def __init__(self) -> None:
        self.phases: list[list[RunStats]] = []  # one list per "Running benchmark" line
        self.loose: list[RunStats] = []  # stat lines before any phase line (logcat excerpts)
        self.fields: dict[str, object] = {}
        self.delegations: dict[str, dict] = {}
        self.unsupported_for: str | None = None
        self.unconsumed: list[str] = []
        self.errors: list[str] = []
        self.fallback_disallowed = False
        self.ios_section: str | None = None  # "inference" / "warmup" inside the iOS app's summary
        self.ios_stats: dict[str, dict[str, float]] = {}
        self.thermal: list[str] = []

    def feed(self, line: str, raw: str) -> None:
        if self.unsupported_for and self._unsupported_op(line):
            return
        self.unsupported_for = None
        known = self._measurement(line) or self._delegation(line) or self._ios_line(line)
        # An error line the parser does not otherwise understand is kept for the record's message.
        if not known and (raw.lstrip().startswith("ERROR:") or re.search(r"\bE[/ ]tflite\b", raw)):
            self.errors.append(line)

    def _measurement(self, line: str) -> bool:
        if _PHASE.search(line):
            self.phases.append([])
        elif _STATS.search(line) and (stats := _stats(line)).count is not None:
            (self.phases[-1] if self.phases else self.loose).append(stats)
        elif match := _TIMINGS.search(line):
            self._timings(match.group(1))
        elif match := _SESSION.search(line):
            self.fields["session_init_ms"] = to_float(match.group(1))
        elif match := _MODEL_SIZE.search(line):
            self.fields["model_size_mb"] = to_float(match.group(1))
        elif match := _PEAK.search(line):
            self.fields["peak_memory_mb"] = to_float(match.group(1))
        elif match := _FOOTPRINT.search(line):
            values = {k.lower(): to_float(v) for k, v, _ in _KEY_VALUE.findall(match.group(2))}
            self.fields["footprint_init_mb"] = values.get("init")
            self.fields["footprint_overall_mb"] = values.get("overall")
        elif match := _UNCONSUMED.search(line):
            self.unconsumed.extend(match.group(1).split())
        elif "Disallowed CPU fallback detected" in line:
            self.fallback_disallowed = True
        else:
            return False
        return True

    def _ios_line(self, line: str) -> bool:
        """The iOS app's summary block and thermal lines; a statistic outside a section is ignored."""
        if match := _IOS_STARTUP.match(line):
            self.fields["app_startup_ms"] = to_float(match.group(1))
        elif match := _IOS_SECTION.match(line):
            self.ios_section = match.group(1).lower()
        elif (match := _IOS_STAT.match(line)) and self.ios_section:
            key = _IOS_KEYS[match.group(1).lower()]
            value = to_float(match.group(2))
            # The app prints milliseconds; RunStats holds microseconds like benchmark_model's own lines.
            self.ios_stats.setdefault(self.ios_section, {})[key] = value if key == "count" else value * 1000
        elif match := _THERMAL_STATE.match(line):
            self.thermal.append(match.group(1).lower())
        else:
            return False
        return True

    def _unsupported_op(self, line: str) -> bool:
        if not _UNSUPPORTED_OP.match(line):
            return False
        entry = self.delegations.setdefault(self.unsupported_for, {"delegate": self.unsupported_for})
        entry["unsupported_ops"] = (*entry.get("unsupported_ops", ()), line)
        return True

    def _timings(self, body: str) -> None:
        names = {
            "init": "init_us",
            "first inference": "first_inference_us",
            "warmup (avg)": "warmup_avg_us",
            "warmup": "warmup_avg_us",  # TF <= 2.3: "Warmup: W, Init: I, Inference: X"
            "inference (avg)": "inference_avg_us",
            "inference": "inference_avg_us",
            "no stats": "inference_avg_us",  # TF 2.0 / 2.1 printed the run average under this label
        }
        for key, value in _TIMING_ITEM.findall(body):
            name = names.get(key.strip().lower())
            if name:
                self.fields[name] = to_float(value)

    def _delegation(self, line: str) -> bool:
        if match := _APPLIED_FULL.search(line):
            self._delegate(match.group(1))["mode"] = "full"
        elif match := _APPLIED_PARTIAL.search(line):
            entry = self._delegate(match.group(1))
            entry["mode"] = "partial"
            entry["delegate_kernels"] = int(match.group(2)) if match.group(2) else None
        elif match := _NOT_APPLIED.search(line):
            self._delegate(match.group(1))["mode"] = "none"
        elif match := _REPLACING.search(line):
            entry = self._delegate(_delegate_name(match.group(3)))
            entry.update(nodes_replaced=int(match.group(1)), nodes_total=int(match.group(2)))
            entry["partitions"] = int(match.group(4))
        elif match := _NODES_DELEGATED.search(line):
            entry = self._delegate(_delegate_name(match.group(1)))
            # The interpreter's "Replacing N out of M" line says the same; keep whichever came first.
            entry.setdefault("nodes_replaced", int(match.group(2)))
            entry.setdefault("nodes_total", int(match.group(3)))
            entry.setdefault("partitions", int(match.group(4)))
        elif match := _UNSUPPORTED_HEADER.search(line):
            self.unsupported_for = match.group(1).upper()
            self._delegate(self.unsupported_for)
        elif match := _SPLIT.search(line):
            self._delegate(match.group(2))["ops_on_cpu"] = int(match.group(3))
        elif match := _SPLIT_NONE.search(line):
            self._delegate(match.group(1))["ops_on_cpu"] = int(match.group(2))
        else:
            return False
        return True

    def _delegate(self, name: str) -> dict:
        key = name.upper()
        return self.delegations.setdefault(key, {"delegate": key})

    def result(self) -> BenchmarkOutput:
        warmup, run = self._phase_stats()
        return BenchmarkOutput(
            warmup=warmup,
            run=run,
            delegations={k: Delegation(**v) for k, v in self.delegations.items()},
            unconsumed_flags=tuple(self.unconsumed),
            cpu_fallback_disallowed=self.fallback_disallowed,
            thermal_states=tuple(self.thermal),
            errors=tuple(self.errors),
            **self.fields,
        )

    def _phase_stats(self) -> tuple[RunStats | None, RunStats | None]:
        # benchmark_model runs a warmup phase, then the timed phase, each announced by a
        # "Running benchmark for at least ..." line and summarised by one stat line.
        phased = [stats[-1] for stats in self.phases if stats]
        if len(self.phases) >= 2:
            warmup = self.phases[0][-1] if self.phases[0] else None
            run = self.phases[1][-1] if self.phases[1] else None
            return warmup, run
        found = self.loose + phased
        if len(found) >= 2:
            return found[-2], found[-1]
        if not found and "inference" in self.ios_stats:
            return _ios_stats(self.ios_stats.get("warmup")), _ios_stats(self.ios_stats["inference"])
        return None, (found[-1] if found else None)


def _stats(line: str) -> RunStats:
    count = None
    values: dict[str, float] = {}
    all_same = False
    for key, value, same in _KEY_VALUE.findall(line):
        if key == "count":
            number = to_float(value)
            count = int(number) if math.isfinite(number) else None
        else:
            values[key] = to_float(value)
        all_same = all_same or bool(same)
    return RunStats(count=count, values_us=values, all_same=all_same)


def _ios_stats(values: dict[str, float] | None) -> RunStats | None:
    """A RunStats from the iOS app's summary section (already in microseconds)."""
    if not values or "count" not in values or not math.isfinite(values["count"]):
        return None
    rest = {key: value for key, value in values.items() if key != "count"}
    return RunStats(count=int(values["count"]), values_us=rest)


def _delegate_name(printed: str) -> str:
    """Short name of a printed delegate: 'TfLiteGpuDelegateV2' -> 'GPU', 'TfLiteMetalDelegate' -> 'GPU'."""
    lowered = printed.lower()
    if "metal" in lowered:
        return "GPU"  # iOS's GPU delegate is the Metal delegate; benchmark_model calls its provider "GPU"
    for name in ("gpu", "xnnpack", "nnapi", "hexagon", "coreml"):
        if name in lowered:
            return name.upper()
    return printed.upper()
