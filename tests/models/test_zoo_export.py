"""The export signature: TFLite_Detection_PostProcess, named outputs, float TFLite == Keras detections."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tiny_zoo import POSTPROCESS_OP, random_pixels, realistic_tiny, tflite_file

from bench.models.export import EXPORT_OUTPUTS, DetectionExport, implements_signature
from bench.models.postprocess import postprocess
from bench.models.registry import list_models
from common.detection import PostprocessSettings
from converters.tflite import op_tensor_types, run_signature

# One tiny variant per family runs by default; the rest with the slow tests.
FAST = ("tiny_ssdlite_mobilenet_v2", "tiny_ssdlite_mobiledet_cpu")
VARIANTS = [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in list_models("tiny_*")]


def _keras_detections(model, config, pixels, post: PostprocessSettings) -> dict[str, np.ndarray]:
    box_encodings, class_logits = model(config.preprocessing.apply(pixels[None]), training=False)
    out = postprocess(box_encodings, class_logits, config.generate_anchors(), post, config.matcher.box_scales)
    return {key: value.numpy() for key, value in out.items()}


def _assert_same_detections(got: dict, want: dict, tie: float = 1e-5) -> None:
    """Same detections in the same order, boxes within 1e-4.

    Two detections whose scores differ by less than ``tie`` may come out in either order: float
    rounding differs between TensorFlow's and XNNPack's kernels by about 1e-6.
    """
    count = int(got["num_detections"][0])
    assert count == int(want["num_detections"][0]) and count > 0
    scores = want["scores"][0, :count]
    order = np.arange(count)
    for i in range(count - 1):
        close = abs(scores[i] - scores[i + 1]) < tie
        if close and np.abs(got["boxes"][0, i] - want["boxes"][0, i + 1]).max() < 1e-4:
            order[i], order[i + 1] = order[i + 1], order[i]
    np.testing.assert_allclose(got["boxes"][0, :count], want["boxes"][0, order], atol=1e-4)
    np.testing.assert_array_equal(got["classes"][0, :count], want["classes"][0, order])
    np.testing.assert_allclose(got["scores"][0, :count], scores[order], atol=1e-4)


def test_implements_attribute_names_the_op_and_keeps_small_thresholds():
    text = implements_signature(PostprocessSettings(), 90, (10.0, 10.0, 5.0, 5.0))
    assert text.startswith('name: "TFLite_Detection_PostProcess"')
    for attr in (
        'key: "max_detections" value { i: 100 }',
        'key: "nms_score_threshold" value { f: 1e-08 }',
        'key: "nms_iou_threshold" value { f: 0.6 }',
        'key: "num_classes" value { i: 90 }',
        'key: "use_regular_nms" value { b: false }',
        'key: "h_scale" value { f: 5.0 }',
    ):
        assert attr in text


@pytest.mark.parametrize("name", VARIANTS)
def test_float_tflite_detections_equal_keras_detections(name, rng, tmp_path):
    config, model = realistic_tiny(name, rng)
    path = tflite_file(config, model, tmp_path)  # through converters.convert, as every artifact
    image = random_pixels(config, rng)
    got = run_signature(path, image)
    assert set(got) == set(EXPORT_OUTPUTS)
    assert got["boxes"].shape == (1, 100, 4) and got["num_detections"].shape == (1,)
    _assert_same_detections(got, _keras_detections(model, config, image, config.postprocess))
    ops = [op["op"] for op in op_tensor_types(str(path))]
    assert ops[-1] == POSTPROCESS_OP and ops.count(POSTPROCESS_OP) == 1


@pytest.mark.slow
# The prior (ModelConfig.class_bias_init) puts untrained scores near sigmoid(-4.6) = 0.01.
def test_thresholds_and_detection_count_are_configurable(rng, tmp_path):
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v2", rng)
    post = PostprocessSettings(score_threshold=0.012, iou_threshold=0.3, max_detections=7)
    path = tflite_file(config, model, tmp_path, post=post)
    image = random_pixels(config, rng)
    got = run_signature(path, image)
    assert got["boxes"].shape == (1, 7, 4)
    want = _keras_detections(model, config, image, post)
    _assert_same_detections(got, want)


# As above: untrained scores sit near 0.01.
@pytest.mark.parametrize(
    "options", [{}, {"max_detections": 7, "score_threshold": 0.012, "iou_threshold": 0.3}]
)
def test_signature_runs_in_tensorflow_too(options, rng):
    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v3_small", rng)
    post = PostprocessSettings(**{**config.postprocess.model_dump(), **options})
    export = DetectionExport(model, config, post)
    function = export.concrete_function()
    assert function.structured_input_signature[0][0].shape == (1, 96, 96, 3)
    assert "TFLite_Detection_PostProcess" in str(function.graph.as_graph_def().library)
    pixels = random_pixels(config, rng)
    image = config.preprocessing.apply(pixels[None])
    got = {key: value.numpy() for key, value in export.serve(tf.constant(image)).items()}
    assert got["boxes"].shape == (1, options.get("max_detections", 100), 4)
    eager = model(image, training=False)[0].numpy()
    graph = tf.function(lambda x: model(x, training=False)[0])(tf.constant(image)).numpy()
    assert np.abs(eager - graph).max() < 1e-3, (np.abs(eager).max(), np.abs(graph).max())
    _assert_same_detections(got, _keras_detections(model, config, pixels, post))


def _entries(out: dict, per_box: int) -> np.ndarray:
    """The valid entries of the op's outputs as rows (class, score, box), sorted by class then score."""
    count = int(out["num_detections"][0]) * per_box
    rows = np.column_stack([out["classes"][0, :count], out["scores"][0, :count], out["boxes"][0, :count]])
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def test_several_classes_per_box_match_keras_and_are_read_back(tmp_path, rng):
    """K = 3: the op writes each kept box three times, box-major; edgebench's reader takes all of them."""
    from bench.evaluation.tflite import TFLiteDetector, postprocess_options

    config, model = realistic_tiny("tiny_ssdlite_mobilenet_v2", rng)
    config = config.with_postprocess(PostprocessSettings(max_classes_per_detection=3))
    path = tflite_file(config, model, tmp_path)
    assert postprocess_options(path.read_bytes())["max_classes_per_detection"] == 3
    image = random_pixels(config, rng)
    got = run_signature(path, image)
    assert got["boxes"].shape == (1, 300, 4)
    want = _keras_detections(model, config, image, config.postprocess)
    count = int(want["num_detections"][0])
    assert count > 0 and int(got["num_detections"][0]) == count
    np.testing.assert_allclose(_entries(got, 3), _entries(want, 3), atol=1e-4)
    # Box-major: entries 0..2 are the best box with its classes in decreasing score.
    np.testing.assert_allclose(got["boxes"][0, 0], got["boxes"][0, 2])
    assert got["scores"][0, 0] >= got["scores"][0, 1] >= got["scores"][0, 2]

    detector = TFLiteDetector(path, num_threads=1)
    assert detector.classes_per_box == 3
    boxes, classes, scores = detector(image)
    assert len(scores) == 3 * int(got["num_detections"][0])
    assert np.all(np.diff(scores) <= 0)


def test_max_classes_per_detection_is_validated():
    from bench.models.registry import get_config
    from common.errors import InputError

    with pytest.raises(ValueError, match="max_classes_per_detection"):
        PostprocessSettings(max_classes_per_detection=0)
    config = get_config("tiny_ssdlite_mobilenet_v2", num_classes=2)
    too_many = PostprocessSettings(max_classes_per_detection=3)
    with pytest.raises(InputError, match="max_classes_per_detection: got 3; allowed: <= num_classes"):
        config.replace(postprocess=too_many)
    assert config.with_postprocess(PostprocessSettings(max_classes_per_detection=8)).postprocess == (
        PostprocessSettings(max_classes_per_detection=2)
    )
