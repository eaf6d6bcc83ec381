"""Markdown / JUnit / JSON reports against golden files built from fixed, seeded records.

Regenerate the golden files after an intended change with:
    EDGEBENCH_REGEN_GOLDEN=1 .venv/bin/pytest tests/results/test_report.py
and review the diff like code.
"""

import json
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from results.checks import parse_checks
from results.regression import compare_runs
from results.report import to_json, to_junit, to_markdown, write_atomic
from results.schema import (
    AccuracyInfo,
    ArtifactInfo,
    ErrorInfo,
    FallbackInfo,
    ModelInfo,
    RunRecord,
    TargetInfo,
    Timing,
)

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("EDGEBENCH_REGEN_GOLDEN") == "1"
CHECKS = parse_checks("mAP:-0.5pt,median:5%,p90:10%,size:0")
ACCURACY = {"map50": 0.5, "map75": 0.3, "map_small": 0.1, "map_medium": 0.2, "map_large": 0.4}


def record(
    run, variant, delegate, *, scale=1.0, seed=0, status="ok", map_=0.300, summary=None, fallback=None
):
    """A record with 60 seeded lognormal samples around 4 ms (times ``scale``), or a summary."""
    timing = None
    if status == "ok":
        samples = np.random.default_rng(seed).lognormal(np.log(4.0), 0.03, 60) * scale
        timing = Timing(**summary) if summary else Timing(samples_ms=[round(float(s), 4) for s in samples])
    return RunRecord(
        record_id=f"{run}-{variant}-{delegate}",
        run_id=run,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        git_commit={"base": "1111111aaaaaaa", "cand": "2222222bbbbbbb"}[run],
        model=ModelInfo(variant=variant),
        artifact=ArtifactInfo(
            recipe="tflite_int8", path=f"{variant}.tflite", sha256="0" * 64, size_bytes=250_000
        ),
        target=TargetInfo(runner="host", delegate=delegate, threads=2),
        timing=timing,
        accuracy=AccuracyInfo(dataset_id="synthetic-1", map=map_, ar1=0.2, ar10=0.3, ar100=0.4, **ACCURACY),
        status=status,
        error=ErrorInfo(type="SIGSEGV", message="killed by SIGSEGV | core dumped")
        if status != "ok"
        else None,
        fallback=fallback,
    )


@pytest.fixture(scope="module")
def comparison():
    partial = FallbackInfo(full=False, detail="2 of 40 ops on CPU: TFLite_Detection_PostProcess")
    baseline = [
        record("base", "ssd_a", "xnnpack", seed=1),
        record("base", "ssd_a", "cpu", seed=2),
        record("base", "ssd_b", "xnnpack", seed=3),
        record("base", "ssd_b", "cpu", seed=4),
        record("base", "ssd_c", "gpu", summary={"median_ms": 3.0, "p90_ms": 3.4}),
        record("base", "ssd_d", "xnnpack", seed=5),
        record("base", "ssd_f", "xnnpack", seed=6),
    ]
    candidate = [
        record("cand", "ssd_a", "xnnpack", seed=11, scale=1.10),  # 10 % slower
        record("cand", "ssd_a", "cpu", seed=12, scale=0.85),  # 15 % faster
        record("cand", "ssd_b", "xnnpack", seed=13, scale=0.95, map_=0.290),  # faster, but 1 pt less mAP
        record("cand", "ssd_b", "cpu", status="crashed"),
        record("cand", "ssd_c", "gpu", summary={"median_ms": 3.1, "p90_ms": 3.5}, fallback=partial),
        record("cand", "ssd_e", "xnnpack", seed=14),  # new; ssd_d is missing
        record("cand", "ssd_f", "xnnpack", seed=16),  # unchanged
    ]
    return compare_runs(baseline, candidate, CHECKS)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        write_atomic(path, text)
    assert path.exists(), f"{path} missing; run with EDGEBENCH_REGEN_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; regenerate with EDGEBENCH_REGEN_GOLDEN=1"
    )


def test_markdown_matches_golden(comparison):
    check_golden("compare_report.md", to_markdown(comparison))


def test_junit_matches_golden_and_parses(comparison):
    text = to_junit(comparison)
    check_golden("compare_report.junit.xml", text)
    suite = ET.fromstring(text).find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 8 and suite.get("failures") == "5" and suite.get("skipped") == "1"
    failed = {case.get("name") for case in cases if case.find("failure") is not None}
    assert failed == {
        "ssd_a/tflite_int8/xnnpack/x2",
        "ssd_b/tflite_int8/xnnpack/x2",
        "ssd_b/tflite_int8/cpu/x2",
        "ssd_c/tflite_int8/gpu/x2",
        "ssd_d/tflite_int8/xnnpack/x2",
    }


def test_json_matches_golden_and_is_complete(comparison):
    text = to_json(comparison)
    check_golden("compare_report.json", text)
    document = json.loads(text)
    assert document["regressed"] is True and document["targets_regressed"] == 5
    verdicts = {
        t["identity"]["model"] + "/" + t["identity"]["delegate"]: t["verdict"] for t in document["targets"]
    }
    assert verdicts["ssd_e/xnnpack"] == "new" and verdicts["ssd_f/xnnpack"] == "ok"


def test_markdown_states_the_verdict_and_buckets(comparison):
    text = to_markdown(comparison)
    assert text.startswith("## edgebench compare: FAIL, 5 of 8 targets regressed")
    assert "| 1 | 1 | 1 | 2 | 3 |" in text  # >=10% faster, 2-10% faster, within noise, slower, none
    assert "killed by SIGSEGV \\| core dumped" in text  # a pipe in an error cannot break the table


def test_passing_comparison_says_pass():
    passing = compare_runs(
        [record("base", "ssd_a", "cpu", seed=1)], [record("cand", "ssd_a", "cpu", seed=2)], CHECKS
    )
    assert to_markdown(passing).startswith("## edgebench compare: PASS, 1 targets")
    assert ET.fromstring(to_junit(passing)).find("testsuite").get("failures") == "0"


def test_write_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "out" / "report.md"
    write_atomic(path, "first")
    write_atomic(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]  # no temporary left behind
    assert path.stat().st_mode & 0o044 == 0o044  # readable by others, not mkstemp's 0600
