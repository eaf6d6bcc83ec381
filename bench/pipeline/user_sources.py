"""Loading a user's own detector: its class names, its ModelInfo, and (SavedModel / Keras) the converters'
input object.

* A ``.tflite`` or ``.mlpackage`` is used as given: nothing is loaded into TensorFlow.
* A SavedModel whose serving signature ends in ``TFLite_Detection_PostProcess`` (the OD API's
  ``export_tflite_graph_tf2.py`` output, or :class:`bench.models.export.DetectionExport` saved) is converted
  from that signature, the way the OD API's TFLite guide does; its four outputs are found by name
  (``boxes``, ``classes``, ``scores``, ``num_detections``) or through the plan's ``outputs:`` mapping.
* A Keras model (file, or SavedModel with ``architecture:``) of a zoo architecture goes through the zoo's
  own export signature, so the Core ML recipes (which rebuild decoding and NMS from the raw detector and
  its anchors) apply as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.evaluation.labelmap import (
    LabelMapping,
    build_mapping,
    metadata_labels,
    read_class_names,
    read_labelmap_txt,
)
from bench.evaluation.tflite import TFLiteDetector
from bench.user_model_spec import OUTPUT_KEYS, SourceKind, UserModelSpec
from common.detection import Preprocessing
from common.errors import InputError
from results.schema import ModelInfo


def class_names(spec: UserModelSpec, kind: SourceKind) -> list[tuple[str, ...]] | None:
    """The model's names per class index: the plan's label map, else a .tflite's metadata, else None
    (the model counts classes in the dataset's order)."""
    if spec.labelmap is not None:
        return read_class_names(spec.labelmap)
    if kind is SourceKind.TFLITE:
        text = metadata_labels(spec.path)
        if text is not None:
            return read_labelmap_txt(text)
    return None


def mapping_for(spec: UserModelSpec, kind: SourceKind, categories: list[str]) -> LabelMapping | None:
    """The model -> dataset class mapping (None: the same order)."""
    names = class_names(spec, kind)
    return None if names is None else build_mapping(names, categories)


class NamedOutputsTFLiteDetector(TFLiteDetector):
    """A ``.tflite`` whose four post-processing outputs carry other names, given by the plan."""

    def __init__(self, path: str | Path, outputs: dict[str, str], num_threads: int | None = None) -> None:
        self._wanted = dict(outputs)
        super().__init__(path, num_threads=num_threads)

    def _find_outputs(self):
        for key, spec in self._interpreter.get_signature_list().items():
            if len(spec["inputs"]) == 1 and set(self._wanted.values()) <= set(spec["outputs"]):
                runner = self._interpreter.get_signature_runner(key)
                return runner, spec["inputs"][0], self._wanted, "plan outputs"
        by_name = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        missing = sorted(set(self._wanted.values()) - set(by_name))
        if missing:
            raise InputError(
                f"{self.path}: plan outputs {missing} are not outputs of the model; it has {sorted(by_name)}"
            )
        return None, None, {k: by_name[v] for k, v in self._wanted.items()}, "plan outputs"


class SignatureModel:
    """A loaded SavedModel signature in the shape ``converters.convert`` expects of a Keras model:
    ``count_params()`` and ``variables`` (what the converter saves with the function); ``input_size`` and
    ``preprocessing`` are what :func:`bench.pipeline.inputs.calibration_batches` reads of a model config.

    The input is taken in the OD API's float range for SSD MobileNets, [-1, 1] (``Preprocessing()``, the
    range ``export_tflite_graph_tf2.py`` graphs expect): a signature says nothing of its pixel scaling.
    """

    preprocessing = Preprocessing()

    def __init__(self, path: Path, outputs: dict[str, str]) -> None:
        import tensorflow as tf

        try:
            self._loaded = tf.saved_model.load(str(path))
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise InputError(f"{path}: cannot load the SavedModel: {error}") from error
        signature = self._loaded.signatures.get("serving_default")
        if signature is None:
            raise InputError(f"{path}: the SavedModel has no serving_default signature")
        _, inputs = signature.structured_input_signature
        if len(inputs) != 1:
            raise InputError(f"{path}: expected one image input; the signature takes {sorted(inputs)}")
        ((self.input_name, spec),) = inputs.items()
        shape = list(spec.shape)
        if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
            raise InputError(f"{path}: expected a fixed square input [1, S, S, 3]; got {shape}")
        self.input_size = int(shape[1])
        self.outputs = dict(outputs) or {k: k for k in OUTPUT_KEYS}
        missing = sorted(set(self.outputs.values()) - set(signature.structured_outputs))
        if missing:
            raise InputError(
                f"{path}: signature outputs {missing} not found; it has "
                f"{sorted(signature.structured_outputs)} (map them with the plan's `outputs:`)"
            )
        self.signature = signature
        self.variables = list(signature.variables)

    def count_params(self) -> int:
        """Weights in the signature's variables."""
        return int(sum(np.prod(v.shape) for v in self.variables))

    def export_function(self, _model=None, _postprocess=None):
        """The serving function with the four outputs under their TFLite names (the converters' check).

        The post-processing is the signature's own ``TFLite_Detection_PostProcess``: the plan's
        ``PostprocessSettings`` cannot reach into it.
        """
        import tensorflow as tf

        spec = tf.TensorSpec([1, self.input_size, self.input_size, 3], tf.float32, name="images")

        @tf.function(input_signature=[spec])
        def serve(images):
            out = self.signature(**{self.input_name: images})
            return {key: out[name] for key, name in self.outputs.items()}

        return serve


def signature_inputs(
    model: SignatureModel, name: str, labels: list[str], batches: list[np.ndarray], calibration_source: str
):
    """ConversionInputs for a SavedModel signature. Its anchors are inside the post-processing op, so none
    are handed over: only TFLite recipes, which convert the signature whole, are applied to it.

    Args:
        model: The loaded signature.
        name: The plan's model name (names the artifact files).
        labels: Class names without background.
        batches: Calibration batches (``calibration_batches`` of the training split).
        calibration_source: Which images ``batches`` are (the split's dataset id), for the sidecar.
    """
    from converters import ConversionInputs

    return ConversionInputs(
        name=name,
        keras_model=model,
        export_fn_builder=model.export_function,
        anchors=np.zeros((0, 4), np.float32),
        labels=labels,
        input_size=model.input_size,
        preprocessing=model.preprocessing,
        representative_data=batches,
        calibration_source=calibration_source,
    )


def load_keras(path: Path, architecture: str):
    """A zoo-architecture Keras model and its ModelConfig (classes and input size read from the model).

    Raises:
        InputError: the file does not load or its outputs are not (box encodings, class logits).
    """
    import tf_keras as keras

    from bench.models.registry import get_config
    from bench.models.saving import custom_objects

    try:
        model = keras.models.load_model(str(path), custom_objects=custom_objects(), compile=False)
    except (OSError, ValueError, TypeError, ImportError) as error:
        message = " ".join(str(error).split())[:300]
        raise InputError(f"{path}: cannot load the Keras model: {message}") from error
    shapes = [tuple(o.shape) for o in model.outputs]
    if len(shapes) != 2 or shapes[0][-1] != 4:
        raise InputError(f"{path}: expected outputs (box encodings [1, A, 4], class logits); got {shapes}")
    size = int(model.input_shape[1])
    config = get_config(architecture, input_size=size, num_classes=int(shapes[1][-1]) - 1)
    return model, config


def tflite_model_info(path: Path, label: str) -> ModelInfo:
    """ModelInfo fields of a .tflite read through LiteRT (input size, classes of the post-processing op)."""
    from ai_edge_litert.interpreter import Interpreter

    from bench.evaluation.tflite import postprocess_options

    try:
        (detail,) = Interpreter(model_path=str(path)).get_input_details()
    except (ValueError, RuntimeError) as error:
        raise InputError(f"{path}: not a loadable single-input TFLite model: {error}") from error
    classes = postprocess_options(path.read_bytes()).get("num_classes")
    return ModelInfo(variant=label, input_size=int(detail["shape"][1]), num_classes=classes)
