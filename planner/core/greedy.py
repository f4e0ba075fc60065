"""A greedy plan: the warm start for CP-SAT and the baseline in benchmarks.

Each (service, city) demand, the most constrained first (fewest sites within its
SLO, then the largest), is routed to the site with the lowest cost per token
(power + latency) within its SLO, adding replicas as needed while chips and
power last. Then training jobs, largest first, go to the cheapest pool that still
has the chips and the power (power plus, for a job longer than the horizon, the
unfinished share of its run priced like unplaced work: ``Problem.job_cost_cny``);
a job whose cheapest option costs more than its penalty stays unplaced.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from planner.problem.build import Pool, Problem


@dataclass
class Plan:
    """A plan in the problem's own terms: job → pool, replicas and flows."""

    job_pool: dict[str, Pool] = field(default_factory=dict)
    replicas: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (service, site, accel)
    flow: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (service, city, site) tokens/s


def greedy_plan(problem: Problem) -> Plan:
    plan = Plan()
    free = dict(problem.inventory)
    power_free = {s: d.power_cap_kw for s, d in problem.sites.items()}

    def fits(pool: Pool, chips: int) -> bool:
        return free.get(pool, 0) >= chips and power_free[pool[0]] + 1e-9 >= chips * problem.meter_kw_per_chip(*pool)

    def take(pool: Pool, chips: int) -> None:
        free[pool] -= chips
        power_free[pool[0]] -= chips * problem.meter_kw_per_chip(*pool)

    # spare capacity of replicas already bought, per (service, site, accel)
    spare: dict[tuple[str, str, str], float] = defaultdict(float)
    demands = [(svc.id, city, d) for svc in problem.services.values() for city, d in svc.demand_tokens_per_s.items()]
    # the most constrained demand first (fewest sites within its SLO), then the largest
    demands.sort(key=lambda x: (len(problem.services[x[0]].city_sites[x[1]]), -x[2], x[0], x[1]))
    for sid, city, demand in demands:
        svc = problem.services[sid]
        left = math.floor(demand + 1e-9)
        unserved_rate = problem.unserved_cny_per_token_per_s(sid)

        def per_token(site: str, accel: str) -> float:
            return (problem.replica_cost_cny(sid, (site, accel)) / svc.replica_tokens_per_s(accel)
                    + problem.latency_cny_per_token_per_s(sid, city, site))

        options = sorted((per_token(p[0], p[1]), p) for p in svc.pools if p[0] in svc.city_sites[city])
        for unit_cost, (site, accel) in options:
            if left <= 0:
                break
            if unit_cost > unserved_rate:
                break
            key = (sid, site, accel)
            use = min(left, math.floor(spare[key]))
            per_replica = math.floor(svc.replica_tokens_per_s(accel) + 1e-9)
            cpr = svc.chips_per_replica[accel]
            while use < left and fits((site, accel), cpr):
                take((site, accel), cpr)
                plan.replicas[key] = plan.replicas.get(key, 0) + 1
                spare[key] += per_replica
                use = min(left, math.floor(spare[key]))
            if use > 0:
                spare[key] -= use
                plan.flow[(sid, city, site)] = plan.flow.get((sid, city, site), 0) + use
                left -= use
    # training last: gangs are flexible in where they go, SLO-bound demand is not
    for job in sorted(problem.jobs.values(), key=lambda j: (-j.chips * min(j.hours.values(), default=0.0), j.id)):
        options = sorted((problem.job_cost_cny(job.id, p), p) for p in job.pools if fits(p, job.chips))
        if options and options[0][0] <= job.penalty_cny:
            plan.job_pool[job.id] = options[0][1]
            take(options[0][1], job.chips)

    return plan
