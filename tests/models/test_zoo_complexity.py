"""Complexity counts and `edgebench models` against the reference table (reference/detectors.md)."""

from __future__ import annotations

import argparse
import json

import pytest
import tf_keras as keras

from bench.commands import models as models_command
from bench.models.complexity import count_complexity
from common.errors import InputError

# variant: (input size, anchors, trainable, incl. BN stats, BN-folded or None, MAdds)
TARGETS = {
    "ssdlite_mobilenet_v2": (320, 2034, 4_500_543, 4_551_295, 4_475_167, 0.804e9),
    "ssdlite_mobilenet_v3_large": (320, 2034, 3_248_255, 3_281_199, 3_231_783, 0.507e9),
    "ssdlite_mobilenet_v3_small": (320, 2034, 1_785_743, 1_806_207, 1_775_511, 0.162e9),
    "ssdlite_mobiledet_cpu": (320, 2034, 4_165_055, 4_205_423, 4_144_871, 0.444e9),
    "ssdlite_mobiledet_edgetpu": (320, 2034, 4_146_543, 4_196_095, 4_121_767, 1.533e9),
    "ssdlite_mobiledet_dsp": (320, 2034, 7_102_079, 7_159_343, 7_073_447, 2.816e9),
    "ssdlite_mobiledet_gpu": (320, 2034, 13_069_247, 13_109_151, 13_049_295, 5.073e9),
    "ssd_mobilenet_v2": (300, 1917, 16_837_567, 16_876_287, None, 1.875e9),
}


def run_models(capsys, *argv: str) -> list[dict]:
    """`edgebench models --json ...` through the command's own parser; returns the JSON rows."""
    parser = argparse.ArgumentParser()
    models_command.add_parser(parser.add_subparsers(dest="command"))
    assert models_command.run(parser.parse_args(["models", "--json", *argv])) == 0
    return json.loads(capsys.readouterr().out)


def assert_row(row: dict) -> None:
    size, anchors, trainable, with_stats, folded, madds = TARGETS[row["name"]]
    assert row["input_size"] == size and row["num_classes"] == 90
    assert row["anchors"] == anchors
    assert row["params_trainable"] == pytest.approx(trainable, rel=0.01)
    assert row["params_with_bn_stats"] == pytest.approx(with_stats, rel=0.01)
    if folded is not None:
        assert row["params_bn_folded"] == pytest.approx(folded, rel=0.01)
    assert row["madds"] == pytest.approx(madds, rel=0.01)


def test_counting_rules_on_a_small_model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)  # 4*4*27*4 = 1728
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)  # 4*4*9*4 = 576
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5)(x)  # 20
    counts = count_complexity(keras.Model(inputs, x))
    assert counts.madds == 1728 + 576 + 20
    assert counts.params_trainable == 108 + 8 + 36 + 25
    assert counts.params_with_bn_stats == counts.params_trainable + 8
    assert counts.params_bn_folded == counts.params_trainable - 4


def test_cli_row_of_ssdlite_mobilenet_v2(capsys):
    (row,) = run_models(
        capsys, "--input-size", "320", "--num-classes", "90", "--filter", "ssdlite_mobilenet_v2"
    )
    assert_row(row)
    assert set(row) >= {
        "name",
        "anchors",
        "params_trainable",
        "params_with_bn_stats",
        "params_bn_folded",
        "madds",
    }


def test_cli_tiny_rows_and_table(capsys):
    (row,) = run_models(capsys, "--filter", "tiny_ssdlite_mobilenet_v3_s*", "--tiny", "--num-classes", "5")
    assert row["name"] == "tiny_ssdlite_mobilenet_v3_small"
    assert row["anchors"] == 204 and row["num_classes"] == 5
    parser = argparse.ArgumentParser()
    models_command.add_parser(parser.add_subparsers(dest="command"))
    assert (
        models_command.run(parser.parse_args(["models", "--tiny", "--filter", "tiny_ssdlite_mobiledet_cpu"]))
        == 0
    )
    out = capsys.readouterr().out
    assert "tiny_ssdlite_mobiledet_cpu" in out and "MAdds" in out


def test_cli_bad_filter_names_the_allowed_variants():
    parser = argparse.ArgumentParser()
    models_command.add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(InputError, match="--filter: got 'yolo'.*ssdlite_mobiledet_gpu"):
        models_command.run(parser.parse_args(["models", "--filter", "yolo"]))
    with pytest.raises(InputError, match="no variant matches"):
        models_command.run(parser.parse_args(["models", "--filter", "yolo*"]))
    with pytest.raises(InputError, match="input_size"):
        models_command.run(
            parser.parse_args(
                ["models", "--filter", "tiny_ssdlite_mobilenet_v2", "--tiny", "--input-size", "4"]
            )
        )


@pytest.mark.slow
def test_cli_every_reference_row(capsys):
    rows = run_models(capsys, "--input-size", "320", "--num-classes", "90", "--filter", "ssdlite_*")
    assert sorted(row["name"] for row in rows) == sorted(n for n in TARGETS if n.startswith("ssdlite_"))
    for row in rows:
        assert_row(row)
    (row,) = run_models(capsys, "--input-size", "300", "--num-classes", "90", "--filter", "ssd_mobilenet_v2")
    assert_row(row)
