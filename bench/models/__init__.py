"""Detector zoo: registry, backbones, SSD heads, anchors, box coding, losses, export.

The public API (importing this package imports TensorFlow)::

    from bench.models import get_config, build_model, list_models
    config = get_config("ssdlite_mobilenet_v2", input_size=320, num_classes=90)
    model = build_model(config)                 # images [B,H,W,3] in [-1,1] -> [box_encodings, class_logits]
    anchors = config.generate_anchors()         # float32 [A, 4] (yc, xc, h, w)
    box_targets, class_targets = assign_targets(gt_boxes, gt_classes, anchors, config.matcher)
    losses = detection_loss(box_targets, class_targets, box_encodings, class_logits, config.loss)
    export = DetectionExport(model, config)     # serving signature ending in TFLite_Detection_PostProcess
    with quantize_scope():                      # QAT
        qat_model = tfmot.quantization.keras.quantize_model(model)
"""

from bench.models.anchors import AnchorConfig, generate_anchors
from bench.models.box_coder import decode, encode
from bench.models.complexity import Complexity, count_complexity
from bench.models.config import HeadKind, ModelConfig
from bench.models.export import EXPORT_INPUT, EXPORT_OUTPUTS, DetectionExport, make_export_function
from bench.models.losses import LossConfig, LossKind, detection_loss
from bench.models.postprocess import postprocess
from bench.models.registry import build_model, get_config, list_models, register
from bench.models.saving import custom_objects, quantize_scope
from bench.models.ssd import OUTPUT_NAMES
from bench.models.target_assigner import MatcherConfig, assign_targets

__all__ = [
    "EXPORT_INPUT",
    "EXPORT_OUTPUTS",
    "OUTPUT_NAMES",
    "AnchorConfig",
    "Complexity",
    "DetectionExport",
    "HeadKind",
    "LossConfig",
    "LossKind",
    "MatcherConfig",
    "ModelConfig",
    "assign_targets",
    "build_model",
    "count_complexity",
    "custom_objects",
    "decode",
    "detection_loss",
    "encode",
    "generate_anchors",
    "get_config",
    "list_models",
    "make_export_function",
    "postprocess",
    "quantize_scope",
    "register",
]
