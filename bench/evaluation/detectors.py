"""Detectors: anything that maps an image to boxes, classes and scores, behind one callable protocol.

    detector(image: uint8 [H, W, 3] RGB, any size) -> (boxes, classes, scores)
        boxes:   float [N, 4] normalised ymin, xmin, ymax, xmax
        classes: int [N] contiguous 0-based class indices (background excluded)
        scores:  float [N]

Implementations: :class:`~bench.evaluation.tflite.TFLiteDetector` (an exported ``.tflite`` through LiteRT),
:class:`CoreMLDetector` (macOS only; elsewhere :func:`coreml_support` gives the reason) and any Python
callable with that signature (the trainer wraps its Keras model that way).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
from PIL import Image

from common.detection import Preprocessing
from common.errors import InputError


class Detections(NamedTuple):
    """One image's detections (see the module docstring for shapes and conventions)."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


class Detector(Protocol):
    """The detector protocol: uint8 [H, W, 3] RGB image -> (boxes, classes, scores)."""

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Support:
    """Whether a detector can run here, and why not.

    Attributes:
        ok: True when it can run.
        reason: Why it cannot (empty when ok).
    """

    ok: bool
    reason: str = ""


def from_postprocess_outputs(
    boxes: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    num_detections: np.ndarray | float,
    classes_per_box: int = 1,
) -> Detections:
    """The valid entries of TFLite_Detection_PostProcess-style outputs, best score first.

    The op counts kept *boxes* in ``num_detections`` and writes ``classes_per_box`` entries per box
    (``max_classes_per_detection``), so ``num_detections * classes_per_box`` entries are valid. A reader
    that takes only ``num_detections`` entries would silently drop most boxes when that is above 1.

    Args:
        boxes: [1, N, 4] or [N, 4] normalised ymin, xmin, ymax, xmax.
        classes: [1, N] or [N] 0-based class indices (float, as the op writes them).
        scores: [1, N] or [N].
        num_detections: The op's count of kept boxes.
        classes_per_box: The op's ``max_classes_per_detection``.
    """
    count = int(np.asarray(num_detections).reshape(-1)[0]) * classes_per_box
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)[:count]
    order = np.argsort(-scores, kind="stable")  # box-major entries are not in score order when K > 1
    return Detections(
        np.clip(np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[:count], 0.0, 1.0)[order],
        np.rint(np.asarray(classes).reshape(-1)[:count]).astype(np.int64)[order],
        scores[order],
    )


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a uint8 image (Pillow anti-aliases when shrinking, as the eval pipeline does)."""
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def to_model_range(pixels: np.ndarray, preprocessing: Preprocessing | None = None) -> np.ndarray:
    """uint8 pixels -> float32 model input: ``preprocessing`` (the artifact's own, from its sidecar), or
    the zoo's ``x * 2/255 - 1`` (``common.detection.Preprocessing``) for a file without one."""
    return (preprocessing or Preprocessing()).apply(pixels)


def coreml_support() -> Support:
    """Core ML prediction runs only on macOS (DESIGN.md: optional platforms are detected, not assumed)."""
    if platform.system() != "Darwin":
        return Support(False, "Core ML prediction needs macOS")
    return Support(True)


class CoreMLDetector:
    """A Core ML detector with Vision-style outputs: ``coordinates`` [N, 4] (x, y centre, w, h, normalised)
    and ``confidence`` [N, num_classes]. Only constructible on macOS (see :func:`coreml_support`)."""

    def __init__(self, path: str | Path) -> None:
        support = coreml_support()
        if not support.ok:
            raise InputError(f"{path}: {support.reason}")
        import coremltools as ct  # lazy: heavy, and only useful on macOS

        self.path = Path(path)
        self._model = ct.models.MLModel(str(self.path))
        spec = self._model.get_spec()
        image_input = spec.description.input[0]
        self._input_name = image_input.name
        self._size = (image_input.type.imageType.width, image_input.type.imageType.height)
        # The artifact's own post-processing caps (common.detection.PostprocessSettings), which Core ML's
        # NMS cannot hold: applied here, so Core ML and TFLite files of one model read alike.
        meta = spec.description.metadata.userDefined
        self.max_detections = int(meta.get("edgebench.max_detections", 100))
        self.classes_per_box = int(meta.get("edgebench.max_classes_per_detection", 1))

    def __call__(self, image: np.ndarray) -> Detections:
        """Detect on one uint8 RGB image of any size."""
        out = self._model.predict(
            {self._input_name: Image.fromarray(image).resize(self._size, Image.BILINEAR)}
        )
        return from_vision_outputs(
            out["coordinates"], out["confidence"], self.max_detections, self.classes_per_box
        )


def from_vision_outputs(
    coordinates: np.ndarray, confidence: np.ndarray, max_detections: int = 100, classes_per_box: int = 1
) -> Detections:
    """Detections from Vision-style NMS outputs, as the TFLite op would write them.

    The ``max_detections`` best boxes (by their best class score), each with its ``classes_per_box`` best
    classes, best score first: the TFLite post-processing op's caps (``max_detections``,
    ``max_classes_per_detection``), which Core ML's NMS does not apply itself.

    Args:
        coordinates: [N, 4] centre x, centre y, width, height, normalised.
        confidence: [N, C] per-class scores.
        max_detections: Boxes kept.
        classes_per_box: Entries per kept box.
    """
    coords = np.asarray(coordinates, np.float32).reshape(-1, 4)
    scores = np.asarray(confidence, np.float32)
    scores = scores.reshape(len(coords), scores.shape[-1] if scores.ndim else 0)
    keep = np.argsort(-scores.max(axis=1, initial=0.0), kind="stable")[:max_detections]
    xc, yc, w, h = coords[keep].T
    boxes = np.clip(np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1), 0.0, 1.0)
    per_box = min(classes_per_box, scores.shape[1]) if len(keep) else 0
    classes = np.argsort(-scores[keep], axis=1, kind="stable")[:, :per_box]  # [N, K], best first
    entries = np.take_along_axis(scores[keep], classes, axis=1)
    order = np.argsort(-entries.reshape(-1), kind="stable")
    return Detections(
        np.repeat(boxes, per_box, axis=0)[order], classes.reshape(-1)[order], entries.reshape(-1)[order]
    )
