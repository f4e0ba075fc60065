"""Supply caps for capacity planning: the scenario's own figures, else the catalog's supply data.

A scenario's ``capacity.supply_chips_per_period`` caps an accelerator in every period.
Where it gives none, a period named by a year (``"2026"``) takes the catalog's
``supply_<year>_units`` figure for that accelerator (national production or imports,
with its source), unless ``capacity.catalog_supply_caps`` is false. Periods with no
figure are uncapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from planner.inputs.scenario import CapacitySettings


@dataclass(frozen=True)
class SupplyCap:
    """At most ``chips`` of one accelerator bought in one period, and where that limit comes from."""

    chips: int
    basis: str


def supply_caps(cap: CapacitySettings, catalog: Any, accelerators: set[str]) -> dict[str, dict[str, SupplyCap]]:
    """{period name: {accelerator: SupplyCap}} for the accelerators that may be bought."""
    out: dict[str, dict[str, SupplyCap]] = {}
    for period in cap.periods:
        caps: dict[str, SupplyCap] = {}
        year = period.name if re.fullmatch(r"\d{4}", period.name) else None
        for accel in sorted(accelerators):
            if accel in cap.supply_chips_per_period:
                caps[accel] = SupplyCap(int(cap.supply_chips_per_period[accel]), "scenario supply_chips_per_period")
                continue
            if not cap.catalog_supply_caps or year is None or accel not in catalog.accelerators:
                continue
            fig = getattr(catalog.accelerators[accel], f"supply_{year}_units", None)
            if fig is not None and fig.value is not None:
                caps[accel] = SupplyCap(int(fig.value), f"catalog supply_{year}_units ({fig.confidence.value}: "
                                                        f"{fig.source[:80]})")
        out[period.name] = caps
    return out


def largest_cap(caps: dict[str, dict[str, SupplyCap]], accel: str) -> int | None:
    """The loosest cap on ``accel`` over all periods; None if some period leaves it uncapped."""
    limits = [period.get(accel) for period in caps.values()]
    if not limits or any(c is None for c in limits):
        return None
    return max(c.chips for c in limits)  # type: ignore[union-attr]
