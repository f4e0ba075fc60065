"""China's province outlines, shipped with the package (see planner/data/geo/README.md)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

GEO_DIR = Path(__file__).resolve().parents[2] / "data" / "geo"
PROVINCES = GEO_DIR / "china_provinces.geojson"


@lru_cache(maxsize=1)
def province_rings() -> tuple[tuple[str, tuple[tuple[float, float], ...]], ...]:
    """Every outer and inner ring as (province name, ((lon, lat), ...))."""
    data = json.loads(PROVINCES.read_text(encoding="utf-8"))
    rings = []
    for feature in data["features"]:
        name = feature["properties"]["name"]
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                rings.append((name, tuple((float(x), float(y)) for x, y in ring)))
    return tuple(rings)


def outline_xy() -> tuple[list[float | None], list[float | None]]:
    """All rings as one lon/lat path, rings separated by None (one plotly trace)."""
    lons: list[float | None] = []
    lats: list[float | None] = []
    for _, ring in province_rings():
        lons.extend(x for x, _ in ring)
        lats.extend(y for _, y in ring)
        lons.append(None)
        lats.append(None)
    return lons, lats
