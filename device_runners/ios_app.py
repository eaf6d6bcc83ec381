"""Build LiteRT's iOS benchmark app (the user's own checkout) with one artifact and its parameters.

The app (tensorflow/lite/tools/benchmark/ios/TFLiteBenchmark in the LiteRT / TensorFlow tree) reads
``benchmark_data/benchmark_params.json`` from its bundle and hands each key to the benchmark as
``--key=value``: the same flags as Android's ``benchmark_model``, values as JSON strings. Its Xcode
project bundles ``benchmark_data`` as a group, so only the files the project lists are copied into the
app: the artifact is written under the model name the project already bundles (``BUNDLED_MODEL``), and
both files are put back as they were after the build. The user's checkout is never downloaded or
otherwise changed.

Builds are cached by the artifact's sha256, the parameters and the SDK: the same artifact with the same
parameters is built once, and its ``.app`` reused for every later timing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import plistlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common import process
from device_runners.adb_benchmark import timing_flags
from results.schema import Delegate, TimingSettings

PROJECT = "TFLiteBenchmark.xcodeproj"
SCHEME = "TFLiteBenchmark"
BUNDLED_MODEL = "mobilenet_v1_1.0_224.tflite"  # the model resource the stock project lists
BUILD_CACHE_ENV = "EDGEBENCH_IOS_BUILD_CACHE"
# benchmark_model flags per delegate; gpu and the Core ML delegate keep XNNPack for the ops they decline,
# as an app's interpreter does (the same choice as device_runners/adb_benchmark.py).
DELEGATE_PARAMS = {
    Delegate.CPU: {"use_xnnpack": "false", "use_gpu": "false", "use_coreml": "false"},
    Delegate.XNNPACK: {"use_xnnpack": "true", "use_gpu": "false", "use_coreml": "false"},
    Delegate.GPU: {"use_gpu": "true", "use_coreml": "false"},  # the Metal delegate on iOS
    Delegate.COREML_DELEGATE: {"use_coreml": "true", "use_gpu": "false"},
}


class BuildFailed(Exception):
    """xcodebuild failed; carries its argv and the tail of its log."""

    def __init__(self, argv: list[str], returncode: int | None, log_tail: str, message: str) -> None:
        super().__init__(message)
        self.argv, self.returncode, self.log_tail = argv, returncode, log_tail


@dataclass(frozen=True)
class BuiltApp:
    """A built benchmark app ready to install."""

    path: Path  # the .app bundle in the build cache
    bundle_id: str  # CFBundleIdentifier, what devicectl / simctl launch
    key: str  # the cache key (artifact sha256 + params + sdk)
    cached: bool  # True when this call reused an earlier build


def benchmark_params(
    delegate: Delegate, threads: int, settings: TimingSettings, extra_flags: tuple[str, ...] = ()
) -> dict[str, str]:
    """The app's ``benchmark_params.json``: benchmark_model flags as strings, as the app expects.

    Args:
        delegate: cpu, xnnpack, gpu (Metal) or coreml_delegate.
        threads: num_threads.
        settings: Warm-up and run minimums (the same mapping as Android's benchmark_model).
        extra_flags: The target's ``benchmark_flags`` ("--name=value"), applied last so they win.
    """
    params = {
        "benchmark_name": "edgebench",
        "graph": BUNDLED_MODEL,
        **timing_flags(threads, settings),
        **DELEGATE_PARAMS[delegate],
    }
    for flag in extra_flags:
        name, _, value = flag.removeprefix("--").partition("=")
        params[name] = value
    return params


def find_project(checkout: Path) -> Path:
    """The folder holding ``TFLiteBenchmark.xcodeproj``: ``checkout`` itself or its TFLiteBenchmark/.

    Raises:
        FileNotFoundError: neither holds the project (the message names both places).
    """
    for folder in (checkout, checkout / "TFLiteBenchmark"):
        if (folder / PROJECT).is_dir():
            return folder
    raise FileNotFoundError(
        f"ios_app: no {PROJECT} in {str(checkout)!r} or its TFLiteBenchmark/ folder "
        "(point it at LiteRT's tensorflow/lite/tools/benchmark/ios checkout)"
    )


def cache_root(environ: dict[str, str] | None = None) -> Path:
    """Where built apps are kept: ``$EDGEBENCH_IOS_BUILD_CACHE``, else ~/.cache/edgebench/ios-builds."""
    environ = os.environ if environ is None else environ
    value = environ.get(BUILD_CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "edgebench" / "ios-builds"


def build_key(sha256: str, params: dict[str, str], simulator: bool) -> str:
    """Content key of one build: what is inside the app and which SDK it targets."""
    text = json.dumps({"sha256": sha256, "params": params, "simulator": simulator}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def build_app(
    checkout: Path,
    artifact: Path,
    sha256: str,
    params: dict[str, str],
    *,
    simulator: bool,
    team: str | None,
    timeout: float,
    cache: Path | None = None,
) -> BuiltApp:
    """The app with this artifact and these params, built with xcodebuild unless already cached.

    Raises:
        FileNotFoundError: the checkout holds no project.
        BuildFailed: xcodebuild failed, timed out, or built no app.
    """
    project_dir = find_project(checkout)
    key = build_key(sha256, params, simulator)
    folder = (cache or cache_root()) / key
    done = folder / "build.json"
    if done.is_file():
        meta = json.loads(done.read_text())
        return BuiltApp(folder / meta["app"], meta["bundle_id"], key, cached=True)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / ".build.lock"):
        if done.is_file():  # another process built it while this one waited for the lock
            return build_app(checkout, artifact, sha256, params, simulator=simulator, team=team,
                             timeout=timeout, cache=cache)  # fmt: skip
        with _staged(project_dir, artifact, params):
            app = _xcodebuild(project_dir, folder, simulator, team, timeout)
    bundle_id = _bundle_id(app)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"app": str(app.relative_to(folder)), "bundle_id": bundle_id, "params": params})
    )
    tmp.replace(done)  # written last: a half-finished build is never taken for a cached one
    return BuiltApp(app, bundle_id, key, cached=False)


def _xcodebuild(project_dir: Path, folder: Path, simulator: bool, team: str | None, timeout: float) -> Path:
    sdk = "iphonesimulator" if simulator else "iphoneos"
    derived = folder / "DerivedData"
    argv = ["xcodebuild", "-project", str(project_dir / PROJECT), "-scheme", SCHEME]
    argv += ["-configuration", "Release", "-sdk", sdk, "-derivedDataPath", str(derived)]
    argv += ["-destination", "generic/platform=iOS Simulator" if simulator else "generic/platform=iOS"]
    if team and not simulator:
        argv += ["-allowProvisioningUpdates", f"DEVELOPMENT_TEAM={team}"]
    argv.append("build")
    try:
        process.run(argv, timeout)
    except process.CommandError as error:
        log = process.tail(error.stdout + "\n" + error.stderr)
        raise BuildFailed(argv, error.returncode, log, f"xcodebuild {error.describe_exit()}") from None
    except process.CommandTimeout as error:
        log = process.tail(error.stdout + "\n" + error.stderr)
        raise BuildFailed(argv, None, log, f"xcodebuild timed out after {timeout:g} s") from None
    products = sorted((derived / "Build" / "Products" / f"Release-{sdk}").glob("*.app"))
    if not products:
        raise BuildFailed(argv, 0, "", f"xcodebuild succeeded but built no .app under {derived}")
    app = folder / products[0].name
    shutil.rmtree(app, ignore_errors=True)
    shutil.move(str(products[0]), app)
    shutil.rmtree(derived, ignore_errors=True)  # intermediates are large; the .app is all a run needs
    return app


def _bundle_id(app: Path) -> str:
    try:
        with (app / "Info.plist").open("rb") as handle:
            return str(plistlib.load(handle)["CFBundleIdentifier"])
    except (OSError, KeyError, plistlib.InvalidFileException) as error:
        raise BuildFailed([], 0, "", f"{app.name} has no readable CFBundleIdentifier: {error}") from None


@contextlib.contextmanager
def _staged(project_dir: Path, artifact: Path, params: dict[str, str]) -> Iterator[None]:
    """Put the artifact and params into benchmark_data for the build; restore the originals after."""
    data = project_dir / SCHEME / "benchmark_data"
    data.mkdir(parents=True, exist_ok=True)
    files = {data / BUNDLED_MODEL: artifact.read_bytes(), data / "benchmark_params.json": None}
    files[data / "benchmark_params.json"] = (json.dumps(params, indent=2) + "\n").encode()
    saved = {path: path.read_bytes() if path.is_file() else None for path in files}
    try:
        for path, content in files.items():
            path.write_bytes(content)
        yield
    finally:
        for path, content in saved.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # One build at a time per cache: builds share the user's checkout's benchmark_data folder.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
