"""The one model core: CP-SAT over (period, time block), one function per constraint family.

Every plan the project makes is this model over some blocks (``planner.problem.timedata``):
the spatial plan is one block over the whole horizon at mean prices (``one_block``), the
time-of-use plan one block per run of equal tariffs and demand, and capacity planning puts
one copy per period into a shared model with purchase variables on top (``prefix``,
``base_inventory`` and ``added_chips``, see ``planner.studies.capacity``).

Formulation::

  sets   T steps of step_h hours; B blocks (maximal runs of steps with equal prices at every site
         and equal demand); C job classes (identical jobs with identical windows, counted together);
         P pools (site s, accelerator a); S_c,p candidate start steps of class c on pool p;
         Q preemptible jobs; V services, K cities
  vars   x[c,p,t]    ∈ 0..n_c       jobs of class c started on p at step t ∈ S_c,p
         on[q,p]     ∈ {0,1}        preemptible job q runs on p;  run[q,p,u], seg[q,p,u] ∈ {0,1}
         r[v,p,b]    ∈ 0..⌊inv_p/cpr⌋  replicas of v on p during block b
         f[v,k,s,b]  ∈ 0..demand    tokens/s of v from city k served at s in block b
  min    Σ x·(run_power_c,p(t) + transfer_c,s) + Σ run·step_power + ckpt_q·(Σ_u seg − Σ_p on)
       + Σ r·replica_power_v,p,b + Σ f·lat·hours_b + unserved + unplaced      (CNY, planner.problem.costs)
       + Σ x·(1 − share_c,a)·pen_c + Σ on·(1 − share_q,a)·pen_q               (unfinished work: a job longer
                                                                              than the horizon, build.py)
  s.t.   Σ_p,t x[c,p,t] ≤ n_c;  Σ_p on[q,p] ≤ 1;  Σ_u run[q,p,u] = steps_q·on[q,p]     (job_assignment)
         seg[q,p,u] ≥ run[q,p,u] − run[q,p,u−1]                                      (checkpoints)
         ∀p, τ: Σ_{t ≤ τ < t+n_c} chips_c·x + chips_q·run[q,p,τ] + cpr·r[v,p,b(τ)]
                  ≤ inv_p (+ Σ chips·units bought)                                    (chip_capacity)
         ∀s, τ: Σ_p W_p·(chips busy at τ) + W_idle·inv_s ≤ cap_s                       (site_power_cap)
         Σ_s f[v,k,s,b] ≤ demand_v,k,b                                                (demand_routing)
         Σ_k f[v,k,s,b] ≤ Σ_a ⌊tps·cpr⌋·r[v,s,a,b]                                     (serving_capacity)
         f exists only where RTT(k,s) ≤ SLO_v                                         (latency_slo, by construction)
         replica rounding cuts (valid inequalities, ``add_replica_rounding_cuts``)

Usage only rises at a start, a block start or a preemptible run step, so the
capacity rows are written at those steps τ only: exact, and far fewer rows.

Aggregation: identical jobs share integer variables; ``start_grid: breakpoints`` offers each
job only the starts that can be optimal for its own cost (window ends, block boundaries b
and b − duration) plus the greedy schedule's starts — exact for a job alone, an
approximation when jobs queue for the same chips (``every_step`` is exact). With many
classes each keeps only its cheapest pools (``pools_per_job``), always including the pool
the greedy plan chose. Integer scaling is done by ``planner.core.scaling`` only.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from planner.core import scaling
from planner.problem.build import Pool, Problem
from planner.problem.costs import (
    StepPrices,
    idle_power_cny,
    replica_block_cny,
    run_power_cny,
    step_power_cny,
    transfer_cny,
)
from planner.problem.timedata import TimeData

#: above this many (class, pool) pairs, each class keeps only its cheapest pools (time of use)
AUTO_POOLS_LIMIT = 3000
AUTO_POOLS_PER_JOB = 3

Terms = dict[str, list[tuple[float, cp_model.IntVar]]]

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
    """The CP-SAT model with its named variables; inspect it or export it before solving."""

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
    #: name prefix, e.g. the period in multi-period capacity planning
    prefix: str = ""
    #: chips on hand per pool; defaults to the problem's inventory
    base_inventory: dict[Pool, int] | None = None
    #: chips that purchases add per pool: (chips per unit, units variable)
    added_chips: dict[Pool, list[tuple[int, cp_model.IntVar]]] = field(default_factory=dict)

    def int_var(self, ub: int, name: str) -> cp_model.IntVar:
        var = self.model.new_int_var(0, ub, f"{self.prefix}{name}")
        self.upper[var.index] = ub
        return var

    def stats(self) -> dict[str, int]:
        proto = self.model.Proto()
        return {"variables": len(proto.variables), "constraints": len(proto.constraints),
                "job_classes": len(self.classes), "jobs": sum(len(c.job_ids) for c in self.classes),
                "steps": self.td.steps, "blocks": len(self.td.blocks)}

    def integer_variables(self) -> set[int]:
        """Variables whose integrality costs the gap: whole replicas per block and whole purchases
        (``planner.core.runner.solve_model``)."""
        return {v.index for v in self.r.values()} | {
            var.index for units in self.added_chips.values() for _c, var in units}


# ---------------------------------------------------------------------------- pricing (planner.problem.costs)
def start_cost(problem: Problem, td: TimeData, prices: StepPrices, jid: str, pool: Pool, start: int) -> float:
    """What placing job ``jid`` on ``pool`` from step ``start`` adds (CNY): its marginal power, its transfer
    and the work it leaves unfinished (a job longer than the horizon, ``JobData.unfinished_work_cny``)."""
    return (run_power_cny(problem, td, prices, jid, pool, start) + transfer_cny(td, jid, pool[0])
            + problem.jobs[jid].unfinished_work_cny(pool[1]))


def placed_cost(problem: Problem, td: TimeData, prices: StepPrices, jid: str, pool: Pool,
                segments: list[tuple[int, int]]) -> float:
    """What job ``jid`` placed on ``pool`` in ``segments`` adds (CNY), as the objective prices it: a
    one-piece run is ``start_cost``; a preemptible job pays each run step, a resume per extra
    segment, its transfer and the work it leaves unfinished."""
    tj = td.jobs[jid]
    if not tj.preemptible:
        return start_cost(problem, td, prices, jid, pool, segments[0][0])
    return (sum(step_power_cny(problem, td, jid, pool, u) for s, e in segments for u in range(s, e))
            + tj.checkpoint_cny * (len(segments) - 1) + transfer_cny(td, jid, pool[0])
            + problem.jobs[jid].unfinished_work_cny(pool[1]))


def meter_watts(problem: Problem, td: TimeData, pool: Pool) -> tuple[int, int]:
    """(W a busy chip adds, W an idle powered-on chip draws) at the meter, rounded up."""
    kw = problem.meter_kw_per_chip(*pool)
    if td.idle_mode == "idle":
        idle_w = scaling.power_w_up(kw * td.idle_fraction)
        return scaling.power_w_up(kw - kw * td.idle_fraction), idle_w
    return scaling.power_w_up(kw), 0


def site_cap_w(problem: Problem, td: TimeData, site: str) -> int:
    """Watts left at the meter for busy chips after idle draw of the whole inventory."""
    idle = sum(meter_watts(problem, td, p)[1] * n for p, n in problem.inventory.items() if p[0] == site)
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
    prices = StepPrices(td)
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


def runs_of(steps: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for u in steps:
        if out and out[-1][1] == u:
            out[-1] = (out[-1][0], u + 1)
        else:
            out.append((u, u + 1))
    return out


# ---------------------------------------------------------------------------- build
def build_model(problem: Problem, td: TimeData, greedy: TimePlan | None = None, *,
                     job_pools: dict[str, set[Pool]] | None = None,
                     serving_pools: dict[str, set[Pool]] | None = None,
                     model: cp_model.CpModel | None = None, prefix: str = "",
                     base_inventory: dict[Pool, int] | None = None,
                     added_chips: dict[Pool, list[tuple[int, cp_model.IntVar]]] | None = None,
                     objective: bool = True) -> TimeModel:
    """Variables → constraints → objective, each family in its own function (PyPSA's ``create_model``).

    ``job_pools`` and ``serving_pools`` restrict where jobs and services may go (see
    ``planner.core.timemodel.spatial_pools``); the greedy plan's pools are always kept, so it
    stays a full hint. Capacity planning builds one of these per period into a shared
    ``model``, with the chips on hand in ``base_inventory`` and purchases in ``added_chips``,
    and sets the objective itself (``objective=False``, then ``objective_parts``)."""
    greedy = greedy if greedy is not None else TimePlan()
    classes = time_classes(problem, td)
    select_pools_and_starts(problem, td, classes, greedy, job_pools)
    if serving_pools is not None:
        serving_pools = {sid: set(serving_pools.get(sid, ())) for sid in problem.services}
        for (sid, site, accel, _b) in greedy.replicas:
            serving_pools[sid].add((site, accel))
    m = TimeModel(problem, td, model or cp_model.CpModel(), classes, serving_pools=serving_pools,
                  flow_quantum=scaling.flow_quantum([s.replica_tokens_per_s(a) for s in problem.services.values()
                                                     for a in s.chips_per_replica]),
                  prefix=prefix, base_inventory=base_inventory, added_chips=dict(added_chips or {}))
    add_job_variables(m)
    add_serving_variables(m)
    add_job_assignment(m)
    add_checkpoints(m)
    add_capacity_at_every_step(m)
    add_demand_routing(m)
    add_serving_capacity(m)
    add_replica_rounding_cuts(m)
    if objective:
        set_objective(m)
    return m


#: the name the time-of-use callers knew
build_time_model = build_model


def add_job_variables(m: TimeModel) -> None:
    """x[c,p,t] for non-preemptible classes; on, run and seg for preemptible jobs."""
    p = m.problem
    busy_w = {pool: meter_watts(p, m.td, pool)[0] for pool in p.inventory}
    cap_w = {site: max(0, site_cap_w(p, m.td, site)) for site in p.sites}
    for ci, cls in enumerate(m.classes):
        chips = p.jobs[cls.template].chips
        for pool, starts in cls.starts.items():
            ub = min(len(cls.job_ids), p.inventory[pool] // chips, cap_w[pool[0]] // max(1, chips * busy_w[pool]))
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
        m.model.add(sum(vars_) <= len(m.classes[ci].job_ids)).with_name(f"{m.prefix}job_assignment[{m.classes[ci].template}]")
    runs: dict[tuple[int, Pool], list] = defaultdict(list)
    for (ci, pool, _u), var in m.run.items():
        runs[(ci, pool)].append(var)
    for (ci, pool), on in m.on.items():
        steps = m.td.jobs[m.classes[ci].template].windows[pool].steps
        m.model.add(sum(runs[(ci, pool)]) == steps * on).with_name(f"{m.prefix}run_length[{m.classes[ci].template},{pool}]")


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
    watts = {pool: meter_watts(p, td, pool)[0] for pool in p.inventory}
    on_hand = p.inventory if m.base_inventory is None else m.base_inventory
    for (pool, tau), terms in chips.items():
        expr = cp_model.LinearExpr.weighted_sum([v for _c, v in terms], [c for c, _v in terms])
        bought = [chips * var for chips, var in m.added_chips.get(pool, [])]
        m.model.add(expr <= on_hand.get(pool, 0) + sum(bought)).with_name(
            f"{m.prefix}chip_capacity[{pool[0]},{pool[1]},{tau}]")
        site_terms[(pool[0], tau)].extend((c * watts[pool], v) for c, v in terms)
    caps = {s: site_cap_w(p, td, s) for s in p.sites}
    for (site, tau), terms in site_terms.items():
        expr = cp_model.LinearExpr.weighted_sum([v for _c, v in terms], [c for c, _v in terms])
        m.model.add(expr <= max(0, caps[site])).with_name(f"{m.prefix}site_power_cap[{site},{tau}]")


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
        m.model.add(sum(flows) <= sum(capacity[key])).with_name(f"{m.prefix}serving_capacity[{key[0]},{key[1]},{key[2]}]")


def objective_parts(m: TimeModel) -> tuple[Terms, dict[str, float]]:
    """The objective in CNY, unscaled: linear terms (coefficient, variable) and constants, by name.

    power_cost = Σ run_power·x + Σ step_power·run + Σ replica_power·r (+ the idle draw, a constant);
    transfer = Σ transfer·x; checkpoint = Σ ckpt·seg − Σ ckpt·on; latency = Σ lat·hours_b·f;
    unplaced_penalty = Σ pen (everything unplaced) − Σ pen·x − Σ pen·on − Σ pen·hours_b·f;
    unfinished_work = Σ (1 − share_c,a)·pen·x + Σ (1 − share_q,a)·pen·on (a job longer than the horizon)."""
    p, td = m.problem, m.td
    prices = StepPrices(td)
    power, transfer, penalty, latency, checkpoint, unfinished = [], [], [], [], [], []
    for (ci, pool, t), var in m.x.items():
        jid = m.classes[ci].template
        power.append((run_power_cny(p, td, prices, jid, pool, t), var))
        if transfer_cny(td, jid, pool[0]):
            transfer.append((transfer_cny(td, jid, pool[0]), var))
        penalty.append((-p.jobs[jid].penalty_cny, var))
        if p.jobs[jid].unfinished_work_cny(pool[1]):
            unfinished.append((p.jobs[jid].unfinished_work_cny(pool[1]), var))
    for (ci, pool), var in m.on.items():
        jid = m.classes[ci].template
        if transfer_cny(td, jid, pool[0]):
            transfer.append((transfer_cny(td, jid, pool[0]), var))
        penalty.append((-p.jobs[jid].penalty_cny, var))
        if p.jobs[jid].unfinished_work_cny(pool[1]):
            unfinished.append((p.jobs[jid].unfinished_work_cny(pool[1]), var))
        checkpoint.append((-td.jobs[jid].checkpoint_cny, var))
    for (ci, pool, u), var in m.run.items():
        jid = m.classes[ci].template
        power.append((step_power_cny(p, td, jid, pool, u), var))
        checkpoint.append((td.jobs[jid].checkpoint_cny, m.seg[(ci, pool, u)]))
    for (sid, site, accel, b), var in m.r.items():
        power.append((replica_block_cny(p, td, sid, (site, accel), b), var))
    for (sid, city, site, b), var in m.f.items():
        hours = td.block_hours(b)
        q = m.flow_quantum
        latency.append((q * p.latency_cny_per_token_per_s(sid, city, site) / p.horizon_h * hours, var))
        penalty.append((-q * p.unserved_cny_per_token_per_s(sid) / p.horizon_h * hours, var))
    constants = {
        "power_cost": idle_power_cny(p, td),
        "unplaced_penalty": sum(j.penalty_cny for j in p.jobs.values())
        + sum(p.unserved_cny_per_token_per_s(sid) / p.horizon_h * td.block_hours(b) * scaling.demand_tokens(d)
              for (sid, _c), per in td.demand.items() for b, d in enumerate(per)),
    }
    terms = {"power_cost": power, "transfer": transfer, "checkpoint": checkpoint, "latency": latency,
             "unplaced_penalty": penalty, "unfinished_work": unfinished}
    return terms, constants


def set_objective(m: TimeModel) -> None:
    """min power (marginal; idle draw of the inventory is a constant) + transfer + checkpoint
    + latency + unserved + unplaced + unfinished work, in CNY, scaled once by ``CostScale``."""
    terms, constants = objective_parts(m)
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


def add_replica_rounding_cuts(m: TimeModel) -> None:
    """Valid inequalities that make the LP relaxation see whole replicas (they cut no integer plan).

    Per block b, with D the demand that can reach site s and R = Σ_a r[v,s,a,b] (integer):
      f[v,k,s,b] ≤ D_v,k,b · R   and   Σ_k f[v,k,s,b] ≤ D_v,s,b · R
    (any flow needs R ≥ 1, and flow never exceeds its demand). With one accelerator at s, replica
    capacity c and D_v,s = q·c + ρ (0 < ρ < c, q ≥ 1), the mixed-integer rounding cut
      Σ_k f[v,k,s,b] ≤ ρ·R + q·(c − ρ)
    is the convex hull of {flow ≤ min(c·R, D)}. With several accelerators at s, of replica
    capacities c_a, flow ≤ Σ_a c_a·r_a ≤ c·R for c = max_a c_a, so the same cut holds with that
    c (exact where all c_a are equal, the usual case). Without these the relaxation serves half a
    replica's demand with half a replica, and the proven bound trails the plan by the rounding.
    """
    p = m.problem
    by_site: dict[tuple[str, str, int], list[tuple[str, cp_model.IntVar]]] = defaultdict(list)
    for (sid, city, site, blk), var in m.f.items():
        by_site[(sid, site, blk)].append((city, var))
    reps: dict[tuple[str, str, int], list[tuple[str, cp_model.IntVar]]] = defaultdict(list)
    for (sid, site, accel, blk), var in m.r.items():
        reps[(sid, site, blk)].append((accel, var))
    for (sid, site, blk), flows in by_site.items():
        svc = p.services[sid]
        replicas = reps.get((sid, site, blk), [])
        if not replicas:
            continue
        total_r = sum(v for _a, v in replicas)
        reach = 0
        name = f"{sid},{site},{blk}"
        for city, var in flows:
            d = scaling.flow_units(m.td.demand[(sid, city)][blk], m.flow_quantum)
            reach += d
            m.model.add(var <= d * total_r).with_name(f"{m.prefix}replica_cut[{sid},{city},{site},{blk}]")
        inflow = sum(v for _c, v in flows)
        m.model.add(inflow <= reach * total_r).with_name(f"{m.prefix}replica_cut[{name}]")
        cap = max(scaling.flow_units(svc.replica_tokens_per_s(accel), m.flow_quantum) for accel, _r in replicas)
        q, rho = divmod(reach, cap) if cap > 0 else (0, 0)
        if q >= 1 and rho > 0:
            m.model.add(inflow <= rho * total_r + q * (cap - rho)).with_name(f"{m.prefix}replica_mir[{name}]")


def add_latency_budget(m: TimeModel, latency: cp_model.LinearExpr, limit_units: int) -> None:
    """Σ lat·f ≤ ε (objective units): the ε-constraint that traces the cost–latency frontier."""
    m.model.add(latency <= limit_units).with_name(f"{m.prefix}latency_budget")



def minimize(model: cp_model.CpModel, terms: Terms, constants: dict[str, float], upper: dict[int, int]
             ) -> tuple[scaling.CostScale, dict[str, cp_model.LinearExpr]]:
    """Scale the CNY objective once (``CostScale``) and minimise its sum."""
    coefficients = [abs(c) for ts in terms.values() for c, _ in ts if abs(c) > 1e-9]
    worst = sum(abs(c) * upper[v.index] for ts in terms.values() for c, v in ts) + sum(map(abs, constants.values()))
    scale = scaling.CostScale.for_range(min(coefficients, default=0.0), worst)
    exprs = {name: cp_model.LinearExpr.weighted_sum([v for _, v in ts], [scale.units(c) for c, _ in ts])
             + scale.units(constants.get(name, 0.0)) for name, ts in terms.items()}
    model.minimize(sum(exprs.values()))
    return scale, exprs



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
            plan.segments[m.classes[ci].template] = (pool, runs_of(steps))
    plan.replicas = {k: int(solver.value(v)) for k, v in m.r.items() if solver.value(v) > 0}
    plan.flow = {k: int(solver.value(v)) * m.flow_quantum for k, v in m.f.items() if solver.value(v) > 0}
    return plan


