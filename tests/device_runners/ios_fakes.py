# ruff: noqa: E501  (the fakes' script bodies print the tools' long lines verbatim)
"""Fakes of Apple's tools for the ios runner: ``xcrun`` (devicectl, simctl) and ``xcodebuild`` on PATH.

Each fake is a small Python script written into ``tmp_path/bin``. It reads the scenario (a JSON file
named by $FAKE_IOS_SCENARIO), appends its argv (and, for xcodebuild, the staged params and the model's
sha256) to the scenario's log, and answers in the real tools' formats from the recorded files. The
recorded files are reconstructions from the tools' documentation and LiteRT's source, not captures.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RECORDED = Path(__file__).parent / "recorded"

_XCRUN = r"""
import json, os, shutil, sys
from pathlib import Path
scenario = json.loads(Path(os.environ["FAKE_IOS_SCENARIO"]).read_text())
argv = sys.argv[1:]
with open(scenario["log"], "a") as log:
    log.write(json.dumps({"tool": "xcrun", "argv": argv}) + "\n")
def out_file():
    return Path(argv[argv.index("--json-output") + 1]) if "--json-output" in argv else None
def gone(stage):
    if scenario.get("gone_at") == stage:
        sys.stderr.write("ERROR: The specified device was not found. (com.apple.dt.CoreDeviceError error 1000)\n")
        sys.exit(1)
if argv[:3] == ["devicectl", "list", "devices"]:
    shutil.copy(scenario["devices_json"], out_file())
elif argv[:3] == ["devicectl", "device", "install"]:
    gone("install")
    app = argv[-1] if out_file() is None else argv[argv.index("--json-output") - 1]
    result = {"info": {"outcome": "success"}, "result": {"installedApplications": [{"bundleID": "x", "installationURL": app}]}}
    if out_file():
        out_file().write_text(json.dumps(result))
elif argv[:3] == ["devicectl", "device", "process"]:
    text = Path(scenario["console"]).read_text()
    if scenario.get("crash"):
        sys.stdout.write(text[: len(text) // 2])
        sys.stderr.write("ERROR: The application process exited abnormally: signal 11 (SIGSEGV)\n")
        sys.exit(1)
    if scenario.get("gone_at") == "launch":
        sys.stdout.write(text[: len(text) // 3])
        sys.stderr.write("ERROR: Device disconnected while the process was running (com.apple.dt.CoreDeviceError error 4)\n")
        sys.exit(1)
    sys.stdout.write(text)
elif argv[:3] == ["simctl", "list", "devices"]:
    sys.stdout.write(Path(scenario["simulators_json"]).read_text())
elif argv[:2] == ["simctl", "install"]:
    pass
elif argv[:2] == ["simctl", "launch"]:
    sys.stdout.write(Path(scenario["console"]).read_text())
else:
    sys.stderr.write("fake xcrun: unexpected " + " ".join(argv) + "\n")
    sys.exit(64)
"""

_XCODEBUILD = r"""
import hashlib, json, os, plistlib, sys
from pathlib import Path
scenario = json.loads(Path(os.environ["FAKE_IOS_SCENARIO"]).read_text())
argv = sys.argv[1:]
project = Path(argv[argv.index("-project") + 1])
data = project.parent / "TFLiteBenchmark" / "benchmark_data"
params = json.loads((data / "benchmark_params.json").read_text())
model = hashlib.sha256((data / params["graph"]).read_bytes()).hexdigest()
with open(scenario["log"], "a") as log:
    log.write(json.dumps({"tool": "xcodebuild", "argv": argv, "params": params, "model_sha256": model}) + "\n")
if scenario.get("build_fails"):
    print("CompileC BenchmarkViewController.o BenchmarkViewController.mm")
    print("BenchmarkViewController.mm:23:9: fatal error: 'TensorFlowLiteBenchmarkC/TensorFlowLiteBenchmarkC.h' file not found")
    print("** BUILD FAILED **")
    sys.exit(65)
sdk = argv[argv.index("-sdk") + 1]
app = Path(argv[argv.index("-derivedDataPath") + 1]) / "Build" / "Products" / f"Release-{sdk}" / "TFLiteBenchmark.app"
app.mkdir(parents=True)
(app / "Info.plist").write_bytes(plistlib.dumps({"CFBundleIdentifier": "com.example.TFLiteBenchmark"}, fmt=plistlib.FMT_BINARY))
(app / params["graph"]).write_bytes((data / params["graph"]).read_bytes())
print("** BUILD SUCCEEDED **")
"""


class FakeApple:
    """The fakes' scenario and log, for one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.log = tmp_path / "apple_calls.jsonl"
        self.scenario_file = tmp_path / "scenario.json"
        self.checkout = _checkout(tmp_path / "ios")
        self.scenario: dict = {
            "log": str(self.log),
            "devices_json": str(RECORDED / "devicectl_list_devices.json"),
            "simulators_json": str(RECORDED / "simctl_list_devices.json"),
            "console": str(RECORDED / "ios_console_xnnpack.txt"),
        }
        for name, body in (("xcrun", _XCRUN), ("xcodebuild", _XCODEBUILD)):
            script = self.bin / name
            script.write_text(f"#!{sys.executable}\n{body}")
            script.chmod(0o755)
        self.save()

    def set(self, **values) -> None:
        """Change the scenario: console=..., gone_at="install"|"launch", build_fails=True."""
        self.scenario.update(values)
        self.save()

    def save(self) -> None:
        self.scenario_file.write_text(json.dumps(self.scenario))

    def calls(self, tool: str | None = None) -> list[dict]:
        """Every recorded invocation, oldest first."""
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [row for row in rows if tool is None or row["tool"] == tool]

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_IOS_SCENARIO": str(self.scenario_file),
        }


def _checkout(root: Path) -> Path:
    """A stand-in for the user's checkout: the project folder and the stock benchmark_data."""
    (root / "TFLiteBenchmark" / "TFLiteBenchmark.xcodeproj").mkdir(parents=True)
    data = root / "TFLiteBenchmark" / "TFLiteBenchmark" / "benchmark_data"
    data.mkdir(parents=True)
    (data / "benchmark_params.json").write_text('{"graph": "mobilenet_v1_1.0_224.tflite"}\n')
    (data / "mobilenet_v1_1.0_224.tflite").write_bytes(b"stock model")
    return root
