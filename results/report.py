"""Render a :class:`results.regression.Comparison` as Markdown, JUnit XML or JSON.

Markdown is for a CI job summary or a PR comment (a verdict line, speed buckets, the regressions,
every target folded away); JUnit gives CI one test case per target; JSON keeps everything for tools.
All three are deterministic for the same comparison (no clocks, no versions), so they can be golden-tested.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from results.regression import SPEED_BUCKETS, Comparison, MetricResult, TargetResult


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so readers never see half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, _file_mode(target))  # mkstemp makes 0600; a report is for everyone
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _value(result: MetricResult, value: float) -> str:
    unit = result.check.metric.unit
    if result.check.metric.is_accuracy:
        return f"{value * 100:.1f}"  # shown in points, like COCO tables
    if unit == "bytes":
        return f"{value:,.0f} B"
    return f"{value:.2f} {unit}"


def _delta(result: MetricResult) -> str:
    if not math.isfinite(result.delta):
        return "new nonzero"
    suffix = {"relative": "%", "points": " pt"}.get(result.check.mode)
    unit = result.check.metric.unit
    if suffix:
        shown = result.delta if round(result.delta, 1) else 0.0  # "+0.0", never "-0.0"
        return f"{shown:+.1f}{suffix}"
    return f"{result.delta:+,.0f} B" if unit == "bytes" else f"{result.delta:+.2f} {unit}"


def _evidence(result: MetricResult) -> str:
    parts = []
    if result.p_value is not None:
        parts.append(f"Mann-Whitney p={result.p_value:.2g}")
    if result.ci is not None:
        parts.append(f"ratio {result.ci[0]:.3f}-{result.ci[1]:.3f}")
    return ", ".join(parts) or "threshold only"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped (error messages carry both)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _short(commit: str | None) -> str:
    return f" (`{commit[:10]}`)" if commit else ""


def to_markdown(comparison: Comparison) -> str:
    """The report for a CI job summary or PR comment."""
    regressed = comparison.regressions
    total = len(comparison.targets)
    verdict = (
        f"FAIL, {len(regressed)} of {total} targets regressed" if regressed else f"PASS, {total} targets"
    )
    checks = ", ".join(check.text for check in comparison.checks)
    lines = [
        f"## edgebench compare: {verdict}",
        "",
        f"Baseline `{comparison.baseline_run}`{_short(comparison.baseline_commit)} vs candidate "
        f"`{comparison.candidate_run}`{_short(comparison.candidate_commit)}. "
        f"Checks `{checks}`; latency significance alpha {comparison.alpha:g}.",
        "",
        *_bucket_table(comparison),
    ]
    if regressed:
        lines += ["", "### Regressions", "", "| target | check | baseline | candidate | change | evidence |"]
        lines += ["|---|---|---:|---:|---:|---|"]
        lines += [row for target in regressed for row in _regression_rows(target)]
        level = f"{(1 - 2 * comparison.alpha) * 100:g} %"
        lines += [
            "",
            f"_p: one-sided Mann-Whitney U; ratio: candidate / baseline, {level} bootstrap interval._",
        ]
    lines += ["", *_all_targets(comparison)]
    notes = [
        f"- {_cell(target.label)}: {_cell(note)}" for target in comparison.targets for note in target.notes
    ]
    if notes:
        lines += ["", "### Notes", "", *notes]
    return "\n".join(lines) + "\n"


def _bucket_table(comparison: Comparison) -> list[str]:
    counts = [sum(t.bucket == bucket for t in comparison.targets) for bucket in SPEED_BUCKETS]
    unmeasured = sum(t.bucket is None for t in comparison.targets)
    header = [*SPEED_BUCKETS, "no latency to compare"]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
        "| " + " | ".join(str(n) for n in [*counts, unmeasured]) + " |",
    ]


def _regression_rows(target: TargetResult) -> list[str]:
    label, before, after = _cell(target.label), target.baseline_status or "-", target.candidate_status or "-"
    rows = [f"| {label} | {_cell(problem)} | {before} | {after} | | |" for problem in target.problems]
    for m in target.metrics:
        if m.regressed:
            limit = m.check.text.split(":", 1)[1]
            rows.append(
                f"| {label} | {m.check.metric.name} | {_value(m, m.baseline)} | {_value(m, m.candidate)} "
                f"| {_delta(m)} (limit {limit}) | {_evidence(m)} |"
            )
    return rows


def _all_targets(comparison: Comparison) -> list[str]:
    names = [check.metric.name for check in comparison.checks]
    lines = [
        f"<details><summary>All {len(comparison.targets)} targets</summary>",
        "",
        "| target | status | verdict | speed | " + " | ".join(f"Δ {name}" for name in names) + " |",
        "|---|---|---|---|" + "---:|" * len(names),
    ]
    for target in comparison.targets:
        by_name = {m.check.metric.name: m for m in target.metrics}
        deltas = [_delta(by_name[name]) if name in by_name else "-" for name in names]
        status = f"{target.baseline_status or '-'} -> {target.candidate_status or '-'}"
        verdict = f"**{target.verdict}**" if target.regressed else target.verdict
        cells = [_cell(target.label), status, verdict, target.bucket or "-", *deltas]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", "</details>"]


def to_junit(comparison: Comparison) -> str:
    """JUnit XML: one test case per target; a regression is a failure, a new or tolerated-missing target
    is skipped."""
    regressed = len(comparison.regressions)
    skipped = sum(1 for t in comparison.targets if not t.regressed and t.verdict in ("new", "missing"))
    counts = {"tests": str(len(comparison.targets)), "failures": str(regressed), "errors": "0"}
    root = ET.Element("testsuites", name="edgebench compare", **counts)
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"edgebench compare {comparison.candidate_run} vs {comparison.baseline_run}",
        skipped=str(skipped),
        **counts,
    )
    for target in comparison.targets:
        key = target.identity
        sustained = f"/sustained-{key.sustained}" if key.sustained else ""
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"edgebench.{key.runner}.{key.device_id}",
            name=f"{key.model}/{key.recipe}/{key.delegate}/x{key.threads}{sustained}",
        )
        reasons = [*target.problems, *(_metric_line(m) for m in target.metrics if m.regressed)]
        if reasons:
            ET.SubElement(case, "failure", type="regression", message="; ".join(reasons)).text = "\n".join(
                [*reasons, *(_metric_line(m) for m in target.metrics if not m.regressed)]
            )
        elif target.verdict in ("new", "missing"):
            ET.SubElement(case, "skipped", message=(target.notes or (target.verdict,))[-1])
        else:
            ET.SubElement(case, "system-out").text = "\n".join(_metric_line(m) for m in target.metrics)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _metric_line(m: MetricResult) -> str:
    verdict = "REGRESSED" if m.regressed else "ok"
    values = f"{_value(m, m.baseline)} -> {_value(m, m.candidate)}"
    return f"{m.check.text}: {values} ({_delta(m)}; {_evidence(m)}) {verdict}"


def to_json(comparison: Comparison) -> str:
    """Everything in the comparison, for tools; non-finite numbers become null."""
    document = {
        "baseline": {"run_id": comparison.baseline_run, "git_commit": comparison.baseline_commit},
        "candidate": {"run_id": comparison.candidate_run, "git_commit": comparison.candidate_commit},
        "checks": [check.text for check in comparison.checks],
        "alpha": comparison.alpha,
        "regressed": bool(comparison.regressions),
        "targets_total": len(comparison.targets),
        "targets_regressed": len(comparison.regressions),
        "speed": {bucket: sum(t.bucket == bucket for t in comparison.targets) for bucket in SPEED_BUCKETS},
        "targets": [_target_json(target) for target in comparison.targets],
    }
    return json.dumps(_finite(document), indent=2, ensure_ascii=False) + "\n"


def _target_json(target: TargetResult) -> dict:
    return {
        "identity": target.identity.as_dict(),
        "label": target.label,
        "verdict": target.verdict,
        "baseline_status": target.baseline_status,
        "candidate_status": target.candidate_status,
        "speed": target.bucket,
        "median_delta_pct": target.median_delta_pct,
        "problems": list(target.problems),
        "notes": list(target.notes),
        "metrics": [
            {
                "check": m.check.text,
                "baseline": m.baseline,
                "candidate": m.candidate,
                "delta": m.delta,
                "delta_unit": {"relative": "%", "points": "pt"}.get(m.check.mode, m.check.metric.unit),
                "exceeded": m.exceeded,
                "regressed": m.regressed,
                "method": m.method,
                "p_value": m.p_value,
                "ratio_ci": list(m.ci) if m.ci else None,
            }
            for m in target.metrics
        ],
    }


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
