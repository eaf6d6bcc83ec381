"""The byte breakdown of .tflite files (behind issue #5's size analysis)."""

from __future__ import annotations

from bench.scripts import tflite_bytes


def test_float_and_int8_breakdowns(tflite_models, capsys):
    float_info = tflite_bytes.breakdown(tflite_models["tiny_float"])
    int8_info = tflite_bytes.breakdown(tflite_models["tiny_int8"])
    assert float_info["quantization_bytes"] == 0 and float_info["tensor_bytes"]["FLOAT32"] > 0
    assert int8_info["tensor_bytes"]["INT8"] > 0
    # Per-channel conv weights: a float32 scale and an int64 zero point per channel, at least.
    assert int8_info["quantization_bytes"] >= 12 * int8_info["per_channel_channels"] > 0
    parts = sum(int8_info["tensor_bytes"].values()) + int8_info["quantization_bytes"]
    assert parts < int8_info["file_bytes"]
    assert tflite_bytes.main([str(tflite_models["tiny_int8"])]) == 0
    assert "per-channel channels" in capsys.readouterr().out


def test_missing_file_exits_2(tmp_path, capsys):
    assert tflite_bytes.main([str(tmp_path / "absent.tflite")]) == 2
    assert "no such file" in capsys.readouterr().err
