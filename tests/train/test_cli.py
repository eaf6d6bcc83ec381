"""``edgebench train``: bad inputs end in one line and exit code 2, before any training starts."""

from __future__ import annotations

import json

import pytest

from bench.cli import main


def _run(capsys, argv):
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--variant", "ssdlite_resnet"], "--variant"),
        (["--steps", "0"], "--steps: expected a positive integer; got 0"),
        (["--batch-size", "-2"], "--batch-size: expected a positive integer; got -2"),
        (["--minutes", "-1"], "--minutes: expected a positive number; got -1.0"),
        (["--minutes", "nan"], "--minutes: expected a positive number; got nan"),
        (["--width", "0"], "--width: expected a positive number"),
        (["--width", "5"], "--width: expected a multiplier in (0, 4]"),
        (["--input-size", "16"], "--input-size: expected at least 32; got 16"),
        (["--lr", "0"], "--lr: expected a positive number"),
        (["--seed", "-3"], "--seed: expected an integer >= 0"),
        (["--threads", "0"], "--threads: expected a positive integer; got 0"),
        (["--steps", "ten"], "argument --steps: invalid int value"),
    ],
)
def test_bad_flags_exit_2(capsys, tmp_path, extra, message):
    argv = ["--variant", "tiny_ssdlite_mobilenet_v2", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    code, out, err = _run(capsys, argv + extra)
    assert code == 2
    assert message in err and err.startswith("edgebench: error:") and err.count("\n") == 1
    assert out == ""
    assert not (tmp_path / "o").exists(), "nothing may be written for bad input"


def test_bad_data_and_out_exit_2(capsys, tmp_path, synth_root):
    code, _, err = _run(
        capsys,
        [
            "--variant",
            "tiny_ssdlite_mobilenet_v2",
            "--data",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert code == 2 and "--data" in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    code, _, err = _run(
        capsys,
        [
            "--variant",
            "tiny_ssdlite_mobilenet_v2",
            "--data",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert code == 2 and "annotations file not found" in err
    (tmp_path / "file").write_text("x")
    code, _, err = _run(
        capsys,
        [
            "--variant",
            "tiny_ssdlite_mobilenet_v2",
            "--data",
            str(synth_root),
            "--out",
            str(tmp_path / "file"),
        ],
    )
    assert code == 2 and "--out" in err and "not a folder" in err
    assert not (tmp_path / "o").exists()


def test_missing_required_flag_exit_2(capsys):
    code, _, err = _run(capsys, ["--variant", "tiny_ssdlite_mobilenet_v2"])
    assert code == 2 and "required" in err


@pytest.mark.slow
def test_train_then_evaluate_through_the_cli(capsys, tmp_path, synth_root):
    argv = [
        "--variant",
        "tiny_ssdlite_mobilenet_v2",
        "--data",
        str(synth_root),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--no-progress",
        "--json",
        "--evaluate",
    ]
    code, out, _ = _run(capsys, argv)
    assert code == 0
    summary = json.loads(out)
    assert summary["steps"] == 4 and summary["input_size"] == 96
    assert 0.0 <= summary["val"]["map"] <= 1.0
    assert (tmp_path / "run" / "final.weights.h5").is_file()
