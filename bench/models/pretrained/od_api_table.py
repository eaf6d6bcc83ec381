"""The table (TF1 checkpoint variable name -> zoo layer weight, shape) of each OD API seed detector.

Computed from :mod:`bench.models.pretrained.od_api_layouts` (the OD API's own layer lists), never
from the zoo's block specs: the zoo enters only through its layer *names*, and the importer checks
every shape against the zoo's layers. Naming rules, all from tensorflow/models:

* slim layers: ``slim.conv2d`` -> ``<scope>/weights`` (+ ``biases`` when it has no normalizer) and
  ``<scope>/BatchNorm/{gamma,beta,moving_mean,moving_variance}`` (the MobileNet defs and every SSD
  config set ``center`` and ``scale``); ``slim.separable_conv2d(num_outputs=None)`` ->
  ``<scope>/depthwise_weights`` [k, k, C, 1]; default scopes ``Conv``, ``Conv_1``... count per
  enclosing variable scope.
* MobileNetV2/V3 (slim nets/mobilenet/mobilenet.py, conv_blocks.py): ops ``Conv``, ``expanded_conv``,
  ``expanded_conv_1``..., ``Conv_1``; inside an op ``expand`` (only when the expanded width exceeds the
  input), ``depthwise``, ``squeeze_excite/Conv`` and ``squeeze_excite/Conv_1`` (with biases), ``project``.
* MobileDet (models/ssd_mobiledet_feature_extractor.py): block scopes ``IBN``, ``IBNNoExpansion``,
  ``FusedConv``, ``TuckerConv`` (``_1``, ``_2``... per kind), convs ``Conv``, ``Conv_1``... and the
  depthwise ``SeparableConv2d`` inside them, ``SqueezeExcite/Conv{,_1}`` with biases.
* Extra layers (models/feature_map_generators.py ``multi_resolution_feature_maps``, ``use_depthwise``):
  ``{from}_1_Conv2d_{i}_1x1_{d/2}``, ``{from}_2_Conv2d_{i}_3x3_s2_{d}_depthwise`` and
  ``{from}_2_Conv2d_{i}_3x3_s2_{d}``, inside the extractor's scope.
* Box predictor (predictors/convolutional_box_predictor.py, heads/box_head.py, heads/class_head.py):
  ``BoxPredictor_{i}/BoxEncodingPredictor`` and ``ClassPredictor`` (weights, biases), preceded by
  ``..._depthwise`` (depthwise weights + BatchNorm) when the predictor uses depthwise convs (SSDLite).
"""

from __future__ import annotations

from typing import NamedTuple

from bench.models.backbones.blocks import make_divisible
from bench.models.config import HeadKind, ModelConfig
from bench.models.pretrained import od_api_layouts as L
from common.errors import InputError

BN_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")
# OD API ssd_anchor_generator: 3 boxes in the reduced lowest layer, len(aspect_ratios) + 1 elsewhere.
OD_API_BOXES_PER_CELL = (3, 6, 6, 6, 6, 6)
OD_API_CLASS_SLOTS = 91  # 90 COCO ids + background
EXTRA_DEPTHS = (512, 256, 256, 128)  # feature_map_layout layer_depth of every seed extractor
BACKBONE, EXTRAS, BOX_HEAD, CLASS_HEAD = "backbone", "extras", "box_head", "class_head"


class Entry(NamedTuple):
    """One checkpoint variable and the zoo weight it fills."""

    name: str  # checkpoint variable name
    shape: tuple[int, ...]  # its shape in the OD API model
    layer: str  # zoo Keras layer name
    weight: str  # that layer's weight: kernel, depthwise_kernel, bias, gamma, beta, moving_*
    part: str  # BACKBONE, EXTRAS, BOX_HEAD or CLASS_HEAD


class _Table:
    """Accumulates entries; each helper adds one slim layer."""

    def __init__(self):
        self.entries: list[Entry] = []

    def conv(self, name: str, shape: tuple, zoo: str, part: str, *, bn: bool = True, bias: bool = False):
        """A slim.conv2d ``name`` with kernel ``shape`` -> zoo ``{zoo}_conv`` / ``{zoo}_bn`` (or ``zoo``)."""
        layer = f"{zoo}_conv" if bn else zoo
        self.entries.append(Entry(f"{name}/weights", tuple(shape), layer, "kernel", part))
        if bias:
            self.entries.append(Entry(f"{name}/biases", (shape[-1],), layer, "bias", part))
        if bn:
            self._bn(name, shape[-1], zoo, part)

    def depthwise(self, name: str, kernel: int, channels: int, zoo: str, part: str):
        """A slim.separable_conv2d(num_outputs=None) with BatchNorm -> zoo ``{zoo}_dwconv`` / ``_bn``."""
        shape = (kernel, kernel, channels, 1)
        self.entries.append(
            Entry(f"{name}/depthwise_weights", shape, f"{zoo}_dwconv", "depthwise_kernel", part)
        )
        self._bn(name, channels, zoo, part)

    def se(self, name: str, channels: int, hidden: int, zoo: str):
        """Squeeze-excite: two 1x1 convs with biases, no BatchNorm -> zoo ``{zoo}_se_reduce/expand``."""
        self.conv(f"{name}/Conv", (1, 1, channels, hidden), f"{zoo}_se_reduce", BACKBONE, bn=False, bias=True)
        self.conv(
            f"{name}/Conv_1", (1, 1, hidden, channels), f"{zoo}_se_expand", BACKBONE, bn=False, bias=True
        )

    def _bn(self, name: str, channels: int, zoo: str, part: str):
        for weight in BN_WEIGHTS:
            self.entries.append(Entry(f"{name}/BatchNorm/{weight}", (channels,), f"{zoo}_bn", weight, part))


def _mobilenet_v2(t: _Table, scope: str) -> tuple[int, int]:
    """slim MobileNetV2 (V2_DEF) -> zoo ``mnv2_block{i}``. Returns the (C4, C5) channels."""
    t.conv(f"{scope}/Conv", (3, 3, 3, L.MOBILENET_V2_STEM), "mnv2_block0", BACKBONE)
    channels, op, c4 = L.MOBILENET_V2_STEM, 0, 0
    for expansion, out, repeats, _ in L.MOBILENET_V2_STAGES:
        for _ in range(repeats):
            # The first op is expand_input(1, divisible_by=1); the others expand_input_by_factor(6).
            inner = channels * expansion if expansion == 1 else make_divisible(channels * expansion)
            if op == L.C4_EXPANSION_OP["mobilenet_v2"]:
                c4 = inner
            _slim_expanded_conv(t, scope, op, channels, inner, out, 3, None, f"mnv2_block{op + 1}")
            channels, op = out, op + 1
    t.conv(f"{scope}/Conv_1", (1, 1, channels, L.MOBILENET_V2_LAST), f"mnv2_block{op + 1}", BACKBONE)
    return c4, L.MOBILENET_V2_LAST


def _mobilenet_v3(t: _Table, scope: str, size: str) -> tuple[int, int]:
    """slim MobileNetV3 ``V3_{SIZE}_DETECTION`` -> zoo ``mnv3{s,l}_block{i}``. Returns (C4, C5) channels."""
    spec, prefix = L.MOBILENET_V3[size], f"mnv3{size[0]}"
    t.conv(f"{scope}/Conv", (3, 3, 3, spec["stem"]), f"{prefix}_block0", BACKBONE)
    channels, c4 = spec["stem"], 0
    for index, v3op in enumerate(spec["ops"]):
        # np.round(num_outputs * 0.5) in _reduce_consecutive_layers.
        out = round(v3op.out * 0.5) if index >= spec["reduced_from_op"] else v3op.out
        inner = make_divisible(channels * v3op.expansion)
        hidden = make_divisible(inner / 4) if v3op.se else None  # squeeze_factor 4, divisible_by 8
        if index == L.C4_EXPANSION_OP[f"mobilenet_v3_{size}"]:
            c4 = inner
        _slim_expanded_conv(
            t, scope, index, channels, inner, out, v3op.kernel, hidden, f"{prefix}_block{index + 1}"
        )
        channels = out
    last = round(spec["last"] * 0.5)
    t.conv(f"{scope}/Conv_1", (1, 1, channels, last), f"{prefix}_block{len(spec['ops']) + 1}", BACKBONE)
    return c4, last


def _slim_expanded_conv(t, scope, op, channels, inner, out, kernel, se_hidden, zoo):
    """conv_blocks.expanded_conv: [expand] -> depthwise -> [squeeze_excite] -> project."""
    name = f"{scope}/expanded_conv" + (f"_{op}" if op else "")
    if inner > channels:  # slim expands only when the inner size exceeds the input depth
        t.conv(f"{name}/expand", (1, 1, channels, inner), f"{zoo}_expand", BACKBONE)
    t.depthwise(f"{name}/depthwise", kernel, inner, f"{zoo}_depthwise", BACKBONE)
    if se_hidden is not None:
        t.se(f"{name}/squeeze_excite", inner, se_hidden, zoo)
    t.conv(f"{name}/project", (1, 1, inner, out), f"{zoo}_project", BACKBONE)


def _scale_filters(filters: float, ratio: float, base: int = 8) -> int:
    """ssd_mobiledet_feature_extractor._scale_filters."""
    return max(int(int(filters) * ratio / base + 0.5) * base, base)


def _mobiledet(t: _Table, scope: str, kind: str) -> tuple[int, int]:
    """The OD API's MobileDet backbones -> zoo ``mobiledet_{kind}_block{i}``. Returns (C4, C5) channels."""
    stem, use_se, *ops = L.MOBILEDET[kind]
    zoo_prefix = f"mobiledet_{kind}_block"
    t.conv(f"{scope}/Conv", (3, 3, 3, stem), f"{zoo_prefix}0", BACKBONE)
    counts: dict[str, int] = {}
    channels, c4 = stem, 0
    for index, det in enumerate(ops):
        default = {"ibn": "IBN", "ibn_noexp": "IBNNoExpansion", "fused": "FusedConv", "tucker": "TuckerConv"}
        base = default[det.kind]
        n = counts.get(base, 0)
        counts[base] = n + 1
        name = f"{scope}/{base}" + (f"_{n}" if n else "")
        _mobiledet_block(t, name, det, channels, use_se, f"{zoo_prefix}{index + 1}")
        channels = det.out
        if index + 1 == L.MOBILEDET_C4_OPS[kind]:
            c4 = channels
    return c4, channels


def _mobiledet_block(t: _Table, name: str, det, channels: int, use_se: bool, zoo: str) -> None:
    k = det.kernel
    if det.kind == "tucker":
        r_in, r_out = _scale_filters(channels, det.ranks[0]), _scale_filters(det.out, det.ranks[1])
        t.conv(f"{name}/Conv", (1, 1, channels, r_in), f"{zoo}_reduce", BACKBONE)
        t.conv(f"{name}/Conv_1", (k, k, r_in, r_out), f"{zoo}_core", BACKBONE)
        t.conv(f"{name}/Conv_2", (1, 1, r_out, det.out), f"{zoo}_project", BACKBONE)
        return
    if det.kind == "fused":
        inner = channels * det.expansion
        t.conv(f"{name}/Conv", (k, k, channels, inner), f"{zoo}_fused", BACKBONE)
        t.conv(f"{name}/Conv_1", (1, 1, inner, det.out), f"{zoo}_project", BACKBONE)
        return
    project = "Conv"
    inner = channels
    if det.kind == "ibn":
        inner, project = channels * det.expansion, "Conv_1"
        t.conv(f"{name}/Conv", (1, 1, channels, inner), f"{zoo}_expand", BACKBONE)
    t.depthwise(f"{name}/SeparableConv2d", k, inner, f"{zoo}_depthwise", BACKBONE)
    if use_se:
        t.se(f"{name}/SqueezeExcite", inner, _scale_filters(inner, 0.25), zoo)
    t.conv(f"{name}/{project}", (1, 1, inner, det.out), f"{zoo}_project", BACKBONE)


def _extras_and_heads(t: _Table, scope: str, from_layer: str, maps: list[int], depthwise_head: bool):
    """Extra feature layers (use_depthwise) and the convolutional box predictor of all six maps."""
    channels = maps[-1]
    for index, depth in enumerate(EXTRA_DEPTHS, start=2):
        half = max(depth // 2, 16)  # depth_fn: max(int(d * 1.0), min_depth 16)
        zoo = f"extra{index - 2}"
        t.conv(
            f"{scope}/{from_layer}_1_Conv2d_{index}_1x1_{half}",
            (1, 1, channels, half),
            f"{zoo}_reduce",
            EXTRAS,
        )
        name = f"{scope}/{from_layer}_2_Conv2d_{index}_3x3_s2_{depth}"
        t.depthwise(f"{name}_depthwise", 3, half, f"{zoo}_depthwise", EXTRAS)
        t.conv(name, (1, 1, half, depth), f"{zoo}_project", EXTRAS)
        maps.append(depth)
        channels = depth
    for index, (depth, boxes) in enumerate(zip(maps, OD_API_BOXES_PER_CELL, strict=True)):
        for predictor, per_box, part, zoo in (
            ("BoxEncodingPredictor", 4, BOX_HEAD, f"head{index}_box"),
            ("ClassPredictor", OD_API_CLASS_SLOTS, CLASS_HEAD, f"head{index}_class"),
        ):
            name = f"BoxPredictor_{index}/{predictor}"
            kernel = 3
            if depthwise_head:
                t.depthwise(f"{name}_depthwise", 3, depth, f"{zoo}_depthwise", part)
                kernel = 1
            t.conv(name, (kernel, kernel, depth, boxes * per_box), zoo, part, bn=False, bias=True)


def checkpoint_table(config: ModelConfig) -> list[Entry]:
    """Every variable of the OD API model-zoo checkpoint of ``config``'s family (depth multiplier 1.0).

    Args:
        config: A zoo variant whose backbone is one of the seed families.

    Returns:
        The entries, in the OD API's layer order.

    Raises:
        InputError: The backbone has no OD API checkpoint layout, or the width is not 1.0.
    """
    if config.backbone not in L.SCOPES:
        raise InputError(f"{config.name}: backbone {config.backbone!r} has no OD API checkpoint layout")
    if config.width_multiplier != 1.0:
        raise InputError(
            f"{config.name}: width_multiplier {config.width_multiplier}; "
            "the OD API checkpoints have depth multiplier 1.0"
        )
    scope, from_layer = L.SCOPES[config.backbone]
    scope = f"FeatureExtractor/{scope}"
    t = _Table()
    if config.backbone == "mobilenet_v2":
        c4, c5 = _mobilenet_v2(t, scope)
    elif config.backbone.startswith("mobilenet_v3_"):
        c4, c5 = _mobilenet_v3(t, scope, config.backbone.removeprefix("mobilenet_v3_"))
    else:
        c4, c5 = _mobiledet(t, scope, config.backbone.removeprefix("mobiledet_"))
    _extras_and_heads(t, scope, from_layer, [c4, c5], config.head == HeadKind.SSDLITE)
    return t.entries
