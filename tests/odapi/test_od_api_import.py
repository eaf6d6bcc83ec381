"""Importing OD API model-zoo checkpoints: every variable consumed, outputs equal to a NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bench.data.coco_labels import COCO_NAMES, UNUSED, labelmap_lines
from bench.models.pretrained.od_api import (
    config_for_checkpoint,
    import_od_api_checkpoint,
)
from bench.models.pretrained.od_api_table import checkpoint_table
from bench.models.registry import build_model, get_config
from bench.training.init_spec import pipeline_config, resolve_checkpoint
from common.errors import InputError

# The OD API's BatchNorm epsilon: the ssdlite_mobilenet_v3 config's conv_hyperparams (0.001).
EPS = 1e-3


def _bn(x, tensors, scope, eps=EPS):
    mean, var = tensors[f"{scope}/BatchNorm/moving_mean"], tensors[f"{scope}/BatchNorm/moving_variance"]
    gamma, beta = tensors[f"{scope}/BatchNorm/gamma"], tensors[f"{scope}/BatchNorm/beta"]
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _hswish(x):
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _depthwise(x, kernel, stride=1):
    return tf.nn.depthwise_conv2d(x, kernel, [1, stride, stride, 1], "SAME").numpy()


def _conv(x, kernel, stride=1):
    return tf.nn.conv2d(x, kernel, stride, "SAME").numpy()


def _outputs(model, names, images):
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return [np.asarray(t) for t in probe(images, training=False)]


def test_v3_small_imports_every_variable_and_matches_the_reference(v3_small, write_checkpoint):
    model, config, table = v3_small
    extra = {
        "global_step": np.array(5, np.int64),
        f"{table[0].name}/Momentum": np.zeros(table[0].shape, np.float32),
        f"{table[0].name}/ExponentialMovingAverage": np.zeros(table[0].shape, np.float32),
    }
    prefix, tensors = write_checkpoint(table, extra=extra)
    report = import_od_api_checkpoint(model, config, prefix)

    assert report.loaded == len(table) == 350
    assert set(report.ignored) == set(extra)
    assert report.class_head_loaded and report.labels[0] == "person" and report.labels[11] == UNUSED
    for entry in table:  # every variable landed where the table says
        layer = model.get_layer(entry.layer)
        weight = next(w for w in layer.weights if w.name.split("/")[-1].startswith(entry.weight + ":"))
        np.testing.assert_array_equal(weight.numpy(), tensors[entry.name])

    images = np.random.default_rng(1).uniform(-1, 1, (2, 320, 320, 3)).astype(np.float32)
    stem, block1, feature, boxes = _outputs(
        model,
        ["mnv3s_block0_hswish_qa", "mnv3s_block1_depthwise_relu", "extra0_project_relu6", "box_encodings"],
        images,
    )
    # First layers, from the checkpoint tensors: Conv (3x3/2) + BN + hard-swish, then the first
    # bottleneck's depthwise 3x3/2 + BN + ReLU (slim V3_SMALL: no expansion in op 0).
    scope = "FeatureExtractor/MobilenetV3"
    ref_stem = _hswish(_bn(_conv(images, tensors[f"{scope}/Conv/weights"], 2), tensors, f"{scope}/Conv"))
    np.testing.assert_allclose(stem, ref_stem, rtol=1e-4, atol=1e-4)
    dw = f"{scope}/expanded_conv/depthwise"
    ref_block1 = np.maximum(_bn(_depthwise(ref_stem, tensors[f"{dw}/depthwise_weights"], 2), tensors, dw), 0)
    np.testing.assert_allclose(block1, ref_block1, rtol=1e-4, atol=1e-4)

    # Box predictor of the third feature map (5x5): depthwise 3x3 + BN + ReLU6, 1x1 conv + biases.
    head = "BoxPredictor_2/BoxEncodingPredictor"
    x = np.clip(
        _bn(
            _depthwise(feature, tensors[f"{head}_depthwise/depthwise_weights"]), tensors, f"{head}_depthwise"
        ),
        0,
        6,
    )
    ref = _conv(x, tensors[f"{head}/weights"]) + tensors[f"{head}/biases"]
    sizes, per_cell = config.feature_map_sizes, config.anchors.boxes_per_cell()
    start = sum(s * s * n for s, n in zip(sizes[:2], per_cell[:2], strict=True))
    count = sizes[2] ** 2 * per_cell[2]
    np.testing.assert_allclose(
        boxes[:, start : start + count], ref.reshape(2, count, 4), rtol=1e-4, atol=1e-4
    )


def test_a_stray_variable_is_named_and_nothing_is_loaded(v3_small, write_checkpoint):
    model, config, table = v3_small
    before = [w.numpy() for w in model.weights]
    prefix, _ = write_checkpoint(
        table, extra={"FeatureExtractor/MobilenetV3/bogus/weights": np.ones(3, np.float32)}
    )
    with pytest.raises(InputError, match="FeatureExtractor/MobilenetV3/bogus/weights"):
        import_od_api_checkpoint(model, config, prefix)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights, strict=True))


def test_a_missing_variable_is_named(v3_small, write_checkpoint):
    model, config, table = v3_small
    gone = "BoxPredictor_4/ClassPredictor/biases"
    prefix, _ = write_checkpoint(table, drop={gone})
    with pytest.raises(InputError, match=f"missing 1 variable.*{gone}"):
        import_od_api_checkpoint(model, config, prefix)


def test_a_wrong_shape_is_named(v3_small, write_checkpoint):
    model, config, table = v3_small
    name = "FeatureExtractor/MobilenetV3/expanded_conv_3/project/weights"
    prefix, _ = write_checkpoint(table, extra={name: np.zeros((1, 1, 96, 41), np.float32)})
    with pytest.raises(InputError, match=f"wrong shape.*{name}"):
        import_od_api_checkpoint(model, config, prefix)


def test_a_model_zoo_folder_and_its_pipeline_config_are_read(v3_small, write_checkpoint, tmp_path):
    model, config, table = v3_small
    write_checkpoint(table)
    (tmp_path / "pipeline.config").write_text(
        "model { ssd { image_resizer { fixed_shape_resizer { height: 300 width: 300 } }\n"
        "anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.9\n"
        "aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0\n"
        "aspect_ratios: 0.3333 } } } }"
    )
    report = import_od_api_checkpoint(model, config, tmp_path)
    notes = " | ".join(report.anchor_differences)
    assert "checkpoint trained at 300x300, model built at 320x320" in notes
    assert "max_scale: checkpoint 0.9, model 0.95" in notes
    assert "aspect ratio: checkpoint 0.3333, model 0.333333" in notes
    assert "min_scale" not in notes


def test_other_class_count_keeps_the_fresh_class_head(write_checkpoint):
    config = get_config("ssdlite_mobilenet_v3_small", num_classes=3)
    model = build_model(config)
    fresh = model.get_layer("head0_class").get_weights()
    prefix, tensors = write_checkpoint(checkpoint_table(config))
    report = import_od_api_checkpoint(model, config, prefix)
    assert not report.class_head_loaded and "91 class slots, the model 4" in report.class_head_note
    assert report.labels == () and report.loaded == 350 - 12
    for got, want in zip(model.get_layer("head0_class").get_weights(), fresh, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(  # the depthwise part of the class head is not class-specific
        model.get_layer("head0_class_depthwise_dwconv").get_weights()[0],
        tensors["BoxPredictor_0/ClassPredictor_depthwise/depthwise_weights"],
    )


def test_object_based_and_missing_checkpoints_stop_with_one_line(tmp_path):
    config = get_config("ssdlite_mobilenet_v3_small")
    with pytest.raises(InputError, match=f"checkpoint: checkpoint {tmp_path} does not exist"):
        import_od_api_checkpoint(None, config, tmp_path)
    ckpt = tf.train.Checkpoint(model=tf.Module())
    ckpt.model.v = tf.Variable(1.0)
    prefix = ckpt.write(str(tmp_path / "checkpoint" / "ckpt-0"))
    with pytest.raises(
        InputError, match="TF2 zoo's ssd_mobilenet_v2_320x320 checkpoint needs a mobilenet_v2"
    ):
        import_od_api_checkpoint(None, config, prefix)


def test_mobiledet_tarball_layout_resolves_to_the_float_checkpoint(write_checkpoint, tmp_path):
    one = {"x": np.zeros(1, np.float32)}
    for name in ("uint8/model.ckpt-400000", "fp32/model.ckpt-0", "fp32/model.ckpt-400000"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        write_checkpoint([], extra=one, name=name)
    (tmp_path / "fp32" / "pipeline.config").write_text("")
    prefix = resolve_checkpoint(tmp_path)
    assert prefix == tmp_path / "fp32" / "model.ckpt-400000"
    assert pipeline_config(prefix) == tmp_path / "fp32" / "pipeline.config"


def test_width_other_than_one_is_refused():
    with pytest.raises(InputError, match="depth multiplier 1.0"):
        checkpoint_table(get_config("ssdlite_mobilenet_v3_small", width_multiplier=0.5))


def test_coco_label_map_has_90_ids_with_10_unused():
    lines = labelmap_lines()
    assert len(lines) == 91 and len(COCO_NAMES) == 80
    assert lines.count(UNUSED) == 11 and lines[1] == "person" and lines[90] == "toothbrush"
    assert lines[84] == "book"  # the id the published COCO TFLite predicts for books


VARIANTS = [
    "ssd_mobilenet_v2",
    "ssdlite_mobilenet_v2",
    "ssdlite_mobilenet_v3_large",
    "ssdlite_mobiledet_cpu",
    "ssdlite_mobiledet_edgetpu",
    "ssdlite_mobiledet_dsp",
    "ssdlite_mobiledet_gpu",
]


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_seed_variant_imports(variant, write_checkpoint):
    config = get_config(variant)
    model = build_model(config)
    table = checkpoint_table(config)
    prefix, tensors = write_checkpoint(table)
    report = import_od_api_checkpoint(model, config, prefix)
    assert report.loaded == len(table) and report.class_head_loaded and not report.ignored
    for entry in table:
        weight = next(
            w
            for w in model.get_layer(entry.layer).weights
            if w.name.split("/")[-1].startswith(entry.weight + ":")
        )
        np.testing.assert_array_equal(weight.numpy(), tensors[entry.name])


@pytest.mark.slow
def test_tf2_object_based_checkpoint_imports(write_tf2_checkpoint, random_values, tmp_path):
    from bench.models.pretrained.od_api_tf2_table import tf2_checkpoint_table

    config = get_config("ssd_mobilenet_v2").replace(depthwise_extras=False, head_kernel=1)
    table = tf2_checkpoint_table(config)
    tensors = random_values(table)
    folder = tmp_path / "ssd_mobilenet_v2_320x320_coco17_tpu-8"
    write_tf2_checkpoint(tensors, f"{folder.name}/checkpoint/ckpt-0")
    assert config_for_checkpoint(get_config("ssd_mobilenet_v2"), folder) == config  # input 300 kept
    resized = config_for_checkpoint(get_config("ssd_mobilenet_v2", input_size=320), folder)
    assert (resized.input_size, resized.depthwise_extras, resized.head_kernel) == (320, False, 1)
    model = build_model(config)
    report = import_od_api_checkpoint(model, config, folder)
    assert report.loaded == len(table) == 324 and set(report.ignored) == {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    assert report.class_head_loaded and not report.anchor_differences[1:]  # only the 0.3333 ratio note

    images = np.random.default_rng(2).uniform(-1, 1, (1, 300, 300, 3)).astype(np.float32)
    stem, feature, boxes = _outputs(
        model, ["mnv2_block0_relu6", "extra0_reduce_relu6", "box_encodings"], images
    )
    backbone = "model/_feature_extractor/mobilenet_v2/layer_with_weights-{}/{}/.ATTRIBUTES/VARIABLE_VALUE"
    bn = {w: tensors[backbone.format(1, w)] for w in ("gamma", "beta", "moving_mean", "moving_variance")}
    x = _conv(images, tensors[backbone.format(0, "kernel")], 2)
    ref_stem = np.clip(
        (x - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + EPS) * bn["gamma"] + bn["beta"], 0, 6
    )
    np.testing.assert_allclose(stem, ref_stem, rtol=1e-4, atol=1e-4)
    # Third map: the regular 3x3/2 extra conv + BN + ReLU6, then the 1x1 box predictor.
    gen = "model/_feature_extractor/feature_map_generator/convolutions/2/{}/{}/.ATTRIBUTES/VARIABLE_VALUE"
    x = _conv(feature, tensors[gen.format(3, "kernel")], 2)
    bn = {w: tensors[gen.format(4, w)] for w in ("gamma", "beta", "moving_mean", "moving_variance")}
    x = np.clip(
        (x - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + EPS) * bn["gamma"] + bn["beta"], 0, 6
    )
    head = "model/_box_predictor/_prediction_heads/box_encodings/2/_box_encoder_layers/0/{}"
    head += "/.ATTRIBUTES/VARIABLE_VALUE"
    ref = _conv(x, tensors[head.format("kernel")]) + tensors[head.format("bias")]
    sizes, per_cell = config.feature_map_sizes, config.anchors.boxes_per_cell()
    start = sum(s * s * n for s, n in zip(sizes[:2], per_cell[:2], strict=True))
    count = sizes[2] ** 2 * per_cell[2]
    np.testing.assert_allclose(
        boxes[:, start : start + count], ref.reshape(1, count, 4), rtol=1e-4, atol=1e-4
    )
