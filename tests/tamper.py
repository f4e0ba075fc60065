"""Tampering with plans the way a careful liar would: change a decision, then restate every figure
with the project's own pricing code so the plan is self-consistent. ``verify`` must still catch it.

Three small plans, one of each kind, solved once per session:

* spatial: two sites (east, west) with GPUs and NPUs, three training jobs (one a pair of copies),
  a chat service that can be served from both sites and a bulk service too large for the east
  site within its 5 ms SLO (so some of it is listed unplaced);
* time of use: the two-valley topology, a job with a dataset to move, a preemptible job and a chat
  service following the two-level demand profile;
* capacity: two periods, GPU and NPU boxes to buy, demand doubling in the second period.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from planner.check.tables import context_tables, time_summaries
from planner.check.timeline import _block_index, evaluate_timeline
from planner.check.verify import as_one_block
from planner.core.solve import solve
from planner.inputs.scenario import Scenario, scenario_from_dict
from planner.problem.build import Problem, build_problem, load_catalog_for, load_topology_for
from planner.problem.purchases import (
    HOURS_PER_YEAR,
    candidate_options,
    capital_recovery_factor,
    period_problems,
    realised_inventory,
    sites_only,
)
from planner.problem.timedata import TimeData, build_time_data, one_block, run_steps_of
from planner.results.columns import PLACEMENT_COLUMNS, REPLICA_COLUMNS, SCHEDULE_COLUMNS, SERVING_COLUMNS
from planner.studies.capacity import plan_capacity

DATA = Path(__file__).parent / "data"


def _scenario(base: Path, **changes: Any) -> Scenario:
    data = yaml.safe_load(base.read_text())
    data.update(copy.deepcopy(changes))
    return scenario_from_dict(data, file=str(base))


def spatial_scenario() -> Scenario:
    chat = {"id": "chat", "demand_tokens_per_s": {"metro": 2000}, "rtt_slo_ms": 40,
            "allowed_accelerators": ["gpu", "npu"], "tokens_per_s_per_chip": {"gpu": 100, "npu": 250},
            "chips_per_replica": {"gpu": 4, "npu": 4}, "unserved_cny_per_mtokens": 80}
    bulk = {"id": "bulk", "demand_tokens_per_s": {"metro": 50000}, "rtt_slo_ms": 5,
            "allowed_accelerators": ["npu"], "tokens_per_s_per_chip": {"npu": 250},
            "chips_per_replica": {"npu": 4}, "unserved_cny_per_mtokens": 80}
    jobs = [{"id": "train", "chips": 8, "duration_h": 10, "allowed_accelerators": ["gpu", "npu"]},
            {"id": "tune", "chips": 4, "duration_h": 6, "allowed_accelerators": ["gpu"], "count": 2},
            {"id": "huge", "chips": 64, "duration_h": 6, "allowed_accelerators": ["gpu"]}]
    return _scenario(DATA / "core" / "base.yaml", training_jobs=jobs, inference_services=[chat, bulk])


def time_scenario() -> Scenario:
    chat = {"id": "chat", "demand_tokens_per_s": {"metro": 1000}, "rtt_slo_ms": 5,
            "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100}, "chips_per_replica": {"gpu": 2}}
    jobs = [{"id": "train", "chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"],
             "dataset_origin": "metro", "dataset_gb": 500},
            {"id": "split", "chips": 4, "duration_h": 6, "allowed_accelerators": ["gpu"], "preemptible": True,
             "checkpoint_cny": 1.0}]
    data = yaml.safe_load((DATA / "time" / "base.yaml").read_text())
    data.update(sites={"east": {"inventory": {"gpu": 16}}, "west": {"inventory": {"gpu": 8}}},
                training_jobs=jobs, inference_services=[chat])
    data["time"] = {**data["time"], "demand_profile": "two_level.csv"}
    return scenario_from_dict(data, file=str(DATA / "time" / "base.yaml"))


def capacity_scenario() -> Scenario:
    service = {"id": "chat", "demand_tokens_per_s": {"metro": 3000}, "rtt_slo_ms": 5,
               "unserved_cny_per_mtokens": 50,
               "allowed_accelerators": ["gpu", "npu"], "tokens_per_s_per_chip": {"gpu": 100, "npu": 250},
               "chips_per_replica": {"gpu": 8, "npu": 8}}
    capacity = {"candidates": [{"system": "gpu-box", "price_cny": 100_000, "max_units_per_site": 6},
                               {"system": "npu-box", "price_cny": 120_000, "max_units_per_site": 6,
                                "lead_time_periods": 1}],
                "periods": [{"name": "y1"}, {"name": "y2", "inference_growth": 2.0}],
                "supply_chips_per_period": {"npu": 16}, "budget_cny": 2_000_000,
                "interest_rate": 0.05, "amortisation_years": 5, "maintenance_fraction_per_year": 0.03}
    return _scenario(DATA / "core" / "base.yaml", horizon_h=8760, sites={"east": {"inventory": {"gpu": 8}}},
                     training_jobs=[], inference_services=[service], capacity=capacity)


@lru_cache(maxsize=None)
def _solved(kind: str) -> str:
    if kind == "spatial":
        return solve(spatial_scenario(), time_limit_s=10, workers=1).to_json()
    if kind == "time":
        return solve(time_scenario(), time_limit_s=10, workers=1).to_json()
    return plan_capacity(capacity_scenario(), time_limit_s=10, workers=1).to_json()


def plan_of(kind: str) -> dict[str, Any]:
    """A fresh copy of the solved plan of ``kind`` (spatial, time or capacity), as its JSON file holds it."""
    import json

    return json.loads(_solved(kind))


def scenario_of(kind: str) -> Scenario:
    return {"spatial": spatial_scenario, "time": time_scenario, "capacity": capacity_scenario}[kind]()


# -- restating figures with the project's own code ------------------------------------------------------
def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    return json.loads(df.to_json(orient="records")) if len(df) else []


def restate_spatial(problem: Problem, plan: dict[str, Any]) -> dict[str, Any]:
    """Recompute every figure of a spatial plan from its (tampered) placements and routing."""
    for row in plan.get("placements", []):
        site, accel = row["site"], row["accelerator"]
        if site not in problem.sites or accel not in problem.accels:
            continue
        if row["kind"] == "inference":
            svc = problem.services.get(row["workload"])
            if svc is None or accel not in svc.chips_per_replica:
                continue
            row["chips"] = int(row["replicas"]) * svc.chips_per_replica[accel]
            hours = problem.horizon_h
        else:
            job = problem.jobs.get(row["workload"])
            hours = job.hours.get(accel) if job else None
        if hours is None:
            continue
        kwh = problem.energy_kwh(site, accel, int(row["chips"]), hours)
        row.update(hours=hours, energy_mwh=kwh / 1000, power_cost_cny=kwh * problem.price_cny_per_kwh(site, accel))
    placements = pd.DataFrame(plan.get("placements", []), columns=PLACEMENT_COLUMNS)
    ok = [i for i, r in enumerate(plan.get("placements", []))
          if (r["site"], r["accelerator"]) in problem.inventory and r["chips"] >= 0 and (
              (r["kind"] == "inference" and r["workload"] in problem.services
               and r["accelerator"] in problem.services[r["workload"]].chips_per_replica)
              or (r["workload"] in problem.jobs and r["accelerator"] in problem.jobs[r["workload"]].hours))]
    valid = placements.iloc[ok]
    # priced as the write-back prices a spatial plan: the schedule over one block of the whole horizon
    td = one_block(problem)
    decisions, _ = as_one_block(problem, {**plan, "placements": [plan["placements"][i] for i in ok]})
    schedule = pd.DataFrame(decisions["schedule"], columns=SCHEDULE_COLUMNS)
    schedule = schedule[[(r.site, r.accelerator) in td.jobs[r.workload].windows for r in schedule.itertuples()]]
    replicas = pd.DataFrame(decisions["replicas"], columns=REPLICA_COLUMNS)
    serving = pd.DataFrame(decisions["serving"], columns=SERVING_COLUMNS)
    serving = serving[[r.service in problem.services and (r.city, r.site) in problem.rtt_ms
                       for r in serving.itertuples()]]
    objective, kpis, _hourly = evaluate_timeline(problem, td, schedule, replicas, serving)
    plan["objective"].update(objective)
    plan["kpis"].update(kpis)
    sites, inventory, cities = context_tables(problem, valid)
    plan.update(sites=_records(sites), inventory=_records(inventory), cities=_records(cities))
    return plan


def restate_time(problem: Problem, td: TimeData, plan: dict[str, Any]) -> dict[str, Any]:
    """Recompute every figure of a time-of-use plan from its (tampered) schedule, replicas and serving."""
    segs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in plan.get("schedule", []):
        segs[row["workload"]].append(row)
    for jid, rows in segs.items():
        pool = (rows[0]["site"], rows[0]["accelerator"])
        if jid not in td.jobs or pool not in td.jobs[jid].windows:
            continue
        rows.sort(key=lambda r: r["start_h"])
        spans = [(int(round(r["start_h"] / td.step_h)), int(round(r["end_h"] / td.step_h))) for r in rows]
        if any(s < 0 or e > td.steps or e <= s for s, e in spans):
            continue
        fracs = td.busy_fractions(jid, pool, len(run_steps_of(spans)))
        i = 0
        for row, (s, e) in zip(rows, spans):
            kwh = cost = 0.0
            for u, f in zip(range(s, e), fracs[i:i + e - s]):
                piece = problem.jobs[jid].chips * problem.meter_kw_per_chip(*pool) * td.step_h * f
                kwh += piece
                cost += piece * td.price[pool][u]
            i += e - s
            row.update(chips=problem.jobs[jid].chips, energy_mwh=kwh / 1000, power_cost_cny=problem.power_cost_weight * cost)
    schedule = pd.DataFrame(plan.get("schedule", []), columns=SCHEDULE_COLUMNS)
    keep = [jid for jid, rows in segs.items() if jid in td.jobs
            and {(r["site"], r["accelerator"]) for r in rows} <= set(td.jobs[jid].windows)
            and len({(r["site"], r["accelerator"]) for r in rows}) == 1
            and all(0 <= r["start_h"] < r["end_h"] <= td.horizon_h for r in rows)]
    schedule = schedule[schedule.workload.isin(keep)]
    replicas = pd.DataFrame(plan.get("replicas", []), columns=REPLICA_COLUMNS)
    replicas = replicas[[r.service in problem.services and (r.site, r.accelerator) in problem.services[r.service].pools
                         and r.replicas >= 0 and _block_index(td, r.start_h, r.end_h) is not None
                         for r in replicas.itertuples(index=False)]]
    serving = pd.DataFrame(plan.get("serving", []), columns=SERVING_COLUMNS)
    serving = serving[[r.service in problem.services and r.tokens_per_s > 0
                       and r.accelerator in problem.services[r.service].tokens_per_s_per_chip
                       and r.city in problem.services[r.service].demand_tokens_per_s
                       and _block_index(td, r.start_h, r.end_h) is not None
                       for r in serving.itertuples(index=False)]]
    objective, kpis, hourly = evaluate_timeline(problem, td, schedule, replicas, serving)
    plan["objective"].update(objective)
    plan["kpis"].update(kpis)
    placements, routing, gantt = time_summaries(problem, td, schedule, replicas, serving)
    sites, inventory, cities = context_tables(problem, placements, hourly)
    plan.update(hourly=_records(hourly), placements=_records(placements), routing=_records(routing),
                timeline=_records(gantt), sites=_records(sites), inventory=_records(inventory))
    return plan


def restate_capacity(scenario: Scenario, plan: dict[str, Any]) -> dict[str, Any]:
    """Recompute every figure of a capacity plan from its (tampered) purchases and period placements."""
    cap = scenario.capacity
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    options, _ = candidate_options(scenario, catalog, sites_only(scenario, topology))
    by_key = {(o.site, o.system): o for o in options}
    names = [p.name for p in cap.periods]
    crf = capital_recovery_factor(cap.interest_rate, cap.amortisation_years)
    annual = HOURS_PER_YEAR / scenario.horizon_h
    bought: dict[tuple[int, Any], int] = defaultdict(int)
    for row in plan["purchases"]:
        o = by_key.get((row["site"], row["system"]))
        if o is None or row["period"] not in names:
            continue
        t, n = names.index(row["period"]), int(row["units"])
        bought[(t, o)] += n
        row.update(accelerator=o.accelerator, chips=n * o.chips, capex_cny=n * o.price_cny,
                   annualised_cny_per_year=n * o.price_cny * crf,
                   in_service_from=names[t + o.lead] if t + o.lead < len(names) else "after horizon")
    on_hand = {(s, a): n for s, sp in scenario.sites.items() for a, n in sp.inventory.items() if n > 0}
    totals: dict[str, float] = defaultdict(float)
    for t, problem in enumerate(period_problems(scenario, options, catalog, topology)):
        period = plan["periods"].get(names[t])
        if period is None:
            continue
        real = dataclasses.replace(problem, inventory=realised_inventory(on_hand, dict(bought), t))
        restate_spatial(real, period)
        owned = [(tau, o, n) for (tau, o), n in bought.items() if tau <= t]
        annualised = sum(n * o.price_cny * crf for _tau, o, n in owned)
        maintenance = sum(n * o.price_cny * cap.maintenance_fraction_per_year for _tau, o, n in owned)
        power = annual * period["objective"]["power_cost_cny"]
        served = period["kpis"]["served_tokens_per_s"] * 3600 * HOURS_PER_YEAR / 1e6
        owned_chips = sum(real.inventory.values())
        period["kpis"].update(
            capex_cny=sum(n * o.price_cny for tau, o, n in owned if tau == t),
            annualised_capex_cny_per_year=annualised, maintenance_cny_per_year=maintenance,
            power_cost_cny_per_year=power,
            cny_per_mtokens_all_in=(annualised + maintenance + power) / served if served else 0.0,
            chips_owned=owned_chips,
            chip_utilisation=period["kpis"]["chips_used"] / owned_chips if owned_chips else 0.0)
        totals["annualised_capex_cny_per_year"] += annualised
        totals["maintenance_cny_per_year"] += maintenance
        totals["power_cost_cny_per_year"] += power
        totals["latency_cny_per_year"] += annual * period["objective"]["latency_cny"]
        totals["unplaced_penalty_cny_per_year"] += annual * period["objective"]["unplaced_penalty_cny"]
        totals["unfinished_work_cny_per_year"] += annual * period["objective"]["unfinished_work_cny"]
    plan["objective"].update({"total_cny_per_year": sum(totals.values()), **totals})
    rows = [r for r in plan["purchases"] if (r["site"], r["system"]) in by_key]
    plan["kpis"].update(capex_cny=sum(r["capex_cny"] for r in rows), systems_bought=sum(r["units"] for r in rows),
                        chips_bought=sum(r["chips"] for r in rows))
    return plan


def restate(kind: str, scenario: Scenario, plan: dict[str, Any]) -> dict[str, Any]:
    """Make a tampered plan self-consistent with the project's own pricing code."""
    if kind == "capacity":
        return restate_capacity(scenario, plan)
    problem = build_problem(scenario)
    if kind == "time":
        return restate_time(problem, build_time_data(scenario, problem), plan)
    return restate_spatial(problem, plan)
