"""The record view shows a record's per-op-type profile (``edgebench time --profile``) and its noise band."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dashboard.record_detail import op_profile_table
from results.schema import ArtifactInfo, OpProfile, OpTypeTime, RunRecord, Status, TargetInfo, Timing
from results.store import STORE_ENV, Store
from tests.dashboard.test_pages import APP, TIMEOUT

PROFILE = OpProfile(
    method="each op type timed alone",
    model_ms=2.0,
    overhead_ms=0.001,
    ops=[
        OpTypeTime(op_type="CONV_2D", count=40, ms=1.0, delegated=40),
        OpTypeTime(op_type="TFLite_Detection_PostProcess", count=1, ms=0.5, delegated=0),
        OpTypeTime(op_type="QUANTIZE", count=1, ms=0.1, delegated=0),
    ],
)


def _record() -> RunRecord:
    samples = [2.0, 2.1, 1.9, 2.0, 2.2, 2.0, 1.95, 2.05, 2.0, 2.1]
    return RunRecord(
        run_id="time-1",
        artifact=ArtifactInfo(recipe="tflite_int8", path="m.tflite", sha256="ab" * 32, size_bytes=10),
        target=TargetInfo(runner="host", delegate="xnnpack", threads=1),
        timing=Timing(samples_ms=samples, round_sizes=[2] * 5, op_profile=PROFILE),
        status=Status.OK,
    )


def test_the_profile_table_gives_each_op_type_its_share_of_the_model():
    table = op_profile_table(PROFILE)
    assert table["op type"].tolist() == ["CONV_2D", "TFLite_Detection_PostProcess", "QUANTIZE"]
    assert table["share %"].tolist() == [50.0, 25.0, 5.0]
    assert table["delegated"].tolist() == [40, 0, 0]


def test_record_view_renders_the_op_profile_and_the_noise_band(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'profile.sqlite'}"
    store = Store(url)
    store.add(_record())
    store.close()
    monkeypatch.setenv(STORE_ENV, url)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.switch_page("views/records.py").run()
    assert not app.exception
    (frame,) = [f.value for f in app.dataframe if "op type" in f.value.columns]
    assert "TFLite_Detection_PostProcess" in set(frame["op type"])
    captions = " ".join(c.value for c in app.caption)
    assert "add up to 1.600 ms (80%)" in captions
    assert "5 interleaved rounds" in captions and "Noise band" in captions
