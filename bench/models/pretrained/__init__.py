"""Weights from outside the zoo: published checkpoints imported into the zoo's Keras models."""
