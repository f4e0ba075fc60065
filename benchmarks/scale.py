"""Scale benchmark: a seeded random national scenario, solved by CP-SAT and by the greedy baseline.

    python benchmarks/scale.py --jobs 2000 --services 200 --cities 12 --sites 10 --accelerators 12 \
        --time-limit 60 --workers 2

Prints figures, never pass/fail: model size, build time, the greedy objective and
time, CP-SAT's objective, best bound, gap and wall time, and their ratio. The
scenario uses the built-in catalog and East-West topology; jobs are drawn from a
finite menu of templates (gang size × duration × allowed accelerators), as real
teams submit standard job shapes, so identical jobs can be aggregated.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import hardware_catalog
from planner.inputs import topology as topology_mod
from planner.core.greedy import greedy_plan
from planner.problem.build import build_problem
from planner.inputs.scenario import scenario_from_dict
from planner.core.solve import solve
from planner.core.spatial import write_back
from planner.results.result import Status
from planner.check.verify import verify_plan

GANG_SIZES = [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
GANG_WEIGHTS = [30, 25, 18, 12, 7, 4, 2, 1.5, 0.5]
DURATIONS_H = [4, 8, 12, 24, 48, 72, 120, 168]
SLOS_MS = [5, 8, 10, 15, 20, 30, 50]


#: China averaged 140 trillion tokens a day in March 2026 (National Data Administration), 1.62 G tokens/s;
#: the benchmark operator serves about 2.5 % of it.
DEFAULT_INFERENCE_TOKENS_PER_S = 40e6


def random_scenario(jobs: int, services: int, cities: int, sites: int, accelerators: int,
                    seed: int = 0, horizon_h: float = 168.0,
                    inference_tokens_per_s: float = DEFAULT_INFERENCE_TOKENS_PER_S) -> dict[str, Any]:
    rng = random.Random(seed)
    cat = hardware_catalog.load()
    topo = topology_mod.load()
    usable = sorted(a.id for a in cat.accelerators.values()
                    if a.released and a.peak_tflops("bf16") and a.memory_bandwidth_tb_per_s
                    and a.memory_bandwidth_tb_per_s.value)
    accel_ids = rng.sample(usable, min(accelerators, len(usable)))
    site_ids = rng.sample(sorted(topo.sites), min(sites, len(topo.sites)))
    city_ids = rng.sample(sorted(topo.cities), min(cities, len(topo.cities)))
    tflops = {a: cat.accelerators[a].peak_tflops("bf16") for a in accel_ids}
    bw = {a: cat.accelerators[a].memory_bandwidth_tb_per_s.value for a in accel_ids}
    ref = max(tflops.values())

    allowed_menu = [sorted(rng.sample(accel_ids, rng.randint(2, min(4, len(accel_ids))))) for _ in range(8)]
    job_list = []
    total_chip_demand = 0
    for j in range(jobs):
        chips = rng.choices(GANG_SIZES, GANG_WEIGHTS)[0]
        hours = rng.choice(DURATIONS_H)
        allowed = rng.choice(allowed_menu)
        job_list.append({
            "id": f"job{j:05d}", "chips": chips, "allowed_accelerators": allowed,
            # the same work takes longer on a slower chip (bf16 peak ratio, capped at 4×)
            "duration_h_by_accelerator": {a: round(hours * min(4.0, ref / tflops[a]), 1) for a in allowed}})
        total_chip_demand += chips
    svc_list = []
    for v in range(services):
        allowed = rng.choice(allowed_menu)
        # service sizes are lognormal around the mean share, split unevenly over 1-4 cities
        size = inference_tokens_per_s / max(1, services) * rng.lognormvariate(-0.5, 1.0)
        chosen = rng.sample(city_ids, rng.randint(1, min(4, len(city_ids))))
        weights = [rng.random() + 0.2 for _ in chosen]
        demand = {c: float(max(100, round(size * w / sum(weights), -2))) for c, w in zip(chosen, weights)}
        cpr = rng.choice([8, 16])
        svc_list.append({
            "id": f"svc{v:04d}", "demand_tokens_per_s": demand, "rtt_slo_ms": rng.choice(SLOS_MS),
            "allowed_accelerators": allowed,
            "tokens_per_s_per_chip": {a: round(400 * bw[a], 0) for a in allowed},
            "chips_per_replica": {a: cpr for a in allowed}})
        total_chip_demand += sum(demand.values()) / 400
    # inventory: each site stocks 3-6 accelerator types; in all about 1.3× what the work asks for
    per_site = 1.3 * total_chip_demand / len(site_ids)
    site_plans = {}
    for s in site_ids:
        stocked = rng.sample(accel_ids, rng.randint(3, min(6, len(accel_ids))))
        shares = [rng.random() for _ in stocked]
        inv = {a: int(per_site * w / sum(shares) // 8 * 8) for a, w in zip(stocked, shares)}
        site_plans[s] = {"inventory": inv, "power_cap_mw": round(per_site * 1.5 * 1.3 / 1000 * 0.8, 1)}
    # keep every service's SLO meetable: pick the loosest SLO when the nearest stocked site is far
    data = {"name": f"random-{jobs}j-{services}s-seed{seed}", "horizon_h": horizon_h, "sites": site_plans,
            "training_jobs": job_list, "inference_services": svc_list}
    for svc in svc_list:
        stocked_sites = [s for s in site_ids if any(a in site_plans[s]["inventory"] for a in svc["allowed_accelerators"])]
        worst = max(min(topo.rtt_ms(_city(topo, c), _site(topo, s)) for s in stocked_sites) for c in svc["demand_tokens_per_s"])
        if worst > svc["rtt_slo_ms"]:
            svc["rtt_slo_ms"] = float(int(worst) + 1)
    return data


def _city(topo: Any, c: str) -> str:
    return f"city:{c}" if c in topo.sites else c


def _site(topo: Any, s: str) -> str:
    return f"site:{s}" if s in topo.cities else s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--cities", type=int, default=12)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--accelerators", type=int, default=12)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokens-per-s", type=float, default=DEFAULT_INFERENCE_TOKENS_PER_S,
                    help="total inference demand over all services")
    args = ap.parse_args()

    t0 = time.perf_counter()
    scenario = scenario_from_dict(random_scenario(args.jobs, args.services, args.cities, args.sites,
                                                  args.accelerators, args.seed,
                                                  inference_tokens_per_s=args.tokens_per_s))
    problem = build_problem(scenario)
    t_check = time.perf_counter() - t0

    t0 = time.perf_counter()
    greedy = write_back(problem, greedy_plan(problem), Status.feasible, {})
    t_greedy = time.perf_counter() - t0

    result = solve(problem, time_limit_s=args.time_limit, workers=args.workers, seed=args.seed)
    violations = verify_plan(problem, result.to_dict())
    s = result.solver
    print(f"scenario        {scenario.name}: {len(problem.jobs)} jobs, {len(problem.services)} services, "
          f"{len(problem.sites)} sites, {len(problem.accels)} accelerator types, {len(problem.inventory)} pools")
    print(f"model           {s['job_classes']} job classes, {s['variables']} variables, {s['constraints']} constraints;"
          f" check {t_check:.2f} s, build {s['build_s']:.2f} s")
    print(f"greedy          objective {greedy.objective['total_cny']:,.0f} CNY in {t_greedy:.2f} s; "
          f"{greedy.kpis['jobs_unplaced']} jobs unplaced, {greedy.kpis['unserved_tokens_per_s']:,.0f} tokens/s unserved")
    print(f"CP-SAT          {result.status.value}: objective {result.objective['total_cny']:,.0f} CNY, "
          f"bound {s['best_bound']:,.0f} CNY, gap {100 * s['gap']:.3f} %, wall {s['wall_s']:.1f} s "
          f"({args.workers} workers, limit {args.time_limit:g} s); {result.kpis['jobs_unplaced']} jobs unplaced, "
          f"{result.kpis['unserved_tokens_per_s']:,.0f} tokens/s unserved")
    print(f"ratio           CP-SAT / greedy = {result.objective['total_cny'] / greedy.objective['total_cny']:.4f}; "
          f"greedy gap to bound {100 * (greedy.objective['total_cny'] - s['best_bound']) / greedy.objective['total_cny']:.2f} %")
    print(f"verify          {'ok' if not violations else f'{len(violations)} violations: {violations[:3]}'}")


if __name__ == "__main__":
    main()
