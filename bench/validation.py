"""Pydantic validation errors as the one line every bad config ends in (``InputError``, exit code 2).

Plans, training and augmentation configs and the synthetic dataset config are all frozen pydantic models
with unknown keys rejected; this module turns the first validation error into ``key.path: problem (got X)``
or ``key: unknown key; allowed: ...``, naming the key, what is allowed and what was received.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from common.errors import InputError

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], values: object, where: str) -> M:
    """``model.model_validate(values)``, a failure raised as one line prefixed with ``where``.

    Raises:
        InputError: ``"{where} {key}: {problem}"`` for the first error.
    """
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise InputError(f"{where} {describe_error(error, model)}") from None


def describe_error(error: ValidationError, model: type[BaseModel]) -> str:
    """The first validation error as ``key.path: problem (got X); allowed: ...``."""
    first = error.errors()[0]
    loc = list(first["loc"])
    key = format_loc(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1])
        return f"{key}: unknown key; allowed: {', '.join(allowed)}"
    if first["type"] == "missing":
        return f"{key}: required key is missing"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        message = message.replace("Input should be", "allowed:")
    received = first.get("input")
    # A message that already quotes the value (our own validators say "got X; allowed: ...") keeps one copy.
    quoted = isinstance(received, dict | list) or message.startswith("got ")
    shown = "" if quoted else f" (got {received!r})"
    return f"{key}: {message}{shown}"


def format_loc(loc: list) -> str:
    """``["variants", 0, "name"]`` -> ``variants[0].name``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def allowed_keys(model: type[BaseModel], loc: list) -> list[str]:
    """The field names of the model found by walking ``loc`` (list indices skipped) from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
    return sorted(current.model_fields) if isinstance(current, type) else []


def _model_in(annotation: Any) -> Any:
    """The BaseModel class inside ``X``, ``X | None`` or ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
