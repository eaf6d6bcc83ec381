"""Quiet start-up: TensorFlow's load-time noise stays off stderr unless ``edgebench --verbose``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import quiet
from common.native_stderr import filtered_stderr

EDGEBENCH = Path(sys.executable).with_name("edgebench")
NOISE_LINES = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cuInit")
# A TF-importing command that does little else: one tiny variant built and counted.
MODELS = ["models", "--json", "--tiny", "--filter", "tiny_ssdlite_mobilenet_v2"]


def test_filtered_stderr_drops_noise_and_keeps_the_rest(capfd):
    with filtered_stderr():
        os.write(
            2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        )
        os.write(2, b"I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on. You may see ...\n")
        os.write(2, b"E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n")
        os.write(2, b"E0000 00:00:1.0 1 op_kernel.cc:1] a real error stays\n")
        os.write(
            2, b"E0000 00:00:1.0 1 node_def_util.cc:682] NodeDef mentions attribute Truncate which is not "
        )
        os.write(2, b"in the op definition: Op<name=Identity; ...>\n")
        os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: UINT8\n")
        print("a Python warning stays", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a real error stays" in err and "a Python warning stays" in err
    assert not any(line in err for line in NOISE_LINES + ("NodeDef mentions", "fully_quantize"))


def test_filtered_stderr_passes_everything_when_disabled(capfd):
    with filtered_stderr(enabled=False):
        os.write(2, b"fully_quantize: 0, inference_type: 6\n")
    assert "fully_quantize" in capfd.readouterr().err


def test_install_wraps_only_the_first_tensorflow_import(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    if "tensorflow" in sys.modules:
        monkeypatch.delitem(sys.modules, "tensorflow")
    quiet.install()
    quiet.install()  # idempotent
    finders = [f for f in sys.meta_path if isinstance(f, quiet._QuietFinder)]
    assert len(finders) == 1 and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert finders[0].find_spec("numpy", None) is None
    spec = finders[0].find_spec("tensorflow", None)
    assert isinstance(spec.loader, quiet._QuietLoader) and finders[0] not in sys.meta_path


@pytest.mark.slow
@pytest.mark.skipif(not EDGEBENCH.exists(), reason="the edgebench console script is not installed")
def test_console_script_is_quiet_unless_verbose(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["EDGEBENCH_STORE"] = str(tmp_path / "store.sqlite")
    run = [str(EDGEBENCH), *MODELS]
    quiet_run = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300, check=True)
    assert '"name": "tiny_ssdlite_mobilenet_v2"' in quiet_run.stdout
    assert not any(line in quiet_run.stderr for line in NOISE_LINES), quiet_run.stderr
    verbose = [str(EDGEBENCH), "--verbose", *MODELS]
    loud = subprocess.run(verbose, capture_output=True, text=True, env=env, timeout=300, check=True)
    assert "oneDNN custom operations" in loud.stderr and "absl::InitializeLog" in loud.stderr
