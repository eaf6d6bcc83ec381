"""The variant registry: name -> :class:`ModelConfig`, duplicates refused, wildcard listing like timm.

Full-size variants follow the reference table (reference/detectors.md, Targets); every one has a
``tiny_`` twin (96x96, width 0.25, 3 classes) running the same code path, for tests.
"""

from __future__ import annotations

import fnmatch

import tf_keras as keras

from bench.models.config import HeadKind, ModelConfig
from bench.models.losses import LossConfig, LossKind
from common.errors import InputError, choice_error

TINY_PREFIX = "tiny_"
_REGISTRY: dict[str, ModelConfig] = {}

# Every variant starts from the focal-loss prior (ModelConfig.class_bias_init / background_bias_init).
_FOCAL = {"loss": LossConfig(kind=LossKind.FOCAL)}
_HNM = {"loss": LossConfig(kind=LossKind.HARD_NEGATIVE_MINING)}


def register(config: ModelConfig) -> ModelConfig:
    """Add a variant.

    Raises:
        ValueError: A variant of that name is already registered.
    """
    if config.name in _REGISTRY:
        raise ValueError(f"model variant {config.name!r} is already registered")
    _REGISTRY[config.name] = config
    return config


def list_models(pattern: str = "*", exclude: str | None = None) -> list[str]:
    """Registered variant names matching a shell-style wildcard, in registration order.

    Args:
        pattern: e.g. ``"*"``, ``"ssdlite_mobiledet_*"``, ``"tiny_*"``.
        exclude: Names matching this wildcard are left out (e.g. ``"tiny_*"``).

    Returns:
        The matching names.
    """
    names = [n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern)]
    return [n for n in names if exclude is None or not fnmatch.fnmatchcase(n, exclude)]


def get_config(
    name: str,
    *,
    input_size: int | None = None,
    width_multiplier: float | None = None,
    num_classes: int | None = None,
) -> ModelConfig:
    """The config of a registered variant, optionally resized.

    Args:
        name: Registered variant name.
        input_size: Square input side; None keeps the variant's default.
        width_multiplier: None keeps the default.
        num_classes: Classes without background; None keeps the default.

    Returns:
        The config.

    Raises:
        InputError: Unknown name (the message lists the allowed ones) or invalid override.
    """
    if name not in _REGISTRY:
        raise choice_error("model", name, list_models())
    return _REGISTRY[name].replace(
        input_size=input_size, width_multiplier=width_multiplier, num_classes=num_classes
    )


def build_model(name_or_config: str | ModelConfig, **overrides) -> keras.Model:
    """Build the float Keras model of a variant.

    Args:
        name_or_config: Registered variant name or a config.
        **overrides: ``input_size``, ``width_multiplier``, ``num_classes`` (see :func:`get_config`).

    Returns:
        The Keras model (see :mod:`bench.models.ssd` for its inputs and outputs).
    """
    # Imported here so that listing and configs do not need the layer modules.
    from bench.models.ssd import build_ssd

    if isinstance(name_or_config, ModelConfig):
        config = name_or_config.replace(**overrides)
    elif isinstance(name_or_config, str):
        config = get_config(name_or_config, **overrides)
    else:
        raise InputError(
            f"model: got {type(name_or_config).__name__}; allowed: a variant name or a ModelConfig"
        )
    return build_ssd(config)


def _full_size_variants() -> list[ModelConfig]:
    """The variants of the reference table, each citing the paper table or config it follows."""
    variants = [
        ModelConfig(
            "ssd_mobilenet_v2",
            "mobilenet_v2",
            input_size=300,
            head=HeadKind.SSD,
            **_HNM,
            source="TF OD API ssd_mobilenet_v2_coco.config (depthwise extras, 3x3 conv heads)",
        ),
        ModelConfig(
            "ssdlite_mobilenet_v2",
            "mobilenet_v2",
            **_HNM,
            source="MobileNetV2 paper, Table 6; TF OD API ssdlite_mobilenet_v2_coco.config",
        ),
    ]
    for size, table in (("small", 2), ("large", 1)):
        variants.append(
            ModelConfig(
                f"ssdlite_mobilenet_v3_{size}",
                f"mobilenet_v3_{size}",
                **_FOCAL,
                source=f"MobileNetV3 paper, Tables {table} and 6 (reduced tail); "
                f"TF OD API ssdlite_mobilenet_v3_{size}_320x320_coco.config",
            )
        )
    for kind in ("cpu", "edgetpu", "dsp", "gpu"):
        variants.append(
            ModelConfig(
                f"ssdlite_mobiledet_{kind}",
                f"mobiledet_{kind}",
                **_FOCAL,
                source=f"MobileDets paper; TF OD API ssdlite_mobiledet_{kind}_320x320_coco_sync_4x4.config",
            )
        )
    return variants


def _register_zoo() -> None:
    variants = _full_size_variants()
    for config in variants:
        register(config)
    # Same code path, small enough for tests to build and convert in seconds.
    for config in variants:
        register(
            config.replace(
                name=TINY_PREFIX + config.name, input_size=96, width_multiplier=0.25, num_classes=3
            )
        )


_register_zoo()
