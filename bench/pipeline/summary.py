"""The final summary: one row per variant x recipe x target, Pareto-optimal rows marked, then what next.

A row is on the Pareto front when no other ok row *of the same target, delegate and threads* is at least
as fast, at least as small and at least as accurate, and strictly better in one (``results.analysis``).
Latency is compared through each record's noise band (``results.significance.median_band``: with
interleaved rounds, the lowest to the highest round median): a difference within noise counts as equal,
so it neither puts a row on the front nor takes one off. The ``vs fp32`` column says "faster" or
"slower" only when the two bands do not overlap, else "same within noise". The ``of fp32 mAP`` column is
the accuracy's counterpart: the share of the fp32 file's mAP on the same images and its paired bootstrap
interval over them (``accuracy.share``), so "int8 keeps 98.5%" comes with how far another draw of as many
images could move it.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from rich.console import Console
from rich.table import Table

from bench.console import mb, ms
from bench.pipeline.context import Item
from bench.pipeline.stages import REFERENCE_RECIPE
from results.analysis import BAND_COLUMNS, pareto_front
from results.schema import RunRecord, Status
from results.significance import faster_beyond_noise, timing_band

PARETO_GROUPS = ["runner", "device_id", "delegate", "threads"]


def records_frame(records: list[RunRecord]) -> pd.DataFrame:
    """The summary's columns, one row per record, sorted by variant, recipe and target."""
    rows = []
    for r in records:
        t = r.timing
        band = timing_band(t) if r.status is Status.OK else None
        size = r.model.input_size
        width = r.model.width_multiplier
        rows.append(
            {
                # A zoo variant with its settings; a user's model (no width multiplier) by its name.
                "variant": f"{r.model.variant}@{size}x{width}" if size and width else r.model.variant or "?",
                "recipe": r.artifact.recipe or "as given",  # a user's file measured unchanged
                "runner": r.target.runner,
                "device_id": r.target.device_id,
                "target": f"{r.target.runner}:{r.target.device_id}"
                + (" (simulated)" if r.target.simulated else ""),
                "delegate": r.target.delegate.value,
                "threads": r.target.threads,
                "simulated": r.target.simulated,  # own Pareto groups: never on a phone's front (issue 20)
                "status": r.status.value,
                "reason": r.error.message if r.error else "",
                "map": r.accuracy.map if r.accuracy else None,
                "ar100": r.accuracy.ar100 if r.accuracy else None,
                "share": _share(r.accuracy.share) if r.accuracy and r.accuracy.share else "",
                "size_bytes": r.artifact.size_bytes if r.artifact.sha256 else None,
                "median_ms": t.median_ms if t is not None and r.status is Status.OK else None,
                BAND_COLUMNS[0]: band[0] if band else None,
                BAND_COLUMNS[1]: band[1] if band else None,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(["variant", "recipe", "target", "delegate", "threads"], kind="stable")
    frame = frame.reset_index(drop=True)
    measured = frame.dropna(subset=["map", "median_ms", "size_bytes"])
    frame["pareto"] = False
    if not measured.empty:
        front = pareto_front(
            measured,
            ["median_ms", "size_bytes"],
            "map",
            group_by=PARETO_GROUPS,
            bands={"median_ms": BAND_COLUMNS},
        )
        frame.loc[front[front].index, "pareto"] = True
    frame["vs_fp32"] = speed_claims(frame)
    return frame


def speed_claims(frame: pd.DataFrame) -> pd.Series:
    """Each row's speed against the fp32 file of its variant on the same target, delegate and threads:
    ``0.67x faster`` / ``1.31x slower`` only when the noise bands do not overlap, else ``1.02x same within
    noise``; empty where there is nothing to compare."""
    claims = pd.Series("", index=frame.index, dtype=object)
    keys = ["variant", *PARETO_GROUPS]
    timed = frame.dropna(subset=["median_ms", BAND_COLUMNS[0], BAND_COLUMNS[1]])
    reference = timed[timed["recipe"].eq(REFERENCE_RECIPE)].drop_duplicates(subset=keys).set_index(keys)
    for index, row in timed.iterrows():
        key = tuple(row[k] for k in keys)
        if row["recipe"] == REFERENCE_RECIPE or key not in reference.index:
            continue
        ref = reference.loc[key]
        band, ref_band = (
            (row[BAND_COLUMNS[0]], row[BAND_COLUMNS[1]]),
            (ref[BAND_COLUMNS[0]], ref[BAND_COLUMNS[1]]),
        )
        ratio = row["median_ms"] / ref["median_ms"]
        if faster_beyond_noise(band, ref_band):
            word = "faster"
        elif faster_beyond_noise(ref_band, band):
            word = "slower"
        else:
            word = "same within noise"
        claims[index] = f"{ratio:.2f}x {word}"
    return claims


def summary_table(frame: pd.DataFrame, title: str) -> Table:
    """The rich table of :func:`records_frame`."""
    table = Table(title=title, title_justify="left")
    shares = has_shares(frame)  # the column only where a file has a share
    numbers = ("thr", "mAP", "AR@100", "of fp32 mAP", "size MB", "median ms")
    headers = ["", "variant", "recipe", "target", "delegate", "thr", "mAP", "AR@100"]
    headers += ["of fp32 mAP"] * shares + ["size MB", "median ms", "vs fp32", "status"]
    for header in headers:
        table.add_column(header, justify="right" if header in numbers else "left")
    for row in frame.itertuples(index=False):
        status = row.status if row.status == "ok" else f"{row.status}: {_short(row.reason)}"
        cells = ["*" if row.pareto else "", row.variant, row.recipe or "-", row.target, row.delegate]
        cells += [str(row.threads), _metric(row.map), _metric(row.ar100)] + [row.share] * shares
        cells += [mb(None if pd.isna(row.size_bytes) else row.size_bytes / 1e6)]
        cells += [_median(row.median_ms, row.median_lo_ms, row.median_hi_ms), row.vs_fp32, status]
        table.add_row(*cells)
    return table


def print_summary(console: Console, outcome, elapsed_note: str = "") -> None:
    """The table, the counts, and where to look next."""
    frame = records_frame(outcome.records)
    title = f"run {outcome.run_id}: {len(outcome.records)} records ({outcome.status}){elapsed_note}"
    if frame.empty:
        console.print(f"{title}: no records")
    else:
        console.print(summary_table(frame, title))
        console.print(
            "* = Pareto-optimal (median ms, size, mAP) among the rows of the same target, delegate, threads;"
            " latencies whose noise bands overlap count as equal (±: the band, lowest to highest round)"
        )
        if has_shares(frame):
            console.print(
                "of fp32 mAP: the share of its fp32 file's mAP on the same images [90% interval over them]"
            )
    statuses = Counter(r.status.value for r in outcome.records)
    console.print("records: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    for line in time_lines(outcome):
        console.print(line, highlight=False)
    console.print(
        f"next: make dashboard  (store {outcome.store_url});  "
        f"edgebench records --run {outcome.run_id}  for every field"
    )


def time_lines(outcome) -> list[str]:
    """How long the run took: the invocation and its stages, then each variant's training (from the records,
    so a cached model shows the time it took when it was trained) and any a time cap stopped early."""
    lines = []
    if outcome.seconds:
        stages = getattr(outcome, "stage_seconds", {}) or {}
        parts = ", ".join(f"{stage} {_minutes(seconds)}" for stage, seconds in stages.items())
        builders = getattr(outcome, "builders", 1)
        if parts and builders > 1:
            parts += f"; train, export and evaluate summed over up to {builders} build processes side by side"
        lines.append(f"took {_minutes(outcome.seconds)}" + (f" ({parts})" if parts else ""))
    seen, early = {}, []
    for record in outcome.records:
        training, model = record.model.training, record.model
        if training is None:
            continue
        label = f"{model.variant}@{model.input_size}x{model.width_multiplier}"
        if label in seen:
            continue
        seen[label] = f"{label} {training.steps} steps in {_minutes(training.seconds)}"
        if training.stopped_by == "time":
            seen[label] += f" (of {training.planned_steps}: stopped by max_minutes)"
            early.append(label)
    if seen:
        lines.append("training: " + "; ".join(seen.values()))
    if early:
        lines.append(
            f"not reproducible: max_minutes stopped the training of {', '.join(early)} before its steps; "
            "its weights and mAP depend on this machine's speed"
        )
    return lines


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def dry_run_table(items: list[Item], expected: int) -> Table:
    """What ``--dry-run`` prints: every stage item, its cache key and whether it would run."""
    table = Table(
        "stage",
        "item",
        "key",
        "status",
        title=f"{expected} records in this plan selection",
        title_justify="left",
    )
    for item in items:
        table.add_row(item.stage, item.label, item.key[:12] or "-", item.status)
    return table


def stage_counts(items: list[Item]) -> str:
    """``train: 3 cached; export: 2 run, 25 cached; ...``."""
    per_stage: dict[str, Counter] = {}
    for item in items:
        per_stage.setdefault(item.stage, Counter())[item.status] += 1
    parts = []
    for stage, counts in per_stage.items():
        parts.append(f"{stage}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "; ".join(parts)


def _median(median, low, high) -> str:
    """``1.240 ±13%``: the median and how far its noise band reaches from it (the wider side)."""
    if pd.isna(median):
        return ms(None)
    if pd.isna(low) or pd.isna(high) or not median:
        return ms(median)
    reach = max(high - median, median - low) / median
    return f"{ms(median)} ±{100 * reach:.0f}%"


def has_shares(frame: pd.DataFrame) -> bool:
    """Whether any row of :func:`records_frame` has a share of its fp32 file's mAP."""
    return bool(frame["share"].astype(bool).any())


def _share(share) -> str:
    """``98.5% [96.0, 100.6]``: the share of the fp32 mAP and its interval (``ShareInfo``)."""
    return f"{100 * share.share:.1f}% [{100 * share.low:.1f}, {100 * share.high:.1f}]"


def _metric(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.3f}"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
