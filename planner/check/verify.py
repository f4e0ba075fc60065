"""Re-check a plan without the solver: every constraint, and every KPI recomputed.

``verify_plan(problem, plan)`` returns a list of violations; an empty list
means the plan is feasible and its reported figures are right.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pandas as pd

from planner.check.evaluate import evaluate
from planner.check.figures import REL_TOL, compare_figures
from planner.check.timeline import verify_timeline
from planner.errors import InputError, UnknownNameError
from planner.problem.build import Problem
from planner.problem.timedata import build_time_data
from planner.results.columns import PLACEMENT_COLUMNS, ROUTING_COLUMNS

#: relative tolerance on recomputed figures (JSON round-trips floats exactly; this absorbs summation order)
#: placement kinds that are gang-scheduled jobs (the rest is inference serving)
JOB_KINDS = ("training", "batch")


def check_plan_shape(problem: Problem, plan: Any, file: str = "<plan>") -> None:
    """Raise ``InputError`` if ``plan`` is not a plan of this problem (wrong file, wrong scenario, edited by hand
    into something unreadable); ``verify_plan`` then judges only plans it can read."""
    fix = "verify a plan against the scenario it was solved from (planner solve FILE -o plan.json)"
    if not isinstance(plan, dict) or not isinstance(plan.get("placements", []), list) \
            or not isinstance(plan.get("routing", []), list) or not isinstance(plan.get("unplaced", []), list):
        raise InputError("not a plan: expected a JSON object with placements, routing and unplaced lists",
                         file=file, fix=fix)
    for i, row in enumerate(plan.get("placements", [])):
        where = f"placements[{i}]"
        if not isinstance(row, dict):
            raise InputError("not a placement row", file=file, field=where, fix=fix)
        if row.get("kind") not in (*JOB_KINDS, "inference"):
            raise InputError(f"unknown kind {row.get('kind')!r}", file=file, field=f"{where}.kind", fix=fix)
        _check_pool_names(problem, row, file, where)
        for key in ("chips", "replicas"):
            if not _is_count(row.get(key, 0)):
                raise InputError(f"{key} is {row.get(key)!r}, not a whole number", file=file,
                                 field=f"{where}.{key}", fix=fix)
    for i, row in enumerate(plan.get("routing", [])):
        where = f"routing[{i}]"
        if not isinstance(row, dict):
            raise InputError("not a routing row", file=file, field=where, fix=fix)
        if row.get("service") not in problem.services:
            raise UnknownNameError("service", str(row.get("service")), problem.services, file=file,
                                   field=f"{where}.service")
        _check_pool_names(problem, row, file, where)
        if (row.get("city"), row.get("site")) not in problem.rtt_ms:
            raise InputError(f"city {row.get('city')!r} is not a demand city of this scenario", file=file,
                             field=f"{where}.city", fix=fix)
        if not isinstance(row.get("tokens_per_s"), (int, float)) or isinstance(row.get("tokens_per_s"), bool):
            raise InputError(f"tokens_per_s is {row.get('tokens_per_s')!r}, not a number", file=file,
                             field=f"{where}.tokens_per_s", fix=fix)


def _check_pool_names(problem: Problem, row: dict[str, Any], file: str, where: str) -> None:
    for key, known in (("site", problem.sites), ("accelerator", problem.accels)):
        if row.get(key) not in known:
            raise UnknownNameError(key, str(row.get(key)), known, file=file, field=f"{where}.{key}")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0 or \
        isinstance(value, float) and value.is_integer() and value >= 0


def verify_plan(problem: Problem, plan: dict[str, Any], scenario: Any = None) -> list[str]:
    """All violated constraints and mis-stated figures of ``plan`` (a plan JSON dict).

    A time-of-use plan (``meta.mode == "time"``) is checked step by step by
    ``planner.problem.timedata.verify_timeline``, which needs the ``scenario`` for its tariffs and demand profile.
    """
    if plan.get("meta", {}).get("mode") == "time":
        if scenario is None:
            return ["this is a time-of-use plan: verify it with its scenario (verify_plan(problem, plan, scenario))"]
        return verify_timeline(problem, build_time_data(scenario, problem), plan)
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
    for row in placements.itertuples(index=False):
        pool = (row.site, row.accelerator)
        if row.kind in JOB_KINDS:
            job = problem.jobs.get(row.workload)
            if job is None:
                out.append(f"placement names unknown job {row.workload}")
                continue
            if pool not in job.pools:
                out.append(f"job {row.workload} is placed on {row.accelerator} at {row.site}, "
                           "which it does not allow or which cannot hold it")
            if int(row.chips) != job.chips:
                out.append(f"job {row.workload} has {row.chips} chips; its gang is {job.chips}")
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
        else:
            out.append(f"placement of {row.workload} has unknown kind {row.kind!r}")
            continue
        if pool not in problem.inventory:
            out.append(f"{row.workload} uses {row.accelerator} at {row.site}, which has no inventory")
            continue
        chips_used[pool] += int(row.chips)
        meter_kw[row.site] += int(row.chips) * problem.meter_kw_per_chip(*pool)

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
    for row in routing.itertuples(index=False):
        svc = problem.services.get(row.service)
        if svc is None:
            out.append(f"routing names unknown service {row.service}")
            continue
        if row.city not in svc.demand_tokens_per_s:
            out.append(f"service {row.service} routes demand from {row.city}, which has none")
            continue
        rtt = problem.rtt_ms.get((row.city, row.site))
        if rtt is None or rtt > svc.rtt_slo_ms + 1e-9:
            out.append(f"latency SLO: {row.service} serves {row.city} from {row.site} at {rtt} ms "
                       f"> {svc.rtt_slo_ms:g} ms")
        elif not math.isclose(float(row.rtt_ms), rtt, rel_tol=REL_TOL, abs_tol=1e-6):
            out.append(f"routing {row.service} {row.city}→{row.site} states rtt_ms {row.rtt_ms}, topology gives {rtt}")
        served[(row.service, row.city)] += float(row.tokens_per_s)
        load[(row.service, row.site, row.accelerator)] += float(row.tokens_per_s)
    for (sid, city), tps in sorted(served.items()):
        demand = problem.services[sid].demand_tokens_per_s[city]
        if tps > demand + 1e-6:
            out.append(f"demand: {sid} serves {tps:,.1f} tokens/s to {city}, demand is {demand:,.1f}")
    replicas = {(r.workload, r.site, r.accelerator): int(r.replicas)
                for r in placements.itertuples(index=False) if r.kind == "inference"}
    for (sid, site, accel), tps in sorted(load.items()):
        svc = problem.services[sid]
        cap = replicas.get((sid, site, accel), 0) * svc.replica_tokens_per_s(accel) if accel in svc.tokens_per_s_per_chip else 0
        if tps > cap + 1e-6:
            out.append(f"serving capacity: {sid} routes {tps:,.1f} tokens/s to {accel} at {site}, "
                       f"its replicas serve {cap:,.1f}")

    # -- figures recomputed from the plan ---------------------------------------------------
    objective, kpis = evaluate(problem, placements, routing)
    out += compare_figures(plan, objective, kpis)
    for row in placements.itertuples(index=False):
        hours = problem.horizon_h if row.kind == "inference" else problem.jobs.get(row.workload) and \
            problem.jobs[row.workload].hours.get(row.accelerator)
        if not hours or (row.site, row.accelerator) not in problem.inventory:
            continue
        cost = problem.power_cost_cny(row.site, row.accelerator, int(row.chips), hours)
        if not math.isclose(float(row.power_cost_cny), cost, rel_tol=REL_TOL, abs_tol=1e-6):
            out.append(f"placement {row.workload} at {row.site} states {row.power_cost_cny} CNY, the plan gives {cost}")
    return out
