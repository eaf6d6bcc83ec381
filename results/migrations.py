"""Bring stored records forward to the current ``SCHEMA_VERSION``.

Every schema bump adds one function here, ``_vN_to_vN+1(data) -> data``, and registers it in
``_STEPS``. Stored JSON is never rewritten in place: records are upgraded as they are read.
"""

from __future__ import annotations

from collections.abc import Callable

from common.errors import InputError
from results.schema import SCHEMA_VERSION

# version -> the function that turns a record of that version into one of the next version.
_STEPS: dict[int, Callable[[dict], dict]] = {}


def upgrade(data: dict) -> dict:
    """Upgrade a record's JSON dict to the current schema version.

    Raises:
        InputError: the record is newer than this edgebench, or no migration path exists.
    """
    version = data.get("schema_version", SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise InputError(
            f"record schema_version {version} is newer than this edgebench ({SCHEMA_VERSION}); "
            "upgrade edgebench"
        )
    while version < SCHEMA_VERSION:
        step = _STEPS.get(version)
        if step is None:
            raise InputError(f"no migration from record schema_version {version} to {version + 1}")
        data = {**step(data), "schema_version": version + 1}
        version += 1
    return data
