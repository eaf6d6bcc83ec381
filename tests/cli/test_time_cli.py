"""`edgebench time`: a table and one stored record per row; bad input is one line and exit 2."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from results.schema import RunRecord, Status
from results.store import Store

QUICK = ["--warmup", "1", "--warmup-secs", "0", "--runs", "3", "--min-secs", "0"]  # tiny, for speed
RUN_ID = re.compile(r"^time-\d{8}-\d{6}-[0-9a-f]{16}$")  # 64 random bits
EDGEBENCH = Path(sys.executable).with_name("edgebench")


def stored(path: Path) -> list[RunRecord]:
    store = Store(str(path))
    try:
        return store.records()
    finally:
        store.close()


def test_time_prints_a_table_and_stores_one_record_per_row(tflite_models, tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    models = [str(tflite_models["tiny_float"]), str(tflite_models["tiny_int8"])]
    code = main(
        ["time", *models, "--delegate", "cpu,xnnpack", "--threads", "1,2", *QUICK, "--store", str(db)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    for header in ("model", "delegate", "threads", "median ms", "p90 ms", "std ms", "init ms", "first ms"):
        assert header in out
    assert "peak MB" in out and "ops outside" in out and "tiny_int8.tflite" in out
    assert "[8/8] tiny_int8.tflite xnnpack x2: ok" in err
    records = stored(db)
    combos = [(Path(r.artifact.path).name, r.target.delegate.value, r.target.threads) for r in records]
    assert combos == [(Path(m).name, d, t) for m in models for d in ("cpu", "xnnpack") for t in (1, 2)]
    assert all(r.status is Status.OK for r in records)
    assert len({r.run_id for r in records}) == 1 and RUN_ID.match(records[0].run_id)
    assert records[0].tools.litert and records[0].tools.python and records[0].plan is None


def test_json_prints_the_records_and_no_progress(tflite_models, default_store, capsys):
    models = [str(tflite_models["detect_float"]), str(tflite_models["detect_int8"])]
    assert main(["time", *models, "--delegate", "xnnpack", *QUICK, "--json"]) == 0
    out, err = capsys.readouterr()
    printed = [RunRecord.model_validate(item) for item in json.loads(out)]
    assert err == ""
    assert [r.record_id for r in printed] == [r.record_id for r in stored(default_store)]
    assert all(r.status is Status.OK and r.fallback and not r.fallback.full for r in printed)
    assert printed[0].timing.ops_outside_delegate == 1


def test_gpu_on_the_host_is_an_unsupported_record_and_not_an_error(tflite_models, default_store, capsys):
    assert main(["time", str(tflite_models["tiny_float"]), "--delegate", "gpu,cpu", *QUICK, "--json"]) == 0
    statuses = [r.status for r in stored(default_store)]
    assert statuses == [Status.UNSUPPORTED, Status.OK]
    assert "GPU" in json.loads(capsys.readouterr().out)[0]["error"]["message"]


def test_a_crashing_job_is_recorded_and_the_next_one_runs(tflite_models, default_store, monkeypatch, capsys):
    monkeypatch.setenv("EDGEBENCH_TEST_CRASH", "segv:xnnpack")
    code = main(["time", str(tflite_models["tiny_float"]), "--delegate", "xnnpack,cpu", *QUICK])
    assert code == 1  # some record failed or crashed
    crashed, ok = stored(default_store)
    assert crashed.status is Status.CRASHED and crashed.error.type == "SIGSEGV"
    assert ok.status is Status.OK
    assert "crashed: the timing process was killed by SIGSEGV" in capsys.readouterr().out


def test_git_commit_and_dirty_flag_come_from_the_checkout(
    tflite_models, tmp_path, monkeypatch, default_store
):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    tracked = repo / "README"
    tracked.write_text("one\n")
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for argv in (["init", "-q"], ["add", "README"], [*identity, "commit", "-q", "-m", "first"]):
        subprocess.run([git, *argv], cwd=repo, check=True, capture_output=True)
    head = subprocess.run(
        [git, "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    monkeypatch.chdir(repo)
    model = str(tflite_models["tiny_float"])
    assert main(["time", model, *QUICK, "--json"]) == 0
    tracked.write_text("two\n")
    assert main(["time", model, *QUICK, "--json"]) == 0
    clean, dirty = stored(default_store)
    assert clean.git_commit == head.strip() and clean.git_dirty is False
    assert dirty.git_dirty is True and clean.run_id != dirty.run_id


BAD_INPUT_CASES = [
    "missing file",
    "not a model",
    "truncated model",
    "directory",
    "custom op LiteRT lacks",
    "bad model after a good one",
    "unknown delegate",
    "zero threads",
    "word threads",
    "zero runs",
    "negative seconds",
    "non-numeric runs",
    "unreachable sqlite",
    "unreachable server",
]


def bad_input_cases(models: dict[str, Path], tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    text = tmp_path / "notes.tflite"
    text.write_text("not a model\n")
    truncated = tmp_path / "truncated.tflite"
    data = models["tiny_float"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    good = str(models["tiny_float"])
    return {
        "missing file": ([str(tmp_path / "absent.tflite")], "absent.tflite': no such file"),
        "not a model": ([str(text)], "not a TFLite model"),
        "truncated model": ([str(truncated)], "LiteRT cannot load it"),
        "directory": ([str(tmp_path)], "is a directory"),
        "custom op LiteRT lacks": (
            [str(models["unresolved_custom_op"])],
            "LiteRT cannot load it: Encountered unresolved custom op: Digamma",
        ),
        "bad model after a good one": ([good, str(truncated)], "truncated.tflite"),
        "unknown delegate": (
            [good, "--delegate", "cpu,tpu"],
            "--delegate: got 'tpu'; allowed: cpu, xnnpack, gpu",
        ),
        "zero threads": ([good, "--threads", "1,0"], "--threads: got '1,0'"),
        "word threads": ([good, "--threads", "two"], "--threads: got 'two'"),
        "zero runs": ([good, "--runs", "0"], "--runs: got 0"),
        "negative seconds": ([good, "--min-secs", "-1"], "--min-secs: got -1"),
        "non-numeric runs": ([good, "--runs", "many"], "--runs"),
        "unreachable sqlite": (
            [good, "--store", f"sqlite:///{tmp_path}/no/such/dir/x.sqlite"],
            "--store: cannot open",
        ),
        "unreachable server": ([good, "--store", "postgresql://u@127.0.0.1:9/x"], "--store: cannot open"),
    }


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_is_one_line_exit_2_and_nothing_stored(
    tflite_models, tmp_path, default_store, capsys, case
):
    argv, expected = bad_input_cases(tflite_models, tmp_path)[case]
    assert main(["time", *QUICK, *argv]) == 2  # argv last: its flags override QUICK
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("edgebench: error: ") and expected in err
    assert not default_store.exists(), "nothing may be stored (or even created) for bad input"


@pytest.mark.skipif(not EDGEBENCH.exists(), reason="the edgebench console script is not installed")
def test_the_console_script_rejects_a_truncated_model(tflite_models, tmp_path, default_store):
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(tflite_models["tiny_int8"].read_bytes()[:1000])
    done = subprocess.run(
        [str(EDGEBENCH), "time", str(truncated)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"edgebench: error: model {str(truncated)!r}: LiteRT cannot load it")
    assert done.stderr.count("\n") == 1 and not default_store.exists()


@pytest.mark.skipif(not EDGEBENCH.exists(), reason="the edgebench console script is not installed")
def test_the_console_script_times_and_lists_records(tflite_models, default_store):
    model = str(tflite_models["detect_int8"])
    argv = [str(EDGEBENCH), "time", model, "--delegate", "cpu", *QUICK, "--json"]
    timed = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert timed.returncode == 0, timed.stderr
    listed = subprocess.run(
        [str(EDGEBENCH), "records", "--json"], capture_output=True, text=True, timeout=120
    )
    assert json.loads(listed.stdout) == json.loads(timed.stdout)


def test_the_cli_starts_without_tensorflow():
    # `edgebench time` must start fast and print one clean line on bad input: no command module may
    # import TensorFlow at import time (import it inside run() instead).
    code = (
        "import sys; from bench.cli import build_parser; build_parser(); print(sorted(m for m in sys.modules"
    )
    code += " if m.split('.')[0] == 'tensorflow')[:1])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", "a command module imports TensorFlow when the CLI starts"


def test_an_edgebench_sidecar_names_the_recipe_and_detector(tflite_models, tmp_path, capsys):
    """A file with a matching ``<name>.artifact.json`` is recorded with its recipe and variant; a stale
    sidecar is reported and ignored, and the file is still timed."""
    from common.detection import PostprocessSettings, Preprocessing
    from common.fileinfo import file_info
    from common.sidecar import ConversionSettings, ModelFacts, Sidecar

    model = tmp_path / "det.tflite_int8.tflite"
    shutil.copy(tflite_models["tiny_int8"], model)
    file = file_info(model)
    settings = ConversionSettings(
        recipe={"name": "tflite_int8"},
        input_size=256,
        labels=("circle", "square", "star"),
        preprocessing=Preprocessing(),
        postprocess=PostprocessSettings(),
    )
    sidecar = Sidecar(
        name="det.tflite_int8",
        file=model.name,
        format="tflite",
        sha256=file.sha256,
        size_bytes=file.size_bytes,
        gzip_bytes=file.gzip_bytes,
        created_at="2026-01-01T00:00:00+00:00",
        tools={},
        platform="test",
        model=ModelFacts(name="det", params=0, variant="ssdlite_mobilenet_v2", width_multiplier=0.5),
        settings=settings,
        settings_hash=settings.settings_hash(),
        signature={},
    ).model_dump(mode="json")
    (tmp_path / "det.tflite_int8.artifact.json").write_text(json.dumps(sidecar))
    db = tmp_path / "runs.sqlite"
    assert main(["time", str(model), "--delegate", "cpu", *QUICK, "--store", str(db)]) == 0
    (record,) = stored(db)
    assert record.artifact.recipe == "tflite_int8" and record.artifact.path == str(model)
    assert record.artifact.settings_hash == settings.settings_hash()
    assert (record.model.variant, record.model.width_multiplier) == ("ssdlite_mobilenet_v2", 0.5)
    assert (record.model.input_size, record.model.num_classes) == (256, 3)

    (tmp_path / "det.tflite_int8.artifact.json").write_text(json.dumps({**sidecar, "sha256": "0" * 64}))
    capsys.readouterr()
    assert main(["time", str(model), "--delegate", "cpu", *QUICK, "--store", str(db)]) == 0
    err = capsys.readouterr().err
    assert "ignoring the sidecar" in err and "sha256 differs from its sidecar" in err
    newest = [r for r in stored(db) if r.record_id != record.record_id]
    assert len(newest) == 1 and newest[0].artifact.recipe is None and newest[0].model.variant is None


def test_several_models_are_timed_in_interleaved_rounds(tflite_models, default_store, capsys):
    models = [str(tflite_models["tiny_float"]), str(tflite_models["tiny_int8"])]
    assert main(["time", *models, *QUICK, "--rounds", "3", "--json"]) == 0
    records = [RunRecord.model_validate(r) for r in json.loads(capsys.readouterr().out)]
    assert [r.timing.settings.rounds for r in records] == [3, 3]
    assert all(len(r.timing.round_sizes) == 3 for r in records)


def test_profile_stores_where_the_time_goes_per_op_type(tflite_models, default_store, capsys):
    model = str(tflite_models["detect_int8"])
    assert main(["time", model, *QUICK, "--rounds", "1", "--profile", "--json"]) == 0
    (record,) = [RunRecord.model_validate(r) for r in json.loads(capsys.readouterr().out)]
    profile = record.timing.op_profile
    types = {op.op_type: op for op in profile.ops}
    assert "TFLite_Detection_PostProcess" in types and types["TFLite_Detection_PostProcess"].delegated == 0
    assert "QUANTIZE" in types or "DEQUANTIZE" in types  # the int8 file's edges
    assert all(op.ms >= 0 for op in profile.ops) and profile.model_ms > 0 and not profile.skipped
    assert "timed alone" in profile.method
    (kept,) = stored(default_store)  # stored with the record, not only printed
    assert kept.timing.op_profile == profile
