"""Hourly inference demand: the built-in diurnal profile or a user's CSV.

A profile gives, for each hour, the fraction of the peak hour's demand. A
scenario's ``demand_tokens_per_s`` is read as the peak hour's demand in time
mode, so hour ``h`` of city ``k`` asks for ``demand × fraction(k, h)``.

CSV format (``time.demand_profile: path/to/profile.csv``)::

    hour,fraction_of_peak[,city]

``hour`` runs 0..23 (the day repeats) or 0..H−1 (the whole horizon); rows
without a ``city`` column, or with an empty city, apply to every city; rows
naming a city override it for that city. Fractions lie in [0, 1].
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from hardware_catalog.provenance import Figure, load_figure
from planner.errors import InputError
from planner.inputs.files import read_text, read_yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "profiles"
BUILTIN_CSV = DATA_DIR / "diurnal_inference.csv"
FIGURES_YAML = DATA_DIR / "profiles.yaml"


@dataclass(frozen=True)
class DemandProfile:
    """Fraction of peak demand per hour: a default curve plus per-city curves."""

    name: str
    default: tuple[float, ...]
    by_city: dict[str, tuple[float, ...]] = field(default_factory=dict)
    #: where the curve comes from (the built-in one is an estimate)
    figures: dict[str, Figure] = field(default_factory=dict)

    def fraction(self, city: str, hour: int) -> float:
        """Fraction of the peak for ``city`` in hour ``hour`` (0 = Monday 00:00); curves repeat."""
        curve = self.by_city.get(city, self.default)
        return curve[hour % len(curve)]

    def hourly(self, city: str, hours: int) -> list[float]:
        return [self.fraction(city, h) for h in range(hours)]


def figures() -> dict[str, Any]:
    """The sourced figures of the time model (diurnal shape, idle power) as Figure objects."""
    raw = read_yaml(FIGURES_YAML, what="profile figures file")
    file = str(FIGURES_YAML)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if "value" in value:
            out[key] = load_figure(value, file=file, field=key)
        else:
            out[key] = {k: load_figure(v, file=file, field=f"{key}.{k}") for k, v in value.items()}
    return out


def idle_power_fraction() -> Figure:
    """Busy-to-idle power ratio of a powered-on unused chip (an estimate; see profiles.yaml)."""
    return figures()["idle_power_fraction"]


def builtin_profile() -> DemandProfile:
    """The built-in diurnal profile of interactive inference (an estimate; see profiles.yaml)."""
    prof = load_profile_csv(BUILTIN_CSV, name="builtin diurnal (estimate)")
    return DemandProfile(prof.name, prof.default, prof.by_city, figures=figures()["diurnal_inference"])


def load_profile(spec: str, base: Path | None = None) -> DemandProfile:
    """``"builtin"`` or a CSV path (relative to ``base``, the scenario's folder)."""
    if spec == "builtin":
        return builtin_profile()
    path = Path(spec)
    if not path.is_absolute() and base is not None:
        path = base / path
    return load_profile_csv(path)


def load_profile_csv(path: str | Path, name: str | None = None) -> DemandProfile:
    """Read ``hour,fraction_of_peak[,city]``; raise InputError naming the row and the fix."""
    path = Path(path)
    file = str(path)
    text = read_text(path, what="demand profile CSV", fix="give a CSV path relative to the scenario, or 'builtin'")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise InputError("the demand profile has no rows", file=file, fix="add rows hour,fraction_of_peak")
    columns = set(rows[0])
    missing = {"hour", "fraction_of_peak"} - columns
    if missing:
        raise InputError(f"missing column(s) {sorted(missing)}", file=file, field="header",
                         fix="the header is hour,fraction_of_peak[,city]")
    extra = columns - {"hour", "fraction_of_peak", "city"}
    if extra:
        raise InputError(f"unknown column(s) {sorted(extra)}", file=file, field="header",
                         fix="the header is hour,fraction_of_peak[,city]")
    curves: dict[str, dict[int, float]] = {}
    for i, row in enumerate(rows, start=2):
        where = f"line {i}"
        try:
            hour = int(row["hour"])
            frac = float(row["fraction_of_peak"])
        except (TypeError, ValueError):
            raise InputError("hour must be a whole number and fraction_of_peak a number", file=file,
                             field=where, fix="e.g. 13,0.85") from None
        if hour < 0:
            raise InputError(f"hour {hour} is negative", file=file, field=where, fix="hours run from 0")
        if not (0.0 <= frac <= 1.0) or math.isnan(frac):
            raise InputError(f"fraction_of_peak {frac} is outside [0, 1]", file=file, field=where,
                             fix="give the hour's demand as a fraction of the peak hour's")
        city = (row.get("city") or "").strip()
        curve = curves.setdefault(city, {})
        if hour in curve:
            raise InputError(f"hour {hour} appears twice{' for ' + city if city else ''}", file=file,
                             field=where, fix="give each hour once per city")
        curve[hour] = frac
    out: dict[str, tuple[float, ...]] = {}
    for city, curve in curves.items():
        n = max(curve) + 1
        gaps = sorted(set(range(n)) - set(curve))
        if gaps:
            raise InputError(f"hours {gaps[:5]} are missing{' for ' + city if city else ''}", file=file,
                             field="hour", fix="give every hour from 0 to the last one (24 for a day)")
        out[city] = tuple(curve[h] for h in range(n))
    default = out.pop("", None)
    if default is None:
        default = (1.0,)  # cities not listed keep their stated demand
    return DemandProfile(name or path.stem, default, out)
