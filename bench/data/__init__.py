"""Datasets: COCO-format loading and validation, the synthetic generator, the tf.data input pipeline."""
