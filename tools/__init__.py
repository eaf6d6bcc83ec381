"""Research and maintenance tools, run from the repository root (``python -m tools.NAME``); not shipped.

``calibrate_training`` (the training calibration behind ``bench.training.recommend``), ``check_zoo_int8``
(every zoo variant survives ``quantize_model`` and full-int8 conversion). ``mediapipe_env/`` holds the
requirements of the separate MediaPipe environment.
"""
