"""What ships in the wheel: the installed packages never reach test data, perf gates or dev tools."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("common", "results", "converters", "device_runners", "bench", "dashboard")
NOT_SHIPPED = ("tests", "perf", "tools")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_installed_packages_never_import_tests_perf_or_tools():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in SHIPPED
        for path in (ROOT / package).rglob("*.py")
        for name in _imports(path) & set(NOT_SHIPPED)
    ]
    assert not offenders


def test_made_up_records_live_only_under_tests():
    assert not (ROOT / "results" / "fixtures.py").exists()
    assert not list((ROOT / "bench" / "scripts").glob("perf_*.py"))
    from tests.fixtures.records import synthetic_records

    assert {r.plan for r in synthetic_records(200, seed=0)} <= {"demo-synthetic", "demo-synthetic-smoke"}
