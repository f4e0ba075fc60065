"""Provenance for every sourced figure in the catalog, the topology and the workload data.

A figure is a value plus where it came from: ``source`` (URL or document),
``retrieved`` (date), and ``confidence``. Estimates must say how they were made
(``method``). Where sources disagree, ``range`` keeps the spread and ``note``
says why ``value`` was chosen.

Dates are honest: ``retrieved`` is the day the source was read. ``published`` is
the source's own date where known. ``rechecked: false`` marks a figure whose page
was not re-read since it entered the data (``retrieved`` then keeps the day it was
first recorded); ``true`` marks one re-read on ``retrieved``. ``source`` names the
original (publisher, title, date, full URL); a copy elsewhere goes in ``mirror``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from planner.errors import InputError, UnknownNameError


class Confidence(str, Enum):
    """How much a figure can be trusted, best first."""

    vendor_spec = "vendor_spec"
    paper = "paper"
    official = "official"  # government or regulator publication
    press = "press"
    estimate = "estimate"


class Figure(BaseModel):
    """One sourced number. ``value`` None means "not supported / not applicable"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float | None
    source: str
    retrieved: dt.date
    confidence: Confidence
    method: str | None = None
    range: tuple[float, float] | None = None
    note: str | None = None
    published: dt.date | None = None
    rechecked: bool | None = None
    mirror: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "Figure":
        if self.confidence is Confidence.estimate and not self.method:
            raise ValueError("an estimate must say its method (field 'method')")
        if not self.source.strip():
            raise ValueError("'source' must name a URL or document")
        if self.range is not None:
            lo, hi = self.range
            if lo > hi:
                raise ValueError(f"range {self.range} is reversed: write it low, high")
        return self


# --------------------------------------------------------------------------- audit

# Top-level domains seen in citations; a host ending in one of them with no path after it is
# a bare domain (``afslaw.com``), which points at a site, not at the page that carries the figure.
_TLDS = ("com", "cn", "net", "org", "io", "ai", "gov", "sg", "jp", "ru", "de", "fi", "hu", "uk", "tv", "xyz",
         "info", "me", "dev", "blog", "news", "co", "edu", "hk", "tw", "vip", "icu", "app", "fr", "us", "in",
         "au", "pk", "ch", "biz", "cc")
_HOST = re.compile(r"(?<![\w@/.-])(?:https?://)?((?:[a-z0-9-]+\.)+(?:" + "|".join(_TLDS) + r"))(?![\w-])(/[^\s;,)]*)?",
                   re.IGNORECASE)


def bare_domains(text: str | None) -> list[str]:
    """Hosts cited without a path (``afslaw.com``, ``https://japantimes.co.jp/``) in ``text``."""
    if not text:
        return []
    out = []
    for m in _HOST.finditer(text):
        path = (m.group(2) or "").rstrip(".")
        if path in ("", "/"):
            out.append(m.group(1))
    return out


def audit(fig: Figure) -> list[str]:
    """What a reviewer could not follow in this figure; empty when it is sound.

    Flags a bare-domain source or mirror, an estimate without a method, a ``retrieved``
    date before the source's ``published`` date or in the future of the data, and a
    value outside its own range.
    """
    problems = []
    for key in ("source", "mirror"):
        for host in bare_domains(getattr(fig, key)):
            problems.append(f"{key} cites the bare domain '{host}': give the full URL of the page")
    if fig.confidence is Confidence.estimate and not (fig.method or "").strip():
        problems.append("an estimate without a method")
    if fig.published is not None and fig.retrieved < fig.published:
        problems.append(f"retrieved {fig.retrieved} is before the source was published ({fig.published})")
    if fig.range is not None and fig.value is not None:
        lo, hi = fig.range
        if not lo - 1e-9 <= fig.value <= hi + 1e-9:
            problems.append(f"value {fig.value:g} lies outside its own range [{lo:g}, {hi:g}]")
    return problems


# --------------------------------------------------------------------------- loading

def load_figure(raw: Any, *, file: str, field: str, sources: Mapping[str, Any] | None = None,
                plain_source: str | None = None, method: str | None = None, required: bool = True) -> Figure | None:
    """The one loader of ``Figure`` records, for the catalog, the topology and the workload data.

    ``raw`` is a Figure as a file writes it: a mapping (``value``, ``source``, ``retrieved``, ``confidence``
    …, or ``ref`` to an entry of ``sources`` that supplies the provenance), or — where ``plain_source``
    names who gave it — a bare number, kept as an estimate with that source. Every value must be finite.
    Errors are one ``InputError`` naming the file and the field.
    """
    if isinstance(raw, Figure):
        return raw
    fig = figure_record(raw, file=file, field=field, sources=sources, plain_source=plain_source, method=method)
    if fig is None:
        if required:
            raise InputError("missing figure", file=file, field=field, fix=_FIX)
        return None
    value = fig.get("value")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"value {value} is not a finite number", file=file, field=f"{field}.value",
                         fix="give a finite number, or null for 'not applicable'")
    try:
        return Figure.model_validate(fig)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(err["msg"].removeprefix("Value error, "), file=file,
                         field=f"{field}.{where}" if where else field, fix=_FIX) from None


_FIX = "write {value: ..., source: ..., retrieved: YYYY-MM-DD, confidence: ...} (estimates also need method)"


def figure_record(raw: Any, *, file: str, field: str, sources: Mapping[str, Any] | None = None,
                  plain_source: str | None = None, method: str | None = None) -> dict[str, Any] | None:
    """A Figure as written, resolved to the fields of a ``Figure`` but not yet validated (the catalog
    merges overrides into these before validating): ``ref`` looked up in ``sources``, a bare number
    given the ``plain_source``. None stays None."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise InputError(f"expected a number or a Figure, got {str(raw).lower()}", file=file, field=field, fix=_FIX)
    if isinstance(raw, (int, float)):
        if plain_source is None:
            raise InputError("a bare number has no provenance", file=file, field=field,
                             fix="write {value: ..., ref: <source id>} or give source, retrieved and confidence")
        return {"value": float(raw), "source": plain_source, "retrieved": dt.date.today(),
                "confidence": Confidence.estimate.value,
                "method": method or f"value given by the {plain_source} without a source"}
    if not isinstance(raw, Mapping):
        raise InputError(f"expected a number or a Figure mapping, got {type(raw).__name__}", file=file, field=field,
                         fix="write {value: ..., ref: <source id>}")
    fig = dict(raw)
    ref = fig.pop("ref", None)
    if ref is not None:
        if sources is None or ref not in sources:
            raise UnknownNameError("source", str(ref), sources or {}, file=file, field=f"{field}.ref")
        base = dict(sources[ref])
        if "note" in base and "note" in fig:
            fig["note"] = f"{fig['note']} {base.pop('note')}"
        fig = base | fig
    return fig
