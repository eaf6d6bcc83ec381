"""One record in full: what ran where, its timings (histogram or sustained trace), error, fallback, tools."""

from __future__ import annotations

import shlex

import pandas as pd
import streamlit as st

from dashboard import detail_charts
from results.schema import RunRecord, Status
from results.significance import timing_band

_BADGE = {Status.OK: "green", Status.UNSUPPORTED: "gray", Status.FAILED: "orange", Status.CRASHED: "red"}


def show(record: RunRecord) -> None:
    """Render a record's detail below the table."""
    target = record.target
    st.subheader(
        f"{record.model.variant or record.artifact.path} · {record.artifact.recipe or 'own file'} "
        f"on {target.device_model or target.device_id} · {target.delegate.value} x{target.threads}"
    )
    commit = (record.git_commit or "-")[:10]
    st.markdown(
        f":{_BADGE[record.status]}-badge[{record.status.value}] &nbsp; run `{record.run_id}` · record "
        f"`{record.record_id}` · {record.created_at:%Y-%m-%d %H:%M:%S} UTC · commit `{commit}`"
    )
    _numbers(record)
    if record.error is not None:
        _error(record)
    if record.fallback is not None:
        kind = "Full" if record.fallback.full else "Partial"
        st.warning(f"{kind} delegate fallback: {record.fallback.detail}", icon=":material/warning:")
    _timing(record)
    if record.timing is not None and record.timing.op_profile is not None:
        _op_profile(record.timing.op_profile)
    if record.energy is not None:
        _energy(record)
    left, right = st.columns(2)
    left.markdown("**Where and what**")
    left.table(_facts(record).set_index("field"))
    right.markdown("**Tool versions**")
    tools = {name: value for name, value in record.tools.model_dump().items() if value is not None}
    right.table(pd.DataFrame({"version": list(tools.values())}, index=pd.Index(list(tools), name="tool")))
    with st.expander("The full record (JSON)"):
        st.json(record.model_dump(mode="json"), expanded=1)


def _numbers(record: RunRecord) -> None:
    timing, accuracy = record.timing, record.accuracy
    cells = [
        ("median", f"{timing.median_ms:.2f} ms" if timing and timing.median_ms is not None else "n/a"),
        ("p90", f"{timing.p90_ms:.2f} ms" if timing and timing.p90_ms is not None else "n/a"),
        ("init", f"{timing.init_ms:.1f} ms" if timing and timing.init_ms is not None else "n/a"),
        ("peak memory", f"{timing.peak_memory_mb:.1f} MB" if timing and timing.peak_memory_mb else "n/a"),
        ("mAP", f"{accuracy.map * 100:.1f}" if accuracy else "n/a"),
        ("of fp32 mAP", f"{accuracy.share.share * 100:.1f}%" if accuracy and accuracy.share else "n/a"),
        ("size", f"{record.artifact.size_bytes / 1e6:.2f} MB"),
    ]
    for column, (label, value) in zip(st.columns(len(cells)), cells, strict=True):
        column.metric(label, value)
    if accuracy is not None and accuracy.share is not None:
        st.caption(share_caption(accuracy.share, accuracy.num_images))


def share_caption(share, images: int | None) -> str:
    """What the share of the fp32 mAP means, with its interval over the images (``ShareInfo``)."""
    over = f"{images} images" if images else "the images"
    return (
        f"Keeps {100 * share.share:.1f}% of the mAP of its {share.reference_recipe} file "
        f"({share.reference_map:.3f}): {100 * share.level:.0f}% interval {100 * share.low:.1f}-"
        f"{100 * share.high:.1f}% over {share.resamples} paired resamples of {over}."
    )


def _energy(record: RunRecord) -> None:
    """The sustained run's power figures, or why there are none (refused while charging, no sensor)."""
    energy = record.energy
    figures = energy.figures
    if figures is None:
        st.info(f"Energy {energy.reason}", icon=":material/battery_alert:")
        return

    def show(value: float | None, unit: str, digits: int = 1) -> str:
        return f"{value:.{digits}f} {unit}" if value is not None else "n/a"

    cells = [
        ("power above idle", show(figures.above_idle_mw, "mW", 0)),
        ("energy / inference", show(figures.energy_per_inference_mj, "mJ", 2)),
        ("battery drain", show(figures.drain_pct_per_hour, "%/h")),
        (
            "throttling onset",
            show(figures.throttle_onset_s, "s", 0) if figures.throttle_onset_s is not None else "none",
        ),
        ("dropped frames", f"{figures.dropped_frames:,}"),
    ]
    for column, (label, value) in zip(st.columns(len(cells)), cells, strict=True):
        column.metric(label, value)
    st.caption(f"{energy.source.value} · {energy.sensor}" + "".join(f" · {note}" for note in energy.notes))


def _error(record: RunRecord) -> None:
    error = record.error
    st.error(f"**{error.type}**: {error.message}", icon=":material/error:")
    if error.command:
        st.code(shlex.join(error.command), language="bash")
    details = [
        f"return code {error.returncode}" if error.returncode is not None else "",
        f"signal {error.signal}" if error.signal is not None else "",
    ]
    if any(details):
        st.caption(", ".join(d for d in details if d))
    if error.stderr_tail:
        st.caption("stderr (last lines)")
        st.code(error.stderr_tail, language="text")


def _timing(record: RunRecord) -> None:
    timing = record.timing
    if timing is None:
        return
    if timing.sustained is not None and timing.samples_ms:
        st.plotly_chart(detail_charts.sustained_figure(timing), key="record-sustained")
    elif timing.samples_ms:
        title = f"{len(timing.samples_ms)} timed runs after {len(timing.warmup_samples_ms)} warm-up run(s)"
        st.plotly_chart(detail_charts.latency_histogram(timing, title), key="record-histogram")
    else:
        st.caption("No raw samples: the runner only saw the tool's summary statistics.")
    band = timing_band(timing) if record.status is Status.OK else None
    if band is not None:
        rounds = len(timing.round_sizes)
        how = f"lowest to highest median of {rounds} interleaved rounds" if rounds >= 2 else "one window"
        st.caption(
            f"Noise band of the median: {band[0]:.3f}-{band[1]:.3f} ms ({how}). A record whose band overlaps "
            "this one is the same speed within noise."
        )


def op_profile_table(profile, parts=None) -> pd.DataFrame:
    """One row per op type (or per named group, ``parts=profile.groups``): nodes, delegated nodes, ms and
    share of the whole model's median."""
    rows = [
        {
            "op type": op.op_type,
            "nodes": op.count,
            "delegated": op.delegated,
            "ms": round(op.ms, 4),
            "share %": round(100.0 * op.ms / profile.model_ms, 1) if profile.model_ms else None,
        }
        for op in (profile.ops if parts is None else parts)
    ]
    return pd.DataFrame(rows, columns=["op type", "nodes", "delegated", "ms", "share %"])


def _op_profile(profile) -> None:
    """Where the time goes per op type (``edgebench time --profile``), and how it was measured."""
    st.markdown("**Where the time goes, per op type**")
    st.dataframe(op_profile_table(profile), hide_index=True, key="record-op-profile")
    if profile.groups:
        st.markdown("Named groups (across op types, so they overlap the rows above)")
        st.dataframe(op_profile_table(profile, profile.groups), hide_index=True, key="record-op-groups")
    st.caption(
        f"{profile.method}. Whole model {profile.model_ms:.3f} ms; the op types add up to "
        f"{profile.sum_ms:.3f} ms ({100.0 * profile.sum_ms / profile.model_ms:.0f}%); per-invoke overhead "
        f"{profile.overhead_ms * 1000:.1f} µs subtracted."
        + (f" Not measurable alone: {'; '.join(profile.skipped)}." if profile.skipped else "")
    )


def _facts(record: RunRecord) -> pd.DataFrame:
    model, artifact, target = record.model, record.artifact, record.target
    # "n/a", not "-", for missing values: st.table renders cells as Markdown, where "- " starts a list.
    facts = {
        "runner": target.runner,
        "device": f"{target.device_model or 'n/a'} ({target.device_id})",
        "OS / SoC / ABI": " / ".join(str(v or "n/a") for v in (target.os, target.soc, target.abi)),
        "variant": f"{model.variant or 'n/a'} @ {model.input_size or 'n/a'} px",
        "params / MAdds": f"{model.params or 0:,} / {model.madds or 0:,}",
        "artifact": f"{artifact.path} ({artifact.format.value})",
        "sha256": artifact.sha256,
        "size / gzip": f"{artifact.size_bytes:,} B / {artifact.gzip_bytes or 0:,} B",
        "dataset": record.accuracy.dataset_id if record.accuracy else "n/a",
        "plan": record.plan or "n/a",
    }
    if record.timing is not None:
        settings = record.timing.settings
        facts["timing settings"] = (
            f"warm-up {settings.warmup_runs}, min runs {settings.min_runs}, min {settings.min_secs:g} s"
        )
        facts["thermal"] = f"{record.timing.thermal_before or 'n/a'} → {record.timing.thermal_after or 'n/a'}"
    return pd.DataFrame({"field": list(facts), "value": [str(v) for v in facts.values()]})
