"""Where and when each job may run, and what each choice costs: priced once per solve.

The greedy schedules of time of use (``planner.core.timemodel.greedy_schedule``) run several
times in one solve (each job order, with and without the serving LP's guide, at chip-hour
prices), and each priced every (job, pool, start) again: 374,273 one-piece starts and 768,312
steps of checkpointable jobs on the 168 h national week; so did the chip-hour prices
(``planner.core.lagrange``). ``ScheduleOptions`` prices them once for all of them:

- ``starts[j]``: a one-piece job's (cost, pool, start) options, cheapest first (``start_cost``:
  power, transfer and unfinished work);
- ``steps[j]``: a checkpointable job's step costs, one row per pool of its windows
  (``step_power_cny``; inf outside the window), with its pools and first column;
- ``cheapest[j][p]``: the least a job can cost on pool p, capacity aside (a checkpointable job's
  resumes counted, ``cheapest_steps``): what the bounds charge it there.

The serving half of a greedy schedule keeps its memo here too (``serving_order``): per
(service, city, block) the pools in reach, cheapest per token first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.core.model import start_cost
from planner.problem.build import Pool, Problem
from planner.problem.costs import (
    StepPrices,
    cheapest_steps,
    replica_block_cny,
    step_power_per_price,
    transfer_cny,
)
from planner.problem.timedata import TimeData


@dataclass
class StepCosts:
    """A checkpointable job's step costs: ``rows[r]`` is pool ``pools[r]``'s cost of each step from
    ``first`` on (inf outside its window); ``fixed[r]`` its transfer and unfinished work there."""

    first: int
    pools: list[Pool]
    rows: np.ndarray
    fixed: list[float]


@dataclass
class ScheduleOptions:
    """Every job's options with their costs (see the module docstring)."""

    starts: dict[str, list[tuple[float, Pool, int]]]
    steps: dict[str, StepCosts]
    cheapest: dict[str, dict[Pool, float]]
    serving_memo: dict[tuple[str, str, int], list[tuple[float, Pool]]] = field(default_factory=dict)

    def serving_order(self, problem: Problem, td: TimeData, sid: str, city: str, b: int) -> list[tuple[float, Pool]]:
        """The pools ``sid``'s demand from ``city`` may be served from in block ``b``, cheapest per token
        first (``replica_token_cny``)."""
        key = (sid, city, b)
        order = self.serving_memo.get(key)
        if order is None:
            svc = problem.services[sid]
            order = self.serving_memo[key] = sorted((replica_token_cny(problem, td, sid, city, p, b), p)
                                                    for p in svc.pools if p[0] in svc.city_sites[city])
        return order


def schedule_options(problem: Problem, td: TimeData) -> ScheduleOptions:
    """Price every placeable job's options once (see the module docstring)."""
    prices = StepPrices(td)
    starts: dict[str, list[tuple[float, Pool, int]]] = {}
    steps: dict[str, StepCosts] = {}
    cheapest: dict[str, dict[Pool, float]] = {}
    for jid in problem.jobs:
        tj = td.jobs.get(jid)
        if tj is None or jid in td.pre_unplaced or not tj.windows:
            continue
        if tj.preemptible:
            costs = step_costs(problem, td, jid)
            least = cheapest_steps(costs.rows, [tj.windows[p].steps for p in costs.pools], tj.checkpoint_cny).cny
            steps[jid] = costs
            cheapest[jid] = {p: float(least[r]) + costs.fixed[r] for r, p in enumerate(costs.pools)}
        else:
            options = sorted((start_cost(problem, td, prices, jid, pool, t), pool, t)
                             for pool, w in tj.windows.items() for t in range(w.earliest, w.latest_start + 1))
            starts[jid] = options
            least_of: dict[Pool, float] = {}
            for cost, pool, _t in options:
                least_of.setdefault(pool, cost)
            cheapest[jid] = least_of
    return ScheduleOptions(starts, steps, cheapest)


def step_costs(problem: Problem, td: TimeData, jid: str) -> StepCosts:
    """What each step of checkpointable job ``jid``'s windows costs on each of its pools."""
    tj = td.jobs[jid]
    pools = sorted(tj.windows)
    first = min(tj.windows[p].earliest for p in pools)
    rows = np.full((len(pools), max(tj.windows[p].deadline for p in pools) - first), math.inf)
    for r, pool in enumerate(pools):
        w = tj.windows[pool]
        rows[r, w.earliest - first:w.deadline - first] = (
            step_power_per_price(problem, td, jid, pool) * np.asarray(td.price[pool][w.earliest:w.deadline]))
    fixed = [transfer_cny(td, jid, p[0]) + problem.jobs[jid].unfinished_work_cny(p[1]) for p in pools]
    return StepCosts(first, pools, rows, fixed)


def replica_token_cny(problem: Problem, td: TimeData, sid: str, city: str, pool: Pool, b: int) -> float:
    """What serving one token per second of ``sid``'s demand from ``city`` on ``pool`` costs per hour of
    block ``b`` (its replica's power per token, plus latency), as the greedy ranks pools."""
    svc = problem.services[sid]
    return ((replica_block_cny(problem, td, sid, pool, b) / td.block_hours(b)) / svc.replica_tokens_per_s(pool[1])
            + problem.latency_cny_per_token_per_s(sid, city, pool[0]) / problem.horizon_h)
