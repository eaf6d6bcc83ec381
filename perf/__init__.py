"""Performance gates run by ``make perf``: scripts that print figures and PASS/FAIL lines.

``perf_timing`` (timing fidelity and stability against a bare LiteRT loop), ``perf_dashboard`` (the
dashboard on 100,000 records), ``perf_int8`` (int8 / fp16 / pruned size and speed ratios). Not shipped in
the wheel; run from the repository root: ``python -m perf.perf_timing``.
"""
