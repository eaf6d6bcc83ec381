"""The TF Object Detection API's backbone layouts, transcribed from its source (not from this zoo).

These are the layer lists the OD API's TF1 feature extractors build, at depth multiplier 1.0, so that
:mod:`bench.models.pretrained.od_api_table` can compute every checkpoint variable's name and shape
without trusting the zoo's own block specs; the importer then compares those shapes with the zoo's
layers, and any disagreement is an error naming the variable.

Sources (tensorflow/models):
  * MobileNetV2: research/slim/nets/mobilenet/mobilenet_v2.py ``V2_DEF``;
  * MobileNetV3: research/slim/nets/mobilenet/mobilenet_v3.py ``V3_LARGE`` / ``V3_SMALL`` and
    ``_reduce_consecutive_layers`` (the ``*_DETECTION`` defs halve spec items 13-16 / 9-12);
  * MobileDet: research/object_detection/models/ssd_mobiledet_feature_extractor.py,
    ``mobiledet_{cpu,edgetpu,dsp,gpu}_backbone``.
"""

from __future__ import annotations

from typing import NamedTuple

# MobileNetV2 (t, c, n, s) after the 32-channel stem conv; then Conv_1 with 1280 channels.
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
MOBILENET_V2_STEM, MOBILENET_V2_LAST = 32, 1280


class V3Op(NamedTuple):
    """One ``mbv3_op`` / ``mbv3_op_se`` of slim's MobileNetV3 defs."""

    kernel: int
    expansion: float  # expand_input_by_factor(ef): expanded = make_divisible(inputs * ef, 8)
    out: int
    se: bool


# slim V3_SMALL / V3_LARGE (the activation does not change any variable, so it is left out).
MOBILENET_V3 = {
    "small": {
        "stem": 16,
        "ops": (
            V3Op(3, 1, 16, True),
            V3Op(3, 72 / 16, 24, False),
            V3Op(3, 88 / 24, 24, False),
            V3Op(5, 4, 40, True),
            V3Op(5, 6, 40, True),
            V3Op(5, 6, 40, True),
            V3Op(5, 3, 48, True),
            V3Op(5, 3, 48, True),
            V3Op(5, 6, 96, True),
            V3Op(5, 6, 96, True),
            V3Op(5, 6, 96, True),
        ),
        "last": 576,
        # _reduce_consecutive_layers(V3_SMALL, 9, 12): spec items 9..12 (ops 8..10 and Conv_1) halved.
        "reduced_from_op": 8,
    },
    "large": {
        "stem": 16,
        "ops": (
            V3Op(3, 1, 16, False),
            V3Op(3, 4, 24, False),
            V3Op(3, 3, 24, False),
            V3Op(5, 3, 40, True),
            V3Op(5, 3, 40, True),
            V3Op(5, 3, 40, True),
            V3Op(3, 6, 80, False),
            V3Op(3, 2.5, 80, False),
            V3Op(3, 184 / 80, 80, False),
            V3Op(3, 184 / 80, 80, False),
            V3Op(3, 6, 112, True),
            V3Op(3, 6, 112, True),
            V3Op(5, 6, 160, True),
            V3Op(5, 6, 160, True),
            V3Op(5, 6, 160, True),
        ),
        "last": 960,
        # _reduce_consecutive_layers(V3_LARGE, 13, 16): ops 12..14 and Conv_1 halved.
        "reduced_from_op": 12,
    },
}


class DetOp(NamedTuple):
    """One call of the OD API's MobileDet backbone functions."""

    kind: str  # "ibn", "ibn_noexp", "fused", "tucker"
    out: int
    expansion: int = 8
    kernel: int = 3
    ranks: tuple[float, float] = (0.25, 0.25)  # tucker input / output rank ratios


_I, _F, _T = "ibn", "fused", "tucker"

# Per backbone: (stem conv channels, squeeze-excite in the IBNs, *the calls after the stem in order);
# SE only in MobileDet-CPU.
MOBILEDET = {
    "cpu": (16, True)
    + (
        DetOp("ibn_noexp", 8),
        DetOp(_I, 16, 4),
        DetOp(_I, 32, 8),
        *[DetOp(_I, 32, 4)] * 3,
        DetOp(_I, 72, 8, 5),
        DetOp(_I, 72, 8),
        DetOp(_I, 72, 4, 5),
        DetOp(_I, 72, 4),
        *[DetOp(_I, 72, 8)] * 4,
        DetOp(_I, 104, 8, 5),
        DetOp(_I, 104, 4, 5),
        DetOp(_I, 104, 4, 5),
        DetOp(_I, 104, 4),
        DetOp(_I, 144, 8),
    ),
    "edgetpu": (32, False)
    + (
        DetOp(_T, 16, ranks=(0.25, 0.75)),
        DetOp(_F, 16, 8),
        DetOp(_F, 16, 4),
        DetOp(_F, 16, 8),
        DetOp(_F, 16, 4),
        DetOp(_F, 40, 8, 5),
        *[DetOp(_F, 40, 4)] * 3,
        DetOp(_I, 72, 8),
        DetOp(_I, 72, 8),
        DetOp(_F, 72, 4),
        DetOp(_F, 72, 4),
        DetOp(_I, 96, 8, 5),
        DetOp(_I, 96, 8, 5),
        DetOp(_I, 96, 8),
        DetOp(_I, 96, 8),
        DetOp(_I, 120, 8, 5),
        DetOp(_I, 120, 8),
        DetOp(_I, 120, 4, 5),
        DetOp(_I, 120, 8),
        DetOp(_I, 384, 8, 5),
    ),
    "dsp": (32, False)
    + (
        DetOp("ibn_noexp", 24),
        DetOp(_F, 32, 4),
        DetOp(_F, 32, 4),
        DetOp(_I, 32, 4),
        DetOp(_T, 32, ranks=(0.25, 0.75)),
        DetOp(_F, 64, 8),
        DetOp(_I, 64, 4),
        DetOp(_F, 64, 4),
        DetOp(_F, 64, 4),
        DetOp(_F, 120, 8),
        DetOp(_I, 120, 4),
        DetOp(_I, 120, 8),
        DetOp(_I, 120, 8),
        DetOp(_F, 144, 8),
        *[DetOp(_I, 144, 8)] * 3,
        DetOp(_I, 160, 4),
        DetOp(_I, 160, 4),
        DetOp(_F, 160, 4),
        DetOp(_T, 160, ranks=(0.75, 0.75)),
        DetOp(_I, 240, 8),
    ),
    "gpu": (32, False)
    + (
        DetOp(_T, 16, ranks=(0.25, 0.25)),
        DetOp(_F, 32, 8),
        *[DetOp(_T, 32, ranks=(0.25, 0.25))] * 3,
        *[DetOp(_F, 64, 8)] * 3,
        DetOp(_F, 64, 4),
        DetOp(_F, 128, 8),
        *[DetOp(_F, 128, 4)] * 3,
        *[DetOp(_F, 128, 8)] * 4,
        *[DetOp(_F, 128, 4)] * 4,
        DetOp(_I, 384, 8),
    ),
}

# The variable scope each extractor opens under "FeatureExtractor/", and the ``from_layer`` name the
# extra layers are named after (feature_map_generators.multi_resolution_feature_maps).
SCOPES = {
    "mobilenet_v2": ("MobilenetV2", "layer_19"),
    "mobilenet_v3_small": ("MobilenetV3", "layer_13"),
    "mobilenet_v3_large": ("MobilenetV3", "layer_17"),
    "mobiledet_cpu": ("MobileDetCPU", "C5"),
    "mobiledet_edgetpu": ("MobileDetEdgeTPU", "C5"),
    "mobiledet_dsp": ("MobileDetDSP", "C5"),
    "mobiledet_gpu": ("MobileDetGPU", "C5"),
}

# How many MobileDet calls after the stem end at the C4 endpoint (the ``endpoints['C4'] = h`` lines).
MOBILEDET_C4_OPS = {"cpu": 14, "edgetpu": 17, "dsp": 17, "gpu": 17}
# slim's V2 ``layer_15/expansion_output`` and V3's ``layer_14`` / ``layer_10`` expansion outputs:
# layer_1 is the stem conv, so layer_k is expanded_conv op k - 2.
C4_EXPANSION_OP = {"mobilenet_v2": 13, "mobilenet_v3_large": 12, "mobilenet_v3_small": 8}
