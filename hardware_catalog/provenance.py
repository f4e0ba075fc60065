"""Provenance for every sourced figure in the catalog, the topology and the workload data.

A figure is a value plus where it came from: ``source`` (URL or document),
``retrieved`` (date), and ``confidence``. Estimates must say how they were made
(``method``). Where sources disagree, ``range`` keeps the spread and ``note``
says why ``value`` was chosen.
"""

from __future__ import annotations

import datetime as dt
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
