"""Checks every plan kind shares: signs, the solver block, unplaced work and demand, the context tables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from planner.check.figures import REL_TOL
from planner.check.tables import compare_tables, context_tables
from planner.problem.build import Problem
from planner.results.columns import CITY_COLUMNS, INVENTORY_COLUMNS, SITE_COLUMNS

# the figures that are never negative, per table
_NON_NEGATIVE = {
    "placements": ("chips", "replicas", "hours", "energy_mwh", "power_cost_cny"),
    "routing": ("tokens_per_s", "rtt_ms"),
    "unplaced": ("tokens_per_s",),
    "schedule": ("chips", "start_h", "end_h", "energy_mwh", "power_cost_cny"),
    "replicas": ("start_h", "end_h", "replicas"),
    "serving": ("start_h", "end_h", "tokens_per_s", "rtt_ms"),
    "transfers": ("dataset_gb", "transfer_h", "cost_cny"),
    "hourly": ("hour", "price_cny_per_kwh", "training_chips", "inference_chips", "idle_chips", "meter_kw",
               "energy_kwh", "power_cost_cny"),
    "timeline": ("chips", "start_h", "end_h"),
    "sites": ("pue", "price_cny_per_kwh", "subsidy_fraction", "power_cap_mw", "power_used_mw"),
    "inventory": ("chips", "chips_used", "chip_power_kw"),
}

#: the plan may claim less than CP-SAT proved (a decomposed solve is optimal only on its restricted model)
_CP_SAT_STATUS = {"optimal": {"OPTIMAL"}, "feasible": {"FEASIBLE", "OPTIMAL"}, "infeasible": {"INFEASIBLE"},
                  "model_invalid": {"MODEL_INVALID"}, "no_solution": {"UNKNOWN"}}


def check_signs(plan: dict[str, Any]) -> list[str]:
    """Every figure that cannot be negative is not; every objective term and KPI is ≥ 0."""
    out = []
    for table, columns in _NON_NEGATIVE.items():
        for i, row in enumerate(plan.get(table) or []):
            for c in columns:
                v = row.get(c)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                    out.append(f"{table}[{i}].{c} is negative ({v})")
    for section in ("objective", "kpis"):
        for key, v in (plan.get(section) or {}).items():
            if isinstance(v, (int, float)) and v < 0:
                out.append(f"{section}.{key} is negative ({v})")
    return out


def check_solver_block(plan: dict[str, Any], relative_gap_limit: float | None = None) -> list[str]:
    """The status, CP-SAT's status, the objective, the bound and the gap agree with one another."""
    out: list[str] = []
    status = plan.get("status")
    s = plan.get("solver") or {}
    if s.get("status") is not None and s["status"] != status:
        out.append(f"status is {status!r} but the solver block says {s['status']!r}")
    cp = s.get("cp_sat_status")
    # a plan the runner's start found (``plan_source``) may stand where CP-SAT found none in time
    from_start = status == "feasible" and bool(s.get("plan_source"))
    if cp is not None and status in _CP_SAT_STATUS and cp not in _CP_SAT_STATUS[status] and not from_start:
        out.append(f"status {status!r} does not follow from CP-SAT's {cp}")
    obj, bound, gap = s.get("objective"), s.get("best_bound"), s.get("gap")
    has_plan = status in ("optimal", "feasible")
    if has_plan and obj is not None and bound is not None:
        if bound > obj + 1e-6 * max(1.0, abs(obj)):
            out.append(f"the best bound {bound} is above the objective {obj} of a minimisation")
        true_gap = abs(obj - bound) / max(abs(obj), 1.0)
        if gap is None or not math.isclose(gap, true_gap, rel_tol=1e-6, abs_tol=1e-9):
            out.append(f"solver gap states {gap}, objective {obj} and bound {bound} give {true_gap}")
        # the scenario's limit, else the one the solve was given (recorded in the solver block)
        limit = relative_gap_limit or s.get("relative_gap_limit") or 0.0
        if status == "optimal" and true_gap > limit + 1e-4:
            out.append(f"status optimal with a {100 * true_gap:.4f} % gap (the gap limit is {100 * limit:g} %)")
    if not has_plan:
        for table in ("placements", "routing", "schedule", "replicas", "serving"):
            if plan.get(table):
                out.append(f"status {status!r} means no plan, but {table} has {len(plan[table])} row(s)")
        if gap is not None:
            out.append(f"status {status!r} has no plan, so no gap, but the solver block states {gap}")
    return out


def check_unplaced(problem: Problem, plan: dict[str, Any], short: dict[tuple[str, str], float],
                   threshold: float = 0.5) -> list[str]:
    """Every unplaced row names known work and gives a reason; every city's unserved demand is listed with
    its amount.

    ``short`` is the tokens/s left unserved per (service, city) as the plan's routing gives it (for a
    time-of-use plan, the horizon's mean)."""
    out: list[str] = []
    listed: dict[tuple[str, str], float] = {}
    for i, u in enumerate(plan.get("unplaced", [])):
        where = f"unplaced[{i}]"
        if not str(u.get("reason") or "").strip():
            out.append(f"unplaced {u.get('workload')} has no reason")
        if u["kind"] == "inference":
            svc = problem.services.get(u["workload"])
            if svc is None:
                out.append(f"{where} names unknown service {u['workload']}")
            elif u.get("city") not in svc.demand_tokens_per_s:
                out.append(f"{where}: service {u['workload']} has no demand in {u.get('city')!r}")
            elif (u["workload"], u["city"]) in listed:
                out.append(f"{where}: {u['workload']} in {u['city']} is listed twice")
            else:
                listed[(u["workload"], u["city"])] = float(u.get("tokens_per_s") or 0.0)
        else:
            job = problem.jobs.get(u["workload"])
            if job is None:
                out.append(f"{where} names unknown job {u['workload']}")
            elif job.kind != u["kind"]:
                out.append(f"{where}: {u['workload']} is a {job.kind} job, not {u['kind']}")
    for svc in problem.services.values():
        for city, demand in sorted(svc.demand_tokens_per_s.items()):
            left = short.get((svc.id, city), 0.0)
            stated = listed.get((svc.id, city))
            if left > threshold and stated is None:
                out.append(f"demand lost: {svc.id} leaves {left:,.1f} tokens/s of {city} unserved but lists none "
                           "of it as unplaced")
            elif left <= threshold and stated is not None:
                out.append(f"unplaced lists {stated:,.1f} tokens/s of {svc.id} in {city}, which is served")
            elif stated is not None and not math.isclose(stated, left, rel_tol=REL_TOL, abs_tol=1e-6):
                out.append(f"unplaced states {stated:,.3f} tokens/s of {svc.id} in {city} unserved, the plan "
                           f"gives {left:,.3f}")
    return out


def check_context(problem: Problem, plan: dict[str, Any], placements: pd.DataFrame,
                  hourly: pd.DataFrame | None = None) -> list[str]:
    """The sites, inventory and cities tables, recomputed."""
    sites, inventory, cities = context_tables(problem, placements, hourly)
    return (compare_tables("sites", plan.get("sites", []), sites, ["site"], SITE_COLUMNS[1:])
            + compare_tables("inventory", plan.get("inventory", []), inventory, ["site", "accelerator"],
                             INVENTORY_COLUMNS[2:])
            + compare_tables("cities", plan.get("cities", []), cities, ["city"], CITY_COLUMNS[1:]))


def check_solver_objective(plan: dict[str, Any], total_key: str = "total_cny") -> list[str]:
    """The plan's recomputed total is the objective the solver reports for it, within CP-SAT's integer scaling.

    CP-SAT optimises costs rounded to ``cost_units_per_cny``; the plan's figures are recomputed in floating
    point, so the two differ by rounding only (here: 10^-5 of the total plus 100 cost units)."""
    s = plan.get("solver") or {}
    stated, total = s.get("objective"), (plan.get("objective") or {}).get(total_key)
    if plan.get("status") not in ("optimal", "feasible") or stated is None or total is None:
        return []
    units = s.get("cost_units_per_cny") or 1.0
    tol = 1e-5 * max(1.0, abs(total)) + 100.0 / units
    if abs(stated - total) > tol:
        return [f"objective.{total_key} is {total:,.6f} CNY but the solver reports {stated:,.6f} CNY for this plan"]
    return []


def check_run_share(row: Any, want: float) -> list[str]:
    """A job's stated run_share is the share of its run inside the horizon; a plan of a job that does not
    finish must state it (older plans, written before the column, may leave it out for jobs that finish)."""
    got = getattr(row, "run_share", None)
    if got is None or (isinstance(got, float) and math.isnan(got)):
        return [] if want >= 1.0 else [f"placement {row.workload} does not state run_share; it runs "
                                       f"{100 * want:.0f} % of its run inside the horizon ({want})"]
    if not math.isclose(float(got), want, rel_tol=REL_TOL, abs_tol=1e-9):
        return [f"placement {row.workload} at {row.site} states run_share {got}, the plan gives {want}"]
    return []
