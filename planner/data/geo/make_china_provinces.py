"""Rebuild china_provinces.geojson from QGIS's Natural Earth world map GeoPackage.

Not used at run time. Usage::

    python planner/data/geo/make_china_provinces.py /usr/share/qgis/resources/data/world_map.gpkg

The GeoPackage ships in Debian's ``qgis-common`` package; its ``states_provinces``
and ``countries`` layers are Natural Earth 1:10m Admin 1 / Admin 0 v4.1.0 (public
domain), generalised by QGIS. This script keeps China's provinces plus Hong Kong,
Macao and Taiwan, simplifies every ring with Douglas-Peucker at TOLERANCE_DEG,
drops rings smaller than MIN_AREA_DEG2 and rounds coordinates to 2 decimals.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import sys
from pathlib import Path

TOLERANCE_DEG = 0.05
MIN_AREA_DEG2 = 0.02
OUT = Path(__file__).parent / "china_provinces.geojson"


def _wkb_polygons(blob: bytes) -> list[list[list[tuple[float, float]]]]:
    """GeoPackage geometry blob (header + WKB) → list of polygons, each a list of rings."""
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0b111]
    wkb = memoryview(blob)[8 + envelope:]
    pos = 0

    def read(fmt: str, order: str):
        nonlocal pos
        size = struct.calcsize(fmt)
        out = struct.unpack(order + fmt, wkb[pos:pos + size])
        pos += size
        return out

    def geometry() -> list:
        order = "<" if read("B", "<")[0] == 1 else ">"
        kind = read("I", order)[0] % 1000
        if kind == 3:
            rings = []
            for _ in range(read("I", order)[0]):
                n = read("I", order)[0]
                flat = read(f"{2 * n}d", order)
                rings.append(list(zip(flat[0::2], flat[1::2])))
            return [rings]
        if kind == 6:
            polys = []
            for _ in range(read("I", order)[0]):
                polys.extend(geometry())
            return polys
        raise ValueError(f"unexpected WKB geometry type {kind}")

    return geometry()


def _simplify(points: list[tuple[float, float]], tol: float) -> list[tuple[float, float]]:
    """Douglas-Peucker on an open polyline (iterative)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (x1, y1), (x2, y2) = points[a], points[b]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5
        best, idx = 0.0, None
        for i in range(a + 1, b):
            x, y = points[i]
            d = abs(dy * (x - x1) - dx * (y - y1)) / norm if norm else ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
            if d > best:
                best, idx = d, i
        if idx is not None and best > tol:
            keep[idx] = True
            stack += [(a, idx), (idx, b)]
    return [p for p, k in zip(points, keep) if k]


def _area(ring: list[tuple[float, float]]) -> float:
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]))) / 2


def _ring(ring: list[tuple[float, float]]) -> list[list[float]] | None:
    if _area(ring) < MIN_AREA_DEG2:
        return None
    # split the closed ring in two halves so Douglas-Peucker keeps its far point
    far = max(range(len(ring)), key=lambda i: (ring[i][0] - ring[0][0]) ** 2 + (ring[i][1] - ring[0][1]) ** 2)
    simple = _simplify(ring[:far + 1], TOLERANCE_DEG)[:-1] + _simplify(ring[far:], TOLERANCE_DEG)
    out = [[round(x, 2), round(y, 2)] for x, y in simple]
    out = [p for i, p in enumerate(out) if i == 0 or p != out[i - 1]]
    if len(out) < 4:
        return None
    out[-1] = out[0]
    return out


def _feature(name: str, kind: str, blob: bytes) -> dict | None:
    polygons = []
    for poly in _wkb_polygons(blob):
        outer = _ring(poly[0])
        if outer is None:
            continue
        polygons.append([outer] + [r for r in map(_ring, poly[1:]) if r is not None])
    if not polygons:
        return None
    return {"type": "Feature", "properties": {"name": name, "kind": kind},
            "geometry": {"type": "MultiPolygon", "coordinates": polygons}}


def main(gpkg: str) -> None:
    db = sqlite3.connect(gpkg)
    features = []
    for name, blob in db.execute("SELECT name, geom FROM states_provinces WHERE adm0_a3 = 'CHN' ORDER BY name"):
        features.append(_feature(name, "province", blob))
    for name, blob in db.execute("SELECT NAME, geom FROM countries WHERE ISO_A3 IN ('HKG', 'MAC', 'TWN') ORDER BY NAME"):
        features.append(_feature(name, "region", blob))
    collection = {
        "type": "FeatureCollection",
        "name": "china_provinces",
        "source": "Natural Earth 1:10m Admin 1 and Admin 0 v4.1.0 (public domain), via QGIS world_map.gpkg; "
                  f"simplified at {TOLERANCE_DEG} degrees",
        "features": [f for f in features if f is not None],
    }
    OUT.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    points = sum(len(r) for f in collection["features"] for p in f["geometry"]["coordinates"] for r in p)
    print(f"{OUT}: {len(collection['features'])} features, {points} points, {OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(sys.argv[1])
