"""Time .tflite artifacts on Linux boards (Raspberry Pi, Jetson, ...) over SSH with the project's worker.

One timing: make a temp directory on the board (``mktemp -d``), copy ``worker.py`` (and
``sustained_worker.py`` for sustained mode) and the model into it with scp, run the worker with the board's
Python and LiteRT under ``timeout`` (so a hung delegate dies on the board too), read its JSON result, and
remove the directory. The result becomes a record exactly as on the host (``isolation.outcome_from_result``);
a worker killed by a signal is ``crashed``. Connection failures are retried with backoff, then ``failed``.
Remote file names are the runner's own (``model.tflite``), so nothing the user named reaches scp's
remote side; every remote command word is quoted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

from common import process
from common.errors import InputError
from common.retry import GaveUp, retry
from device_runners import energy_record
from device_runners.base import (
    Outcome,
    Probe,
    Runner,
    Support,
    TimingJob,
    make_record,
    unsupported_record,
)
from device_runners.isolation import (
    WORKER_PATH,
    WORKER_PROTOCOL,
    outcome_from_failure,
    outcome_from_result,
    timeout_for,
    worker_args,
)
from device_runners.registry import register
from device_runners.ssh_client import SshClient, SshError, board_info, board_temperature
from device_runners.targets import SSH_PORT, SustainedConfig, TargetConfig, env_targets, parse_ssh_spec
from results.schema import (
    ArtifactFormat,
    Delegate,
    ErrorInfo,
    RunRecord,
    Status,
    SustainedTrace,
    TargetInfo,
    TimingSettings,
)

SSH_DELEGATES = (Delegate.CPU, Delegate.XNNPACK)
SUSTAINED_WORKER_PATH = Path(__file__).resolve().parent / "sustained_worker.py"
POWER_PATH = Path(__file__).resolve().parent / "power_linux.py"  # imported by the sustained worker
_SAFE_REMOTE = re.compile(r"^/[A-Za-z0-9._/-]+$")
_SHORT = 60.0
_LITERT_CHECK = (
    "import importlib.util as u, sys; "
    "sys.exit(0 if u.find_spec('ai_edge_litert') or u.find_spec('tflite_runtime') else 3)"
)


@register("ssh")
class SshRunner(Runner):
    """A Linux board over SSH. ``SshRunner(target)``; without a target the job's device id is
    ``[user@]host[:port]``.
    """

    formats = (ArtifactFormat.TFLITE,)
    defaults = SSH_DELEGATES
    target_keys = frozenset(
        {
            "host",
            "port",
            "user",
            "identity_file",
            "python",
            "remote_dir",
            "connect_timeout_secs",
            "strict_host_key_checking",
            "known_hosts_file",
            "multiplex",
        }
    )

    def __init__(
        self, target: TargetConfig | None = None, *, sleep=time.sleep, ssh: str = "ssh", scp: str = "scp"
    ):
        super().__init__(target)
        self._sleep = sleep
        self._programs = (ssh, scp)

    def _client(self, job: TimingJob | None = None) -> SshClient | None:
        target = self.target
        if target is None and job is not None and job.device_id not in ("local", "auto"):
            target = parse_ssh_spec(job.device_id)
        return SshClient(target, *self._programs) if target is not None else None

    # -- discovery -----------------------------------------------------------------------------------

    @classmethod
    def device_id_of(cls, target: TargetConfig) -> str:
        """The host, with ``:port`` when the port is not 22."""
        port = target.port or SSH_PORT
        return target.host if port == SSH_PORT else f"{target.host}:{port}"

    @classmethod
    def check_target(cls, target: TargetConfig) -> None:
        """A board needs an address."""
        if not target.host:
            raise ValueError("host: required for runner 'ssh'")

    @classmethod
    def discover(cls, targets: Sequence[TargetConfig]) -> list[Probe]:
        """The configured boards and those of ``$EDGEBENCH_SSH_HOSTS``; without any, why there is none."""
        configured = {target.device_id for target in targets}
        named = [t for t in env_targets() if t.runner == "ssh" and t.device_id not in configured]
        boards = [*targets, *named]
        if not boards:
            return cls().probe()
        return [probe for board in boards for probe in cls(board).probe()]

    def probe(self) -> list[Probe]:
        """Each configured board (the target, else $EDGEBENCH_SSH_HOSTS), reachable or with the reason."""
        targets = [self.target] if self.target else [t for t in env_targets() if t.runner == "ssh"]
        if not targets:
            return [
                Probe(
                    "ssh",
                    "ssh",
                    None,
                    "no board configured (a target with runner: ssh, or $EDGEBENCH_SSH_HOSTS)",
                )
            ]
        return [self._probe_one(SshClient(target, *self._programs)) for target in targets]

    def _probe_one(self, client: SshClient) -> Probe:
        label = client.target.label
        try:
            info = board_info(client, SSH_DELEGATES)
            check = client.run([client.target.python, "-c", _LITERT_CHECK], _SHORT)
        except (SshError, process.CommandTimeout, FileNotFoundError) as error:
            return Probe("ssh", label, None, str(error))
        if check.exit_code != 0:
            reason = f"{client.target.python} on the board has no ai_edge_litert or tflite_runtime"
            return Probe(
                "ssh",
                label,
                None,
                reason if check.exit_code == 3 else process.tail(check.stdout + check.stderr, 2),
            )
        return Probe("ssh", label, info)

    # -- timing --------------------------------------------------------------------------------------

    def supports(self, job: TimingJob) -> Support:
        """A .tflite artifact, cpu or xnnpack, and a board to run on."""
        if job.artifact.format is not ArtifactFormat.TFLITE:
            return Support.no(
                f"the ssh runner times .tflite files; got a {job.artifact.format.value} artifact"
            )
        if job.delegate not in SSH_DELEGATES:
            allowed = ", ".join(d.value for d in SSH_DELEGATES)
            return Support.no(
                f"delegate {job.delegate.value!r} is not available on a board over ssh (it has {allowed})"
            )
        if self.target is None and job.device_id in ("local", "auto"):
            return Support.no(
                "no board: give the ssh runner a target (host) or a job device id [user@]host[:port]"
            )
        return Support.yes()

    def time(self, job: TimingJob) -> RunRecord:
        """Time one job on the board; connection trouble is retried, then recorded as ``failed``.

        Raises:
            InputError: the artifact file does not exist.
        """
        if not Path(job.artifact.path).is_file():
            raise InputError(f"artifact: {job.artifact.path!r} does not exist")
        support = self.supports(job)
        client = self._client(job)
        device_id = client.target.device_id if client else job.device_id
        if not support.ok:
            return unsupported_record(job, self.name, support.reason, device_id)
        try:
            outcome = retry(
                lambda: _Attempt(client, job).run(),  # a fresh remote directory per try
                on=(SshError, process.CommandTimeout),  # the link, not the worker, failed
                attempts=client.target.retries + 1,
                first_backoff_secs=client.target.retry_backoff_secs,
                sleep=self._sleep,
            )
        except GaveUp as gave_up:
            error = ErrorInfo(type="TransportError", message=str(gave_up))
            target = TargetInfo(
                runner=self.name, device_id=device_id, delegate=job.delegate, threads=job.threads
            )
            outcome = Outcome(target=target, status=Status.FAILED, error=error)
        except FileNotFoundError as error:
            return unsupported_record(job, self.name, f"the ssh client is not installed: {error}", device_id)
        return make_record(job, outcome)


class _SetupError(Exception):
    """The board answered but cannot host a timing (no such remote_dir, a full disk)."""


class _Attempt:
    """One try: board info, temp dir, copies, worker run, result, cleanup."""

    def __init__(self, client: SshClient, job: TimingJob) -> None:
        self.client, self.job = client, job
        self.remote_dir: str | None = None

    def run(self) -> Outcome:
        info = board_info(self.client, SSH_DELEGATES)
        target = TargetInfo(
            runner="ssh",
            device_id=self.client.target.device_id,
            device_model=info.model,
            os=info.os,
            soc=info.soc,
            abi=info.abi,
            delegate=self.job.delegate,
            threads=self.job.threads,
        )
        try:
            self.remote_dir = self._make_dir()
        except _SetupError as error:
            return Outcome(
                target=target,
                status=Status.FAILED,
                error=ErrorInfo(type="RemoteSetupError", message=str(error)),
            )
        try:
            return self._time(target)
        except process.CommandTimeout as error:
            return outcome_from_failure(error, target)
        finally:
            self._cleanup()

    def _make_dir(self) -> str:
        base = (self.client.target.remote_dir or "/tmp").rstrip("/")
        made = self.client.run(["mktemp", "-d", f"{base}/edgebench.XXXXXXXX"], _SHORT)
        path = made.stdout.strip()
        if made.exit_code != 0 or not _SAFE_REMOTE.match(path):
            raise _SetupError(
                f"mktemp on {self.client.target.host} failed: {process.tail(made.stdout + made.stderr, 2)}"
            )
        return path

    def _time(self, target: TargetInfo) -> Outcome:
        # The target's cooldown applies too; the record's settings say what was done.
        cooldown = max(self.job.settings.cooldown_secs, self.client.target.cooldown_secs)
        settings = self.job.settings.model_copy(update={"cooldown_secs": cooldown})
        directory = self.remote_dir
        sustained = bool(settings.sustained_fps and settings.sustained_secs)
        for local in (WORKER_PATH, SUSTAINED_WORKER_PATH, POWER_PATH) if sustained else (WORKER_PATH,):
            self.client.copy_to(local, f"{directory}/{local.name}", _SHORT)
        model, out = f"{directory}/model.tflite", f"{directory}/result.json"
        self.client.copy_to(Path(self.job.artifact.path), model, self.client.target.run_timeout_secs)
        if sustained:
            script = f"{directory}/{SUSTAINED_WORKER_PATH.name}"
            args = sustained_args(model, self.job, settings, out, self.client.target.sustained)
            seconds = 60.0 + settings.cooldown_secs + settings.sustained_secs + 150.0
        else:
            script = f"{directory}/{WORKER_PATH.name}"
            args = worker_args(model, self.job.delegate.value, self.job.threads, settings, out)
            seconds = timeout_for(settings)
        # coreutils' timeout kills a hung worker on the board itself (ssh dying would not).
        argv = ["timeout", "-k", "10", f"{seconds:.0f}", self.client.target.python, script, *args]
        before = board_temperature(self.client)
        done = self.client.run(argv, seconds + 30.0)
        if done.exit_code != 0:
            return self._exit_outcome(done, target, seconds)
        outcome = self._result(target, out, done.stderr, sustained, settings)
        if outcome.timing is None:
            return outcome
        thermals = {"thermal_before": before, "thermal_after": board_temperature(self.client)}
        return dataclasses.replace(outcome, timing=outcome.timing.model_copy(update=thermals))

    def _exit_outcome(self, done, target: TargetInfo, seconds: float) -> Outcome:
        if done.exit_code == 124:  # coreutils timeout: the worker ran too long and was killed on the board
            return outcome_from_failure(
                process.CommandTimeout(done.argv, seconds, done.stdout, done.stderr), target
            )
        # The remote shell reports a signal death as 128 + N: make it a crash like a local child's.
        code = -(done.exit_code - 128) if 128 < done.exit_code < 160 else done.exit_code
        return outcome_from_failure(process.CommandError(done.argv, code, done.stdout, done.stderr), target)

    def _result(self, target: TargetInfo, out: str, stderr: str, sustained: bool, settings) -> Outcome:
        read = self.client.run(["cat", out], _SHORT)
        try:
            result = json.loads(read.stdout) if read.exit_code == 0 else None
        except ValueError:
            result = None
        if not isinstance(result, dict) or result.get("protocol") != WORKER_PROTOCOL:
            error = ErrorInfo(
                type="WorkerOutputError",
                message=f"no readable result of worker protocol {WORKER_PROTOCOL} at {out}",
                stderr_tail=process.tail(stderr) or None,
            )
            return Outcome(target=target, status=Status.FAILED, error=error)
        outcome = outcome_from_result(result, target, settings, stderr)
        if sustained and outcome.timing is not None and isinstance(result.get("sustained"), dict):
            trace = SustainedTrace(
                **{k: v for k, v in result["sustained"].items() if k in SustainedTrace.model_fields}
            )
            timing = outcome.timing.model_copy(update={"sustained": trace})
            energy = energy_record.from_worker(result["power"], timing) if "power" in result else None
            outcome = dataclasses.replace(outcome, timing=timing, energy=energy)
        return outcome

    def _cleanup(self) -> None:
        if self.remote_dir is None:
            return
        # If the board went away, its temp directory goes at its next boot.
        with contextlib.suppress(SshError, process.CommandTimeout):
            self.client.run(["rm", "-rf", "--", self.remote_dir], _SHORT)


def sustained_args(
    model: str, job: TimingJob, settings: TimingSettings, out: str, config: SustainedConfig | None = None
) -> list[str]:
    """``sustained_worker.py``'s arguments for one job (with power sampling when ``config.power``)."""
    power = []
    if config is not None and config.power:
        power = ["--power", "--idle-secs", repr(config.idle_secs)]
        power += ["--thermal-interval-secs", repr(config.power_interval_secs)]
    return [
        *power,
        *("--model", model, "--delegate", job.delegate.value, "--threads", str(job.threads), "--out", out),
        *("--fps", repr(settings.sustained_fps), "--secs", repr(settings.sustained_secs)),
        *("--warmup-runs", str(settings.warmup_runs), "--warmup-min-secs", repr(settings.warmup_min_secs)),
        *("--cooldown-secs", repr(settings.cooldown_secs)),
    ]
