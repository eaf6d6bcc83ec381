"""Cached loading through ``results.Store``: the dashboard's only way to the records.

Frames are cached with ``st.cache_data`` keyed by the store URL and its record count: the store is
append-only (re-adding a record id is a no-op), so a new count is exactly "something new arrived"
and a page reload picks it up, while every rerun in between reuses the frame. A new count does not
reload the table: the server keeps the rows it holds (one :class:`_Held` per URL and column set) and
fetches only the rows stored after the last one it has (``Store.new_rows``), reloading everything
only when its row count falls short (a lower row committed late by a concurrent writer). The scatter
and bars use the store's flat columns only; record JSON is parsed only for one record's detail.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from common.errors import InputError
from results.analysis import simulated_from_model
from results.schema import RunRecord
from results.store import FLAT_COLUMNS, STORE_ENV, Store, resolve_url

# The flat columns the charts need; the Records page loads all of FLAT_COLUMNS.
PLOT_COLUMNS = [
    "record_id",
    "run_id",
    "variant",
    "recipe",
    "format",
    "sha256",
    "size_bytes",
    "runner",
    "device_id",
    "device_model",
    "delegate",
    "threads",
    "status",
    "fallback",
    "median_ms",
    "median_lo_ms",  # the noise band: latencies within it count as equal on a Pareto front
    "median_hi_ms",
    "p90_ms",
    "dataset_id",
    "map",
    "ar100",
    "identity_key",  # results.identity: "the same measurement" across runs
    "sustained",
]

_CATEGORICAL = ["run_id", "variant", "recipe", "format", "sha256", "runner", "device_id", "device_model",
                "delegate", "status", "dataset_id", "device", "model", "identity_key",
                "sustained"]  # fmt: skip

EMPTY_HELP = """\
Fill it by running the benchmark, which stores one record per artifact and target:

```bash
make benchmark                                   # the default plan (quick), end to end
make benchmark PLAN=smoke                        # about a minute: two tiny variants, three recipes
edgebench time model.tflite --delegate cpu,xnnpack --threads 1,4 --store {url}
```

Then reload this page.
"""


def store_url(argv: list[str] | None = None) -> str:
    """The store to show: ``--store URL`` after ``--`` on the command line, else ``$EDGEBENCH_STORE``,
    else the default SQLite file; always as a full SQLAlchemy URL."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--store")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return resolve_url(known.store or os.environ.get(STORE_ENV))


@st.cache_resource(show_spinner=False)
def open_store(url: str) -> Store:
    """One ``Store`` per URL for the whole server (it holds a connection pool)."""
    return Store(url)


def current_store() -> tuple[Store, int]:
    """The store and its record count, or an error box and a stopped script when it cannot open."""
    url = store_url()
    try:
        store = open_store(url)
        return store, store.count()
    except InputError as error:
        st.error(f"Cannot open the results store: {error}")
        st.stop()
        raise  # st.stop() raises; this line keeps type checkers honest


def require_records() -> tuple[Store, int]:
    """The store and its count; an empty store shows how to fill it and stops the page."""
    store, count = current_store()
    if count == 0:
        st.info(f"The results store `{store.url}` has no records yet.", icon=":material/inbox:")
        st.markdown(EMPTY_HELP.format(url=store.url))
        st.stop()
    return store, count


@st.cache_data(show_spinner="Loading records...", max_entries=4)
def plot_frame(url: str, count: int) -> pd.DataFrame:
    """The chart columns of every record, with display columns added (see :func:`add_labels`).

    ``count`` keys the cache (a new record invalidates the cached frame) and tells the held rows how far
    to catch up.
    """
    return add_labels(held_rows(url, PLOT_COLUMNS, count))


@dataclass
class _Held:
    """The rows a server process holds for one store URL and column set, oldest first."""

    frame: pd.DataFrame | None = None  # with the store's ``row`` counter column
    lock: threading.Lock = field(default_factory=threading.Lock)  # sessions share it; one catches up


@st.cache_resource(show_spinner=False, max_entries=8)
def _held(url: str, columns: tuple[str, ...]) -> _Held:
    del url, columns  # the cache key
    return _Held()


def held_rows(url: str, columns: list[str], count: int) -> pd.DataFrame:
    """Every record's ``columns``, catching up incrementally to a store holding ``count`` records.

    Only rows stored after the last one held are read; a full reload happens the first time and when
    the rows held plus the new ones fall short of ``count``.
    """
    held = _held(url, tuple(columns))
    store = open_store(url)
    with held.lock:
        frame = held.frame
        if frame is not None and len(frame) != count:
            new = store.new_rows(int(frame["row"].max()) if len(frame) else 0, columns)
            frame = pd.concat([frame, new], ignore_index=True) if len(new) else frame
            # Short: a lower row committed late. Long with nothing new: the store was replaced.
            if len(frame) < count or (len(frame) > count and not len(new)):
                frame = None
        if frame is None:
            frame = store.new_rows(0, columns)
        held.frame = frame
        return frame.drop(columns="row")


@st.cache_data(show_spinner=False, max_entries=64)
def _run_plot_frame(url: str, run_id: str, count: int) -> pd.DataFrame:
    del count
    return open_store(url).frame(run_id=run_id, columns=PLOT_COLUMNS)


def runs_plot_frame(url: str, count: int, run_ids: list[str]) -> pd.DataFrame:
    """The chart columns of the chosen runs' records (all records when none is chosen).

    Loading run by run keeps the first render of a 100,000-record store as fast as one run's worth:
    pages show the newest run by default and read everything only when asked to.
    """
    if not run_ids:
        return plot_frame(url, count)
    frames = [_run_plot_frame(url, run_id, count) for run_id in run_ids]
    return add_labels(pd.concat(frames, ignore_index=True))


@st.cache_data(show_spinner="Loading records...", max_entries=2)
def full_frame(url: str, count: int) -> pd.DataFrame:
    """Every flat column of every record, with display columns added."""
    return add_labels(held_rows(url, FLAT_COLUMNS, count))


@st.cache_data(show_spinner=False, max_entries=4)
def runs_frame(url: str, count: int) -> pd.DataFrame:
    """One row per run, newest first (``Store.runs()``), with a readable ``label``."""
    del count
    runs = open_store(url).runs()
    started = runs["started_at"].astype(str).str.slice(0, 16).str.replace("T", " ")
    plan = runs["plan"].fillna("no plan").astype(str)
    runs["label"] = runs["run_id"].astype(str) + " · " + started + " · " + plan
    return runs


@st.cache_data(show_spinner=False, max_entries=64)
def load_record(url: str, record_id: str) -> RunRecord | None:
    """One full record (samples, trace, tools, error); None if it is gone."""
    try:
        return open_store(url).record(record_id)
    except InputError:
        return None


def add_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Add the display columns the pages share.

    ``device``: the device model, or its id when the model is unknown; two devices of one model are
    told apart by their id. ``model``: "variant · recipe". ``size_mb``: decimal megabytes.
    ``simulated``: an emulator's or simulator's record (never on a phone's Pareto front).
    """
    df = df.copy()
    model = df["device_model"].astype("object").where(df["device_model"].notna(), df["device_id"])
    pairs = pd.DataFrame(
        {"label": model, "key": df["runner"].astype(str) + "/" + df["device_id"].astype(str)}
    )
    ambiguous = pairs.groupby("label")["key"].transform("nunique") > 1
    df["device"] = model.where(~ambiguous, model + " · " + df["device_id"].astype(str)).astype(str)
    variant = df["variant"].astype("object").where(df["variant"].notna(), "(unknown model)")
    df["model"] = variant.astype(str) + " · " + df["recipe"].fillna("(own file)").astype(str)
    df["size_mb"] = df["size_bytes"] / 1e6
    df["fallback"] = df["fallback"].fillna(False).astype(bool)
    df["simulated"] = simulated_from_model(df["device_model"])  # issue 20: apart from phones
    # Few distinct values per column: categories make the group-bys behind every chart ~2x faster.
    for column in _CATEGORICAL:
        if column in df:
            df[column] = df[column].astype("category")
    return df
