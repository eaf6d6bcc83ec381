"""The anchor and input settings of the OD API seed detectors, and their comparison with a zoo config.

Each model-zoo folder ships the ``pipeline.config`` it was trained with; when the folder has one, its
``ssd_anchor_generator`` and ``fixed_shape_resizer`` are read from it, otherwise from the sample
config of the same model (tensorflow/models research/object_detection/samples/configs/
ssd_mobilenet_v2_coco.config, ssdlite_mobilenet_v2_coco.config, ssdlite_mobilenet_v3_{small,large}_
320x320_coco.config, ssdlite_mobiledet_{cpu,edgetpu,dsp,gpu}_320x320_coco_sync_4x4.config: all six
layers, scales 0.2-0.95, ratios 1, 2, 0.5, 3, 0.3333, the proto defaults for the rest).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from bench.models.config import ModelConfig


@dataclass(frozen=True)
class OdApiAnchors:
    """The fields of ``ssd_anchor_generator`` and the ``fixed_shape_resizer`` side."""

    input_size: int
    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    interpolated_scale_aspect_ratio: float = 1.0  # proto default
    reduce_boxes_in_lowest_layer: bool = True  # proto default


# Sample-config input sides by backbone (ssd_mobilenet_v2_coco and ssdlite_mobilenet_v2_coco: 300).
SAMPLE_INPUT_SIZE = {"mobilenet_v2": 300}
DEFAULT_INPUT_SIZE = 320
_RATIO_TOLERANCE = 1e-6


def sample_anchors(config: ModelConfig) -> OdApiAnchors:
    """The settings of the sample config of ``config``'s family."""
    return OdApiAnchors(SAMPLE_INPUT_SIZE.get(config.backbone, DEFAULT_INPUT_SIZE))


def read_pipeline_anchors(path: Path) -> OdApiAnchors:
    """Parse the anchor generator and fixed-shape resizer of a ``pipeline.config`` text proto.

    Only the scalar fields this comparison needs are read (a regular expression per field, the
    file has one ``ssd_anchor_generator``); absent fields keep the proto defaults.
    """
    text = path.read_text()
    block = re.search(r"ssd_anchor_generator\s*\{(.*?)\}", text, re.S)
    body = block.group(1) if block else ""

    def scalar(field: str, source: str, default):
        match = re.search(rf"\b{field}\s*:\s*([-\w.]+)", source)
        if match is None:
            return default
        value = match.group(1)
        return value.lower() == "true" if isinstance(default, bool) else type(default)(float(value))

    defaults = OdApiAnchors(DEFAULT_INPUT_SIZE)
    ratios = tuple(float(v) for v in re.findall(r"\baspect_ratios\s*:\s*([-\d.eE]+)", body))
    return OdApiAnchors(
        input_size=scalar("height", text.split("fixed_shape_resizer", 1)[-1], DEFAULT_INPUT_SIZE),
        num_layers=scalar("num_layers", body, defaults.num_layers),
        min_scale=scalar("min_scale", body, defaults.min_scale),
        max_scale=scalar("max_scale", body, defaults.max_scale),
        aspect_ratios=ratios or defaults.aspect_ratios,
        interpolated_scale_aspect_ratio=scalar(
            "interpolated_scale_aspect_ratio", body, defaults.interpolated_scale_aspect_ratio
        ),
        reduce_boxes_in_lowest_layer=scalar(
            "reduce_boxes_in_lowest_layer", body, defaults.reduce_boxes_in_lowest_layer
        ),
    )


def anchor_differences(config: ModelConfig, od_api: OdApiAnchors) -> list[str]:
    """Where the zoo's anchors or input side differ from the checkpoint's pipeline, one line each.

    Returns:
        An empty list when every setting matches.
    """
    zoo = config.anchors
    notes = []
    if config.input_size != od_api.input_size:
        notes.append(
            f"input size: checkpoint trained at {od_api.input_size}x{od_api.input_size}, "
            f"model built at {config.input_size}x{config.input_size}"
        )
    for field in ("num_layers", "min_scale", "max_scale", "interpolated_scale_aspect_ratio"):
        theirs, ours = getattr(od_api, field), getattr(zoo, field)
        if not math.isclose(theirs, ours, rel_tol=1e-9):
            notes.append(f"{field}: checkpoint {theirs}, model {ours}")
    if od_api.reduce_boxes_in_lowest_layer != zoo.reduce_boxes_in_lowest_layer:
        notes.append(
            f"reduce_boxes_in_lowest_layer: checkpoint {od_api.reduce_boxes_in_lowest_layer}, "
            f"model {zoo.reduce_boxes_in_lowest_layer}"
        )
    if len(od_api.aspect_ratios) != len(zoo.aspect_ratios):
        notes.append(f"aspect_ratios: checkpoint {od_api.aspect_ratios}, model {zoo.aspect_ratios}")
    else:
        for theirs, ours in zip(od_api.aspect_ratios, zoo.aspect_ratios, strict=True):
            if abs(theirs - ours) > _RATIO_TOLERANCE:
                # The configs write 1/3 as 0.3333: box sides differ by 0.005%, far below a pixel.
                notes.append(f"aspect ratio: checkpoint {theirs}, model {ours:.6g}")
    return notes
