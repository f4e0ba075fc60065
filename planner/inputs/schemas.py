"""Typed schemas for the inputs beside the scenario: topology files, overlays and catalog overrides.

A scenario's ``topology.overlay`` and ``catalog.overrides``/``catalog.add``, and a user topology file
(``topology.path``), are validated here first, with the same strictness as the scenario: unknown
keys are errors, every number is finite and within a realistic bound that the error states. The
loaders (``planner.inputs.topology``, ``hardware_catalog``) then resolve names and provenance.
``planner schema --kind topology|overlay|catalog-override`` prints these schemas.

A figure may be given as a plain number (recorded as "user file" or "overlay") or as a ``Figure``
provenance record (``FigureRecord``): value, source, retrieved, confidence, and the method for an
estimate. Records may carry further provenance keys (e.g. a ``rechecked`` date); they are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationError

from pydantic_core import PydanticCustomError

from planner.inputs.bounds import _no_bool
from planner.inputs.validation import validation_to_input_error

_STRICT = ConfigDict(extra="forbid", frozen=True)
_OPEN = ConfigDict(extra="allow", frozen=True)


def _bounded(lo: float, hi: float, *, gt: bool = False) -> Any:
    return Annotated[float, BeforeValidator(_no_bool),
                     Field(gt=lo, le=hi, allow_inf_nan=False) if gt else Field(ge=lo, le=hi, allow_inf_nan=False)]


class FigureRecord(BaseModel):
    """A sourced figure: the value and where it came from (see ``hardware_catalog.provenance.Figure``)."""

    model_config = _OPEN
    value: Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False, ge=-1e12, le=1e12)] | None
    source: str | None = None
    ref: str | None = None
    retrieved: Any = None
    confidence: str | None = None
    method: str | None = None
    range: tuple[Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]] | None = None
    note: str | None = None
    published: Any = None
    rechecked: bool | None = None
    mirror: str | None = None


def _figure(lo: float, hi: float, *, gt: bool = False) -> Any:
    """A plain number within [lo, hi] (or (lo, hi]) or a Figure record whose value (if any) is within them too."""

    def in_range(fig: Any) -> Any:
        value = fig.value if isinstance(fig, FigureRecord) else None
        if value is not None:
            if value < lo or (gt and value == lo):
                kind, op, words = ("greater_than", "gt", "greater than") if gt else \
                    ("greater_than_equal", "ge", "greater than or equal to")
                raise PydanticCustomError(kind, f"Input should be {words} {lo:g}", {op: lo})
            if value > hi:
                raise PydanticCustomError("less_than_equal", f"Input should be less than or equal to {hi:g}", {"le": hi})
        return fig

    return Annotated[_bounded(lo, hi, gt=gt) | FigureRecord, AfterValidator(in_range)]


PricePerKwh = _figure(0.0, 100.0)
Ratio = _figure(0.0, 20.0, gt=True)
Pue = _figure(1.0, 5.0)
Fraction = _figure(0.0, 1.0)
CarbonKgPerKwh = _figure(0.0, 5.0)
PowerMW = _figure(0.0, 20_000.0, gt=True)
RttMs = _figure(0.0, 10_000.0)
BandwidthGbps = _figure(0.0, 1e7, gt=True)
CnyPerGb = _figure(0.0, 1e4)
Latitude = _bounded(-90.0, 90.0)
Longitude = _bounded(-180.0, 180.0)
Hour = _bounded(0.0, 24.0)
Month = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=12)]


class TariffBand(BaseModel):
    """One time-of-use band: hours of the day, a price or a ratio to the flat price, optional months."""

    model_config = _STRICT
    name: str | None = None
    hours: list[tuple[Hour, Hour]] = Field(default_factory=list, description="[start, end) pairs within 0..24")
    price_cny_per_kwh: PricePerKwh | None = None
    ratio_to_flat: Ratio | None = None
    months: list[Month] | None = None
    note: str | None = None


class Tariff(BaseModel):
    """A tariff: a flat price, or bands; in an overlay, any subset of these changes the named tariff."""

    model_config = _OPEN
    name: str | None = None
    province: str | None = None
    document: str | None = None
    valley_kind: str | None = None
    flat_price_cny_per_kwh: PricePerKwh | None = None
    price_cny_per_kwh: PricePerKwh | None = None
    bands: list[TariffBand] | None = Field(None, min_length=1)


class SiteEntry(BaseModel):
    """A site: where it is, its tariff (an id or a tariff), PUE, subsidy, carbon and power envelope."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    name: str
    province: str
    role: Literal["east", "west"]
    lat: Latitude
    lon: Longitude
    hub: str | None = None
    tariff: str | Tariff | None = None
    price_cny_per_kwh: PricePerKwh | None = None
    pue: Pue
    pue_cap: Pue | None = None
    domestic_subsidy_fraction: Fraction | None = None
    carbon_kg_per_kwh: CarbonKgPerKwh | None = None
    power_envelope_mw: PowerMW | None = None
    note: str | None = None


class LinkEntry(BaseModel):
    """A network link between two nodes (site, city or hub ids): an RTT, or a published latency reading
    (``reported_ms`` with ``reported_kind`` one_way, round_trip or unspecified, read as ``interpret_as``)."""

    model_config = _STRICT
    a: str
    b: str
    rtt_ms: RttMs | None = None
    reported_ms: RttMs | None = None
    reported_kind: Literal["one_way", "round_trip", "unspecified"] | None = None
    interpret_as: Literal["one_way", "round_trip"] | None = None
    bound: str | None = None
    bandwidth_gbps: BandwidthGbps | None = None
    cost_cny_per_gb: CnyPerGb | None = None
    note: str | None = None
    claimed_for: str | None = Field(None, description="the place the source made the claim for, when attached elsewhere")


class TopologyOverlay(BaseModel):
    """A scenario's ``topology.overlay``: sites added or removed, tariffs changed, links cut or added."""

    model_config = _STRICT
    add_sites: list[SiteEntry] = Field(default_factory=list)
    remove_sites: list[str] = Field(default_factory=list)
    tariffs: dict[str, Tariff] = Field(
        default_factory=dict, description="{site, province or tariff id: changes to its tariff}")
    cut_links: list[tuple[str, str]] = Field(default_factory=list, description="[a, b] pairs of linked nodes")
    add_links: list[LinkEntry] = Field(default_factory=list)


class CityEntry(BaseModel):
    """A demand city: where it is, and its share of demand (given, or from its GDP)."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    name: str
    province: str | None = None
    lat: Latitude
    lon: Longitude
    demand_share: Fraction | None = None
    gdp_cny_100m: _figure(0.0, 1e9) | None = None


class LatencyModel(BaseModel):
    """The constants of the great-circle RTT estimate: 2 · km · route factor / fibre speed + equipment delay."""

    model_config = _STRICT
    fibre_speed_km_per_s: _figure(0.0, 300_000.0, gt=True)
    route_factor: _figure(1.0, 10.0)
    floor_route_factor: _figure(1.0, 10.0) | None = Field(
        None, description="the straightest route any measurement supports; floors an unstated reading")
    equipment_delay_ms: RttMs


Reading = Literal["one_way", "round_trip", "unspecified"]


class LatencyCircle(BaseModel):
    """A policy latency circle (``hub_to_hub`` between every pair of sites, ``cluster_to_city`` for ``pairs``)."""

    model_config = _STRICT
    limit_ms: RttMs
    kind: Reading | None = None
    note: str | None = None
    pairs: list[tuple[str, str]] = Field(default_factory=list, description="[site, city] pairs")


class LatencyClaim(BaseModel):
    """A published latency claim from one site to some cities."""

    model_config = _STRICT
    name: str
    site: str
    cities: list[str]
    limit_ms: RttMs
    kind: Reading | None = None
    note: str | None = None


class LatencyChecks(BaseModel):
    """Latency circles and published claims that ``planner topology`` checks against the modelled RTTs."""

    model_config = _STRICT
    hub_to_hub: LatencyCircle | None = None
    cluster_to_city: LatencyCircle | None = None
    claims: list[LatencyClaim] = Field(default_factory=list)


class TopologyFile(BaseModel):
    """A topology YAML file (``topology.path``): tariffs, sites, cities and links with their sources.

    ``estimated_links`` (meshes the loader expands) and ``figures`` (YAML anchors) are kept as given."""

    model_config = _STRICT
    topology_version: str | int | float | None = None
    figures: Any = None
    tariffs: dict[str, Tariff] = Field(default_factory=dict)
    sites: list[SiteEntry] = Field(default_factory=list)
    cities: list[CityEntry] = Field(default_factory=list)
    demand_share_method: Any = None
    latency_model: LatencyModel | None = None
    reported_links: list[LinkEntry] = Field(default_factory=list)
    estimated_links: Any = None
    links: list[LinkEntry] = Field(default_factory=list)
    checks: LatencyChecks | None = None


#: an overridden figure: a finite number within ±10^12, a Figure record, or a flag/name (released, stack …)
OverrideValue = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False, ge=0, le=1e12)] | \
    FigureRecord | bool | str | None


_Fields = dict[str, OverrideValue | dict[str, OverrideValue]]


class CatalogOverrides(RootModel[dict[str, _Fields | OverrideValue]]):
    """A scenario's ``catalog.overrides``: ``{accelerator id: {field: value}}``, plus ``systems`` and
    ``stack_efficiency`` (``{id: {field: value}}``) and ``server_overhead_factor``. Figures are finite,
    not negative, and at most 10^12 (a 1e300 W chip is a typo, not a chip)."""


class AddedAccelerator(BaseModel):
    """An accelerator a scenario adds (``catalog.add``); the catalog checks its fields in full, and every
    figure given here is finite, not negative and at most 10^12."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, OverrideValue | list[Any] | dict[str, Any]]
    id: str = Field(min_length=1)


SCHEMAS: dict[str, type[BaseModel]] = {
    "topology": TopologyFile,
    "overlay": TopologyOverlay,
    "catalog-override": CatalogOverrides,
}


def check_topology_file(data: Any, file: str | Callable[[str], str]) -> TopologyFile:
    """Validate topology data; one ``InputError`` naming the file (``file(section)`` where the data was merged
    from several files), the field and the bound."""
    try:
        return TopologyFile.model_validate(data)
    except ValidationError as exc:
        section = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        name = file(section) if callable(file) else file
        raise validation_to_input_error(exc, name, TopologyFile) from None


def parse_overlay(overlay: Any) -> TopologyOverlay:
    """A validated overlay; one ``InputError`` (file "overlay") naming the field and the fix."""
    try:
        return TopologyOverlay.model_validate(overlay)
    except ValidationError as exc:
        raise validation_to_input_error(exc, "overlay", TopologyOverlay) from None


def check_overlay(overlay: Any) -> dict[str, Any]:
    """A validated overlay as plain data (see ``parse_overlay``)."""
    return parse_overlay(overlay).model_dump(exclude_unset=True)


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema of an input beside the scenario: topology, overlay or catalog-override."""
    return SCHEMAS[kind].model_json_schema()
