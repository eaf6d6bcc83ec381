"""``edgebench inspect``: the byte breakdown of .tflite files (behind issue #5's size analysis)."""

from __future__ import annotations

import json

from bench.cli import main
from bench.tflite_bytes import breakdown


def test_float_and_int8_breakdowns(tflite_models):
    float_info = breakdown(tflite_models["tiny_float"])
    int8_info = breakdown(tflite_models["tiny_int8"])
    assert float_info.quantization_bytes == 0 and float_info.tensor_bytes["FLOAT32"] > 0
    assert int8_info.tensor_bytes["INT8"] > 0
    # Per-channel conv weights: a float32 scale and an int64 zero point per channel, at least.
    assert int8_info.quantization_bytes >= 12 * int8_info.per_channel_channels > 0
    parts = sum(int8_info.tensor_bytes.values()) + int8_info.quantization_bytes
    assert parts < int8_info.file_bytes
    assert float_info.ops.get("CONV_2D", 0) >= 1 and float_info.subgraphs == 1


def test_cli_table_and_json(tflite_models, capsys):
    assert main(["inspect", str(tflite_models["tiny_int8"]), str(tflite_models["detect_float"])]) == 0
    out = capsys.readouterr().out
    assert "tensor data INT8" in out and "per-channel channels" in out
    assert "TFLite_Detection_PostProcess x1" in out  # a custom op, by its name
    assert main(["inspect", "--json", str(tflite_models["tiny_float"])]) == 0
    (info,) = json.loads(capsys.readouterr().out)
    assert info["file_bytes"] == tflite_models["tiny_float"].stat().st_size


def test_missing_or_foreign_file_exits_2(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "absent.tflite")]) == 2
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "notes.tflite"
    other.write_text("not a model at all")
    assert main(["inspect", str(other)]) == 2
    assert "is not a .tflite file" in capsys.readouterr().err
