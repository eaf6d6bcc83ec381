"""What each recipe promises, as checks on finished artifacts: sizes, accuracy, weight and tensor types.

Accuracy budgets (mAP measured on the artifact files by bench's evaluation; converters do not evaluate):
``tflite_int8`` keeps >= 98% of the fp32 mAP, ``tflite_int8_qat`` >= 99% (MLPerf Mobile accepts 95%),
``tflite_int8_pruned`` (50% sparse) >= 95%,
``tflite_fp16`` and ``tflite_dynamic_int8`` lose at most 0.3 mAP points (0.003 as a fraction).
Size budgets (issue 19's restated targets): at full size (320 px input, width 1.0, 91 class slots) int8 <=
0.30x the fp32 bytes and fp16 <= 0.52x; at other sizes the ratio is reported with no budget (at width 0.5
the per-channel quantization parameters, anchors and graph are a larger share of a smaller file). Pruned
int8 (50% sparse) gzips to <= 0.75x the int8 gzip at full size (0.72x measured): the one size a pruned
file saves (its raw bytes equal int8's; TFLite's sparse encoding makes it larger, docs/pruning.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converters.artifact import Artifact

# recipe -> (kind, limit): "relative" = map / fp32 map >= limit; "absolute" = fp32 map - map <= limit.
ACCURACY_BUDGETS: dict[str, tuple[str, float]] = {
    "tflite_int8": ("relative", 0.98),
    "tflite_int8_qat": ("relative", 0.99),
    "tflite_int8_pruned": ("relative", 0.95),
    "tflite_fp16": ("absolute", 0.003),
    "tflite_dynamic_int8": ("absolute", 0.003),
}
ACCURACY_REFERENCE = "tflite_fp32"
# (recipe, reference recipe, size field) -> (maximum ratio, only at FULL_SIZE?).
SIZE_BUDGETS: dict[tuple[str, str, str], tuple[float, bool]] = {
    ("tflite_int8", "tflite_fp32", "size_bytes"): (0.30, True),
    ("tflite_fp16", "tflite_fp32", "size_bytes"): (0.52, True),
    ("tflite_int8_pruned", "tflite_int8", "gzip_bytes"): (0.75, True),
}
# The size the full-size budgets are set for: input side, width multiplier, class slots (with background).
FULL_SIZE = (320, 1.0, 91)


@dataclass(frozen=True)
class Check:
    """One promise checked: what was measured against which limit."""

    name: str  # e.g. "size tflite_int8 / tflite_fp32"
    passed: bool  # True where no budget applies (a reported ratio)
    measured: float
    limit: float | None  # None: reported only (a full-size budget on a resized model)
    detail: str  # one line for reports


def model_size(artifact: Artifact) -> tuple[int, float | None, int] | None:
    """(input side, width multiplier, class slots with background) of an artifact's model, from its
    sidecar; None when the sidecar does not say."""
    sidecar = artifact.sidecar
    try:
        return (
            int(sidecar.settings.input_size),
            sidecar.model.width_multiplier,
            len(sidecar.settings.labels) + 1,
        )
    except AttributeError:
        return None


def check_sizes(artifacts: dict[str, Artifact]) -> list[Check]:
    """Size ratios of the recipes present (pairs with a missing recipe are skipped).

    A full-size budget applies only when the model is :data:`FULL_SIZE`; elsewhere the check reports the
    ratio with ``limit`` None and passes.

    Args:
        artifacts: recipe name -> artifact, all made from the same model.
    """
    checks = []
    for (recipe, reference, field), (limit, full_size_only) in SIZE_BUDGETS.items():
        if recipe not in artifacts or reference not in artifacts:
            continue
        size = getattr(artifacts[recipe].info, field)
        base = getattr(artifacts[reference].info, field)
        ratio = size / base
        detail = f"{field} {recipe} {size} / {reference} {base} = {ratio:.3f}"
        shape = model_size(artifacts[recipe])
        if full_size_only and shape != FULL_SIZE:
            side, width, slots = shape or ("?", "?", "?")
            detail += f" (no budget at {side} px, width {width}, {slots} class slots; {limit} at full size)"
            checks.append(Check(f"size {recipe} / {reference}", True, ratio, None, detail))
            continue
        detail += f" (limit {limit})"
        checks.append(Check(f"size {recipe} / {reference}", ratio <= limit, ratio, limit, detail))
    return checks


def check_accuracy(maps: dict[str, float]) -> list[Check]:
    """Accuracy budgets of the recipes present, against ``tflite_fp32``.

    Args:
        maps: recipe name -> COCO mAP (fraction in [0, 1]) measured on that recipe's artifact.

    Returns:
        One check per budgeted recipe present; none without the fp32 reference.
    """
    if ACCURACY_REFERENCE not in maps:
        return []
    base = maps[ACCURACY_REFERENCE]
    checks = []
    for recipe, (kind, limit) in ACCURACY_BUDGETS.items():
        if recipe not in maps:
            continue
        value = maps[recipe]
        if kind == "relative":
            measured = value / base if base > 0 else 0.0
            passed = measured >= limit
            detail = f"mAP {recipe} {value:.4f} / fp32 {base:.4f} = {measured:.4f} (>= {limit})"
        else:
            measured = base - value
            passed = measured <= limit
            detail = f"mAP fp32 {base:.4f} - {recipe} {value:.4f} = {measured:.4f} (<= {limit})"
        checks.append(Check(f"accuracy {recipe}", passed, measured, limit, detail))
    return checks


def tflite_conv_types(path: str | Path) -> Counter:
    """Counts of (op, input dtype, weight dtype) over the convolutions of a .tflite file."""
    from converters.tflite import op_tensor_types

    counts: Counter = Counter()
    for op in op_tensor_types(str(path)):
        if op["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            counts[(op["op"], op["inputs"][0], op["inputs"][1])] += 1
    return counts


def coreml_weight_ops(path: str | Path) -> list[dict[str, Any]]:
    """The weight-carrying ops of the ML Program inside a Core ML artifact.

    Returns:
        ``[{"op": "const" | "constexpr_...", "dtypes": {input: dtype}, "sizes": {input: elements},
        "output": dtype, "shape": [...], "lut_size": n}]``
        for ``const`` ops of rank >= 2 (weights, not scalars) and every ``constexpr_*`` op.
    """
    from converters.coreml import _ct

    ct = _ct()
    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    programs = [m for m in spec.pipeline.models if m.WhichOneof("Type") == "mlProgram"] or [spec]
    names = ct.proto.MIL_pb2.DataType.Name
    found = []
    for model in programs:
        for function in model.mlProgram.functions.values():
            for block in function.block_specializations.values():
                for op in block.operations:
                    entry = _weight_op(op, names)
                    if entry is not None:
                        found.append(entry)
    return found


def _weight_op(op: Any, names: Any) -> dict[str, Any] | None:
    out_type = op.outputs[0].type.tensorType if op.outputs else None
    if out_type is None:
        return None
    if op.type == "const" and out_type.rank < 2:
        return None
    if op.type != "const" and not op.type.startswith("constexpr_"):
        return None
    dtypes, sizes = {}, {}
    lut_size = None
    for key, value in op.attributes.items():
        if value.type.WhichOneof("type") == "tensorType":
            dtypes[key] = names(value.type.tensorType.dataType).lower()
            sizes[key] = int(np.prod([d.constant.size for d in value.type.tensorType.dimensions]))
            if key == "lut":
                # iOS16: lut [2^bits]; iOS18: lut [..., 2^bits, vector size].
                dims = value.type.tensorType.dimensions
                lut_size = int(dims[0 if len(dims) == 1 else -2].constant.size)
    for key, argument in op.inputs.items():
        for binding in argument.arguments:
            if (
                binding.WhichOneof("binding") == "value"
                and binding.value.type.WhichOneof("type") == "tensorType"
            ):
                dtypes[key] = names(binding.value.type.tensorType.dataType).lower()
    shape = [int(d.constant.size) for d in out_type.dimensions]
    output = names(out_type.dataType).lower()
    return {
        "op": op.type,
        "dtypes": dtypes,
        "sizes": sizes,
        "output": output,
        "shape": shape,
        "lut_size": lut_size,
    }
