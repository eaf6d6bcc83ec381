"""Targets: how to reach one device, as a plan names it (``targets:`` in plan.yaml) or the environment says.

``TargetConfig`` is the pydantic model the plan loader embeds; unknown keys are rejected, and keys that
mean nothing to the chosen runner (an ``identity_file`` on an adb target) are rejected too, so a typo
never silently falls back to a default. Each runner class takes one as ``Runner(target)``.

In YAML (a plan's ``targets:`` list, or a file for ``edgebench devices --targets``)::

    targets:
      - {name: pixel7, runner: adb, serial: 28031FDH2000BY, delegates: [cpu, xnnpack, gpu, nnapi],
         threads: [1, 4], benchmark_model: ~/bin/android_aarch64_benchmark_model, cooldown_secs: 60,
         sustained: {fps: 30, secs: 300, power: true}}
      - {name: lab-tablet, runner: adb, host: 192.168.1.20, port: 5555}
      - {name: pi5, runner: ssh, host: pi5.local, user: pi, identity_file: ~/.ssh/id_ed25519,
         python: /home/pi/litert/bin/python, threads: [1, 4]}
      - {name: mac, runner: coreml_mac, delegates: [coreml_cpu, coreml_gpu, coreml_ane, coreml_all]}
      - {name: iphone11, runner: ios, serial: 00008030-001A2B3C4D5E6F70, development_team: ABCDE12345,
         ios_app: ~/src/tensorflow/tensorflow/lite/tools/benchmark/ios,
         delegates: [cpu, xnnpack, gpu, coreml_delegate], threads: [1, 2]}

Environment (for ad-hoc use without a plan):
    EDGEBENCH_BENCHMARK_MODEL  path of the Android ``benchmark_model`` binary
    EDGEBENCH_ADB_DEVICES      comma-separated adb serials or ``host:port`` addresses
    EDGEBENCH_SSH_HOSTS        comma-separated ``[user@]host[:port]`` boards
    EDGEBENCH_IOS_APP          the checkout of LiteRT's iOS benchmark app (device_runners/ios.py)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.errors import InputError
from device_runners.registry import runner_class, runner_names
from results.schema import Delegate, TimingSettings

BENCHMARK_MODEL_ENV = "EDGEBENCH_BENCHMARK_MODEL"
ADB_DEVICES_ENV = "EDGEBENCH_ADB_DEVICES"
SSH_HOSTS_ENV = "EDGEBENCH_SSH_HOSTS"
ADB_TCP_PORT = 5555
SSH_PORT = 22

_SAFE_DIR = re.compile(r"^/[A-Za-z0-9._/+-]*$")

# Keys every runner reads; each runner class adds its own (``Runner.target_keys``), and any other key
# set on a target is an error.
COMMON_TARGET_KEYS = frozenset(
    {
        "name",
        "runner",
        "delegates",
        "threads",
        "cooldown_secs",
        "sustained",
        "retries",
        "retry_backoff_secs",
        "run_timeout_secs",
    }
)


class SustainedConfig(BaseModel):
    """Sustained mode: invoke at a fixed rate for a while and record latency and temperature over time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: float = Field(default=30.0, gt=0, le=1000)  # invocation rate, e.g. a 30 FPS camera
    secs: float = Field(default=60.0, gt=0)  # how long to keep it up
    chunk_secs: float = Field(
        default=5.0, gt=0
    )  # adb: length of one benchmark_model run between thermal reads
    power: bool = (
        False  # also sample power (battery sysfs, RAPL, hwmon) and derive energy (results/energy.py)
    )
    idle_secs: float = Field(default=10.0, ge=0)  # power: the idle baseline's length, before the run
    power_interval_secs: float = Field(default=1.0, gt=0)  # power: seconds between readings
    power_monitor: bool = False  # adb: USB is attached but the phone runs from a power monitor, not a charger
    allow_unplug: bool = False  # adb: may run `dumpsys battery unplug` (always reset afterwards)
    # Which of the target's delegates and thread counts also get a sustained run (empty: all of them):
    # ten minutes per artifact x delegate x threads adds up fast.
    delegates: tuple[Delegate, ...] = ()
    threads: tuple[int, ...] = ()


class TargetConfig(BaseModel):
    """One device and how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None  # what plans and `edgebench devices` call it; defaults to the device id
    runner: str  # a registered runner: host, adb, coreml_mac, ssh (device_runners.registry)
    serial: str | None = None  # adb: serial as `adb devices` prints it, or "host:port"; ios: UDID or name
    host: str | None = None  # ssh: board address; adb: device address for adb over TCP (with port)
    port: int | None = Field(default=None, ge=1, le=65535)  # ssh default 22, adb over TCP default 5555
    user: str | None = None  # ssh login; the ssh config's default when None
    identity_file: Path | None = None  # ssh private key
    python: str = "python3"  # ssh: the board's Python with ai_edge_litert or tflite_runtime and numpy
    benchmark_model: Path | None = None  # adb: the benchmark_model binary; else $EDGEBENCH_BENCHMARK_MODEL
    benchmark_flags: tuple[str, ...] = ()  # adb, ios: extra benchmark_model flags, each "--name=value"
    adb_key: Path | None = None  # adb over TCP without a server: private key (default ~/.android/adbkey)
    use_adb_server: bool | None = None  # adb: through a running `adb` server; None = when `adb` is on PATH
    remote_dir: str | None = None  # where pushed files go: /data/local/tmp on Android, /tmp on a board
    ios_app: Path | None = None  # ios: the user's checkout of LiteRT's iOS benchmark app (TFLiteBenchmark)
    development_team: str | None = None  # ios: the Apple team id xcodebuild signs the app with
    simulator: bool = False  # ios: an iOS Simulator (serial = its UDID) instead of an iPhone
    delegates: tuple[Delegate, ...] = ()  # what to time here; empty = the runner's defaults
    threads: tuple[int, ...] = (1,)  # thread counts to time
    cooldown_secs: float = Field(default=0.0, ge=0)  # idle time before each timing, for thermals
    sustained: SustainedConfig | None = None  # also run sustained mode
    connect_timeout_secs: float = Field(default=10.0, gt=0)
    strict_host_key_checking: Literal["yes", "no", "accept-new"] = "accept-new"  # ssh StrictHostKeyChecking
    known_hosts_file: Path | None = None  # ssh UserKnownHostsFile
    multiplex: bool = True  # ssh: share one connection between a timing's commands (ControlMaster)
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts after a transport error
    retry_backoff_secs: float = Field(default=1.0, ge=0)  # first wait; doubles per attempt
    run_timeout_secs: float = Field(default=900.0, gt=0)  # one timing run, before it is killed

    @field_validator("runner")
    @classmethod
    def _registered(cls, runner: str) -> str:
        names = runner_names()
        if runner not in names:
            raise ValueError(f"got {runner!r}; allowed: {', '.join(names)}")
        return runner

    @model_validator(mode="after")
    def _check(self) -> TargetConfig:
        runner = runner_class(self.runner)
        allowed = COMMON_TARGET_KEYS | runner.target_keys
        stray = sorted(key for key in self.model_fields_set if key not in allowed)
        if stray:
            raise ValueError(
                f"{', '.join(stray)}: not used by runner {self.runner!r}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        runner.check_target(self)
        if any(t < 1 for t in self.threads):
            raise ValueError(f"threads: each must be at least 1; got {list(self.threads)}")
        if self.remote_dir is not None and not _SAFE_DIR.match(self.remote_dir):
            # It appears in scp destinations, which old scp versions hand to the remote shell unquoted.
            raise ValueError(
                f"remote_dir: must be an absolute path of letters, digits and ._/+-; got {self.remote_dir!r}"
            )
        bad_flags = [flag for flag in self.benchmark_flags if not flag.startswith("--")]
        if bad_flags:
            raise ValueError(f"benchmark_flags: each must look like --name=value; got {bad_flags}")
        return self

    @property
    def device_id(self) -> str:
        """The id records carry: "local", the adb serial or address, the ssh host (as its runner says)."""
        return runner_class(self.runner).device_id_of(self)

    def timing_settings(
        self, base: TimingSettings, delegate: Delegate | None = None, threads: int | None = None
    ) -> list[TimingSettings]:
        """The settings to time with here: the steady-state run, then a sustained run when configured.

        The target's cooldown applies when it is longer than the plan's. Given a delegate and thread
        count, the sustained run is left out where ``sustained.delegates`` / ``threads`` exclude them.
        """
        steady = base.model_copy(update={"cooldown_secs": max(base.cooldown_secs, self.cooldown_secs)})
        if self.sustained is None:
            return [steady]
        if (
            delegate is not None and self.sustained.delegates and delegate not in self.sustained.delegates
        ) or (threads is not None and self.sustained.threads and threads not in self.sustained.threads):
            return [steady]
        sustained = {"sustained_fps": self.sustained.fps, "sustained_secs": self.sustained.secs}
        return [steady, steady.model_copy(update=sustained)]

    @property
    def label(self) -> str:
        """The name, else runner and device id."""
        return self.name or f"{self.runner}:{self.device_id}"


def parse_target(data: dict, where: str = "target") -> TargetConfig:
    """Validate one target mapping, turning pydantic's error into one InputError line naming the key."""
    try:
        return TargetConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(f"{where}{'.' + key if key else ''}: {message}") from None


def load_target_file(path: str | Path) -> list[TargetConfig]:
    """Read ``targets: [...]`` from a YAML file (a plan or a standalone targets file)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"--targets: cannot read {str(path)!r}: {error}") from None
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, list):
        raise InputError(f"--targets: {str(path)!r} has no 'targets:' list")
    return [parse_target(item, f"{path.name}: targets[{i}]") for i, item in enumerate(targets)]


def env_targets(environ: dict[str, str] | None = None) -> list[TargetConfig]:
    """Targets named by ``EDGEBENCH_ADB_DEVICES`` and ``EDGEBENCH_SSH_HOSTS``."""
    environ = os.environ if environ is None else environ
    targets = [
        TargetConfig(runner="adb", serial=serial) for serial in _split(environ.get(ADB_DEVICES_ENV, ""))
    ]
    for spec in _split(environ.get(SSH_HOSTS_ENV, "")):
        targets.append(parse_ssh_spec(spec))
    return targets


def parse_ssh_spec(spec: str) -> TargetConfig:
    """``[user@]host[:port]`` as an ssh target.

    Raises:
        InputError: the port is not a number.
    """
    user, _, rest = spec.rpartition("@")
    host, colon, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    if colon and not port.isdigit():
        raise InputError(f"{SSH_HOSTS_ENV}: port of {spec!r} must be a number; got {port!r}")
    fields = {"runner": "ssh", "host": host or rest}
    if user:
        fields["user"] = user
    if colon:
        fields["port"] = int(port)
    return parse_target(fields, SSH_HOSTS_ENV)


def benchmark_model_path(target: TargetConfig | None, environ: dict[str, str] | None = None) -> Path | None:
    """The benchmark_model binary: the target's, else ``$EDGEBENCH_BENCHMARK_MODEL``, else None."""
    environ = os.environ if environ is None else environ
    if target is not None and target.benchmark_model is not None:
        return target.benchmark_model.expanduser()
    value = environ.get(BENCHMARK_MODEL_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
