"""A lower bound on serving's cost that sees the chips and the power: one LP per distinct hour.

The capacity-free serving bound (``serving_nochip_blocks``) prices every token at
its cheapest pool in reach, however many chips that pool has. At a national evening peak the
cheap pools are full, so that bound sits well below any plan. This module keeps the chips::

  per block b (hours h_b), over fractional replicas r[v,p] ≥ 0, flows f[v,k,s] ≥ 0, unserved u[v,k] ≥ 0:
    min   h_b · ( Σ replica_cny_per_h(v,p,b)·r + Σ lat(v,k,s)·f + Σ unserved(v)·u )
    s.t.  Σ_s f[v,k,s] + u[v,k] = demand(v,k,b)                      (every token served or unserved)
          Σ_k f[v,k,s] ≤ Σ_{p at s} tokens_per_replica(v,p)·r[v,p]     (serving capacity)
          Σ_v cpr(v,p)·r[v,p] ≤ inv_p                                 (chips)
          Σ_{p at s} W_p·Σ_v cpr(v,p)·r[v,p] ≤ cap_s                   (watts at the meter)

with the model's own scaled figures (``planner.core.scaling``). Dropping the jobs (which only
take chips and watts away) and the integrality of replicas relaxes the time model's serving
part, and the jobs' part is bounded on its own (``cheapest_runs``, ``energetic_bound``), so the
sum of the two bounds the whole model. A block's LP depends only on its prices and demand, and a
168 h week repeats the same day, so one LP per distinct (prices, demand) hour covers every block:
21 LPs on the national week instead of 147. Solved by GLOP; a block whose LP did not finish in
time keeps its capacity-free bound, which is never higher.
"""

from __future__ import annotations

import datetime
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from planner.core import scaling
from planner.core.model import meter_watts, site_cap_w
from planner.core.twophase import solve_or_none, solve_proto
from planner.problem.build import Pool, Problem
from planner.problem.costs import busy_kw
from planner.problem.timedata import TimeData

#: GLOP's optimum is exact to its feasibility tolerance; a bound is shaded down by this share so
#: that rounding in the LP never lifts it above the model's optimum
SHADE = 1e-7


def block_signatures(problem: Problem, td: TimeData) -> dict[tuple, list[int]]:
    """Blocks grouped by what their serving LP depends on: every pool's price and every demand."""
    pools = sorted(problem.inventory)
    keys = sorted(td.demand)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for b in range(len(td.blocks)):
        sig = (tuple(td.block_price(p, b) for p in pools), tuple(td.demand[k][b] for k in keys))
        groups[sig].append(b)
    return dict(groups)


def serving_nochip_blocks(problem: Problem, td: TimeData) -> np.ndarray:
    """Each block's capacity-free serving bound (CNY): each token at its cheapest pool in reach (its
    replica's power per token and its latency) or unserved, whichever costs less."""
    blocks = range(len(td.blocks))
    hours = np.array([td.block_hours(b) for b in blocks])
    price: dict[Pool, np.ndarray] = {}
    total = np.zeros(len(hours))
    for (sid, city), per in td.demand.items():
        svc = problem.services[sid]
        unit = np.full(len(hours), problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h)  # CNY per token/s-hour
        for q in _reach(problem, sid, city):
            if q not in price:
                price[q] = np.array([td.block_price(q, b) for b in blocks])
            kw = busy_kw(problem, td, q) * svc.chips_per_replica[q[1]]
            np.minimum(unit, problem.power_cost_weight * kw * price[q] / scaling.tokens_down(svc.replica_tokens_per_s(q[1]))
                       + problem.latency_cny_per_token_per_s(sid, city, q[0]) / problem.horizon_h, out=unit)
        total += unit * hours * np.array([scaling.demand_tokens(d) for d in per], dtype=float)
    return total


@dataclass
class ServingLP:
    """The serving LP bound (CNY), what it took, and each solved block's fractional solution:
    ``guide[b] = (replicas {(service, pool): r}, flows {(service, city, site): tokens/s})``.

    ``hourly[b]`` is block b's LP optimum per hour (CNY/h, shaded), the ``chip_price`` of each chip
    of the priced pools included: with prices π, Lagrange's weak duality makes
    ``hourly[b] − Σ_p π_p·s_p`` a lower bound on what serving costs per hour in block b when it
    holds s_p chips of pool p (``planner.core.packing.serving_packing_bound`` uses it)."""

    bound_cny: float
    info: dict
    guide: dict[int, tuple[dict[tuple[str, Pool], float], dict[tuple[str, str, str], float]]] = field(
        default_factory=dict)
    hourly: dict[int, float] = field(default_factory=dict)
    chip_price: dict[Pool, float] = field(default_factory=dict)


def serving_lp_bound(problem: Problem, td: TimeData, time_limit_s: float = 10.0,
                     chip_price: dict[Pool, float] | None = None,
                     models: dict[int, BlockModel] | None = None) -> ServingLP:
    """Σ over blocks of the serving LP with chips and power (CNY), what it took, and its solutions.

    Never below the capacity-free serving bound: a block whose LP did not solve keeps that. With
    ``chip_price`` (CNY per chip-hour of some pools: where jobs are left waiting for a pool's chips,
    serving that moves elsewhere frees them) the LP charges those prices too; its ``bound_cny`` is
    then no bound (the prices are not costs), but its solutions steer serving and its ``hourly``
    values give Lagrangian cuts. ``models`` keeps each block's LP between calls (only the prices
    change): building them is most of the time, solving them a tenth of it."""
    t0 = time.perf_counter()
    models = {} if models is None else models
    groups = block_signatures(problem, td)
    nochip_of = serving_nochip_blocks(problem, td)
    total, solved = 0.0, 0
    guide, hourly = {}, {}
    for blocks in sorted(groups.values(), key=lambda bs: -sum(td.block_hours(b) for b in bs)):
        hours = sum(td.block_hours(b) for b in blocks)
        nochip = float(sum(nochip_of[b] for b in blocks))
        left = time_limit_s - (time.perf_counter() - t0)
        lp = None
        if left > 0:
            if blocks[0] not in models:
                models[blocks[0]] = _block_model(problem, td, blocks[0])
            lp = _solve_block(models[blocks[0]], time_limit_s - (time.perf_counter() - t0), chip_price or {})
        if lp is not None:
            solved += 1
            total += max(nochip, lp[0] * hours * (1 - SHADE))
            guide.update({b: lp[1:] for b in blocks})
            hourly.update({b: lp[0] * (1 - SHADE) for b in blocks})
        else:
            total += nochip
    info = {"serving_lp_blocks": len(groups), "serving_lp_solved": solved,
            "serving_lp_s": round(time.perf_counter() - t0, 3)}
    return ServingLP(total, info, guide, hourly, dict(chip_price or {}))


def _reach(problem: Problem, sid: str, city: str) -> list[Pool]:
    svc = problem.services[sid]
    return [q for q in svc.pools if q[0] in svc.city_sites[city]
            and problem.inventory.get(q, 0) // svc.chips_per_replica[q[1]] > 0
            and scaling.tokens_down(svc.replica_tokens_per_s(q[1])) > 0]


def _replica_cny_per_h(problem: Problem, td: TimeData, sid: str, pool: Pool, b: int) -> float:
    """What one replica of ``sid`` on ``pool`` costs per hour of block ``b`` (as ``replica_block_cny`` / hours)."""
    kw = busy_kw(problem, td, pool) * problem.services[sid].chips_per_replica[pool[1]]
    return problem.power_cost_weight * kw * td.block_price(pool, b)


@dataclass
class BlockModel:
    """One block's serving LP, built once (``_block_model``): its replica variables with their cost per
    hour and chips, and its routes."""

    model: mathopt.Model
    replicas: dict[tuple[str, Pool], mathopt.Variable]
    cost: dict[tuple[str, Pool], float]
    chips: dict[tuple[str, Pool], int]
    routes: dict[tuple[str, str, str], mathopt.Variable]
    unserved: dict[tuple[str, str], mathopt.Variable] = field(default_factory=dict)


def _block_model(problem: Problem, td: TimeData, b: int) -> BlockModel:
    """Serving's LP for one hour of block ``b`` (CNY per hour), its chips unpriced."""
    model = mathopt.Model(name="serving-lp")
    objective = []
    replicas: dict[tuple[str, Pool], mathopt.Variable] = {}
    costs: dict[tuple[str, Pool], float] = {}
    cprs: dict[tuple[str, Pool], int] = {}
    chips: dict[Pool, list] = defaultdict(list)
    watts: dict[str, list] = defaultdict(list)
    supply: dict[tuple[str, str], list] = defaultdict(list)
    for sid, city in td.demand:
        for q in _reach(problem, sid, city):
            if (sid, q) in replicas:
                continue
            svc = problem.services[sid]
            cpr = svc.chips_per_replica[q[1]]
            r = model.add_variable(lb=0.0, ub=problem.inventory[q] // cpr)
            replicas[(sid, q)] = r
            costs[(sid, q)] = _replica_cny_per_h(problem, td, sid, q, b)
            cprs[(sid, q)] = cpr
            objective.append(costs[(sid, q)] * r)
            chips[q].append(cpr * r)
            watts[q[0]].append(meter_watts(problem, td, q)[0] * cpr * r)
            supply[(sid, q[0])].append(scaling.tokens_down(svc.replica_tokens_per_s(q[1])) * r)
    flows: dict[tuple[str, str], list] = defaultdict(list)
    routes: dict[tuple[str, str, str], mathopt.Variable] = {}
    unserved_of: dict[tuple[str, str], mathopt.Variable] = {}
    for (sid, city), per in td.demand.items():
        demand = scaling.demand_tokens(per[b])
        if demand <= 0:
            continue
        unserved = unserved_of[(sid, city)] = model.add_variable(lb=0.0)
        objective.append(problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h * unserved)
        served = [unserved]
        for site in sorted({q[0] for q in _reach(problem, sid, city)}):
            f = model.add_variable(lb=0.0)
            objective.append(problem.latency_cny_per_token_per_s(sid, city, site) / problem.horizon_h * f)
            flows[(sid, site)].append(f)
            routes[(sid, city, site)] = f
            served.append(f)
        model.add_linear_constraint(mathopt.fast_sum(served) == demand)
    for key, fs in flows.items():
        model.add_linear_constraint(mathopt.fast_sum(fs) - mathopt.fast_sum(supply[key]) <= 0)
    for q, terms in chips.items():
        model.add_linear_constraint(mathopt.fast_sum(terms) <= problem.inventory[q])
    for site, terms in watts.items():
        model.add_linear_constraint(mathopt.fast_sum(terms) <= max(0, site_cap_w(problem, td, site)))
    model.minimize(mathopt.fast_sum(objective))
    return BlockModel(model, replicas, costs, cprs, routes, unserved_of)


def _solve_block(bm: BlockModel, time_limit_s: float, chip_price: dict[Pool, float]
                 ) -> tuple[float, dict, dict] | None:
    """The block's LP optimum per hour (CNY/h) with each chip of the pools in ``chip_price`` priced,
    its replicas and flows; None if GLOP did not prove it."""
    for key, r in bm.replicas.items():
        bm.model.objective.set_linear_coefficient(r, bm.cost[key] + chip_price.get(key[1], 0.0) * bm.chips[key])
    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=max(0.05, time_limit_s)))
    result = solve_or_none(bm.model, mathopt.SolverType.GLOP, params)
    if result is None or result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    values = result.variable_values()
    return (min(result.termination.objective_bounds.dual_bound, result.objective_value()),
            {k: values[v] for k, v in bm.replicas.items() if values[v] > 1e-9},
            {k: values[v] for k, v in bm.routes.items() if values[v] > 1e-9})


def steered_guide(problem: Problem, td: TimeData, serving: ServingLP, models: dict[int, BlockModel],
                  step_prices: dict[Pool, Sequence[float]], time_limit_s: float) -> tuple[dict, dict]:
    """Serving's LP solutions with each block's chips priced at ``step_prices`` (CNY per chip and step,
    e.g. the jobs' chip-hour prices of ``planner.core.lagrange``; a block's price per chip-hour is
    their sum over its steps over its hours): a guide (``ServingLP.guide``) that steers serving off
    the chip-hours the jobs want most. Blocks are solved one by one, the dearest first, while the
    time lasts; a block without a price, or not reached, keeps ``serving``'s guide. The priced
    optima are no bound (the prices are not costs); only the solutions are used."""
    t0 = time.perf_counter()
    groups = block_signatures(problem, td)
    group_of = {b: blocks[0] for blocks in groups.values() for b in blocks}
    prices = {p: np.asarray(v, dtype=float) for p, v in step_prices.items()}
    priced: list[tuple[float, int, dict[Pool, float]]] = []
    for b, (s, e) in enumerate(td.blocks):
        per_h = {p: float(v[s:e].sum()) / td.block_hours(b) for p, v in prices.items()}
        per_h = {p: x for p, x in per_h.items() if x > 0}
        if per_h and group_of[b] in models:
            priced.append((sum(per_h.values()) * td.block_hours(b), b, per_h))
    guide = dict(serving.guide)
    solved = 0
    for _total, b, per_h in sorted(priced, key=lambda x: (-x[0], x[1])):
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0:
            break
        lp = _solve_block(models[group_of[b]], left, per_h)
        if lp is not None:
            guide[b] = lp[1:]
            solved += 1
    return guide, {"steered_blocks": solved, "steered_s": round(time.perf_counter() - t0, 3)}


#: a distinct hour's MIP of serving gets at most this long (``ServingMIPs``). On the flexible national
#: week the 21 distinct hours' MIPs raised serving's bound from its LP's 5.037 M CNY to 5.116 M at 0.3 s
#: each, 5.150 M at 1 s and 5.163 M at 3 s (HiGHS, one thread)
MIP_MAX_S = 2.0
#: with a longer limit, each distinct hour's MIP gets this share of the time to the deadline over the
#: hours (when that is more than ``MIP_MAX_S``): the rest is the main thread's, and the MIPs of the
#: hours both threads take. At 60 s on the national week that stays under ``MIP_MAX_S``
MIP_SPREAD = 0.5
#: a MIP is not started with less than this long left before the deadline
MIP_MIN_S = 0.2


class ServingMIPs:
    """How much whole replicas add to ``serving``'s bound (CNY, unpriced), proven in the background.

    Per distinct hour, longest first, HiGHS solves the MIP of that hour's serving LP (replicas
    integer, jobs dropped) for at most ``per_hour_s`` (by default ``MIP_MAX_S``, or ``MIP_SPREAD`` of the
    time to the deadline over the hours where that is longer) and reports its proven bound. Serving's part of
    any plan is such a MIP with chips and watts taken by jobs on top, so each bound holds, and an
    hour's gain is never negative. The models are exported on the caller's thread (``start``), so the
    caller may price and solve them again meanwhile; the MIPs run on a thread of their own, since
    HiGHS releases Python's lock while it solves, and a solve of the jobs goes on beside them on the
    second core. No MIP is started that could run past ``deadline`` (``time.perf_counter()``);
    ``collect`` takes the hours left on the caller's thread too, waits for the other, and returns the
    gain with its figures (with one core, call it without ``start``: the MIPs then all run on the
    caller's thread, in the time left before the deadline)."""

    def __init__(self, problem: Problem, td: TimeData, serving: ServingLP, models: dict[int, BlockModel],
                 deadline: float, per_hour_s: float | None = None) -> None:
        self.deadline = deadline
        self._t0 = time.perf_counter()
        nochip_of = serving_nochip_blocks(problem, td)
        groups = sorted(block_signatures(problem, td).values(), key=lambda bs: -sum(td.block_hours(b) for b in bs))
        self._hours: list[tuple[list[int], float, float, model_pb2.ModelProto]] = []  # blocks, hours, LP, MIP
        for blocks in groups:
            bm = models.get(blocks[0])
            if bm is None or blocks[0] not in serving.hourly:
                continue
            hours = sum(td.block_hours(b) for b in blocks)
            before = max(float(sum(nochip_of[b] for b in blocks)), serving.hourly[blocks[0]] * hours)
            self._hours.append((blocks, hours, before, _mip_proto(bm)))
        self.per_hour_s = (per_hour_s if per_hour_s is not None else
                           max(MIP_MAX_S, MIP_SPREAD * (deadline - time.perf_counter()) / max(1, len(self._hours))))
        self._gains: list[float] = []
        #: per block whose MIP ended, its proven bound per hour (CNY/h, shaded): a floor under serving's
        #: cost in that block whatever chips the jobs leave it (``packing.serving_packing_bound``)
        self.hourly: dict[int, float] = {}
        self._error: str | None = None
        self._queue = deque(self._hours)  # the hours not taken yet, by this thread or the caller's
        self._thread = threading.Thread(target=self._run, name="serving-mips", daemon=True)

    def start(self) -> ServingMIPs:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while self._queue:
                try:
                    blocks, hours, before, proto = self._queue.popleft()
                except IndexError:  # the other thread took the last one
                    return
                left = self.deadline - time.perf_counter()
                if left < MIP_MIN_S:
                    return
                solved, _point = solve_proto(proto, min(self.per_hour_s, left), MIP_GAP)
                if math.isfinite(solved.dual_bound):
                    self._gains.append(max(0.0, solved.dual_bound * hours * (1 - SHADE) - before))
                    self.hourly.update({b: solved.dual_bound * (1 - SHADE) for b in blocks})
        except Exception as exc:  # noqa: BLE001 -- a failed MIP leaves the LP's bound; its reason goes in the solver block
            self._error = f"{type(exc).__name__}: {exc}"

    def collect(self) -> tuple[float, dict]:
        """The gain (CNY) over the hours whose MIP ended, and its figures. The caller's thread proves the
        hours left meanwhile, beside the background thread (alone if it was never started), until
        the deadline."""
        self._run()
        if self._thread.ident is not None:
            self._thread.join()
        gain = float(sum(self._gains))
        info = {"serving_mip_hours": len(self._gains), "serving_mip_gain": round(gain, 2),
                "serving_mip_s": round(time.perf_counter() - self._t0, 3)}
        if self._error is not None:
            info["serving_mip_error"] = self._error
        return gain, info


#: HiGHS stops a serving MIP this close to its optimum
MIP_GAP = 1e-4


def _mip_proto(bm: BlockModel) -> model_pb2.ModelProto:
    """``bm``'s model as a MathOpt proto, unpriced, with its replicas integer."""
    for key, r in bm.replicas.items():
        bm.model.objective.set_linear_coefficient(r, bm.cost[key])
    proto = bm.model.export_model()
    whole = {r.id for r in bm.replicas.values()}
    proto.variables.integers[:] = [i in whole for i in proto.variables.ids]
    return proto

