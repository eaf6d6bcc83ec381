"""Sustained runs for the dashboard: a table of their figures, traces against time, energy against accuracy.

Pure functions over ``RunRecord`` lists (the page loads them through ``dashboard.data``), so they are
tested without Streamlit.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts import PALETTE
from results.analysis import pareto_front
from results.schema import RunRecord

TABLE_COLUMNS = [
    "label",
    "median_ms",
    "throttle_onset_s",
    "above_idle_mw",
    "energy_mj",
    "drain_pct_h",
    "dropped_frames",
    "max_temp_c",
    "energy",
]


def label(record: RunRecord) -> str:
    """``device · variant · recipe · delegate xN · run`` (unique enough to pick records by)."""
    device = record.target.device_model or record.target.device_id
    variant = record.model.variant or record.artifact.path
    return (
        f"{device} · {variant} · {record.artifact.recipe or 'own file'} · "
        f"{record.target.delegate.value} x{record.target.threads} · {record.run_id}"
    )


def sustained_table(records: list[RunRecord], accuracy: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """One row per sustained record: figures, energy status, and mAP / AR@100 of its artifact.

    Args:
        records: Records with a sustained timing trace.
        accuracy: sha256 -> (map, ar100) of the artifact, from any record of it that has accuracy.
    """
    rows = []
    for record in records:
        energy = record.energy
        figures = energy.figures if energy is not None else None
        temps = [t for _, t in record.timing.sustained.temperatures]
        acc = accuracy.get(record.artifact.sha256, (None, None))
        rows.append(
            {
                "record_id": record.record_id,
                "label": label(record),
                "device": record.target.device_model or record.target.device_id,
                "variant": record.model.variant or record.artifact.path,
                "recipe": record.artifact.recipe or "own file",
                "median_ms": record.timing.median_ms,
                "throttle_onset_s": figures.throttle_onset_s if figures else None,
                "above_idle_mw": figures.above_idle_mw if figures else None,
                "energy_mj": figures.energy_per_inference_mj if figures else None,
                "drain_pct_h": figures.drain_pct_per_hour if figures else None,
                "dropped_frames": record.timing.sustained.dropped_frames,
                "max_temp_c": max(temps) if temps else None,
                "energy": energy.status.value if energy is not None else "not sampled",
                "reason": energy.reason if energy is not None else None,
                "map": acc[0],
                "ar100": acc[1],
            }
        )
    return pd.DataFrame(rows, columns=[*TABLE_COLUMNS, "record_id", "device", "variant", "recipe", "reason",
                                       "map", "ar100"])  # fmt: skip


def traces_figure(records: list[RunRecord]) -> go.Figure:
    """Latency, temperature and power against time, one colour per record, overlaid on shared time."""
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=("Latency (ms)", "Temperature (°C)", "Power (mW)"),
    )
    for index, record in enumerate(records):
        colour = PALETTE[index % len(PALETTE)]
        name = label(record)
        trace = record.timing.sustained
        common = {"line": {"color": colour}, "legendgroup": name, "mode": "lines"}
        figure.add_trace(
            go.Scatter(x=trace.sample_times_s, y=record.timing.samples_ms, name=name, **common), row=1, col=1
        )
        if trace.temperatures:
            times, temps = zip(*trace.temperatures, strict=True)
            figure.add_trace(
                go.Scatter(x=times, y=temps, name=name, showlegend=False, **common), row=2, col=1
            )
        energy = record.energy
        if energy is not None and energy.trace is not None:
            power = energy.trace
            figure.add_trace(
                go.Scatter(x=power.times_s, y=power.power_mw, name=name, showlegend=False, **common),
                row=3,
                col=1,
            )
            if energy.figures is not None and energy.figures.idle_mw is not None:
                figure.add_trace(
                    _idle_line(energy.figures.idle_mw, trace.duration_secs, name, common), row=3, col=1
                )
    figure.update_xaxes(title_text="seconds since the run started", row=3, col=1)
    figure.update_layout(height=760, legend={"orientation": "h", "y": -0.12}, margin={"t": 40})
    return figure


def _idle_line(idle_mw: float, secs: float, name: str, common: dict) -> go.Scatter:
    """The idle baseline as a dotted level line under a record's power trace."""
    style = {**common, "line": {**common["line"], "dash": "dot"}}
    return go.Scatter(x=[0, secs], y=[idle_mw, idle_mw], name=f"{name} idle", showlegend=False, **style)


def energy_points(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows with energy and accuracy, flagged ``pareto`` per device (less energy, more accuracy)."""
    points = table.dropna(subset=["energy_mj", metric]).copy()
    if points.empty:
        return points.assign(pareto=pd.Series(dtype=bool))
    points["pareto"] = pareto_front(points, ["energy_mj"], metric, group_by=["device"])
    return points


def energy_figure(points: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """Accuracy against energy per inference: one colour per device, its Pareto front as a line."""
    figure = go.Figure()
    for index, (device, rows) in enumerate(points.groupby("device", sort=True)):
        colour = PALETTE[index % len(PALETTE)]
        figure.add_trace(
            go.Scatter(
                x=rows["energy_mj"],
                y=rows[metric] * 100.0,
                mode="markers",
                name=str(device),
                legendgroup=str(device),
                marker={
                    "color": colour,
                    "size": 10,
                    "line": {"color": "#222", "width": rows["pareto"] * 1.8},
                },
                text=rows["variant"].astype(str) + " · " + rows["recipe"].astype(str),
                hovertemplate="%{text}<br>%{x:.2f} mJ per inference · %{y:.1f}<extra></extra>",
            )
        )
        front = rows[rows["pareto"]].sort_values("energy_mj")
        figure.add_trace(
            go.Scatter(
                x=front["energy_mj"],
                y=front[metric] * 100.0,
                mode="lines",
                line={"color": colour, "shape": "hv"},
                legendgroup=str(device),
                showlegend=False,
                hoverinfo="skip",
            )
        )
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": "energy per inference above idle (mJ)"}, "type": "log"},
        yaxis={"title": {"text": metric}},
        height=480,
    )
    return figure
