"""The cost–latency frontier by the ε-constraint method.

    1. min power + unplaced, then latency      → the cheapest plan; its latency is ε_max
    2. min latency + unplaced, then power      → the lowest-latency plan; its latency is ε_min
    3. for ε in a grid from ε_min to ε_max:   min power + unplaced  s.t.  latency ≤ ε

The unplaced penalty stays in every objective, so no point buys low latency by
serving less.

Latency is the token-weighted RTT term (CNY, with the scenario's weight; weight 1
CNY per million tokens·ms if the scenario sets 0). Every point is a full plan,
re-checked by ``verify_plan``; dominated points are dropped.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pandas as pd
from ortools.sat.python import cp_model

from planner.check.verify import verify_plan
from planner.core import scaling
from planner.core.greedy import Plan, greedy_plan
from planner.core.model import add_hints, add_latency_budget, objective_parts
from planner.core.runner import new_solver, resolve_settings, run_solver
from planner.core.spatial import as_time_plan, build_spatial_model, extract_plan, write_back
from planner.problem.build import Problem
from planner.results.result import Result

POINT_COLUMNS = ["point", "epsilon_latency_cny", "power_cost_cny", "latency_cny", "unplaced_penalty_cny",
                 "unfinished_work_cny", "cost_cny", "mean_rtt_ms", "served_tokens_per_s", "status", "gap", "wall_s"]


@dataclasses.dataclass
class _Frontier:
    """One model per solve, all with the same integer scale so latency limits compare exactly."""

    problem: Problem
    time_limit_s: float
    workers: int
    seed: int
    scale: scaling.CostScale | None = None

    def build(self) -> tuple[Any, cp_model.LinearExpr, cp_model.LinearExpr, cp_model.LinearExpr]:
        built = build_spatial_model(self.problem, objective=False)
        terms, constants = objective_parts(built)
        undone = terms["unplaced_penalty"] + terms["unfinished_work"]  # work left unplaced or unfinished
        cost_terms = terms["power_cost"] + undone
        everything = cost_terms + terms["latency"]
        scale = scaling.CostScale.for_range(
            min((abs(c) for c, _ in everything if abs(c) > 1e-9), default=0.0),
            sum(abs(c) * built.upper[v.index] for c, v in everything) + abs(constants["unplaced_penalty"]))
        self.scale = scale

        def expr(ts: list) -> cp_model.LinearExpr:
            return cp_model.LinearExpr.weighted_sum([v for _, v in ts], [scale.units(c) for c, _ in ts])

        add_hints(built, as_time_plan(greedy_plan(self.problem)))
        unplaced = expr(undone)  # kept in both objectives: serving all still comes first
        return built, expr(terms["power_cost"]) + unplaced, expr(terms["latency"]) + unplaced, expr(terms["latency"])

    def run(self, built: Any, objective: cp_model.LinearExpr) -> tuple[cp_model.CpSolver, Any]:
        built.model.minimize(objective)
        solver = new_solver(self.time_limit_s, self.workers, self.seed)
        status, _info = run_solver(solver, built.model, self.scale, None)
        return solver, status

    def point(self, first: str, latency_limit: int | None = None) -> tuple[Result, int]:
        """Lexicographic: minimise ``first`` ("cost" or "latency"), then the other at that optimum."""
        t0 = time.perf_counter()
        built, cost, latency_first, latency = self.build()
        if latency_limit is not None:
            add_latency_budget(built, latency, latency_limit)
        primary, secondary = (cost, latency_first) if first == "cost" else (latency_first, cost)
        solver, status = self.run(built, primary)
        gap = None
        if status.has_plan:
            best = int(round(solver.objective_value))
            gap = abs(solver.objective_value - solver.best_objective_bound) / max(abs(solver.objective_value), 1)
            built.model.add(primary <= best)
            built.model.clear_hints()
            for i in range(len(built.model.Proto().variables)):
                var = built.model.get_int_var_from_proto_index(i)
                built.model.add_hint(var, solver.value(var))
            second, status2 = self.run(built, secondary)
            if status2.has_plan:
                solver, status = second, status2
        info = {"status": status.value, "wall_s": round(time.perf_counter() - t0, 3), "gap": gap}
        plan = extract_plan(built, solver) if status.has_plan else Plan()
        lat_units = int(solver.value(latency)) if status.has_plan else 0
        return write_back(self.problem, plan, status, info), lat_units


def pareto_frontier(problem: Problem, points: int = 6, *, time_limit_s: float | None = 10.0,
                    workers: int | None = None, seed: int | None = None) -> tuple[pd.DataFrame, list[Result]]:
    """Trace up to ``points`` plans from cheapest to lowest latency; returns the table and the plans.

    ``time_limit_s`` is per solve (two per point); settings mean what they mean everywhere
    (``planner.core.runner.resolve_settings``)."""
    if problem.latency_cny_per_mtokens_ms == 0:
        problem = dataclasses.replace(problem, latency_cny_per_mtokens_ms=1.0)
    settings = resolve_settings(None, time_limit_s=time_limit_s, workers=workers, seed=seed)
    f = _Frontier(problem, settings.time_limit_s, settings.workers, settings.seed)
    points = max(2, points)
    cheapest, hi = f.point("cost")
    fastest, lo = f.point("latency")
    results = [(None, cheapest)]
    for k in range(1, points - 1):
        eps = hi - (hi - lo) * k // (points - 1)
        results.append((eps, f.point("cost", eps)[0]))
    results.append((lo, fastest))
    rows = []
    for i, (eps, r) in enumerate(results):
        o = r.objective
        rows.append((i, None if eps is None else f.scale.cny(eps), o["power_cost_cny"], o["latency_cny"],
                     o["unplaced_penalty_cny"], o["unfinished_work_cny"],
                     o["power_cost_cny"] + o["unplaced_penalty_cny"] + o["unfinished_work_cny"], r.kpis["mean_rtt_ms"],
                     r.kpis["served_tokens_per_s"], r.status.value, r.solver.get("gap"), r.solver.get("wall_s")))
    table = pd.DataFrame(rows, columns=POINT_COLUMNS)
    keep = non_dominated(table, "cost_cny", "latency_cny")
    plans = [r for (_e, r), k in zip(results, keep) if k]
    for r in plans:
        violations = verify_plan(problem, r.to_dict())
        if violations:
            raise RuntimeError(f"a Pareto plan failed its re-check: {violations[:3]}")
    return table[keep].reset_index(drop=True), plans


def non_dominated(table: pd.DataFrame, x: str, y: str, rel_tol: float = 1e-9) -> list[bool]:
    """True for each row that no other row beats on both ``x`` and ``y`` (ties keep the first)."""
    keep = []
    for i, a in table.iterrows():
        dominated = False
        for j, b in table.iterrows():
            if i == j:
                continue
            better_or_equal = b[x] <= a[x] * (1 + rel_tol) + 1e-9 and b[y] <= a[y] * (1 + rel_tol) + 1e-9
            strictly = b[x] < a[x] * (1 - rel_tol) - 1e-9 or b[y] < a[y] * (1 - rel_tol) - 1e-9
            if better_or_equal and (strictly or j < i):
                dominated = True
                break
        keep.append(not dominated)
    return keep
