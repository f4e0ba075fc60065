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

from planner.check.capacity import verify_capacity  # noqa: F401 - it lives in planner.check; kept importable here
from planner.core.greedy import Plan, greedy_plan
from planner.core.model import TimeModel, add_hints, minimize, objective_parts
from planner.core.runner import Progress, Settings, resolve_settings, solve_model
from planner.core.spatial import as_time_plan, build_spatial_model, extract_plan, write_back
from planner.errors import InputError
from planner.inputs.scenario import CapacitySettings, Scenario
from planner.inputs.supply import SupplyCap, supply_caps
from planner.problem.build import Pool, Problem, load_catalog_for, load_topology_for, restrict_inventory
from planner.problem.purchases import (  # noqa: F401 - re-exported: the capacity study's vocabulary
    HOURS_PER_YEAR,
    PURCHASE_COLUMNS,
    Option,
    candidate_options,
    capital_recovery_factor,
    period_problems,
    period_scenarios,
    realised_inventory,
    sites_only,
)
from planner.results.result import Result, Status, dump_json


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
                 f"{self.objective['unplaced_penalty_cny_per_year']:,.0f}"
                 + (f" + unfinished work {self.objective['unfinished_work_cny_per_year']:,.0f}"
                    if self.objective.get("unfinished_work_cny_per_year") else ""),
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
        return dump_json(self.to_dict(), path)


# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
def plan_capacity(scenario: Scenario, *, time_limit_s: float | None = None, workers: int | None = None,
                  seed: int | None = None, on_progress: Callable[[Progress], None] | None = None,
                  restrict: Callable[[Any], bool] | None = None, min_share: dict[str, float] | None = None,
                  relative_gap_limit: float | None = None, settings: Settings | None = None,
                  start: str = "auto") -> CapacityResult:
    """Choose purchases and placements for every period. ``restrict(accelerator) -> bool`` limits
    which accelerators may be bought and used, and ``min_share`` sets the least share of the chips
    bought per accelerator (both for ``planner compare``)."""
    if settings is None:
        settings = resolve_settings(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                                    relative_gap_limit=relative_gap_limit)
    if scenario.capacity is None:
        raise InputError("the scenario has no capacity section", file=scenario.source_path, field="capacity",
                         fix="add capacity: {candidates: [{system: hgx-h20}]} (see workloads/examples)")
    t0 = settings.started
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
    builts: list[TimeModel] = []
    for t, problem in enumerate(problems):
        added: dict[Pool, list] = defaultdict(list)
        for (tau, o), var in buy.items():
            if tau + o.lead <= t:
                added[(o.site, o.accelerator)].append((o.chips, var))
        built = build_spatial_model(problem, model=model, prefix=f"{names[t]}:", base_inventory=on_hand,
                                    added_chips=added, objective=False)
        upper.update(built.upper)
        builts.append(built)
    add_capex_budget(model, buy, cap, names)
    caps = supply_caps(cap, catalog, {o.accelerator for o in options})
    add_supply_cap(model, buy, caps, names)
    add_space_envelope(model, buy, cap)
    add_purchase_share(model, buy, min_share or {})

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
        add_hints(built, as_time_plan(greedy_plan(dataclasses.replace(built.problem, inventory=dict(on_hand)))))
    for var in buy.values():
        model.add_hint(var, 0)
    build_s = time.perf_counter() - t0

    integer = {v.index for v in buy.values()}.union(*(b.integer_variables() for b in builts))
    status, outcome, solver = solve_model(model, scale, settings, integer=integer, start=start,
                                          on_progress=on_progress)
    info: dict[str, Any] = {**outcome, "wall_s": round(time.perf_counter() - t0, 3), "build_s": round(build_s, 3),
                            **settings.as_info(),
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


def add_purchase_share(model: cp_model.CpModel, buy: dict, min_share: dict[str, float]) -> None:
    """Σ chips bought of accelerator a ≥ share_a · Σ chips bought, over all periods (in hundredths, integer)."""
    total = [o.chips * v for (_t, o), v in buy.items()]
    for accel, share in min_share.items():
        mine = [o.chips * v for (_t, o), v in buy.items() if o.accelerator == accel]
        model.add(100 * sum(mine) >= int(round(100 * share)) * sum(total)).with_name(f"min_share[{accel}]")


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
def _write_back(scenario: Scenario, problems: list[Problem], builts: list[TimeModel], solver: Any,
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
        totals["unfinished_work_cny_per_year"] += annual * result.objective["unfinished_work_cny"]
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
