"""Sweep benchmark: a 100-run sweep of the built-in example on a local Ray against a serial loop.

    python benchmarks/sweep_speed.py [--runs-per-axis 10] [--cpus 2] [--time-limit 20]

The sweep is demand_scale (0.5–5) × Yangtze River Delta power cap (6–24 MW), each run
solved with one CP-SAT worker and verified, exactly as `planner sweep` does. The serial
loop calls the same ``execute_run`` one run after another in this process (whose imports
are already warm); Ray runs them on ``--cpus`` worker processes with one CPU each.

Prints figures, never pass/fail:
  * serial wall time and mean time per run, measured before and after the Ray pass (their
    mean is the baseline, so a load that drifts during the benchmark counts on both sides);
  * Ray start-up (ray.init), the run phase (first submission to last result), and both
    speed-ups: run phase only, and including start-up;
  * overhead per run = (run phase × slots − Σ worker-side run time) / runs: the time a slot
    spends per run on anything but the run itself (scheduling, moving the scenario and the
    plan, and each worker process importing the planner once, spread over its runs).
The machine's load average is printed first: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from planner.studies.sweep import engine
from planner.studies.sweep.grid import Settings, parse_param
from planner.studies.sweep.study import plan_runs

EXAMPLE = Path(__file__).resolve().parents[1] / "workloads" / "examples" / "east_west_small.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-per-axis", type=int, default=10)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=20.0)
    args = ap.parse_args()
    n = args.runs_per_axis
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(1, 5, 15 min)")
    t = time.perf_counter()
    plan = plan_runs(str(EXAMPLE), params=[parse_param(f"demand_scale=0.5:5:{n}"),
                                           parse_param(f"sites.yrd.power_cap_mw=6:24:{n}")],
                     settings=Settings(time_limit_s=args.time_limit, workers=1))
    specs = plan.unique()
    print(f"{len(specs)} runs planned (scenarios resolved and hashed) in {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    serial = engine.run_serial(specs)
    before_s = time.perf_counter() - t
    print(f"serial, before Ray: {before_s:.2f} s, {before_s / len(specs) * 1000:.0f} ms per run "
          f"({sum(o['status'] == 'optimal' for o in serial)} optimal, {sum(o['verified'] for o in serial)} verified)")

    t = time.perf_counter()
    cluster = engine.connect(None, num_cpus=args.cpus)
    start_s = time.perf_counter() - t
    try:
        t = time.perf_counter()
        parallel = engine.run_all(specs, cluster, cpus_per_run=1.0)
        run_s = time.perf_counter() - t
    finally:
        engine.disconnect(cluster)
    t = time.perf_counter()
    engine.run_serial(specs)
    after_s = time.perf_counter() - t
    serial_s = (before_s + after_s) / 2
    print(f"serial, after Ray: {after_s:.2f} s; the mean of the two, {serial_s:.2f} s, is the baseline")
    slots = cluster.slots(1.0)
    busy = sum(o["wall_s"] or 0.0 for o in parallel)
    print(f"ray ({slots} slots): start-up {start_s:.2f} s, run phase {run_s:.2f} s "
          f"({sum(o['status'] == 'optimal' for o in parallel)} optimal, {sum(o['verified'] for o in parallel)} verified)")
    same = all(abs((a["objective"].get("total_cny") or 0) - (b["objective"].get("total_cny") or 0)) < 1e-6
               for a, b in zip(sorted(serial, key=lambda o: o["run_id"]), sorted(parallel, key=lambda o: o["run_id"])))
    print(f"same objectives serial and on Ray: {same}")
    print(f"speed-up, run phase: {serial_s / run_s:.2f}x; including Ray start-up: {serial_s / (start_s + run_s):.2f}x")
    print(f"mean run time inside a worker {busy / len(specs) * 1000:.0f} ms (serial {serial_s / len(specs) * 1000:.0f} ms); "
          f"overhead per run {(run_s * slots - busy) / len(specs) * 1000:.0f} ms of a slot")


if __name__ == "__main__":
    main()
