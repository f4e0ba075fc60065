"""Re-check a capacity plan without the solver: purchases, each period's placements, and every cost.

The purchases are checked against the candidates, the unit bounds, the budgets, the supply caps and
the free space; each period's placement plan is verified (``verify_plan``) against what was in
service in that period; and every purchase row, period KPI (capex, annualised capex, maintenance,
power per year, all-in CNY per million tokens, chips owned, utilisation) and annual-cost term is
recomputed from the purchases and the periods' plans, as ``planner.studies.capacity`` writes them.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from typing import Any

from planner.check.common import check_signs, check_solver_block
from planner.check.figures import REL_TOL, missing
from planner.check.plan_schema import check_shape
from planner.check.verify import check_plan_shape, verify_plan
from planner.inputs.scenario import Scenario
from planner.inputs.supply import supply_caps
from planner.problem.build import load_catalog_for, load_topology_for
from planner.problem.purchases import (
    HOURS_PER_YEAR,
    Option,
    candidate_options,
    capital_recovery_factor,
    period_problems,
    realised_inventory,
    sites_only,
)

_PERIOD_KPIS = ("capex_cny", "annualised_capex_cny_per_year", "maintenance_cny_per_year", "power_cost_cny_per_year",
                "cny_per_mtokens_all_in", "chips_owned", "chip_utilisation")


def verify_capacity(scenario: Scenario, plan: dict[str, Any], file: str = "<plan>") -> list[str]:
    """Every violated limit and mis-stated figure of a capacity plan (a ``CapacityResult.to_dict``)."""
    check_shape(plan, file=file)
    cap = scenario.capacity
    if cap is None:
        return ["the scenario has no capacity section, but the plan is a capacity plan"]
    out: list[str] = check_signs({"objective": plan["objective"], "kpis": plan["kpis"]})
    out += check_solver_block(plan, scenario.solver.relative_gap)
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    options, _ = candidate_options(scenario, catalog, sites_only(scenario, topology))
    by_key = {(o.site, o.system): o for o in options}
    names = [p.name for p in cap.periods]
    crf = capital_recovery_factor(cap.interest_rate, cap.amortisation_years)
    annual = HOURS_PER_YEAR / scenario.horizon_h

    # -- purchases: candidates, whole non-negative units, each row's figures ---------------------------
    bought: dict[tuple[int, Option], int] = defaultdict(int)
    spend: dict[str, float] = defaultdict(float)
    supply: dict[tuple[str, str], int] = defaultdict(int)
    racks: dict[str, float] = defaultdict(float)
    seen: set[tuple[str, str, str]] = set()
    for i, row in enumerate(plan.get("purchases", [])):
        where = f"purchases[{i}]"
        o = by_key.get((row["site"], row["system"]))
        if o is None or row["period"] not in names:
            out.append(f"{where}: {row['system']} at {row['site']} in {row['period']} is not a candidate")
            continue
        n = int(row["units"])
        if n < 0:
            out.append(f"{where}: {n} units of {o.system} at {o.site}; units bought are never negative")
            continue
        key = (row["period"], o.site, o.system)
        if key in seen:
            out.append(f"{where}: {o.system} at {o.site} in {row['period']} is stated twice")
        seen.add(key)
        t = names.index(row["period"])
        if n > o.max_units:
            out.append(f"{n} × {o.system} at {o.site} in {row['period']} exceeds the {o.max_units} that fit")
        bought[(t, o)] += n
        spend[row["period"]] += n * o.price_cny
        supply[(row["period"], o.accelerator)] += n * o.chips
        racks[o.site] += n * o.racks
        service = names[t + o.lead] if t + o.lead < len(names) else "after horizon"
        for col, want in (("accelerator", o.accelerator), ("chips", n * o.chips), ("in_service_from", service),
                          ("capex_cny", n * o.price_cny), ("annualised_cny_per_year", n * o.price_cny * crf)):
            if not _same(row[col], want):
                out.append(f"{where} ({o.system} at {o.site}): {col} states {row[col]!r}, the plan gives {want!r}")
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

    # -- each period: its placements against what was in service, its KPIs -------------------------------
    on_hand = {(s, a): n for s, sp in scenario.sites.items() for a, n in sp.inventory.items() if n > 0}
    problems = period_problems(scenario, options, catalog, topology)
    periods = plan.get("periods", {})
    for extra in sorted(set(periods) - set(names)):
        out.append(f"period {extra!r} is not a period of the scenario")
    totals: dict[str, float] = defaultdict(float)
    for t, problem in enumerate(problems):
        name = names[t]
        period_plan = periods.get(name)
        if period_plan is None:
            out.append(f"period {name} has no plan")
            continue
        real = dataclasses.replace(problem, inventory=realised_inventory(on_hand, dict(bought), t))
        check_plan_shape(real, period_plan, file=f"{file} (period {name})")
        out += [f"{name}: {v}" for v in verify_plan(real, period_plan)]
        owned = [(tau, o, n) for (tau, o), n in bought.items() if tau <= t]
        annualised = sum(n * o.price_cny * crf for _tau, o, n in owned)
        maintenance = sum(n * o.price_cny * cap.maintenance_fraction_per_year for _tau, o, n in owned)
        objective, kpis = period_plan["objective"], period_plan["kpis"]
        power = annual * float(objective.get("power_cost_cny", 0.0))
        served_mtokens_year = float(kpis.get("served_tokens_per_s", 0.0)) * 3600 * HOURS_PER_YEAR / 1e6
        chips_owned = sum(real.inventory.values())
        want = {
            "capex_cny": sum(n * o.price_cny for tau, o, n in owned if tau == t),
            "annualised_capex_cny_per_year": annualised, "maintenance_cny_per_year": maintenance,
            "power_cost_cny_per_year": power,
            "cny_per_mtokens_all_in": (annualised + maintenance + power) / served_mtokens_year
            if served_mtokens_year else 0.0,
            "chips_owned": chips_owned,
            "chip_utilisation": float(kpis.get("chips_used", 0)) / chips_owned if chips_owned else 0.0,
        }
        for key in _PERIOD_KPIS:
            if key not in kpis:
                out.append(f"{name}: kpis.{key} is missing")
            elif not _same(kpis[key], want[key]):
                out.append(f"{name}: kpis.{key} states {kpis[key]}, the plan gives {want[key]}")
        totals["annualised_capex_cny_per_year"] += annualised
        totals["maintenance_cny_per_year"] += maintenance
        totals["power_cost_cny_per_year"] += power
        totals["latency_cny_per_year"] += annual * float(objective.get("latency_cny", 0.0))
        totals["unplaced_penalty_cny_per_year"] += annual * float(objective.get("unplaced_penalty_cny", 0.0))
        totals["unfinished_work_cny_per_year"] += annual * float(objective.get("unfinished_work_cny", 0.0))

    # -- the annual cost and the plan's totals --------------------------------------------------------------
    want_objective = {"total_cny_per_year": sum(totals.values()), **totals}
    rows = plan.get("purchases", [])
    valid = [r for r in rows if (r["site"], r["system"]) in by_key and r["period"] in names and int(r["units"]) >= 0]
    want_kpis = {"capex_cny": sum(int(r["units"]) * by_key[(r["site"], r["system"])].price_cny for r in valid),
                 "systems_bought": sum(int(r["units"]) for r in valid),
                 "chips_bought": sum(int(r["units"]) * by_key[(r["site"], r["system"])].chips for r in valid),
                 "periods": len(names), "crf": crf, "annualisation_factor": annual}
    for section, want in (("objective", want_objective), ("kpis", want_kpis)):
        stated = plan.get(section, {})
        for key, value in want.items():
            if key not in stated:
                if missing(key, value):
                    out.append(f"{section}.{key} is missing")
            elif not _same(stated[key], value):
                out.append(f"{section}.{key} states {stated[key]}, the plan gives {value}")
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, str) or isinstance(a, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-6)
