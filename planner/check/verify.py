"""Re-check a plan without the solver: every constraint, and every table and KPI recomputed.

``verify_document(scenario, data, file)`` is the one entry point for every plan kind (spatial,
time of use, capacity; each Pareto point is a spatial plan). It returns the violations (an empty
list means the plan is feasible and every figure in it recomputes) and never raises anything but
``InputError``, for a file that is not a plan of this scenario at all (``planner.check.plan_schema``).

``verify_plan(problem, plan, scenario)`` judges one placement plan (spatial or time of use):

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

import math
from collections import defaultdict
from typing import Any

import pandas as pd

from planner.check.common import (
    check_context,
    check_run_share,
    check_signs,
    check_solver_block,
    check_unplaced,
)
from planner.check.evaluate import evaluate
from planner.check.figures import REL_TOL, compare_figures
from planner.check.plan_schema import check_shape
from planner.check.timeline import verify_timeline
from planner.errors import InputError, UnknownNameError
from planner.problem.build import Problem
from planner.problem.timedata import build_time_data
from planner.results.columns import PLACEMENT_COLUMNS, ROUTING_COLUMNS

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

    A time-of-use plan (``meta.mode == "time"``) is checked step by step by
    ``planner.check.timeline.verify_timeline``, which needs the ``scenario`` for its tariffs and demand profile.
    Raises ``InputError`` only for a plan this problem cannot be read against (``check_plan_shape``).
    """
    check_plan_shape(problem, plan)
    gap_limit = getattr(getattr(scenario, "solver", None), "relative_gap", None)
    common = check_signs(plan) + check_solver_block(plan, gap_limit)
    if (plan.get("meta") or {}).get("mode") == "time":
        if scenario is None:
            return ["this is a time-of-use plan: verify it with its scenario (verify_plan(problem, plan, scenario))"]
        return common + verify_timeline(problem, build_time_data(scenario, problem), plan)
    return common + _verify_spatial(problem, plan)


def _verify_spatial(problem: Problem, plan: dict[str, Any]) -> list[str]:
    out: list[str] = []
    placements = pd.DataFrame(plan.get("placements", []), columns=PLACEMENT_COLUMNS)
    routing = pd.DataFrame(plan.get("routing", []), columns=ROUTING_COLUMNS)
    unplaced = plan.get("unplaced", [])

    # -- every workload placed or listed unplaced, once ------------------------------------
    seen: dict[str, int] = defaultdict(int)
    for row in placements.itertuples(index=False):
        if row.kind in JOB_KINDS:
            seen[row.workload] += 1
    unplaced_jobs = {u["workload"] for u in unplaced if u.get("kind") in JOB_KINDS}
    for jid in problem.jobs:
        n = seen.get(jid, 0)
        if n > 1:
            out.append(f"job {jid} is placed {n} times; a gang runs on exactly one pool")
        if n == 0 and jid not in unplaced_jobs:
            out.append(f"job {jid} is neither placed nor listed as unplaced")
        if n and jid in unplaced_jobs:
            out.append(f"job {jid} is both placed and listed as unplaced")
    for u in unplaced:
        if not str(u.get("reason") or "").strip():
            out.append(f"unplaced {u.get('workload')} has no reason")

    # -- placements are allowed and whole ------------------------------------------------------
    chips_used: dict[tuple[str, str], int] = defaultdict(int)
    meter_kw: dict[str, float] = defaultdict(float)
    priced = []  # rows whose figures can be recomputed (known work on a pool it can run on)
    for i, row in enumerate(placements.itertuples(index=False)):
        pool = (row.site, row.accelerator)
        if int(row.chips) < 0 or int(row.replicas) < 0:
            continue  # reported by check_signs; a negative row would hide load
        if row.kind in JOB_KINDS:
            job = problem.jobs.get(row.workload)
            if job is None:
                out.append(f"placement names unknown job {row.workload}")
                continue
            if job.kind != row.kind:
                out.append(f"placement of {row.workload} says kind {row.kind}; it is a {job.kind} job")
            if pool not in job.pools:
                out.append(f"job {row.workload} is placed on {row.accelerator} at {row.site}, "
                           "which it does not allow or which cannot hold it")
            if int(row.chips) != job.chips:
                out.append(f"job {row.workload} has {row.chips} chips; its gang is {job.chips}")
            hours = job.hours.get(row.accelerator)
            if hours is not None:
                out += check_run_share(row, job.run_share(row.accelerator))
            if int(row.replicas) != 0:
                out.append(f"job {row.workload} states {row.replicas} replicas; jobs have none")
        elif row.kind == "inference":
            svc = problem.services.get(row.workload)
            if svc is None:
                out.append(f"placement names unknown service {row.workload}")
                continue
            if pool not in svc.pools:
                out.append(f"service {row.workload} has replicas on {row.accelerator} at {row.site}, "
                           "which it does not allow")
                continue
            if int(row.chips) != int(row.replicas) * svc.chips_per_replica[row.accelerator]:
                out.append(f"service {row.workload} at {row.site}: {row.chips} chips is not "
                           f"{row.replicas} replicas × {svc.chips_per_replica[row.accelerator]}")
            hours = problem.horizon_h
        else:
            out.append(f"placement of {row.workload} has unknown kind {row.kind!r}")
            continue
        if pool not in problem.inventory:
            out.append(f"{row.workload} uses {row.accelerator} at {row.site}, which has no inventory")
            continue
        chips_used[pool] += int(row.chips)
        meter_kw[row.site] += int(row.chips) * problem.meter_kw_per_chip(*pool)
        if hours is None:
            continue
        priced.append(i)
        kwh = problem.energy_kwh(row.site, row.accelerator, int(row.chips), hours)
        for col, want in (("hours", hours), ("energy_mwh", kwh / 1000),
                          ("power_cost_cny", kwh * problem.price_cny_per_kwh(*pool))):
            got = float(getattr(row, col))
            if not math.isclose(got, want, rel_tol=REL_TOL, abs_tol=1e-6):
                out.append(f"placement {row.workload} at {row.site} states {col} {got}, the plan gives {want}")

    for pool, used in sorted(chips_used.items()):
        if used > problem.inventory[pool]:
            out.append(f"chip capacity: {used} {pool[1]} used at {pool[0]}, only {problem.inventory[pool]} there")
    for site, kw in sorted(meter_kw.items()):
        cap = problem.sites[site].power_cap_kw
        if kw > cap * (1 + 1e-9):
            out.append(f"power cap: {site} draws {kw / 1000:.3f} MW at the meter, cap {cap / 1000:.3f} MW")

    # -- routing: within SLO, within demand, with capacity behind it ------------------------------
    served: dict[tuple[str, str], float] = defaultdict(float)
    load: dict[tuple[str, str, str], float] = defaultdict(float)
    routed = []
    for i, row in enumerate(routing.itertuples(index=False)):
        svc = problem.services.get(row.service)
        if svc is None:
            out.append(f"routing names unknown service {row.service}")
            continue
        if row.city not in svc.demand_tokens_per_s:
            out.append(f"service {row.service} routes demand from {row.city}, which has none")
            continue
        if float(row.tokens_per_s) <= 0:
            continue  # a negative row is reported by check_signs and, as in evaluate, serves nothing
        if row.accelerator not in svc.tokens_per_s_per_chip:
            out.append(f"routing sends {row.service} to {row.accelerator} at {row.site}, which it does not allow")
        rtt = problem.rtt_ms.get((row.city, row.site))
        if rtt is None or rtt > svc.rtt_slo_ms + 1e-9:
            out.append(f"latency SLO: {row.service} serves {row.city} from {row.site} at {rtt} ms "
                       f"> {svc.rtt_slo_ms:g} ms")
        elif not math.isclose(float(row.rtt_ms), rtt, rel_tol=REL_TOL, abs_tol=1e-6):
            out.append(f"routing {row.service} {row.city}→{row.site} states rtt_ms {row.rtt_ms}, topology gives {rtt}")
        routed.append(i)
        served[(row.service, row.city)] += float(row.tokens_per_s)
        load[(row.service, row.site, row.accelerator)] += float(row.tokens_per_s)
    for (sid, city), tps in sorted(served.items()):
        demand = problem.services[sid].demand_tokens_per_s[city]
        if tps > demand + 1e-6:
            out.append(f"demand: {sid} serves {tps:,.1f} tokens/s to {city}, demand is {demand:,.1f}")
    replicas: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in placements.itertuples(index=False):
        if r.kind == "inference" and int(r.replicas) > 0:
            replicas[(r.workload, r.site, r.accelerator)] += int(r.replicas)
    for (sid, site, accel), tps in sorted(load.items()):
        svc = problem.services[sid]
        cap = replicas.get((sid, site, accel), 0) * svc.replica_tokens_per_s(accel) if accel in svc.tokens_per_s_per_chip else 0
        if tps > cap + 1e-6:
            out.append(f"serving capacity: {sid} routes {tps:,.1f} tokens/s to {accel} at {site}, "
                       f"its replicas serve {cap:,.1f}")

    # -- unserved demand accounted for; derived tables and figures recomputed -----------------------
    short = {(svc.id, city): max(0.0, d - served.get((svc.id, city), 0.0))
             for svc in problem.services.values() for city, d in svc.demand_tokens_per_s.items()}
    out += check_unplaced(problem, plan, short)
    valid = placements.iloc[priced]
    out += check_context(problem, plan, valid)
    objective, kpis = evaluate(problem, valid, routing.iloc[routed])
    out += compare_figures(plan, objective, kpis)
    return out
