"""Capacity planning: which systems to buy, where and when, on top of the placement model.

Formulation (periods t = 1..T, candidate (site s, system k) with a = accel(k)):

  vars   buy[t,s,k] ∈ 0..U           units ordered in period t, in service from t + lead_k
         + one placement model per period (``planner.core.model``), whose chip capacity is
           on_hand[s,a] + Σ_{k: accel a} chips_k · Σ_{τ ≤ t − lead_k} buy[τ,s,k]
  min    Σ_t  f · (power + latency + unplaced)_t                 annual opex, f = 8760 / horizon_h
       + Σ_t Σ_{τ ≤ t} (CRF + m) · price_k · buy[τ,s,k]          annualised capex and maintenance
  s.t.   Σ_{t,s,k} price_k · buy ≤ budget;  Σ_{s,k} price_k · buy[t] ≤ budget_t   (capex_budget)
         Σ_{s, k: accel a} chips_k · buy[t,s,k] ≤ supply_a                        (supply_cap)
         Σ_{t,k} racks_k · buy[t,s,k] ≤ space_s                                  (space_envelope)
         export-controlled and unreleased parts are not candidates                 (by construction)

CRF = r(1+r)^n / ((1+r)^n − 1) is the capital recovery factor for rate r over n years.
Each period is a representative window of ``horizon_h`` hours scaled to a year, so
every cost in the objective is CNY per year. Power stays capped per site at every
period; only domestic accelerators earn a western subsidy (``Problem.price_cny_per_kwh``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ortools.sat.python import cp_model

from planner.check.verify import check_plan_shape, verify_plan
from planner.core.greedy import Plan, greedy_plan
from planner.core.model import (
    BuiltModel,
    add_hints,
    build_model,
    minimize,
    objective_parts,
)
from planner.core.runner import Progress, new_solver, run_solver
from planner.core.spatial import extract_plan, write_back
from planner.errors import InputError, UnknownNameError
from planner.inputs.scenario import CapacitySettings, Scenario
from planner.inputs.supply import SupplyCap, largest_cap, supply_caps
from planner.problem.build import (
    Pool,
    Problem,
    SiteData,
    _value,
    build_problem,
    load_catalog_for,
    load_topology_for,
    restrict_inventory,
)
from planner.results.result import Result, Status

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


@dataclass
class CapacityResult:
    """A capacity plan: purchases per period, and each period's placement plan."""

    scenario: str
    status: Status
    objective: dict[str, float]
    kpis: dict[str, float]
    purchases: pd.DataFrame
    periods: dict[str, Result]
    solver: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def is_feasible(self) -> bool:
        return self.status.has_plan

    def period_table(self) -> pd.DataFrame:
        """One row per period: capex, opex, tokens, CNY per million tokens, chips, MW, utilisation."""
        rows = []
        for name, r in self.periods.items():
            bought = self.purchases[self.purchases.period == name]
            rows.append({"period": name, **{k: r.kpis[k] for k in (
                "capex_cny", "annualised_capex_cny_per_year", "maintenance_cny_per_year", "power_cost_cny_per_year",
                "cny_per_mtokens_all_in", "chips_owned", "chips_used", "chip_utilisation", "peak_site_power_mw",
                "served_tokens_per_s", "unserved_tokens_per_s", "jobs_unplaced")}, "units_bought": int(bought.units.sum())})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        s = self.solver
        gap = "–" if s.get("gap") is None else f"{100 * s['gap']:.3f} %"
        lines = [f"scenario {self.scenario} (capacity): {self.status.value}",
                 f"annual cost {self.objective['total_cny_per_year']:,.0f} CNY/yr = capex "
                 f"{self.objective['annualised_capex_cny_per_year']:,.0f} + maintenance "
                 f"{self.objective['maintenance_cny_per_year']:,.0f} + power {self.objective['power_cost_cny_per_year']:,.0f}"
                 f" + latency {self.objective['latency_cny_per_year']:,.0f} + unplaced "
                 f"{self.objective['unplaced_penalty_cny_per_year']:,.0f}",
                 f"capex {self.kpis['capex_cny']:,.0f} CNY for {int(self.purchases.units.sum())} system(s); "
                 f"best bound {s.get('best_bound') or float('nan'):,.0f}, gap {gap}, wall {s.get('wall_s', 0):.2f} s"]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "capacity", "scenario": self.scenario, "status": self.status.value,
                "objective": self.objective, "kpis": self.kpis,
                "purchases": json.loads(self.purchases.to_json(orient="records")) if len(self.purchases) else [],
                "periods": {name: r.to_dict() for name, r in self.periods.items()},
                "solver": self.solver, "warnings": self.warnings}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False, default=lambda o: o.item())
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text


# ---------------------------------------------------------------------------
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
    """Each period's problem, with every job billed only for the hours inside the planning window.

    A period is one representative window of ``horizon_h`` hours scaled to a year, so a job longer
    than the window is running throughout it: it costs the window's hours, not its whole length
    (which would be counted again in every window of the year).
    """
    out = []
    for s in period_scenarios(scenario, options):
        problem = build_problem(s, catalog, topology, strict=False)
        window = problem.horizon_h
        jobs, long = {}, []
        for jid, job in problem.jobs.items():
            clipped = {a: min(h, window) for a, h in job.hours.items()}
            if clipped != job.hours:
                long.append(jid)
            ratio = min(clipped.values(), default=0.0) / min(job.hours.values(), default=1.0) if job.hours else 1.0
            jobs[jid] = dataclasses.replace(job, hours=clipped, penalty_cny=job.penalty_cny * ratio)
        notes = (f"{len(long)} job(s) can run longer than the {window:g} h planning window ({', '.join(long[:3])}"
                 f"{' …' if len(long) > 3 else ''}); capacity plans bill the {window:g} h inside it",) if long else ()
        out.append(dataclasses.replace(problem, jobs=jobs, warnings=problem.warnings + notes))
    return out


# ---------------------------------------------------------------------------
def plan_capacity(scenario: Scenario, *, time_limit_s: float | None = None, workers: int | None = None,
                  seed: int | None = None, on_progress: Callable[[Progress], None] | None = None,
                  restrict: Callable[[Any], bool] | None = None,
                  extra_constraints: Callable[[cp_model.CpModel, dict], None] | None = None) -> CapacityResult:
    """Choose purchases and placements for every period. ``restrict(accelerator) -> bool`` limits
    which accelerators may be bought and used (for ``planner compare``)."""
    if scenario.capacity is None:
        raise InputError("the scenario has no capacity section", file=scenario.source_path, field="capacity",
                         fix="add capacity: {candidates: [{system: hgx-h20}]} (see workloads/examples)")
    t0 = time.perf_counter()
    cap = scenario.capacity
    catalog = load_catalog_for(scenario)
    topology = load_topology_for(scenario)
    site_data = sites_only(scenario, topology)
    options, notes = candidate_options(scenario, catalog, site_data)
    if restrict is not None:
        options = [o for o in options if restrict(catalog.accelerators[o.accelerator])]
        scenario = restrict_inventory(scenario, catalog, restrict)
    on_hand = {(s, a): n for s, plan in scenario.sites.items() for a, n in plan.inventory.items() if n > 0}
    problems = period_problems(scenario, options, catalog, topology)
    names = [p.name for p in cap.periods]
    annual = HOURS_PER_YEAR / scenario.horizon_h
    crf = capital_recovery_factor(cap.interest_rate, cap.amortisation_years)

    model = cp_model.CpModel()
    buy: dict[tuple[int, Option], cp_model.IntVar] = {}
    upper: dict[int, int] = {}
    for t in range(len(names)):
        for o in options:
            if o.max_units > 0:
                var = model.new_int_var(0, o.max_units, f"buy[{names[t]},{o.site},{o.system}]")
                buy[(t, o)] = var
                upper[var.index] = o.max_units
    builts: list[BuiltModel] = []
    for t, problem in enumerate(problems):
        added: dict[Pool, list] = defaultdict(list)
        for (tau, o), var in buy.items():
            if tau + o.lead <= t:
                added[(o.site, o.accelerator)].append((o.chips, var))
        built = build_model(problem, model=model, prefix=f"{names[t]}:", base_inventory=on_hand,
                            added_chips=added, objective=False)
        upper.update(built.upper)
        builts.append(built)
    add_capex_budget(model, buy, cap, names)
    caps = supply_caps(cap, catalog, {o.accelerator for o in options})
    add_supply_cap(model, buy, caps, names)
    add_space_envelope(model, buy, cap)
    if extra_constraints is not None:
        extra_constraints(model, {"buy": buy, "names": names})

    terms: dict[str, list] = defaultdict(list)
    constants: dict[str, float] = defaultdict(float)
    for built in builts:
        parts, consts = objective_parts(built)
        for name, ts in parts.items():
            terms[name] += [(annual * c, v) for c, v in ts]
        for name, c in consts.items():
            constants[name] += annual * c
    for (tau, o), var in buy.items():
        owned_periods = len(names) - tau
        terms["annualised_capex"].append((owned_periods * crf * o.price_cny, var))
        terms["maintenance"].append((owned_periods * cap.maintenance_fraction_per_year * o.price_cny, var))
    scale, _ = minimize(model, dict(terms), dict(constants), upper)
    for built in builts:  # warm start: buy nothing, place greedily on what is on hand
        add_hints(built, greedy_plan(dataclasses.replace(built.problem, inventory=dict(on_hand))))
    for var in buy.values():
        model.add_hint(var, 0)
    build_s = time.perf_counter() - t0

    settings = scenario.solver
    limit = time_limit_s if time_limit_s is not None else settings.time_limit_s
    solver = new_solver(limit - build_s, workers or settings.workers, seed if seed is not None else settings.seed,
                        settings.relative_gap)
    status, outcome = run_solver(solver, model, scale, on_progress)
    info: dict[str, Any] = {**outcome, "wall_s": round(time.perf_counter() - t0, 3), "build_s": round(build_s, 3),
                            "variables": len(model.Proto().variables), "constraints": len(model.Proto().constraints),
                            "cost_units_per_cny": scale.units_per_cny}
    if status.has_plan:
        bought = {(t, o): int(solver.value(v)) for (t, o), v in buy.items() if solver.value(v) > 0}
    else:
        bought = {}
    return _write_back(scenario, problems, builts, solver if status.has_plan else None, options, bought, on_hand,
                       status, info, notes, annual, crf, caps)


def add_capex_budget(model: cp_model.CpModel, buy: dict, cap: CapacitySettings, names: list[str]) -> None:
    """Σ price · buy ≤ budget over all periods, and per period where a period has its own budget (CNY)."""
    def spend(period: int | None) -> list:
        return [int(round(o.price_cny)) * v for (t, o), v in buy.items() if period is None or t == period]

    if cap.budget_cny is not None:
        model.add(sum(spend(None)) <= int(cap.budget_cny)).with_name("capex_budget")
    for t, period in enumerate(cap.periods):
        if period.budget_cny is not None:
            model.add(sum(spend(t)) <= int(period.budget_cny)).with_name(f"capex_budget[{names[t]}]")


def add_supply_cap(model: cp_model.CpModel, buy: dict, caps: dict[str, dict[str, SupplyCap]],
                   names: list[str]) -> None:
    """Σ_{s,k: accel a} chips_k · buy[t,s,k] ≤ supply[t,a] in every period t with a cap on a
    (the scenario's figure, else the catalog's supply_<year>_units; ``planner.inputs.supply``)."""
    for t, name in enumerate(names):
        for accel, limit in caps.get(name, {}).items():
            terms = [o.chips * v for (tau, o), v in buy.items() if tau == t and o.accelerator == accel]
            if terms:
                model.add(sum(terms) <= limit.chips).with_name(f"supply_cap[{name},{accel}]")


def add_space_envelope(model: cp_model.CpModel, buy: dict, cap: CapacitySettings) -> None:
    """Σ_{t,k} racks_k · buy[t,s,k] ≤ space_s (racks counted in hundredths)."""
    for site, racks in cap.space_racks.items():
        terms = [int(math.ceil(o.racks * 100)) * v for (_t, o), v in buy.items() if o.site == site]
        if terms:
            model.add(sum(terms) <= int(racks * 100)).with_name(f"space_envelope[{site}]")


# ---------------------------------------------------------------------------
def realised_inventory(on_hand: dict[Pool, int], bought: dict[tuple[int, Option], int], t: int) -> dict[Pool, int]:
    """Chips in service in period ``t``: on hand plus purchases whose lead time has passed."""
    inv = dict(on_hand)
    for (tau, o), n in bought.items():
        if tau + o.lead <= t:
            inv[(o.site, o.accelerator)] = inv.get((o.site, o.accelerator), 0) + n * o.chips
    return {p: n for p, n in inv.items() if n > 0}


def _write_back(scenario: Scenario, problems: list[Problem], builts: list[BuiltModel], solver: Any,
                options: list[Option], bought: dict[tuple[int, Option], int], on_hand: dict[Pool, int],
                status: Status, info: dict[str, Any], notes: list[str], annual: float, crf: float,
                caps: dict[str, dict[str, SupplyCap]] | None = None) -> CapacityResult:
    cap: CapacitySettings = scenario.capacity  # type: ignore[assignment]
    names = [p.name for p in cap.periods]
    rows = []
    for (t, o), n in sorted(bought.items(), key=lambda x: (x[0][0], x[0][1].site, x[0][1].system)):
        rows.append((names[t], o.site, o.system, o.accelerator, n, n * o.chips, names[min(t + o.lead, len(names) - 1)]
                     if t + o.lead < len(names) else "after horizon", n * o.price_cny, n * o.price_cny * crf))
    purchases = pd.DataFrame(rows, columns=PURCHASE_COLUMNS)
    periods: dict[str, Result] = {}
    totals: dict[str, float] = defaultdict(float)
    for t, (problem, built) in enumerate(zip(problems, builts)):
        real = dataclasses.replace(problem, inventory=realised_inventory(on_hand, bought, t))
        plan = extract_plan(built, solver) if solver is not None else Plan()
        result = write_back(real, plan, status, {"status": status.value})
        owned = [(tau, o, n) for (tau, o), n in bought.items() if tau <= t]
        capex = sum(n * o.price_cny for tau, o, n in owned if tau == t)
        annualised = sum(n * o.price_cny * crf for _tau, o, n in owned)
        maintenance = sum(n * o.price_cny * cap.maintenance_fraction_per_year for _tau, o, n in owned)
        power = annual * result.objective["power_cost_cny"]
        served_mtokens_year = result.kpis["served_tokens_per_s"] * 3600 * HOURS_PER_YEAR / 1e6
        chips_owned = sum(real.inventory.values())
        result.kpis.update({
            "capex_cny": capex, "annualised_capex_cny_per_year": annualised,
            "maintenance_cny_per_year": maintenance, "power_cost_cny_per_year": power,
            "cny_per_mtokens_all_in": (annualised + maintenance + power) / served_mtokens_year
            if served_mtokens_year else 0.0,
            "chips_owned": chips_owned, "chip_utilisation": result.kpis["chips_used"] / chips_owned if chips_owned else 0.0,
        })
        result.solver = {**info, "period": names[t]}
        periods[names[t]] = result
        totals["annualised_capex_cny_per_year"] += annualised
        totals["maintenance_cny_per_year"] += maintenance
        totals["power_cost_cny_per_year"] += power
        totals["latency_cny_per_year"] += annual * result.objective["latency_cny"]
        totals["unplaced_penalty_cny_per_year"] += annual * result.objective["unplaced_penalty_cny"]
    limits = binding_limits(cap, purchases, options, caps)
    if limits:
        for result in periods.values():
            if len(result.unplaced):
                result.unplaced["reason"] = result.unplaced["reason"] + "; buying more was blocked by " + limits
    objective = {"total_cny_per_year": sum(totals.values()), **totals}
    kpis = {"capex_cny": float(purchases.capex_cny.sum()) if len(purchases) else 0.0,
            "systems_bought": int(purchases.units.sum()) if len(purchases) else 0,
            "chips_bought": int(purchases.chips.sum()) if len(purchases) else 0,
            "periods": len(names), "crf": crf, "annualisation_factor": annual}
    warnings = list(dict.fromkeys(list(notes) + [w for p in problems for w in p.warnings]))
    return CapacityResult(scenario.name, status, objective, kpis, purchases, periods, info, warnings)


def binding_limits(cap: CapacitySettings, purchases: pd.DataFrame, options: list[Option],
                   caps: dict[str, dict[str, SupplyCap]] | None = None) -> str:
    """Which purchase limits the plan reached (budget, supply), for unplaced-work reasons."""
    out = []
    spent = float(purchases.capex_cny.sum()) if len(purchases) else 0.0
    cheapest = min((o.price_cny for o in options), default=None)
    if cap.budget_cny is not None and cheapest is not None and spent + cheapest > cap.budget_cny:
        out.append(f"the capex budget ({spent:,.0f} of {cap.budget_cny:,.0f} CNY spent)")
    caps = caps or {}
    for (period, accel), chips in purchases.groupby(["period", "accelerator"]).chips.sum().items():
        limit = caps.get(period, {}).get(accel)
        if limit is not None and chips >= limit.chips:
            out.append(f"the {accel} supply cap ({limit.chips} chips in {period}, {limit.basis})")
    return " and ".join(out)


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


# ---------------------------------------------------------------------------
def verify_capacity(scenario: Scenario, plan: dict[str, Any], file: str = "<plan>") -> list[str]:
    """Re-check a capacity plan without the solver: purchases against budget, supply, space and
    candidates, then every period's placements against what was in service then."""
    cap = scenario.capacity
    if cap is None:
        return ["the scenario has no capacity section, but the plan is a capacity plan"]
    out: list[str] = []
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    options, _ = candidate_options(scenario, catalog, sites_only(scenario, topology))
    by_key = {(o.site, o.system): o for o in options}
    names = [p.name for p in cap.periods]
    bought: dict[tuple[int, Option], int] = {}
    spend: dict[str, float] = defaultdict(float)
    supply: dict[tuple[str, str], int] = defaultdict(int)
    racks: dict[str, float] = defaultdict(float)
    for row in plan.get("purchases", []):
        o = by_key.get((row["site"], row["system"]))
        if o is None or row["period"] not in names:
            out.append(f"purchase of {row['system']} at {row['site']} in {row['period']} is not a candidate")
            continue
        n = int(row["units"])
        if n > o.max_units:
            out.append(f"{n} × {o.system} at {o.site} in {row['period']} exceeds the {o.max_units} that fit")
        bought[(names.index(row["period"]), o)] = n
        spend[row["period"]] += n * o.price_cny
        supply[(row["period"], o.accelerator)] += n * o.chips
        racks[o.site] += n * o.racks
        if not math.isclose(float(row["capex_cny"]), n * o.price_cny, rel_tol=1e-9):
            out.append(f"purchase {o.system} at {o.site}: capex {row['capex_cny']} is not {n} × {o.price_cny}")
    if cap.budget_cny is not None and sum(spend.values()) > cap.budget_cny + 1e-6:
        out.append(f"capex {sum(spend.values()):,.0f} CNY exceeds the budget {cap.budget_cny:,.0f}")
    for p in cap.periods:
        if p.budget_cny is not None and spend[p.name] > p.budget_cny + 1e-6:
            out.append(f"capex in {p.name} {spend[p.name]:,.0f} CNY exceeds its budget {p.budget_cny:,.0f}")
    caps = supply_caps(cap, catalog, {o.accelerator for o in options})
    for (period, accel), chips in supply.items():
        limit = caps.get(period, {}).get(accel)
        if limit is not None and chips > limit.chips:
            out.append(f"supply: {chips} {accel} bought in {period}, only {limit.chips} available ({limit.basis})")
    for site, used in racks.items():
        if site in cap.space_racks and used > cap.space_racks[site] + 1e-9:
            out.append(f"space: {used:.2f} racks bought for {site}, only {cap.space_racks[site]} free")
    on_hand = {(s, a): n for s, sp in scenario.sites.items() for a, n in sp.inventory.items() if n > 0}
    problems = period_problems(scenario, options, catalog, topology)
    for t, problem in enumerate(problems):
        period_plan = plan.get("periods", {}).get(names[t])
        if period_plan is None:
            out.append(f"period {names[t]} has no plan")
            continue
        real = dataclasses.replace(problem, inventory=realised_inventory(on_hand, bought, t))
        check_plan_shape(real, period_plan, file=f"{file} (period {names[t]})")
        out += [f"{names[t]}: {v}" for v in verify_plan(real, period_plan)]
    return out
