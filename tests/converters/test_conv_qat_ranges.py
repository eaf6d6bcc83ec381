"""QAT activation ranges are set from calibration batches before fine-tuning (converters.tfmot_wrap)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tfmot = pytest.importorskip("tensorflow_model_optimization")
keras = pytest.importorskip("tf_keras")

from converters.tfmot_wrap import (  # noqa: E402
    calibrate_activation_ranges,
    moving_average_ranges,
    widen_bias_limited_ranges,
)


def _wide_output_qat_model():
    """conv -> BN -> ReLU -> 1x1 conv whose outputs reach about 35, far outside tfmot's initial +-6."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Conv2D(
        2, 1, kernel_initializer=keras.initializers.Constant(10.0), name="wide_out"
    )(x)
    model = keras.Model(inputs, outputs)
    return model, tfmot.quantization.keras.quantize_model(model)


def _batches(count: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32) for _ in range(count)]


def _bn_statistics(model) -> list[np.ndarray]:
    return [
        v.numpy().copy()
        for layer in model.submodules
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    ]


def test_every_activation_quantizer_is_found():
    _, qat = _wide_output_qat_model()
    ranges = moving_average_ranges(qat)
    # The first conv's output is not quantized (BN follows), BN's is not (ReLU follows):
    # the ranges are the ReLU's and the last conv's.
    assert len(ranges) == 2
    assert all(
        float(pair["min_var"].numpy()) == -6.0 and float(pair["max_var"].numpy()) == 6.0 for pair in ranges
    )


def test_calibrated_ranges_cover_the_inference_activations_and_leave_batch_norm_alone():
    model, qat = _wide_output_qat_model()
    batches = _batches()
    images = np.concatenate(batches)
    widest = float(np.abs(model(images, training=False)).max())
    assert widest > 20, "the fixture must reach far beyond tfmot's initial range"
    before = _bn_statistics(qat)

    assert calibrate_activation_ranges(qat, batches) == 2

    (output_range,) = [
        p for p in moving_average_ranges(qat) if p["min_var"].name.startswith("quant_wide_out/")
    ]
    low, high = float(output_range["min_var"].numpy()), float(output_range["max_var"].numpy())
    reached = model(images, training=False).numpy()  # the exported model's activations
    assert low == pytest.approx(min(reached.min(), 0.0), rel=0.02, abs=0.05)
    assert high == pytest.approx(max(reached.max(), 0.0), rel=0.02, abs=0.05)
    for old, new in zip(before, _bn_statistics(qat), strict=True):
        np.testing.assert_array_equal(old, new)
    # Inference now follows the float model within the int8 grid, instead of stopping at +-6.
    step = (high - low) / 255
    assert (
        np.abs(qat(images, training=False).numpy() - model(images, training=False).numpy()).max() < 4 * step
    )


def test_without_calibration_the_quantized_model_clips():
    """The reason for calibrating: tfmot's [-6, 6] start is still in place after a few steps."""
    model, qat = _wide_output_qat_model()
    images = np.concatenate(_batches())
    assert np.abs(qat(images, training=False).numpy()).max() <= 6.0 + 1e-3
    assert np.abs(model(images, training=False).numpy()).max() > 6.0


def test_a_dead_channel_keeps_its_bias_through_qat_conversion():
    """A channel whose weights decayed to ~0 outputs its bias alone; int8 must keep it (the int32 bias
    would overflow at the weight scale its fake-quant range implies)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.ReLU()(keras.layers.Conv2D(8, 3, padding="same")(inputs))
    head = keras.layers.Conv2D(4, 1, name="head")
    model = keras.Model(inputs, head(x))
    kernel, _ = head.get_weights()
    kernel[..., 3] = 1e-18  # an anchor no object ever matched
    head.set_weights([kernel, np.array([0.0, 0.0, 0.0, -4.6], np.float32)])
    qat = tfmot.quantization.keras.quantize_model(model)
    batches = _batches()
    calibrate_activation_ranges(qat, batches)

    assert widen_bias_limited_ranges(qat) == 1

    converter = tf.lite.TFLiteConverter.from_keras_model(qat)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batches[0])
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out[..., 3], -4.6, atol=0.1)
    np.testing.assert_allclose(out[..., :3], model(batches[0]).numpy()[..., :3], atol=0.3)
