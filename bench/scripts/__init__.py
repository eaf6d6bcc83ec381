"""Scripts run with ``python -m bench.scripts.<name>``: perf checks and maintenance helpers."""
