"""The configuration grid behind ``results.fixtures``: variants x recipes x devices x delegates x threads.

Kept apart from the record builder so each stays short. Nothing here is measured: parameters, MAdds
and mAP are the reference figures of the detector zoo (320x320, COCO), latency is a simple model of
MAdds times a recipe/delegate factor times a device factor, plausible enough to draw real-looking
trade-offs (XNNPack 5-10x faster than the builtin kernels, as DESIGN.md records).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from results.schema import ArtifactFormat, Delegate

# name -> (BN-folded params, MAdds, COCO mAP); detectors.md, "Targets" and "Published accuracy".
VARIANTS: dict[str, tuple[int, int, float]] = {
    "ssdlite_mobilenet_v2": (4_475_167, 804_000_000, 0.221),
    "ssdlite_mobilenet_v3_large": (3_231_783, 507_000_000, 0.220),
    "ssdlite_mobilenet_v3_small": (1_775_511, 162_000_000, 0.161),
    "ssdlite_mobiledet_cpu": (4_144_871, 444_000_000, 0.240),
    "ssdlite_mobiledet_gpu": (13_049_295, 5_073_000_000, 0.287),
}

# (dataset id, mAP scale): the synthetic shapes set is far easier than COCO.
DATASETS: list[tuple[str, float]] = [
    ("coco_minival_500@3f9a1c2e", 1.0),
    ("synthetic_shapes_v1@91be07d4", 2.6),
]


@dataclass(frozen=True)
class Recipe:
    """How a compression recipe changes size, accuracy and speed."""

    format: ArtifactFormat
    bytes_per_param: float  # file bytes per parameter (4 for float32 weights)
    gzip_ratio: float  # gzip size / size: pruning's zeros compress
    map_delta: float  # mAP change against the float model
    integer_only: bool  # fully integer graph: the GPU delegate declines it
    speed: dict[str, float]  # delegate -> latency factor against XNNPack float32


_FLOAT = {"cpu": 6.0, "xnnpack": 1.0, "gpu": 0.45, "nnapi": 0.6}
_INT8 = {"cpu": 4.0, "xnnpack": 0.55, "gpu": 0.6, "nnapi": 0.35}
_COREML = {"coreml_cpu": 0.9, "coreml_gpu": 0.35, "coreml_ane": 0.12, "coreml_all": 0.12}
_TFL, _CML = ArtifactFormat.TFLITE, ArtifactFormat.COREML
RECIPES: dict[str, Recipe] = {
    "tflite_fp32": Recipe(_TFL, 4.0, 0.93, 0.0, False, _FLOAT),
    "tflite_fp16": Recipe(_TFL, 2.0, 0.92, -0.0005, False, {**_FLOAT, "gpu": 0.38}),
    "tflite_dynamic_int8": Recipe(_TFL, 1.05, 0.9, -0.003, False, {**_FLOAT, "cpu": 3.5, "xnnpack": 0.8}),
    "tflite_int8": Recipe(_TFL, 1.1, 0.9, -0.012, True, _INT8),
    "tflite_int8_qat": Recipe(_TFL, 1.1, 0.9, -0.004, True, _INT8),
    "tflite_pruned_int8": Recipe(_TFL, 1.1, 0.55, -0.02, True, _INT8),
    "coreml_fp16": Recipe(_CML, 2.0, 0.92, -0.0005, False, _COREML),
    "coreml_int8_linear": Recipe(_CML, 1.05, 0.9, -0.002, False, {**_COREML, "coreml_cpu": 0.85}),
    "coreml_palettized": Recipe(_CML, 0.6, 0.85, -0.015, False, {**_COREML, "coreml_gpu": 0.38}),
}


@dataclass(frozen=True)
class Device:
    """One target device, the runner that reaches it and the delegates it offers."""

    runner: str
    device_id: str
    model: str
    os: str
    soc: str
    abi: str
    speed: float  # latency factor against a Pixel 7
    delegates: tuple[Delegate, ...]
    threads: tuple[int, ...]


_CPU = (Delegate.CPU, Delegate.XNNPACK)
DEVICES: list[Device] = [
    Device("host", "local", "AMD EPYC 7B13", "Linux 6.1", "x86_64 server", "x86_64", 0.45, _CPU, (1, 2)),
    Device(
        "adb",
        "2A191FDH300ABC",
        "Pixel 7",
        "Android 14",
        "Tensor G2",
        "arm64-v8a",
        1.0,
        (*_CPU, Delegate.GPU, Delegate.NNAPI),
        (1, 4),
    ),
    Device(
        "adb",
        "R58N12ABCDE",
        "Galaxy S21",
        "Android 13",
        "Exynos 2100",
        "arm64-v8a",
        1.15,
        (*_CPU, Delegate.GPU),
        (1, 4),
    ),
    Device("ssh", "rpi5.lan", "Raspberry Pi 5", "Debian 12", "BCM2712", "aarch64", 2.2, _CPU, (1, 4)),
    Device(
        "coreml_mac",
        "local",
        "Mac mini (M2)",
        "macOS 15.2",
        "Apple M2",
        "arm64",
        0.5,
        (Delegate.COREML_CPU, Delegate.COREML_GPU, Delegate.COREML_ANE, Delegate.COREML_ALL),
        (1,),
    ),
]


@dataclass(frozen=True)
class Config:
    """One cell of the grid: an artifact on a target."""

    variant: str
    recipe: str
    device: Device
    delegate: Delegate
    threads: int
    unsupported: str | None = None  # the reason, when the target cannot run the artifact

    @property
    def params(self) -> int:
        return VARIANTS[self.variant][0]

    @property
    def madds(self) -> int:
        return VARIANTS[self.variant][1]

    @property
    def map(self) -> float:
        return VARIANTS[self.variant][2] + RECIPES[self.recipe].map_delta

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.variant}/{self.recipe}".encode()).hexdigest()

    @property
    def sustained(self) -> bool:
        """About one configuration in forty is always timed in sustained mode (like for like across runs)."""
        key = f"{self.variant}/{self.recipe}/{self.device.device_id}/{self.delegate.value}/{self.threads}"
        return zlib.crc32(key.encode()) % 40 == 0

    @property
    def latency_ms(self) -> float:
        """Median latency: MAdds-proportional, scaled by recipe/delegate, device and threads."""
        recipe = RECIPES[self.recipe]
        base = 2.0 + self.madds / 1e9 * 28.0  # XNNPack float32, 4 threads, Pixel 7
        cpu_bound = self.delegate in _CPU or (self.delegate is Delegate.GPU and recipe.integer_only)
        threads = {1: 2.9, 2: 1.7}.get(self.threads, 1.0) if cpu_bound else 1.0
        return base * recipe.speed[self.delegate.value] * self.device.speed * threads


def build_grid() -> list[Config]:
    """Every configuration a full run measures, in a fixed order."""
    grid = []
    for variant in VARIANTS:
        for recipe_name, recipe in RECIPES.items():
            for device in DEVICES:
                grid.extend(_cells(variant, recipe_name, recipe, device))
    return grid


def _cells(variant: str, recipe_name: str, recipe: Recipe, device: Device) -> list[Config]:
    coreml_device = device.runner == "coreml_mac"
    if (recipe.format is ArtifactFormat.COREML) != coreml_device:
        if device.runner == "host":  # the plan asks the host for everything; it declines Core ML
            reason = "Core ML runs need macOS"
            return [Config(variant, recipe_name, device, Delegate.CPU, 1, unsupported=reason)]
        return []
    return [
        Config(variant, recipe_name, device, delegate, threads)
        for delegate in device.delegates
        for threads in device.threads
    ]
