"""What the pipeline hands to the converters: :class:`ConversionInputs`.

``converters`` never imports ``bench``; everything model-specific arrives here. A pipeline builds one per
trained detector and calls :func:`converters.convert` once per recipe::

    inputs = ConversionInputs(
        name="ssdlite_mobilenet_v2",
        keras_model=model,                      # float, trained; raw outputs (box encodings, class logits)
        export_fn_builder=bench_export_builder, # keras model -> tf.function with the named TFLite outputs
        anchors=anchors,                        # [A, 4] (yc, xc, h, w), normalised
        labels=("circle", "square", ...),       # without background
        input_size=320,
        representative_data=lambda: calibration_batches(),
        finetune=lambda model, steps: train_loop(model, steps),
        quantize_scope=bench.models.saving.quantize_scope,
    )
    artifact = convert(inputs, "tflite_int8", out_dir)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.errors import InputError

# keras.Model -> its raw outputs (box encodings [1, A, 4], class logits [1, A, C + 1]).
RawOutputs = Callable[[Any], tuple[Any, Any]]


def default_raw_outputs(outputs: Any) -> tuple[Any, Any]:
    """Pick (box encodings, class logits) from a model's outputs: a dict with those keys, or a pair."""
    if isinstance(outputs, Mapping):
        return outputs["box_encodings"], outputs["class_logits"]
    boxes, logits = outputs
    return boxes, logits


@dataclass(frozen=True)
class ConversionInputs:
    """A trained detector and everything a recipe needs to turn it into artifacts.

    Attributes:
        name: Model name used in artifact file names, e.g. the zoo variant ``ssdlite_mobilenet_v2``.
        keras_model: The float tf_keras detector. Calling it on a preprocessed batch returns the raw
            outputs: box encodings ``[1, A, 4]`` (ty, tx, th, tw) and class logits ``[1, A, C + 1]``
            (slot 0 = background), as a pair or a dict (see ``raw_outputs``). Never modified.
        export_fn_builder: ``builder(keras_model) -> tf.function`` taking one float32 ``[1, H, W, 3]``
            batch in the model's input range and returning a dict with ``boxes``, ``classes``, ``scores``,
            ``num_detections`` produced by ``TFLite_Detection_PostProcess`` (reference/detectors.md). It is
            called on the float model and on its QAT / pruned copies, so it must not capture the model.
        anchors: ``[A, 4]`` float (yc, xc, h, w), normalised; Core ML decoding is built from them.
        labels: Class names without background, index i = class i of the ``classes`` output.
        input_size: Square input side in pixels.
        representative_data: Calibration batches for int8: float32 ``[1, H, W, 3]`` arrays in the model's
            input range (already preprocessed), from the training split. A list, or a callable returning
            a fresh iterable (a one-shot iterator is materialised once). Recipes take the first
            ``recipe.representative_samples``.
        finetune: ``finetune(model, steps) -> model`` trains a (QAT- or pruning-wrapped) model for
            ``steps`` steps in bench's training loop, calling it with ``training=True``, and returns it.
            Needed only by the qat and pruned recipes.
        custom_objects: Custom Keras classes the model contains (for cloning and tfmot).
        quantize_scope: Zero-argument callable returning the tfmot quantize scope (context manager)
            that knows the zoo's quantize configs; ``None`` = tfmot's default scope plus custom_objects.
        box_scales: Box coder scales (y, x, h, w) of the encodings, (10, 10, 5, 5) in the SSD papers.
        input_mean: Preprocessing is ``(pixel - input_mean) / input_std`` (x * 2/255 - 1 by default).
        input_std: See ``input_mean``.
        raw_outputs: Picks (box encodings, class logits) from the model's outputs.
        score_threshold: Core ML NMS default confidence threshold.
        iou_threshold: Core ML NMS default IoU threshold (0.6 as the TFLite export).
        max_detections: Core ML NMS maximum boxes.
        model_info: Free-form facts for the sidecar (variant, params, MAdds, width multiplier, ...).
    """

    name: str
    keras_model: Any
    export_fn_builder: Callable[[Any], Any]
    anchors: np.ndarray
    labels: Sequence[str]
    input_size: int
    representative_data: Callable[[], Iterable[np.ndarray]] | Iterable[np.ndarray] = ()
    finetune: Callable[[Any, int], Any] | None = None
    custom_objects: Mapping[str, Any] = field(default_factory=dict)
    quantize_scope: Callable[[], contextlib.AbstractContextManager] | None = None
    box_scales: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
    input_mean: float = 127.5
    input_std: float = 127.5
    raw_outputs: RawOutputs = default_raw_outputs
    score_threshold: float = 0.3
    iou_threshold: float = 0.6
    max_detections: int = 100
    model_info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        anchors = np.asarray(self.anchors, dtype=np.float32)
        if anchors.ndim != 2 or anchors.shape[1] != 4:
            raise InputError(f"ConversionInputs.anchors: expected shape [A, 4]; got {anchors.shape}")
        object.__setattr__(self, "anchors", anchors)
        object.__setattr__(self, "labels", tuple(self.labels))
        if not self.labels:
            raise InputError("ConversionInputs.labels: expected at least one class name; got none")
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise InputError(f"ConversionInputs.name: expected a file-name-safe string; got {self.name!r}")
        data = self.representative_data
        if not callable(data) and isinstance(data, Iterator):
            object.__setattr__(self, "representative_data", tuple(data))  # reused by several recipes

    @property
    def num_classes(self) -> int:
        """Classes without background."""
        return len(self.labels)

    def calibration_batches(self, limit: int) -> list[np.ndarray]:
        """The first ``limit`` representative batches as float32 arrays.

        Raises:
            InputError: no representative data was given.
        """
        data = self.representative_data() if callable(self.representative_data) else self.representative_data
        batches = []
        for batch in data:
            batches.append(np.asarray(batch, dtype=np.float32))
            if len(batches) >= limit:
                break
        if not batches:
            raise InputError(
                "ConversionInputs.representative_data: int8 recipes need calibration batches; got none"
            )
        return batches

    def scope(self) -> contextlib.AbstractContextManager:
        """The tfmot quantize scope (or custom-object scope) to clone and wrap the model in."""
        if self.quantize_scope is not None:
            return self.quantize_scope()
        import tensorflow_model_optimization as tfmot

        return tfmot.quantization.keras.quantize_scope(dict(self.custom_objects))
