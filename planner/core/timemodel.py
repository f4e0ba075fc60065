"""Time-of-use model: schedule training into cheap hours and follow diurnal inference demand (CP-SAT).

Formulation (time-indexed; ``planner.problem.timedata`` builds the data)::

  sets   T steps of step_h hours; B blocks (maximal runs of steps with equal prices at every site
         and equal demand); C job classes (identical jobs with identical windows, counted together);
         P pools (site s, accelerator a); S_c,p candidate start steps of class c on pool p;
         Q preemptible jobs; V services, K cities
  vars   x[c,p,t]    ∈ 0..n_c       jobs of class c started on p at step t ∈ S_c,p
         on[q,p]     ∈ {0,1}        preemptible job q runs on p;  run[q,p,u], seg[q,p,u] ∈ {0,1}
         r[v,p,b]    ∈ 0..⌊inv_p/cpr⌋  replicas of v on p during block b
         f[v,k,s,b]  ∈ 0..demand    tokens/s of v from city k served at s in block b
  min    Σ x·(energy_c,p(t)·price + transfer_c,s) + Σ run·energy·price + ckpt_q·(Σ_u seg − Σ_p on)
       + Σ r·cpr·kW·PUE·hours_b·price_b + Σ f·lat·hours_b + unserved + unplaced      (CNY)
  s.t.   Σ_p,t x[c,p,t] ≤ n_c;  Σ_p on[q,p] ≤ 1;  Σ_u run[q,p,u] = steps_q·on[q,p]     (job_assignment)
         seg[q,p,u] ≥ run[q,p,u] − run[q,p,u−1]                                      (checkpoints)
         ∀p, τ: Σ_{t ≤ τ < t+n_c} chips_c·x + chips_q·run[q,p,τ] + cpr·r[v,p,b(τ)] ≤ inv_p  (chip_capacity)
         ∀s, τ: Σ_p W_p·(chips busy at τ) + W_idle·inv_s ≤ cap_s                       (site_power_cap)
         Σ_s f[v,k,s,b] ≤ demand_v,k,b;  Σ_k f[v,k,s,b] ≤ Σ_a tps·cpr·r[v,s,a,b]         (routing, serving)

Usage only rises at a start, a block start or a preemptible run step, so the
capacity rows are written at those steps τ only: exact, and far fewer rows.

Aggregation: hours with equal prices and demand form one block; identical jobs
share integer variables; ``start_grid: breakpoints`` offers each job only the
starts that can be optimal for its own cost (window ends, block boundaries b
and b − duration) plus the greedy schedule's starts — exact for a job alone,
an approximation when jobs queue for the same chips (``every_step`` is exact).
With many classes each keeps only its cheapest pools (``pools_per_job``),
always including the pool the greedy schedule chose. The greedy schedule is
the warm start (every variable hinted) and the baseline.

Decomposition (``decompose``; automatic above ``AUTO_DECOMPOSE_REPLICA_VARIABLES``): the
spatial model places the work first, and each class and service is then offered only the
pools that placement and the greedy schedule chose. The restricted model's CP-SAT bound is
no bound on the full model, so it is reported apart (``restricted_bound``); ``best_bound``
is then ``relaxed_bound``, which drops chips and power caps (every job at its cheapest run
or unplaced, every token at its cheapest pool or unserved) and holds for the full model.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from ortools.sat.python import cp_model

from planner.check.timeline import evaluate_timeline
from planner.core import scaling
from planner.core.model import minimize
from planner.core.runner import new_solver, relative_gap, run_solver
from planner.core.spatial import context_tables, solve_spatial
from planner.inputs.scenario import Scenario
from planner.problem.build import Pool, Problem, build_problem
from planner.problem.timedata import TimeData, build_time_data, job_energy, run_steps_of
from planner.results.columns import (
    PLACEMENT_COLUMNS,
    REPLICA_COLUMNS,
    ROUTING_COLUMNS,
    SCHEDULE_COLUMNS,
    SERVING_COLUMNS,
    TIMELINE_COLUMNS,
    TRANSFER_COLUMNS,
    UNPLACED_COLUMNS,
)
from planner.results.estimated import estimated_throughput
from planner.results.result import Result, Status

#: above this many (class, pool) pairs, each class keeps only its cheapest pools
AUTO_POOLS_LIMIT = 3000
AUTO_POOLS_PER_JOB = 3
#: above this many replica variables (service × pool × block), ``decompose="auto"`` places with the spatial model first
AUTO_DECOMPOSE_REPLICA_VARIABLES = 20_000
#: share of the time limit the spatial placement may use when decomposing
SPATIAL_SHARE = 0.25


@dataclass
class TimeClass:
    job_ids: list[str]
    template: str  # one job id of the class
    preemptible: bool
    starts: dict[Pool, list[int]] = field(default_factory=dict)


@dataclass
class TimePlan:
    """A schedule in the problem's own terms."""

    segments: dict[str, tuple[Pool, list[tuple[int, int]]]] = field(default_factory=dict)
    replicas: dict[tuple[str, str, str, int], int] = field(default_factory=dict)  # (service, site, accel, block)
    flow: dict[tuple[str, str, str, int], int] = field(default_factory=dict)  # (service, city, site, block)


@dataclass
class TimeModel:
    """The CP-SAT model with its named variables."""

    problem: Problem
    td: TimeData
    model: cp_model.CpModel
    classes: list[TimeClass]
    x: dict[tuple[int, Pool, int], cp_model.IntVar] = field(default_factory=dict)
    on: dict[tuple[int, Pool], cp_model.IntVar] = field(default_factory=dict)
    run: dict[tuple[int, Pool, int], cp_model.IntVar] = field(default_factory=dict)
    seg: dict[tuple[int, Pool, int], cp_model.IntVar] = field(default_factory=dict)
    r: dict[tuple[str, str, str, int], cp_model.IntVar] = field(default_factory=dict)
    f: dict[tuple[str, str, str, int], cp_model.IntVar] = field(default_factory=dict)
    upper: dict[int, int] = field(default_factory=dict)
    scale: scaling.CostScale = scaling.CostScale(1000.0)
    #: tokens/s per unit of a flow variable (``scaling.flow_quantum``)
    flow_quantum: int = 1
    #: pools each service may use (a decomposition's); None = every pool it is allowed
    serving_pools: dict[str, set[Pool]] | None = None
    objective_terms: dict[str, cp_model.LinearExpr] = field(default_factory=dict)

    def int_var(self, ub: int, name: str) -> cp_model.IntVar:
        var = self.model.new_int_var(0, ub, name)
        self.upper[var.index] = ub
        return var

    def stats(self) -> dict[str, int]:
        proto = self.model.Proto()
        return {"variables": len(proto.variables), "constraints": len(proto.constraints),
                "job_classes": len(self.classes), "jobs": sum(len(c.job_ids) for c in self.classes),
                "steps": self.td.steps, "blocks": len(self.td.blocks)}


# ---------------------------------------------------------------------------- pricing helpers
class _Prices:
    """Prefix sums of each pool's step prices, so a run's cost is O(1)."""

    def __init__(self, td: TimeData) -> None:
        self.td = td
        self.prefix = {p: [0.0] + list(_accumulate(v)) for p, v in td.price.items()}

    def run_price(self, pool: Pool, start: int, steps: int, busy_last: float) -> float:
        """Σ price over the run, the last step weighted by its busy fraction (CNY/kWh · steps)."""
        pre = self.prefix[pool]
        full = pre[start + steps - 1] - pre[start]
        return full + busy_last * (pre[start + steps] - pre[start + steps - 1])


def _accumulate(values: tuple[float, ...]):
    total = 0.0
    for v in values:
        total += v
        yield total


def busy_kw_marginal(problem: Problem, td: TimeData, pool: Pool) -> float:
    """kW at the meter a chip adds when busy: full power, or full minus idle if idle chips stay on."""
    kw = problem.meter_kw_per_chip(*pool)
    return kw * (1.0 - td.idle_fraction) if td.idle_mode == "idle" else kw


def start_cost(problem: Problem, td: TimeData, prices: _Prices, jid: str, pool: Pool, start: int) -> float:
    """Power plus transfer cost of running job ``jid`` on ``pool`` from step ``start`` (CNY, marginal)."""
    w = td.jobs[jid].windows[pool]
    chips = problem.jobs[jid].chips
    energy = chips * busy_kw_marginal(problem, td, pool) * td.step_h
    tr = td.jobs[jid].transfers.get(pool[0])
    return (problem.power_cost_weight * energy * prices.run_price(pool, start, w.steps, w.busy_last)
            + (tr.cost_cny if tr else 0.0))


def _watts(problem: Problem, td: TimeData, pool: Pool) -> tuple[int, int]:
    """(W a busy chip adds, W an idle powered-on chip draws) at the meter, rounded up."""
    kw = problem.meter_kw_per_chip(*pool)
    if td.idle_mode == "idle":
        idle_w = scaling.power_w_up(kw * td.idle_fraction)
        return scaling.power_w_up(kw - kw * td.idle_fraction), idle_w
    return scaling.power_w_up(kw), 0


def _site_cap_w(problem: Problem, td: TimeData, site: str) -> int:
    """Watts left at the meter for busy chips after idle draw of the whole inventory."""
    idle = sum(_watts(problem, td, p)[1] * n for p, n in problem.inventory.items() if p[0] == site)
    return scaling.cap_w_down(problem.sites[site].power_cap_kw) - idle


# ---------------------------------------------------------------------------- classes
def time_classes(problem: Problem, td: TimeData) -> list[TimeClass]:
    """Group jobs that are interchangeable in time and space; preemptible jobs stay single."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for jid, tj in td.jobs.items():
        if jid in td.pre_unplaced or not tj.windows:
            continue
        key = (problem.jobs[jid].class_key(), tj.preemptible, tj.checkpoint_cny,
               tuple(sorted(tj.windows.items())),
               tuple(sorted((s, t.cost_cny) for s, t in tj.transfers.items())))
        if tj.preemptible:
            key += (jid,)
        groups[key].append(jid)
    out = [TimeClass(sorted(ids), min(ids), td.jobs[min(ids)].preemptible) for ids in groups.values()]
    return sorted(out, key=lambda c: c.template)


def select_pools_and_starts(problem: Problem, td: TimeData, classes: list[TimeClass], greedy: TimePlan,
                            job_pools: dict[str, set[Pool]] | None = None) -> None:
    """Candidate pools (cheapest few at scale, plus the greedy's) and start steps per class.

    ``job_pools`` (a decomposition's placement) confines each class to the pools named for its
    jobs plus the greedy's; a class with none named keeps its single cheapest pool."""
    prices = _Prices(td)
    n_pairs = sum(len(td.jobs[c.template].windows) for c in classes)
    keep = td.pools_per_job or (AUTO_POOLS_PER_JOB if n_pairs > AUTO_POOLS_LIMIT else None)
    if job_pools is not None:
        keep = 1
    boundaries = sorted({s for s, _e in td.blocks} | {td.steps})
    for cls in classes:
        tj = td.jobs[cls.template]
        pools = list(tj.windows)
        used = {greedy.segments[j][0] for j in cls.job_ids if j in greedy.segments}
        named = set().union(*(job_pools.get(j, set()) for j in cls.job_ids)) if job_pools is not None else set()
        if named & set(pools):
            pools = [p for p in pools if p in named | used]
        elif keep is not None and len(pools) > keep:
            best = sorted(pools, key=lambda p: min(start_cost(problem, td, prices, cls.template, p, t)
                                                   for t in (tj.windows[p].earliest, tj.windows[p].latest_start)))
            pools = [p for p in pools if p in set(best[:keep]) | used]
        greedy_starts: dict[Pool, set[int]] = defaultdict(set)
        for j in cls.job_ids:
            if j in greedy.segments:
                pool, segs = greedy.segments[j]
                greedy_starts[pool].add(segs[0][0])
        for pool in pools:
            w = tj.windows[pool]
            if cls.preemptible:
                cls.starts[pool] = list(range(w.earliest, w.deadline))
            elif td.start_grid == "every_step":
                cls.starts[pool] = list(range(w.earliest, w.latest_start + 1))
            else:
                cand = {w.earliest, w.latest_start} | greedy_starts[pool]
                for b in boundaries:
                    cand |= {b, b - w.steps}
                cls.starts[pool] = sorted(t for t in cand if w.earliest <= t <= w.latest_start)


# ---------------------------------------------------------------------------- greedy
def greedy_schedule(problem: Problem, td: TimeData) -> TimePlan:
    """Serve inference block by block at the cheapest pools in reach, then place jobs, biggest first,
    at the cheapest (pool, start) that still has chips and power over its whole run."""
    plan = TimePlan()
    T = td.steps
    free = {p: [n] * T for p, n in problem.inventory.items()}
    free_w = {s: [_site_cap_w(problem, td, s)] * T for s in problem.sites}
    watts = {p: _watts(problem, td, p)[0] for p in problem.inventory}
    prices = _Prices(td)

    def fits(pool: Pool, chips: int, steps: range) -> bool:
        fp, fw, need_w = free[pool], free_w[pool[0]], chips * watts[pool]
        return all(fp[u] >= chips and fw[u] >= need_w for u in steps)

    def take(pool: Pool, chips: int, steps) -> None:
        for u in steps:
            free[pool][u] -= chips
            free_w[pool[0]][u] -= chips * watts[pool]

    for b, (s, e) in enumerate(td.blocks):
        steps = range(s, e)
        spare: dict[tuple[str, str, str], int] = defaultdict(int)
        demands = [(sid, city, d[b]) for (sid, city), d in td.demand.items()]
        for sid, city, demand in sorted(demands, key=lambda x: (-x[2], x[0], x[1])):
            svc = problem.services[sid]
            left = scaling.demand_tokens(demand)
            unserved_rate = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h

            def per_token(p: Pool) -> float:
                kw = busy_kw_marginal(problem, td, p) * svc.chips_per_replica[p[1]]
                return (kw * td.block_price(p, b) * problem.power_cost_weight / svc.replica_tokens_per_s(p[1])
                        + problem.latency_cny_per_token_per_s(sid, city, p[0]) / problem.horizon_h)

            for unit, pool in sorted((per_token(p), p) for p in svc.pools if p[0] in svc.city_sites[city]):
                if left <= 0 or unit > unserved_rate:
                    break
                key = (sid, pool[0], pool[1])
                per_replica = scaling.tokens_down(svc.replica_tokens_per_s(pool[1]))
                cpr = svc.chips_per_replica[pool[1]]
                while spare[key] < left and per_replica > 0 and fits(pool, cpr, steps):
                    take(pool, cpr, steps)
                    plan.replicas[(sid, pool[0], pool[1], b)] = plan.replicas.get((sid, pool[0], pool[1], b), 0) + 1
                    spare[key] += per_replica
                use = min(left, spare[key])
                if use > 0:
                    spare[key] -= use
                    fk = (sid, city, pool[0], b)
                    plan.flow[fk] = plan.flow.get(fk, 0) + use
                    left -= use

    order = sorted((j for j in td.jobs if j not in td.pre_unplaced and td.jobs[j].windows),
                   key=lambda j: (-problem.jobs[j].chips * min(problem.jobs[j].hours.values()), j))
    for jid in order:
        tj, chips = td.jobs[jid], problem.jobs[jid].chips
        penalty = problem.jobs[jid].penalty_cny
        if tj.preemptible:
            best = None
            for pool, w in tj.windows.items():
                ok = [u for u in range(w.earliest, w.deadline) if fits(pool, chips, range(u, u + 1))]
                if len(ok) < w.steps:
                    continue
                chosen = sorted(sorted(ok, key=lambda u: (td.price[pool][u], u))[:w.steps])
                segs = _runs(chosen)
                kwh_cost = job_energy(problem, td, jid, pool, chosen)[1] * (
                    1.0 - td.idle_fraction if td.idle_mode == "idle" else 1.0)
                tr = tj.transfers.get(pool[0])
                cost = (problem.power_cost_weight * kwh_cost + tj.checkpoint_cny * (len(segs) - 1)
                        + (tr.cost_cny if tr else 0.0))
                if best is None or cost < best[0]:
                    best = (cost, pool, segs)
            if best is not None and best[0] <= penalty:
                plan.segments[jid] = (best[1], best[2])
                for s, e in best[2]:
                    take(best[1], chips, range(s, e))
            continue
        options = sorted((start_cost(problem, td, prices, jid, p, t), p, t)
                         for p, w in tj.windows.items() for t in range(w.earliest, w.latest_start + 1))
        for cost, pool, t in options:
            if cost > penalty:
                break
            steps = range(t, t + tj.windows[pool].steps)
            if fits(pool, chips, steps):
                take(pool, chips, steps)
                plan.segments[jid] = (pool, [(t, steps.stop)])
                break
    return plan


def _runs(steps: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for u in steps:
        if out and out[-1][1] == u:
            out[-1] = (out[-1][0], u + 1)
        else:
            out.append((u, u + 1))
    return out


# ---------------------------------------------------------------------------- build
def build_time_model(problem: Problem, td: TimeData, greedy: TimePlan | None = None, *,
                     job_pools: dict[str, set[Pool]] | None = None,
                     serving_pools: dict[str, set[Pool]] | None = None) -> TimeModel:
    """Variables → constraints → objective, each family in its own function.

    ``job_pools`` and ``serving_pools`` restrict where jobs and services may go (see
    ``spatial_pools``); the greedy schedule's pools are always kept, so it stays a full hint."""
    greedy = greedy if greedy is not None else TimePlan()
    classes = time_classes(problem, td)
    select_pools_and_starts(problem, td, classes, greedy, job_pools)
    if serving_pools is not None:
        serving_pools = {sid: set(serving_pools.get(sid, ())) for sid in problem.services}
        for (sid, site, accel, _b) in greedy.replicas:
            serving_pools[sid].add((site, accel))
    m = TimeModel(problem, td, cp_model.CpModel(), classes, serving_pools=serving_pools,
                  flow_quantum=scaling.flow_quantum([s.replica_tokens_per_s(a) for s in problem.services.values()
                                                     for a in s.chips_per_replica]))
    add_job_variables(m)
    add_serving_variables(m)
    add_job_assignment(m)
    add_checkpoints(m)
    add_capacity_at_every_step(m)
    add_demand_routing(m)
    add_serving_capacity(m)
    set_objective(m)
    return m


def add_job_variables(m: TimeModel) -> None:
    """x[c,p,t] for non-preemptible classes; on, run and seg for preemptible jobs."""
    p = m.problem
    for ci, cls in enumerate(m.classes):
        chips = p.jobs[cls.template].chips
        for pool, starts in cls.starts.items():
            w_busy, _ = _watts(p, m.td, pool)
            ub = min(len(cls.job_ids), p.inventory[pool] // chips,
                     max(0, _site_cap_w(p, m.td, pool[0])) // max(1, chips * w_busy))
            if ub <= 0:
                continue
            if cls.preemptible:
                m.on[(ci, pool)] = m.int_var(1, f"on[{cls.template},{pool[0]},{pool[1]}]")
                for u in starts:
                    m.run[(ci, pool, u)] = m.int_var(1, f"run[{cls.template},{pool[0]},{pool[1]},{u}]")
                    m.seg[(ci, pool, u)] = m.int_var(1, f"seg[{cls.template},{pool[0]},{pool[1]},{u}]")
            else:
                for t in starts:
                    m.x[(ci, pool, t)] = m.int_var(ub, f"x[{cls.template}..,{pool[0]},{pool[1]},{t}]")


def add_serving_variables(m: TimeModel) -> None:
    """r[v,p,b] per block, f[v,k,s,b] only where RTT(k,s) ≤ SLO (the latency SLO holds by construction)."""
    p = m.problem
    for svc in p.services.values():
        pools = [q for q in svc.pools if m.serving_pools is None or q in m.serving_pools.get(svc.id, ())]
        bounds = {(site, accel): p.inventory[(site, accel)] // svc.chips_per_replica[accel] for site, accel in pools}
        served_sites = {site for (site, _a), ub in bounds.items() if ub > 0}
        for b in range(len(m.td.blocks)):
            for (site, accel), ub in bounds.items():
                if ub > 0:
                    m.r[(svc.id, site, accel, b)] = m.int_var(ub, f"r[{svc.id},{site},{accel},{b}]")
            for city in svc.demand_tokens_per_s:
                cap = scaling.flow_units(m.td.demand[(svc.id, city)][b], m.flow_quantum)
                for site in svc.city_sites[city]:
                    if site in served_sites and cap > 0:
                        m.f[(svc.id, city, site, b)] = m.int_var(cap, f"f[{svc.id},{city},{site},{b}]")


def add_job_assignment(m: TimeModel) -> None:
    """Σ_p,t x[c,p,t] ≤ n_c; Σ_p on[q,p] ≤ 1 and Σ_u run[q,p,u] = steps_q · on[q,p]."""
    per: dict[int, list] = defaultdict(list)
    for (ci, _pool, _t), var in m.x.items():
        per[ci].append(var)
    for (ci, _pool), var in m.on.items():
        per[ci].append(var)
    for ci, vars_ in per.items():
        m.model.add(sum(vars_) <= len(m.classes[ci].job_ids)).with_name(f"job_assignment[{m.classes[ci].template}]")
    runs: dict[tuple[int, Pool], list] = defaultdict(list)
    for (ci, pool, _u), var in m.run.items():
        runs[(ci, pool)].append(var)
    for (ci, pool), on in m.on.items():
        steps = m.td.jobs[m.classes[ci].template].windows[pool].steps
        m.model.add(sum(runs[(ci, pool)]) == steps * on).with_name(f"run_length[{m.classes[ci].template},{pool}]")


def add_checkpoints(m: TimeModel) -> None:
    """seg[q,p,u] ≥ run[q,p,u] − run[q,p,u−1]: each run segment starts once; resumes = Σ seg − on."""
    for (ci, pool, u), var in m.run.items():
        prev = m.run.get((ci, pool, u - 1))
        m.model.add(m.seg[(ci, pool, u)] >= var - (prev if prev is not None else 0))


def add_capacity_at_every_step(m: TimeModel) -> None:
    """∀ pool p, step τ where usage can rise: chips in use ≤ inventory; ∀ site: busy watts ≤ cap − idle draw."""
    p, td = m.problem, m.td
    checks: dict[str, set[int]] = defaultdict(set)
    for s, _e in td.blocks:
        for site in p.sites:
            checks[site].add(s)
    for (_ci, pool, t) in m.x:
        checks[pool[0]].add(t)
    for (_ci, pool, u) in m.run:
        checks[pool[0]].add(u)
    sorted_checks = {s: sorted(v) for s, v in checks.items()}
    chips: dict[tuple[Pool, int], list] = defaultdict(list)
    for (ci, pool, t), var in m.x.items():
        cls = m.classes[ci]
        n = td.jobs[cls.template].windows[pool].steps
        g = p.jobs[cls.template].chips
        ticks = sorted_checks[pool[0]]
        for i in range(bisect.bisect_left(ticks, t), bisect.bisect_left(ticks, t + n)):
            chips[(pool, ticks[i])].append((g, var))
    for (ci, pool, u), var in m.run.items():
        chips[(pool, u)].append((p.jobs[m.classes[ci].template].chips, var))
    for (sid, site, accel, b), var in m.r.items():
        s, e = td.blocks[b]
        ticks = sorted_checks[site]
        for i in range(bisect.bisect_left(ticks, s), bisect.bisect_left(ticks, e)):
            chips[((site, accel), ticks[i])].append((p.services[sid].chips_per_replica[accel], var))
    site_terms: dict[tuple[str, int], list] = defaultdict(list)
    watts = {pool: _watts(p, td, pool)[0] for pool in p.inventory}
    for (pool, tau), terms in chips.items():
        expr = cp_model.LinearExpr.weighted_sum([v for _c, v in terms], [c for c, _v in terms])
        m.model.add(expr <= p.inventory[pool]).with_name(f"chip_capacity[{pool[0]},{pool[1]},{tau}]")
        site_terms[(pool[0], tau)].extend((c * watts[pool], v) for c, v in terms)
    caps = {s: _site_cap_w(p, td, s) for s in p.sites}
    for (site, tau), terms in site_terms.items():
        expr = cp_model.LinearExpr.weighted_sum([v for _c, v in terms], [c for c, _v in terms])
        m.model.add(expr <= max(0, caps[site])).with_name(f"site_power_cap[{site},{tau}]")


def add_demand_routing(m: TimeModel) -> None:
    """Σ_s f[v,k,s,b] ≤ demand_v,k,b: never serve more than a city asks for in a block."""
    per: dict[tuple[str, str, int], list] = defaultdict(list)
    for (sid, city, _site, b), var in m.f.items():
        per[(sid, city, b)].append(var)
    for (sid, city, b), vars_ in per.items():
        m.model.add(sum(vars_) <= scaling.flow_units(m.td.demand[(sid, city)][b], m.flow_quantum)).with_name(
            f"demand_routing[{sid},{city},{b}]")


def add_serving_capacity(m: TimeModel) -> None:
    """Σ_k f[v,k,s,b] ≤ Σ_a ⌊tps·cpr⌋·r[v,s,a,b]: served tokens have replicas behind them in that block."""
    p = m.problem
    inflow: dict[tuple[str, str, int], list] = defaultdict(list)
    for (sid, _city, site, b), var in m.f.items():
        inflow[(sid, site, b)].append(var)
    capacity: dict[tuple[str, str, int], list] = defaultdict(list)
    for (sid, site, accel, b), var in m.r.items():
        capacity[(sid, site, b)].append(
            scaling.flow_units(p.services[sid].replica_tokens_per_s(accel), m.flow_quantum) * var)
    for key, flows in inflow.items():
        m.model.add(sum(flows) <= sum(capacity[key])).with_name(f"serving_capacity[{key[0]},{key[1]},{key[2]}]")


def set_objective(m: TimeModel) -> None:
    """min power (marginal; idle draw of the inventory is a constant) + transfer + checkpoint
    + latency + unserved + unplaced, in CNY, scaled once by ``CostScale``."""
    p, td = m.problem, m.td
    prices = _Prices(td)
    w = p.power_cost_weight
    power, transfer, penalty, latency, checkpoint = [], [], [], [], []
    for (ci, pool, t), var in m.x.items():
        jid = m.classes[ci].template
        tr = td.jobs[jid].transfers.get(pool[0])
        power.append((start_cost(p, td, prices, jid, pool, t) - (tr.cost_cny if tr else 0.0), var))
        if tr and tr.cost_cny:
            transfer.append((tr.cost_cny, var))
        penalty.append((-p.jobs[jid].penalty_cny, var))
    for (ci, pool), var in m.on.items():
        jid = m.classes[ci].template
        tr = td.jobs[jid].transfers.get(pool[0])
        if tr and tr.cost_cny:
            transfer.append((tr.cost_cny, var))
        penalty.append((-p.jobs[jid].penalty_cny, var))
        checkpoint.append((-td.jobs[jid].checkpoint_cny, var))
    for (ci, pool, u), var in m.run.items():
        jid = m.classes[ci].template
        wd = td.jobs[jid].windows[pool]
        frac = (wd.steps - 1 + wd.busy_last) / wd.steps  # spread the short last step over the run
        kw = busy_kw_marginal(p, td, pool) * p.jobs[jid].chips
        power.append((w * kw * td.step_h * frac * td.price[pool][u], var))
        checkpoint.append((td.jobs[jid].checkpoint_cny, m.seg[(ci, pool, u)]))
    for (sid, site, accel, b), var in m.r.items():
        kw = busy_kw_marginal(p, td, (site, accel)) * p.services[sid].chips_per_replica[accel]
        power.append((w * kw * td.block_hours(b) * td.block_price((site, accel), b), var))
    for (sid, city, site, b), var in m.f.items():
        hours = td.block_hours(b)
        q = m.flow_quantum
        latency.append((q * p.latency_cny_per_token_per_s(sid, city, site) / p.horizon_h * hours, var))
        penalty.append((-q * p.unserved_cny_per_token_per_s(sid) / p.horizon_h * hours, var))
    idle = 0.0
    if td.idle_mode == "idle":
        for pool, inv in p.inventory.items():
            kw = p.meter_kw_per_chip(*pool) * td.idle_fraction
            idle += w * inv * kw * td.step_h * sum(td.price[pool])
    constants = {
        "power_cost": idle,
        "unplaced_penalty": sum(j.penalty_cny for j in p.jobs.values())
        + sum(p.unserved_cny_per_token_per_s(sid) / p.horizon_h * td.block_hours(b) * scaling.demand_tokens(d)
              for (sid, _c), per in td.demand.items() for b, d in enumerate(per)),
    }
    terms = {"power_cost": power, "transfer": transfer, "checkpoint": checkpoint, "latency": latency,
             "unplaced_penalty": penalty}
    m.scale, m.objective_terms = minimize(m.model, terms, constants, m.upper)


def add_hints(m: TimeModel, plan: TimePlan) -> None:
    """Warm start from the greedy schedule; every variable gets a hint."""
    class_of = {j: ci for ci, c in enumerate(m.classes) for j in c.job_ids}
    x: dict[tuple[int, Pool, int], int] = defaultdict(int)
    on: dict[tuple[int, Pool], int] = {}
    run: dict[tuple[int, Pool, int], int] = {}
    seg: dict[tuple[int, Pool, int], int] = {}
    for jid, (pool, segs) in plan.segments.items():
        ci = class_of.get(jid)
        if ci is None:
            continue
        if m.classes[ci].preemptible:
            on[(ci, pool)] = 1
            for s, e in segs:
                seg[(ci, pool, s)] = 1
                for u in range(s, e):
                    run[(ci, pool, u)] = 1
        else:
            x[(ci, pool, segs[0][0])] += 1
    for key, var in m.x.items():
        m.model.add_hint(var, x.get(key, 0))
    for key, var in m.on.items():
        m.model.add_hint(var, on.get(key, 0))
    for key, var in m.run.items():
        m.model.add_hint(var, run.get(key, 0))
    for key, var in m.seg.items():
        m.model.add_hint(var, seg.get(key, 0))
    for key, var in m.r.items():
        m.model.add_hint(var, min(plan.replicas.get(key, 0), m.upper[var.index]))
    for key, var in m.f.items():
        m.model.add_hint(var, min(plan.flow.get(key, 0) // m.flow_quantum, m.upper[var.index]))


# ---------------------------------------------------------------------------- solve

def solve_time(scenario: Scenario, *, problem: Problem | None = None, td: TimeData | None = None,
               time_limit_s: float | None = None, workers: int | None = None, seed: int | None = None,
               relative_gap_limit: float | None = None, on_progress: Callable | None = None,
               hint: bool = True, decompose: str = "auto") -> Result:
    """Schedule the scenario hour by hour (or block by block) with CP-SAT and return the plan with its timeline.

    ``decompose="spatial"`` first places the work with the spatial model (``SPATIAL_SHARE`` of the
    time limit) and then schedules each job class and service only on the pools that placement or
    the greedy schedule chose. The CP-SAT bound is then the restricted model's (``restricted_bound``);
    ``best_bound`` and ``gap`` always hold a bound on the full model, and a restricted optimum is
    reported as ``feasible``. ``"auto"`` decomposes when the model would have more than
    ``AUTO_DECOMPOSE_REPLICA_VARIABLES`` replica variables; ``"off"`` never does.
    """
    if decompose not in ("auto", "spatial", "off"):
        raise ValueError(f"decompose must be auto, spatial or off, not {decompose!r}")
    settings = scenario.solver
    problem = problem if problem is not None else build_problem(scenario)
    time_limit_s = time_limit_s if time_limit_s is not None else settings.time_limit_s
    workers = workers if workers is not None else settings.workers
    seed = seed if seed is not None else settings.seed
    relative_gap_limit = relative_gap_limit if relative_gap_limit is not None else settings.relative_gap

    t0 = time.perf_counter()
    td = td if td is not None else build_time_data(scenario, problem)
    greedy = greedy_schedule(problem, td)
    greedy_s = time.perf_counter() - t0
    if decompose == "auto":
        decompose = "spatial" if replica_variables(problem, td) > AUTO_DECOMPOSE_REPLICA_VARIABLES else "off"
    job_pools = serving_pools = None
    spatial_info: dict = {}
    if decompose == "spatial":
        job_pools, serving_pools, spatial_info = spatial_pools(problem, SPATIAL_SHARE * time_limit_s, workers, seed)
    m = build_time_model(problem, td, greedy, job_pools=job_pools, serving_pools=serving_pools)
    if hint:
        add_hints(m, greedy)
    build_s = time.perf_counter() - t0

    solver = new_solver(time_limit_s - build_s, workers, seed, relative_gap_limit)  # the limit covers the build
    status, outcome = run_solver(solver, m.model, m.scale, on_progress)
    relaxed = relaxed_bound(problem, td)
    info = {
        "model": "time", **outcome,
        "wall_s": round(time.perf_counter() - t0, 3), "build_s": round(build_s, 3), "greedy_s": round(greedy_s, 3),
        "time_limit_s": time_limit_s, "workers": workers, "seed": seed,
        "cost_units_per_cny": m.scale.units_per_cny, "start_grid": td.start_grid,
        "decomposition": decompose, **spatial_info, "relaxed_bound": relaxed,
        **m.stats(),
    }
    if decompose == "spatial":
        # the restricted model's bound says nothing about the choices it was not offered
        info["bound_scope"] = "full (relaxed); restricted_bound covers the restricted pools only"
        info["restricted_bound"], info["restricted_gap"] = outcome["best_bound"], outcome["gap"]
        info["best_bound"] = relaxed
        if status == Status.optimal:
            status = Status.feasible
            info["status"] = status.value
    else:
        info["bound_scope"] = "full"
        if outcome["best_bound"] is not None:
            info["best_bound"] = max(outcome["best_bound"], relaxed)
    if status.has_plan:
        plan = extract_plan(m, solver)
    else:
        plan = TimePlan()
    result = write_back_time(problem, td, plan, status, info)
    result.solver["greedy_objective"] = write_back_time(problem, td, greedy, Status.feasible, {}).objective["total_cny"]
    if status.has_plan:
        result.solver["gap"] = relative_gap(result.solver["objective"], result.solver["best_bound"])
    return result


def replica_variables(problem: Problem, td: TimeData) -> int:
    """How many r[v,p,b] the full model would have (serving dominates the model's size at scale)."""
    return len(td.blocks) * sum(len(s.pools) for s in problem.services.values())


def spatial_pools(problem: Problem, time_limit_s: float, workers: int, seed: int
                  ) -> tuple[dict[str, set[Pool]], dict[str, set[Pool]], dict]:
    """Place the work with the spatial model and return the pools it chose per job and per service."""
    placed = solve_spatial(problem, time_limit_s=time_limit_s, workers=workers, seed=seed)
    job_pools: dict[str, set[Pool]] = defaultdict(set)
    serving_pools: dict[str, set[Pool]] = defaultdict(set)
    for r in placed.placements.itertuples(index=False):
        (job_pools if r.kind != "inference" else serving_pools)[r.workload].add((r.site, r.accelerator))
    s = placed.solver
    info = {"spatial_s": s.get("wall_s"), "spatial_gap": s.get("gap"), "spatial_status": placed.status.value}
    return dict(job_pools), dict(serving_pools), info


def relaxed_bound(problem: Problem, td: TimeData) -> float:
    """A lower bound on the full time model (CNY): every job at its cheapest (pool, start) or unplaced,
    every token of demand served at its cheapest pool in reach (fractional replicas) or unserved,
    ignoring chips and power caps; plus the idle draw of the inventory, which no plan avoids."""
    prices = _Prices(td)
    w = problem.power_cost_weight
    total = 0.0
    if td.idle_mode == "idle":
        for pool, inv in problem.inventory.items():
            total += w * inv * problem.meter_kw_per_chip(*pool) * td.idle_fraction * td.step_h * sum(td.price[pool])
    for jid, job in problem.jobs.items():
        tj = td.jobs.get(jid)
        best = job.penalty_cny
        if tj is not None and jid not in td.pre_unplaced:
            for pool, wd in tj.windows.items():
                tr = tj.transfers.get(pool[0])
                if tj.preemptible:
                    frac = (wd.steps - 1 + wd.busy_last) / wd.steps
                    kw = busy_kw_marginal(problem, td, pool) * job.chips
                    cheapest = sorted(td.price[pool][wd.earliest:wd.deadline])[:wd.steps]
                    cost = w * kw * td.step_h * frac * sum(cheapest)
                else:
                    cost = min(start_cost(problem, td, prices, jid, pool, t) for t in (
                        range(wd.earliest, wd.latest_start + 1))) - (tr.cost_cny if tr else 0.0)
                best = min(best, cost + (tr.cost_cny if tr else 0.0))
        total += best
    for (sid, city), per in td.demand.items():
        svc = problem.services[sid]
        unserved = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h
        reach = [q for q in svc.pools if q[0] in svc.city_sites[city]
                 and problem.inventory[q] // svc.chips_per_replica[q[1]] > 0
                 and scaling.tokens_down(svc.replica_tokens_per_s(q[1])) > 0]
        for b, d in enumerate(per):
            hours = td.block_hours(b)
            unit = unserved * hours
            for q in reach:
                kw = busy_kw_marginal(problem, td, q) * svc.chips_per_replica[q[1]]
                unit = min(unit, w * kw * hours * td.block_price(q, b) / scaling.tokens_down(svc.replica_tokens_per_s(q[1]))
                           + problem.latency_cny_per_token_per_s(sid, city, q[0]) / problem.horizon_h * hours)
            total += unit * scaling.demand_tokens(d)
    return total


def extract_plan(m: TimeModel, solver: cp_model.CpSolver) -> TimePlan:
    """Read the solver's values into a TimePlan, naming which job of a class starts where and when."""
    plan = TimePlan()
    per_class: dict[int, list] = defaultdict(list)
    for (ci, pool, t), var in m.x.items():
        n = int(solver.value(var))
        if n:
            per_class[ci].append((pool, t, n))
    for ci, items in per_class.items():
        members = iter(m.classes[ci].job_ids)
        steps = {pool: m.td.jobs[m.classes[ci].template].windows[pool].steps for pool, _t, _n in items}
        for pool, t, n in sorted(items):
            for _ in range(n):
                plan.segments[next(members)] = (pool, [(t, t + steps[pool])])
    for (ci, pool), var in m.on.items():
        if solver.value(var):
            steps = sorted(u for (c, p, u), v in m.run.items() if c == ci and p == pool and solver.value(v))
            plan.segments[m.classes[ci].template] = (pool, _runs(steps))
    plan.replicas = {k: int(solver.value(v)) for k, v in m.r.items() if solver.value(v) > 0}
    plan.flow = {k: int(solver.value(v)) * m.flow_quantum for k, v in m.f.items() if solver.value(v) > 0}
    return plan


# ---------------------------------------------------------------------------- write back
def write_back_time(problem: Problem, td: TimeData, plan: TimePlan, status: Status, solver_info: dict) -> Result:
    """Turn a TimePlan into a Result: schedule, replicas, serving, transfers and the recomputed timeline."""

    step = td.step_h
    sched_rows, transfer_rows = [], []
    for jid, (pool, segs) in sorted(plan.segments.items()):
        steps = run_steps_of(segs)
        fracs = td.busy_fractions(jid, pool, len(steps))
        i = 0
        for k, (s, e) in enumerate(sorted(segs)):
            n = e - s
            kwh = cost = 0.0
            for u, f in zip(range(s, e), fracs[i:i + n]):
                piece = problem.jobs[jid].chips * problem.meter_kw_per_chip(*pool) * step * f
                kwh += piece
                cost += piece * td.price[pool][u]
            i += n
            sched_rows.append((jid, pool[0], pool[1], problem.jobs[jid].chips, k + 1, s * step, e * step,
                               kwh / 1000, problem.power_cost_weight * cost))
        tr = td.jobs[jid].transfers.get(pool[0])
        if tr is not None:
            transfer_rows.append((jid, tr.origin, tr.site, tr.dataset_gb, tr.bandwidth_gbps, tr.share, tr.hours,
                                  tr.cost_cny, tr.path))
    schedule = pd.DataFrame(sched_rows, columns=SCHEDULE_COLUMNS)
    transfers = pd.DataFrame(transfer_rows, columns=TRANSFER_COLUMNS)
    replicas = pd.DataFrame([(td.blocks[b][0] * step, td.blocks[b][1] * step, sid, site, accel, n)
                             for (sid, site, accel, b), n in sorted(plan.replicas.items(), key=lambda kv: (kv[0][3], kv[0]))],
                            columns=REPLICA_COLUMNS)
    serving = pd.DataFrame(_route_blocks(problem, td, plan), columns=SERVING_COLUMNS)
    objective, kpis, hourly = evaluate_timeline(problem, td, schedule, replicas, serving)
    gantt = [(r.workload, problem.jobs[r.workload].kind, r.site, r.accelerator, r.chips, r.start_h, r.end_h)
             for r in schedule.itertuples(index=False)]
    gantt += [(r.service, "inference", r.site, r.accelerator,
               r.replicas * problem.services[r.service].chips_per_replica[r.accelerator], r.start_h, r.end_h)
              for r in replicas.itertuples(index=False)]
    timeline = pd.DataFrame(gantt, columns=TIMELINE_COLUMNS)
    placements, routing = _summaries(problem, td, schedule, replicas, serving)
    unplaced = pd.DataFrame(_explain_unplaced(problem, td, plan, serving), columns=UNPLACED_COLUMNS)
    sites, inventory, cities = context_tables(problem, placements)
    if len(hourly):  # chips and power in use at the busiest hour, not summed over the horizon
        busy = hourly.assign(chips=hourly.training_chips + hourly.inference_chips)
        peak_chips = busy.groupby(["site", "accelerator"]).chips.max()
        inventory["chips_used"] = [int(round(peak_chips.get((r.site, r.accelerator), 0)))
                                   for r in inventory.itertuples(index=False)]
        peak_mw = hourly.groupby(["hour", "site"]).meter_kw.sum().groupby("site").max() / 1000
        sites["power_used_mw"] = [float(peak_mw.get(site, 0.0)) for site in sites.site]
    return Result(scenario=problem.name, status=status, objective=objective, kpis=kpis, placements=placements,
                  routing=routing, unplaced=unplaced, solver=solver_info, sites=sites, inventory=inventory,
                  cities=cities, warnings=list(problem.warnings),
                  meta={"catalog_version": problem.catalog_version, "topology_version": problem.topology_version,
                        "horizon_h": problem.horizon_h, "mode": "time", "step_h": td.step_h,
                        "demand_profile": td.profile, "idle_chips": td.idle_mode,
                        "idle_power_fraction": td.idle_fraction, "figures": list(problem.figures),
                        "estimated_throughput": estimated_throughput(problem.figures)},
                  timeline=timeline, hourly=hourly, schedule=schedule, replicas=replicas, serving=serving, transfers=transfers)


def _route_blocks(problem: Problem, td: TimeData, plan: TimePlan) -> list[tuple]:
    """Split each block's (service, city, site) flow over the accelerators serving it there."""
    left = {k: scaling.tokens_down(problem.services[k[0]].replica_tokens_per_s(k[2])) * n
            for k, n in plan.replicas.items()}
    rows = []
    for (sid, city, site, b), tps in sorted(plan.flow.items(), key=lambda kv: (kv[0][3], kv[0])):
        for key in sorted(k for k in left if k[0] == sid and k[1] == site and k[3] == b):
            take = min(tps, left[key])
            if take > 0:
                rows.append((td.blocks[b][0] * td.step_h, td.blocks[b][1] * td.step_h, sid, city, site, key[2],
                             take, problem.rtt_ms[(city, site)]))
                left[key] -= take
                tps -= take
    return rows


def _summaries(problem: Problem, td: TimeData, schedule: pd.DataFrame, replicas: pd.DataFrame,
               serving: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The spatial tables, for reports and maps: jobs with their energy, services at their peak replicas,
    and routing as the horizon's mean tokens/s."""
    rows = []
    if len(schedule):
        for (jid, site, accel, chips), g in schedule.groupby(["workload", "site", "accelerator", "chips"]):
            rows.append((jid, problem.jobs[jid].kind, site, accel, int(chips), 0, float((g.end_h - g.start_h).sum()),
                         float(g.energy_mwh.sum()), float(g.power_cost_cny.sum())))
    if len(replicas):
        for (sid, site, accel), g in replicas.groupby(["service", "site", "accelerator"]):
            cpr = problem.services[sid].chips_per_replica[accel]
            peak = int(g.replicas.max())
            replica_h = float(((g.end_h - g.start_h) * g.replicas).sum())
            kw = problem.meter_kw_per_chip(site, accel) * cpr
            cost = sum(kw * float(r.replicas) * sum(td.price[(site, accel)][u] * td.step_h
                                                    for u in range(int(r.start_h // td.step_h), int(r.end_h // td.step_h)))
                       for r in g.itertuples(index=False))
            rows.append((sid, "inference", site, accel, peak * cpr, peak, replica_h / peak if peak else 0.0,
                         kw * replica_h / 1000, problem.power_cost_weight * cost))
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    route = []
    if len(serving):
        s = serving.assign(token_h=serving.tokens_per_s * (serving.end_h - serving.start_h))
        for (sid, city, site, accel), g in s.groupby(["service", "city", "site", "accelerator"]):
            route.append((sid, city, site, accel, float(g.token_h.sum()) / td.horizon_h, problem.rtt_ms[(city, site)]))
    return placements, pd.DataFrame(route, columns=ROUTING_COLUMNS)


def _explain_unplaced(problem: Problem, td: TimeData, plan: TimePlan, serving: pd.DataFrame) -> list[tuple]:
    rows = []
    prices = _Prices(td)
    for jid in sorted(problem.jobs):
        if jid in plan.segments:
            continue
        if jid in td.pre_unplaced:
            rows.append((jid, problem.jobs[jid].kind, None, None, td.pre_unplaced[jid]))
            continue
        tj = td.jobs[jid]
        cheapest = min(start_cost(problem, td, prices, jid, p, t) for p, w in tj.windows.items()
                       for t in range(w.earliest, w.latest_start + 1))
        if cheapest > problem.jobs[jid].penalty_cny:
            reason = (f"its cheapest run in its window costs {cheapest:,.0f} CNY, more than its unplaced penalty "
                      f"{problem.jobs[jid].penalty_cny:,.0f} CNY; raise unplaced_cny_per_chip_hour to place it")
        else:
            reason = ("in every hour of its window the chips or power it could use were taken by cheaper or "
                      "higher-penalty work; widen its window, add chips or power, or allow more accelerators")
        rows.append((jid, problem.jobs[jid].kind, None, None, reason))
    served: dict[tuple[str, str, int], float] = defaultdict(float)
    for r in serving.itertuples(index=False):
        served[(r.service, r.city, int(r.start_h // td.step_h))] += float(r.tokens_per_s)
    for (sid, city), per in sorted(td.demand.items()):
        short_th, short_blocks = 0.0, []
        for b, d in enumerate(per):
            gap = d - served[(sid, city, td.blocks[b][0])]
            if gap > 0.5:
                short_th += gap * td.block_hours(b)
                short_blocks.append(b)
        if short_th:
            first = td.blocks[short_blocks[0]][0] * td.step_h
            rows.append((sid, "inference", city, short_th / td.horizon_h,
                         f"short in {len(short_blocks)} of {len(td.blocks)} blocks (first at hour {first}): no free "
                         f"capacity within the {problem.services[sid].rtt_slo_ms:g} ms SLO then, or serving costs "
                         "more than the unserved penalty; add chips or power nearby or relax rtt_slo_ms"))
    return rows
