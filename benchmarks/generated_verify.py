"""Generated scenarios through solve → verify: does any plan lose work or mis-state a figure?

Each scenario is drawn at random (seeded) on the tiny test topologies: two sites with GPUs and NPUs
(random inventory and power caps), up to four training jobs (gang sizes, durations, allowed
accelerators, counts), up to two inference services (demand, SLO, throughput, replica size). One in
five is a time-of-use scenario (release and deadline windows, preemptible jobs, the two-valley
tariffs); one in twenty a capacity scenario (boxes to buy over two periods). Each is solved and
its plan, as its JSON file holds it, goes through ``verify`` (``planner.check.document``), which
checks that every job and every city's demand is placed, served or listed unplaced, that every
constraint holds and that every figure recomputes.

    python benchmarks/generated_verify.py [N] [--seed S]

prints how many plans verified clean, how many scenarios were refused as bad input (with one
line, as they should be), and every loss: a violation, or an exception other than bad input.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.check.document import verify_document  # noqa: E402
from planner.core.solve import solve  # noqa: E402
from planner.errors import InputError  # noqa: E402
from planner.inputs.scenario import scenario_from_dict  # noqa: E402
from planner.studies.capacity import plan_capacity  # noqa: E402

DATA = ROOT / "tests" / "data"


def generate(rng: random.Random, i: int) -> tuple[str, dict[str, Any], str]:
    """One random scenario: (kind, scenario dict, the file it pretends to be read from)."""
    roll = rng.random()
    kind = "capacity" if roll < 0.05 else "time" if roll < 0.25 else "spatial"
    accels = ["gpu"] if kind == "time" else ["gpu", "npu"]
    sites = {}
    for site in ("east", "west"):
        inv = {a: rng.choice([0, 4, 8, 16, 32]) for a in accels}
        sites[site] = {"inventory": inv}
        if rng.random() < 0.3:
            sites[site]["power_cap_mw"] = rng.choice([0.005, 0.01, 0.02, 0.05, 1.0])
    if kind != "capacity" and not any(n for s in sites.values() for n in s["inventory"].values()):
        sites["east"]["inventory"][accels[0]] = 8
    jobs = []
    for j in range(rng.randint(0, 4)):
        allowed = rng.sample(accels, rng.randint(1, len(accels)))
        job: dict[str, Any] = {"id": f"job{j}", "chips": rng.choice([1, 2, 4, 8, 16]),
                               "duration_h": rng.choice([1, 2, 3, 4, 6, 10, 20]), "allowed_accelerators": allowed,
                               "count": rng.randint(1, 3), "priority": rng.choice([0.5, 1, 2])}
        if kind == "time":
            job["duration_h"] = rng.choice([1, 2, 3, 4, 6])
            if rng.random() < 0.5:
                job["release_h"] = rng.randint(0, 12)
                job["deadline_h"] = min(24, job["release_h"] + job["duration_h"] + rng.randint(0, 10))
            job["preemptible"] = rng.random() < 0.3
        jobs.append(job)
    services = []
    for v in range(rng.randint(0 if jobs else 1, 2)):
        allowed = rng.sample(accels, rng.randint(1, len(accels)))
        services.append({"id": f"svc{v}", "demand_tokens_per_s": {"metro": rng.choice([100, 500, 2000, 8000])},
                         "rtt_slo_ms": rng.choice([5, 40]), "allowed_accelerators": allowed,
                         "tokens_per_s_per_chip": {a: rng.choice([50, 100, 250]) for a in allowed},
                         "chips_per_replica": {a: rng.choice([1, 2, 4, 8]) for a in allowed},
                         "unserved_cny_per_mtokens": rng.choice([1, 8, 80])})
    data: dict[str, Any] = {
        "name": f"generated-{i}", "horizon_h": 24,
        "catalog": {"path": "core/catalog.yaml"},
        "topology": {"path": "time/topology.yaml" if kind == "time" else "core/topology.yaml"},
        "sites": sites, "training_jobs": jobs, "inference_services": services,
        "objective": {"latency_cny_per_mtokens_ms": rng.choice([0, 0.01, 1])},
        "solver": {"time_limit_s": 5, "workers": 1},
    }
    if kind == "time":
        data["time"] = {"mode": "time"}
    if kind == "capacity":
        data["horizon_h"] = 168
        data["training_jobs"] = [{**j, "duration_h": min(j["duration_h"], 100)} for j in jobs]
        data["capacity"] = {"candidates": [{"system": "gpu-box", "price_cny": 100_000, "max_units_per_site": 4},
                                           {"system": "npu-box", "price_cny": 120_000, "max_units_per_site": 4}],
                            "periods": [{"name": "y1"}, {"name": "y2", "inference_growth": 1.5}],
                            "budget_cny": rng.choice([200_000, 1_000_000])}
    return kind, data, str(DATA / "generated.yaml")


def run(n: int, seed: int = 0, verbose: bool = False) -> dict[str, Any]:
    """Solve and verify ``n`` generated scenarios; returns the counts and every loss."""
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    losses: list[str] = []
    t0 = time.perf_counter()
    for i in range(n):
        kind, data, file = generate(rng, i)
        counts[kind] += 1
        try:
            scenario = scenario_from_dict(data, file=file)
            result = plan_capacity(scenario) if kind == "capacity" else solve(scenario)
            plan = json.loads(result.to_json())
            if plan["status"] not in ("optimal", "feasible"):
                counts["no plan"] += 1
                continue
            violations = verify_document(scenario, plan, file=f"generated-{i}.json")
        except InputError as exc:
            counts["refused as bad input"] += 1
            if len(str(exc).splitlines()) != 1:
                losses.append(f"{i} ({kind}): a bad-input message of several lines: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - every other exception is a loss to report
            losses.append(f"{i} ({kind}): {type(exc).__name__}: {exc}")
            continue
        if violations:
            losses.append(f"{i} ({kind}): {len(violations)} violation(s): {violations[:3]}")
        else:
            counts["verified"] += 1
        if verbose and i % 500 == 0:
            print(f"{i} done, {time.perf_counter() - t0:.0f} s", flush=True)
    return {"n": n, "counts": dict(counts), "losses": losses, "wall_s": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = run(args.n, args.seed, verbose=True)
    c = out["counts"]
    print(f"{out['n']} generated scenarios ({c.get('spatial', 0)} spatial, {c.get('time', 0)} time of use, "
          f"{c.get('capacity', 0)} capacity) in {out['wall_s']:.0f} s")
    print(f"  verified clean:        {c.get('verified', 0)}")
    print(f"  refused as bad input:  {c.get('refused as bad input', 0)} (one line each)")
    print(f"  no plan in the limit:  {c.get('no plan', 0)}")
    print(f"  losses:                {len(out['losses'])}")
    for loss in out["losses"][:20]:
        print(f"    {loss}")


if __name__ == "__main__":
    main()
