"""SSD anchor generator (SSD paper, Section 2.2; TF OD API ``ssd_anchor_generator``).

Six layers, scales ``s_i = min + (max - min) i / (L - 1)`` with ``s_L = 1``; per cell one box per
aspect ratio at ``s_i`` plus an interpolated box ``sqrt(s_i s_{i+1})`` at ratio 1, except the lowest
layer, reduced to (0.1, 1), (s_0, 2), (s_0, 0.5). ``h = s / sqrt(ar)``, ``w = s sqrt(ar)``, centres at
``(i + 0.5) / grid``, in normalised image coordinates, not clipped. Order: layer, row, column, box,
which is the order the heads' reshape produces. 2034 anchors at 320x320, 1917 at 300x300.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorConfig:
    """The anchor layout (the OD API's ``ssd_anchor_generator`` message)."""

    num_layers: int = 6  # feature maps the anchors sit on
    min_scale: float = 0.2  # scale of the lowest layer
    max_scale: float = 0.95  # scale of the highest layer
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)  # in this order
    interpolated_scale_aspect_ratio: float = 1.0  # ratio of the extra sqrt(s_i s_i+1) box; 0 disables
    reduce_boxes_in_lowest_layer: bool = True  # lowest layer: (0.1, 1), (s0, 2), (s0, 0.5)

    def layer_boxes(self) -> list[list[tuple[float, float]]]:
        """(scale, aspect ratio) of each box per cell, for every layer."""
        scales = [
            self.min_scale + (self.max_scale - self.min_scale) * i / (self.num_layers - 1)
            for i in range(self.num_layers)
        ] + [1.0]
        layers = []
        for layer in range(self.num_layers):
            scale, next_scale = scales[layer], scales[layer + 1]
            if layer == 0 and self.reduce_boxes_in_lowest_layer:
                layers.append([(0.1, 1.0), (scale, 2.0), (scale, 0.5)])
                continue
            boxes = [(scale, ratio) for ratio in self.aspect_ratios]
            if self.interpolated_scale_aspect_ratio > 0:
                boxes.append((math.sqrt(scale * next_scale), self.interpolated_scale_aspect_ratio))
            layers.append(boxes)
        return layers

    def boxes_per_cell(self) -> list[int]:
        """Anchors per feature-map cell for each layer (3, 6, 6, 6, 6, 6 by default)."""
        return [len(boxes) for boxes in self.layer_boxes()]


def feature_map_sizes(input_size: int, num_layers: int = 6) -> list[int]:
    """Side of each SSD feature map for a square input with SAME padding.

    C4 and C5 are at strides 16 and 32, each extra layer halves (rounding up): 20, 10, 5, 3, 2, 1 at 320.

    Returns:
        One side length per layer.
    """
    sizes = [math.ceil(input_size / 16), math.ceil(input_size / 32)]
    while len(sizes) < num_layers:
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes[:num_layers]


def generate_anchors(config: AnchorConfig, sizes: list[int]) -> np.ndarray:
    """All anchors as centre-size boxes.

    Args:
        config: The anchor layout.
        sizes: Feature map sides, one per layer (see :func:`feature_map_sizes`).

    Returns:
        float32 [A, 4] of (yc, xc, h, w), normalised: the form TFLite_Detection_PostProcess reads.
    """
    if len(sizes) != config.num_layers:
        raise ValueError(f"sizes: got {len(sizes)} feature maps; the anchor config has {config.num_layers}")
    parts = []
    for size, boxes in zip(sizes, config.layer_boxes(), strict=True):
        centres = (np.arange(size, dtype=np.float64) + 0.5) / size
        yc, xc = np.meshgrid(centres, centres, indexing="ij")
        hw = np.array([(s / math.sqrt(r), s * math.sqrt(r)) for s, r in boxes])  # [K, 2]
        grid = np.zeros((size, size, len(boxes), 4))
        grid[..., 0] = yc[:, :, None]
        grid[..., 1] = xc[:, :, None]
        grid[..., 2:] = hw[None, None]
        parts.append(grid.reshape(-1, 4))
    return np.concatenate(parts).astype(np.float32)


def to_corners(anchors: np.ndarray) -> np.ndarray:
    """(yc, xc, h, w) -> (ymin, xmin, ymax, xmax)."""
    yc, xc, h, w = np.moveaxis(anchors, -1, 0)
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1).astype(np.float32)


def anchor_count(config: AnchorConfig, input_size: int) -> int:
    """Number of anchors for a square input (2034 at 320, 1917 at 300 with the default layout)."""
    sizes = feature_map_sizes(input_size, config.num_layers)
    return sum(size * size * n for size, n in zip(sizes, config.boxes_per_cell(), strict=True))
