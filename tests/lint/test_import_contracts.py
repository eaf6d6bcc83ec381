"""DESIGN.md's one-way graph, as import-linter contracts: they hold on the code, and they can fail.

The second test copies the contracts from pyproject.toml onto a tree of empty packages with the same
names and plants one import that goes the wrong way; lint-imports must reject it, naming the import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _contracts_toml() -> str:
    """The [tool.importlinter] tables of pyproject.toml, verbatim."""
    text = (REPO / "pyproject.toml").read_text()
    start = text.index("[tool.importlinter]")
    return text[start:]


def test_the_code_keeps_every_contract():
    done = _lint(REPO, REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("results/store.py", "bench.plans"),  # the store learning how records were made
        ("converters/convert.py", "device_runners.host"),  # a stage reaching into its sibling
        ("bench/pipeline/run.py", "bench.commands.time"),  # the pipeline reaching up into the CLI
        ("device_runners/worker.py", "tensorflow"),  # the timing worker pulling in TensorFlow
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path, importer, imported):
    config = tomllib.loads(_contracts_toml())["tool"]["importlinter"]
    modules = {
        "common/errors.py",
        "results/store.py",
        "converters/convert.py",
        "device_runners/host.py",
        "device_runners/worker.py",
        "bench/plans.py",
        "bench/cli.py",
        "bench/commands/time.py",
        "bench/pipeline/run.py",
        "bench/models/layers.py",
        "bench/training/loop.py",
        "bench/data/coco.py",
        "bench/evaluation/runner.py",
        "dashboard/app.py",
        "tensorflow/__init__.py",
        "tf_keras/__init__.py",
        "tensorflow_model_optimization/__init__.py",
    }
    for module in modules:
        path = tmp_path / module
        for folder in [path.parent, *path.parent.parents]:
            if folder == tmp_path:
                break
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        path.touch()
    assert config["root_packages"]
    (tmp_path / importer).write_text(f"import {imported}\n")
    (tmp_path / "pyproject.toml").write_text(_contracts_toml())
    done = _lint(tmp_path, tmp_path)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout
    assert imported in done.stdout
