"""Seeded national instances for benchmarks and tests, as scenario dicts the public API loads.

    from benchmarks.instances import national_week, distinct_week, time_of_use_week, write_scenario
    path = write_scenario(distinct_week(seed=0), "/tmp/week.yaml")
    result = planner.solve(planner.load_scenario(path))

Every instance uses the built-in catalog (released accelerators with a bf16 peak and a
memory bandwidth) and the built-in East-West topology and tariffs. Figures are drawn,
not sourced: they stand for a plausible operator's week, not for any real one.

- ``national_week``: ``benchmarks/scale.py``'s week. Jobs come from a small menu of gang
  sizes, durations and allowed-accelerator sets, so identical jobs aggregate (2,000 jobs
  give a few hundred classes).
- ``distinct_week``: the same fleet and services, but each job draws its own gang size
  (any multiple of 8), duration (to 0.1 h) and allowed accelerator set, as a week of real
  submissions does; almost no two jobs are alike.
- ``time_of_use_week``: the national week over 168 hourly steps, each job released on a
  day boundary with a deadline on a later day boundary, inference following the built-in
  diurnal profile, every site on its hourly tariff.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import yaml

import hardware_catalog
from benchmarks.scale import DEFAULT_INFERENCE_TOKENS_PER_S, SLOS_MS, random_scenario
from planner.inputs import topology as topology_mod

HOURS_PER_DAY = 24
#: a distinct job's gang is 8 × k chips with k lognormal around 4 (median 32 chips), at most 2,048
GANG_MEDIAN_SERVERS = 4.0
GANG_SIGMA = 1.1
MAX_GANG_CHIPS = 2048
#: a distinct job's duration on the fastest chip: lognormal around 24 h, 1 h to a week
DURATION_MEDIAN_H = 24.0
DURATION_SIGMA = 0.9
#: slack after the earliest possible finish, in whole days, for time-of-use windows
SLACK_DAYS = [0, 1, 1, 2, 3]
#: the longest run (on the fastest allowed chip) a time-of-use job may have, so it fits in its week
TOU_LONGEST_RUN_H = 96.0
#: what one resume from a checkpoint costs a checkpointable job, per chip of its gang (CNY): the
#: energy of the work redone and the restart, about 0.75 h of the gang at ~1 kW per chip at the
#: meter (chip and PUE) and the 0.72 CNY/kWh eastern flat price of the built-in tariffs (drawn, not sourced)
CHECKPOINT_CNY_PER_CHIP = 0.7


def national_week(jobs: int = 2000, services: int = 200, cities: int = 12, sites: int = 10, accelerators: int = 12,
                  seed: int = 0, horizon_h: float = 168.0) -> dict[str, Any]:
    """The aggregating national week of ``benchmarks/scale.py`` (jobs from a menu of shapes)."""
    data = random_scenario(jobs, services, cities, sites, accelerators, seed, horizon_h=horizon_h)
    data["name"] = f"national-week-{jobs}j-{services}s-seed{seed}"
    return data


def distinct_week(jobs: int = 2000, services: int = 200, cities: int = 12, sites: int = 10, accelerators: int = 12,
                  seed: int = 0, horizon_h: float = 168.0,
                  inference_tokens_per_s: float = DEFAULT_INFERENCE_TOKENS_PER_S) -> dict[str, Any]:
    """A national week whose jobs do not aggregate: every job draws its own shape."""
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

    def allowed_set(lo: int, hi: int) -> list[str]:
        return sorted(rng.sample(accel_ids, rng.randint(lo, min(hi, len(accel_ids)))))

    job_list = []
    total_chip_demand = 0.0
    for j in range(jobs):
        servers = min(MAX_GANG_CHIPS // 8, max(1, round(rng.lognormvariate(math.log(GANG_MEDIAN_SERVERS), GANG_SIGMA))))
        chips = 8 * servers
        hours = min(horizon_h, max(1.0, rng.lognormvariate(math.log(DURATION_MEDIAN_H), DURATION_SIGMA)))
        allowed = allowed_set(2, 4)  # as scale.py's menu: 2-4 types, but any of the 781 such sets
        job_list.append({
            "id": f"job{j:05d}", "chips": chips, "allowed_accelerators": allowed,
            # the same work takes longer on a slower chip (bf16 peak ratio, capped at 4×)
            "duration_h_by_accelerator": {a: round(hours * min(4.0, ref / tflops[a]), 1) for a in allowed}})
        total_chip_demand += chips
    svc_list = []
    for v in range(services):
        allowed = allowed_set(2, 4)
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
    # inventory as scale.py: each site stocks 3-6 types, in all about 1.3× what the work asks for
    per_site = 1.3 * total_chip_demand / len(site_ids)
    site_plans = {}
    for s in site_ids:
        stocked = rng.sample(accel_ids, rng.randint(3, min(6, len(accel_ids))))
        shares = [rng.random() for _ in stocked]
        inv = {a: int(per_site * w / sum(shares) // 8 * 8) for a, w in zip(stocked, shares)}
        site_plans[s] = {"inventory": inv, "power_cap_mw": round(per_site * 1.5 * 1.3 / 1000 * 0.8, 1)}
    data = {"name": f"distinct-week-{jobs}j-{services}s-seed{seed}", "horizon_h": horizon_h, "sites": site_plans,
            "training_jobs": job_list, "inference_services": svc_list}
    _meetable_slos(data, topo, site_ids)
    return data


def time_of_use_week(jobs: int = 2000, services: int = 200, cities: int = 12, sites: int = 10,
                     accelerators: int = 12, seed: int = 0, distinct: bool = False,
                     checkpointable_share: float = 0.0, deadline_rank: int = 0) -> dict[str, Any]:
    """A 168 h week scheduled hour by hour: releases and deadlines on day boundaries, hourly tariffs.

    Jobs whose shortest run exceeds ``TOU_LONGEST_RUN_H`` are shortened to it (keeping the
    ratio between accelerators), so every job fits its week with room to move.

    ``deadline_rank`` 0 sets each deadline from the run on the fastest allowed accelerator, so
    most long jobs fit their window on that accelerator alone and queue for its few pools;
    1 sets it from the second fastest (a deadline the job's usual hardware can meet), which
    spreads the work as an operator's submission rules would. ``checkpointable_share`` of the
    jobs may be paused and resumed at checkpoints (``preemptible``), each resume costing
    ``CHECKPOINT_CNY_PER_CHIP`` per chip.
    """
    horizon_h = 7 * HOURS_PER_DAY
    make = distinct_week if distinct else national_week
    data = make(jobs, services, cities, sites, accelerators, seed, horizon_h=float(horizon_h))
    rng = random.Random(seed + 7)
    for job in data["training_jobs"]:
        d = job["duration_h_by_accelerator"]
        shortest = min(d.values())
        if shortest > TOU_LONGEST_RUN_H:
            job["duration_h_by_accelerator"] = d = {a: round(h * TOU_LONGEST_RUN_H / shortest, 1) for a, h in d.items()}
            shortest = min(d.values())
        runs = sorted(d.values())
        ref = runs[min(deadline_rank, len(runs) - 1)]
        ref = ref if ref <= horizon_h else shortest
        days = [r for r in range(7) if r * HOURS_PER_DAY + ref <= horizon_h]
        release = HOURS_PER_DAY * rng.choice(days)
        finish_day = math.ceil((release + ref) / HOURS_PER_DAY - 1e-9)
        deadline = min(horizon_h, HOURS_PER_DAY * (finish_day + rng.choice(SLACK_DAYS)))
        job["release_h"] = float(release)
        job["deadline_h"] = float(deadline)
        if checkpointable_share and rng.random() < checkpointable_share:
            job["preemptible"] = True
            job["checkpoint_cny"] = round(CHECKPOINT_CNY_PER_CHIP * job["chips"], 1)
    data["name"] = data["name"].replace("week", "tou-week", 1)
    data["horizon_h"] = float(horizon_h)
    data["time"] = {"mode": "time", "step_h": 1, "demand_profile": "builtin"}
    return data


def _meetable_slos(data: dict[str, Any], topo: Any, site_ids: list[str]) -> None:
    """Loosen an SLO to the nearest stocked site where no stocked site meets it (as scale.py does)."""
    site_plans = data["sites"]
    for svc in data["inference_services"]:
        stocked = [s for s in site_ids if any(a in site_plans[s]["inventory"] for a in svc["allowed_accelerators"])]
        worst = max(min(topo.rtt_ms(_node(topo, c, "city"), _node(topo, s, "site")) for s in stocked)
                    for c in svc["demand_tokens_per_s"])
        if worst > svc["rtt_slo_ms"]:
            svc["rtt_slo_ms"] = float(int(worst) + 1)


def _node(topo: Any, name: str, kind: str) -> str:
    other = topo.sites if kind == "city" else topo.cities
    return f"{kind}:{name}" if name in other else name


def write_scenario(data: dict[str, Any], path: str | Path) -> Path:
    """Write a scenario dict as a YAML file that ``planner.load_scenario`` reads."""
    path = Path(path)
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=1000), encoding="utf-8")
    return path


def distinct_shapes(data: dict[str, Any]) -> int:
    """How many different job shapes (gang, durations per accelerator, window) a scenario holds."""
    return len({(j["chips"], tuple(sorted(j.get("duration_h_by_accelerator", {}).items())),
                 j.get("release_h"), j.get("deadline_h")) for j in data["training_jobs"]})
