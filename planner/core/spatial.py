"""The spatial plan: check → build → solve → write back, as PyPSA's ``optimize()`` does.

``solve_spatial(scenario)`` never mutates the scenario: it resolves it into a
``Problem``, builds the one model core (``planner.core.model``) over one block of
the whole horizon (``one_block``), warm-starts it from the greedy plan, solves it
through the runner, and turns the solver's values into a ``Result`` whose costs are
recomputed from the plan in floating point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ortools.sat.python import cp_model

from planner.core.greedy import Plan, greedy_plan
from planner.core.model import TimeModel, TimePlan, add_hints, build_model
from planner.core.model import extract_plan as extract_time_plan
from planner.core.runner import (
    Progress,
    Settings,
    Values,
    resolve_settings,
    solve_model,
)
from planner.core.writeback import plan_objective
from planner.core.writeback import write_back as write_back_blocks
from planner.inputs.scenario import Scenario
from planner.problem.build import Problem, build_problem
from planner.problem.timedata import TimeData, one_block
from planner.results.result import Result, Status

#: time kept back from the search per model variable for what follows it inside the limit (reading the
#: plan out, the write-back, the greedy's pricing, writing the plan file, the process's exit) and
#: CP-SAT's own late stop: on the 20,000-job week of distinct shapes (208,287 variables, searching to
#: the limit) the search ended 0.2-0.5 s late and the process exited 3.2 s after it at load 3, 4.3 s
#: at load 6 (benchmarks/phases.py); 4e-5 keeps 8.3 s there, so the process ends by 118 s of 120
WRITE_BACK_S_PER_VARIABLE = 4e-5


def solve_spatial(scenario: Scenario | Problem, *, time_limit_s: float | None = None, workers: int | None = None,
                  seed: int | None = None, relative_gap_limit: float | None = None,
                  on_progress: Callable[[Progress], None] | None = None, hint: bool = True,
                  settings: Settings | None = None, start: str = "auto") -> Result:
    """Place the scenario's work with the spatial CP-SAT model (one block over the horizon)."""
    if settings is None:
        settings = resolve_settings(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                                    relative_gap_limit=relative_gap_limit)
    problem = build_problem(scenario) if isinstance(scenario, Scenario) else scenario
    greedy = greedy_plan(problem)
    built = build_spatial_model(problem, greedy)
    if hint:
        add_hints(built, as_time_plan(greedy))
    build_s = time.perf_counter() - settings.started

    n_vars = len(built.model.Proto().variables)
    search = replace(settings, time_limit_s=settings.time_limit_s - WRITE_BACK_S_PER_VARIABLE * n_vars)
    status, outcome, values = solve_model(built.model, built.scale, search, integer=built.integer_variables(),
                                          start=start, on_progress=on_progress)
    solver_info = {
        **outcome,
        "wall_s": round(time.perf_counter() - settings.started, 3),
        "build_s": round(build_s, 3),
        **settings.as_info(),
        "cost_units_per_cny": built.scale.units_per_cny,
        **built.stats(),
    }
    plan = extract_plan(built, values) if status.has_plan else Plan()
    result = write_back(problem, plan, status, solver_info, td=built.td)
    result.solver["greedy_objective"] = plan_objective(problem, built.td, as_time_plan(greedy))["total_cny"]
    return result


def build_spatial_model(problem: Problem, greedy: Plan | None = None, **kwargs) -> TimeModel:
    """The core over one block of the whole horizon (``kwargs`` as ``build_model``'s)."""
    return build_model(problem, one_block(problem), as_time_plan(greedy) if greedy else None, **kwargs)


def as_time_plan(plan: Plan) -> TimePlan:
    """A spatial plan as a one-block schedule: every job from the block's start, replicas and flows in block 0."""
    return TimePlan(segments={jid: (pool, [(0, 1)]) for jid, pool in plan.job_pool.items()},
                    replicas={(*k, 0): n for k, n in plan.replicas.items()},
                    flow={(*k, 0): n for k, n in plan.flow.items()})


def extract_plan(built: TimeModel, solver: cp_model.CpSolver | Values) -> Plan:
    """Read the solver's values into a spatial Plan (the one block's schedule, without its block index)."""
    timed = extract_time_plan(built, solver)
    return Plan(job_pool={jid: pool for jid, (pool, _segs) in timed.segments.items()},
                replicas={k[:3]: n for k, n in timed.replicas.items()},
                flow={k[:3]: n for k, n in timed.flow.items()})


def write_back(problem: Problem, plan: Plan, status: Status, solver_info: dict, td: TimeData | None = None) -> Result:
    """Turn a Plan into a Result: the one write-back (``planner.core.writeback``) over one block (``td``, if
    the caller has it: ``one_block(problem)``)."""
    return write_back_blocks(problem, td or one_block(problem), as_time_plan(plan), status, solver_info, spatial=True)
