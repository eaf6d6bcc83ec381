"""edgebench's orchestration layer: CLI, plans, pipeline, datasets, detector zoo, training, evaluation."""

import os

# tfmot supports Keras 2 only: tf_keras must be the Keras TensorFlow uses, set before TF is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
