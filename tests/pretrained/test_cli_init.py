"""``edgebench train --init``: bad inits end in one line and exit code 2 before anything is written; a
good one is reported line by line."""

from __future__ import annotations

import pytest

from bench.cli import main
from tests.pretrained.test_keras_apps import saved_application


def _run(capsys, argv):
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ("checkpoint:/nowhere/model.ckpt", "--init: checkpoint /nowhere/model.ckpt does not exist"),
        ("imagenet:/nowhere/w.h5", "--init: imagenet weights file /nowhere/w.h5 does not exist"),
        ("imagenet", "--init: init imagenet: mobilenet_v2 has ImageNet weights at widths 0.35, 0.5"),
        ("resnet", "--init: got 'resnet'; allowed: scratch, imagenet"),
    ],
)
def test_bad_init_exit_2(capsys, tmp_path, synth_root, init, message):
    argv = ["--variant", "tiny_ssdlite_mobilenet_v2", "--data", str(synth_root), "--out", str(tmp_path / "o")]
    code, out, err = _run(capsys, [*argv, "--init", init])
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""
    assert not (tmp_path / "o").exists()


def test_bad_freeze_steps_exit_2(capsys, tmp_path, synth_root):
    argv = ["--variant", "tiny_ssdlite_mobilenet_v2", "--data", str(synth_root), "--out", str(tmp_path / "o")]
    code, _, err = _run(capsys, [*argv, "--freeze-backbone-steps", "-1"])
    assert code == 2 and "--freeze-backbone-steps: expected an integer >= 0" in err


@pytest.mark.slow
def test_imagenet_file_init_reported(capsys, tmp_path, synth_root):
    path, _ = saved_application(tmp_path, "mobilenet_v2", 0.35)
    argv = ["--variant", "tiny_ssdlite_mobilenet_v2", "--data", str(synth_root), "--out", str(tmp_path / "o")]
    argv += ["--width", "0.35", "--steps", "2", "--batch-size", "4", "--no-progress"]
    code, out, err = _run(capsys, [*argv, "--init", f"imagenet:{path}", "--freeze-backbone-steps", "1"])
    assert code == 0, err
    init_lines = [line for line in out.splitlines() if line.startswith("init: ")]
    assert init_lines[0].startswith("init: backbone mobilenet_v2 width 0.35: ") and len(init_lines) == 3
