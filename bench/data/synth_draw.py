"""Render one synthetic detection image: textured background, clutter, shapes that occlude each other.

An image is a pure function of its ``numpy.random.Generator``. Boxes are measured on the pixels that stay
visible after every later object and foreground distractor is drawn, so an occluded or border-truncated
shape gets the box of what can be seen. Shapes that stay less than :data:`CROWD_VISIBLE_FRACTION` visible
are marked ``iscrowd`` (COCOeval's "ignore" region) rather than silently dropped or demanded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bench.data import synth_textures as tex

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "hexagon", "crescent")
# Object extent (diameter of the unrotated shape) as a fraction of the image side: a third of the shapes
# from each band, log-uniform inside it. Shapes fill 25-80% of their extent squared, so at 256 px this
# gives roughly 30% COCO-small, 50% medium and 20% large boxes (by box area).
SIZE_BANDS = ((0.05, 0.15), (0.15, 0.35), (0.35, 0.6))
CROWD_VISIBLE_FRACTION = 0.35
MIN_VISIBLE_PX = 12
_SUPERSAMPLE = 2  # anti-aliased edges: draw at 2x, box-filter down
_MIN_CONTRAST = 50.0  # mean RGB distance between a shape's fill and what lies under it


def sample_extent(rng: np.random.Generator) -> float:
    """Object extent as a fraction of the image side, in [0.05, 0.6]."""
    lo, hi = SIZE_BANDS[int(rng.integers(0, len(SIZE_BANDS)))]
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _circle(n: int = 40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _regular(n: int, radius: float = 1.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False) - np.pi / 2
    return radius * np.stack([np.cos(t), np.sin(t)], axis=1)


def _star(rng: np.random.Generator) -> np.ndarray:
    outer, inner = _regular(5), _regular(5, rng.uniform(0.36, 0.5))
    rot = np.array([[np.cos(np.pi / 5), -np.sin(np.pi / 5)], [np.sin(np.pi / 5), np.cos(np.pi / 5)]])
    return np.stack([outer, inner @ rot.T], axis=1).reshape(-1, 2)


def _cross(rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.2, 0.36)
    return np.array(
        [
            [-t, -1],
            [t, -1],
            [t, -t],
            [1, -t],
            [1, t],
            [t, t],
            [t, 1],
            [-t, 1],
            [-t, t],
            [-1, t],
            [-1, -t],
            [-t, -t],
        ]
    )


def shape_layers(name: str, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """Polygons (unit coordinates, radius <= 1) and their fill (255 draws, 0 cuts a hole)."""
    if name == "circle":
        return [(_circle(), 255)]
    if name == "square":
        return [(_regular(4), 255)]
    if name == "triangle":
        return [(_regular(3) + rng.uniform(-0.08, 0.08, (3, 2)), 255)]
    if name == "star":
        return [(_star(rng), 255)]
    if name == "cross":
        return [(_cross(rng), 255)]
    if name == "ring":
        return [(_circle(), 255), (_circle() * rng.uniform(0.45, 0.7), 0)]
    if name == "hexagon":
        return [(_regular(6), 255)]
    if name == "crescent":
        offset = np.array([rng.uniform(0.35, 0.6), 0.0])
        return [(_circle(), 255), (_circle() * rng.uniform(0.8, 1.0) + offset, 0)]
    raise ValueError(f"shape: got {name!r}; allowed: {', '.join(SHAPES)}")


def _blob(rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """An irregular polygon or a thin ellipse: distractors that resemble no class."""
    if rng.random() < 0.4:
        return [(_circle() * np.array([1.0, rng.uniform(0.08, 0.3)]), 255)]
    n = int(rng.integers(7, 13))
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(0.3, 1.0, n)
    return [(np.stack([r * np.cos(t), r * np.sin(t)], axis=1), 255)]


@dataclass(frozen=True)
class _Placed:
    """A rasterised shape: soft mask over a pixel box that may extend past the image."""

    x0: int
    y0: int
    mask: np.ndarray  # float32 [h, w] in [0, 1]


def _rasterize(layers: list[tuple[np.ndarray, int]], rng: np.random.Generator, extent: float, c) -> _Placed:
    """Scale by ``extent`` (with aspect jitter), rotate, move to centre ``c`` and draw, anti-aliased."""
    aspect = np.exp(rng.uniform(-0.25, 0.25))
    scale = np.array([np.sqrt(aspect), 1 / np.sqrt(aspect)]) * extent / 2
    a = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    polys = [((p * scale) @ rot.T + c, f) for p, f in layers]
    x0, y0 = np.floor(polys[0][0].min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(polys[0][0].max(axis=0)).astype(int) + 1
    canvas = Image.new("L", ((x1 - x0) * _SUPERSAMPLE, (y1 - y0) * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(canvas)
    for pts, value in polys:
        draw.polygon([tuple(q) for q in (pts - (x0, y0)) * _SUPERSAMPLE], fill=value)
    mask = np.asarray(canvas.reduce(_SUPERSAMPLE), np.float32) / 255.0
    return _Placed(int(x0), int(y0), mask)


def _clip(placed: _Placed, size: int) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The part of a placed mask inside the image: (image slices, mask crop), or None if none."""
    h, w = placed.mask.shape
    ya, xa = max(placed.y0, 0), max(placed.x0, 0)
    yb, xb = min(placed.y0 + h, size), min(placed.x0 + w, size)
    if ya >= yb or xa >= xb:
        return None
    crop = placed.mask[ya - placed.y0 : yb - placed.y0, xa - placed.x0 : xb - placed.x0]
    return (slice(ya, yb), slice(xa, xb)), crop


def _composite(image: np.ndarray, where: tuple[slice, slice], mask: np.ndarray, rng) -> None:
    """Paint a random fill through ``mask``, preferring fills that stand out from what is under them."""
    region = image[:, where[0], where[1]]
    under = region[:, mask > 0.5].mean(axis=1) if (mask > 0.5).any() else region.mean(axis=(1, 2))
    enforce = rng.random() < 0.85  # some shapes are deliberately low-contrast
    for _ in range(5):
        paint = tex.fill(rng, *mask.shape)
        if not enforce or np.abs(paint.mean(axis=(1, 2)) - under).mean() >= _MIN_CONTRAST:
            break
    region += (paint - region) * mask


def _draw_line(image: np.ndarray, label: np.ndarray | None, rng: np.random.Generator) -> None:
    size = image.shape[1]
    canvas = Image.new("L", (size, size), 0)
    pts = [tuple(p) for p in rng.uniform(-0.2, 1.2, (int(rng.integers(2, 4)), 2)) * size]
    ImageDraw.Draw(canvas).line(pts, fill=255, width=int(rng.integers(1, 5)))
    color = tex.random_color(rng)
    box = canvas.getbbox()  # composite only where the line is: most of the canvas is empty
    if box is None:
        return
    where = (slice(box[1], box[3]), slice(box[0], box[2]))
    mask = np.asarray(canvas.crop(box), np.float32) / 255.0
    region = image[:, where[0], where[1]]
    region += (color[:, None, None] - region) * mask
    if label is not None:
        label[where][mask > 0.5] = -1


def _draw_clutter(image: np.ndarray, label: np.ndarray | None, rng: np.random.Generator) -> None:
    """One distractor: a line or a blob; with ``label`` given it occludes the shapes under it."""
    size = image.shape[1]
    if rng.random() < 0.5:
        _draw_line(image, label, rng)
        return
    extent = size * rng.uniform(0.05, 0.3)
    placed = _rasterize(_blob(rng), rng, extent, rng.uniform(0, size, 2))
    clipped = _clip(placed, size)
    if clipped is not None:
        _composite(image, clipped[0], clipped[1], rng)
        if label is not None:
            label[clipped[0]][clipped[1] > 0.5] = -1


def _draw_object(image: np.ndarray, label: np.ndarray, k: int, cls: int, rng) -> tuple[int, int, float]:
    """Draw shape ``cls`` as object ``k``; return (class, k, full mask area incl. off-image part)."""
    size = image.shape[1]
    extent = size * sample_extent(rng)
    inside = rng.random() < 0.8  # most shapes lie fully inside; the rest may be cut by the border
    lo, hi = (extent / 2, size - extent / 2) if inside else (0.0, float(size))
    placed = _rasterize(shape_layers(SHAPES[cls], rng), rng, extent, rng.uniform(lo, hi, 2))
    clipped = _clip(placed, size)
    if clipped is not None:
        _composite(image, clipped[0], clipped[1], rng)
        label[clipped[0]][clipped[1] > 0.5] = k
    return cls, k, float((placed.mask > 0.5).sum())


def _annotate(label: np.ndarray, objects: list[tuple[int, int, float]]) -> list[dict]:
    """COCO-style annotations measured on the visible pixels of each object."""
    anns = []
    for cls, k, total in objects:
        visible = label == k
        count = int(visible.sum())
        if count < MIN_VISIBLE_PX:
            continue
        ys, xs = np.flatnonzero(visible.any(axis=1)), np.flatnonzero(visible.any(axis=0))
        bbox = [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]
        crowd = int(count < CROWD_VISIBLE_FRACTION * max(total, 1.0))
        # COCOeval's small/medium/large split reads "area"; with no segmentation, the box area is the size.
        anns.append({"class": cls, "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": crowd})
    return anns


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Global photometric variety: contrast, brightness, blur, sensor noise."""
    gain = np.float32(rng.uniform(0.7, 1.3))
    image *= gain
    image += np.float32(128.0 * (1 - gain) + rng.uniform(-30, 30))
    if rng.random() < 0.5:  # luminance noise: one plane is half the cost of three and looks the same
        image += rng.standard_normal((1, *image.shape[1:]), np.float32) * np.float32(rng.uniform(2, 10))
    np.clip(image, 0, 255, out=image)
    out = Image.fromarray(np.ascontiguousarray(image.astype(np.uint8).transpose(1, 2, 0)))
    if rng.random() < 0.25:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return np.asarray(out)


def render(rng: np.random.Generator, size: int, max_objects: int) -> tuple[np.ndarray, list[dict]]:
    """Render one image.

    Args:
        rng: The image's own generator (seeded per image, so workers can render in any order).
        size: Side of the square image in pixels.
        max_objects: Upper bound on the number of shapes.

    Returns:
        uint8 [size, size, 3] image and annotations ``{"class", "bbox" (x, y, w, h px), "area", "iscrowd"}``.
    """
    image = tex.background(rng, size, size)
    label = np.full((size, size), -1, np.int16)
    for _ in range(int(rng.integers(0, 6))):
        _draw_clutter(image, None, rng)
    count = 0 if rng.random() < 0.05 else min(max_objects, 1 + int(rng.poisson(3.0)))
    classes = rng.integers(0, len(SHAPES), count)
    objects = [_draw_object(image, label, k, int(c), rng) for k, c in enumerate(classes)]
    for _ in range(int(rng.integers(0, 3))):
        _draw_clutter(image, label, rng)
    return _finish(image, rng), _annotate(label, objects)
