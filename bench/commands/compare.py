"""``edgebench compare``: a candidate run against a baseline run; exit 1 on a regression.

Exit codes: 0 nothing regressed, 1 something did, 2 bad input (unknown run or ref, empty store,
malformed checks). The statistics and the matching live in ``results.regression``; this module
finds the two runs (a baseline may be a git ref) and writes the reports.
"""

from __future__ import annotations

import argparse
import re
import sys

import pandas as pd

from common.errors import InputError
from common.process import CommandError, CommandTimeout
from common.process import run as run_command
from results.checks import DEFAULT_CHECKS, FORMS, METRICS, parse_checks
from results.regression import ALPHA, compare_runs
from results.report import to_json, to_junit, to_markdown, write_atomic
from results.store import Store, shown

_GIT_TIMEOUT_S = 10.0
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_LISTED_RUNS = 10  # how many known runs an "unknown run" error lists

EPILOG = f"""\
checks: {FORMS}.
  metrics: {", ".join(METRICS)}.
  A threshold is the worsening tolerated; a sign is optional and, if written, points the worse way.
  Example: --checks 'mAP:-0.5pt,median:5%,p90:10%,size:0,memory:20'
latency: a median/p90 regression must exceed its threshold AND be significant on the raw samples
  (median: one-sided Mann-Whitney U; p90: bootstrap lower bound) at --alpha; without raw samples the
  threshold alone decides. Status flips from ok, new delegate fallbacks and missing targets fail too.
exit codes: 0 no regression, 1 regression, 2 bad input."""


def add_parser(subparsers) -> None:
    """Register ``edgebench compare``."""
    parser = subparsers.add_parser(
        "compare",
        help="compare a candidate run with a baseline run; exit 1 on a regression",
        description="Compare a candidate run with a baseline run, target by target, and report regressions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--baseline",
        required=True,
        metavar="RUN|GIT_REF",
        help="a run id, or a git ref / (abbreviated) SHA: the newest run made at that commit with the "
        "candidate's plan and target set",
    )
    parser.add_argument("--candidate", metavar="RUN", help="a run id (default: the newest run in the store)")
    parser.add_argument(
        "--checks", default=DEFAULT_CHECKS, help=f"what fails (default: {DEFAULT_CHECKS.replace('%', '%%')})"
    )
    parser.add_argument(
        "--alpha", type=float, default=ALPHA, help=f"latency significance level (default: {ALPHA})"
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="report targets missing from the candidate without failing",
    )
    parser.add_argument("--markdown", metavar="FILE", help="write the Markdown report here")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML here (one test case per target)")
    parser.add_argument("--json", metavar="FILE", help="write the full comparison as JSON here")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="results store URL or SQLite path (default: $EDGEBENCH_STORE, else results/edgebench.sqlite)",
    )


def run(args: argparse.Namespace) -> int:
    """Compare, write the reports, and return 1 on a regression, else 0."""
    checks = parse_checks(args.checks)  # bad checks fail before anything is opened
    if not 0.0 < args.alpha < 0.5:
        raise InputError(f"--alpha: got {args.alpha:g}; allowed: a significance level between 0 and 0.5")
    store = Store(args.store)
    try:
        runs = store.runs()
        if runs.empty:
            raise InputError(f"--store: {shown(store.url)} holds no runs; store a benchmark run first")
        runs["targets"] = runs["run_id"].map(store.run_targets())
        candidate = _candidate_run(runs, args.candidate)
        baseline = resolve_baseline(runs, args.baseline, candidate)
        if baseline == candidate:
            raise InputError(
                f"--candidate: {candidate!r} is the baseline run itself; pass another --candidate"
            )
        for line in chosen_lines(runs, candidate, baseline):
            print(line, file=sys.stderr)
        comparison = compare_runs(
            store.records(baseline), store.records(candidate), checks, args.alpha, args.allow_missing
        )
    finally:
        store.close()
    outputs = {args.markdown: to_markdown, args.junit: to_junit, args.json: to_json}
    for path, render in outputs.items():
        if path:
            write_atomic(path, render(comparison))
    if not any(outputs):
        print(to_markdown(comparison), end="")
    else:
        regressed = len(comparison.regressions)
        print(f"edgebench compare: {regressed} of {len(comparison.targets)} targets regressed")
    return comparison.exit_code


def _known(runs: pd.DataFrame) -> str:
    listed = ", ".join(runs["run_id"].head(_LISTED_RUNS))
    more = f" (and {len(runs) - _LISTED_RUNS} older)" if len(runs) > _LISTED_RUNS else ""
    return f"known runs, newest first: {listed}{more}"


def _candidate_run(runs: pd.DataFrame, requested: str | None) -> str:
    if requested is None:
        return str(runs["run_id"].iloc[0])
    if requested not in set(runs["run_id"]):
        raise InputError(f"--candidate: no run {requested!r} in the store; {_known(runs)}")
    return requested


def resolve_baseline(runs: pd.DataFrame, spec: str, candidate: str) -> str:
    """A run id as is; otherwise the newest run made at the commit ``spec`` names, of the candidate's
    plan and target set (a nightly plan on three phones is never the baseline of a smoke run on CI's host).

    ``spec`` may be a branch, tag or (abbreviated) SHA; ``git rev-parse`` resolves it in the current
    directory. Without git or outside the repository, a hex prefix is matched against stored commits.

    Args:
        runs: ``Store.runs()`` plus a ``targets`` column (``Store.run_targets()``).
        spec: The ``--baseline`` argument.
        candidate: The candidate run id.

    Raises:
        InputError: nothing matches, an abbreviated SHA matches several stored commits, or runs exist at
            that commit but none of the candidate's plan and targets.
    """
    if spec in set(runs["run_id"]):
        return spec
    commit = _rev_parse(spec)
    stored = runs["git_commit"].fillna("").str.lower()
    if commit is not None:
        # A stored commit may itself be abbreviated (at least 7 hex digits, git's default).
        matches = runs[(stored == commit) | ((stored.str.len() >= 7) & stored.map(commit.startswith))]
    elif _HEX.match(spec):
        matches = runs[stored.str.startswith(spec.lower()) & (stored != "")]
        if matches["git_commit"].nunique() > 1:
            found = ", ".join(sorted(matches["git_commit"].unique()))
            raise InputError(f"--baseline: abbreviated SHA {spec!r} is ambiguous; it matches {found}")
    else:
        raise InputError(f"--baseline: {spec!r} is neither a stored run nor a git ref here; {_known(runs)}")
    what = f"commit {commit} ({spec})" if commit else f"a commit starting {spec!r}"
    if matches.empty:
        raise InputError(f"--baseline: no run in the store was made at {what}; {_known(runs)}")
    alike = matches[matches["run_id"].map(lambda run: _alike(runs, run, candidate))]
    alike = alike[alike["run_id"] != candidate]
    if alike.empty:
        cand = _row(runs, candidate)
        raise InputError(
            f"--baseline: runs at {what} ({', '.join(matches['run_id'].head(_LISTED_RUNS))}) are of another "
            f"plan or target set than the candidate {candidate} (plan {cand['plan']!r}, targets "
            f"{', '.join(sorted(cand['targets']))}); pass --baseline RUN to compare them anyway"
        )
    return str(alike["run_id"].iloc[0])  # runs() lists newest first


def _row(runs: pd.DataFrame, run_id: str) -> pd.Series:
    return runs.loc[runs["run_id"] == run_id].iloc[0]


def _alike(runs: pd.DataFrame, run_a: str, run_b: str) -> bool:
    a, b = _row(runs, run_a), _row(runs, run_b)
    same_plan = (pd.isna(a["plan"]) and pd.isna(b["plan"])) or a["plan"] == b["plan"]
    return bool(same_plan and a["targets"] == b["targets"])


def chosen_lines(runs: pd.DataFrame, candidate: str, baseline: str) -> list[str]:
    """What ``compare`` tells the user it compares (and a warning when the two runs are not alike)."""
    lines = []
    for role, run_id in (("candidate", candidate), ("baseline", baseline)):
        row = _row(runs, run_id)
        commit = row["git_commit"][:12] if isinstance(row["git_commit"], str) else "no commit"
        plan = row["plan"] if isinstance(row["plan"], str) else "-"
        targets = ", ".join(sorted(row["targets"]))
        lines.append(f"{role}: {run_id} (plan {plan}, {commit}, {row['records']} records on {targets})")
    if not _alike(runs, candidate, baseline):
        lines.append(
            "warning: the two runs differ in plan or target set; unmatched targets show as new or missing"
        )
    return lines


def _rev_parse(spec: str) -> str | None:
    """The full commit SHA ``spec`` names in the current repository, or None when git cannot say."""
    if spec.startswith("-"):  # never let a "ref" be read as an option
        return None
    argv = ["git", "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"]
    try:
        return run_command(argv, timeout=_GIT_TIMEOUT_S).stdout.strip().lower() or None
    except (CommandError, CommandTimeout, FileNotFoundError):
        return None
