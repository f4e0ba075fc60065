"""Per-service subproblems: a lower bound for each service's cost, and a warm start.

Dropping everything a service shares with other work (chips and power taken by
other services and by training) leaves a small problem per service that CP-SAT
solves in milliseconds. Its optimum, or its proven bound when time runs out, is
a lower bound on what that service costs in any plan of the whole scenario, so

    cost_v(plan) ≥ LB_v          for every service v                 (service_lower_bound)

is a valid cut for the full model. It lets the full model's bound see what the
LP relaxation cannot: whole replicas round up, city by city. The subproblems'
plans also make a better warm start than the greedy one.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from planner import scaling
from planner.greedy import Plan
from planner.model import build_model, objective_parts
from planner.problem import Problem


@dataclass
class ServiceBounds:
    """Per service: a proven lower bound (CNY), and the subproblem's plan."""

    lower_bound_cny: dict[str, float] = field(default_factory=dict)
    plan: Plan = field(default_factory=Plan)
    wall_s: float = 0.0


def service_subproblems(problem: Problem, time_per_service_s: float, seed: int = 0) -> ServiceBounds:
    """Solve each service alone on the whole inventory; keep its bound and its plan."""
    out = ServiceBounds()
    t0 = time.perf_counter()
    for sid, svc in problem.services.items():
        sub = dataclasses.replace(problem, jobs={}, services={sid: svc}, pre_unplaced={},
                                  pre_unserved={k: v for k, v in problem.pre_unserved.items() if k[0] == sid})
        built = build_model(sub)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_per_service_s
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = seed
        code = solver.solve(built.model)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            out.lower_bound_cny[sid] = built.scale.cny(solver.best_objective_bound)
            for key, var in built.replicas.items():
                if solver.value(var):
                    out.plan.replicas[key] = int(solver.value(var))
            for key, var in built.flow.items():
                if solver.value(var):
                    out.plan.flow[key] = int(solver.value(var))
    out.wall_s = time.perf_counter() - t0
    return out


def add_service_lower_bounds(built, bounds: ServiceBounds) -> int:
    """cost_v ≥ LB_v for each service, in the model's own scaled units; returns how many were added.

    cost_v is the service's share of the objective: its replicas' power, its latency and
    its unserved-demand penalty. Coefficients are rounded to whole units, so each cut is
    loosened by half a unit per unit of every variable's range: it can never cut a plan.
    """
    terms, _constants = objective_parts(built)
    p = built.problem
    scale = built.scale
    owner = {v.index: key[0] for key, v in list(built.replicas.items()) + list(built.flow.items())}
    added = 0
    for sid, lb in bounds.lower_bound_cny.items():
        svc = p.services[sid]
        mine = [(c, v) for name in ("power_cost", "latency", "unplaced_penalty") for c, v in terms[name]
                if owner.get(v.index) == sid]
        constant = sum(p.unserved_cny_per_token_per_s(sid) * scaling.demand_tokens(d)
                       for d in svc.demand_tokens_per_s.values())
        slack = sum(0.5 * built.upper[v.index] for _c, v in mine) + 1
        if not mine:
            continue
        expr = cp_model.LinearExpr.weighted_sum([v for _, v in mine], [scale.units(c) for c, _ in mine])
        rhs = int(scale.units(lb) - scale.units(constant) - slack - abs(lb) * 1e-9 * scale.units_per_cny)
        built.model.add(expr >= rhs).with_name(f"service_lower_bound[{sid}]")
        added += 1
    return added
