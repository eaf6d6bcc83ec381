"""Bring stored records forward to this edgebench's schema, and read newer minor versions leniently.

Every major bump adds one function here, ``_vN_to_vN+1(data) -> data``, and registers it in ``_STEPS``.
Stored JSON is never rewritten in place: records are upgraded as they are read, so a newer minor
version's extra fields stay in the store's JSON body for the readers that know them.
(The store's *tables* are migrated by Alembic, see ``results/store_migrations``.)
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable

from pydantic import BaseModel

from common.errors import InputError
from results.schema import SCHEMA_MINOR, SCHEMA_VERSION, RunRecord

# version -> the function that turns a record of that version into one of the next version.
_STEPS: dict[int, Callable[[dict], dict]] = {}

# The first edgebench release that writes each record schema major (what a too-old reader names).
RELEASES = {1: "0.1.0"}


def newer_major_message(what: str, major: int) -> str:
    """The one line a reader prints when ``what`` was written by a newer major schema."""
    release = RELEASES.get(major)
    install = f"edgebench >= {release}" if release else "a newer edgebench (pip install -U edgebench)"
    return (
        f"{what} uses record schema {major}.x, newer than this edgebench reads ({SCHEMA_VERSION}.x); "
        f"install {install}"
    )


def upgrade(data: dict) -> dict:
    """Upgrade a record's JSON dict to the current schema major version.

    Raises:
        InputError: the record's major version is newer than this edgebench, or no migration path exists.
    """
    version = data.get("schema_version", SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise InputError(newer_major_message(f"record {data.get('record_id', '?')}", version))
    while version < SCHEMA_VERSION:
        step = _STEPS.get(version)
        if step is None:
            raise InputError(f"no migration from record schema_version {version} to {version + 1}")
        data = {**step(data), "schema_version": version + 1}
        version += 1
    return data


def load_record(data: dict) -> RunRecord:
    """A stored or cached record's JSON dict as a ``RunRecord`` of this schema: older majors are migrated,
    fields a newer minor version added are dropped (they stay in the stored body), then it is validated.

    Raises:
        InputError: a newer major version, or no migration path.
    """
    data = upgrade(data)
    if data.get("schema_minor", 0) > SCHEMA_MINOR:
        data = {**_known_fields(RunRecord, data), "schema_minor": SCHEMA_MINOR}
    return RunRecord.model_validate(data)


def _known_fields(model: type[BaseModel], data: dict) -> dict:
    """``data`` without the keys ``model`` (recursively) does not define."""
    kept = {}
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None:
            continue
        nested = _model_in(field.annotation)
        if nested is not None and isinstance(value, dict):
            value = _known_fields(nested, value)
        kept[name] = value
    return kept


def _model_in(annotation) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (``X``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
