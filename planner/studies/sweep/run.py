"""One run of a sweep: solve a resolved scenario, verify the plan, return plain data.

``execute_run`` is what a Ray worker (or a serial loop) calls. It never raises:
any error becomes a run with status ``failed`` and the error as its reason, so
nothing in a sweep is lost. The plan's tables come back as records, ready for
the run store.
"""

from __future__ import annotations

import json
import math
import os
import time
import traceback
from importlib import metadata
from typing import Any

from planner.check.verify import verify_plan
from planner.core.solve import solve
from planner.core.timemodel import solve_time
from planner.problem.build import build_problem, load_catalog_for, load_topology_for, restrict_inventory
from planner.check.capacity import verify_capacity
from planner.studies.capacity import plan_capacity
from planner.studies.compare import _share_constraint, parse_mix
from planner.studies.sweep.grid import FAILED, RunSpec, Settings, objective_key, run_key, scenario_digest
from planner.studies.sweep.store import RunStore

__all__ = ["FAILED", "execute_run", "new_record", "objective_key", "record_solve"]
#: how many violations a run keeps (the count is kept in full)
MAX_VIOLATIONS = 20


def planner_version() -> str:
    try:
        return metadata.version("planner")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


def warm_up(hold_s: float = 0.3) -> int:
    """Nothing but this module's imports (the solver stack), then a short hold so that
    concurrent warm-ups land on different worker processes; returns the process id."""
    time.sleep(hold_s)
    return os.getpid()


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Solve and verify one run; a dict with status, reason, objective, KPIs, timing and the plan's tables."""
    t0 = time.perf_counter()
    out = new_record(spec.run_id)
    try:
        if spec.settings.mode == "capacity":
            _capacity(spec, out)
        else:
            _place(spec, out)
    except Exception as exc:  # a run must come back, whatever went wrong
        out["status"] = FAILED
        out["reason"] = _one_line(exc)
        out["traceback"] = traceback.format_exc(limit=8)
    out["wall_s"] = round(time.perf_counter() - t0, 3)
    return out


def _one_line(exc: BaseException) -> str:
    text = exc.format() if hasattr(exc, "format") and callable(exc.format) else str(exc)
    text = " ".join(str(text).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _mix(spec: RunSpec) -> Any:
    return parse_mix(spec.settings.mix) if spec.settings.mix else None


def _place(spec: RunSpec, out: dict[str, Any]) -> None:
    scenario, s = spec.scenario, spec.settings
    mix = _mix(spec)
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    if mix is not None:
        if mix.min_share:
            raise ValueError(f"mix '{mix.name}' sets a purchase share; use it with --mode capacity")

        scenario = restrict_inventory(scenario, catalog, mix.allowed)
    problem = build_problem(scenario, catalog, topology, strict=mix is None)
    settings = dict(time_limit_s=s.time_limit_s if s.time_limit_s is not None else scenario.solver.time_limit_s,
                    workers=s.workers, seed=s.seed if s.seed is not None else scenario.solver.seed,
                    relative_gap_limit=scenario.solver.relative_gap)
    t = time.perf_counter()
    if (s.model or scenario.time.mode) == "time":
        result = solve_time(scenario, problem=problem, **settings)
    else:
        result = solve(problem, **settings)
    out["solve_s"] = round(time.perf_counter() - t, 3)
    place_outcome(out, result, problem, scenario)


def place_outcome(out: dict[str, Any], result: Any, problem: Any, scenario: Any) -> None:
    """Fill a run's record from a placement ``Result``, verifying the plan against ``problem``."""
    plan = result.to_dict()
    _fill(out, result.status.value, result.objective, result.kpis, result.solver, result.meta)
    if result.is_feasible():
        _verdict(out, verify_plan(problem, plan, scenario))
        out["placements"] = _rows(plan["placements"], None)
        out["routing"] = _rows(plan["routing"], None)
        out["unplaced"] = _rows(plan["unplaced"], None)
    else:
        out["reason"] = f"no plan: solver status {result.solver.get('cp_sat_status')}"


def _capacity(spec: RunSpec, out: dict[str, Any]) -> None:
    scenario, s = spec.scenario, spec.settings
    mix = _mix(spec)
    t = time.perf_counter()
    result = plan_capacity(scenario, time_limit_s=s.time_limit_s, workers=s.workers, seed=s.seed,
                           restrict=mix.allowed if mix else None,
                           extra_constraints=_share_constraint(mix) if mix else None)
    out["solve_s"] = round(time.perf_counter() - t, 3)
    checked = restrict_inventory(scenario, load_catalog_for(scenario), mix.allowed) if mix else scenario
    capacity_outcome(out, result, checked)


def capacity_outcome(out: dict[str, Any], result: Any, scenario: Any) -> None:
    """Fill a run's record from a ``CapacityResult``, verifying purchases and every period."""
    plan = json.loads(result.to_json())
    last = list(result.periods.values())[-1] if result.periods else None
    _fill(out, result.status.value, result.objective, result.kpis, result.solver, last.meta if last else {})
    if result.is_feasible():
        _verdict(out, verify_capacity(scenario, plan))
        out["purchases"] = _rows(plan["purchases"], None)
        for name, period in plan["periods"].items():
            out["placements"] += _rows(period["placements"], name)
            out["routing"] += _rows(period["routing"], name)
            out["unplaced"] += _rows(period["unplaced"], name)
    else:
        out["reason"] = f"no plan: solver status {result.solver.get('cp_sat_status')}"


def _fill(out: dict[str, Any], status: str, objective: dict, kpis: dict, solver: dict, meta: dict) -> None:
    out["status"] = status
    out["objective"] = {k: _num(v) for k, v in objective.items()}
    out["kpis"] = {k: _num(v) for k, v in kpis.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out["gap"] = _num(solver.get("gap"))
    out["best_bound"] = _num(solver.get("best_bound"))
    out["catalog_version"] = meta.get("catalog_version")
    out["topology_version"] = meta.get("topology_version")


def _verdict(out: dict[str, Any], violations: list[str]) -> None:
    out["verified"] = not violations
    out["violation_count"] = len(violations)
    out["violations"] = violations[:MAX_VIOLATIONS]
    if violations:
        out["reason"] = f"verify found {len(violations)} violation(s): {violations[0]}"


def _rows(records: list[dict], period: str | None) -> list[dict]:
    return [{"period": period, **r} for r in records]


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def new_record(run_id: str) -> dict[str, Any]:
    """An empty run record (status failed until filled)."""
    return {"run_id": run_id, "status": FAILED, "reason": "", "objective": {}, "kpis": {}, "gap": None,
            "best_bound": None, "solve_s": None, "wall_s": None, "verified": False, "violations": [],
            "violation_count": 0, "catalog_version": None, "topology_version": None,
            "planner_version": planner_version(), "placements": [], "routing": [], "purchases": [], "unplaced": []}


def record_solve(store_path: str, file: str, sets: dict[str, Any], scenario: Any, result: Any, *, mode: str,
                 model: str | None, time_limit_s: float | None, workers: int | None, seed: int | None,
                 problem: Any = None) -> str:
    """Record one ``planner solve`` in the run store (verified like a sweep's runs); returns the run id."""
    settings = Settings(mode=mode, model=model, time_limit_s=time_limit_s, workers=workers or scenario.solver.workers,
                        seed=seed)
    spec = RunSpec(run_key(scenario, settings), dict(sets), scenario, settings, scenario_digest(scenario), "single")
    out = new_record(spec.run_id)
    if mode == "capacity":
        capacity_outcome(out, result, scenario)
    else:
        if problem is None:
            problem = build_problem(scenario)
        place_outcome(out, result, problem, scenario)
    out["solve_s"] = out["wall_s"] = result.solver.get("wall_s")
    with RunStore(store_path) as store:
        store.record(spec, out, file)
    return spec.run_id
