"""Fixtures shared by more than one test folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def mediapipe_python():
    """The MediaPipe environment's python; skips the test when the environment was never built."""
    # Imported here: importing the converters package imports TensorFlow, which every session would pay.
    from converters.mediapipe_env import MediapipeEnvError, env_python

    try:
        return env_python(create=False)
    except MediapipeEnvError as error:
        pytest.skip(f"MediaPipe environment not available ({error}); create it with `make mediapipe-env`")
