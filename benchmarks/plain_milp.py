"""The plain MILP baseline: the spatial problem written out directly and solved by HiGHS.

    python benchmarks/plain_milp.py workloads/examples/east_west_small.yaml --time-limit 60 --threads 2

An independent statement of the model in ``planner/core/model.py``'s docstring, built from
the same resolved ``Problem`` (``planner.problem.build.build_problem``) but sharing none of
the planner's model code: no greedy warm start, no integer scaling, no valid inequalities,
real-valued power and flow. It is what a modeller would write first, solved by the HiGHS
that OR-Tools bundles (MathOpt), so the planner's speed can be judged against it.

    place[c,p]    ∈ ℤ, 0..min(n_c, ⌊inv_p/chips_c⌋, ⌊cap_s/(chips_c·kW_p)⌋)   jobs of class c on pool p
    replicas[v,p] ∈ ℤ, 0..⌊inv_p/cpr_v,a⌋
    flow[v,k,s]   ∈ ℝ, 0..demand_v,k, only where RTT(k,s) ≤ SLO_v and s has a pool of v
    min  Σ cost·place + Σ cost·replicas + Σ lat·flow + Σ pen_c·(n_c − Σ_p place) + Σ pen_v·(demand − Σ flow)
         with a job's cost on p = power of its hours inside the horizon + (1 − hours_a/run_a)·pen_c
    s.t. Σ_p place[c,p] ≤ n_c;  Σ chips·place + Σ cpr·replicas ≤ inv_p;  Σ_(p at s) chips·kW_p ≤ cap_s
         Σ_s flow[v,k,s] ≤ demand_v,k;  Σ_k flow[v,k,s] ≤ Σ_a tps_v,a·cpr_v,a·replicas[v,s,a]

The relative gap is |objective − bound| / max(|objective|, 1), as the planner reports it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ortools.math_opt.python import mathopt
from ortools.math_opt.solvers import highs_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.problem.build import Problem  # noqa: E402


@dataclass
class PlainModel:
    model: mathopt.Model
    classes: list[list[str]]  # job ids per class
    place: dict[tuple[int, tuple[str, str]], mathopt.Variable]
    replicas: dict[tuple[str, str, str], mathopt.Variable]
    flow: dict[tuple[str, str, str], mathopt.Variable]
    constant_cny: float

    def stats(self) -> dict[str, int]:
        return {"variables": len(self.place) + len(self.replicas) + len(self.flow),
                "integer_variables": len(self.place) + len(self.replicas),
                "constraints": self.model.get_num_linear_constraints(), "job_classes": len(self.classes)}


def build_plain_milp(problem: Problem) -> PlainModel:
    """The spatial problem as one MILP over plain numbers (see the module docstring)."""
    m = mathopt.Model(name=f"plain-{problem.name}")
    groups: dict[tuple, list[str]] = defaultdict(list)
    for job in problem.jobs.values():
        if job.pools:
            groups[job.class_key()].append(job.id)
    classes = [sorted(ids) for _k, ids in sorted(groups.items(), key=lambda kv: min(kv[1]))]

    place: dict[tuple[int, tuple[str, str]], mathopt.Variable] = {}
    for ci, ids in enumerate(classes):
        job = problem.jobs[ids[0]]
        for pool in job.pools:
            kw = problem.meter_kw_per_chip(*pool)
            ub = min(len(ids), problem.inventory[pool] // job.chips,
                     math.floor(problem.sites[pool[0]].power_cap_kw / (job.chips * kw) + 1e-9))
            if ub > 0:
                place[(ci, pool)] = m.add_integer_variable(lb=0, ub=ub, name=f"place[{ids[0]},{pool[0]},{pool[1]}]")
    replicas: dict[tuple[str, str, str], mathopt.Variable] = {}
    for svc in problem.services.values():
        for site, accel in svc.pools:
            ub = problem.inventory[(site, accel)] // svc.chips_per_replica[accel]
            if ub > 0:
                replicas[(svc.id, site, accel)] = m.add_integer_variable(lb=0, ub=ub,
                                                                         name=f"replicas[{svc.id},{site},{accel}]")
    served_sites: dict[str, set[str]] = defaultdict(set)
    for sid, site, _a in replicas:
        served_sites[sid].add(site)
    flow: dict[tuple[str, str, str], mathopt.Variable] = {}
    for svc in problem.services.values():
        for city, demand in svc.demand_tokens_per_s.items():
            for site in svc.city_sites[city]:
                if site in served_sites[svc.id] and demand > 0:
                    flow[(svc.id, city, site)] = m.add_variable(lb=0.0, ub=demand, name=f"flow[{svc.id},{city},{site}]")

    # job_assignment
    per_class: dict[int, list] = defaultdict(list)
    for (ci, _pool), var in place.items():
        per_class[ci].append(var)
    for ci, vars_ in per_class.items():
        m.add_linear_constraint(mathopt.fast_sum(vars_) <= len(classes[ci]), name=f"job_assignment[{ci}]")
    # chip_capacity and site_power_cap
    chips_use: dict[tuple[str, str], list] = defaultdict(list)
    power_use: dict[str, list] = defaultdict(list)
    for (ci, pool), var in place.items():
        chips = problem.jobs[classes[ci][0]].chips
        chips_use[pool].append(chips * var)
        power_use[pool[0]].append(chips * problem.meter_kw_per_chip(*pool) * var)
    for (sid, site, accel), var in replicas.items():
        cpr = problem.services[sid].chips_per_replica[accel]
        chips_use[(site, accel)].append(cpr * var)
        power_use[site].append(cpr * problem.meter_kw_per_chip(site, accel) * var)
    for pool, terms in chips_use.items():
        m.add_linear_constraint(mathopt.fast_sum(terms) <= problem.inventory[pool], name=f"chip_capacity[{pool}]")
    for site, terms in power_use.items():
        m.add_linear_constraint(mathopt.fast_sum(terms) <= problem.sites[site].power_cap_kw,
                                name=f"site_power_cap[{site}]")
    # demand_routing and serving_capacity
    per_city: dict[tuple[str, str], list] = defaultdict(list)
    per_site: dict[tuple[str, str], list] = defaultdict(list)
    for (sid, city, site), var in flow.items():
        per_city[(sid, city)].append(var)
        per_site[(sid, site)].append(var)
    for (sid, city), vars_ in per_city.items():
        m.add_linear_constraint(mathopt.fast_sum(vars_) <= problem.services[sid].demand_tokens_per_s[city],
                                name=f"demand_routing[{sid},{city}]")
    capacity: dict[tuple[str, str], list] = defaultdict(list)
    for (sid, site, accel), var in replicas.items():
        capacity[(sid, site)].append(problem.services[sid].replica_tokens_per_s(accel) * var)
    for key, vars_ in per_site.items():
        m.add_linear_constraint(mathopt.fast_sum(vars_) - mathopt.fast_sum(capacity[key]) <= 0,
                                name=f"serving_capacity[{key}]")

    # objective: power + latency + penalties for what is left unplaced or unserved, and for the share of a
    # run longer than the horizon a placement leaves unfinished, (1 − run_share) × penalty (CNY)
    terms = []
    for (ci, pool), var in place.items():
        job = problem.jobs[classes[ci][0]]
        power = problem.job_power_cny(job.id, pool)
        unfinished = (1.0 - job.hours[pool[1]] / job.run_h.get(pool[1], job.hours[pool[1]])) * job.penalty_cny
        terms.append((power + unfinished - job.penalty_cny) * var)
    for (sid, site, accel), var in replicas.items():
        terms.append(problem.replica_cost_cny(sid, (site, accel)) * var)
    for (sid, city, site), var in flow.items():
        terms.append((problem.latency_cny_per_token_per_s(sid, city, site)
                      - problem.unserved_cny_per_token_per_s(sid)) * var)
    constant = (sum(j.penalty_cny for j in problem.jobs.values())
                + sum(problem.unserved_cny_per_token_per_s(s.id) * d
                      for s in problem.services.values() for d in s.demand_tokens_per_s.values()))
    m.minimize(mathopt.fast_sum(terms) + constant)
    return PlainModel(m, classes, place, replicas, flow, constant)


def solve_plain_milp(problem: Problem, *, time_limit_s: float = 60.0, threads: int = 2,
                     relative_gap: float = 0.0) -> dict[str, Any]:
    """Build and solve with HiGHS; the figures in CNY and seconds (``wall_s`` includes the build)."""
    t0 = time.perf_counter()
    built = build_plain_milp(problem)
    build_s = time.perf_counter() - t0
    params = mathopt.SolveParameters(
        time_limit=datetime.timedelta(seconds=max(0.01, time_limit_s - build_s)),
        relative_gap_tolerance=relative_gap, absolute_gap_tolerance=0.0,
        # HiGHS takes its thread count as an option, not as MathOpt's ``threads``
        highs=highs_pb2.HighsOptionsProto(int_options={"threads": int(threads)}))
    result = mathopt.solve(built.model, mathopt.SolverType.HIGHS, params=params)
    wall_s = time.perf_counter() - t0
    has_plan = result.has_primal_feasible_solution()
    objective = result.objective_value() if has_plan else None
    bound = result.termination.objective_bounds.dual_bound
    bound = None if bound is None or math.isinf(bound) else bound
    gap = None if objective is None or bound is None else abs(objective - bound) / max(abs(objective), 1.0)
    return {"status": result.termination.reason.name.lower(), "objective": objective, "best_bound": bound,
            "gap": gap, "reached_gap": gap is not None and gap <= relative_gap + 1e-9,
            "wall_s": round(wall_s, 3), "build_s": round(build_s, 3), "solve_s": round(result.solve_time().total_seconds(), 3),
            "time_limit_s": time_limit_s, "threads": threads, "relative_gap_limit": relative_gap, **built.stats()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds, build included")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gap", type=float, default=0.0, help="stop at this relative gap (0.01 = 1 %%)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from planner import load_scenario
    from planner.problem.build import build_problem

    problem = build_problem(load_scenario(args.scenario))
    load_s = time.perf_counter() - t0
    out = solve_plain_milp(problem, time_limit_s=args.time_limit - load_s, threads=args.threads,
                           relative_gap=args.gap)
    out["load_s"] = round(load_s, 3)
    if args.json:
        print(json.dumps(out))
        return
    gap = "–" if out["gap"] is None else f"{100 * out['gap']:.3f} %"
    obj = "–" if out["objective"] is None else f"{out['objective']:,.3f}"
    bound = "–" if out["best_bound"] is None else f"{out['best_bound']:,.3f}"
    print(f"plain MILP (HiGHS, {args.threads} threads): {out['status']}, objective {obj} CNY, bound {bound} CNY, "
          f"gap {gap}; {out['variables']} variables ({out['job_classes']} job classes), load {load_s:.2f} s, "
          f"build {out['build_s']:.2f} s, wall {out['wall_s']:.2f} s")


if __name__ == "__main__":
    main()
