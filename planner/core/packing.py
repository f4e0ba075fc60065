"""Oversubscribed pools in time of use: a time-indexed bound, and a repacking of the plan.

When most jobs' windows fit only their fastest accelerator, a few pools are asked for more
chip-hours than they hold and the plan leaves work unplaced. The capacity-free bound ignores
that, and the energetic bound (``planner.core.timemodel.energetic_bound``) sees it only over
whole windows. For the jobs whose only pool is p (``hot_pools``: non-preemptible, one window,
and a pool whose windows ask for more chips than it holds at some step), the time-indexed
formulation is exact::

  x[j,t] ≥ 0 (LP) or ∈ {0,1} (MIP)   job j starts on p at step t, earliest_j ≤ t ≤ latest_j
  min   Σ_j pen_j + Σ_j,t (start_cost(j,p,t) − pen_j)·x[j,t]
  s.t.  Σ_t x[j,t] ≤ 1                                         (each job at most once)
        Σ_j Σ_{t ≤ u < t+steps_j} chips_j·x[j,t] ≤ cap_p(u)    (chips at every step u)
        Σ_{j, p at s} W_p·chips_j·x[j,t] (over t covering u) ≤ capw_s(u)   (watts, repacking only)

``packing_bound``: with cap_p = the whole inventory (serving and every other job dropped), the
LP optimum bounds what those jobs cost in any plan, and every other job still costs at least its
cheapest run or its penalty; so the capacity-free bound with each hot pool's jobs replaced by
its LP bounds the full model. ``repack``: with cap_p and capw_s net of everything else the plan
runs, the MIP (HiGHS) re-places those jobs; the caller keeps the result only if it is cheaper.
"""

from __future__ import annotations

import datetime
import time
from collections import defaultdict

from ortools.math_opt.python import mathopt

from planner.core.model import TimePlan, meter_watts, site_cap_w, start_cost
from planner.core.serving_lp import ServingLP, serving_block_nochip
from planner.core.twophase import native_output_silenced
from planner.problem.build import Pool, Problem
from planner.problem.costs import StepPrices
from planner.problem.timedata import TimeData

#: GLOP's optimum is exact to its tolerances; the bound is shaded down by this share
SHADE = 1e-7


def hot_pools(problem: Problem, td: TimeData) -> dict[Pool, list[str]]:
    """Pools whose single-pool, non-preemptible jobs ask for more chips than the pool holds at
    some step (if each ran anywhere in its window), with those jobs."""
    single: dict[Pool, list[str]] = defaultdict(list)
    for jid, tj in td.jobs.items():
        if jid in td.pre_unplaced or tj.preemptible or len(tj.windows) != 1:
            continue
        single[next(iter(tj.windows))].append(jid)
    out = {}
    for pool, jobs in single.items():
        load = [0] * td.steps
        for jid in jobs:
            w = td.jobs[jid].windows[pool]
            for u in range(w.earliest, w.deadline):
                load[u] += problem.jobs[jid].chips
        if max(load, default=0) > problem.inventory.get(pool, 0):
            out[pool] = sorted(jobs)
    return out


def chip_prices(problem: Problem, td: TimeData, pools: dict[Pool, list[str]]) -> dict[Pool, float]:
    """What an hour of one chip of each hot pool is worth to the jobs waiting for it (CNY): the mean
    unplaced penalty per chip-hour of its jobs."""
    out = {}
    for pool, jobs in pools.items():
        chip_h = sum(problem.jobs[j].chips * td.jobs[j].windows[pool].steps * td.step_h for j in jobs)
        out[pool] = sum(problem.jobs[j].penalty_cny for j in jobs) / chip_h if chip_h else 0.0
    return out


def packing_bound(problem: Problem, td: TimeData, runs: dict[str, dict[Pool, float]], capacity_free: float,
                  time_limit_s: float = 10.0) -> tuple[float | None, dict]:
    """``capacity_free`` (``relaxed_bound``) with each hot pool's jobs priced by their time-indexed
    LP on the whole pool instead of their cheapest runs (CNY), or None if no pool is hot or an LP
    did not solve in time."""
    t0 = time.perf_counter()
    pools = hot_pools(problem, td)
    if not pools:
        return None, {}
    prices = StepPrices(td)
    total = capacity_free
    for pool, jobs in sorted(pools.items(), key=lambda kv: -len(kv[1])):
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0:
            return None, {"packing_pools": len(pools), "packing_s": round(time.perf_counter() - t0, 3)}
        cap = [problem.inventory[pool]] * td.steps
        value, _starts = _pack(problem, td, prices, pool, jobs, cap, None, left, integer=False)
        if value is None:
            return None, {"packing_pools": len(pools), "packing_s": round(time.perf_counter() - t0, 3)}
        cheapest = sum(min([problem.jobs[j].penalty_cny, *runs.get(j, {}).values()]) for j in jobs)
        total += max(0.0, value * (1 - SHADE) - cheapest)
    return total, {"packing_pools": len(pools), "packing_s": round(time.perf_counter() - t0, 3)}


def serving_packing_bound(problem: Problem, td: TimeData, runs: dict[str, dict[Pool, float]], capacity_free: float,
                          samples: list[ServingLP], time_limit_s: float = 10.0) -> float | None:
    """``packing_bound`` with serving in the same LP (CNY), or None if no pool is hot or the LP did not
    solve in time.

    The packing bound gives each hot pool's jobs the whole pool, and serving is bounded apart as if
    it had every chip: both cannot hold. Here s[u,p] ≥ 0 is what serving holds of hot pool p at step
    u, and serving's cost per hour at u, θ[u], is bounded below by each solved serving LP in
    ``samples`` (solved with chip prices π on the hot pools, π = 0 included): for any plan, serving's
    hour costs at least ``hourly[b] − Σ_p π_p·s[u,p]`` (Lagrange's weak duality, π ≥ 0), and at
    least the capacity-free bound of its block::

        min  Σ_u step_h·θ[u] + Σ_j,t (start_cost(j,p,t) − pen_j)·x[j,t] + Σ_j pen_j
        s.t. θ[u] ≥ nochip(b(u)),  θ[u] + Σ_p π_k,p·s[u,p] ≥ hourly_k[b(u)]     (each sample k)
             Σ_t x[j,t] ≤ 1;   Σ_{jobs running at u} chips_j·x[j,t] + s[u,p] ≤ inv_p

    Every other job keeps its cheapest run or its penalty, as in ``capacity_free``. With only the
    π = 0 sample the LP puts s = 0 and gives the packing bound plus serving's LP gain; each priced
    sample can only raise it."""
    pools = hot_pools(problem, td)
    if not pools or not samples:
        return None
    prices = StepPrices(td)
    model = mathopt.Model(name="serving-packing")
    objective = []
    constant = 0.0
    held = {(u, pool): model.add_variable(lb=0.0, ub=problem.inventory[pool])
            for pool in pools for u in range(td.steps)}
    for pool, jobs in pools.items():
        terms, pens, use, _x = _starts(model, problem, td, prices, pool, jobs, integer=False)
        objective += terms
        constant += pens
        for u in range(td.steps):
            model.add_linear_constraint(mathopt.fast_sum(c * v for c, v in use[u]) + held[(u, pool)]
                                        <= problem.inventory[pool])
    for b, (start, end) in enumerate(td.blocks):
        floor = serving_block_nochip(problem, td, b) / td.block_hours(b)
        for u in range(start, end):
            theta = model.add_variable(lb=floor)
            objective.append(td.step_h * theta)
            for sample in samples:
                if b in sample.hourly:
                    model.add_linear_constraint(theta + mathopt.fast_sum(
                        sample.chip_price.get(pool, 0.0) * held[(u, pool)] for pool in pools) >= sample.hourly[b])
    model.minimize(mathopt.fast_sum(objective) + constant)
    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=max(0.1, time_limit_s)))
    with native_output_silenced():
        result = mathopt.solve(model, mathopt.SolverType.GLOP, params=params)
    if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    value = min(result.termination.objective_bounds.dual_bound, result.objective_value()) * (1 - SHADE)
    cheapest = sum(min([problem.jobs[j].penalty_cny, *runs.get(j, {}).values()]) for js in pools.values() for j in js)
    nochip = sum(serving_block_nochip(problem, td, b) for b in range(len(td.blocks)))
    return capacity_free - nochip - cheapest + value


def repack(problem: Problem, td: TimeData, plan: TimePlan, time_limit_s: float) -> TimePlan:
    """The plan with each hot pool's jobs re-placed by the time-indexed MIP around everything else
    the plan runs there (chips on the pool, watts at its site)."""
    t0 = time.perf_counter()
    pools = hot_pools(problem, td)
    if not pools:
        return plan
    prices = StepPrices(td)
    out = TimePlan(segments=dict(plan.segments), replicas=dict(plan.replicas), flow=dict(plan.flow))
    for k, (pool, jobs) in enumerate(sorted(pools.items(), key=lambda kv: -len(kv[1]))):
        left = (time_limit_s - (time.perf_counter() - t0)) / (len(pools) - k)  # an equal share of what is left
        if left <= 0.5:
            break
        moving = set(jobs)
        cap, capw = _net_capacity(problem, td, out, pool, moving)
        value, starts = _pack(problem, td, prices, pool, jobs, cap, capw, left, integer=True)
        if value is None:
            continue
        for jid in jobs:
            out.segments.pop(jid, None)
            if jid in starts:
                t = starts[jid]
                out.segments[jid] = (pool, [(t, t + td.jobs[jid].windows[pool].steps)])
    return out


def _net_capacity(problem: Problem, td: TimeData, plan: TimePlan, pool: Pool, moving: set[str]
                  ) -> tuple[list[int], list[int]]:
    """Chips left on ``pool`` and watts left at its site, step by step, around the plan's other work."""
    site = pool[0]
    cap = [problem.inventory[pool]] * td.steps
    capw = [site_cap_w(problem, td, site)] * td.steps
    for jid, (p, segs) in plan.segments.items():
        if jid in moving or p[0] != site:
            continue
        chips = problem.jobs[jid].chips
        w = chips * meter_watts(problem, td, p)[0]
        for s, e in segs:
            for u in range(s, e):
                capw[u] -= w
                if p == pool:
                    cap[u] -= chips
    for (sid, s_, accel, b), n in plan.replicas.items():
        if s_ != site:
            continue
        chips = n * problem.services[sid].chips_per_replica[accel]
        w = chips * meter_watts(problem, td, (s_, accel))[0]
        s, e = td.blocks[b]
        for u in range(s, e):
            capw[u] -= w
            if (s_, accel) == pool:
                cap[u] -= chips
    return cap, capw


def _starts(model: mathopt.Model, problem: Problem, td: TimeData, prices: StepPrices, pool: Pool, jobs: list[str],
            integer: bool) -> tuple[list, float, dict[int, list], dict[tuple[str, int], mathopt.Variable]]:
    """The time-indexed start variables x[j,t] of ``jobs`` on ``pool`` (each job at most once): their
    objective terms (start cost less penalty), the penalties as a constant, and per step the
    (chips, x) of every start that runs there."""
    objective: list = []
    constant = 0.0
    use: dict[int, list] = defaultdict(list)
    x: dict[tuple[str, int], mathopt.Variable] = {}
    for jid in jobs:
        w = td.jobs[jid].windows[pool]
        chips, pen = problem.jobs[jid].chips, problem.jobs[jid].penalty_cny
        constant += pen
        mine = []
        for t in range(w.earliest, w.latest_start + 1):
            var = model.add_variable(lb=0.0, ub=1.0, is_integer=integer)
            x[(jid, t)] = var
            mine.append(var)
            objective.append((start_cost(problem, td, prices, jid, pool, t) - pen) * var)
            for u in range(t, t + w.steps):
                use[u].append((chips, var))
        model.add_linear_constraint(mathopt.fast_sum(mine) <= 1.0)
    return objective, constant, use, x


def _pack(problem: Problem, td: TimeData, prices: StepPrices, pool: Pool, jobs: list[str], cap: list[int],
          capw: list[int] | None, time_limit_s: float, integer: bool) -> tuple[float | None, dict[str, int]]:
    """Solve the time-indexed model of one pool; returns (objective or dual bound, chosen starts). The
    time limit covers building the model too."""
    t0 = time.perf_counter()
    model = mathopt.Model(name="packing")
    objective, constant, use, x = _starts(model, problem, td, prices, pool, jobs, integer)
    watts = meter_watts(problem, td, pool)[0]
    for u, terms in use.items():
        model.add_linear_constraint(mathopt.fast_sum(c * v for c, v in terms) <= max(0, cap[u]))
        if capw is not None:
            model.add_linear_constraint(mathopt.fast_sum(watts * c * v for c, v in terms) <= max(0, capw[u]))
    model.minimize(mathopt.fast_sum(objective) + constant)
    left = time_limit_s - (time.perf_counter() - t0)
    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=max(0.1, left)))
    with native_output_silenced():
        result = mathopt.solve(model, mathopt.SolverType.HIGHS if integer else mathopt.SolverType.GLOP, params=params)
    if integer:
        if not result.has_primal_feasible_solution():
            return None, {}
        values = result.variable_values()
        starts = {jid: t for (jid, t), var in x.items() if values[var] > 0.5}
        return result.objective_value(), starts
    if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None, {}
    return min(result.termination.objective_bounds.dual_bound, result.objective_value()), {}
