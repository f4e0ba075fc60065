"""Check step: a scenario plus its catalog and topology become one plain ``Problem``.

The problem holds every number the optimizer, the greedy baseline and the
verifier need, already resolved (chip power, effective tariff after subsidy,
PUE, RTT, durations, throughput). It imports no solver. Cost formulas live
here once, so the model, the greedy plan and ``verify`` price work identically:

    energy_kwh   = chips × chip_power_kw × hours × PUE
    power_cost   = energy_kwh × price_cny_per_kwh × (1 − subsidy if the chip is domestic)
    latency_cost = tokens served over the horizon (M) × RTT_ms × latency weight

**A job longer than the horizon** is billed for the hours it runs inside it, on every pipeline
(spatial, time of use, capacity, compare, pareto, verify), and the part of its run left undone
is priced like unplaced work, because this builder is where it is decided::

    hours[a]      = min(run_h[a], horizon_h)                per allowed accelerator a (billed power)
    share[a]      = hours[a] / run_h[a]                     the part of its run a plan covers (run_share)
    penalty       = priority × rate × chips × min_a run_h[a]          (its unplaced penalty, whole run)
    unfinished[a] = (1 − share[a]) × penalty                 (the work placing it on a leaves undone)

A job placed on ``a`` costs power(hours[a]) + unfinished[a]; left unplaced it costs its penalty. So
placing it saves share[a] × penalty, and an accelerator that gets more of the run done wins unless its
power outweighs that. Power totals stay per horizon; the warning (``planner.problem.sanity``) says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from planner.errors import InputError, UnknownNameError
from planner.inputs.names import accelerator_hint, city_hint, site_hint
from planner.inputs.scenario import Scenario
from planner.problem.sanity import sanity_warnings
from planner.problem.size import check_size
from workloads.resolve import choose_gang, service_figures, training_hours

Pool = tuple[str, str]  # (site, accelerator)


@dataclass(frozen=True)
class SiteData:
    id: str
    role: str
    pue: float
    power_cap_kw: float  # at the meter: IT power × PUE
    price_cny_per_kwh: float  # time-weighted mean of the site's tariff over the horizon
    subsidy_fraction: float  # cut of the power bill for domestic accelerators
    carbon_kg_per_kwh: float | None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class AccelData:
    id: str
    chip_power_kw: float  # per chip, incl. its share of the server (IT power)
    domestic: bool


@dataclass(frozen=True)
class JobData:
    id: str
    chips: int
    hours: dict[str, float]  # per allowed accelerator: the hours it runs inside the horizon (billed)
    pools: tuple[Pool, ...]  # (site, accel) pools it may use, in a fixed order
    penalty_cny: float  # charged if left unplaced: its whole run on its fastest accelerator

    kind: str = "training"  # or "batch" (batch inference)
    #: per allowed accelerator, its whole run (longer than ``hours`` only for a job longer than the horizon)
    run_h: dict[str, float] = field(default_factory=dict)

    def run_share(self, accel: str) -> float:
        """The share of the job's run on ``accel`` that falls inside the horizon (1 if it finishes)."""
        run = self.run_h.get(accel, self.hours[accel])
        return self.hours[accel] / run if run > 0 else 1.0

    def unfinished_work_cny(self, accel: str) -> float:
        """The part of its run placing it on ``accel`` leaves undone, priced as unplaced work:
        (1 − run_share) × its unplaced penalty; 0 for a job that finishes inside the horizon."""
        return max(0.0, 1.0 - self.run_share(accel)) * self.penalty_cny

    def class_key(self) -> tuple[Any, ...]:
        """Jobs with equal keys are interchangeable: the model counts them, not each one."""
        return (self.kind, self.chips, tuple(sorted(self.hours.items())), tuple(sorted(self.run_h.items())),
                self.pools, round(self.penalty_cny, 6))


@dataclass(frozen=True)
class ServiceData:
    id: str
    demand_tokens_per_s: dict[str, float]  # per city
    rtt_slo_ms: float
    tokens_per_s_per_chip: dict[str, float]  # per allowed accelerator
    chips_per_replica: dict[str, int]
    pools: tuple[Pool, ...]  # (site, accel) pools with inventory it may use
    city_sites: dict[str, tuple[str, ...]]  # sites within the SLO of each city (and with a pool)
    penalty_cny_per_mtokens: float
    latency_cny_per_mtokens_ms: float | None = None  # None: the scenario-wide weight

    def replica_tokens_per_s(self, accel: str) -> float:
        return self.chips_per_replica[accel] * self.tokens_per_s_per_chip[accel]


@dataclass(frozen=True)
class Problem:
    """Everything the optimizer needs, resolved to plain numbers. Never mutated."""

    name: str
    horizon_h: float
    sites: dict[str, SiteData]
    accels: dict[str, AccelData]
    inventory: dict[Pool, int]
    jobs: dict[str, JobData]
    services: dict[str, ServiceData]
    rtt_ms: dict[tuple[str, str], float]  # (city, site)
    power_cost_weight: float
    latency_cny_per_mtokens_ms: float
    catalog_version: str = ""
    topology_version: str = ""
    #: what the scenario changed in the catalog (e.g. "h20.tdp_w", "extra.mlu690")
    catalog_changes: tuple[str, ...] = ()
    city_coords: dict[str, tuple[float, float]] = field(default_factory=dict)  # (lat, lon), for maps
    warnings: tuple[str, ...] = ()
    #: where each duration, throughput and replica size came from (given, roofline, calibrated, measured)
    figures: tuple[dict[str, Any], ...] = ()
    #: jobs no pool could ever hold, and why (decided before solving)
    pre_unplaced: dict[str, str] = field(default_factory=dict)
    #: (service, city) demand that no site within the SLO can serve, and why (non-strict builds only)
    pre_unserved: dict[tuple[str, str], str] = field(default_factory=dict)

    # ---- prices -------------------------------------------------------------
    def price_cny_per_kwh(self, site: str, accel: str) -> float:
        """Effective tariff after the domestic-chip subsidy."""
        s = self.sites[site]
        cut = s.subsidy_fraction if self.accels[accel].domestic else 0.0
        return s.price_cny_per_kwh * (1.0 - cut)

    def meter_kw_per_chip(self, site: str, accel: str) -> float:
        """Power one busy chip draws at the site's meter (IT power × PUE)."""
        return self.accels[accel].chip_power_kw * self.sites[site].pue

    def energy_kwh(self, site: str, accel: str, chips: int, hours: float) -> float:
        return chips * self.meter_kw_per_chip(site, accel) * hours

    def power_cost_cny(self, site: str, accel: str, chips: int, hours: float) -> float:
        return self.energy_kwh(site, accel, chips, hours) * self.price_cny_per_kwh(site, accel)

    def job_power_cny(self, job: str, pool: Pool) -> float:
        """The weighted power cost of the hours job ``job`` runs inside the horizon on ``pool``."""
        j = self.jobs[job]
        return self.power_cost_weight * self.power_cost_cny(pool[0], pool[1], j.chips, j.hours[pool[1]])

    def job_cost_cny(self, job: str, pool: Pool) -> float:
        """What placing job ``job`` on ``pool`` costs: its power plus the work it leaves unfinished."""
        return self.job_power_cny(job, pool) + self.jobs[job].unfinished_work_cny(pool[1])

    def replica_cost_cny(self, service: str, pool: Pool) -> float:
        s = self.services[service]
        return self.power_cost_weight * self.power_cost_cny(
            pool[0], pool[1], s.chips_per_replica[pool[1]], self.horizon_h)

    def latency_cny_per_token_per_s(self, service: str, city: str, site: str) -> float:
        """Latency cost of serving 1 token/s of ``service`` from ``site`` to ``city`` for the whole horizon."""
        weight = self.services[service].latency_cny_per_mtokens_ms
        if weight is None:
            weight = self.latency_cny_per_mtokens_ms
        return weight * 3600.0 * self.horizon_h / 1e6 * self.rtt_ms[(city, site)]

    def unserved_cny_per_token_per_s(self, service: str) -> float:
        return self.services[service].penalty_cny_per_mtokens * 3600.0 * self.horizon_h / 1e6


# ---------------------------------------------------------------------------
def build_problem(scenario: Scenario, catalog: Any = None, topology: Any = None, *, strict: bool = True) -> Problem:
    """Resolve a scenario against its catalog and topology (loaded if not given).

    ``strict`` makes an SLO that no site can meet a bad-input error; otherwise (capacity
    planning, hardware-mix comparisons) that demand is reported unserved with the reason.
    """
    file = scenario.source_path or "<scenario>"
    check_size(scenario, file=file)
    if catalog is None:
        catalog = load_catalog_for(scenario)
    if topology is None:
        topology = load_topology_for(scenario)
    warnings: list[str] = []
    figures: list[dict[str, Any]] = []
    models = _models_for(scenario, file)

    # -- sites and accelerators named in the inventory ---------------------------------
    sites: dict[str, SiteData] = {}
    accels: dict[str, AccelData] = {}
    inventory: dict[Pool, int] = {}

    def accel_data(accel_id: str, field_name: str) -> AccelData:
        if accel_id not in accels:
            if accel_id not in catalog.accelerators:
                raise UnknownNameError("accelerator", accel_id, catalog.accelerators, file=file, field=field_name,
                                       hint=accelerator_hint(catalog, accel_id))
            a = catalog.accelerators[accel_id]
            accels[accel_id] = AccelData(accel_id, float(catalog.chip_power_kw(accel_id)), bool(a.domestic))
        return accels[accel_id]

    for site_id, plan in scenario.sites.items():
        if site_id not in topology.sites:
            raise UnknownNameError("site", site_id, topology.sites, file=file, field=f"sites.{site_id}",
                                   hint=site_hint(topology, site_id))
        t = topology.sites[site_id]
        cap_mw = plan.power_cap_mw
        if cap_mw is None:
            envelope = getattr(t, "power_envelope_mw", None)
            cap_mw = getattr(envelope, "value", envelope)
            if cap_mw is None:
                raise InputError("no power cap: the topology gives no envelope for this site", file=file,
                                 field=f"sites.{site_id}.power_cap_mw", fix="set power_cap_mw")
        carbon = getattr(t, "carbon_kg_per_kwh", None)
        subsidy = getattr(t, "domestic_subsidy_fraction", None)
        sites[site_id] = SiteData(
            id=site_id, role=str(t.role), pue=float(_value(t.pue)), power_cap_kw=float(cap_mw) * 1000.0,
            price_cny_per_kwh=float(topology.mean_price_cny_per_kwh(site_id)),
            subsidy_fraction=float(_value(subsidy) or 0.0), carbon_kg_per_kwh=_value(carbon),
            lat=float(t.lat), lon=float(t.lon))
        for accel_id, chips in plan.inventory.items():
            accel_data(accel_id, f"sites.{site_id}.inventory.{accel_id}")
            if chips > 0:
                inventory[(site_id, accel_id)] = int(chips)

    objective = scenario.objective
    # -- training jobs ---------------------------------------------------------------
    jobs: dict[str, JobData] = {}
    pre_unplaced: dict[str, str] = {}
    for i, job in enumerate(scenario.jobs):
        where = scenario.job_field(i)
        allowed = _allowed_accelerators(job, catalog, file, where)
        _check_known("site", job.allowed_sites or [], topology.sites, file, f"{where}.allowed_sites")
        allowed_sites = set(job.allowed_sites) if job.allowed_sites is not None else set(sites)
        residency = None
        if job.data_residency:  # the data may not leave its province: only sites there
            residency = _province_of(topology, job.dataset_origin, file, f"{where}.dataset_origin")
            allowed_sites = {s for s in allowed_sites if topology.sites[s].province == residency}
        chips, gang = _located(choose_gang, job, catalog, models, allowed, file=file, field=f"{where}.model")
        figures += [gang] if gang else []
        resolved = _located(training_hours, job, catalog, models, allowed, chips, file=file, field=f"{where}.model")
        run_h = dict(resolved.values)
        hours = in_horizon(run_h, float(scenario.horizon_h))
        figures += resolved.figures
        for accel, why in resolved.dropped.items():
            warnings.append(f"{job.kind} job '{job.id}' cannot use {accel}: {why}")
        pools = tuple(p for p in inventory if p[1] in hours and p[0] in allowed_sites)
        penalty_rate = job.unplaced_cny_per_chip_hour or objective.unplaced_training_cny_per_chip_hour
        penalty = job.priority * penalty_rate * chips * min(run_h.values(), default=0.0)
        copies = [job.id] if job.count == 1 else [f"{job.id}#{k + 1}" for k in range(job.count)]
        fitting = tuple(p for p in pools if inventory[p] >= chips
                        and chips * _meter_kw(accels, sites, p) <= sites[p[0]].power_cap_kw)
        if not hours:
            reason = "no allowed accelerator can run it: " + "; ".join(f"{a}: {w}" for a, w in resolved.dropped.items())
        elif residency is not None and not pools:
            reason = (f"data residency keeps it in {residency}, and no site there has an allowed accelerator; "
                      "add inventory there or lift data_residency")
        else:
            reason = None if fitting else _oversize_reason(chips, allowed, pools, inventory, sites, accels)
        if reason:
            warnings.append(f"{job.kind} job '{job.id}' can never be placed: {reason}")
        for copy_id in copies:
            jobs[copy_id] = JobData(copy_id, chips, hours, fitting, penalty, job.kind, run_h)
            if reason:
                pre_unplaced[copy_id] = reason

    # -- inference services ------------------------------------------------------------
    rtt: dict[tuple[str, str], float] = {}
    services: dict[str, ServiceData] = {}
    pre_unserved: dict[tuple[str, str], str] = {}
    for i, svc in enumerate(scenario.inference_services):
        where = f"inference_services[{i}]"
        allowed = _allowed_accelerators(svc, catalog, file, where)
        tps, cpr = _located(service_figures, svc, catalog, models, allowed, file=file, field=f"{where}.model")
        figures += tps.figures + cpr.figures
        for accel, why in tps.dropped.items():
            warnings.append(f"service '{svc.id}' cannot use {accel}: {why}")
        if not tps.values and strict:
            raise InputError(f"no allowed accelerator can serve {svc.model}: "
                             + "; ".join(f"{a}: {w}" for a, w in tps.dropped.items()),
                             file=file, field=f"{where}.allowed_accelerators",
                             fix="allow a larger accelerator, a lower precision, or a looser tpot_ms")
        pools = tuple(p for p in inventory if p[1] in tps.values and inventory[p] >= cpr.values[p[1]])
        pool_sites = sorted({p[0] for p in pools})
        city_sites: dict[str, tuple[str, ...]] = {}
        for city in svc.demand_tokens_per_s:
            if city not in topology.cities:
                raise UnknownNameError("demand city", city, topology.cities, file=file,
                                       field=f"{where}.demand_tokens_per_s", hint=city_hint(topology, city))
            for site in sites:
                rtt[(city, site)] = float(topology.rtt_ms(_city_node(topology, city), _site_node(topology, site)))
            city_sites[city] = tuple(s for s in pool_sites if rtt[(city, s)] <= svc.rtt_slo_ms + 1e-9)
            if not city_sites[city] and not strict:
                pre_unserved[(svc.id, city)] = _unmeetable_reason(svc, city, pool_sites, rtt)
                warnings.append(f"service '{svc.id}' cannot serve {city}: {pre_unserved[(svc.id, city)]}")
            elif not city_sites[city]:
                if not pool_sites:
                    raise InputError(
                        f"no site has a whole replica of any allowed accelerator {svc.allowed_accelerators}",
                        file=file, field=f"{where}.allowed_accelerators",
                        fix="allow an accelerator that a site has, or add inventory")
                nearest = min(pool_sites, key=lambda s: rtt[(city, s)])
                raise InputError(
                    f"no site can meet the {svc.rtt_slo_ms:g} ms SLO for {city}: the nearest site with "
                    f"allowed accelerators is {nearest} at {rtt[(city, nearest)]:.1f} ms",
                    file=file, field=f"{where}.rtt_slo_ms",
                    fix=f"raise rtt_slo_ms to at least {math.ceil(rtt[(city, nearest)])} or add inventory nearer")
        services[svc.id] = ServiceData(
            id=svc.id, demand_tokens_per_s=dict(svc.demand_tokens_per_s), rtt_slo_ms=float(svc.rtt_slo_ms),
            tokens_per_s_per_chip=dict(tps.values), chips_per_replica=dict(cpr.values),
            pools=pools, city_sites=city_sites,
            penalty_cny_per_mtokens=svc.unserved_cny_per_mtokens or objective.unserved_inference_cny_per_mtokens,
            latency_cny_per_mtokens_ms=svc.latency_cny_per_mtokens_ms)

    warnings += sanity_warnings(scenario, topology, sites, accels, inventory, jobs, float(scenario.horizon_h), strict)
    city_coords = {c: (float(topology.cities[c].lat), float(topology.cities[c].lon))
                   for svc in services.values() for c in svc.demand_tokens_per_s}
    return Problem(
        city_coords=city_coords,
        name=scenario.name, horizon_h=float(scenario.horizon_h), sites=sites, accels=accels,
        inventory=inventory, jobs=jobs, services=services, rtt_ms=rtt,
        power_cost_weight=objective.power_cost_weight,
        latency_cny_per_mtokens_ms=objective.latency_cny_per_mtokens_ms,
        catalog_version=str(getattr(catalog, "version", "")), topology_version=str(getattr(topology, "version", "")),
        catalog_changes=tuple(getattr(catalog, "applied", ())),
        warnings=tuple(warnings), pre_unplaced=pre_unplaced, pre_unserved=pre_unserved, figures=tuple(figures))


def in_horizon(run_h: dict[str, float], horizon_h: float) -> dict[str, float]:
    """The hours of each run that fall inside the horizon: the one rule for billing a job longer than it
    (the rest of the run is priced by ``JobData.unfinished_work_cny``)."""
    return {a: min(h, horizon_h) for a, h in run_h.items()}


def _models_for(scenario: Scenario, file: str) -> dict[str, Any]:
    needs = any(j.model for j in scenario.jobs) or any(s.model for s in scenario.inference_services)
    if not needs:
        return {}
    from workloads.models import load_models

    try:
        return load_models(extra=scenario.models or None)
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=f"models.{exc.field}" if exc.field else "models",
                         fix=exc.fix) from None


def _located(fn: Any, item: Any, catalog: Any, models: dict[str, Any], *args: Any, file: str, field: str) -> Any:
    """Run an estimator step; errors that name no file get the scenario's file and field."""
    try:
        return fn(item, catalog, models, *args)
    except InputError as exc:
        if exc.file:
            raise
        raise InputError(exc.detail, file=file, field=field, fix=exc.fix) from None


def _province_of(topology: Any, node: str | None, file: str, field: str) -> str:
    if node in topology.cities:
        return str(topology.cities[node].province)
    if node in topology.sites:
        return str(topology.sites[node].province)
    raise UnknownNameError("city or site", str(node), list(topology.cities) + list(topology.sites), file=file,
                           field=field)


def _allowed_accelerators(item: Any, catalog: Any, file: str, where: str) -> list[str]:
    """The accelerators an item allows: those it names, plus every released one on the stacks it names."""
    _check_known("accelerator", item.allowed_accelerators, catalog.accelerators, file, f"{where}.allowed_accelerators")
    stacks = {str(a.software_stack) for a in catalog.accelerators.values()}
    _check_known("software stack", item.allowed_stacks, stacks, file, f"{where}.allowed_stacks")
    out = list(item.allowed_accelerators)
    out += [a.id for a in catalog.accelerators.values()
            if str(a.software_stack) in item.allowed_stacks and a.released and a.id not in out]
    return out


def _check_known(kind: str, names: list[str], known: Any, file: str, field: str) -> None:
    for name in names:
        if name not in known:
            raise UnknownNameError(kind, name, known, file=file, field=field)


def _unmeetable_reason(svc: Any, city: str, pool_sites: list[str], rtt: dict[tuple[str, str], float]) -> str:
    if not pool_sites:
        return (f"no site has a whole replica of any allowed accelerator {svc.allowed_accelerators}; "
                "add inventory or allow another accelerator")
    nearest = min(pool_sites, key=lambda s: rtt[(city, s)])
    return (f"no site can meet the {svc.rtt_slo_ms:g} ms SLO: the nearest with allowed accelerators is {nearest} "
            f"at {rtt[(city, nearest)]:.1f} ms; add inventory nearer or relax rtt_slo_ms")


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def _meter_kw(accels: dict[str, AccelData], sites: dict[str, SiteData], pool: Pool) -> float:
    return accels[pool[1]].chip_power_kw * sites[pool[0]].pue


def _city_node(topology: Any, city: str) -> str:
    return f"city:{city}" if city in topology.sites else city


def _site_node(topology: Any, site: str) -> str:
    return f"site:{site}" if site in topology.cities else site


def _oversize_reason(chips: int, allowed: list[str], pools: tuple[Pool, ...], inventory: dict[Pool, int],
                     sites: dict[str, SiteData], accels: dict[str, AccelData]) -> str:
    if not pools:
        return (f"no site in the scenario has any of its allowed accelerators {allowed}; "
                "add inventory of one of them or allow another accelerator")
    biggest = max(pools, key=lambda p: inventory[p])
    if inventory[biggest] < chips:
        return (f"needs {chips} chips in one gang but the largest pool of an allowed accelerator is "
                f"{inventory[biggest]} {biggest[1]} at {biggest[0]}; add inventory or shrink the gang")
    best = max(pools, key=lambda p: sites[p[0]].power_cap_kw / _meter_kw(accels, sites, p))
    need_mw = chips * _meter_kw(accels, sites, best) / 1000
    return (f"needs {need_mw:.2f} MW at the meter but no site's power cap holds it "
            f"(largest fit: {best[0]} with {sites[best[0]].power_cap_kw / 1000:.2f} MW); raise power_cap_mw")


# ---------------------------------------------------------------------------
def load_catalog_for(scenario: Scenario) -> Any:
    import hardware_catalog

    ref = scenario.catalog
    added = {a.id for a in ref.add}
    with _named_in(scenario, "catalog", {"scenario overrides": "catalog.overrides",
                                         "scenario extra accelerators": "catalog.add"}, added):
        return hardware_catalog.load(path=scenario.resolve(ref.path), overrides=ref.overrides_dict() or None,
                                     extra=ref.add_list() or None)


def load_topology_for(scenario: Scenario) -> Any:
    from planner.inputs import topology

    ref = scenario.topology
    with _named_in(scenario, "topology", {"overlay": "topology.overlay"}):
        return topology.load(path=scenario.resolve(ref.path), overlay=ref.overlay_dict() or None)


@contextmanager
def _named_in(scenario: Scenario, ref: str, places: dict[str, str], added: set[str] = frozenset()) -> Iterator[None]:
    """Errors in a scenario's overlay, catalog overrides or added accelerators, or in a file it names, are
    reported against the scenario file and the field in it that brought them in (and say where they arose)."""
    try:
        yield
    except InputError as exc:
        file = scenario.source_path or "<scenario>"
        if exc.file == file:
            raise
        if exc.file in places:
            field = exc.field or ""
            for head in ("overrides.", "overlay.", "add."):
                field = field.removeprefix(head)
            prefix = places[exc.file]
            raise InputError(exc.detail, file=file, field=f"{prefix}.{field}" if field else prefix,
                             fix=exc.fix) from None
        where = f"{exc.file}{': ' + exc.field if exc.field else ''}"
        if "scenario overrides" in exc.detail:
            field = "catalog.overrides"
        elif any(f"entry '{a}'" in exc.detail for a in added):
            field = "catalog.add"
        elif getattr(scenario, ref).path is not None:
            field = f"{ref}.path"
        else:  # the built-in data itself
            raise
        raise InputError(f"{exc.detail} (in {where})", file=file, field=field, fix=exc.fix) from None


def restrict_inventory(scenario: Scenario, catalog: Any, allowed: Callable[[Any], bool]) -> Scenario:
    """The scenario with the accelerators a rule forbids taken out of every site's inventory."""
    sites = {k: v.model_copy(update={"inventory": {a: n for a, n in v.inventory.items()
                                                   if allowed(catalog.accelerators[a])}})
             for k, v in scenario.sites.items()}
    return scenario.model_copy(update={"sites": sites})
