"""Chip-hour prices for time of use, from the jobs' Lagrangian relaxation around a plan's serving.

The greedy schedule places each job at its cheapest start that still fits, one job after
another. A job with a wide window takes the cheap hours first, even when a job that can only
run then comes later and is left out or pushed to a dear pool. Prices on each pool's chips,
hour by hour, tell the first job what its hours are worth to the others.

The prices come from the start-indexed relaxation of the jobs' schedule around the serving
of a plan (its replicas hold their chips; ``cap[p,u]`` is what they leave on pool p at step
u). Dualising the chip rows with prices λ ≥ 0 splits it job by job::

  L(λ) = Σ_j min( pen_j,  min over (p, t) of  start_cost(j,p,t) + chips_j·Σ_{u in run} λ[p,u] )
         − Σ_p,u λ[p,u]·cap[p,u]

(a checkpointable job takes the cheapest ``steps`` of its window, each priced as the model
prices a run step, its resume costs left out). ``L`` is concave; λ climbs it by projected
subgradient steps (Polyak's step towards the plan's own job cost, halved when ``L`` stops
rising). Every ``L(λ)`` bounds the jobs' cost around *that* serving only, so it is not a
bound on the model and is never reported as one: only the prices are used
(``planner.core.timemodel.greedy_schedule``'s ``chip_prices``).

On the flexible national week of time of use (2,000 jobs, 40 % checkpointable), around the
plan's serving, ``L`` rose from 4.30 M CNY (no prices) to 5.06 M in 120 steps of 0.1 s,
against the plan's 5.68 M of jobs; the greedy with half those prices placed the jobs for
5.58 M.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from planner.core.model import TimePlan, placed_cost
from planner.core.options import ScheduleOptions, schedule_options
from planner.problem.build import Pool, Problem
from planner.problem.costs import StepPrices
from planner.problem.timedata import TimeData

#: projected subgradient steps at most (each prices every job once: 0.1 s at 2,000 jobs)
MAX_STEPS = 120
#: Polyak's step is halved after this many steps without a higher ``L``
STALL_STEPS = 5


@dataclass
class _Option:
    pool: int  # row in the price matrix
    chips: int
    starts: np.ndarray | None  # a run in one piece: its possible starts and what each costs
    costs: np.ndarray
    steps: int
    first: int = 0  # a checkpointable job: its window's first step (``costs`` one per step of the window)
    fixed_cny: float = 0.0  # its transfer and unfinished work


@dataclass
class ChipHourPrices:
    """λ[p][u] (CNY per chip and step) for each pool, and how they were found."""

    prices: dict[Pool, np.ndarray]
    info: dict


def chip_hour_prices(problem: Problem, td: TimeData, plan: TimePlan, time_limit_s: float,
                     max_steps: int = MAX_STEPS, options: ScheduleOptions | None = None) -> ChipHourPrices:
    """Prices on each pool's chips step by step, from the jobs' Lagrangian relaxation around
    ``plan``'s serving (see the module docstring); all zero where no job competes. ``options`` holds
    every job's options already priced (``schedule_options``)."""
    t0 = time.perf_counter()
    pools = sorted(problem.inventory)
    row = {p: i for i, p in enumerate(pools)}
    T = td.steps
    cap = np.array([[problem.inventory[p]] * T for p in pools], dtype=float)
    for (sid, site, accel, b), n in plan.replicas.items():
        s, e = td.blocks[b]
        cap[row[(site, accel)], s:e] -= problem.services[sid].chips_per_replica[accel] * n
    np.maximum(cap, 0.0, out=cap)
    jobs, constant = _options(problem, td, row, schedule_options(problem, td) if options is None else options)
    target = plan_jobs_cny(problem, td, plan)
    lam = np.zeros_like(cap)
    best_lam, best = lam, -np.inf
    theta, stall, steps = 1.0, 0, 0
    while steps < max_steps and time.perf_counter() - t0 < time_limit_s:
        value, use = _dual(jobs, constant, lam, cap)
        steps += 1
        if value > best + 1e-9:
            best, best_lam, stall = value, lam, 0
        else:
            stall += 1
            if stall >= STALL_STEPS:
                theta, stall = theta / 2, 0
        g = use - cap
        g[(lam <= 0) & (g < 0)] = 0.0  # a price at zero cannot fall
        norm = float((g * g).sum())
        if norm == 0.0 or target <= value:
            break
        lam = np.maximum(0.0, lam + theta * (target - value) / norm * g)
    info = {"lagrange_steps": steps, "lagrange_s": round(time.perf_counter() - t0, 3),
            "lagrange_jobs_relaxed_cny": round(best, 2) if np.isfinite(best) else None,
            "lagrange_plan_jobs_cny": round(target, 2)}
    return ChipHourPrices({p: best_lam[row[p]] for p in pools}, info)


def plan_jobs_cny(problem: Problem, td: TimeData, plan: TimePlan) -> float:
    """What the plan's jobs cost as the model prices them: each placed job's run, each other job's penalty."""
    prices = StepPrices(td)
    return sum(placed_cost(problem, td, prices, jid, *plan.segments[jid]) if jid in plan.segments
               else job.penalty_cny for jid, job in problem.jobs.items())


def _options(problem: Problem, td: TimeData, row: dict[Pool, int], options: ScheduleOptions
             ) -> tuple[list[tuple[float, list[_Option]]], float]:
    """Per placeable job its penalty and its (pool, start) options with their costs; the penalties of
    the jobs no plan can place."""
    jobs, constant = [], 0.0
    for jid, job in problem.jobs.items():
        tj = td.jobs.get(jid)
        if tj is None or jid in td.pre_unplaced or not tj.windows:
            constant += job.penalty_cny
            continue
        out = []
        if tj.preemptible:
            sc = options.steps[jid]
            for r, pool in enumerate(sc.pools):
                w = tj.windows[pool]
                out.append(_Option(row[pool], job.chips, None, sc.rows[r, w.earliest - sc.first:w.deadline - sc.first],
                                   w.steps, w.earliest, sc.fixed[r]))
        else:
            by_pool: dict[Pool, tuple[list[int], list[float]]] = {}
            for cost, pool, t in options.starts[jid]:
                starts, costs = by_pool.setdefault(pool, ([], []))
                starts.append(t)
                costs.append(cost)
            out = [_Option(row[pool], job.chips, np.array(starts), np.array(costs), tj.windows[pool].steps)
                   for pool, (starts, costs) in by_pool.items()]
        jobs.append((job.penalty_cny, out))
    return jobs, constant


def _dual(jobs: list[tuple[float, list[_Option]]], constant: float, lam: np.ndarray, cap: np.ndarray
          ) -> tuple[float, np.ndarray]:
    """L(λ) and the chips each pool's steps would hold if every job took its cheapest priced option."""
    T = lam.shape[1]
    prefix = np.concatenate([np.zeros((lam.shape[0], 1)), np.cumsum(lam, axis=1)], axis=1)
    total = constant - float((lam * cap).sum())
    use = np.zeros_like(cap)
    for penalty, options in jobs:
        best, taken = penalty, None
        for o in options:
            if o.starts is not None:
                ends = np.minimum(o.starts + o.steps, T)
                priced = o.costs + o.chips * (prefix[o.pool, ends] - prefix[o.pool, o.starts])
                k = int(np.argmin(priced))
                if priced[k] < best:
                    best, taken = float(priced[k]), (o, slice(int(o.starts[k]), int(ends[k])))
            else:
                priced = o.costs + o.chips * lam[o.pool, o.first:o.first + len(o.costs)]
                cheapest = np.argpartition(priced, o.steps - 1)[:o.steps] if o.steps < len(priced) else \
                    np.arange(len(priced))
                value = float(priced[cheapest].sum()) + o.fixed_cny
                if value < best:
                    best, taken = value, (o, cheapest + o.first)
        total += best
        if taken is not None:
            o, where = taken
            use[o.pool, where] += o.chips
    return total, use
