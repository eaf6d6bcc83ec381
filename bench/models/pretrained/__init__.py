"""Starting a zoo detector from published weights instead of random ones.

- :mod:`~bench.training.init_spec`: ``InitSpec`` (``training.init`` / ``--init``), no TensorFlow.
- :mod:`~bench.models.pretrained.keras_apps`: Keras Applications' ImageNet MobileNetV2 / V3 into the zoo
  backbones, through one explicit layer map.
- :mod:`~bench.models.pretrained.od_api`: TF Object Detection API model-zoo checkpoints (class head
  by name: :mod:`~bench.models.pretrained.od_api_class_head`).
- :mod:`~bench.models.pretrained.initialize`: the dispatch the training loop calls once, at step 0.
"""
