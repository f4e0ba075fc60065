"""Cost formulas over time blocks: the one place energy × price is derived for the time-of-use model.

The spatial model is the one-block case of these formulas, priced by ``Problem`` (its
``price_cny_per_kwh`` is the time-weighted mean of the same hourly tariff)::

    busy_kw          = chip_kW × PUE × (1 − idle_fraction if idle chips stay on, else 1)    per chip
    run_power        = w × chips × busy_kw × step_h × Σ_{u in run} price(u) × busy(u)        busy(last) = remainder
    step_power       = w × chips × busy_kw × step_h × price(u) × (mean busy fraction)         preemptible, per run step
    replica_power    = w × cpr × busy_kw × hours_b × mean price_b                             per replica and block
    idle_power       = w × Σ_pools inventory × chip_kW × PUE × idle_fraction × step_h × Σ_u price(u)
    transfer         = GB × Σ link CNY/GB (once per placed job, by site)

``w`` is the scenario's power-cost weight. Model, greedy schedule, bound and write-back all
price through these functions, so they cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from planner.problem.build import Pool, Problem
from planner.problem.timedata import TimeData


def busy_kw(problem: Problem, td: TimeData, pool: Pool) -> float:
    """kW at the meter a chip adds when busy: full power, or full minus idle if idle chips stay on."""
    kw = problem.meter_kw_per_chip(*pool)
    return kw * (1.0 - td.idle_fraction) if td.idle_mode == "idle" else kw


class StepPrices:
    """Prefix sums of each pool's step prices, so a run's price is O(1)."""

    def __init__(self, td: TimeData) -> None:
        self.td = td
        self.prefix: dict[Pool, list[float]] = {}
        for pool, values in td.price.items():
            acc, total = [0.0], 0.0
            for v in values:
                total += v
                acc.append(total)
            self.prefix[pool] = acc

    def run_price(self, pool: Pool, start: int, steps: int, busy_last: float) -> float:
        """Σ price over the run, the last step weighted by its busy fraction (CNY/kWh · steps)."""
        pre = self.prefix[pool]
        full = pre[start + steps - 1] - pre[start]
        return full + busy_last * (pre[start + steps] - pre[start + steps - 1])


def run_power_cny(problem: Problem, td: TimeData, prices: StepPrices, jid: str, pool: Pool, start: int) -> float:
    """Marginal power cost of running job ``jid`` on ``pool`` from step ``start`` in one piece (CNY)."""
    w = td.jobs[jid].windows[pool]
    kwh_per_price = problem.jobs[jid].chips * busy_kw(problem, td, pool) * td.step_h
    return problem.power_cost_weight * kwh_per_price * prices.run_price(pool, start, w.steps, w.busy_last)


def step_power_cny(problem: Problem, td: TimeData, jid: str, pool: Pool, u: int) -> float:
    """Marginal power cost of one run step of a preemptible job, its short last step spread over the run."""
    return step_power_per_price(problem, td, jid, pool) * td.price[pool][u]


def step_power_per_price(problem: Problem, td: TimeData, jid: str, pool: Pool) -> float:
    """``step_power_cny`` per CNY/kWh of the step's price (kWh a run step draws, times the power-cost weight)."""
    w = td.jobs[jid].windows[pool]
    busy = (w.steps - 1 + w.busy_last) / w.steps
    return problem.power_cost_weight * problem.jobs[jid].chips * busy_kw(problem, td, pool) * td.step_h * busy


class StepChoice:
    """What ``cheapest_steps`` found: per row its least cost (``cny``, inf where it cannot run) and,
    if asked for, the steps that cost it (``steps_of``)."""

    def __init__(self, cny: np.ndarray, trace: tuple | None = None, picked: list[list[int]] | None = None) -> None:
        self.cny = cny
        self._trace = trace
        self._picked = picked

    def steps_of(self, row: int) -> list[int]:
        """The columns row ``row`` runs in, ascending (its least cost must be finite)."""
        if self._picked is not None:
            return self._picked[row]
        if self._trace is None:
            raise ValueError("cheapest_steps(..., choose=True) keeps the steps")
        continued, running, steps = self._trace
        k, mode, out = int(steps[row]), "least", []
        for u in range(continued.shape[0] - 1, -1, -1):
            if mode == "least":  # the cheaper of running and idle at (u, k)
                mode = "run" if running[u, row, k] else "idle"
            if mode == "run":
                out.append(u)
                mode = "run" if continued[u, row, k - 1] else "least"
                k -= 1
            else:
                mode = "least"
        return out[::-1]


def cheapest_steps(costs: np.ndarray, steps: Sequence[int], resume_cny: float, choose: bool = False) -> StepChoice:
    """The least cost of a preemptible job running ``steps[r]`` of the steps of each row r of ``costs``
    (CNY per step; inf where the step cannot be used), each run after the first costing ``resume_cny``
    (its checkpoint and resume), as the model prices it (``placed_cost``).

    Exact, by dynamic programming over (step u, steps taken k, running or not), all rows at once::

        run[u,k]   = cost[u] + min(run[u−1,k−1], least[u−1,k−1] + resume)
        least[u,k] = min(run[u,k], least[u−1,k])            (idle at u: the least at u−1)
        cost       = least[last, steps] − resume

    The cheapest ``steps`` steps alone ignore resumes: on a week whose valley hours fall apart day by
    day, a job can do better running through a few dearer hours than stopping and resuming."""
    costs = np.asarray(costs, dtype=float)
    rows, width = costs.shape
    need = np.asarray(steps, dtype=int)
    if resume_cny <= 0:  # no resume cost: the cheapest steps, ties to the earliest
        order = np.argsort(costs, axis=1, kind="stable")
        picked = [sorted(int(u) for u in order[r, :need[r]]) for r in range(rows)]
        cny = np.array([costs[r, p].sum() if need[r] <= width else math.inf for r, p in enumerate(picked)])
        cny[~np.isfinite(cny)] = math.inf
        return StepChoice(cny, picked=picked if choose else None)
    top = int(need.max()) if rows else 0
    run = np.full((rows, top + 1), math.inf)  # least cost with k steps taken, running at the step
    nxt = np.full((rows, top + 1), math.inf)
    least = np.full((rows, top + 1), math.inf)  # least cost with k steps taken, running or idle
    least[:, 0] = 0.0
    if choose:
        continued = np.zeros((width, rows, top), dtype=bool)  # running at u came from running at u−1
        running = np.zeros((width, rows, top + 1), dtype=bool)  # the least at u is running
    started = np.empty((rows, top))
    for u in range(width):  # idle at u is the least at u−1; a run may only start from idle, at resume_cny
        np.add(least[:, :-1], resume_cny, out=started)
        np.minimum(run[:, :-1], started, out=nxt[:, 1:])
        if choose:
            np.less_equal(run[:, :-1], started, out=continued[u])
        nxt[:, 1:] += costs[:, u, None]
        if choose:
            np.less_equal(nxt, least, out=running[u])
        np.minimum(nxt, least, out=least)
        run, nxt = nxt, run
    cny = least[np.arange(rows), need] - resume_cny
    cny[~np.isfinite(cny)] = math.inf
    trace = (continued, running, need) if choose else None
    return StepChoice(cny, trace)


def transfer_cny(td: TimeData, jid: str, site: str) -> float:
    """Moving the job's dataset to ``site`` (0 without a dataset or a priced path)."""
    tr = td.jobs[jid].transfers.get(site)
    return tr.cost_cny if tr else 0.0


def replica_block_cny(problem: Problem, td: TimeData, sid: str, pool: Pool, b: int) -> float:
    """Marginal power cost of one replica of ``sid`` on ``pool`` through block ``b`` (CNY)."""
    kw = busy_kw(problem, td, pool) * problem.services[sid].chips_per_replica[pool[1]]
    return problem.power_cost_weight * kw * td.block_hours(b) * td.block_price(pool, b)


def idle_power_cny(problem: Problem, td: TimeData) -> float:
    """What the inventory's idle draw costs over the horizon when idle chips stay on (else 0): a constant."""
    if td.idle_mode != "idle":
        return 0.0
    return problem.power_cost_weight * sum(
        inv * problem.meter_kw_per_chip(*pool) * td.idle_fraction * td.step_h * sum(td.price[pool])
        for pool, inv in problem.inventory.items())


def replica_energy(problem: Problem, td: TimeData, sid: str, pool: Pool, replicas: int, start: int,
                   end: int) -> tuple[float, float]:
    """(kWh, CNY) ``replicas`` of ``sid`` draw busy on ``pool`` over steps [start, end), at full chip power."""
    kw = problem.meter_kw_per_chip(*pool) * problem.services[sid].chips_per_replica[pool[1]] * replicas
    kwh = kw * td.step_h * (end - start)
    return kwh, kw * td.step_h * sum(td.price[pool][start:end])
