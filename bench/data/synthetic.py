"""Write the synthetic shapes detection dataset in COCO format, deterministically, atomically, cached.

Layout written under the output folder::

    synth.json                 the manifest: generator version, config, cache key
    train/instances.json       COCO instances (non-contiguous category ids on purpose)
    train/images/000000.jpg    ...
    val/instances.json
    val/images/...

Every image is rendered from its own generator seeded by ``(seed, split, index)``, so the bytes do not
depend on how the work is spread over processes. Everything goes into a temporary sibling folder that is
renamed into place at the end: a crash leaves nothing half-written, and a finished folder whose manifest
matches the config is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.coco import IMAGES_DIR, INSTANCES_FILE
from bench.data.synth_draw import SHAPES, render
from common.errors import InputError, choice_error

# Bump whenever a change to the drawing code changes the bytes written: it invalidates every cache.
GENERATOR_VERSION = 1
# Non-contiguous ids, as in COCO itself, so every consumer exercises the id <-> class index mapping.
CATEGORY_IDS = (1, 3, 4, 7, 9, 12, 15, 20)
MANIFEST_FILE = "synth.json"
SPLITS = ("train", "val")
_FORMATS = {"jpeg": ".jpg", "png": ".png"}
# Below this many images a process pool costs more to start than it saves.
_POOL_MIN_IMAGES = 96


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Every field is part of the cache key.

    Attributes:
        seed: Master seed; the same config writes the same bytes.
        train: Number of training images.
        val: Number of validation images.
        size: Side of the square images in pixels.
        image_format: ``jpeg`` (small, realistic artefacts) or ``png`` (lossless).
        max_objects: Upper bound on shapes per image (about 4 on average).
    """

    seed: int = 0
    train: int = 2000
    val: int = 500
    size: int = 256
    image_format: str = "jpeg"
    max_objects: int = 10

    def __post_init__(self) -> None:
        for name, low in (("seed", 0), ("train", 0), ("val", 0), ("size", 32), ("max_objects", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise InputError(f"synthetic dataset {name}: expected an integer >= {low}; got {value!r}")
        if self.image_format not in _FORMATS:
            raise choice_error("synthetic dataset image_format", self.image_format, tuple(_FORMATS))

    def cache_key(self) -> str:
        """16 hex digits naming this config under this generator version."""
        blob = json.dumps({"generator_version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def synthetic_cached(cache_root: str | Path, config: SynthConfig, *, workers: int | None = None) -> Path:
    """Generate into ``cache_root/synth-<cache key>`` unless it is already there; return that folder."""
    return generate_synthetic(Path(cache_root) / f"synth-{config.cache_key()}", config, workers=workers)


def generate_synthetic(out_dir: str | Path, config: SynthConfig, *, workers: int | None = None) -> Path:
    """Write the dataset to ``out_dir`` atomically, or reuse it if it already holds this config.

    Args:
        out_dir: Destination folder; must not exist, be empty, or hold this very config.
        config: What to generate.
        workers: Processes to render with; defaults to every core.

    Returns:
        ``out_dir`` (load a split with ``load_coco(out_dir / "val")``).

    Raises:
        InputError: ``out_dir`` holds something else.
    """
    out = Path(out_dir)
    if _holds(out, config):
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"{out}: exists and does not hold synthetic dataset {config.cache_key()} "
            "(no matching synth.json); choose an empty or new folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for code, split in enumerate(SPLITS):
            _write_split(tmp / split, config, code, getattr(config, split), workers)
        manifest = {"generator_version": GENERATOR_VERSION, "cache_key": config.cache_key(), **asdict(config)}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _move_into_place(tmp, out, config)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _holds(out: Path, config: SynthConfig) -> bool:
    try:
        manifest = json.loads((out / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("cache_key") == config.cache_key()


def _move_into_place(tmp: Path, out: Path, config: SynthConfig) -> None:
    """Rename ``tmp`` to ``out``; if another process got there first with the same data, keep theirs."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    try:
        os.rename(tmp, out)
    except OSError as exc:
        if not _holds(out, config):
            raise InputError(f"{out}: could not move the generated dataset into place: {exc}") from exc


def _write_split(split_dir: Path, config: SynthConfig, code: int, count: int, workers: int | None) -> None:
    (split_dir / IMAGES_DIR).mkdir(parents=True)
    ext = _FORMATS[config.image_format]
    jobs = [
        (config.seed, code, i, config.size, config.max_objects, str(split_dir / IMAGES_DIR / f"{i:06d}{ext}"))
        for i in range(count)
    ]
    workers = min(workers or os.cpu_count() or 1, max(count // 32, 1))
    if workers > 1 and count >= _POOL_MIN_IMAGES:
        with ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
            per_image = list(pool.map(_render_one, jobs, chunksize=max(count // (workers * 8), 1)))
    else:
        per_image = [_render_one(job) for job in jobs]
    document = _instances(config, split_dir.name, per_image, ext)
    (split_dir / INSTANCES_FILE).write_text(json.dumps(document, separators=(",", ":")))


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork (fast, works from any script) unless TensorFlow is loaded: forking a process whose native
    thread pools may hold locks can deadlock the child, so then spawn (which re-imports ``__main__``)."""
    return multiprocessing.get_context("spawn" if "tensorflow" in sys.modules else "fork")


def _render_one(job: tuple[int, int, int, int, int, str]) -> list[dict]:
    """Render and save one image (runs in a worker process); return its annotations."""
    seed, code, index, size, max_objects, path = job
    rng = np.random.default_rng([seed, code, index])
    pixels, anns = render(rng, size, max_objects)
    image = Image.fromarray(pixels)
    if path.endswith(".png"):
        image.save(path, compress_level=1)
    else:
        image.save(path, quality=int(rng.integers(70, 96)))
    return anns


def _instances(config: SynthConfig, split: str, per_image: list[list[dict]], ext: str) -> dict:
    images, annotations = [], []
    for index, anns in enumerate(per_image):
        image_id = index + 1
        images.append(
            {"id": image_id, "file_name": f"{index:06d}{ext}", "width": config.size, "height": config.size}
        )
        for ann in anns:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": CATEGORY_IDS[ann["class"]],
                    "bbox": ann["bbox"],
                    "area": ann["area"],
                    "iscrowd": ann["iscrowd"],
                }
            )
    categories = [
        {"id": cid, "name": name, "supercategory": "shape"}
        for cid, name in zip(CATEGORY_IDS, SHAPES, strict=True)
    ]
    info = {
        "description": f"edgebench synthetic shapes, {split} split",
        "version": str(GENERATOR_VERSION),
        "seed": config.seed,
    }
    return {"info": info, "images": images, "annotations": annotations, "categories": categories}
