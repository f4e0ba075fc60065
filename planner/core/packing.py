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
import math
import time
from collections import defaultdict

from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from planner.core.model import TimePlan, meter_watts, site_cap_w, start_cost
from planner.core.serving_lp import ServingLP, serving_nochip_blocks
from planner.core.twophase import native_output_silenced, solve_or_none, solve_proto
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
        value = _pack(problem, td, prices, pool, jobs, cap, left)
        if value is None:
            return None, {"packing_pools": len(pools), "packing_s": round(time.perf_counter() - t0, 3)}
        cheapest = sum(min([problem.jobs[j].penalty_cny, *runs.get(j, {}).values()]) for j in jobs)
        total += max(0.0, value * (1 - SHADE) - cheapest)
    return total, {"packing_pools": len(pools), "packing_s": round(time.perf_counter() - t0, 3)}


def serving_packing_bound(problem: Problem, td: TimeData, runs: dict[str, dict[Pool, float]], capacity_free: float,
                          samples: list[ServingLP], time_limit_s: float = 10.0,
                          floors: dict[int, float] | None = None) -> float | None:
    """``packing_bound`` with serving in the same LP (CNY), or None if no pool is hot or the LP did not
    solve in time.

    The packing bound gives each hot pool's jobs the whole pool, and serving is bounded apart as if
    it had every chip: both cannot hold. Here s[u,p] ≥ 0 is what serving holds of hot pool p at step
    u, and serving's cost per hour at u, θ[u], is bounded below by each solved serving LP in
    ``samples`` (solved with chip prices π on the hot pools, π = 0 included): for any plan, serving's
    hour costs at least ``hourly[b] − Σ_p π_p·s[u,p]`` (Lagrange's weak duality, π ≥ 0), and at
    least the capacity-free bound of its block and, where ``floors`` has it (CNY/h: the MIP of its
    serving with whole replicas and every chip, ``serving_lp.ServingMIPs``), that block's floor::

        min  Σ_u step_h·θ[u] + Σ_j,t (start_cost(j,p,t) − pen_j)·x[j,t] + Σ_j pen_j
        s.t. θ[u] ≥ max(nochip(b(u)), floor(b(u))),  θ[u] + Σ_p π_k,p·s[u,p] ≥ hourly_k[b(u)]   (each sample k)
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
        terms, pens, use, _x = _starts(model, problem, td, prices, pool, jobs)
        objective += terms
        constant += pens
        for u in range(td.steps):
            model.add_linear_constraint(mathopt.fast_sum(c * v for c, v in use[u]) + held[(u, pool)]
                                        <= problem.inventory[pool])
    nochip_of = serving_nochip_blocks(problem, td)
    floors = floors or {}
    for b, (start, end) in enumerate(td.blocks):
        floor = max(nochip_of[b] / td.block_hours(b), floors.get(b, 0.0))
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
        result = solve_or_none(model, mathopt.SolverType.GLOP, params)
    if result is None or result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    value = min(result.termination.objective_bounds.dual_bound, result.objective_value()) * (1 - SHADE)
    cheapest = sum(min([problem.jobs[j].penalty_cny, *runs.get(j, {}).values()]) for js in pools.values() for j in js)
    nochip = float(nochip_of.sum())
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
        value, starts = _repack_pool(problem, td, prices, pool, jobs, cap, capw, left)
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


def _columns(problem: Problem, td: TimeData, prices: StepPrices, pool: Pool, jobs: list[str]
             ) -> tuple[list[tuple[str, int]], list[float], list[list[int]], list[list[tuple[int, int]]], float]:
    """The time-indexed starts of ``jobs`` on ``pool``, one column each: (job, start) per column, its
    cost less the job's penalty, each job's columns, per step the (column, chips) of every start that
    runs there, and the penalties as a constant."""
    cols: list[tuple[str, int]] = []
    cost: list[float] = []
    job_cols: list[list[int]] = []
    use: list[list[tuple[int, int]]] = [[] for _ in range(td.steps)]
    constant = 0.0
    for jid in jobs:
        w = td.jobs[jid].windows[pool]
        chips, pen = problem.jobs[jid].chips, problem.jobs[jid].penalty_cny
        constant += pen
        mine = []
        for t in range(w.earliest, w.latest_start + 1):
            c = len(cols)
            cols.append((jid, t))
            cost.append(start_cost(problem, td, prices, jid, pool, t) - pen)
            mine.append(c)
            for u in range(t, t + w.steps):
                use[u].append((c, chips))
        job_cols.append(mine)
    return cols, cost, job_cols, use, constant


def _starts(model: mathopt.Model, problem: Problem, td: TimeData, prices: StepPrices, pool: Pool, jobs: list[str]
            ) -> tuple[list, float, dict[int, list], dict[tuple[str, int], mathopt.Variable]]:
    """The time-indexed start variables 0 ≤ x[j,t] ≤ 1 of ``jobs`` on ``pool`` (each job at most once): their
    objective terms (start cost less penalty), the penalties as a constant, and per step the
    (chips, x) of every start that runs there."""
    cols, cost, job_cols, use_cols, constant = _columns(problem, td, prices, pool, jobs)
    xs = [model.add_variable(lb=0.0, ub=1.0) for _ in cols]
    for mine in job_cols:
        model.add_linear_constraint(mathopt.fast_sum(xs[c] for c in mine) <= 1.0)
    use: dict[int, list] = defaultdict(list, {u: [(chips, xs[c]) for c, chips in terms]
                                             for u, terms in enumerate(use_cols) if terms})
    return [cost[c] * xs[c] for c in range(len(cols))], constant, use, dict(zip(cols, xs, strict=True))


def _pack(problem: Problem, td: TimeData, prices: StepPrices, pool: Pool, jobs: list[str], cap: list[int],
          time_limit_s: float) -> float | None:
    """The time-indexed LP of one pool (GLOP): its dual bound, or None if it was not solved. The time
    limit covers building the model too."""
    t0 = time.perf_counter()
    model = mathopt.Model(name="packing")
    objective, constant, use, _x = _starts(model, problem, td, prices, pool, jobs)
    for u, terms in use.items():
        model.add_linear_constraint(mathopt.fast_sum(c * v for c, v in terms) <= max(0, cap[u]))
    model.minimize(mathopt.fast_sum(objective) + constant)
    left = time_limit_s - (time.perf_counter() - t0)
    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=max(0.1, left)))
    with native_output_silenced():
        result = solve_or_none(model, mathopt.SolverType.GLOP, params)
    if result is None or result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    return min(result.termination.objective_bounds.dual_bound, result.objective_value())


#: HiGHS's relative gap for a pool's repacking MIP (its own default)
REPACK_GAP = 1e-4


def _repack_pool(problem: Problem, td: TimeData, prices: StepPrices, pool: Pool, jobs: list[str], cap: list[int],
                 capw: list[int], time_limit_s: float) -> tuple[float | None, dict[str, int]]:
    """The time-indexed MIP of one pool (the module docstring's, chips and watts net of the rest of the
    plan) built as a MathOpt proto and solved by HiGHS: (its objective, the chosen starts), or
    (None, {}) without a plan. The time limit covers building the model too; on the tight national
    week ``mathopt.Model`` took 1.2-1.5 s to build a pool of 2,600 starts, and the chip and watt
    rows of the repacking twice that."""
    t0 = time.perf_counter()
    cols, cost, job_cols, use, constant = _columns(problem, td, prices, pool, jobs)
    watts = meter_watts(problem, td, pool)[0]
    mip = model_pb2.ModelProto(name="repack")
    n = len(cols)
    mip.variables.ids.extend(range(n))
    mip.variables.lower_bounds.extend([0.0] * n)
    mip.variables.upper_bounds.extend([1.0] * n)
    mip.variables.integers.extend([True] * n)
    rows, columns, coefs, upper = [], [], [], []
    for mine in job_cols:  # each job at most once
        rows.extend([len(upper)] * len(mine))
        columns.extend(mine)
        coefs.extend([1.0] * len(mine))
        upper.append(1.0)
    for scale, limit in ((1, cap), (watts, capw)):  # chips, then watts, at every step
        for u, terms in enumerate(use):
            if terms:
                rows.extend([len(upper)] * len(terms))
                columns.extend(c for c, _chips in terms)
                coefs.extend(float(scale * chips) for _c, chips in terms)
                upper.append(float(max(0, limit[u])))
    mip.linear_constraints.ids.extend(range(len(upper)))
    mip.linear_constraints.lower_bounds.extend([-math.inf] * len(upper))
    mip.linear_constraints.upper_bounds.extend(upper)
    mip.linear_constraint_matrix.row_ids.extend(rows)
    mip.linear_constraint_matrix.column_ids.extend(columns)
    mip.linear_constraint_matrix.coefficients.extend(coefs)
    mip.objective.offset = constant
    mip.objective.linear_coefficients.ids.extend(range(n))
    mip.objective.linear_coefficients.values.extend(cost)
    with native_output_silenced():
        _solved, point = solve_proto(mip, time_limit_s - (time.perf_counter() - t0), REPACK_GAP)
    if point is None:
        return None, {}
    starts = {jid: t for (jid, t), x in zip(cols, point, strict=True) if x > 0.5}
    return constant + sum(c * x for c, x in zip(cost, point, strict=True)), starts
