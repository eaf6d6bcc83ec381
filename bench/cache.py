"""Content-addressed stage cache: each stage's result is a JSON file named by the hash of its inputs.

A key is the SHA-256 of canonical JSON holding the stage's plan section, the content hashes of what
the stage reads (dataset key, weights file, artifact file) and a *code salt*: the hash of the source
files whose change would change the result (their syntax trees: comments, docstrings and layout do not
count), plus the versions of the tools involved. So a re-run does
only what changed, and an edit of the converters re-exports without re-training.

Results are written atomically (temp file + rename): a killed run leaves either the finished entry or
none, never half of one. Heavy outputs (checkpoints, artifacts) live in a folder beside the entry, named
by the same key, and are written before the entry that marks them finished.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import platform
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# Bump to invalidate every cached result (a change of cache layout or of what the entries hold).
CACHE_VERSION = 1
# The sources each stage's result depends on, relative to the repository root (files or folders).
STAGE_SOURCES: dict[str, tuple[str, ...]] = {
    "train": (
        "bench/models",
        "bench/training",
        "bench/data/input_pipeline.py",
        "bench/data/augment.py",
        "bench/data/coco.py",
    ),
    "export": ("converters", "bench/models", "bench/training", "bench/pipeline/inputs.py"),
    "evaluate": ("bench/evaluation", "bench/data/coco.py"),
    "share": ("bench/evaluation/share.py", "bench/evaluation/metrics.py"),
    "time": ("device_runners",),
}
# The distributions whose versions are part of each stage's salt.
STAGE_TOOLS: dict[str, tuple[str, ...]] = {
    "train": ("tensorflow", "tf_keras"),
    "export": ("tensorflow", "tf_keras", "tensorflow-model-optimization", "coremltools", "ai-edge-litert"),
    "evaluate": ("ai-edge-litert", "pycocotools", "pillow"),
    "share": ("pycocotools", "numpy"),
    "time": ("ai-edge-litert",),
}


def digest(*parts: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``parts`` (sorted keys; paths and enums as strings)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


@functools.cache
def code_salt(stage: str) -> str:
    """The hash of the stage's source files and tool versions (see ``STAGE_SOURCES``)."""
    sha = hashlib.sha256(f"cache-v{CACHE_VERSION}:{stage}".encode())
    for entry in STAGE_SOURCES.get(stage, ()):
        root = REPO_ROOT / entry
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files:
            if file.is_file():
                sha.update(str(file.relative_to(REPO_ROOT)).encode())
                sha.update(code_fingerprint(file))
    for dist in STAGE_TOOLS.get(stage, ()):
        try:
            sha.update(f"{dist}=={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            sha.update(f"{dist} absent".encode())
    sha.update(platform.python_version().encode())
    return sha.hexdigest()


def code_fingerprint(path: Path) -> bytes:
    """What a source file computes: its syntax tree without docstrings (comments and layout never count).

    So a reworded docstring or a reformat does not re-train three detectors; a changed line of code does.
    A file that does not parse counts by its bytes.
    """
    source = path.read_bytes()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False).encode()


def stage_key(stage: str, *inputs: Any) -> str:
    """The cache key of one stage item: its inputs plus the stage's code salt."""
    return digest(stage, code_salt(stage), *inputs)


def write_json_atomic(path: str | Path, value: Any) -> None:
    """Write JSON through a unique temporary sibling and a rename (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: str | Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable (a stale entry is a miss)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class StageCache:
    """Finished stage results under ``root/cache/<stage>/<key>.json``; outputs under ``root/<stage>/``.

    Args:
        root: The work folder (``work/`` by default).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def entry_path(self, stage: str, key: str) -> Path:
        """Where the result of ``stage`` for ``key`` is (or will be) written."""
        return self.root / "cache" / stage / f"{key}.json"

    def output_dir(self, stage: str, label: str, key: str) -> Path:
        """A folder for the stage's heavy outputs: ``root/<stage>/<label>-<key[:12]>``."""
        return self.root / stage / f"{label}-{key[:12]}"

    def get(self, stage: str, key: str) -> dict | None:
        """The finished result, or None (a miss)."""
        value = read_json(self.entry_path(stage, key))
        return value if isinstance(value, dict) else None

    def put(self, stage: str, key: str, value: dict) -> dict:
        """Mark the item finished with ``value`` (atomically); returns ``value``."""
        write_json_atomic(self.entry_path(stage, key), value)
        return value
