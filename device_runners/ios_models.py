"""iPhone model identifiers (``productType`` in devicectl's JSON) to marketing name and SoC.

devicectl reports the identifier (``iPhone12,1``) and usually the marketing name, never the chip, so the
chip comes from this table (Apple's published specifications of each model). An identifier missing here
is recorded without a SoC rather than guessed.
"""

from __future__ import annotations

import re

# identifier -> (marketing name, SoC)
IPHONE_MODELS: dict[str, tuple[str, str]] = {
    "iPhone10,1": ("iPhone 8", "A11 Bionic"),
    "iPhone10,4": ("iPhone 8", "A11 Bionic"),
    "iPhone10,2": ("iPhone 8 Plus", "A11 Bionic"),
    "iPhone10,5": ("iPhone 8 Plus", "A11 Bionic"),
    "iPhone10,3": ("iPhone X", "A11 Bionic"),
    "iPhone10,6": ("iPhone X", "A11 Bionic"),
    "iPhone11,8": ("iPhone XR", "A12 Bionic"),
    "iPhone11,2": ("iPhone XS", "A12 Bionic"),
    "iPhone11,4": ("iPhone XS Max", "A12 Bionic"),
    "iPhone11,6": ("iPhone XS Max", "A12 Bionic"),
    "iPhone12,1": ("iPhone 11", "A13 Bionic"),
    "iPhone12,3": ("iPhone 11 Pro", "A13 Bionic"),
    "iPhone12,5": ("iPhone 11 Pro Max", "A13 Bionic"),
    "iPhone12,8": ("iPhone SE (2nd generation)", "A13 Bionic"),
    "iPhone13,1": ("iPhone 12 mini", "A14 Bionic"),
    "iPhone13,2": ("iPhone 12", "A14 Bionic"),
    "iPhone13,3": ("iPhone 12 Pro", "A14 Bionic"),
    "iPhone13,4": ("iPhone 12 Pro Max", "A14 Bionic"),
    "iPhone14,4": ("iPhone 13 mini", "A15 Bionic"),
    "iPhone14,5": ("iPhone 13", "A15 Bionic"),
    "iPhone14,2": ("iPhone 13 Pro", "A15 Bionic"),
    "iPhone14,3": ("iPhone 13 Pro Max", "A15 Bionic"),
    "iPhone14,6": ("iPhone SE (3rd generation)", "A15 Bionic"),
    "iPhone14,7": ("iPhone 14", "A15 Bionic"),
    "iPhone14,8": ("iPhone 14 Plus", "A15 Bionic"),
    "iPhone15,2": ("iPhone 14 Pro", "A16 Bionic"),
    "iPhone15,3": ("iPhone 14 Pro Max", "A16 Bionic"),
    "iPhone15,4": ("iPhone 15", "A16 Bionic"),
    "iPhone15,5": ("iPhone 15 Plus", "A16 Bionic"),
    "iPhone16,1": ("iPhone 15 Pro", "A17 Pro"),
    "iPhone16,2": ("iPhone 15 Pro Max", "A17 Pro"),
    "iPhone17,3": ("iPhone 16", "A18"),
    "iPhone17,4": ("iPhone 16 Plus", "A18"),
    "iPhone17,1": ("iPhone 16 Pro", "A18 Pro"),
    "iPhone17,2": ("iPhone 16 Pro Max", "A18 Pro"),
    "iPhone17,5": ("iPhone 16e", "A18"),
}

_CHIP = re.compile(r"^A(\d+)\b")
# LiteRT's Core ML delegate is created only where the Neural Engine is open to apps: A12 and newer
# (its documentation; on older chips the delegate is not created and every op stays on the CPU).
FIRST_CORE_ML_DELEGATE_CHIP = 12


def soc_of(product_type: str | None) -> str | None:
    """The SoC of an identifier, e.g. 'iPhone12,1' -> 'A13 Bionic'; None when unknown."""
    entry = IPHONE_MODELS.get(product_type or "")
    return entry[1] if entry else None


def marketing_name_of(product_type: str | None) -> str | None:
    """The marketing name of an identifier, e.g. 'iPhone12,1' -> 'iPhone 11'; None when unknown."""
    entry = IPHONE_MODELS.get(product_type or "")
    return entry[0] if entry else None


def core_ml_delegate_available(soc: str | None) -> bool | None:
    """Whether the Core ML delegate can be created on this SoC; None when the SoC is unknown."""
    match = _CHIP.match(soc or "")
    return int(match.group(1)) >= FIRST_CORE_ML_DELEGATE_CHIP if match else None
