"""Price a plan in plain Python: objective terms and KPIs from placements and routing.

Used by the solver's write-back and by ``verify`` alike, so the figures a
planner reads are always recomputed from the plan itself, never taken from
the solver's scaled integers.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from planner.problem.build import Problem


def evaluate(problem: Problem, placements: pd.DataFrame, routing: pd.DataFrame) -> tuple[dict, dict]:
    """Return (objective terms in CNY, KPIs) for a plan."""
    power_cost = energy_kwh = carbon_kg = 0.0
    inference_cost = unfinished = 0.0
    placed_jobs: set[str] = set()
    site_meter_kw: dict[str, float] = defaultdict(float)
    for row in placements.itertuples(index=False):
        hours = problem.horizon_h if row.kind == "inference" else problem.jobs[row.workload].hours[row.accelerator]
        kwh = problem.energy_kwh(row.site, row.accelerator, int(row.chips), hours)
        cost = kwh * problem.price_cny_per_kwh(row.site, row.accelerator)
        power_cost += cost
        energy_kwh += kwh
        carbon_kg += kwh * (problem.sites[row.site].carbon_kg_per_kwh or 0.0)
        site_meter_kw[row.site] += int(row.chips) * problem.meter_kw_per_chip(row.site, row.accelerator)
        if row.kind != "inference":
            placed_jobs.add(row.workload)
            unfinished += problem.jobs[row.workload].unfinished_work_cny(row.accelerator)
        else:
            inference_cost += cost

    served: dict[tuple[str, str], float] = defaultdict(float)
    latency = weighted_rtt = 0.0
    max_rtt = 0.0
    total_served = 0.0
    for row in routing.itertuples(index=False):
        tps = float(row.tokens_per_s)
        if tps <= 0:
            continue
        served[(row.service, row.city)] += tps
        rtt = problem.rtt_ms[(row.city, row.site)]
        latency += tps * problem.latency_cny_per_token_per_s(row.service, row.city, row.site)
        weighted_rtt += tps * rtt
        max_rtt = max(max_rtt, rtt)
        total_served += tps

    unplaced = sum(job.penalty_cny for jid, job in problem.jobs.items() if jid not in placed_jobs)
    demand_total = unserved_total = 0.0
    for svc in problem.services.values():
        for city, demand in svc.demand_tokens_per_s.items():
            short = max(0.0, demand - served[(svc.id, city)])
            unserved_total += short
            demand_total += demand
            unplaced += short * problem.unserved_cny_per_token_per_s(svc.id)

    served_mtokens = total_served * 3600 * problem.horizon_h / 1e6
    terms = {
        "total_cny": problem.power_cost_weight * power_cost + latency + unplaced + unfinished,
        "power_cost_cny": problem.power_cost_weight * power_cost,
        "latency_cny": latency,
        "unplaced_penalty_cny": unplaced,
        "unfinished_work_cny": unfinished,  # the share of a run longer than the horizon left undone
    }
    kpis = {
        "power_cost_cny": power_cost,
        "energy_mwh": energy_kwh / 1000,
        "carbon_t": carbon_kg / 1000,
        "mean_rtt_ms": weighted_rtt / total_served if total_served else 0.0,
        "max_rtt_ms": max_rtt,
        "served_tokens_per_s": total_served,
        "unserved_tokens_per_s": unserved_total,
        "demand_tokens_per_s": demand_total,
        "inference_cny_per_mtokens": inference_cost / served_mtokens if served_mtokens else 0.0,
        "chips_used": int(placements["chips"].sum()) if len(placements) else 0,
        "jobs_placed": len(placed_jobs),
        "jobs_unplaced": len(problem.jobs) - len(placed_jobs),
        "peak_site_power_mw": max(site_meter_kw.values(), default=0.0) / 1000,
    }
    return terms, kpis
