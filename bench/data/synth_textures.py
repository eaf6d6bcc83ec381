"""Procedural textures for the synthetic detection set: gradients, noise, stripes, checkerboards, dots.

Every texture is a float32 ``[3, h, w]`` array (planar: numpy broadcasts over a trailing axis of 3 about
ten times slower than over whole rows) in ``[0, 255]`` drawn from a ``numpy.random.Generator``, so an
image is a pure function of its seed. Backgrounds and object fills use the same textures on purpose:
a detector must tell a striped star from a striped background by shape, not by texture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def random_color(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour, float32 [3] in [0, 255]."""
    return rng.uniform(0.0, 255.0, 3).astype(np.float32)


def _grid(h: int, w: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by ``angle``, scaled so the longer side spans about 1."""
    scale = 1.0 / max(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) * scale
    c, s = float(np.cos(angle)), float(np.sin(angle))  # Python floats keep float32 (NEP 50)
    return xx * c + yy * s, -xx * s + yy * c


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blend colours ``a`` -> ``b`` by weights ``t`` ([h, w] in [0, 1]) into a planar [3, h, w] image."""
    return a[:, None, None] + (b - a)[:, None, None] * t.astype(np.float32, copy=False)[None]


def solid(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """One flat colour."""
    return np.broadcast_to(random_color(rng)[:, None, None], (3, h, w)).astype(np.float32)


def linear_gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Two colours blended along a random direction."""
    u, _ = _grid(h, w, rng.uniform(0, 2 * np.pi))
    t = (u - u.min()) / max(float(np.ptp(u)), 1e-6)
    return _mix(random_color(rng), random_color(rng), t)


def radial_gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Two colours blended by distance from a random centre."""
    u, v = _grid(h, w, 0.0)
    cu, cv = rng.uniform(0, w / max(h, w)), rng.uniform(0, h / max(h, w))
    d = np.sqrt((u - cu) ** 2 + (v - cv) ** 2)
    t = np.clip(d / rng.uniform(0.3, 1.2), 0.0, 1.0)
    return _mix(random_color(rng), random_color(rng), t)


def value_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour noise: a coarse random grid upsampled bicubically, plus a little fine grain."""
    cells = int(rng.integers(2, 12))
    coarse = rng.uniform(0, 255, (cells, cells, 3)).astype(np.uint8)
    up = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), np.float32).transpose(2, 0, 1)
    grain = rng.standard_normal((1, h, w), np.float32) * np.float32(rng.uniform(0, 12))
    return np.clip(up + grain, 0, 255)


def stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Parallel stripes at a random angle and period, hard-edged or soft."""
    u, _ = _grid(h, w, rng.uniform(0, np.pi))
    period = rng.uniform(0.02, 0.25)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
    t = (wave > 0.5).astype(np.float32) if rng.random() < 0.5 else wave
    return _mix(random_color(rng), random_color(rng), t)


def checkerboard(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A checkerboard, possibly rotated."""
    angle = 0.0 if rng.random() < 0.5 else rng.uniform(0, np.pi / 2)
    u, v = _grid(h, w, angle)
    period = rng.uniform(0.03, 0.2)
    t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    return _mix(random_color(rng), random_color(rng), t)


def dots(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A regular grid of round dots (polka dots)."""
    u, v = _grid(h, w, rng.uniform(0, np.pi / 2))
    period = rng.uniform(0.04, 0.15)
    du = (u % period) / period - 0.5
    dv = (v % period) / period - 0.5
    t = (du**2 + dv**2 < rng.uniform(0.04, 0.16)).astype(np.float32)
    return _mix(random_color(rng), random_color(rng), t)


TEXTURES = (solid, linear_gradient, radial_gradient, value_noise, stripes, checkerboard, dots)
# Backgrounds are rarely flat in the wild: weight the busy textures up.
_BACKGROUND_WEIGHTS = np.array([0.5, 1.0, 1.0, 1.5, 1.0, 1.0, 0.7])
# Objects are often flat-coloured, sometimes patterned.
_FILL_WEIGHTS = np.array([4.0, 1.5, 1.0, 1.0, 1.0, 0.7, 0.5])


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random background: one texture, sometimes blended with a second one."""
    p = _BACKGROUND_WEIGHTS / _BACKGROUND_WEIGHTS.sum()
    image = TEXTURES[rng.choice(len(TEXTURES), p=p)](rng, h, w)
    if rng.random() < 0.35:
        other = TEXTURES[rng.choice(len(TEXTURES), p=p)](rng, h, w)
        alpha = np.float32(rng.uniform(0.2, 0.6))
        image = image * (1 - alpha) + other * alpha
    return image


def fill(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random object fill (mostly solid colours)."""
    p = _FILL_WEIGHTS / _FILL_WEIGHTS.sum()
    return TEXTURES[rng.choice(len(TEXTURES), p=p)](rng, h, w)
