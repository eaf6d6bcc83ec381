"""Core ML recipes: the RAW detector as an ML Program, decoding in it, NMS as a pipeline stage.

Converting the TFLite export signature to Core ML silently drops ``TFLite_Detection_PostProcess``
(DESIGN.md, toolchain facts), so the Core ML artifact is built from the raw detector instead:

1. an ML Program (``image`` -> ``raw_confidence`` [A, C], ``raw_coordinates`` [A, 4]) holding the network,
   the sigmoid (background slot dropped) and the SSD box decoding against the constant anchors, with
   coordinates as Vision reads them (centre x, centre y, width, height; normalised);
2. its weights compressed as the recipe says (fp16 / 8-bit linear / k-means palettized; the pruned recipes
   convert the pruning fine-tune's model and store its zeros sparse, alone or jointly palettized);
3. Core ML's ``NonMaximumSuppression`` model producing ``confidence`` [N, C] and ``coordinates`` [N, 4],
   with class labels, and optional ``iouThreshold`` / ``confidenceThreshold`` inputs;
4. both in one pipeline: the layout Apple's Vision framework turns into ``VNRecognizedObjectObservation``.

coremltools converts on Linux; prediction needs macOS (``libcoremlpython`` is missing elsewhere).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from converters.inputs import ConversionInputs
from converters.recipes import Precision, Recipe, Training
from converters.tflite import ConversionError

RAW_CONFIDENCE = "raw_confidence"
RAW_COORDINATES = "raw_coordinates"
CONFIDENCE = "confidence"
COORDINATES = "coordinates"
IMAGE = "image"
IOU_THRESHOLD = "iouThreshold"
CONFIDENCE_THRESHOLD = "confidenceThreshold"


def _ct():
    """coremltools, imported quietly: it warns about untested TF / scikit-learn versions, and off macOS it
    logs one "Failed to load _ML...Proxy" line per prediction class it cannot load (prediction needs
    macOS; conversion does not)."""
    log = logging.getLogger("coremltools")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import coremltools as ct
    finally:
        log.setLevel(level)
    return ct


def decoder_function(inputs: ConversionInputs, model: Any = None) -> Any:
    """A tf.function: preprocessed image -> (confidence [A, C] after sigmoid, boxes [A, 4] cx, cy, w, h).

    ``model`` is the Keras model to convert (a pruned copy); default the float model.
    """
    model = inputs.keras_model if model is None else model
    anchors = tf.constant(inputs.anchors)
    sy, sx, sh, sw = (float(s) for s in inputs.box_scales)
    size = inputs.input_size

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name=IMAGE)])
    def decode(image):
        encodings, logits = inputs.raw_outputs(model(image, training=False))
        t = encodings[0]
        ya, xa, ha, wa = anchors[:, 0], anchors[:, 1], anchors[:, 2], anchors[:, 3]
        # Inverse of the SSD box coder (reference/detectors.md): centre offsets scaled by the anchor size.
        yc = t[:, 0] / sy * ha + ya
        xc = t[:, 1] / sx * wa + xa
        h = tf.exp(t[:, 2] / sh) * ha
        w = tf.exp(t[:, 3] / sw) * wa
        coordinates = tf.stack([xc, yc, w, h], axis=1)
        confidence = tf.sigmoid(logits[0])[:, 1:]  # slot 0 is background
        return confidence, coordinates

    return decode


def _ml_program(inputs: ConversionInputs, recipe: Recipe, model: Any = None) -> Any:
    """Convert the decoder to an ML Program with outputs renamed to raw_confidence / raw_coordinates."""
    ct = _ct()
    size = inputs.input_size
    scale, bias = inputs.preprocessing.scale, inputs.preprocessing.bias
    image = ct.ImageType(
        name=IMAGE, shape=(1, size, size, 3), scale=scale, bias=[bias] * 3, color_layout=ct.colorlayout.RGB
    )
    with inputs.tracing_for(recipe):
        concrete = decoder_function(inputs, model).get_concrete_function()
    # float32 outputs: the NonMaximumSuppression stage reads Double or Float32 arrays, not Float16.
    graph_outputs = [tensor.name.split(":")[0] for tensor in concrete.outputs]
    mlmodel = ct.convert(
        [concrete],
        source="tensorflow",
        convert_to="mlprogram",
        inputs=[image],
        outputs=[ct.TensorType(name=name, dtype=np.float32) for name in graph_outputs],
        minimum_deployment_target=getattr(ct.target, recipe.minimum_deployment_target),
        compute_precision=ct.precision.FLOAT16,
    )
    spec = mlmodel.get_spec()
    for current, new in zip(graph_outputs, (RAW_CONFIDENCE, RAW_COORDINATES), strict=True):
        ct.utils.rename_feature(spec, current, new)
    return ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir, skip_model_load=True)


# A pruned kernel holds exactly target_sparsity zeros (tfmot's masks); the threshold pruner stores a tensor
# sparse only at this share of zeros or more, so the depthwise kernels tfmot leaves dense stay dense.
_SPARSE_MIN_SHARE = 0.3


def _compress(mlmodel: Any, recipe: Recipe) -> Any:
    """Apply the recipe's weight compression (fp16 needs none: the conversion already made fp16).

    Pruned recipes: the weights are already zero where the fine-tune pruned them, so coremltools'
    threshold pruner (zeros only, nothing new pruned) stores them in the sparse format (a bit mask plus
    the non-zero values); palettized, the non-zero values are then k-means palettized jointly
    (``constexpr_lut_to_sparse``, iOS18).
    """
    import coremltools.optimize.coreml as cto

    threshold = recipe.weight_threshold
    if recipe.training is Training.PRUNED:
        sparse = cto.OpThresholdPrunerConfig(
            threshold=1e-12, minimum_sparsity_percentile=_SPARSE_MIN_SHARE, weight_threshold=threshold
        )
        mlmodel = cto.prune_weights(mlmodel, cto.OptimizationConfig(global_config=sparse))
        if recipe.precision is not Precision.PALETTIZED:
            return mlmodel
        op = cto.OpPalettizerConfig(mode="kmeans", nbits=recipe.palette_bits, weight_threshold=threshold)
        return cto.palettize_weights(
            mlmodel, cto.OptimizationConfig(global_config=op), joint_compression=True
        )
    if recipe.precision is Precision.W8:
        op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", weight_threshold=threshold)
        return cto.linear_quantize_weights(mlmodel, cto.OptimizationConfig(global_config=op))
    if recipe.precision is Precision.PALETTIZED:
        op = cto.OpPalettizerConfig(mode="kmeans", nbits=recipe.palette_bits, weight_threshold=threshold)
        return cto.palettize_weights(mlmodel, cto.OptimizationConfig(global_config=op))
    return mlmodel


def _nms_model(inputs: ConversionInputs, decoder_spec: Any) -> Any:
    """Core ML's NonMaximumSuppression model reading the decoder's outputs."""
    ct = _ct()
    spec = ct.proto.Model_pb2.Model()
    spec.specificationVersion = decoder_spec.specificationVersion
    by_name = {output.name: output for output in decoder_spec.description.output}
    for name in (RAW_CONFIDENCE, RAW_COORDINATES):
        spec.description.input.add().CopyFrom(by_name[name])
    for source, name, width in (
        (RAW_CONFIDENCE, CONFIDENCE, inputs.num_classes),
        (RAW_COORDINATES, COORDINATES, 4),
    ):
        output = spec.description.output.add()
        output.CopyFrom(by_name[source])
        output.name = name
        array = output.type.multiArrayType
        del array.shape[:]
        # Vision's layout: a variable number of boxes (0 .. all anchors), fixed width.
        array.shapeRange.sizeRanges.add(lowerBound=0, upperBound=-1)
        array.shapeRange.sizeRanges.add(lowerBound=width, upperBound=width)
    post = inputs.postprocess
    for name, value in ((IOU_THRESHOLD, post.iou_threshold), (CONFIDENCE_THRESHOLD, post.score_threshold)):
        feature = spec.description.input.add()
        feature.name = name
        feature.type.doubleType.MergeFromString(b"")
        feature.type.isOptional = True
        feature.shortDescription = f"default {value}"
    nms = spec.nonMaximumSuppression
    nms.confidenceInputFeatureName, nms.coordinatesInputFeatureName = RAW_CONFIDENCE, RAW_COORDINATES
    nms.confidenceOutputFeatureName, nms.coordinatesOutputFeatureName = CONFIDENCE, COORDINATES
    nms.iouThresholdInputFeatureName, nms.confidenceThresholdInputFeatureName = (
        IOU_THRESHOLD,
        CONFIDENCE_THRESHOLD,
    )
    # The plan's post-processing, as the TFLite op of the same model has it (one PostprocessSettings).
    nms.iouThreshold = post.iou_threshold
    nms.confidenceThreshold = post.score_threshold
    nms.pickTop.perClass = False  # class-agnostic, as TFLite_Detection_PostProcess' fast NMS
    nms.stringClassLabels.vector.extend(inputs.labels)
    return ct.models.MLModel(spec, skip_model_load=True)


def convert_coreml(
    inputs: ConversionInputs, recipe: Recipe, tmp_path: Path, model: Any = None
) -> dict[str, Any]:
    """Write the Core ML pipeline for ``recipe`` to ``tmp_path`` (an .mlpackage directory).

    ``model`` is the Keras model to convert (the pruned recipes' fine-tuned copy); default the float model.

    Returns:
        Sidecar fields: input and output signature, and what the pipeline contains.

    Raises:
        ConversionError: coremltools could not convert or compress the decoder.
    """
    ct = _ct()
    try:
        decoder = _compress(_ml_program(inputs, recipe, model), recipe)
    except (ValueError, NotImplementedError, RuntimeError, KeyError) as error:
        # coremltools reports an op it cannot convert with these; name the recipe and keep the cause.
        raise ConversionError(f"{recipe.name}: Core ML conversion failed: {error}") from error
    nms = _nms_model(inputs, decoder.get_spec())
    pipeline = ct.utils.make_pipeline(decoder, nms)
    spec = pipeline.get_spec()
    spec.description.predictedFeatureName = ""
    meta = spec.description.metadata
    meta.shortDescription = f"{inputs.name} ({recipe.name}): SSD detector with decoding and NMS"
    meta.userDefined["com.apple.coreml.model.preview.type"] = "objectDetector"
    meta.userDefined["classes"] = ",".join(inputs.labels)
    meta.userDefined["edgebench.recipe"] = recipe.name
    # Core ML's NMS has no box cap and returns every class's score per box: readers apply these two.
    meta.userDefined["edgebench.max_detections"] = str(inputs.postprocess.max_detections)
    meta.userDefined["edgebench.max_classes_per_detection"] = str(
        inputs.postprocess.max_classes_per_detection
    )
    final = ct.models.MLModel(spec, weights_dir=pipeline.weights_dir, skip_model_load=True)
    final.save(str(tmp_path))
    return {
        "inputs": describe_features(spec.description.input),
        "outputs": describe_features(spec.description.output),
    }


def describe_features(features: Any) -> list[dict[str, Any]]:
    """Name, kind, data type and shape of Core ML feature descriptions, for the sidecar and tests."""
    described = []
    for feature in features:
        kind = feature.type.WhichOneof("Type")
        entry: dict[str, Any] = {"name": feature.name, "kind": kind, "optional": feature.type.isOptional}
        if kind == "multiArrayType":
            array = feature.type.multiArrayType
            entry["dtype"] = _array_dtype(array.dataType)
            if array.shape:
                entry["shape"] = list(array.shape)
            else:
                entry["shape"] = [[r.lowerBound, r.upperBound] for r in array.shapeRange.sizeRanges]
        elif kind == "imageType":
            image = feature.type.imageType
            entry["shape"] = [image.height, image.width]
            entry["color_space"] = _ct().proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(
                image.colorSpace
            )
        described.append(entry)
    return described


def _array_dtype(code: int) -> str:
    names = _ct().proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType
    return names.Name(code).lower()
