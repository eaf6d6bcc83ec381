"""What the pipeline hands to the converters: :class:`ConversionInputs`.

``converters`` never imports ``bench``; everything model-specific arrives here. A pipeline builds one per
trained detector and calls :func:`converters.convert` once per recipe::

    inputs = ConversionInputs(
        name="ssdlite_mobilenet_v2",
        keras_model=model,                      # float, trained; raw outputs (box encodings, class logits)
        export_fn_builder=bench_export_builder, # (keras model, PostprocessSettings) -> tf.function
        anchors=anchors,                        # [A, 4] (yc, xc, h, w), normalised
        labels=("circle", "square", ...),       # without background
        input_size=320,
        preprocessing=Preprocessing(),          # the model config's, x * 2/255 - 1
        postprocess=PostprocessSettings(),      # the plan's, the same for TFLite and Core ML
        representative_data=batches,            # from the training split
        calibration_source=train.dataset_id,
        finetune=lambda model, steps, lr=5e-4: train_loop(model, steps, lr),
        finetune_settings=FinetuneSettings(...),
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

from common.detection import PostprocessSettings, Preprocessing
from common.errors import InputError
from common.sidecar import FinetuneSettings
from converters.recipes import HardSwishOps, Recipe

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
        export_fn_builder: ``builder(keras_model, postprocess) -> tf.function`` taking one float32
            ``[1, H, W, 3]`` batch in the model's input range and returning a dict with ``boxes``,
            ``classes``, ``scores``, ``num_detections`` produced by ``TFLite_Detection_PostProcess``
            (reference/detectors.md) with the given :class:`PostprocessSettings`. It is called on the float
            model and on its QAT / pruned copies, so it must not capture the model.
        anchors: ``[A, 4]`` float (yc, xc, h, w), normalised; Core ML decoding is built from them.
        labels: Class names without background, index i = class i of the ``classes`` output.
        input_size: Square input side in pixels.
        preprocessing: How pixels become model input (the Core ML image input and the TFLite metadata
            say the same; the zoo's ``x * 2/255 - 1`` by default).
        postprocess: Decoding + NMS settings, the same for the TFLite op and Core ML's NMS.
        representative_data: Calibration batches for int8: float32 ``[1, H, W, 3]`` arrays in the model's
            input range (already preprocessed), from the training split. A list, or a callable returning
            a fresh iterable (a one-shot iterator is materialised once). Recipes take the first
            ``recipe.representative_samples``.
        calibration_source: Which images ``representative_data`` holds (a dataset id), for the sidecar.
        finetune: ``finetune(model, steps, lr=...) -> model`` trains a (QAT- or pruning-wrapped) model
            for ``steps`` steps in bench's training loop, calling it with ``training=True``, and returns it;
            ``lr`` (peak learning rate) is passed only when the recipe sets ``finetune_lr``, otherwise the
            loop's own applies. Needed only by the qat and pruned recipes.
        finetune_settings: How ``finetune`` trains (data, learning rate, batch, seed), for the sidecar (a
            recipe's own ``finetune_lr`` replaces the learning rate there).
        custom_objects: Custom Keras classes the model contains (for cloning and tfmot).
        quantize_scope: Zero-argument callable returning the tfmot quantize scope (context manager)
            that knows the zoo's quantize configs; ``None`` = tfmot's default scope plus custom_objects.
        box_scales: Box coder scales (y, x, h, w) of the encodings, (10, 10, 5, 5) in the SSD papers.
        raw_outputs: Picks (box encodings, class logits) from the model's outputs.
        hard_swish_layout: ``layout(fused) -> context manager`` inside which tracing the model writes each
            hard-swish as one HARD_SWISH op (``fused``) or as ADD, MUL, MUL; the converters trace within
            the recipe's ``hard_swish``. None (a model of the user's): traced as it is.
        variant: The zoo variant, for the sidecar.
        width_multiplier: The variant's width multiplier, for the sidecar.
        finetuned: Filled by the converters: fine-tuned models by their settings, so the recipes that
            share a fine-tune (``tflite_int8_pruned``, ``coreml_pruned``, ...) run it once per inputs.
    """

    name: str
    keras_model: Any
    export_fn_builder: Callable[[Any], Any]
    anchors: np.ndarray
    labels: Sequence[str]
    input_size: int
    preprocessing: Preprocessing = Preprocessing()
    postprocess: PostprocessSettings = PostprocessSettings()
    representative_data: Callable[[], Iterable[np.ndarray]] | Iterable[np.ndarray] = ()
    calibration_source: str = "unspecified"
    finetune: Callable[..., Any] | None = None
    finetune_settings: FinetuneSettings | None = None
    custom_objects: Mapping[str, Any] = field(default_factory=dict)
    quantize_scope: Callable[[], contextlib.AbstractContextManager] | None = None
    box_scales: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
    raw_outputs: RawOutputs = default_raw_outputs
    hard_swish_layout: Callable[[bool], contextlib.AbstractContextManager] | None = None
    variant: str | None = None
    width_multiplier: float | None = None
    # Fine-tuned models by fine-tune settings: the pruned TFLite and Core ML recipes share one fine-tune.
    finetuned: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        if self.postprocess.max_classes_per_detection > len(self.labels):
            raise InputError(
                "ConversionInputs.postprocess.max_classes_per_detection: "
                f"at most the {len(self.labels)} classes; got {self.postprocess.max_classes_per_detection}"
            )
        if not callable(data) and isinstance(data, Iterator):
            object.__setattr__(self, "representative_data", tuple(data))  # reused by several recipes

    def tracing_for(self, recipe: Recipe) -> contextlib.AbstractContextManager:
        """The context to trace the model in for ``recipe``: its hard-swish layout, if the model has one."""
        if self.hard_swish_layout is None:
            return contextlib.nullcontext()
        return self.hard_swish_layout(recipe.hard_swish is HardSwishOps.FUSED)

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
