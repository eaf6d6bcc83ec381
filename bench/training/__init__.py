"""Training: from-scratch SSD training, fine-tuning for QAT / pruning, and the trained model as a detector.

The API the pipeline and the converters call::

    TrainConfig(steps, batch_size=32, peak_lr=5e-3, warmup_steps=200, optimizer="adam", weight_decay=0.0,
                max_minutes=None, checkpoint_every=200, keep_checkpoints=2, seed=0, augment=FLIP_ONLY,
                bn_momentum=0.97, clip_norm=10.0, log_every=20)         # frozen, validated; from_dict()
    train(model_config, train_split, config, workdir, *, progress=True, on_step=None) -> TrainResult
        # workdir/ckpt-* (model + optimizer + step + elapsed), resumes from the newest on a re-run;
        # TrainResult(weights_path, steps, seconds, images_per_s, final_loss, stopped_by, loss_history)
    load_trained(model_config, weights_path) -> keras.Model
    finetune(model, model_config, train_split, steps, lr, *, batch_size=32, seed=0, ...) -> keras.Model
        # the same loop on a built (possibly tfmot quantize_model / prune_low_magnitude wrapped) model
    keras_detector(model, model_config, *, max_detections=100, score_threshold=None, iou=0.6)
        -> Callable[[uint8 HxWx3], Detections(boxes, classes, scores)]

For the converters' ``ConversionInputs.finetune(model, steps)`` use
``finetune_callable(model_config, split, lr=..., batch_size=...)``, see
:func:`finetune_callable`.

Calibration on this 2-core machine (``tools/calibrate_training.py``) is summarised in
``recommended_config`` and in the training report.
"""

import importlib
import sys
import types

# Where each public name lives. Loaded on first use (PEP 562) so that ``bench.training.config`` (a plan's
# ``training:`` section) can be imported without pulling TensorFlow in through the trainer.
_EXPORTS = {
    "FLIP_ONLY": "bench.training.config",
    "TrainConfig": "bench.training.config",
    "TrainResult": "bench.training.config",
    "keras_detector": "bench.training.detector",
    "load_trained": "bench.training.detector",
    "finetune": "bench.training.finetune",
    "finetune_callable": "bench.training.finetune",
    "TrainingError": "bench.training.trainer",
    "train": "bench.training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # Importing the submodule bench.training.finetune binds the package attribute `finetune` to that
        # module; the public name is the function it defines.
        if isinstance(value, types.ModuleType) and name in _EXPORTS:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
