"""``edgebench benchmark``: the plan-driven, cached, resumable pipeline from data to stored records.

    from bench.plans import load_plan
    from bench.pipeline import Options, run_benchmark

    outcome = run_benchmark(load_plan("quick"), Options(workdir=Path("work"), store=None))

Modules: ``run`` (the two passes and the run-id decision), ``stages`` (dataset, train, export,
evaluate), ``entries`` (their typed results), ``timing`` (records), ``jobs`` (what a plan expands to),
``runs`` (run manifest and record ids), ``inputs`` (the converters' input object), ``progress`` and
``summary`` (output). The stage cache is ``bench.cache``.
"""

from bench.pipeline.run import Options, Outcome, RunStatus, run_benchmark

__all__ = ["Options", "Outcome", "RunStatus", "run_benchmark"]
