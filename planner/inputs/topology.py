"""The East-West topology: sites, demand cities, tariffs and backbone links.

``load()`` reads the YAML files in ``planner/data/topology/`` (or a user file or
directory) and an optional scenario overlay, validates them with the typed
schemas of ``planner.inputs.schemas`` (``planner schema --kind topology|overlay``:
the one check of shape, types, ranges and required fields), builds frozen
pydantic models from the validated entries and a networkx graph whose edges
carry RTTs. What stays here is what a schema cannot see: names that must
resolve, figures derived from others, and the one reading of latency.
RTT between any two nodes is the shortest path over that graph, so it is
symmetric, non-negative and obeys the triangle inequality by construction.

Estimated links use ``rtt_ms = 2 * km * route_factor / fibre_km_per_s * 1000
+ equipment_delay_ms`` with the constants stored (with sources) in
``links.yaml``; reported links replace the estimate for their pair. A
reported figure that does not say one-way or round trip is read one way
everywhere: a round trip, but never below the pair's fibre floor
(``read_reported_ms``; ``latency_checks`` judges claims the same way).

Overlay (a dict, all keys optional)::

    {
      "remove_sites": ["qingyang"],
      "add_sites":    [{...site dict, same fields as a user file...}],
      "tariffs":      {"guian": {"flat_price_cny_per_kwh": 0.35},   # site id: that site only
                       "Guizhou": {...}, "gansu": {...}},           # province or tariff id: every site on it
      "cut_links":    [["guian", "beijing"], ...],                  # remove direct links
      "add_links":    [{"a": "zhongwei", "b": "hefei", "rtt_ms": 21, "bandwidth_gbps": 400}],
    }

Added sites join the estimated meshes (``all_sites`` groups) like any other
site; an added link replaces the estimate for its pair.

A tariff patch with ``bands`` replaces the whole tariff; otherwise its keys
(``flat_price_cny_per_kwh``, ``price_cny_per_kwh`` for a single flat band, ``name``)
patch the existing one. Plain numbers in overlays are recorded with source
"overlay".

Node names: a bare id is a site or a city. ``chongqing`` is both; a bare
``chongqing`` means the **site**, and ``city:chongqing`` / ``site:chongqing``
choose explicitly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from hardware_catalog.provenance import Confidence, Figure, load_figure
from planner.errors import InputError, UnknownNameError
from planner.inputs.files import read_yaml
from planner.inputs.schemas import (
    CityEntry,
    FigureRecord,
    LatencyChecks,
    LinkEntry,
    SiteEntry,
    TariffBand,
    TopologyFile,
    TopologyOverlay,
    check_topology_file,
    parse_overlay,
)
from planner.inputs.schemas import Tariff as TariffEntry

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "topology"
EARTH_RADIUS_KM = 6371.0
HOURS_PER_DAY = 24

__all__ = [
    "Band", "City", "Link", "Site", "Tariff", "Topology", "load", "great_circle_km",
]


# --------------------------------------------------------------------------- models

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """One time-of-use band: a price over some hours of the day.

    ``months`` None means the band belongs to the base day; otherwise it
    overrides the base in those months (critical peak, deep valley).
    """

    name: str
    hours: tuple[tuple[int, int], ...]
    price_cny_per_kwh: Figure
    ratio_to_flat: Figure | None = None
    months: tuple[int, ...] | None = None

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        for start, end in hours:
            if not (0 <= start < end <= HOURS_PER_DAY):
                raise ValueError(f"hour range [{start}, {end}) must satisfy 0 <= start < end <= 24")
        return hours

    def covers(self) -> list[int]:
        return [h for start, end in self.hours for h in range(start, end)]


class Tariff(_Strict):
    """A provincial TOU tariff: base-day bands plus seasonal overrides."""

    id: str
    name: str
    province: str
    document: str | None = None
    valley_kind: Literal["night", "midday", "night_and_midday", "flat"] | None = None
    flat_price_cny_per_kwh: Figure | None = None
    bands: tuple[Band, ...]

    @model_validator(mode="after")
    def _cover_day(self) -> "Tariff":
        seen: dict[int, str] = {}
        for band in self.bands:
            if band.months is not None:
                continue
            for hour in band.covers():
                if hour in seen:
                    raise ValueError(f"hour {hour} is in both band '{seen[hour]}' and '{band.name}'")
                seen[hour] = band.name
        missing = sorted(set(range(HOURS_PER_DAY)) - set(seen))
        if missing:
            raise ValueError(f"base bands leave hours {missing} uncovered; every hour 0-23 needs one band")
        return self

    def day_prices(self, month: int | None = None) -> list[float]:
        """Price for each hour 0..23 of a day, with month overrides if ``month`` is given."""
        prices = [0.0] * HOURS_PER_DAY
        for band in self.bands:
            if band.months is None:
                for hour in band.covers():
                    prices[hour] = float(band.price_cny_per_kwh.value)
        if month is not None:
            for band in self.bands:
                if band.months is not None and month in band.months:
                    for hour in band.covers():
                        prices[hour] = float(band.price_cny_per_kwh.value)
        return prices


class Site(_Strict):
    """A national data-centre cluster (or a user-defined site)."""

    id: str
    name: str
    province: str
    role: Literal["east", "west"]
    lat: float
    lon: float
    hub: str | None = None
    tariff: Tariff
    pue: Figure
    pue_cap: Figure
    domestic_subsidy_fraction: Figure
    carbon_kg_per_kwh: Figure
    power_envelope_mw: Figure


class City(_Strict):
    """A demand city."""

    id: str
    name: str
    province: str | None = None
    lat: float
    lon: float
    demand_share: Figure
    gdp_cny_100m: Figure | None = None


class Link(_Strict):
    """A backbone link between two nodes (keys like ``site:guian``, ``city:beijing``)."""

    a: str
    b: str
    rtt_ms: Figure
    bandwidth_gbps: Figure | None = None
    cost_cny_per_gb: Figure | None = None
    origin: Literal["reported", "estimated", "user", "overlay"]
    reported_ms: Figure | None = None
    reported_kind: Literal["one_way", "round_trip", "unspecified"] | None = None
    bound: Literal["approx", "upper"] | None = None
    note: str | None = None
    claimed_for: str | None = None  # the place the source made the claim for, when attached elsewhere
    reading: str | None = None  # how the reported figure became rtt_ms


# --------------------------------------------------------------------------- helpers

def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


class _Reader:
    """Turns validated figures (a plain number or a Figure record) into Figures, naming file and field on error."""

    def __init__(self, file: str, strict: bool) -> None:
        self.file = file
        self.strict = strict  # built-in data: every figure must be a full Figure

    def error(self, message: str, field: str, fix: str | None = None) -> InputError:
        return InputError(message, file=self.file, field=field, fix=fix)

    def figure(self, raw: Any, field: str, *, required: bool = True) -> Figure | None:
        if isinstance(raw, FigureRecord):
            raw = raw.model_dump(exclude_unset=True)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and self.strict:
            raise self.error("built-in data must give a full Figure, not a bare number", field,
                             "add source, retrieved, confidence (and method for estimates)")
        where = "overlay" if self.file == "overlay" else f"user file {self.file}"
        return load_figure(raw, file=self.file, field=field, required=required, plain_source=where,
                           method="given directly in the overlay" if where == "overlay"
                           else "given directly in the user file")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def _fixed(value: float, source: str, method: str) -> Figure:
    return Figure(value=value, source=source, retrieved=dt.date.today(), confidence=Confidence.estimate,
                  method=method)


def _derive(flat: Figure, ratio: Figure) -> Figure:
    """Band price = flat price x ratio, keeping both sources."""
    value = None if flat.value is None or ratio.value is None else round(flat.value * ratio.value, 4)
    method = f"flat price {flat.value} x ratio {ratio.value}"
    if flat.method:
        method += f"; flat price: {flat.method}"
    if ratio.method:
        method += f"; ratio: {ratio.method}"
    rng = None
    if flat.range and ratio.value is not None:
        rng = (round(flat.range[0] * ratio.value, 4), round(flat.range[1] * ratio.value, 4))
    return Figure(value=value, source=f"flat price: {flat.source} | ratio: {ratio.source}",
                  retrieved=max(flat.retrieved, ratio.retrieved), confidence=Confidence.estimate,
                  method=method, range=rng, note=ratio.note)


# --------------------------------------------------------------------------- reading files

def _read_yaml(path: Path) -> dict[str, Any]:
    raw = read_yaml(path, what="topology file")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError("top level must be a mapping", file=str(path),
                         fix="start the file with keys such as sites:, cities:, links:")
    return raw


def _read_sources(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge one file or every *.yaml in a directory; returns data and section->file."""
    if not path.exists():
        raise InputError("no such file or directory", file=str(path), fix="give a topology YAML file or directory")
    files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    if not files:
        raise InputError("directory holds no .yaml files", file=str(path))
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for file in files:
        raw = _read_yaml(file)
        for key, value in raw.items():
            if key == "figures":
                continue
            if key == "topology_version":
                if "topology_version" in merged and merged[key] != str(value):
                    raise InputError(f"topology_version {value!r} differs from {merged[key]!r} in "
                                     f"{origin[key]}", file=str(file), field=key,
                                     fix="use one version across the topology files")
                merged[key], origin[key] = str(value), str(file)
                continue
            if key in merged:
                raise InputError(f"section '{key}' also appears in {origin[key]}", file=str(file), field=key,
                                 fix="keep each section in one file")
            merged[key], origin[key] = value, str(file)
    return merged, origin


# --------------------------------------------------------------------------- building
#
# Everything below reads the validated schema models (planner.inputs.schemas): shape, types, ranges of
# plain numbers and required fields are checked there. What stays here is what a schema cannot see:
# names that must resolve (tariff ids, nodes), figures derived from others, and the one latency reading.

def _build_tariff(tid: str, t: TariffEntry, reader: _Reader, field: str) -> Tariff:
    flat = reader.figure(t.flat_price_cny_per_kwh, f"{field}.flat_price_cny_per_kwh", required=False)
    valley_kind = t.valley_kind
    bands_in = t.bands
    if bands_in is None:
        price = reader.figure(t.price_cny_per_kwh, f"{field}.price_cny_per_kwh", required=False) or flat
        if price is None:
            raise reader.error("tariff gives neither bands nor a price", field,
                               "add price_cny_per_kwh: <number> for a flat tariff, or bands: [...]")
        bands_in = [TariffBand.model_construct(name="flat", hours=[(0, 24)], price_cny_per_kwh=price)]
        valley_kind = valley_kind or "flat"
        flat = flat or price
    bands = []
    for i, b in enumerate(bands_in):
        bfield = f"{field}.bands[{i}]"
        ratio = reader.figure(b.ratio_to_flat, f"{bfield}.ratio_to_flat", required=False)
        price = reader.figure(b.price_cny_per_kwh, f"{bfield}.price_cny_per_kwh", required=False)
        if price is None:
            if ratio is None:
                raise reader.error("band gives neither price_cny_per_kwh nor ratio_to_flat", bfield)
            if flat is None:
                raise reader.error("band uses ratio_to_flat but the tariff has no flat_price_cny_per_kwh",
                                   bfield, "add flat_price_cny_per_kwh to the tariff")
            price = _derive(flat, ratio)
        try:
            bands.append(Band(name=b.name or f"band{i}", hours=tuple(tuple(h) for h in b.hours),
                              price_cny_per_kwh=price, ratio_to_flat=ratio,
                              months=tuple(b.months) if b.months else None))
        except ValidationError as exc:
            raise reader.error(_first_error(exc), bfield, "hours is a list of [start, end] pairs within 0..24") from None
    try:
        return Tariff(id=tid, name=t.name or tid, province=t.province or "", document=t.document,
                      valley_kind=valley_kind, flat_price_cny_per_kwh=flat, bands=tuple(bands))
    except ValidationError as exc:
        raise reader.error(_first_error(exc), field, "base bands must cover hours 0-24 exactly once") from None


def _build_site(s: SiteEntry, tariffs: Mapping[str, Tariff], reader: _Reader) -> Site:
    field = f"sites[{s.id}]"
    if isinstance(s.tariff, str):
        if s.tariff not in tariffs:
            raise UnknownNameError("tariff", s.tariff, tariffs, file=reader.file, field=f"{field}.tariff")
        tariff = tariffs[s.tariff]
    elif s.tariff is not None:
        tariff = _build_tariff(f"{s.id}-tariff", s.tariff, reader, f"{field}.tariff")
    elif s.price_cny_per_kwh is not None:
        tariff = _build_tariff(f"{s.id}-tariff", TariffEntry.model_construct(
            price_cny_per_kwh=s.price_cny_per_kwh, province=s.province), reader, f"{field}.price_cny_per_kwh")
    else:
        raise reader.error("site has no tariff", f"{field}.tariff",
                           "name a tariff id, give a tariff mapping, or price_cny_per_kwh: <number>")
    src = f"user file {reader.file}"

    def given(name: str, default: Figure) -> Figure:
        return reader.figure(getattr(s, name), f"{field}.{name}", required=reader.strict) or default

    def missing(method: str = "not given in the user file") -> Figure:
        return Figure(value=None, source=src, retrieved=dt.date.today(), confidence=Confidence.estimate, method=method)

    return Site(
        id=s.id, name=s.name, province=s.province, role=s.role, lat=s.lat, lon=s.lon, hub=s.hub, tariff=tariff,
        pue=reader.figure(s.pue, f"{field}.pue"),
        pue_cap=given("pue_cap", missing()),
        domestic_subsidy_fraction=given("domestic_subsidy_fraction",
                                        _fixed(0.0, src, "no subsidy given in the user file")),
        carbon_kg_per_kwh=given("carbon_kg_per_kwh", missing()),
        power_envelope_mw=given("power_envelope_mw", missing("not given in the user file; no power cap")),
    )


def _build_cities(entries: list[CityEntry], reader: _Reader, share_method: str | None) -> dict[str, City]:
    given = [c for c in entries if c.demand_share is not None]
    gdp = {c.id: reader.figure(c.gdp_cny_100m, f"cities[{c.id}].gdp_cny_100m", required=False) for c in entries}
    shares: dict[str, Figure] = {}
    if given and len(given) != len(entries):
        raise reader.error("some cities give demand_share and some do not", "cities[].demand_share",
                           "give demand_share for every city or for none")
    if given:
        for c in entries:
            shares[c.id] = reader.figure(c.demand_share, f"cities[{c.id}].demand_share")
        total = sum(f.value or 0.0 for f in shares.values())
        if abs(total - 1.0) > 1e-6:
            raise reader.error(f"demand shares sum to {total:.6g}, not 1", "cities[].demand_share",
                               "scale the shares so they sum to 1")
    elif entries and all(g is not None and g.value for g in gdp.values()):
        total = sum(g.value for g in gdp.values())  # type: ignore[misc]
        for cid, g in gdp.items():
            shares[cid] = Figure(value=round(g.value / total, 6), source=f"2024 GDP: {g.source}",  # type: ignore[union-attr]
                                 retrieved=g.retrieved, confidence=Confidence.estimate,  # type: ignore[union-attr]
                                 method=f"{share_method or 'GDP share'}: {g.value:g} / {total:g}")  # type: ignore[union-attr]
    else:
        for c in entries:
            shares[c.id] = _fixed(round(1.0 / len(entries), 6), f"user file {reader.file}",
                                  "equal split: no demand_share or GDP given")
    cities = {}
    for c in entries:
        if c.id in cities:
            raise reader.error(f"city id '{c.id}' appears twice", f"cities[{c.id}]")
        cities[c.id] = City(id=c.id, name=c.name, province=c.province, lat=c.lat, lon=c.lon,
                            demand_share=shares[c.id], gdp_cny_100m=gdp[c.id])
    return cities


# --------------------------------------------------------------------------- the topology

class Topology:
    """Sites, cities and links with an RTT graph. Treat as read-only."""

    def __init__(self, *, version: str, sites: dict[str, Site], cities: dict[str, City], links: list[Link],
                 latency_model: dict[str, Figure] | None, checks: Mapping[str, Any] | None) -> None:
        self.version = version
        self.sites = sites
        self.cities = cities
        self.links = links
        self.latency_model = latency_model or {}
        self._checks = checks or {}
        self.graph = nx.Graph()
        for sid, s in sites.items():
            self.graph.add_node(f"site:{sid}", kind="site", id=sid, lat=s.lat, lon=s.lon)
        for cid, c in cities.items():
            self.graph.add_node(f"city:{cid}", kind="city", id=cid, lat=c.lat, lon=c.lon)
        for link in links:
            bw = link.bandwidth_gbps.value if link.bandwidth_gbps else None
            self.graph.add_edge(link.a, link.b, rtt_ms=float(link.rtt_ms.value),  # type: ignore[arg-type]
                                bandwidth_gbps=float("nan") if bw is None else float(bw), link=link)

    # ----- names
    def site(self, site_id: str) -> Site:
        """The site with this id; UnknownNameError (with did-you-mean) otherwise."""
        try:
            return self.sites[site_id]
        except KeyError:
            raise UnknownNameError("site", site_id, self.sites) from None

    def city(self, city_id: str) -> City:
        """The city with this id; UnknownNameError (with did-you-mean) otherwise."""
        try:
            return self.cities[city_id]
        except KeyError:
            raise UnknownNameError("city", city_id, self.cities) from None

    def node(self, name: str) -> str:
        """Graph key for a node name; a bare id that is both site and city means the site."""
        kind, _, ident = name.partition(":")
        if ident:
            if kind == "site":
                self.site(ident)
            elif kind == "city":
                self.city(ident)
            else:
                raise InputError(f"unknown node prefix '{kind}'", field=name, fix="use site:<id> or city:<id>")
            return name
        if name in self.sites:
            return f"site:{name}"
        if name in self.cities:
            return f"city:{name}"
        raise UnknownNameError("site or city", name, set(self.sites) | set(self.cities))

    # ----- latency
    @cached_property
    def _rtt(self) -> dict[str, dict[str, float]]:
        return {src: dist for src, dist in nx.all_pairs_dijkstra_path_length(self.graph, weight="rtt_ms")}

    def rtt_ms(self, a: str, b: str) -> float:
        """Shortest-path round-trip time in ms between two nodes; inf if unreachable."""
        na, nb = self.node(a), self.node(b)
        return float(self._rtt[na].get(nb, math.inf))

    def path(self, a: str, b: str) -> list[str]:
        """Node keys along the shortest (lowest-RTT) path."""
        na, nb = self.node(a), self.node(b)
        try:
            return nx.dijkstra_path(self.graph, na, nb, weight="rtt_ms")
        except nx.NetworkXNoPath:
            return []

    def bottleneck_gbps(self, a: str, b: str) -> float:
        """Smallest link bandwidth along the shortest path; nan if unknown or unreachable, inf if a == b."""
        nodes = self.path(a, b)
        if not nodes:
            return float("nan")
        if len(nodes) == 1:
            return math.inf
        return min(self.graph.edges[u, v]["bandwidth_gbps"] for u, v in zip(nodes, nodes[1:]))

    def rtt_matrix(self) -> pd.DataFrame:
        """RTT in ms, index city ids, columns site ids."""
        data = {sid: [self._rtt[f"city:{cid}"].get(f"site:{sid}", math.inf) for cid in self.cities]
                for sid in self.sites}
        df = pd.DataFrame(data, index=pd.Index(list(self.cities), name="city"))
        df.columns.name = "site"
        return df

    def site_rtt_matrix(self) -> pd.DataFrame:
        """RTT in ms between sites (site x site)."""
        ids = list(self.sites)
        data = {b: [self._rtt[f"site:{a}"].get(f"site:{b}", math.inf) for a in ids] for b in ids}
        df = pd.DataFrame(data, index=pd.Index(ids, name="site"))
        df.columns.name = "site"
        return df

    def floor_rtt_ms(self, a: str, b: str) -> float | None:
        """The pair's fibre floor (see ``fibre_floor_rtt_ms``); None without a latency model."""
        if not self.latency_model:
            return None
        na, nb = self.node(a), self.node(b)
        km = great_circle_km(self.graph.nodes[na]["lat"], self.graph.nodes[na]["lon"],
                             self.graph.nodes[nb]["lat"], self.graph.nodes[nb]["lon"])
        return fibre_floor_rtt_ms(km, self.latency_model)

    def latency_checks(self) -> pd.DataFrame:
        """Policy latency circles and published claims against the modelled RTTs.

        ``holds_as_one_way`` compares RTT / 2 with the limit, ``holds_as_rtt`` the RTT
        itself. ``holds`` uses the reading stated in the data; an unstated limit gets the
        topology's one reading: a round trip, but no stricter than the pair's fibre floor
        (RTT <= max(limit, floor)).
        """
        rows = []

        def add(check: str, a: str, b: str, limit: Figure, kind: str) -> None:
            rtt = self.rtt_ms(a, b)
            lim = float(limit.value)  # type: ignore[arg-type]
            floor = self.floor_rtt_ms(a, b)
            as_rtt, as_ow = rtt <= lim + 1e-9, rtt / 2 <= lim + 1e-9
            bounded = rtt <= max(lim, floor if floor is not None else lim) + 1e-9
            holds = {"one_way": as_ow, "round_trip": as_rtt}.get(kind, bounded)
            rows.append({"check": check, "a": a, "b": b, "rtt_ms": round(rtt, 2), "limit_ms": lim,
                         "limit_kind": kind, "floor_ms": None if floor is None else round(floor, 2),
                         "holds_as_rtt": as_rtt, "holds_as_one_way": as_ow, "holds": holds})

        checks = self._checks
        if "hub_to_hub" in checks:
            hub = checks["hub_to_hub"]
            ids = list(self.sites)
            for i, a in enumerate(ids):
                for b in ids[i + 1:]:
                    add("hub_to_hub", f"site:{a}", f"site:{b}", hub["limit_ms"], hub.get("kind", "one_way"))
        if "cluster_to_city" in checks:
            cc = checks["cluster_to_city"]
            for a, b in cc.get("pairs", []):
                a_key = a if ":" in a else f"site:{a}"
                b_key = b if ":" in b else f"city:{b}"
                if a_key.split(":", 1)[1] in self.sites and b_key.split(":", 1)[1] in self.cities:
                    add("cluster_to_city", a_key, b_key, cc["limit_ms"], cc.get("kind", "one_way"))
        for claim in checks.get("claims", []):
            if claim["site"] not in self.sites:
                continue
            for c in claim["cities"]:
                ckey = c if ":" in c else f"city:{c}"
                if ckey.split(":", 1)[1] in self.cities:
                    add(claim["name"], f"site:{claim['site']}", ckey, claim["limit_ms"], claim.get("kind", "round_trip"))
        return pd.DataFrame(rows, columns=["check", "a", "b", "rtt_ms", "limit_ms", "limit_kind", "floor_ms",
                                           "holds_as_rtt", "holds_as_one_way", "holds"])

    def claims_summary(self) -> list[str]:
        """One line per latency check: how many of its pairs hold under each reading."""
        df = self.latency_checks()
        lines = []
        for check, g in df.groupby("check", sort=False):
            kind = g["limit_kind"].iloc[0]
            reading = {"one_way": "stated one-way", "round_trip": "stated round trip"}.get(
                kind, "unstated: round trip, no stricter than the fibre floor")
            lines.append(f"{check} ({g['limit_ms'].iloc[0]:g} ms, {reading}): {int(g.holds.sum())}/{len(g)} hold; "
                         f"as round trip {int(g.holds_as_rtt.sum())}/{len(g)}, "
                         f"as one-way {int(g.holds_as_one_way.sum())}/{len(g)}")
        return lines

    # ----- prices
    def hourly_price_cny_per_kwh(self, site_id: str, hours: int = 168, month: int | None = None) -> list[float]:
        """Grid price for each hour; hour 0 is Monday 00:00 local time (UTC+8).

        TOU rules do not vary by weekday, so each day repeats the base day
        (with the month's critical-peak / deep-valley overrides if ``month``
        is given).
        """
        if hours < 0:
            raise InputError("hours must be non-negative", field="hours")
        day = self.site(site_id).tariff.day_prices(month)
        return [day[h % HOURS_PER_DAY] for h in range(hours)]

    def mean_price_cny_per_kwh(self, site_id: str) -> float:
        """Time-weighted mean of the base day's prices."""
        day = self.site(site_id).tariff.day_prices()
        return sum(day) / HOURS_PER_DAY

    # ----- tables
    def sites_frame(self) -> pd.DataFrame:
        """One row per site, plain values, units in column names."""
        rows = []
        for s in self.sites.values():
            day = s.tariff.day_prices()
            valley = min(day)
            rows.append({
                "site": s.id, "name": s.name, "province": s.province, "role": s.role,
                "lat": s.lat, "lon": s.lon, "tariff": s.tariff.id,
                "tariff_mean_cny_per_kwh": round(sum(day) / HOURS_PER_DAY, 4),
                "tariff_peak_cny_per_kwh": max(day), "tariff_valley_cny_per_kwh": valley,
                "valley_hours": _hour_ranges([h for h, p in enumerate(day) if p == valley]),
                "pue": s.pue.value, "pue_cap": s.pue_cap.value,
                "carbon_kg_per_kwh": s.carbon_kg_per_kwh.value,
                "domestic_subsidy_fraction": s.domestic_subsidy_fraction.value,
                "power_envelope_mw": s.power_envelope_mw.value,
            })
        return pd.DataFrame(rows)

    def cities_frame(self) -> pd.DataFrame:
        """One row per city, plain values."""
        return pd.DataFrame([{"city": c.id, "name": c.name, "province": c.province, "lat": c.lat, "lon": c.lon,
                              "demand_share": c.demand_share.value} for c in self.cities.values()])

    def links_frame(self) -> pd.DataFrame:
        """One row per link."""
        return pd.DataFrame([{"a": l.a, "b": l.b, "rtt_ms": l.rtt_ms.value, "origin": l.origin,
                              "reported_ms": l.reported_ms.value if l.reported_ms else None,
                              "reported_kind": l.reported_kind,
                              "bandwidth_gbps": l.bandwidth_gbps.value if l.bandwidth_gbps else None}
                             for l in self.links])

    def figures(self) -> Iterable[tuple[str, Figure | None]]:
        """Every (where, Figure) in the topology, for provenance audits."""
        for s in self.sites.values():
            for name in ("pue", "pue_cap", "domestic_subsidy_fraction", "carbon_kg_per_kwh", "power_envelope_mw"):
                yield f"site {s.id}.{name}", getattr(s, name)
            yield f"site {s.id}.tariff.flat_price_cny_per_kwh", s.tariff.flat_price_cny_per_kwh
            for b in s.tariff.bands:
                yield f"site {s.id}.tariff.{b.name}.price_cny_per_kwh", b.price_cny_per_kwh
                if b.ratio_to_flat is not None:
                    yield f"site {s.id}.tariff.{b.name}.ratio_to_flat", b.ratio_to_flat
        for c in self.cities.values():
            yield f"city {c.id}.demand_share", c.demand_share
            yield f"city {c.id}.gdp_cny_100m", c.gdp_cny_100m
        for l in self.links:
            yield f"link {l.a}-{l.b}.rtt_ms", l.rtt_ms
            yield f"link {l.a}-{l.b}.bandwidth_gbps", l.bandwidth_gbps
            if l.reported_ms is not None:
                yield f"link {l.a}-{l.b}.reported_ms", l.reported_ms
        for name, fig in self.latency_model.items():
            yield f"latency_model.{name}", fig
        for name in ("hub_to_hub", "cluster_to_city"):
            if name in self._checks:
                yield f"checks.{name}.limit_ms", self._checks[name]["limit_ms"]
        for claim in self._checks.get("claims", []):
            yield f"checks.claims[{claim['name']}].limit_ms", claim["limit_ms"]


def _hour_ranges(hours: list[int]) -> str:
    spans, start = [], None
    for h in range(HOURS_PER_DAY + 1):
        if h in hours and start is None:
            start = h
        elif h not in hours and start is not None:
            spans.append(f"{start:02d}-{h:02d}")
            start = None
    return ",".join(spans)


# --------------------------------------------------------------------------- load

def load(path: str | Path | None = None, overlay: Mapping[str, Any] | None = None) -> Topology:
    """Load the built-in topology (or a user file/directory) and apply an overlay.

    Plain numbers are accepted in user files and overlays and recorded with
    source "user file <path>" / "overlay"; the built-in data must give full
    Figures.
    """
    builtin = path is None
    root = DATA_DIR if builtin else Path(path)
    data, origin = _read_sources(root)
    file_of = lambda section: origin.get(section, str(root))  # noqa: E731
    # the typed schemas (planner schema --kind topology|overlay) are the one check of shape, types and ranges
    tf = check_topology_file(data, file_of)
    ov = parse_overlay(overlay or {})

    version = str(tf.topology_version or ("user" if not builtin else ""))
    if builtin and not version:
        raise InputError("missing topology_version", file=str(root), field="topology_version")

    t_reader = _Reader(file_of("tariffs"), strict=builtin)
    tariffs = {tid: _build_tariff(tid, t, t_reader, f"tariffs.{tid}") for tid, t in tf.tariffs.items()}

    s_reader = _Reader(file_of("sites"), strict=builtin)
    sites: dict[str, Site] = {}
    for entry, reader in _overlay_sites(tf, ov, s_reader):
        site = _build_site(entry, tariffs, reader)
        if site.id in sites:
            raise s_reader.error(f"site id '{site.id}' appears twice", f"sites[{site.id}]", "make site ids unique")
        sites[site.id] = site
    sites = _apply_overlay_tariffs(sites, tariffs, ov)

    cities = _build_cities(tf.cities, _Reader(file_of("cities"), strict=builtin), tf.demand_share_method)

    l_reader = _Reader(file_of("reported_links") if "reported_links" in data else file_of("links"), strict=builtin)
    model = None
    if tf.latency_model is not None:
        m_reader = _Reader(file_of("latency_model"), strict=builtin)
        model = {k: m_reader.figure(getattr(tf.latency_model, k), f"latency_model.{k}")
                 for k in ("fibre_speed_km_per_s", "route_factor", "equipment_delay_ms", "floor_route_factor")
                 if getattr(tf.latency_model, k) is not None}
    resolver = _Resolver(sites, cities)
    links = _build_links(tf, resolver, model, l_reader, file_of("estimated_links"), builtin, ov)
    checks = _read_checks(tf.checks, _Reader(file_of("checks"), strict=builtin))
    return Topology(version=version, sites=sites, cities=cities, links=links, latency_model=model, checks=checks)


class _Resolver:
    def __init__(self, sites: Mapping[str, Site], cities: Mapping[str, City]) -> None:
        self.sites, self.cities = sites, cities

    def key(self, name: Any, reader: _Reader, field: str) -> str:
        if not isinstance(name, str):
            raise reader.error(f"expected a node name, got {name!r}", field)
        kind, _, ident = name.partition(":")
        if ident:
            pool = {"site": self.sites, "city": self.cities}.get(kind)
            if pool is None:
                raise reader.error(f"unknown node prefix '{kind}'", field, "use site:<id> or city:<id>")
            if ident not in pool:
                raise UnknownNameError(kind, ident, pool, file=reader.file, field=field)
            return name
        if name in self.sites:
            return f"site:{name}"
        if name in self.cities:
            return f"city:{name}"
        raise UnknownNameError("site or city", name, set(self.sites) | set(self.cities), file=reader.file,
                               field=field)

    def group(self, spec: Any, reader: _Reader, field: str) -> list[str]:
        if spec == "all_sites":
            return [f"site:{s}" for s in self.sites]
        if spec == "all_cities":
            return [f"city:{c}" for c in self.cities]
        if isinstance(spec, list):
            return [self.key(n, reader, f"{field}[{i}]") for i, n in enumerate(spec)]
        raise reader.error(f"expected all_sites, all_cities or a list of node names, got {spec!r}", field)

    def coords(self, key: str) -> tuple[float, float]:
        kind, ident = key.split(":", 1)
        node = self.sites[ident] if kind == "site" else self.cities[ident]
        return node.lat, node.lon


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _estimate_rtt(a: str, b: str, model: Mapping[str, Figure], resolver: _Resolver) -> Figure:
    km = great_circle_km(*resolver.coords(a), *resolver.coords(b))
    speed, factor, delay = (float(model[k].value) for k in  # type: ignore[arg-type]
                            ("fibre_speed_km_per_s", "route_factor", "equipment_delay_ms"))
    rtt = 2 * km * factor / speed * 1000 + delay
    return Figure(value=round(rtt, 3), source="great-circle estimate from latency_model constants",
                  retrieved=max(model[k].retrieved for k in model), confidence=Confidence.estimate,
                  method=f"2 x {km:.0f} km x route factor {factor:g} / {speed:g} km/s + {delay:g} ms equipment")



# --------------------------------------------------------------------------- one reading of latency
#
# Every reported latency says what it measures: one_way, round_trip or unspecified.
# One-way figures double, round trips stand. An unspecified figure is a bound no
# stronger than physics: it is read as a round trip but never below the pair's fibre
# floor at the latency model's floor route factor (the straightest route any
# measurement supports). A user may still state ``interpret_as: one_way`` to take the
# weaker reading. The same reading judges the claims in ``latency_checks``.


def fibre_floor_rtt_ms(km: float, model: Mapping[str, Figure]) -> float:
    """Smallest believable RTT over ``km`` of great circle: 2 · km · floor factor / fibre speed + equipment."""
    speed = float(model["fibre_speed_km_per_s"].value)  # type: ignore[arg-type]
    floor = model.get("floor_route_factor") or model["route_factor"]
    delay = float(model["equipment_delay_ms"].value)  # type: ignore[arg-type]
    return 2 * km * float(floor.value) / speed * 1000 + delay  # type: ignore[arg-type]


def light_in_fibre_rtt_ms(km: float, model: Mapping[str, Figure]) -> float:
    """The hard limit: a straight fibre at the fastest speed in the model's range, no equipment delay."""
    fig = model["fibre_speed_km_per_s"]
    speed = max(float(fig.value), float(fig.range[1]) if fig.range else 0.0)  # type: ignore[arg-type]
    return 2 * km / speed * 1000


def read_reported_ms(reported: Figure, kind: str, floor_ms: float | None,
                     interpret_as: str | None = None) -> tuple[float, str]:
    """(rtt_ms, reading) for a published latency figure under the topology's one reading."""
    value = float(reported.value)  # type: ignore[arg-type]
    if kind == "one_way" or (kind == "unspecified" and interpret_as == "one_way"):
        label = "one-way" if kind == "one_way" else "unstated, read as one-way (stated by interpret_as)"
        return 2 * value, f"{label}: RTT = 2 x {value:g} ms"
    if kind == "round_trip" or (kind == "unspecified" and interpret_as == "round_trip" and floor_ms is None):
        return value, f"round trip: RTT = {value:g} ms"
    if floor_ms is None:
        raise ValueError("an unspecified figure needs a latency_model (for its fibre floor) or interpret_as")
    if value >= floor_ms:
        return value, f"unstated, read as a round trip of {value:g} ms (above the fibre floor {floor_ms:.1f} ms)"
    return round(floor_ms, 3), (f"unstated; {value:g} ms as a round trip is below the fibre floor, so the floor "
                                f"{floor_ms:.1f} ms is used (a bound no stronger than physics)")


def _reported_link(e: LinkEntry, resolver: _Resolver, reader: _Reader, field: str,
                   origin: str, model: Mapping[str, Figure] | None = None) -> Link:
    a = resolver.key(e.a, reader, f"{field}.a")
    b = resolver.key(e.b, reader, f"{field}.b")
    if a == b:
        raise reader.error("a link must join two different nodes", field)
    reported = reader.figure(e.reported_ms, f"{field}.reported_ms", required=False)
    reading = None
    if e.rtt_ms is not None:
        rtt = reader.figure(e.rtt_ms, f"{field}.rtt_ms")
    elif reported is not None:
        rtt, reading = _reported_rtt(e, reported, a, b, resolver, model, reader, field)
    else:
        raise reader.error("link gives neither rtt_ms nor reported_ms", field, "add rtt_ms: <number>")
    if rtt.value is None:  # the schema bounds given values; a record may still say "not applicable"
        raise reader.error("rtt_ms must be a non-negative number", f"{field}.rtt_ms")
    bw = reader.figure(e.bandwidth_gbps, f"{field}.bandwidth_gbps", required=False)
    try:
        return Link(a=a, b=b, rtt_ms=rtt, bandwidth_gbps=bw,
                    cost_cny_per_gb=reader.figure(e.cost_cny_per_gb, f"{field}.cost_cny_per_gb", required=False),
                    origin=origin, reported_ms=reported, reported_kind=e.reported_kind, bound=e.bound,
                    note=e.note, claimed_for=e.claimed_for, reading=reading)
    except ValidationError as exc:
        raise reader.error(_first_error(exc), field) from None


def _reported_rtt(e: LinkEntry, reported: Figure, a: str, b: str, resolver: _Resolver,
                  model: Mapping[str, Figure] | None, reader: _Reader, field: str) -> tuple[Figure, str]:
    """The link's RTT Figure from its published figure, under the one reading."""
    kind = e.reported_kind
    if kind is None:
        raise reader.error("reported_kind must be one_way, round_trip or unspecified, got None",
                           f"{field}.reported_kind", "say what the published figure measures")
    km = great_circle_km(*resolver.coords(a), *resolver.coords(b))
    floor = fibre_floor_rtt_ms(km, model) if model is not None else None
    try:
        value, reading = read_reported_ms(reported, kind, floor, e.interpret_as)
    except ValueError as exc:
        raise reader.error(str(exc), f"{field}.interpret_as",
                           "add a latency_model section, or interpret_as: one_way | round_trip") from None
    scale = value / float(reported.value) if reported.value else 1.0  # type: ignore[arg-type]
    rng = (reported.range[0] * scale, reported.range[1] * scale) if reported.range else None
    if rng is not None and not rng[0] <= value <= rng[1]:
        rng = (min(rng[0], value), max(rng[1], value))
    if e.claimed_for:
        reading += f"; claimed for {e.claimed_for}"
    return Figure(value=value, source=reported.source, retrieved=reported.retrieved, confidence=reported.confidence,
                  method=f"reported {kind} figure: {reading}", range=rng, note=e.note,
                  published=reported.published, rechecked=reported.rechecked, mirror=reported.mirror), reading


def _names_removed_site(name: str, removed: set[str]) -> bool:
    return not name.startswith("city:") and name.removeprefix("site:") in removed


def _build_links(tf: TopologyFile, resolver: _Resolver, model: Mapping[str, Figure] | None,
                 reader: _Reader, est_file: str, builtin: bool, overlay: TopologyOverlay) -> list[Link]:
    by_pair: dict[tuple[str, str], Link] = {}
    est_reader = _Reader(est_file, strict=builtin)
    for i, spec in enumerate(tf.estimated_links or []):
        field = f"estimated_links[{i}]"
        if model is None:
            raise est_reader.error("estimated links need a latency_model section", field,
                                   "add latency_model with fibre_speed_km_per_s, route_factor, equipment_delay_ms")
        if not isinstance(spec, Mapping):
            raise est_reader.error("expected a mapping with mesh: or between:/and:", field)
        bw = est_reader.figure(spec.get("bandwidth_gbps"), f"{field}.bandwidth_gbps", required=False)
        if "mesh" in spec:
            nodes = resolver.group(spec["mesh"], est_reader, f"{field}.mesh")
            pairs = [(a, b) for i_, a in enumerate(nodes) for b in nodes[i_ + 1:]]
        elif "between" in spec and "and" in spec:
            left = resolver.group(spec["between"], est_reader, f"{field}.between")
            right = resolver.group(spec["and"], est_reader, f"{field}.and")
            pairs = [(a, b) for a in left for b in right if a != b]
        else:
            raise est_reader.error("expected mesh: <group> or between: <group> and: <group>", field)
        for a, b in pairs:
            by_pair[_pair(a, b)] = Link(a=a, b=b, rtt_ms=_estimate_rtt(a, b, model, resolver), bandwidth_gbps=bw,
                                        origin="estimated")
    removed = set(overlay.remove_sites)
    for key in ("reported_links", "links"):
        for i, e in enumerate(getattr(tf, key)):
            if _names_removed_site(e.a, removed) or _names_removed_site(e.b, removed):
                continue  # the overlay removed this link's site
            link = _reported_link(e, resolver, reader, f"{key}[{i}]", "reported" if builtin else "user", model)
            by_pair[_pair(link.a, link.b)] = link
    ov = _Reader("overlay", strict=False)
    for i, pair in enumerate(overlay.cut_links):
        a, b = (resolver.key(n, ov, f"cut_links[{i}]") for n in pair)
        if _pair(a, b) not in by_pair:
            raise ov.error(f"there is no direct link {a} - {b}", f"cut_links[{i}]",
                           "cut a link that exists; see Topology.links_frame()")
        del by_pair[_pair(a, b)]
    for i, e in enumerate(overlay.add_links):
        link = _reported_link(e, resolver, ov, f"add_links[{i}]", "overlay", model)
        by_pair[_pair(link.a, link.b)] = link
    return list(by_pair.values())


def _read_checks(checks: LatencyChecks | None, reader: _Reader) -> dict[str, Any]:
    if checks is None:
        return {}
    out: dict[str, Any] = {}
    for name in ("hub_to_hub", "cluster_to_city"):
        circle = getattr(checks, name)
        if circle is not None:
            out[name] = circle.model_dump(exclude_unset=True) | {
                "limit_ms": reader.figure(circle.limit_ms, f"checks.{name}.limit_ms")}
    out["claims"] = [c.model_dump(exclude_unset=True) | {"limit_ms": reader.figure(c.limit_ms, f"checks.claims[{i}].limit_ms")}
                     for i, c in enumerate(checks.claims)]
    return out


# --------------------------------------------------------------------------- overlays


def _overlay_sites(tf: TopologyFile, overlay: TopologyOverlay, reader: _Reader) -> list[tuple[SiteEntry, _Reader]]:
    """The file's sites with the overlay's removals and additions, each with the reader of its file."""
    sites = [(s, reader) for s in tf.sites]
    ids = [s.id for s in tf.sites]
    for i, sid in enumerate(overlay.remove_sites):
        if sid not in ids:
            raise UnknownNameError("site", sid, ids, file="overlay", field=f"remove_sites[{i}]")
        sites = [(s, r) for s, r in sites if s.id != sid]
        ids.remove(sid)
    ov = _Reader("overlay", strict=False)
    for i, s in enumerate(overlay.add_sites):
        if s.id in ids:
            raise InputError(f"site '{s.id}' already exists", file="overlay", field=f"add_sites[{i}]",
                             fix="pick a new id, or remove_sites first")
        sites.append((s, ov))
        ids.append(s.id)
    return sites


def _apply_overlay_tariffs(sites: dict[str, Site], tariffs: Mapping[str, Tariff],
                           overlay: TopologyOverlay) -> dict[str, Site]:
    reader = _Reader("overlay", strict=False)
    sites = dict(sites)
    provinces = {s.province for s in sites.values()}
    for key, patch in overlay.tariffs.items():
        field = f"tariffs.{key}"
        if key in sites:
            targets = [key]
        elif key in tariffs or key in provinces:
            targets = [sid for sid, s in sites.items() if s.tariff.id == key or s.province == key]
        else:
            raise UnknownNameError("site, province or tariff", key,
                                   list(sites) + sorted(provinces) + list(tariffs), file="overlay", field=field)
        changes = {name: getattr(patch, name) for name in patch.model_fields_set}
        for sid in targets:
            old = sites[sid].tariff
            if "bands" in changes or "price_cny_per_kwh" in changes:
                entry = TariffEntry.model_construct(**{"name": f"{old.name} (overlay)", "province": old.province,
                                                       **changes})
            else:
                entry = _tariff_entry(old).model_copy(update=changes)
            new = _build_tariff(f"{old.id}+overlay", entry, reader, field)
            sites[sid] = sites[sid].model_copy(update={"tariff": new})
    return sites


def _tariff_entry(t: Tariff) -> TariffEntry:
    """A tariff back as its (already validated) entry, keeping ratios so a new flat price re-derives band prices."""
    bands = [TariffBand.model_construct(name=b.name, hours=list(b.hours), months=list(b.months) if b.months else None,
                                        **({"ratio_to_flat": b.ratio_to_flat} if b.ratio_to_flat is not None
                                           else {"price_cny_per_kwh": b.price_cny_per_kwh}))
             for b in t.bands]
    return TariffEntry.model_construct(name=f"{t.name} (overlay)", province=t.province, document=t.document,
                                       valley_kind=t.valley_kind, flat_price_cny_per_kwh=t.flat_price_cny_per_kwh,
                                       bands=bands)
