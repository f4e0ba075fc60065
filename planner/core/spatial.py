"""The spatial plan: check → build → solve → write back, as PyPSA's ``optimize()`` does.

``solve_spatial(scenario)`` never mutates the scenario: it resolves it into a
``Problem``, builds the CP-SAT model, warm-starts it from the greedy plan,
solves, and turns the solver's values into a ``Result`` whose costs are
recomputed from the plan in floating point.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import pandas as pd
from ortools.sat.python import cp_model

from planner.check.evaluate import evaluate
from planner.core import scaling
from planner.core.greedy import Plan, greedy_plan
from planner.core.model import BuiltModel, add_hints, build_model
from planner.core.runner import Progress, new_solver, run_solver
from planner.inputs.scenario import Scenario
from planner.problem.build import Problem, build_problem
from planner.results.columns import (
    CITY_COLUMNS,
    INVENTORY_COLUMNS,
    PLACEMENT_COLUMNS,
    ROUTING_COLUMNS,
    SITE_COLUMNS,
    UNPLACED_COLUMNS,
)
from planner.results.estimated import estimated_throughput
from planner.results.result import Result, Status


def solve_spatial(scenario: Scenario | Problem, *, time_limit_s: float | None = None, workers: int | None = None,
                  seed: int | None = None, relative_gap_limit: float | None = None,
                  on_progress: Callable[[Progress], None] | None = None, hint: bool = True) -> Result:
    """Place the scenario's work with the spatial CP-SAT model (one block over the horizon)."""
    settings = scenario.solver if isinstance(scenario, Scenario) else None
    problem = build_problem(scenario) if isinstance(scenario, Scenario) else scenario
    time_limit_s = time_limit_s if time_limit_s is not None else (settings.time_limit_s if settings else 30.0)
    workers = workers if workers is not None else (settings.workers if settings else 2)
    seed = seed if seed is not None else (settings.seed if settings else 0)
    if relative_gap_limit is None:
        relative_gap_limit = settings.relative_gap if settings else 0.0

    t0 = time.perf_counter()
    greedy = greedy_plan(problem)
    built = build_model(problem)
    if hint:
        add_hints(built, greedy)
    build_s = time.perf_counter() - t0

    solver = new_solver(time_limit_s - build_s, workers, seed, relative_gap_limit)  # the limit covers the build
    status, outcome = run_solver(solver, built.model, built.scale, on_progress)
    solver_info = {
        **outcome,
        "wall_s": round(time.perf_counter() - t0, 3),
        "build_s": round(build_s, 3),
        "time_limit_s": time_limit_s, "workers": workers, "seed": seed,
        "cost_units_per_cny": built.scale.units_per_cny,
        **built.stats(),
    }
    if status.has_plan:
        plan = extract_plan(built, solver)
    else:
        plan = Plan()
    result = write_back(problem, plan, status, solver_info)
    result.solver["greedy_objective"] = write_back(problem, greedy, Status.feasible, {}).objective["total_cny"]
    return result


def extract_plan(built: BuiltModel, solver: cp_model.CpSolver) -> Plan:
    """Read the solver's values into a Plan, naming which job of a class goes where."""
    plan = Plan()
    per_class: dict[int, list] = defaultdict(list)
    for (ci, pool), var in built.place.items():
        per_class[ci].append((pool, solver.value(var)))
    for ci, pools in per_class.items():
        members = iter(built.classes[ci].job_ids)
        for pool, n in pools:
            for _ in range(int(n)):
                plan.job_pool[next(members)] = pool
    plan.replicas = {k: int(solver.value(v)) for k, v in built.replicas.items() if solver.value(v) > 0}
    plan.flow = {k: int(solver.value(v)) * built.flow_quantum for k, v in built.flow.items() if solver.value(v) > 0}
    return plan


def write_back(problem: Problem, plan: Plan, status: Status, solver_info: dict) -> Result:
    """Turn a Plan into a Result with tidy tables, recomputed costs and unplaced reasons."""
    rows = []
    for jid, (site, accel) in sorted(plan.job_pool.items()):
        job = problem.jobs[jid]
        hours = job.hours[accel]
        kwh = problem.energy_kwh(site, accel, job.chips, hours)
        rows.append((jid, job.kind, site, accel, job.chips, 0, hours, kwh / 1000,
                     kwh * problem.price_cny_per_kwh(site, accel)))
    for (sid, site, accel), n in sorted(plan.replicas.items()):
        chips = n * problem.services[sid].chips_per_replica[accel]
        kwh = problem.energy_kwh(site, accel, chips, problem.horizon_h)
        rows.append((sid, "inference", site, accel, chips, n, problem.horizon_h, kwh / 1000,
                     kwh * problem.price_cny_per_kwh(site, accel)))
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


def context_tables(problem: Problem, placements: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Sites, pools and cities as the plan saw them, so a plan file can be mapped on its own."""
    used = placements.groupby(["site", "accelerator"])["chips"].sum().to_dict() if len(placements) else {}
    site_mw: dict[str, float] = defaultdict(float)
    for (site, accel), chips in used.items():
        site_mw[site] += chips * problem.meter_kw_per_chip(site, accel) / 1000
    sites = pd.DataFrame([(s.id, s.role, s.lat, s.lon, s.pue, s.price_cny_per_kwh, s.subsidy_fraction,
                           s.carbon_kg_per_kwh, s.power_cap_kw / 1000, site_mw[s.id])
                          for s in problem.sites.values()], columns=SITE_COLUMNS)
    inventory = pd.DataFrame([(site, accel, n, int(used.get((site, accel), 0)), problem.accels[accel].domestic,
                               problem.accels[accel].chip_power_kw)
                              for (site, accel), n in sorted(problem.inventory.items())], columns=INVENTORY_COLUMNS)
    cities = pd.DataFrame([(c, lat, lon) for c, (lat, lon) in sorted(problem.city_coords.items())],
                          columns=CITY_COLUMNS)
    return sites, inventory, cities


def _route_to_accelerators(problem: Problem, plan: Plan) -> list[tuple]:
    """Split each (service, city, site) flow over the accelerators serving it at that site."""
    left: dict[tuple[str, str, str], int] = {
        (sid, site, accel): scaling.tokens_down(problem.services[sid].replica_tokens_per_s(accel)) * n
        for (sid, site, accel), n in plan.replicas.items()}
    rows = []
    for (sid, city, site), tps in sorted(plan.flow.items()):
        for key in sorted(k for k in left if k[0] == sid and k[1] == site):
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
            cost = problem.job_cost_cny(jid, (site, accel))
            return (f"it fits on {accel} at {site}, but its power cost {cost:,.0f} CNY exceeds its unplaced "
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
