"""The measured planner process of ``benchmarks/national.py``: load, solve, write the plan.

    python benchmarks/planner_child.py SCENARIO.yaml PLAN.json [--time-limit 60] [--workers 2] [--seed 0] [--gap 0.01]

What ``planner solve`` does, through the public API (``planner.load_scenario`` →
``planner.solve`` → ``Result.to_json``), in a process that imports nothing else: the
benchmark's own modules (instance generation pulls in networkx) would add 0.15-0.3 s to a
wall time that is compared with the plain MILP's (``benchmarks/plain_milp.py``, also a
process of its own). The time limit counts from this process's start, as ``planner
solve``'s does from the command's. Prints the solver's figures as one JSON line.
"""

from __future__ import annotations

import time

#: when this process started (near enough): the time limit counts from here
PROCESS_STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner import collector  # noqa: E402

# as `planner solve` imports its command (planner.cli.lazy): with the collector paused, then frozen
solve = collector.import_frozen("planner.core.solve").solve
runner = collector.import_frozen("planner.core.runner")
from planner import load_scenario  # noqa: E402

#: the solver figures printed
KEEP = ["status", "objective", "best_bound", "gap", "wall_s", "build_s", "variables", "constraints", "job_classes",
        "greedy_objective", "decomposition", "restricted_gap", "time_limit_s", "workers"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario")
    ap.add_argument("plan")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds (default: the scenario's settings)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap", type=float, default=0.01, help="stop at this relative gap")
    args = ap.parse_args()
    t0 = time.perf_counter()
    scenario = load_scenario(args.scenario)
    load_s = time.perf_counter() - t0
    settings = None if args.time_limit is None else runner.resolve_settings(
        scenario, time_limit_s=args.time_limit, workers=args.workers, seed=args.seed, relative_gap_limit=args.gap,
        started=PROCESS_STARTED)
    t1 = time.perf_counter()
    result = solve(scenario, settings=settings)
    t2 = time.perf_counter()
    result.to_json(args.plan)
    timing = {"load_s": round(load_s, 3), "solve_call_s": round(t2 - t1, 3),
              "write_s": round(time.perf_counter() - t2, 3)}
    print(json.dumps({**timing, **{k: result.solver.get(k) for k in KEEP},
                      "total_cny": result.objective.get("total_cny"),
                      "power_cost_cny": result.objective.get("power_cost_cny"),
                      "jobs_unplaced": result.kpis.get("jobs_unplaced")}), flush=True)
    if runner.solves_left_behind():  # as `planner solve` does: exit now, not when HiGHS reaches its own limit
        os._exit(0)


if __name__ == "__main__":
    main()
