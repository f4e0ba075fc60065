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
import re
from enum import Enum

from pydantic import BaseModel, ConfigDict, model_validator


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
