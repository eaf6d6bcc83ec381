"""The separate MediaPipe environment: created on demand, used only through subprocesses.

MediaPipe 0.10.14 (the last release with the TFLite metadata writer) needs protobuf < 5, which
TensorFlow 2.21 cannot share, so it lives in its own virtualenv, ``.venv-mediapipe`` at the repository
root (or ``$EDGEBENCH_MEDIAPIPE_ENV``), pinned by ``tools/mediapipe_env/requirements.txt``. The env is built
in a temporary sibling folder and renamed into place once pip has finished, with a stamp holding the
requirements' hash, so a half-built env is never used and a changed pin rebuilds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from common.process import CommandError, CommandTimeout, Completed, run, tail

ENV_VARIABLE = "EDGEBENCH_MEDIAPIPE_ENV"
REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "tools" / "mediapipe_env" / "requirements.txt"
STAMP = ".edgebench-requirements.sha256"
INSTALL_TIMEOUT_S = 900.0


class MediapipeEnvError(Exception):
    """The MediaPipe environment is absent and could not be created (the message says why)."""


def env_dir() -> Path:
    """Where the environment lives."""
    return Path(os.environ.get(ENV_VARIABLE) or REPO_ROOT / ".venv-mediapipe")


def _requirements_hash() -> str:
    try:
        return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    except OSError as error:
        raise MediapipeEnvError(f"cannot read {REQUIREMENTS}: {error.strerror}") from None


def env_python(create: bool = True) -> Path:
    """The Python of a ready MediaPipe environment, creating the environment if allowed.

    Args:
        create: Build the environment when it is missing or its pins changed (needs PyPI; minutes).

    Returns:
        Path of its ``bin/python``.

    Raises:
        MediapipeEnvError: not ready and ``create`` is False, or creating it failed.
    """
    target = env_dir()
    wanted = _requirements_hash()
    if _ready(target, wanted):
        return target / "bin" / "python"
    if not create:
        raise MediapipeEnvError(f"MediaPipe environment {target} is missing or outdated (make mediapipe-env)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The lock lives outside the work tree, keyed by the env's path, so git never sees it.
    key = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"edgebench-mediapipe-env-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others then find it ready
        if not _ready(target, wanted):
            _build(target, wanted)
    return target / "bin" / "python"


def _ready(target: Path, wanted: str) -> bool:
    stamp = target / STAMP
    return stamp.is_file() and stamp.read_text().strip() == wanted and (target / "bin" / "python").exists()


def _build(target: Path, wanted: str) -> None:
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # No pip inside (ensurepip is slow): this environment's pip installs into it with --python.
        run([sys.executable, "-m", "venv", "--without-pip", str(tmp)], timeout=120, env=_clean_env())
        python = str(tmp / "bin" / "python")
        pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-input"]
        pip.append("--disable-pip-version-check")
        run([*pip, "-r", str(REQUIREMENTS)], timeout=INSTALL_TIMEOUT_S, env=_clean_env())
        run(
            [python, "-c", "import mediapipe.tasks.python.metadata.metadata_writers"],
            timeout=120,
            env=_clean_env(),
        )
        (tmp / ".gitignore").write_text("*\n")  # never committed, whatever the repo's .gitignore says
        (tmp / STAMP).write_text(wanted + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except (CommandError, CommandTimeout, OSError) as error:
        detail = tail(getattr(error, "stderr", "") or "", 3) or str(error)
        raise MediapipeEnvError(f"could not create the MediaPipe environment {target}: {detail}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clean_env() -> dict[str, str]:
    """The current environment without what would leak the main virtualenv into the MediaPipe one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    env.setdefault("GLOG_minloglevel", "2")
    return env


def run_script(script: str | Path, args: list[str], timeout: float = 300.0, create: bool = True) -> Completed:
    """Run a standalone script (it may import only mediapipe and the standard library) in the env.

    Raises:
        MediapipeEnvError: the environment is not available.
        CommandError / CommandTimeout: the script failed.
    """
    python = env_python(create=create)
    return run([str(python), str(script), *map(str, args)], timeout=timeout, env=_clean_env())
