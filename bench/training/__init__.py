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

Calibration on this 2-core machine (``bench/scripts/calibrate_training.py``) is summarised in
``recommended_config`` and in the training report.
"""

from bench.training.config import FLIP_ONLY, TrainConfig, TrainResult
from bench.training.detector import keras_detector, load_trained
from bench.training.finetune import finetune, finetune_callable
from bench.training.trainer import TrainingError, train

__all__ = [
    "FLIP_ONLY",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "finetune",
    "finetune_callable",
    "keras_detector",
    "load_trained",
    "train",
]
