"""Purchase options of a capacity scenario, resolved to plain numbers (no solver).

``candidate_options`` turns the scenario's candidate systems into (site, system) options with
price, racks and a unit bound; ``period_problems`` gives each planning period's placement problem;
``realised_inventory`` says what is in service in a period. The capacity model
(``planner.studies.capacity``) and its verifier (``planner.check.capacity``) both use them, so
the solver and the check read a capacity scenario the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import InputError, UnknownNameError
from planner.inputs.scenario import CapacitySettings, Scenario
from planner.inputs.supply import largest_cap, supply_caps
from planner.problem.build import Pool, Problem, SiteData, _value, build_problem

HOURS_PER_YEAR = 8760.0
PURCHASE_COLUMNS = ["period", "site", "system", "accelerator", "units", "chips", "in_service_from",
                    "capex_cny", "annualised_cny_per_year"]


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annual payment per CNY of capex over ``years`` at ``rate`` (1/years when the rate is 0)."""
    g = (1 + rate) ** years
    if g - 1 <= 1e-12:  # a zero (or vanishing) rate: straight-line
        return 1.0 / years
    return rate * g / (g - 1)


@dataclass(frozen=True)
class Option:
    """One (site, system) that may be bought."""

    site: str
    system: str
    accelerator: str
    chips: int
    price_cny: float
    racks: float
    lead: int
    max_units: int  # per period


def candidate_options(scenario: Scenario, catalog: Any, problem_sites: dict[str, Any]) -> tuple[list[Option], list[str]]:
    """Resolve candidates into (site, system) options with price, racks and a unit bound."""
    cap: CapacitySettings = scenario.capacity  # type: ignore[assignment]
    file = scenario.source_path or "<scenario>"
    notes: list[str] = []
    options: list[Option] = []
    for i, cand in enumerate(cap.candidates):
        where = f"capacity.candidates[{i}]"
        if cand.system not in catalog.systems:
            raise UnknownNameError("system", cand.system, catalog.systems, file=file, field=f"{where}.system")
        system = catalog.systems[cand.system]
        accel = catalog.accelerators[system.accelerator]
        if not getattr(system, "released", True) or not accel.released:
            notes.append(f"{cand.system} is not released yet; it cannot be bought")
            continue
        status = getattr(getattr(accel, "export_control", None), "status", None)
        if status == "prohibited" and not cap.allow_export_controlled:
            notes.append(f"{cand.system}: {accel.id} may not be exported to China ({accel.export_control.rule}); "
                         "set capacity.allow_export_controlled to plan with it anyway")
            continue
        price = cand.price_cny or _catalog_price_cny(system, cap.usd_to_cny)
        if price is None:
            raise InputError(f"the catalog has no price for {cand.system}", file=file, field=f"{where}.price_cny",
                             fix="set price_cny for this candidate")
        racks = (system.racks if system.racks is not None
                 else (system.rack_units or cap.rack_units_per_rack) / cap.rack_units_per_rack)
        for site in cand.sites or list(scenario.sites):
            if site not in problem_sites:
                raise UnknownNameError("site", site, problem_sites, file=file, field=f"{where}.sites")
            options.append(Option(site, cand.system, system.accelerator, int(system.chips), float(price),
                                  float(racks), int(cand.lead_time_periods), _unit_bound(
                                      cand.max_units_per_site, price, system, accel.id, site, racks, scenario,
                                      catalog, problem_sites)))
    return options, notes


def _catalog_price_cny(system: Any, usd_to_cny: float) -> float | None:
    if system.price_cny is not None and system.price_cny.value is not None:
        return float(system.price_cny.value)
    if system.price_usd is not None and system.price_usd.value is not None:
        return float(system.price_usd.value) * usd_to_cny
    return None


def _unit_bound(max_units: int | None, price: float, system: Any, accel: str, site: str, racks: float,
                scenario: Scenario, catalog: Any, sites: dict[str, Any]) -> int:
    """Units per site and period: the tightest of max_units, budget, supply, space and site power."""
    cap: CapacitySettings = scenario.capacity  # type: ignore[assignment]
    bounds = [max_units] if max_units is not None else []
    budgets = [b for b in [cap.budget_cny] + [p.budget_cny for p in cap.periods] if b is not None]
    if budgets:
        bounds.append(int(max(budgets) // price))
    supply = largest_cap(supply_caps(cap, catalog, {accel}), accel)
    if supply is not None:
        bounds.append(supply // system.chips)
    if site in cap.space_racks:
        bounds.append(int(cap.space_racks[site] // racks) if racks > 0 else 10**6)
    meter_kw = system.chips * catalog.chip_power_kw(accel) * sites[site].pue
    bounds.append(int(sites[site].power_cap_kw // meter_kw))
    return max(0, min(bounds))


def period_scenarios(scenario: Scenario, options: list[Option]) -> list[Scenario]:
    """Each period's scenario: demand grown, and every pool that purchases could fill made visible."""
    cap: CapacitySettings = scenario.capacity  # type: ignore[assignment]
    out = []
    for t, period in enumerate(cap.periods):
        sites = {}
        for site_id, plan in scenario.sites.items():
            inventory = dict(plan.inventory)
            for o in options:
                if o.site == site_id and t >= o.lead:
                    inventory[o.accelerator] = inventory.get(o.accelerator, 0) + o.chips * o.max_units * (t + 1 - o.lead)
            sites[site_id] = plan.model_copy(update={"inventory": inventory})
        services = [s.model_copy(update={"demand_tokens_per_s": {c: d * period.inference_growth
                                                                 for c, d in s.demand_tokens_per_s.items()}})
                    for s in scenario.inference_services]
        jobs = [j.model_copy(update={"count": max(0, round(j.count * period.training_growth))})
                for j in scenario.training_jobs]
        jobs = [j for j in jobs if j.count > 0]
        # batch inference grows with token demand: more tokens per job where it has a volume
        batch = [b.model_copy(update={"tokens": b.tokens * period.inference_growth}) if b.tokens else b
                 for b in scenario.batch_inference]
        out.append(scenario.model_copy(update={"sites": sites, "inference_services": services,
                                               "training_jobs": jobs, "batch_inference": batch, "capacity": None}))
    return out


def period_problems(scenario: Scenario, options: list[Option], catalog: Any, topology: Any) -> list[Problem]:
    """Each period's problem. A period is one representative window of ``horizon_h`` hours scaled to
    a year; a job longer than the window is billed the hours inside it and the unfinished share of its
    run is priced like unplaced work, by the rule every pipeline shares (``planner.problem.build``)."""
    return [build_problem(s, catalog, topology, strict=False) for s in period_scenarios(scenario, options)]


def realised_inventory(on_hand: dict[Pool, int], bought: dict[tuple[int, Option], int], t: int) -> dict[Pool, int]:
    """Chips in service in period ``t``: on hand plus purchases whose lead time has passed."""
    inv = dict(on_hand)
    for (tau, o), n in bought.items():
        if tau + o.lead <= t:
            inv[(o.site, o.accelerator)] = inv.get((o.site, o.accelerator), 0) + n * o.chips
    return {p: n for p, n in inv.items() if n > 0}


def sites_only(scenario: Scenario, topology: Any) -> dict[str, Any]:
    """PUE and power cap per site, which bound how many systems a site can take."""
    out = {}
    for site_id, plan in scenario.sites.items():
        if site_id not in topology.sites:
            raise UnknownNameError("site", site_id, topology.sites, file=scenario.source_path, field=f"sites.{site_id}")
        t = topology.sites[site_id]
        cap_mw = plan.power_cap_mw or _value(t.power_envelope_mw)
        if cap_mw is None:
            raise InputError("no power cap: the topology gives no envelope for this site", file=scenario.source_path,
                             field=f"sites.{site_id}.power_cap_mw", fix="set power_cap_mw")
        out[site_id] = SiteData(site_id, t.role, float(_value(t.pue)), float(cap_mw) * 1000,
                                topology.mean_price_cny_per_kwh(site_id), 0.0, None)
    return out
