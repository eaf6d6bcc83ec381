"""The models table (results.model_table) and the dashboard's Models page (Streamlit AppTest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from results.model_table import FIXED_COLUMNS, models_table
from results.schema import (
    AccuracyInfo,
    ArtifactInfo,
    ErrorInfo,
    ModelInfo,
    RunRecord,
    Status,
    TargetInfo,
    Timing,
)
from results.store import STORE_ENV, Store
from tests.fixtures.records import fill_store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def _row(variant, recipe, device, delegate, threads, median, status="ok", **extra):
    base = {
        "variant": variant,
        "recipe": recipe,
        "artifact_path": f"/x/{variant}.{recipe}.tflite",
        "size_bytes": 2_000_000,
        "params": 3_000_000,
        "madds": 500_000_000,
        "runner": "adb",
        "device_id": device.lower().replace(" ", ""),
        "device_model": device,
        "delegate": delegate,
        "threads": threads,
        "status": status,
        "median_ms": median,
        "map": 0.3,
        "ar100": 0.4,
        "dataset_id": "coco",
    }
    return base | extra


def test_one_row_per_model_and_recipe_fastest_threads_per_device_and_delegate():
    df = pd.DataFrame(
        [
            _row("ssd", "tflite_int8", "Pixel 7", "cpu", 1, 20.0),
            _row("ssd", "tflite_int8", "Pixel 7", "cpu", 4, 8.0),
            _row("ssd", "tflite_int8", "Pixel 7", "cpu", 4, 10.0),  # a second run: median 9
            _row("ssd", "tflite_int8", "Pixel 7", "gpu", 1, 5.0, map=0.5),
            _row("user:mine", None, "Pixel 7", "cpu", 1, 30.0, params=None, madds=None, size_bytes=7e6),
            _row("user:mine", "tflite_fp32", "Pixel 7", "cpu", 1, None, status="unsupported", map=None),
            _row("ssd", "coreml_fp16", "Mac", "coreml_all", 1, None, status="failed", map=None),
        ]
    )
    table = models_table(df)
    assert list(table.columns) == [*FIXED_COLUMNS, "Pixel 7 · cpu", "Pixel 7 · gpu"]
    assert table[["source", "model", "recipe"]].values.tolist() == [
        ["zoo", "ssd", "tflite_int8"],
        ["user", "mine", "as given"],
    ]  # nothing ok and no accuracy: the unsupported and failed pairs are left out
    zoo, user = table.iloc[0], table.iloc[1]
    assert zoo["Pixel 7 · cpu"] == 9.0 and zoo["Pixel 7 · gpu"] == 5.0
    assert zoo["map"] == pytest.approx(0.3) and zoo["params_m"] == 3.0 and zoo["madds_m"] == 500.0
    assert user["Pixel 7 · cpu"] == 30.0 and user["size_mb"] == 7.0 and pd.isna(user["params_m"])
    assert pd.isna(user["Pixel 7 · gpu"])


def test_accuracy_of_another_dataset_is_left_out_and_same_model_devices_are_told_apart():
    df = pd.DataFrame(
        [
            _row("ssd", "tflite_fp32", "Pixel 7", "cpu", 1, 10.0, map=0.9, dataset_id="other"),
            _row("ssd", "tflite_fp32", "Pixel 7", "cpu", 1, 12.0, device_id="second"),
        ]
    )
    table = models_table(df, dataset_id="coco")
    assert table["map"].tolist() == [pytest.approx(0.3)]
    assert sorted(table.columns[len(FIXED_COLUMNS) :]) == ["Pixel 7 pixel7 · cpu", "Pixel 7 second · cpu"]


def _user_records(run_id: str) -> list[RunRecord]:
    model = ModelInfo(variant="user:my_detector", input_size=320, params=4_000_000)
    artifact = ArtifactInfo(path="/data/detect.tflite", sha256="ab" * 32, size_bytes=4_200_000)
    metrics = ("map", "map50", "map75", "map_small", "map_medium", "map_large", "ar1", "ar10", "ar100")
    accuracy = AccuracyInfo(dataset_id="synth", num_images=10, **dict.fromkeys(metrics, 0.42))
    ok = RunRecord(
        run_id=run_id,
        plan="mine",
        model=model,
        artifact=artifact,
        target=TargetInfo(runner="host", device_model="Test CPU", delegate="xnnpack", threads=2),
        timing=Timing(samples_ms=[3.0, 3.2, 3.1]),
        accuracy=accuracy,
        status=Status.OK,
    )
    unsupported = ok.model_copy(
        update={
            "record_id": "u" * 32,
            "artifact": artifact.model_copy(update={"recipe": "tflite_int8_qat", "sha256": ""}),
            "timing": None,
            "accuracy": None,
            "status": Status.UNSUPPORTED,
            "error": ErrorInfo(type="Unsupported", message="needs the zoo's training loop"),
        }
    )
    return [ok, unsupported]


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory) -> str:
    """Synthetic zoo records (tests.fixtures.records) plus a user model's records in the newest run."""
    path = tmp_path_factory.mktemp("models-page") / "store.sqlite"
    store = Store(str(path))
    fill_store(store, 300, seed=1, runs=1)
    (run_id,) = store.runs()["run_id"].tolist()
    store.add_all(_user_records(run_id))
    store.close()
    return str(path)


def _open(monkeypatch, url: str) -> AppTest:
    monkeypatch.setenv(STORE_ENV, url)
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    return app.switch_page("views/models.py").run()


def test_models_page_shows_the_users_model_beside_the_zoo(monkeypatch, mixed_store):
    app = _open(monkeypatch, mixed_store)
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value.startswith("Models")
    (frame,) = app.dataframe
    table = frame.value
    assert {"zoo", "user"} == set(table["source"])
    (user,) = table[table["source"] == "user"].itertuples()
    assert user.model == "my_detector" and user.recipe == "as given" and user.size_mb == pytest.approx(4.2)
    assert table["Test CPU · xnnpack"][user.Index] == pytest.approx(3.1)
    assert any("1 of your own models" in c.value for c in app.caption)
    assert app.get("download_button"), "no CSV download"
    app.multiselect(key="models-source").set_value(["user"]).run()
    assert not app.exception and len(app.dataframe[0].value) == 1


def test_models_page_on_an_empty_store_says_how_to_fill_it(monkeypatch, tmp_path):
    app = _open(monkeypatch, str(tmp_path / "empty.sqlite"))
    assert not app.exception
    assert any("no records yet" in info.value for info in app.info)
