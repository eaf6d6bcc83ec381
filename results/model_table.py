"""The models table: one row per model x recipe with accuracy, size, compute and the median latency on
each device and delegate, the zoo's models and the user's own side by side (the table for a slide).

Pure pandas over ``Store.frame()`` columns (:data:`MODEL_TABLE_COLUMNS`). A user's own model is the
record variant ``user:<name>`` (``bench.pipeline.user_models``); a file timed outside any plan has no
variant and is named by its file.
"""

from __future__ import annotations

import pandas as pd

from common.errors import InputError

USER_PREFIX = "user:"  # ModelInfo.variant of a user's model in a plan
AS_GIVEN = "as given"  # the recipe column of a user's file measured unchanged (ArtifactInfo.recipe None)
MODEL_TABLE_COLUMNS = [
    "variant",
    "recipe",
    "artifact_path",
    "size_bytes",
    "params",
    "madds",
    "runner",
    "device_id",
    "device_model",
    "delegate",
    "threads",
    "status",
    "median_ms",
    "map",
    "ar100",
    "dataset_id",
]
# The leading columns of the table, before one latency column per device / delegate.
FIXED_COLUMNS = ["source", "model", "recipe", "map", "ar100", "size_mb", "params_m", "madds_m"]


def device_column(df: pd.DataFrame) -> pd.Series:
    """``<device> · <delegate>`` of each row: the device model (its id when unknown, both when two
    devices share a model) and the delegate."""
    device = df["device_model"].astype("object").where(df["device_model"].notna(), df["device_id"])
    key = df["runner"].astype(str) + "/" + df["device_id"].astype(str)
    shared = key.groupby(device.astype(str)).transform("nunique") > 1
    device = device.astype(str).where(~shared, device.astype(str) + " " + df["device_id"].astype(str))
    return device + " · " + df["delegate"].astype(str)


def _names(df: pd.DataFrame) -> pd.DataFrame:
    """source (zoo / user), model (variant without the user prefix, or the file name) and recipe."""
    variant = df["variant"].astype("object")
    files = df["artifact_path"].astype(str).str.rsplit("/", n=1).str[-1]
    user = variant.astype(str).str.startswith(USER_PREFIX) | variant.isna()
    model = variant.astype(str).str.removeprefix(USER_PREFIX).where(variant.notna(), files)
    recipe = df["recipe"].astype("object").where(df["recipe"].notna(), AS_GIVEN).astype(str)
    return pd.DataFrame({"source": user.map({True: "user", False: "zoo"}), "model": model, "recipe": recipe})


def models_table(df: pd.DataFrame, dataset_id: str | None = None) -> pd.DataFrame:
    """One row per model x recipe (see the module docstring).

    Accuracy and size are medians over the records (the same artifact measured in several runs);
    params and MAdds are the model's (BN-folded params, conv and dense multiply-adds). Each latency
    column holds the median of the ``ok`` records' median latency on that device and delegate, at
    the fastest thread count. Model x recipe pairs with neither an ``ok`` timing nor an accuracy
    (every target unsupported, or failed) are left out.

    Args:
        df: Flat records with :data:`MODEL_TABLE_COLUMNS`.
        dataset_id: Take accuracies measured on this dataset only (mAP on two datasets does not compare);
            None takes every accuracy.

    Returns:
        :data:`FIXED_COLUMNS` then one ``<device> · <delegate>`` column of milliseconds per device and
        delegate seen, rows sorted by source (zoo first), model and recipe.
    """
    missing = [c for c in MODEL_TABLE_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"models table: the records lack columns {missing}")
    keys = ["source", "model", "recipe"]
    if dataset_id is not None:
        same = df["dataset_id"].astype("object").eq(dataset_id)
        df = df.assign(map=df["map"].where(same), ar100=df["ar100"].where(same))
    work = pd.concat([_names(df), df.drop(columns=["recipe"]).reset_index(drop=True)], axis=1)
    sized = work.assign(size_bytes=work["size_bytes"].where(work["size_bytes"] > 0))
    fixed = sized.groupby(keys, sort=False).agg(
        map=("map", "median"),
        ar100=("ar100", "median"),
        size_mb=("size_bytes", "median"),
        params_m=("params", "max"),
        madds_m=("madds", "max"),
    )
    fixed[["size_mb", "params_m", "madds_m"]] = fixed[["size_mb", "params_m", "madds_m"]] / 1e6
    ok = work[work["status"].astype(str).eq("ok") & work["median_ms"].notna()]
    ok = ok.assign(column=device_column(ok))
    per_threads = ok.groupby([*keys, "column", "threads"], sort=False)["median_ms"].median()
    fastest = per_threads.groupby(level=[0, 1, 2, 3]).min().unstack("column")
    table = fixed.join(fastest, how="left")
    latency = sorted(str(c) for c in fastest.columns)
    table = table[table[latency].notna().any(axis=1) | table["map"].notna()] if latency else table
    table = table.reset_index()
    order = table["source"].map({"zoo": 0, "user": 1})
    table = table.assign(_order=order).sort_values(["_order", "model", "recipe"], kind="stable")
    return table.drop(columns="_order")[[*FIXED_COLUMNS, *latency]].reset_index(drop=True)
