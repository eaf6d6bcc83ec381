"""``zoo_tflite``: the zoo's TFLite export helpers used by the zoo tests and ``tools/check_zoo_int8``.

Perf gates live in ``perf/``, research and maintenance tools in ``tools/``, test data in ``tests/fixtures``.
"""
