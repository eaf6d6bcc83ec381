"""``edgebench compare`` through the real CLI: run and git-ref resolution, outputs, exit codes 0 / 1 / 2."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.cli import main
from common.process import run
from results.schema import ArtifactInfo, ModelInfo, RunRecord, TargetInfo, Timing
from results.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(run_id, commit, minutes, scale=1.0, variant="ssd_tiny", plan=None, device="host-a"):
    samples = np.random.default_rng(minutes).lognormal(np.log(3.0), 0.03, 60) * scale
    return RunRecord(
        run_id=run_id,
        created_at=T0 + timedelta(minutes=minutes),
        git_commit=commit,
        plan=plan,
        model=ModelInfo(variant=variant),
        artifact=ArtifactInfo(recipe="tflite_int8", path="m.tflite", sha256="0" * 64, size_bytes=1000),
        target=TargetInfo(runner="host", device_id=device, delegate="xnnpack", threads=1),
        timing=Timing(samples_ms=samples.tolist()),
        status="ok",
    )


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with two commits on branch ``main``; the test runs inside it."""
    path = tmp_path / "repo"
    path.mkdir()
    monkeypatch.chdir(path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    run(["git", "init", "-q", "-b", "main"], timeout=30)
    commits = []
    for message in ("first", "second"):
        run([*git, "commit", "-q", "--allow-empty", "-m", message], timeout=30)
        commits.append(run(["git", "rev-parse", "HEAD"], timeout=30).stdout.strip())
    return commits


@pytest.fixture
def store_url(tmp_path, repo):
    """Runs: 'old' and 'base' at the first commit (base is newer), 'cand' (10 % slower) at the second,
    'same' unchanged at the second."""
    first, second = repo
    url = str(tmp_path / "store.sqlite")
    store = Store(url)
    store.add(record("old", first, 0, scale=1.5))
    store.add(record("base", first, 1))
    store.add(record("same", second, 2))
    store.add(record("cand", second, 3, scale=1.10))
    store.close()
    return url


def compare(store_url, *args):
    return main(["compare", "--store", store_url, *args])


def test_regression_exits_1_and_writes_all_reports(store_url, tmp_path, capsys):
    out = tmp_path / "out"
    code = compare(
        store_url,
        "--baseline",
        "base",
        "--candidate",
        "cand",
        "--markdown",
        str(out / "r.md"),
        "--junit",
        str(out / "r.xml"),
        "--json",
        str(out / "r.json"),
    )
    assert code == 1
    assert capsys.readouterr().out == "edgebench compare: 1 of 1 targets regressed\n"
    assert (out / "r.md").read_text().startswith("## edgebench compare: FAIL")
    assert ET.parse(out / "r.xml").getroot().get("failures") == "1"
    assert json.loads((out / "r.json").read_text())["baseline"]["run_id"] == "base"


def test_no_regression_exits_0_and_prints_markdown(store_url, capsys):
    assert compare(store_url, "--baseline", "base", "--candidate", "same") == 0
    assert capsys.readouterr().out.startswith("## edgebench compare: PASS, 1 targets")


@pytest.mark.parametrize("ref", ["HEAD~1", "main~1", "FIRST", "FIRST_SHORT"])
def test_git_ref_baseline_is_the_newest_run_at_that_commit(store_url, repo, capsys, ref):
    ref = {"FIRST": repo[0], "FIRST_SHORT": repo[0][:8]}.get(ref, ref)
    # The candidate defaults to the newest run ('cand'); of the two runs at the first commit, 'base' is newer.
    code = compare(store_url, "--baseline", ref)
    assert code == 1
    assert "Baseline `base`" in capsys.readouterr().out


def test_git_ref_baseline_keeps_to_the_candidates_plan_and_target_set(store_url, repo, capsys):
    store = Store(store_url)
    # Newer than 'base' at the first commit, but another plan, or another host: never the baseline.
    store.add(record("other-plan", repo[0], 4, plan="nightly"))
    store.add(record("other-host", repo[0], 5, device="host-b"))
    store.add(record("cand2", repo[1], 6, scale=1.10))
    store.close()
    assert compare(store_url, "--baseline", "HEAD~1") == 1
    captured = capsys.readouterr()
    assert "Baseline `base`" in captured.out
    assert "candidate: cand2 (plan -," in captured.err and "baseline: base (plan -," in captured.err
    assert "1 records on host/host-a" in captured.err


def test_git_ref_with_only_unlike_runs_is_refused_by_name(tmp_path, repo, capsys):
    url = str(tmp_path / "s.sqlite")
    store = Store(url)
    store.add(record("base", repo[0], 1, plan="nightly"))
    store.add(record("cand", repo[1], 2, plan="smoke"))
    store.close()
    assert compare(url, "--baseline", "HEAD~1") == 2
    assert "are of another plan or target set than the candidate cand" in capsys.readouterr().err


def test_abbreviated_sha_outside_a_git_checkout_matches_stored_commits(
    store_url, repo, tmp_path, monkeypatch, capsys
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert compare(store_url, "--baseline", repo[0][:7], "--candidate", "same") == 0
    assert "Baseline `base`" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "nope"], "--baseline: 'nope' is neither a stored run nor a git ref here"),
        (["--baseline", "base", "--candidate", "nope"], "--candidate: no run 'nope' in the store"),
        (["--baseline", "cand"], "--candidate: 'cand' is the baseline run itself"),
        (["--baseline", "base", "--checks", "median:5x"], "--checks: cannot read 'median:5x'"),
        (["--baseline", "base", "--alpha", "0.7"], "--alpha: got 0.7"),
        (["--baseline", "deadbeef"], "no run in the store was made at a commit starting 'deadbeef'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(store_url, tmp_path, capsys, args, message):
    report = tmp_path / "report.md"
    assert compare(store_url, *args, "--markdown", str(report)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not report.exists()


def test_ref_whose_commit_has_no_run_is_named(store_url, repo, capsys):
    run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "--allow-empty", "-m", "3"],
        timeout=30,
    )
    assert compare(store_url, "--baseline", "HEAD") == 2
    assert "no run in the store was made at commit" in capsys.readouterr().err


def test_empty_store_exits_2(tmp_path, capsys):
    assert main(["compare", "--store", str(tmp_path / "empty.sqlite"), "--baseline", "main"]) == 2
    assert "holds no runs" in capsys.readouterr().err


def test_help_documents_the_checks_grammar(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["compare", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert (
        "median:5%" in out
        and "Npt" in out
        and "exit codes: 0 no regression, 1 regression, 2 bad input" in out
    )
