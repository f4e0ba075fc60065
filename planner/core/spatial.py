"""The spatial plan: check → build → solve → write back, as PyPSA's ``optimize()`` does.

``solve_spatial(scenario)`` never mutates the scenario: it resolves it into a
``Problem``, builds the one model core (``planner.core.model``) over one block of
the whole horizon (``one_block``), warm-starts it from the greedy plan, solves it
through the runner, and turns the solver's values into a ``Result`` whose costs are
recomputed from the plan in floating point.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import pandas as pd
from ortools.sat.python import cp_model

from planner.check.evaluate import evaluate
from planner.check.tables import context_tables
from planner.core import scaling
from planner.core.greedy import Plan, greedy_plan
from planner.core.model import TimeModel, TimePlan, add_hints, build_model
from planner.core.model import extract_plan as extract_time_plan
from planner.core.runner import Progress, Settings, Values, resolve_settings, solve_model
from planner.inputs.scenario import Scenario
from planner.problem.build import Problem, build_problem
from planner.problem.timedata import one_block
from planner.results.columns import (
    PLACEMENT_COLUMNS,
    ROUTING_COLUMNS,
    UNPLACED_COLUMNS,
)
from planner.results.estimated import estimated_throughput
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
    result = write_back(problem, plan, status, solver_info)
    result.solver["greedy_objective"] = write_back(problem, greedy, Status.feasible, {}).objective["total_cny"]
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


def write_back(problem: Problem, plan: Plan, status: Status, solver_info: dict) -> Result:
    """Turn a Plan into a Result with tidy tables, recomputed costs and unplaced reasons."""
    rows = []
    for jid, (site, accel) in sorted(plan.job_pool.items()):
        job = problem.jobs[jid]
        hours = job.hours[accel]
        kwh = problem.energy_kwh(site, accel, job.chips, hours)
        rows.append((jid, job.kind, site, accel, job.chips, 0, hours, kwh / 1000,
                     kwh * problem.price_cny_per_kwh(site, accel), job.run_share(accel)))
    for (sid, site, accel), n in sorted(plan.replicas.items()):
        chips = n * problem.services[sid].chips_per_replica[accel]
        kwh = problem.energy_kwh(site, accel, chips, problem.horizon_h)
        rows.append((sid, "inference", site, accel, chips, n, problem.horizon_h, kwh / 1000,
                     kwh * problem.price_cny_per_kwh(site, accel), 1.0))
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    routing = pd.DataFrame(_route_to_accelerators(problem, plan), columns=ROUTING_COLUMNS)
    unplaced = pd.DataFrame(explain_unplaced(problem, plan, placements, routing), columns=UNPLACED_COLUMNS)
    objective, kpis = evaluate(problem, placements, routing)
    sites, inventory, cities = context_tables(problem, placements)
    return Result(scenario=problem.name, status=status, objective=objective, kpis=kpis,
                  placements=placements, routing=routing, unplaced=unplaced, solver=solver_info,
                  sites=sites, inventory=inventory, cities=cities,
                  warnings=list(problem.warnings),
                  meta={"catalog_version": problem.catalog_version, "catalog_changes": list(problem.catalog_changes),
                        "topology_version": problem.topology_version,
                        "horizon_h": problem.horizon_h, "figures": list(problem.figures),
                        "estimated_throughput": estimated_throughput(problem.figures)})


def _route_to_accelerators(problem: Problem, plan: Plan) -> list[tuple]:
    """Split each (service, city, site) flow over the accelerators serving it at that site."""
    left: dict[tuple[str, str, str], int] = {
        (sid, site, accel): scaling.tokens_down(problem.services[sid].replica_tokens_per_s(accel)) * n
        for (sid, site, accel), n in plan.replicas.items()}
    by_site: dict[tuple[str, str], list] = defaultdict(list)  # (service, site) → replica keys
    for key in sorted(left):
        by_site[key[:2]].append(key)
    rows = []
    for (sid, city, site), tps in sorted(plan.flow.items()):
        for key in by_site[(sid, site)]:
            take = min(tps, left[key])
            if take > 0:
                rows.append((sid, city, site, key[2], take, problem.rtt_ms[(city, site)]))
                left[key] -= take
                tps -= take
    return rows


def explain_unplaced(problem: Problem, plan: Plan, placements: pd.DataFrame, routing: pd.DataFrame) -> list[tuple]:
    """A reason a planner can act on for every job left unplaced and every unserved demand."""
    free = dict(problem.inventory)
    meter_kw = {s: 0.0 for s in problem.sites}
    for row in placements.itertuples(index=False):
        free[(row.site, row.accelerator)] = free.get((row.site, row.accelerator), 0) - int(row.chips)
        meter_kw[row.site] += int(row.chips) * problem.meter_kw_per_chip(row.site, row.accelerator)
    rows = []
    for jid, job in sorted(problem.jobs.items()):
        if jid in plan.job_pool:
            continue
        if jid in problem.pre_unplaced:
            rows.append((jid, job.kind, None, None, problem.pre_unplaced[jid]))
            continue
        rows.append((jid, job.kind, None, None, _job_reason(problem, job.id, free, meter_kw)))
    served: dict[tuple[str, str], float] = defaultdict(float)
    for row in routing.itertuples(index=False):
        served[(row.service, row.city)] += row.tokens_per_s
    for svc in problem.services.values():
        for city, demand in sorted(svc.demand_tokens_per_s.items()):
            short = demand - served[(svc.id, city)]
            if short > 0.5:
                reason = problem.pre_unserved.get((svc.id, city)) or _demand_reason(
                    problem, svc.id, city, short, free, meter_kw)
                rows.append((svc.id, "inference", city, short, reason))
    return rows


def _job_reason(problem: Problem, jid: str, free: dict, meter_kw: dict) -> str:
    job = problem.jobs[jid]
    blocked = []
    for site, accel in job.pools:
        need_kw = job.chips * problem.meter_kw_per_chip(site, accel)
        head_kw = problem.sites[site].power_cap_kw - meter_kw[site]
        if free.get((site, accel), 0) >= job.chips and head_kw + 1e-6 >= need_kw:
            cost, undone = problem.job_cost_cny(jid, (site, accel)), job.unfinished_work_cny(accel)
            what = f"power cost {cost:,.0f} CNY" if not undone else (
                f"cost {cost:,.0f} CNY (power {cost - undone:,.0f} + unfinished work {undone:,.0f})")
            return (f"it fits on {accel} at {site}, but its {what} exceeds its unplaced "
                    f"penalty {job.penalty_cny:,.0f} CNY; raise unplaced_cny_per_chip_hour to place it")
        if free.get((site, accel), 0) < job.chips:
            blocked.append(f"{accel} at {site} has {free.get((site, accel), 0)} of {job.chips} chips free")
        else:
            blocked.append(f"{site} has {head_kw / 1000:.2f} of {need_kw / 1000:.2f} MW free")
    return ("capacity taken by cheaper or higher-penalty work: " + "; ".join(blocked)
            + ". Add chips or power there, or allow more accelerators or sites")


def _demand_reason(problem: Problem, sid: str, city: str, short: float, free: dict, meter_kw: dict) -> str:
    svc = problem.services[sid]
    sites = svc.city_sites[city]
    penalty = short * problem.unserved_cny_per_token_per_s(sid)
    for site, accel in svc.pools:
        if site not in sites:
            continue
        cpr = svc.chips_per_replica[accel]
        if free.get((site, accel), 0) >= cpr and problem.sites[site].power_cap_kw - meter_kw[site] >= \
                cpr * problem.meter_kw_per_chip(site, accel):
            replica = problem.replica_cost_cny(sid, (site, accel))
            return (f"the last {short:,.0f} tokens/s would need another whole replica ({cpr} {accel} at {site}, "
                    f"{replica:,.0f} CNY over the horizon), more than the {penalty:,.0f} CNY penalty for leaving them "
                    "unserved; raise unserved_cny_per_mtokens or use smaller replicas to serve them")
    return (f"no free capacity within the {svc.rtt_slo_ms:g} ms SLO of {city} (sites {', '.join(sites)} are full "
            "in chips or power); add chips or power there, relax rtt_slo_ms, or allow more accelerators")
