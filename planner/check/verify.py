"""Re-check a plan without the solver: every constraint, and every table and KPI recomputed.

``verify_document(scenario, data, file)`` is the one entry point for every plan kind (spatial,
time of use, capacity; each Pareto point is a spatial plan). It returns the violations (an empty
list means the plan is feasible and every figure in it recomputes) and never raises anything but
``InputError``, for a file that is not a plan of this scenario at all (``planner.check.plan_schema``).

``verify_plan(problem, plan, scenario)`` judges one placement plan, spatial or time of use, through
one path: step by step over its blocks (``planner.check.timeline.verify_timeline``; a spatial plan is
the schedule over one block of the whole horizon, as the write-back writes it):

* every number is finite (the shape check) and has the right sign;
* every job is placed once or listed unplaced, and every city's demand is served or listed
  unplaced with the amount left;
* placements are allowed, whole and within chips and power; routing is within SLO, demand and
  serving capacity;
* every derived table (placements' hours, energy and cost; sites; inventory; cities; for time of
  use the hourly table, placements, routing and timeline) is recomputed and compared;
* the objective terms and KPIs are recomputed and compared, among them ``unfinished_work_cny``: for
  a job longer than the horizon, (1 − run_share) × its unplaced penalty on the accelerator the plan
  gives it (``planner.problem.build``), so a plan that drops or shrinks it is caught;
* the solver block is consistent (status against CP-SAT's status, the gap against the objective
  and bound).
"""

from __future__ import annotations

from typing import Any

from planner.check.common import check_signs, check_solver_block
from planner.check.plan_schema import check_shape
from planner.check.timeline import verify_timeline
from planner.errors import InputError, UnknownNameError
from planner.problem.build import Problem
from planner.problem.timedata import build_time_data, one_block

#: placement kinds that are gang-scheduled jobs (the rest is inference serving)
JOB_KINDS = ("training", "batch")


def check_plan_shape(problem: Problem, plan: Any, file: str = "<plan>") -> None:
    """Raise ``InputError`` if ``plan`` is not a plan of this problem (wrong file, wrong scenario, edited by hand
    into something unreadable); ``verify_plan`` then judges only plans it can read."""
    fix = "verify a plan against the scenario it was solved from (planner solve FILE -o plan.json)"
    check_shape(plan, file=file)
    for table in ("placements", "timeline"):
        for i, row in enumerate(plan.get(table) or []):
            _check_pool_names(problem, row, file, f"{table}[{i}]")
            kind, known = ("service", problem.services) if row["kind"] == "inference" else ("job", problem.jobs)
            if row["workload"] not in known:
                raise UnknownNameError(kind, str(row["workload"]), known, file=file, field=f"{table}[{i}].workload")
    for table, key in (("routing", "service"), ("replicas", "service"), ("serving", "service")):
        for i, row in enumerate(plan.get(table) or []):
            where = f"{table}[{i}]"
            if row[key] not in problem.services:
                raise UnknownNameError("service", str(row[key]), problem.services, file=file, field=f"{where}.{key}")
            _check_pool_names(problem, row, file, where)
            if "city" in row and (row["city"], row["site"]) not in problem.rtt_ms:
                raise InputError(f"city {row['city']!r} is not a demand city of this scenario", file=file,
                                 field=f"{where}.city", fix=fix)
    for table in ("schedule", "transfers"):
        for i, row in enumerate(plan.get(table) or []):
            where = f"{table}[{i}]"
            if row["workload"] not in problem.jobs:
                raise UnknownNameError("training job", str(row["workload"]), problem.jobs, file=file,
                                       field=f"{where}.workload")
            if table == "schedule":
                _check_pool_names(problem, row, file, where)
            elif row["site"] not in problem.sites:
                raise UnknownNameError("site", str(row["site"]), problem.sites, file=file, field=f"{where}.site")
    for i, row in enumerate(plan.get("hourly") or []):
        _check_pool_names(problem, row, file, f"hourly[{i}]")


def _check_pool_names(problem: Problem, row: dict[str, Any], file: str, where: str) -> None:
    for key, known in (("site", problem.sites), ("accelerator", problem.accels)):
        if row.get(key) not in known:
            raise UnknownNameError(key, str(row.get(key)), known, file=file, field=f"{where}.{key}")


def verify_plan(problem: Problem, plan: dict[str, Any], scenario: Any = None) -> list[str]:
    """All violated constraints and mis-stated figures of ``plan`` (a plan JSON dict).

    Every plan is checked step by step over its blocks by ``planner.check.timeline.verify_timeline``: a
    time-of-use plan (``meta.mode == "time"``) over the blocks of its scenario's time data (it needs the
    ``scenario`` for its tariffs and demand profile), a spatial plan over one block of the whole horizon
    (``one_block``), its placements and routing read as that block's schedule (``as_one_block``).
    Raises ``InputError`` only for a plan this problem cannot be read against (``check_plan_shape``).
    """
    check_plan_shape(problem, plan)
    gap_limit = getattr(getattr(scenario, "solver", None), "relative_gap", None)
    common = check_signs(plan) + check_solver_block(plan, gap_limit)
    if (plan.get("meta") or {}).get("mode") == "time":
        if scenario is None:
            return ["this is a time-of-use plan: verify it with its scenario (verify_plan(problem, plan, scenario))"]
        return common + verify_timeline(problem, build_time_data(scenario, problem), plan)
    decisions, unread = as_one_block(problem, plan)
    return common + unread + verify_timeline(problem, one_block(problem), decisions, spatial=True)


def as_one_block(problem: Problem, plan: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A spatial plan's decisions as the schedule over one block of the whole horizon: each job placement
    a run from 0 to the horizon (with the energy and cost it states), each service's replicas and routes
    in that block; and the placements that name no kind of work."""
    horizon = problem.horizon_h
    schedule, replicas, unread = [], [], []
    for row in plan.get("placements") or []:
        if row["kind"] in JOB_KINDS:
            schedule.append({"workload": row["workload"], "site": row["site"], "accelerator": row["accelerator"],
                             "chips": row["chips"], "segment": 1, "start_h": 0.0, "end_h": horizon,
                             "energy_mwh": row["energy_mwh"], "power_cost_cny": row["power_cost_cny"]})
        elif row["kind"] == "inference":
            replicas.append({"start_h": 0.0, "end_h": horizon, "service": row["workload"], "site": row["site"],
                             "accelerator": row["accelerator"], "replicas": row["replicas"]})
        else:
            unread.append(f"placement of {row['workload']} has unknown kind {row['kind']!r}")
    serving = [{"start_h": 0.0, "end_h": horizon, **{k: row[k] for k in ("service", "city", "site", "accelerator",
                                                                         "tokens_per_s", "rtt_ms")}}
               for row in plan.get("routing") or []]
    return {**plan, "schedule": schedule, "replicas": replicas, "serving": serving}, unread
