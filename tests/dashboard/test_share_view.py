"""The record view gives an artifact's share of its fp32 file's mAP with the interval over the images."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from results.schema import AccuracyInfo, ArtifactInfo, RunRecord, ShareInfo, Status, TargetInfo, Timing
from results.store import STORE_ENV, Store
from tests.dashboard.test_pages import APP, TIMEOUT

SHARE = ShareInfo(
    reference_recipe="tflite_fp32",
    reference_sha256="cd" * 32,
    reference_map=0.169,
    share=0.985,
    low=0.960,
    high=1.006,
    level=0.9,
    resamples=1000,
)
METRICS = dict.fromkeys(
    ("map50", "map75", "map_small", "map_medium", "map_large", "ar1", "ar10", "ar100"), 0.3
)


def test_record_view_shows_the_share_of_the_fp32_map_and_its_interval(monkeypatch, tmp_path):
    accuracy = AccuracyInfo(dataset_id="synth", num_images=200, map=0.1665, share=SHARE, **METRICS)
    record = RunRecord(
        run_id="bench-1",
        artifact=ArtifactInfo(recipe="tflite_int8", path="m.tflite", sha256="ab" * 32, size_bytes=10),
        target=TargetInfo(runner="host", delegate="cpu", threads=1),
        timing=Timing(samples_ms=[2.0, 2.1, 1.9]),
        accuracy=accuracy,
        status=Status.OK,
    )
    url = f"sqlite:///{tmp_path / 'share.sqlite'}"
    store = Store(url)
    store.add(record)
    store.close()
    monkeypatch.setenv(STORE_ENV, url)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.switch_page("views/records.py").run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["of fp32 mAP"] == "98.5%"
    captions = " ".join(c.value for c in app.caption)
    assert "Keeps 98.5% of the mAP of its tflite_fp32 file (0.169)" in captions
    assert "90% interval 96.0-100.6% over 1000 paired resamples of 200 images" in captions
