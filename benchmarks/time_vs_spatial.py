"""Time-of-use model against the spatial model on the seeded random national scenario.

    python benchmarks/time_vs_spatial.py --jobs 2000 --services 200 --sites 10 --accelerators 12 \
        --horizon 168 --time-limit 120 --workers 2

The scenario is ``benchmarks/scale.py``'s, with release times and deadlines
drawn from a small menu (teams submit on day boundaries with standard slack),
so identical jobs still aggregate. Prints figures, never pass/fail: model
sizes, build and wall time, objective, bound and gap of each model, and the
greedy baselines. The two objectives price different things — the spatial
model runs everything at once at each site's mean price and serves the peak
all day; the time model runs each job inside its window at hourly prices and
serves each hour's demand — so their ratio is what scheduling in time is worth
on this instance, not an error of either.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from scale import random_scenario  # noqa: E402

from planner.problem.build import build_problem  # noqa: E402
from planner.inputs.scenario import scenario_from_dict  # noqa: E402
from planner.core.solve import solve  # noqa: E402
from planner.problem.timedata import build_time_data, job_energy  # noqa: E402
from planner.results.statistics import cost_by_band  # noqa: E402
from planner.core.timemodel import solve_time  # noqa: E402
from planner.check.verify import verify_plan  # noqa: E402

RELEASES_H = [0, 0, 24, 48, 72]
SLACK_H = [0, 12, 24, 48, 96]


def with_windows(data: dict[str, Any], horizon_h: int, seed: int, preemptible_share: float = 0.05) -> dict[str, Any]:
    """Give each job a release and a deadline from the menu (deadline ≥ release + its shortest run)."""
    rng = random.Random(seed + 1)
    for job in data["training_jobs"]:
        shortest = min(job["duration_h_by_accelerator"].values())
        release = rng.choice([r for r in RELEASES_H if r + shortest <= horizon_h] or [0])
        job["release_h"] = release
        job["deadline_h"] = float(min(horizon_h, release + shortest + rng.choice(SLACK_H))) or None
        if job["deadline_h"] is not None and job["deadline_h"] <= release:
            job["deadline_h"] = None
        if rng.random() < preemptible_share:
            job["preemptible"] = True
            job["checkpoint_cny"] = 50.0 * job["chips"] / 8
    data["horizon_h"] = float(horizon_h)
    return data


DAY_JOB_HOURS = [2, 4, 6, 8, 12, 24, 48]


def daily_windows(data: dict[str, Any], horizon_h: int, seed: int) -> dict[str, Any]:
    """A week of daily submissions: each job is released at a day boundary, runs 2-48 h (on its
    fastest accelerator; slower ones scale as in ``scale.py``) and is due at a later day boundary,
    0-2 days after the first one it could make. Work then has room to move into valley hours."""
    rng = random.Random(seed + 2)
    days = horizon_h // 24
    for job in data["training_jobs"]:
        fastest = min(job["duration_h_by_accelerator"].values())
        hours = rng.choice(DAY_JOB_HOURS)
        job["duration_h_by_accelerator"] = {a: round(h / fastest * hours, 1)
                                            for a, h in job["duration_h_by_accelerator"].items()}
        release = 24 * rng.randrange(days)
        due = release + 24 * math.ceil(hours / 24) + 24 * rng.choice([0, 1, 2])
        job["release_h"] = float(release)
        job["deadline_h"] = float(min(horizon_h, due))
    data["horizon_h"] = float(horizon_h)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--services", type=int, default=30)
    ap.add_argument("--cities", type=int, default=12)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--accelerators", type=int, default=12)
    ap.add_argument("--horizon", type=int, default=168)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--demand-resolution", type=int, default=4,
                    help="hours served at their window's peak demand (time.demand_resolution_h)")
    ap.add_argument("--start-grid", choices=["auto", "every_step", "breakpoints"], default="auto")
    ap.add_argument("--decompose", choices=["auto", "spatial", "off"], default="auto",
                    help="place with the spatial model first, then schedule on the pools it chose")
    ap.add_argument("--time-only", action="store_true", help="skip the spatial solve")
    ap.add_argument("--daily", action="store_true",
                    help="daily submissions: 2-48 h jobs released and due on day boundaries (daily_windows)")
    args = ap.parse_args()

    data = random_scenario(args.jobs, args.services, args.cities, args.sites, args.accelerators, args.seed,
                           horizon_h=float(args.horizon))
    data = (daily_windows if args.daily else with_windows)(data, args.horizon, args.seed)
    data["time"] = {"mode": "time", "demand_resolution_h": args.demand_resolution, "start_grid": args.start_grid}
    t0 = time.perf_counter()
    scenario = scenario_from_dict(data)
    problem = build_problem(scenario)
    td = build_time_data(scenario, problem)
    t_check = time.perf_counter() - t0
    print(f"scenario        {scenario.name}: {len(problem.jobs)} jobs, {len(problem.services)} services, "
          f"{len(problem.sites)} sites, {len(problem.accels)} accelerator types, {len(problem.inventory)} pools, "
          f"{td.horizon_h} h in {len(td.blocks)} blocks; check {t_check:.1f} s")

    spatial = None if args.time_only else solve(problem, time_limit_s=args.time_limit, workers=args.workers,
                                                 seed=args.seed)
    s = spatial.solver if spatial else {}
    if spatial:
        print(f"spatial         {spatial.status.value}: objective {spatial.objective['total_cny']:,.0f} CNY, "
          f"bound {s['best_bound']:,.0f}, gap {100 * (s['gap'] or 0):.3f} %, wall {s['wall_s']:.1f} s; "
              f"{s['variables']} variables; greedy {s['greedy_objective']:,.0f} CNY; "
              f"{spatial.kpis['jobs_unplaced']} jobs unplaced")

    timed = solve_time(scenario, problem=problem, td=td, time_limit_s=args.time_limit, workers=args.workers,
                       seed=args.seed, decompose=args.decompose)
    t = timed.solver
    gap = "–" if t["gap"] is None else f"{100 * t['gap']:.3f} %"
    bound = "–" if t["best_bound"] is None else f"{t['best_bound']:,.0f}"
    print(f"time            {timed.status.value}: objective {timed.objective['total_cny']:,.0f} CNY, "
          f"bound {bound}, gap {gap}, wall {t['wall_s']:.1f} s (greedy {t['greedy_s']:.1f} s, build {t['build_s']:.1f} s);"
          f" {t['job_classes']} classes, {t['variables']} variables, {t['constraints']} constraints, "
          f"start grid {t['start_grid']}; greedy {t['greedy_objective']:,.0f} CNY; "
          f"{timed.kpis['jobs_unplaced']} jobs unplaced")
    print(f"start           {t.get('start')}; bound from {t.get('bound_source', 'CP-SAT')}")
    if t["decomposition"] == "spatial":
        rgap = "–" if t["restricted_gap"] is None else f"{100 * t['restricted_gap']:.3f} %"
        print(f"decomposition   spatial placement {t['spatial_s']:.1f} s; bound above is the full model's capacity-free "
              f"bound; restricted model's bound {t['restricted_bound'] or float('nan'):,.0f} (gap {rgap}), "
              "valid for the restricted pools only")
    o = timed.objective
    print(f"time terms      power {o['power_cost_cny']:,.0f} + latency {o['latency_cny']:,.0f} + unplaced "
          f"{o['unplaced_penalty_cny']:,.0f} + transfer {o['transfer_cny']:,.0f} + checkpoints {o['checkpoint_cny']:,.0f}")
    bands = cost_by_band(timed.hourly)
    print("by band         " + ", ".join(f"{r.band} {r.power_cost_cny:,.0f} CNY ({100 * r.share:.0f} %)"
                                         for r in bands.itertuples(index=False)))
    if spatial:
        print(f"power           spatial {spatial.objective['power_cost_cny']:,.0f} CNY vs time "
              f"{o['power_cost_cny']:,.0f} CNY; energy {spatial.kpis['energy_mwh']:,.0f} vs "
              f"{timed.kpis['energy_mwh']:,.0f} MWh")
    planned, asap = as_soon_as_released(problem, td, timed)
    print(f"no shifting     the plan's jobs cost {planned:,.0f} CNY of power; the same jobs on the same pools, each "
          f"started as soon as released (+ data transfer), cost {asap:,.0f} CNY at the same hourly tariffs: "
          f"{100 * (1 - planned / asap) if asap else 0:.1f} % saved on jobs; on all power (serving and idle draw "
          f"unchanged) {100 * (asap - planned) / (o['power_cost_cny'] - planned + asap):.1f} %")
    bad_s = verify_plan(problem, spatial.to_dict()) if spatial else []
    bad_t = verify_plan(problem, timed.to_dict(), scenario)
    print(f"verify          spatial {'ok' if not bad_s else bad_s[:2]}; time {'ok' if not bad_t else bad_t[:2]}")


def as_soon_as_released(problem: Any, td: Any, timed: Any) -> tuple[float, float]:
    """(power cost of the plan's jobs, the same jobs started at their earliest step), CNY at hourly tariffs.

    Each scheduled job keeps its pool and runs in one piece from its earliest start (release plus
    data transfer, on the step grid). A price comparison only: the shifted runs are not checked
    against chips or power caps."""
    planned = float(timed.schedule.power_cost_cny.sum()) if len(timed.schedule) else 0.0
    asap = 0.0
    for jid, g in timed.schedule.groupby("workload"):
        pool = (g.site.iloc[0], g.accelerator.iloc[0])
        w = td.jobs[jid].windows[pool]
        asap += problem.power_cost_weight * job_energy(problem, td, jid, pool, list(range(w.earliest, w.earliest + w.steps)))[1]
    return planned, asap


if __name__ == "__main__":
    main()
