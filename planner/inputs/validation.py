"""Pydantic validation errors as one ``InputError``: the file, the field path, the bound and the fix."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from planner.errors import InputError, did_you_mean

_FIXES = {
    "greater_than": "use a positive number",
    "greater_than_equal": "use a number that is not negative",
    "less_than_equal": "use a smaller number",
    "missing": "add this field",
    "int_type": "use a whole number",
    "int_parsing": "use a whole number",
    "float_parsing": "use a number",
    "float_type": "use a number",
    "too_short": "give at least one entry",
    "dict_type": "write a mapping (key: value)",
    "list_type": "write a list (- item)",
    "literal_error": "use one of the values the message lists",
    "enum": "use one of the values the message lists",
}


def validation_to_input_error(exc: ValidationError, file: str, model: type[BaseModel]) -> InputError:
    """Turn the first pydantic error into one InputError naming the field and the fix."""
    err = exc.errors()[0]
    loc = err["loc"]
    field = _loc_to_path(loc)
    kind = err["type"]
    fix = _FIXES.get(kind)
    message = err["msg"]
    ctx = err.get("ctx") or {}
    bound = next((f"{sign} {ctx[k]:g}" for k, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
                  if isinstance(ctx.get(k), (int, float))), None)
    if bound == "> 0":
        fix = "use a positive number"
    elif bound == "≥ 0":
        fix = "use a number that is not negative"
    elif bound is not None:
        fix = f"use a number {bound} (the schema's realistic bound; planner schema lists them all)"
    if kind == "finite_number":
        fix = "give a finite number"
    if kind == "extra_forbidden":
        known = _known_fields(model, loc[:-1])
        fix = did_you_mean(str(loc[-1]), known) or (f"allowed keys: {', '.join(sorted(known))}" if known else None)
        message = f"unknown key '{loc[-1]}'"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InputError(message, file=file, field=field or None, fix=fix)


#: pydantic names the member of a union it tried in an error's location; a reader wants the field path only
_UNION_TAG = re.compile(r"^(function-|nullable|union|lax-or-strict|json-or-python|constrained|is-instance)|[\[\](),<>]|"
                        r"^(bool|str|int|float|list|dict|tuple|none|FigureRecord|Tariff|TariffBand|SiteEntry|"
                        r"LinkEntry)$")


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and _UNION_TAG.search(part):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``, for did-you-mean on unknown keys."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:  # a dict key such as a site id: stay on the value model
            continue
        current = _inner_model(field.annotation)
    return list(getattr(current, "model_fields", {})) if current else []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
