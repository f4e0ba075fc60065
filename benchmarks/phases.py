"""Where a solve's time and memory go: each phase's wall time and the process's RSS, sampled.

    python benchmarks/phases.py SCENARIO.yaml --time-limit 120 [--workers 2] [--seed 0]

Runs what ``benchmarks/national.py``'s measured child runs (load → solve → write the plan
JSON) in this process, with the main steps of the spatial pipeline wrapped so each prints
its start, its duration and the RSS before and after, and a thread sampling RSS every
0.2 s. Prints one line per phase and the peak RSS seen in each; never asserts. Use it to
find which phase a slow or large run spends its time and memory in.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

T0 = time.perf_counter()
_proc = psutil.Process()
_peak = {"phase": 0.0, "all": 0.0}
_stack: list[str] = []


def _rss_gb() -> float:
    return _proc.memory_info().rss / 1024 ** 3


def _sample(stop: threading.Event) -> None:
    while not stop.wait(0.2):
        r = _rss_gb()
        _peak["phase"] = max(_peak["phase"], r)
        _peak["all"] = max(_peak["all"], r)


def _say(text: str) -> None:
    print(f"{time.perf_counter() - T0:7.2f} s  {text}", file=sys.stderr, flush=True)


def wrap(owner: object, name: str) -> None:
    """Replace ``owner.name`` by a version that reports its wall time and RSS."""
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        label = f"{getattr(owner, '__name__', owner)}.{name}"
        start, before = time.perf_counter(), _rss_gb()
        outer_peak = _peak["phase"]
        _peak["phase"] = before
        _stack.append(label)
        try:
            return fn(*args, **kwargs)
        finally:
            _stack.pop()
            after = _rss_gb()
            peak = max(_peak["phase"], after)
            _say(f"{'  ' * len(_stack)}{label}: {time.perf_counter() - start:6.2f} s, RSS {before:.2f} → "
                 f"{after:.2f} GB (peak {peak:.2f})")
            _peak["phase"] = max(outer_peak, peak)

    setattr(owner, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap", type=float, default=0.01)
    ap.add_argument("--start-max-nonzeros", type=int, default=None,
                    help="override runner.AUTO_START_MAX_NONZEROS (the largest model given the two-phase start)")
    ap.add_argument("--plan", default=None, help="write the plan JSON here (default: a temporary file)")
    args = ap.parse_args()
    stop = threading.Event()
    threading.Thread(target=_sample, args=(stop,), daemon=True).start()

    import planner
    from planner.check import evaluate, tables
    from planner.core import model, runner, spatial, twophase
    from planner.problem import build

    for owner, name in [(build, "build_problem"), (spatial, "greedy_plan"), (spatial, "build_spatial_model"),
                        (spatial, "add_hints"), (runner, "_two_phase"), (runner, "LinearView"),
                        (runner, "relax_and_round"), (runner, "milp_phase"), (runner, "run_solver"),
                        (runner, "solve_model"), (spatial, "extract_plan"), (spatial, "write_back"),
                        (model, "time_classes"), (evaluate, "evaluate"), (tables, "context_tables"),
                        (twophase, "round_and_fill")]:
        wrap(owner, name)
    if args.start_max_nonzeros is not None:
        runner.AUTO_START_MAX_NONZEROS = args.start_max_nonzeros
    _say(f"imports done, RSS {_rss_gb():.2f} GB")
    scenario = planner.load_scenario(args.scenario)
    _say(f"scenario loaded, RSS {_rss_gb():.2f} GB")
    settings = runner.resolve_settings(scenario, time_limit_s=args.time_limit, workers=args.workers, seed=args.seed,
                                       relative_gap_limit=args.gap, started=T0)  # the limit covers the process
    result = planner.solve(scenario, settings=settings)
    _say(f"solve returned, RSS {_rss_gb():.2f} GB")
    plan = args.plan or "/tmp/phases.plan.json"
    result.to_json(plan)
    s = result.solver
    _say(f"plan written; RSS {_rss_gb():.2f} GB, peak sampled {_peak['all']:.2f} GB, "
         f"peak (OS) {psutil.Process().memory_info().rss / 1024 ** 3:.2f} GB now")
    keys = ["status", "objective", "best_bound", "gap", "wall_s", "build_s", "variables", "constraints",
            "job_classes", "plan_source", "bound_source", "start"]
    for k in keys:
        print(f"{k}: {s.get(k)}")
    try:
        import resource

        print(f"ru_maxrss: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2:.2f} GB")
    except ImportError:
        pass
    print(f"load average: {psutil.getloadavg()}")
    stop.set()


if __name__ == "__main__":
    main()
