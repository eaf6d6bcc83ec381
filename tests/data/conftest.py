"""Fixtures of the dataset tests: a small valid COCO split on disk, and the real CLI."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Non-contiguous category ids, a crowd box and an image without boxes: the cases COCO itself has.
VALID_DOCUMENT = {
    "images": [
        {"id": 7, "file_name": "a.png", "width": 64, "height": 48},
        {"id": 3, "file_name": "b.png", "width": 32, "height": 32},
        {"id": 11, "file_name": "empty.png", "width": 40, "height": 20},
    ],
    "categories": [
        {"id": 9, "name": "star"},
        {"id": 2, "name": "circle"},
        {"id": 5, "name": "square"},
    ],
    "annotations": [
        {"id": 1, "image_id": 7, "category_id": 9, "bbox": [8, 4, 16, 12], "area": 192, "iscrowd": 0},
        {"id": 2, "image_id": 7, "category_id": 2, "bbox": [32, 24, 32, 24], "area": 768, "iscrowd": 1},
        {"id": 5, "image_id": 3, "category_id": 5, "bbox": [0, 0, 32, 32], "area": 1024, "iscrowd": 0},
    ],
}


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one CLI run."""

    code: int
    out: str
    err: str


def write_split(root: Path, document: dict, *, write_images: bool = True) -> Path:
    """Write ``document`` as root/instances.json and its images (solid colours) under root/images."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    if write_images:
        rng = np.random.default_rng(0)
        for img in document.get("images", []):
            pixels = rng.integers(0, 255, (img["height"], img["width"], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "images" / img["file_name"])
    path = root / "instances.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def valid_document() -> dict:
    """A fresh, mutable copy of the valid document."""
    return copy.deepcopy(VALID_DOCUMENT)


@pytest.fixture
def valid_split(tmp_path: Path) -> Path:
    """The valid document written to disk; returns the instances JSON path."""
    return write_split(tmp_path / "split", copy.deepcopy(VALID_DOCUMENT))


@pytest.fixture
def make_split(tmp_path: Path):
    """``make_split(document, write_images=True) -> instances JSON path`` in a fresh folder."""
    counter = iter(range(1000))

    def make(document: dict, *, write_images: bool = True) -> Path:
        return write_split(tmp_path / f"split{next(counter)}", document, write_images=write_images)

    return make


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run the real ``edgebench`` entry point with this package's subcommands registered."""
    from bench import cli as cli_module

    monkeypatch.setattr(cli_module, "COMMAND_MODULES", ["dataset", "evaluate"])

    def run(*argv: object) -> CliResult:
        code = cli_module.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
