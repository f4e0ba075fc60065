"""Time of use: schedule training into cheap hours and follow diurnal inference demand.

The model is the one core (``planner.core.model``) over the blocks of ``build_time_data``;
this module adds the greedy schedule (warm start and baseline), the relaxed bound and the
decomposition; ``planner.core.writeback`` turns its schedule into a Result.

The formulation is written out in ``planner.core.model``. The greedy schedule is the warm
start (every variable hinted) and the baseline.

Decomposition (``decompose``; automatic above ``AUTO_DECOMPOSE_REPLICA_VARIABLES``): the
spatial model places the work first, and each class and service is then offered only the
pools that placement and the greedy schedule chose. The restricted model's CP-SAT bound is
no bound on the full model, so it is reported apart (``restricted_bound``); ``best_bound``
is then ``relaxed_bound`` — the strongest of ``energetic_bound`` (chips and power in aggregate
over window intervals, an LP), the capacity-free bound (every job at its cheapest run or
unplaced, every token at its cheapest pool or unserved) and, where a pool is oversubscribed,
the packing bounds (``planner.core.packing``: its jobs by their time-indexed LP, the other jobs
by their energetic LP), with serving's part raised to its LP with chips and power
(``planner.core.serving_lp``) — which holds for the full model. A job's cheapest run counts a
checkpointable job's resumes (``cheapest_steps``).
"""

from __future__ import annotations

import datetime
import itertools
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from ortools.math_opt.python import mathopt

from planner.core import scaling
from planner.core.lagrange import chip_hour_prices, plan_jobs_cny
from planner.core.model import (
    TimeClass,
    TimeModel,
    TimePlan,
    add_hints,
    build_model,
    build_time_model,
    extract_plan,
    meter_watts,
    placed_cost,
    runs_of,
    site_cap_w,
)
from planner.core.options import ScheduleOptions, schedule_options
from planner.core.packing import chip_prices, hot_pools, packing_bound, repack, serving_packing_bound
from planner.core.runner import Settings, resolve_settings, solve_model, state_plan_objective
from planner.core.serving_lp import (
    ServingLP,
    ServingMIPs,
    serving_lp_bound,
    serving_nochip_blocks,
    steered_guide,
)
from planner.core.spatial import solve_spatial
from planner.core.twophase import native_output_silenced, solve_or_none
from planner.core.writeback import plan_objective, powered_chips, room_left, write_back
from planner.inputs.scenario import Scenario
from planner.problem.build import Pool, Problem, build_problem
from planner.problem.costs import (
    StepPrices,
    cheapest_steps,
    idle_power_cny,
    replica_block_cny,
)
from planner.problem.timedata import TimeData, build_time_data
from planner.results.result import Result, Status

__all__ = ["TimeClass", "TimeModel", "TimePlan", "build_time_model", "greedy_schedule", "relaxed_bound",
           "solve_time", "build_model"]

#: above this many replica variables (service × pool × block), ``decompose="auto"`` places with the spatial model first
AUTO_DECOMPOSE_REPLICA_VARIABLES = 20_000
#: time kept back from the search per model variable for the write-back (and CP-SAT's own overrun on
#: large models): on the 168 h national week (370,000 variables) writing back took 4.4 s and CP-SAT
#: ended 7 s past its limit, measured with benchmarks/national.py
WRITE_BACK_S_PER_VARIABLE = 3e-5
#: share of the time left the spatial placement may use when decomposing
SPATIAL_SHARE = 0.25
#: share of the time limit the national-size path (``_national_path``) may use before a decomposed
#: CP-SAT search starts from its plan. CP-SAT alone did worse: on the flexible national week with a
#: 600 s limit it ended at 10.944 M CNY against a 10.040 M bound, where the national-size path alone
#: gives 10.757 M against 10.115 M in 60 s; on a 500-job, 30-service week in 60 s, 8.148 M against
#: 7.498 M. It did better on a 300-job, 20-service week of tight deadlines (13.869 M against 15.636 M)
NATIONAL_PATH_SHARE = 0.5
#: kept back from that search, beside the write-back's time and the last passes' (``_finish``): on a
#: 300-job, 20-service week the passes and the write-back after it took 2.0 s against 2.1 s kept back,
#: and the whole command 59.9 s of its 60
FINISH_MARGIN_S = 1.0
#: share of the time limit (at most SERVING_LP_MAX_S) for the serving LP bound: on the 168 h
#: national week its 21 distinct hours take 5.3 s (measured with benchmarks/national.py)
SERVING_LP_SHARE = 0.1
SERVING_LP_MAX_S = 10.0
#: a guided block seeds the serving LP's fractional replicas rounded up from this fraction (and down
#: below it); the greedy serves what is left. On the flexible 168 h national week serving cost
#: 5.53 M CNY seeded rounded up, 5.40 M rounded down, 5.35 M at 0.5, 5.37 M at 0.7, 5.38 M at 0.3
GUIDE_ROUND_UP_FROM = 0.5
#: above this many replica variables per second of the time limit, CP-SAT is not run and the plan
#: is the best greedy schedule: on the 168 h flexible national week (340,305 replica variables,
#: a 650,000-variable decomposed model) CP-SAT found no plan better than its hint in 60 s nor in
#: 240 s (1,418 per second), measured with benchmarks/national.py --only tou-flex
SEARCH_MAX_REPLICA_VARIABLES_PER_S = 1_000
#: time kept back for the write-back and the plan file when CP-SAT is not run, per replica variable:
#: on those weeks (340,305 replica variables) the write-back took 2.4-3.5 s and writing the 32 MB plan
#: file with its tables 2.7-3.0 s on a quiet machine, up to 4.5 s and 4.4 s on a loaded one (measured
#: with benchmarks/national.py --only tou); 2.5e-5 is kept (8.5 s)
GREEDY_WRITE_BACK_S_PER_REPLICA_VARIABLE = 2.5e-5
#: time kept for taking back the replicas worth less than what they serve (``trim_replicas``), per replica
#: variable: 1.2-1.3 s on the flexible national week (340,305 replica variables; 1.7 s kept)
TRIM_S_PER_REPLICA_VARIABLE = 5e-6
#: and for moving jobs to cheaper runs and placing the left-out ones in the room left (``settle_jobs``), then
#: serving what demand that still pays for (``serve_more``): 1.1-1.8 s and 0.7 s on the flexible national
#: week. 2.0 s is kept: each second kept here is a second less for serving's MIPs, and the write-back's
#: own reserve (8.5 s) held 2.2-2.5 s of work at the same stop
SETTLE_S_PER_REPLICA_VARIABLE = 6e-6
#: share of the time limit (at most PACKING_MAX_S) for the packing bound's LPs: 1.3-1.5 s per
#: oversubscribed pool of 150-165 jobs on the tight 168 h national week (two pools)
PACKING_SHARE = 0.15
PACKING_MAX_S = 20.0
#: share of the time left that trying more greedy orders may take, before repacking
PORTFOLIO_SHARE = 0.3
#: serving's LP is solved with each chip of an oversubscribed pool priced at these multiples of its
#: waiting jobs' mean penalty per chip-hour (``chip_prices``): the first solution steers a greedy plan
#: (a plan steered at 3× was never the cheapest), and each is a Lagrangian cut in
#: ``serving_packing_bound``. On the tight 168 h national week the bound was 32.87 M CNY with the
#: price at 1× alone, 33.03 M with 1× and 3×, and 33.04 M with seven multiples from 0.1× to 4×
#: (each LP pass 2-4 s)
STEERING_PRICE_MULTIPLES = (1.0, 3.0)
#: a greedy-only solve proves what whole replicas add to serving's LP bound on the second core meanwhile
#: (``ServingMIPs``), up to this long before the write-back's reserve: HiGHS may overrun a MIP's limit
SERVING_MIP_MARGIN_S = 2.0
#: the LP serving shares with the oversubscribed pools' jobs is solved again with those floors if the time
#: left holds this many times its first solve
JOINT_AGAIN_MARGIN = 1.5
#: the jobs' Lagrangian prices (``planner.core.lagrange``) get at most this share of the limit, and at
#: most ``LAGRANGE_MAX_S``; they are skipped with less than ``LAGRANGE_MIN_S`` left
LAGRANGE_SHARE = 0.1
#: their share when no pool is oversubscribed (no repacking waits for the time): on the flexible
#: national week the re-placed plan cost 10.862 M CNY after 26 steps, 10.831 M after 48 and 10.832 M
#: after 90 (15 s)
LAGRANGE_SHARE_NO_REPACK = 0.25
LAGRANGE_MAX_S = 15.0
LAGRANGE_MIN_S = 2.0
#: with no oversubscribed pool, serving's LP is solved again block by block with its chips at the jobs'
#: (weighed) chip-hour prices and the plan rebuilt around it, given this long at least. On the flexible
#: national week (147 blocks, 7 s): 10.830 → 10.806 M CNY at half the prices (jobs −0.048 M, serving
#: +0.025 M), 10.811 M at a fifth, 10.808 M at 0.35 and 10.879 M at the full prices
STEER_MIN_S = 3.0
#: the share of those prices a job weighs when it chooses where and when to run. On the flexible
#: national week the greedy re-placed the jobs for 5.605 M CNY at 0.25, 5.578 M at 0.5, 5.586 M at
#: 0.75 and 5.602 M at 1 (5.678 M without prices): the full prices steer too many jobs at once
LAGRANGE_PRICE_WEIGHT = 0.5
#: after the oversubscribed pools are repacked, the other jobs are placed again in this order. On the
#: tight national week, around its repacked plan (35.813 M CNY), at half the prices: 35.743 M by size,
#: 35.782 M by slack, 35.708 M by penalty rate
LAGRANGE_REPACKED_ORDER = "penalty_rate"


# ---------------------------------------------------------------------------- greedy
def _by_size(problem: Problem, td: TimeData) -> Callable[[str], tuple]:
    return lambda j: (-problem.jobs[j].chips * min(problem.jobs[j].hours.values()), j)


def _by_slack(problem: Problem, td: TimeData) -> Callable[[str], tuple]:
    """Least room to move first (steps of slack in its roomiest window), then biggest."""
    def key(j: str) -> tuple:
        slack = max(w.deadline - w.earliest - w.steps for w in td.jobs[j].windows.values())
        return (slack, -problem.jobs[j].chips * min(problem.jobs[j].hours.values()), j)
    return key


def _by_penalty_rate(problem: Problem, td: TimeData) -> Callable[[str], tuple]:
    """Highest penalty a placement saves per chip-step first (its unplaced penalty less the least
    unfinished work, for a job longer than the horizon), then biggest."""
    def key(j: str) -> tuple:
        job = problem.jobs[j]
        chip_steps = job.chips * min(w.steps for w in td.jobs[j].windows.values())
        saved = job.penalty_cny - min(job.unfinished_work_cny(p[1]) for p in td.jobs[j].windows)
        return (-saved / max(1, chip_steps), -chip_steps, j)
    return key


#: the orders in which the greedy may place jobs
JOB_ORDERS = {"size": _by_size, "slack": _by_slack, "penalty_rate": _by_penalty_rate}


class _Fleet:
    """Chips and watts left step by step, and where a job fits cheapest (``greedy_schedule``)."""

    def __init__(self, problem: Problem, td: TimeData, options: ScheduleOptions,
                 chip_prices: dict[Pool, Sequence[float]] | None = None) -> None:
        self.problem, self.td, self.options = problem, td, options
        self.free = {p: [n] * td.steps for p, n in problem.inventory.items()}
        self.free_w = {s: [site_cap_w(problem, td, s)] * td.steps for s in problem.sites}
        self.watts = {p: meter_watts(problem, td, p)[0] for p in problem.inventory}
        self.prices = StepPrices(td)
        self.lam = chip_prices or {}
        self.lam_prefix = {p: list(itertools.accumulate(map(float, v), initial=0.0)) for p, v in self.lam.items()}

    def fits(self, pool: Pool, chips: int, steps: range) -> bool:
        fp, fw, need_w = self.free[pool], self.free_w[pool[0]], chips * self.watts[pool]
        return all(fp[u] >= chips and fw[u] >= need_w for u in steps)

    def hold_chips(self, pool: Pool, chips: int, steps: range) -> None:
        """Take ``chips`` of ``pool`` (and their watts) through ``steps``."""
        fp, fw, w = self.free[pool], self.free_w[pool[0]], chips * self.watts[pool]
        for u in steps:
            fp[u] -= chips
            fw[u] -= w

    def hold(self, jid: str, pool: Pool, segs: list[tuple[int, int]], sign: int = 1) -> None:
        """Take (or with ``sign=-1`` give back) the chips and watts of ``jid``'s runs."""
        chips = sign * self.problem.jobs[jid].chips
        fp, fw, w = self.free[pool], self.free_w[pool[0]], chips * self.watts[pool]
        for s, e in segs:
            for u in range(s, e):
                fp[u] -= chips
                fw[u] -= w

    def best_run(self, jid: str) -> tuple[Pool, list[tuple[int, int]]] | None:
        """``jid``'s cheapest (pool, runs) that fits, at its cost plus its chips at the chip prices, or None
        if none fits or the cheapest costs more than its penalty. A checkpointable job takes the steps
        that cost least with its resumes counted (``cheapest_steps``)."""
        problem, td, lam = self.problem, self.td, self.lam
        tj, chips = td.jobs[jid], problem.jobs[jid].chips
        penalty = problem.jobs[jid].penalty_cny
        if tj.preemptible:  # the cheapest steps that fit, counting resumes, at power cost plus the chips' price
            sc = self.options.steps[jid]
            costs = sc.rows.copy()
            for r, pool in enumerate(sc.pools):
                w = tj.windows[pool]
                row = costs[r, w.earliest - sc.first:w.deadline - sc.first]
                row[(np.asarray(self.free[pool][w.earliest:w.deadline]) < chips)
                    | (np.asarray(self.free_w[pool[0]][w.earliest:w.deadline]) < chips * self.watts[pool])] = math.inf
                if pool in lam:
                    row += chips * np.asarray(lam[pool][w.earliest:w.deadline], dtype=float)
            choice = cheapest_steps(costs, [tj.windows[p].steps for p in sc.pools], tj.checkpoint_cny, choose=True)
            r = int(np.argmin(choice.cny + np.asarray(sc.fixed)))
            if not math.isfinite(choice.cny[r]):
                return None
            segs = runs_of([sc.first + u for u in choice.steps_of(r)])
            if placed_cost(problem, td, self.prices, jid, sc.pools[r], segs) > penalty:
                return None
            return sc.pools[r], segs
        starts = self.options.starts[jid]
        if lam:
            starts = sorted((cost + _run_price(self.lam_prefix, p, chips, t, t + tj.windows[p].steps), p, t)
                            for cost, p, t in starts if cost <= penalty)
        for cost, pool, t in starts:
            if not lam and cost > penalty:
                return None
            steps = range(t, t + tj.windows[pool].steps)
            if self.fits(pool, chips, steps):
                return pool, [(t, steps.stop)]
        return None


def greedy_schedule(problem: Problem, td: TimeData, guide: dict | None = None, job_order: str = "size",
                    serving: TimePlan | None = None, chip_prices: dict[Pool, Sequence[float]] | None = None,
                    keep: set[str] | frozenset[str] = frozenset(),
                    options: ScheduleOptions | None = None) -> TimePlan:
    """Serve inference block by block at the cheapest pools in reach, then place jobs, biggest first,
    at the cheapest (pool, start) that still has chips and power over its whole run.

    ``guide`` (``ServingLP.guide``: per block the serving LP's fractional replicas and flows) seeds
    each guided block first: the LP's replicas rounded to the nearest whole replica where chips and
    power allow (``GUIDE_ROUND_UP_FROM``), its flows routed onto them; what is left is served as
    without a guide. The LP shares each pool among all
    services at once, where the greedy gives the cheapest pools to the biggest demands first.

    ``serving`` (a plan) keeps that plan's replicas and flows instead, and the runs of its jobs named
    in ``keep``. ``chip_prices`` (CNY per chip and step of a pool, ``planner.core.lagrange``) are added
    to each run's cost when a job chooses where and when to run; whether it runs at all still weighs
    its own cost against its penalty. A checkpointable job takes the steps that cost least with its
    resumes counted (``cheapest_steps``). ``options`` (``schedule_options``) holds every job's options
    priced, for a solve that runs this more than once."""
    options = schedule_options(problem, td) if options is None else options
    plan = TimePlan()
    fleet = _Fleet(problem, td, options, chip_prices)
    free, free_w, watts, take = fleet.free, fleet.free_w, fleet.watts, fleet.hold_chips

    def add_replicas(sid: str, pool: Pool, b: int, steps: range, wanted: int) -> int:
        """Up to ``wanted`` replicas of ``sid`` on ``pool`` through block ``b``, as many as its chips and
        power hold at every step; how many were added."""
        cpr = problem.services[sid].chips_per_replica[pool[1]]
        need_w = cpr * watts[pool]
        room = min(free[pool][u] for u in steps) // cpr
        if need_w > 0:
            room = min(room, min(free_w[pool[0]][u] for u in steps) // need_w)
        n = max(0, min(wanted, room))
        if n:
            take(pool, n * cpr, steps)
            key = (sid, pool[0], pool[1], b)
            plan.replicas[key] = plan.replicas.get(key, 0) + n
        return n

    def route(sid: str, city: str, site: str, b: int, tokens: int) -> None:
        fk = (sid, city, site, b)
        plan.flow[fk] = plan.flow.get(fk, 0) + tokens

    if serving is not None:
        plan.replicas, plan.flow = dict(serving.replicas), dict(serving.flow)
        for (sid, site, accel, b), n in serving.replicas.items():
            take((site, accel), n * problem.services[sid].chips_per_replica[accel], range(*td.blocks[b]))
        for jid in sorted(keep & serving.segments.keys()):
            pool, segs = serving.segments[jid]
            plan.segments[jid] = (pool, list(segs))
            for s, e in segs:
                take(pool, problem.jobs[jid].chips, range(s, e))
    for b, (s, e) in enumerate(td.blocks if serving is None else []):
        steps = range(s, e)
        spare: dict[tuple[str, str, str], int] = defaultdict(int)
        left_of = {(sid, city): scaling.demand_tokens(d[b]) for (sid, city), d in td.demand.items()}
        if guide is not None and b in guide:
            lp_replicas, lp_flows = guide[b]
            for (sid, pool), x in sorted(lp_replicas.items(), key=lambda kv: (-kv[1], kv[0])):
                per_replica = scaling.tokens_down(problem.services[sid].replica_tokens_per_s(pool[1]))
                added = add_replicas(sid, pool, b, steps, math.floor(x + 1 - GUIDE_ROUND_UP_FROM))
                spare[(sid, pool[0], pool[1])] += added * per_replica
            for (sid, city, site), flow in sorted(lp_flows.items(), key=lambda kv: (-kv[1], kv[0])):
                want = min(left_of[(sid, city)], int(flow + 1e-6))
                for pool in problem.services[sid].pools:
                    key = (sid, site, pool[1])
                    if pool[0] != site or want <= 0 or spare[key] <= 0:
                        continue
                    use = min(want, spare[key])
                    spare[key] -= use
                    route(sid, city, site, b, use)
                    left_of[(sid, city)] -= use
                    want -= use
        demands = [(sid, city, d[b]) for (sid, city), d in td.demand.items()]
        for sid, city, _demand in sorted(demands, key=lambda x: (-x[2], x[0], x[1])):
            svc = problem.services[sid]
            left = left_of[(sid, city)]
            unserved_rate = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h
            for unit, pool in options.serving_order(problem, td, sid, city, b):
                if left <= 0 or unit > unserved_rate:
                    break
                key = (sid, pool[0], pool[1])
                per_replica = scaling.tokens_down(svc.replica_tokens_per_s(pool[1]))
                if spare[key] < left and per_replica > 0:
                    spare[key] += per_replica * add_replicas(sid, pool, b, steps, -(-(left - spare[key]) // per_replica))
                use = min(left, spare[key])
                if use > 0:
                    spare[key] -= use
                    route(sid, city, pool[0], b, use)
                    left -= use

    _place_left_out(problem, td, fleet, plan, job_order)
    return plan


def _place_left_out(problem: Problem, td: TimeData, fleet: _Fleet, plan: TimePlan, job_order: str) -> None:
    """Each placeable job ``plan`` leaves out, in ``job_order``, at its cheapest run that still fits
    (``_Fleet.best_run``), in place."""
    order = sorted((j for j in td.jobs if j not in td.pre_unplaced and td.jobs[j].windows and j not in plan.segments),
                   key=JOB_ORDERS[job_order](problem, td))
    for jid in order:
        placed = fleet.best_run(jid)
        if placed is not None:
            plan.segments[jid] = placed
            fleet.hold(jid, *placed)


def trim_replicas(problem: Problem, td: TimeData, plan: TimePlan) -> TimePlan:
    """The plan with every replica taken back that costs more than what it serves is worth: the greedy
    opens a whole replica for what demand is left at each site, and the LP's guide rounds some up, so a
    service often holds part of a replica spare at two sites, or a replica serving a little demand that
    costs more power than leaving it unserved. Per (service, block), one replica at a time while that
    saves: the tokens over the smaller capacity move to the service's spare capacity at another site
    within the city's SLO, or are left unserved, whichever costs less per token (its latency there, or
    its unserved penalty, less its latency where it was). The jobs are not moved."""
    out = TimePlan(segments=dict(plan.segments), replicas=dict(plan.replicas), flow=dict(plan.flow))
    groups: dict[tuple[str, int], tuple[set[Pool], set[str]]] = defaultdict(lambda: (set(), set()))
    for sid, site, accel, b in plan.replicas:  # a replica with no route is taken back too
        groups[(sid, b)][0].add((site, accel))
    for sid, city, _site, b in plan.flow:
        groups[(sid, b)][1].add(city)
    for (sid, b), (pools, cities) in sorted(groups.items()):
        _trim_replicas(problem, td, out, sid, b, sorted(pools), sorted(cities))
    return out


def _trim_replicas(problem: Problem, td: TimeData, plan: TimePlan, sid: str, b: int, pools: list[Pool],
                   cities: list[str]) -> None:
    """``trim_replicas`` for ``sid`` in block ``b`` (its replicas on ``pools``, its flows from ``cities``), in place."""
    svc = problem.services[sid]
    hours = td.block_hours(b)
    unserved = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h * hours
    sites = sorted({p[0] for p in pools})
    latency = {(c, s): problem.latency_cny_per_token_per_s(sid, c, s) / problem.horizon_h * hours
               for c in cities for s in sites if s in svc.city_sites[c]}
    per = {p: scaling.tokens_down(svc.replica_tokens_per_s(p[1])) for p in pools}
    while True:
        capacity = dict.fromkeys(sites, 0)
        for p in pools:
            capacity[p[0]] += plan.replicas.get((sid, *p, b), 0) * per[p]
        flow = {(c, s): plan.flow.get((sid, c, s, b), 0) for c, s in latency}
        load = dict.fromkeys(sites, 0)
        for (_c, s), f in flow.items():
            load[s] += f
        best = None
        for p in pools:
            if not plan.replicas.get((sid, *p, b)):
                continue
            site = p[0]
            over, spare = load[site] - (capacity[site] - per[p]), {s: capacity[s] - load[s] for s in sites}
            moves, cost = [], 0.0
            if over > 0:  # each token at its cheapest other place: another site's spare, or unserved
                ways = sorted((latency[(c, s)] - latency[(c, site)], c, s) for c in cities if flow.get((c, site))
                              for s in sites if s != site and spare[s] > 0 and (c, s) in latency)
                ways += sorted((unserved - latency[(c, site)], c, "") for c in cities if flow.get((c, site)))
                ways.sort()
                left = {c: flow.get((c, site), 0) for c in cities}
                for unit, c, s in ways:
                    x = min(over, left[c], spare[s] if s else over)
                    if x > 0:
                        moves.append((c, s, x))
                        cost += unit * x
                        over -= x
                        left[c] -= x
                        if s:
                            spare[s] -= x
                    if over <= 0:
                        break
            gain = replica_block_cny(problem, td, sid, p, b) - cost
            if gain > 1e-9 and (best is None or gain > best[0]):
                best = (gain, p, moves)
        if best is None:
            return
        _gain, p, moves = best
        key = (sid, *p, b)
        plan.replicas[key] -= 1
        if not plan.replicas[key]:
            del plan.replicas[key]
        for c, s, x in moves:
            fk = (sid, c, p[0], b)
            plan.flow[fk] -= x
            if not plan.flow[fk]:
                del plan.flow[fk]
            if s:
                plan.flow[(sid, c, s, b)] = plan.flow.get((sid, c, s, b), 0) + x


def settle_jobs(problem: Problem, td: TimeData, plan: TimePlan, job_order: str,
                options: ScheduleOptions) -> TimePlan:
    """The plan with each job moved to its cheapest run that fits around everything else, where that is
    cheaper, and then each job left out placed where it still fits (in ``job_order``), if that costs
    less than its penalty. A greedy places a job before the jobs after it, and a priced one pays its
    chips' price, so a job may not be at its cheapest run once all are placed; giving back replicas
    (``trim_replicas``) frees chips too. Serving is not moved. Jobs with the most cost above their
    cheapest run go first."""
    out = TimePlan(segments=dict(plan.segments), replicas=dict(plan.replicas), flow=dict(plan.flow))
    fleet = _Fleet(problem, td, options)
    for (sid, site, accel, b), n in out.replicas.items():
        fleet.hold_chips((site, accel), n * problem.services[sid].chips_per_replica[accel], range(*td.blocks[b]))
    for jid, (pool, segs) in out.segments.items():
        fleet.hold(jid, pool, segs)
    prices = StepPrices(td)
    cost = {jid: placed_cost(problem, td, prices, jid, *placed) for jid, placed in out.segments.items()}
    for jid in sorted(out.segments, key=lambda j: (-(cost[j] - min(options.cheapest[j].values())), j)):
        pool, segs = out.segments[jid]
        fleet.hold(jid, pool, segs, sign=-1)
        moved = fleet.best_run(jid)
        if moved is not None and placed_cost(problem, td, prices, jid, *moved) < cost[jid] - 1e-6:
            out.segments[jid] = moved
        fleet.hold(jid, *out.segments[jid])
    _place_left_out(problem, td, fleet, out, job_order)
    return out


def serve_more(problem: Problem, td: TimeData, plan: TimePlan) -> TimePlan:
    """The plan with demand left unserved served where that costs less than its penalty: first from the
    service's spare capacity at a site within the city's SLO (its latency), then from a new whole replica
    on a pool in reach that still has the chips and power for it through the block (its power and the
    latency of the tokens it serves). The greedy serves demand before the jobs are placed and its replicas
    are given back afterwards (``trim_replicas``); what is left unserved is looked at again here, around
    everything else the plan holds."""
    out = TimePlan(segments=dict(plan.segments), replicas=dict(plan.replicas), flow=dict(plan.flow))
    served: dict[tuple[str, str, int], int] = defaultdict(int)
    for (sid, city, _site, b), f in out.flow.items():
        served[(sid, city, b)] += f
    short = [(sid, city, b, scaling.demand_tokens(d) - served[(sid, city, b)])
             for (sid, city), per in sorted(td.demand.items()) for b, d in enumerate(per)
             if scaling.demand_tokens(d) > served[(sid, city, b)]]
    if not short:
        return out
    free, free_w = room_left(problem, td, out)
    watts = {p: meter_watts(problem, td, p)[0] for p in problem.inventory}
    spare: dict[tuple[str, str, int], int] = defaultdict(int)  # (service, site, block): tokens/s held, unused
    for (sid, site, accel, b), n in out.replicas.items():
        spare[(sid, site, b)] += n * scaling.tokens_down(problem.services[sid].replica_tokens_per_s(accel))
    for (sid, _city, site, b), f in out.flow.items():
        spare[(sid, site, b)] -= f
    for sid, city, b, left in short:
        svc = problem.services[sid]
        hours = td.block_hours(b)
        unserved = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h * hours
        latency = {site: problem.latency_cny_per_token_per_s(sid, city, site) / problem.horizon_h * hours
                   for site in svc.city_sites[city]}
        for site in sorted(latency, key=lambda x: (latency[x], x)):  # the spare capacity in reach first
            use = min(left, spare[(sid, site, b)])
            if use > 0 and latency[site] < unserved:
                out.flow[(sid, city, site, b)] = out.flow.get((sid, city, site, b), 0) + use
                spare[(sid, site, b)] -= use
                left -= use
        s, e = td.blocks[b]
        while left > 0:  # then whole new replicas, the most worth first, while one is worth its cost
            best = None
            for pool in svc.pools:
                if pool[0] not in latency or \
                        powered_chips(problem, td, pool, free, free_w)[s:e].min() < svc.chips_per_replica[pool[1]]:
                    continue
                per = scaling.tokens_down(svc.replica_tokens_per_s(pool[1]))
                tokens = min(left, per)
                gain = tokens * (unserved - latency[pool[0]]) - replica_block_cny(problem, td, sid, pool, b)
                if gain > 1e-9 and (best is None or (gain, pool) > best[:2]):
                    best = (gain, pool, tokens, per)
            if best is None:
                break
            _gain, pool, tokens, per = best
            cpr = svc.chips_per_replica[pool[1]]
            free[pool][s:e] -= cpr
            free_w[pool[0]][s:e] -= cpr * watts[pool]
            key = (sid, *pool, b)
            out.replicas[key] = out.replicas.get(key, 0) + 1
            out.flow[(sid, city, pool[0], b)] = out.flow.get((sid, city, pool[0], b), 0) + tokens
            spare[(sid, pool[0], b)] += per - tokens
            left -= tokens
    return out


def _run_price(prefix: dict[Pool, list[float]], pool: Pool, chips: int, start: int, end: int) -> float:
    """What ``chips`` chips of ``pool`` cost from step ``start`` to ``end`` at the prices whose prefix
    sums ``prefix`` holds (0 for a pool without prices)."""
    sums = prefix.get(pool)
    if sums is None:
        return 0.0
    return chips * (sums[min(end, len(sums) - 1)] - sums[start])



def plan_cost_cny(problem: Problem, td: TimeData, plan: TimePlan) -> float:
    """What a plan costs in the model's terms, less the idle draw every plan pays (CNY): to choose
    between plans quickly; the reported figures come from the write-back."""
    total = plan_jobs_cny(problem, td, plan)
    total += sum(n * replica_block_cny(problem, td, sid, (site, accel), b)
                 for (sid, site, accel, b), n in plan.replicas.items())
    served: dict[tuple[str, str, int], int] = defaultdict(int)
    for (sid, city, site, b), f in plan.flow.items():
        total += f * problem.latency_cny_per_token_per_s(sid, city, site) / problem.horizon_h * td.block_hours(b)
        served[(sid, city, b)] += f
    for (sid, city), per in td.demand.items():
        rate = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h
        for b, d in enumerate(per):
            total += max(0, scaling.demand_tokens(d) - served[(sid, city, b)]) * rate * td.block_hours(b)
    return total


# ---------------------------------------------------------------------------- solve

def solve_time(scenario: Scenario, *, problem: Problem | None = None, td: TimeData | None = None,
               time_limit_s: float | None = None, workers: int | None = None, seed: int | None = None,
               relative_gap_limit: float | None = None, on_progress: Callable | None = None,
               hint: bool = True, decompose: str = "auto", settings: Settings | None = None,
               start: str = "auto") -> Result:
    """Schedule the scenario hour by hour (or block by block) with CP-SAT and return the plan with its timeline.

    ``decompose="spatial"`` first finds a plan and the full model's bounds by the national-size path
    (``_national_path``, ``NATIONAL_PATH_SHARE`` of the time limit), places the work with the spatial
    model (``SPATIAL_SHARE`` of the time left), and then has CP-SAT, hinted with that plan, schedule
    each job class and service only on the pools the placement or the plan chose; where CP-SAT's plan
    is the cheaper, it gets the path's last passes (``_finish``). The CP-SAT bound is then the
    restricted model's (``restricted_bound``);
    ``best_bound`` and ``gap`` always hold a bound on the full model, and a restricted optimum is
    reported as ``feasible``. ``"auto"`` decomposes when the model would have more than
    ``AUTO_DECOMPOSE_REPLICA_VARIABLES`` replica variables; ``"off"`` never does.

    The solver block's ``objective`` is the plan's priced total, whichever search found the plan
    (CP-SAT, the two-phase start or the greedy hint); CP-SAT's figure, counted in rounded cost units,
    is ``model_objective`` (``planner.core.runner.state_plan_objective``).
    """
    if decompose not in ("auto", "spatial", "off"):
        raise ValueError(f"decompose must be auto, spatial or off, not {decompose!r}")
    if settings is None:
        settings = resolve_settings(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                                    relative_gap_limit=relative_gap_limit)
    t0 = settings.started
    problem = problem if problem is not None else build_problem(scenario)
    td = td if td is not None else build_time_data(scenario, problem)
    # serving's LP with chips: a bound, and a guide for the greedy's serving
    lp_models: dict = {}  # each block's serving LP, built once for every price it is solved at
    serving = serving_lp_bound(problem, td, time_limit_s=min(SERVING_LP_MAX_S, SERVING_LP_SHARE * settings.time_limit_s),
                               models=lp_models)
    options = schedule_options(problem, td)  # every job's options, priced once for all the greedy schedules
    t = time.perf_counter()
    greedy = plain = greedy_schedule(problem, td, options=options)  # the plain greedy schedule is the baseline
    one_greedy_s = time.perf_counter() - t
    greedy_cost = plan_cost_cny(problem, td, plain)
    baseline_cny = greedy_cost + idle_power_cny(problem, td)
    greedy_source = "greedy"
    if serving.guide:
        guided = greedy_schedule(problem, td, serving.guide, options=options)
        guided_cost = plan_cost_cny(problem, td, guided)
        if guided_cost < greedy_cost:
            greedy, greedy_cost, greedy_source = guided, guided_cost, "greedy guided by the serving LP"
    greedy_s = time.perf_counter() - t0
    n_replicas = replica_variables(problem, td)
    if n_replicas > SEARCH_MAX_REPLICA_VARIABLES_PER_S * settings.time_limit_s:
        return _greedy_only(problem, td, settings, serving, greedy, greedy_cost, greedy_source, n_replicas,
                            baseline_cny, options, one_greedy_s, lp_models)
    if decompose == "auto":
        decompose = "spatial" if n_replicas > AUTO_DECOMPOSE_REPLICA_VARIABLES else "off"
    job_pools = serving_pools = None
    spatial_info: dict = {}
    found = None
    if decompose == "spatial":
        # the national-size path first: its plan is CP-SAT's hint and its bounds stand for the full model
        first = replace(settings, time_limit_s=NATIONAL_PATH_SHARE * settings.time_limit_s)
        t = time.perf_counter()
        found = _national_path(problem, td, first, serving, greedy, greedy_cost, greedy_source, n_replicas, options,
                               one_greedy_s, lp_models)
        greedy, greedy_cost, greedy_source = found.plan, found.cost, found.source
        spatial_info["national_path_s"] = round(time.perf_counter() - t, 3)
        spatial_info["national_path_cny"] = round(found.cost, 2)  # as plan_cost_cny prices it: the idle draw left out
        share = replace(settings, time_limit_s=SPATIAL_SHARE * settings.remaining_s(), started=time.perf_counter())
        job_pools, serving_pools, pools_info = spatial_pools(problem, share)
        spatial_info.update(pools_info)
    m = build_model(problem, td, greedy, job_pools=job_pools, serving_pools=serving_pools)
    if hint:
        add_hints(m, greedy)
    build_s = time.perf_counter() - t0

    # the bounds first, inside the limit
    bounds = found.bounds if found is not None else full_bounds(problem, td, serving, settings, options.cheapest)
    relaxed = bounds["relaxed_bound"]
    # the write-back (pricing every hour, routing every block) runs after the search, inside the limit
    n_vars = len(m.model.Proto().variables)
    finish_s = _finish_s(n_replicas) + FINISH_MARGIN_S if found is not None else 0.0
    search = replace(settings, time_limit_s=settings.time_limit_s - WRITE_BACK_S_PER_VARIABLE * n_vars - finish_s)
    status, outcome, solver = solve_model(m.model, m.scale, search, integer=m.integer_variables(),
                                          start=start, on_progress=on_progress)
    info = {
        "model": "time", **outcome,
        "wall_s": round(time.perf_counter() - t0, 3), "build_s": round(build_s, 3), "greedy_s": round(greedy_s, 3),
        **settings.as_info(),
        "cost_units_per_cny": m.scale.units_per_cny, "start_grid": td.start_grid,
        "decomposition": decompose, **spatial_info, **bounds, **serving.info, **(found.info if found else {}),
        "greedy_source": greedy_source,
        **m.stats(),
    }
    if decompose == "spatial":
        # the restricted model's bound says nothing about the choices it was not offered
        info["bound_scope"] = "full (relaxed); restricted_bound covers the restricted pools only"
        info["restricted_bound"], info["restricted_gap"] = outcome["best_bound"], outcome["gap"]
        info["best_bound"] = relaxed
        info["bound_source"] = bound_source(bounds)
        if status == Status.optimal:
            status = Status.feasible
            info["status"] = status.value
    else:
        info["bound_scope"] = "full"
        if outcome["best_bound"] is not None:
            info["best_bound"] = max(outcome["best_bound"], relaxed)
            if relaxed >= outcome["best_bound"]:
                info["bound_source"] = bound_source(bounds)
    if status.has_plan:
        plan = extract_plan(m, solver)
        # CP-SAT's plan can be worse than its hint where the hint did not hold in the (restricted) model
        cost = plan_cost_cny(problem, td, plan)
        if greedy_cost < cost - 1e-6:
            plan = greedy
            info["plan_source"] = f"{greedy_source} (cheaper than CP-SAT's plan)"
            if status == Status.optimal:
                status = Status.feasible
                info["status"] = status.value
        elif found is not None and cost > greedy_cost - 1e-6:  # the national-size path's plan, not bettered
            plan = greedy
            info["plan_source"] = f"{greedy_source} (CP-SAT found none cheaper)"
        elif found is not None:
            # CP-SAT's plan, bettered by the national-size path's last passes where they find more
            plan, _cost, source = _finish(problem, td, settings, plan, cost,
                                          f"CP-SAT on the spatially placed pools, started from [{greedy_source}]",
                                          next(iter(JOB_ORDERS)), options,
                                          GREEDY_WRITE_BACK_S_PER_REPLICA_VARIABLE * n_replicas, n_replicas)
            info["plan_source"] = source
    elif found is not None:  # CP-SAT found nothing in its time; the national-size path's plan stands
        plan, status = greedy, Status.feasible
        info["status"], info["plan_source"] = status.value, f"{greedy_source} (CP-SAT found no plan)"
    else:
        plan = TimePlan()
    result = write_back(problem, td, plan, status, info)
    result.solver["greedy_objective"] = (result.objective["total_cny"] if plan is plain else
                                         plan_objective(problem, td, plain)["total_cny"])
    if status.has_plan:
        state_plan_objective(result.solver, result.objective["total_cny"])
    return result


def full_bounds(problem: Problem, td: TimeData, serving: ServingLP, settings: Settings,
                runs: dict[str, dict[Pool, float]] | None = None) -> dict:
    """The bounds that hold for the full model whatever the search: capacity-free, energetic,
    packing, and the strongest of the three with serving's part raised to its LP with chips
    (``relaxed_bound``)."""
    runs = cheapest_runs(problem, td) if runs is None else runs
    capacity_free = relaxed_bound(problem, td, runs)
    energetic = energetic_bound(problem, td, runs, time_limit_s=max(1.0, 0.05 * settings.time_limit_s))
    packing, packing_info = packing_bound(problem, td, runs, capacity_free,
                                         time_limit_s=min(PACKING_MAX_S, PACKING_SHARE * settings.time_limit_s))
    others_gain = 0.0
    if packing is not None:
        # the jobs off the oversubscribed pools by their energetic LP instead of their cheapest runs: the
        # objective is a sum over serving, those pools' jobs and the others, and each part's bound sees
        # the whole inventory, so the parts' bounds add up
        moving = {j for jobs in hot_pools(problem, td).values() for j in jobs}
        others = {j: v for j, v in runs.items() if j not in moving}
        lp = energetic_jobs_cny(problem, td, others, time_limit_s=max(1.0, 0.05 * settings.time_limit_s))
        if lp is not None:
            cheapest = sum(min([problem.jobs[j].penalty_cny, *v.values()]) for j, v in others.items())
            others_gain = max(0.0, lp - cheapest)
            packing += others_gain
    # each holds the capacity-free serving bound once; the serving LP with chips replaces it
    serving_gain = max(0.0, serving.bound_cny - serving_bound(problem, td))
    relaxed = max(b for b in (capacity_free, energetic, packing) if b is not None) + serving_gain
    return {"relaxed_bound": relaxed, "capacity_free_bound": capacity_free, "energetic_bound": energetic,
            "packing_bound": packing, **packing_info, "packing_others_gain": others_gain,
            "serving_lp_gain": serving_gain}


def bound_source(bounds: dict) -> str:
    joint = bounds.get("serving_packing_bound")
    if joint is not None and joint >= bounds["relaxed_bound"]:
        floors = (f" and, in {bounds['serving_packing_mip_floors']} of its blocks, by its MIP (whole replicas, "
                  "HiGHS's proven bound)" if bounds.get("serving_packing_mip_floors") else "")
        return ("serving and the oversubscribed pools' jobs in one LP (packing bound with serving's chips on those "
                f"pools, serving bounded by its LPs with and without a price on those chips{floors}), the other "
                "jobs by their energetic LP")
    named = [(bounds["capacity_free_bound"], "capacity-free bound (chips and power caps dropped)"),
             (bounds["energetic_bound"], "energetic bound (chips and power in aggregate over window intervals)"),
             (bounds["packing_bound"], "packing bound (each oversubscribed pool's jobs by their time-indexed LP, "
                                        "the other jobs by their energetic LP)")]
    best = max((b, i) for i, (b, _name) in enumerate(named) if b is not None)[1]
    serving = ", serving bounded by its LP with chips and power" if bounds["serving_lp_gain"] > 0 else ""
    if bounds.get("serving_mip_gain"):
        serving += (f" and, on its {bounds['serving_mip_hours']} longest distinct hours, by its MIP (whole "
                    "replicas, HiGHS's proven bound)")
    return named[best][1] + serving


def _greedy_only(problem: Problem, td: TimeData, settings: Settings, serving: ServingLP, greedy: TimePlan,
                 greedy_cost: float, source: str, n_replicas: int, baseline_cny: float,
                 options: ScheduleOptions, one_greedy_s: float, lp_models: dict) -> Result:
    """The plan for a model too large for CP-SAT in the time given (``_national_path``), written back.
    ``greedy_objective`` is the plain greedy schedule's cost (``baseline_cny``, priced by
    ``plan_cost_cny`` with the idle draw, and the demand below a whole token/s left unserved as in
    the plan's total), the baseline the plan is measured against."""
    t0 = settings.started
    found = _national_path(problem, td, settings, serving, greedy, greedy_cost, source, n_replicas, options,
                           one_greedy_s, lp_models)
    greedy_s = time.perf_counter() - t0
    info = {
        "model": "time", "status": Status.feasible.value, "cp_sat_status": None, "objective": None,
        "best_bound": found.bounds["relaxed_bound"], "gap": None, "solutions": 0,
        "plan_source": found.source,
        "search": (f"skipped: {n_replicas:,} replica variables for a {settings.time_limit_s:g} s limit, above "
                   f"{SEARCH_MAX_REPLICA_VARIABLES_PER_S:,} per second, where CP-SAT finds no better plan"),
        "wall_s": round(time.perf_counter() - t0, 3), "build_s": 0.0, "greedy_s": round(greedy_s, 3),
        **settings.as_info(), "start_grid": td.start_grid, "decomposition": "off", **found.bounds, **serving.info,
        **found.info, "greedy_source": found.source, "bound_scope": "full", "bound_source": bound_source(found.bounds),
        "jobs": len(problem.jobs), "steps": td.steps, "blocks": len(td.blocks),
    }
    result = write_back(problem, td, found.plan, Status.feasible, info)
    # the plan's total prices the demand the model rounds down to whole tokens/s as unserved, the same in
    # every plan: the baseline counts it too, so that it reads in the plan's own terms
    rounded_down_cny = result.objective["total_cny"] - found.cost - idle_power_cny(problem, td)
    result.solver["greedy_objective"] = baseline_cny + rounded_down_cny
    state_plan_objective(result.solver, result.objective["total_cny"])
    return result


@dataclass
class _Found:
    """What ``_national_path`` found: the plan, its cost (``plan_cost_cny``), where it came from, the
    full model's bounds (``full_bounds``, raised by serving's MIPs and the shared LP) and the figures
    of its steps."""

    plan: TimePlan
    cost: float
    source: str
    bounds: dict
    info: dict


def _national_path(problem: Problem, td: TimeData, settings: Settings, serving: ServingLP, greedy: TimePlan,
                   greedy_cost: float, source: str, n_replicas: int, options: ScheduleOptions,
                   one_greedy_s: float, lp_models: dict) -> _Found:
    """The plan for a model too large for CP-SAT, within ``settings``' limit: the cheapest of the greedy
    schedules (with and without the serving LP's guide, jobs in each of ``JOB_ORDERS``) that fit
    in the limit, with the full model's relaxed bound. Then the jobs again at their chip-hour prices
    (``planner.core.lagrange``) and, with no oversubscribed pool, serving's LP at those prices
    (``steered_guide``) with the plan rebuilt around it; with oversubscribed pools, serving steered off
    them and their jobs repacked (``planner.core.packing``). Then replicas worth less than what they serve
    are given back (``trim_replicas``), the jobs settled in the room left (``settle_jobs``) and demand left
    unserved served where that pays (``serve_more``). Serving's MIPs (``ServingMIPs``) run on the
    second core meanwhile and raise the bound at the end."""
    # kept back from every step before it: the write-back and the plan file, and taking back the replicas
    # worth less than what they serve (``trim_replicas``) and settling the jobs (``settle_jobs``) before them
    write_back_s = GREEDY_WRITE_BACK_S_PER_REPLICA_VARIABLE * n_replicas
    reserve_s = write_back_s + _finish_s(n_replicas)
    # what whole replicas add to serving's bound, proven on the second core while the jobs are placed
    # (with one worker, in the time left at the end)
    mips = (ServingMIPs(problem, td, serving, lp_models,
                        deadline=time.perf_counter() + settings.remaining_s() - reserve_s - SERVING_MIP_MARGIN_S)
            if lp_models else None)
    if mips is not None and settings.workers >= 2:
        mips.start()
    runs = options.cheapest
    bounds = full_bounds(problem, td, serving, settings, runs)
    best, best_cost, tried, best_order = greedy, greedy_cost, 1, "size"
    last_s = one_greedy_s  # how long the last greedy schedule took
    share = PORTFOLIO_SHARE if bounds.get("packing_pools") else 1.0  # leave time to repack
    portfolio_ends = time.perf_counter() + share * settings.remaining_s()
    for guide in ([serving.guide] if serving.guide else []) + [None]:
        for order in JOB_ORDERS:
            if order == "size":
                continue  # the first greedy tried both guides in this order
            if settings.remaining_s() < reserve_s + last_s or time.perf_counter() + last_s > portfolio_ends:
                break
            t = time.perf_counter()
            plan = greedy_schedule(problem, td, guide, order, options=options)
            last_s = time.perf_counter() - t
            tried += 1
            cost = plan_cost_cny(problem, td, plan)
            if cost < best_cost:
                best, best_cost, best_order = plan, cost, order
                source = f"greedy{' guided by the serving LP' if guide else ''}, jobs by {order.replace('_', ' ')}"
    source = f"{source} (best of {tried} greedy schedules)"
    lagrange_info: dict = {}
    samples: list[ServingLP] = []  # serving's LPs, unpriced and priced, where a pool is oversubscribed
    joint_s = 0.0  # how long the LP serving shares with those pools' jobs took
    weighed: dict[Pool, Sequence[float]] | None = None  # the prices the jobs weigh, once found
    hot = hot_pools(problem, td)
    if settings.remaining_s() > reserve_s + 2 * last_s + LAGRANGE_MIN_S:
        # the jobs again, around the same serving, each told what its chip-hours are worth to the others
        share = LAGRANGE_SHARE if hot else LAGRANGE_SHARE_NO_REPACK
        found = chip_hour_prices(problem, td, best, time_limit_s=min(LAGRANGE_MAX_S, share * settings.time_limit_s),
                                 options=options)
        lagrange_info = found.info
        weighed = {p: LAGRANGE_PRICE_WEIGHT * v for p, v in found.prices.items()}
        priced = greedy_schedule(problem, td, job_order=best_order, serving=best, chip_prices=weighed,
                                 options=options)
        cost = plan_cost_cny(problem, td, priced)
        lagrange_info["lagrange_greedy_cny"] = round(cost, 2)
        if cost < best_cost:
            best, best_cost = priced, cost
            source = f"{source}, its jobs re-placed at chip-hour prices from their Lagrangian relaxation"
        if not hot and serving.guide and settings.remaining_s() > reserve_s + 3 * last_s + STEER_MIN_S:
            # serving's LP at the same prices moves serving off the chip-hours the jobs want most; the
            # jobs are placed again around it (with oversubscribed pools their repacking takes the time)
            guide, steer_info = steered_guide(problem, td, serving, lp_models, weighed,
                                              time_limit_s=settings.remaining_s() - reserve_s - 3 * last_s)
            lagrange_info.update(steer_info)
            if steer_info["steered_blocks"]:  # with no block priced nothing moves
                steered = greedy_schedule(problem, td, guide, best_order, chip_prices=weighed, options=options)
                cost = plan_cost_cny(problem, td, steered)
                lagrange_info["steered_greedy_cny"] = round(cost, 2)
                if cost < best_cost:
                    best, best_cost = steered, cost
                    source = (f"greedy guided by the serving LP with the jobs' chip-hour prices (their Lagrangian "
                              f"relaxation) on its chips, jobs by {best_order.replace('_', ' ')} at those prices")
    if hot and settings.remaining_s() > reserve_s + 1.0:
        # serving steered off the oversubscribed pools, then their jobs repacked around it
        candidates = [(best, source)]
        base_price = chip_prices(problem, td, hot)
        samples = [serving]
        for multiple in STEERING_PRICE_MULTIPLES:
            if samples[1:] and settings.remaining_s() < reserve_s + 2 * (last_s + samples[-1].info["serving_lp_s"]):
                break  # keep time for the plans and the repacking
            steered = serving_lp_bound(problem, td, chip_price={q: multiple * v for q, v in base_price.items()},
                                       time_limit_s=min(SERVING_LP_MAX_S, SERVING_LP_SHARE * settings.time_limit_s),
                                       models=lp_models)
            samples.append(steered)
            if steered.guide and len(samples) == 2:  # steered at the first price; the others only bound
                candidates.append((greedy_schedule(problem, td, steered.guide, best_order, options=options),
                                   f"greedy with serving steered off {len(hot)} oversubscribed pool(s), jobs by "
                                   f"{best_order.replace('_', ' ')}"))
        # the unpriced and the priced serving LPs bound serving against the chips it leaves the hot pools
        t = time.perf_counter()
        joint = serving_packing_bound(problem, td, runs, bounds["capacity_free_bound"], samples,
                                      time_limit_s=min(PACKING_MAX_S, PACKING_SHARE * settings.time_limit_s))
        joint_s = time.perf_counter() - t
        if mips is not None and joint is not None:  # the MIPs end in time to solve it again with their floors
            mips.deadline = min(mips.deadline, time.perf_counter() + settings.remaining_s() - reserve_s
                                - JOINT_AGAIN_MARGIN * joint_s - SERVING_MIP_MARGIN_S)
        if joint is not None:
            joint += bounds["packing_others_gain"]  # the other jobs by their energetic LP, as in the packing bound
        bounds["serving_packing_bound"] = joint
        if joint is not None and joint > bounds["relaxed_bound"]:
            bounds["relaxed_bound"] = joint
        after = 2 * last_s if weighed is not None else 0.0  # the priced pass below
        repacked_best = False
        # the steered plan first (after repacking it was the cheaper one in every run on the tight national
        # week), each plan an equal share of the time left
        for k, (plan, name) in enumerate(candidates[::-1]):
            share = (settings.remaining_s() - reserve_s - after) / (len(candidates) - k)
            repacked = repack(problem, td, plan, time_limit_s=share)
            cost = plan_cost_cny(problem, td, repacked)
            if cost < best_cost:
                best, best_cost, repacked_best = repacked, cost, True
                source = f"{name}, its {len(hot)} oversubscribed pool(s) repacked by a MIP"
        if repacked_best and weighed is not None and settings.remaining_s() > reserve_s + last_s:
            # the other jobs again at the chip-hour prices, around the repacked plan's serving and pools
            keep = {j for jobs in hot.values() for j in jobs}
            priced = greedy_schedule(problem, td, job_order=LAGRANGE_REPACKED_ORDER, serving=best, keep=keep,
                                     chip_prices=weighed, options=options)
            cost = plan_cost_cny(problem, td, priced)
            lagrange_info["lagrange_after_repack_cny"] = round(cost, 2)
            if cost < best_cost:
                best, best_cost = priced, cost
                source = (f"{source}, then the other jobs re-placed at chip-hour prices from their "
                          "Lagrangian relaxation")
    best, best_cost, source = _finish(problem, td, settings, best, best_cost, source, best_order, options,
                                      write_back_s, n_replicas)
    if mips is not None:
        # whole replicas raise serving's LP hour by hour: added to the bounds that hold serving's LP apart
        mip_gain, mip_info = mips.collect()
        bounds.update(mip_info)
        named = max(b for b in (bounds["capacity_free_bound"], bounds["energetic_bound"], bounds["packing_bound"])
                    if b is not None)
        if named + bounds["serving_lp_gain"] + mip_gain > bounds["relaxed_bound"]:
            bounds["relaxed_bound"] = named + bounds["serving_lp_gain"] + mip_gain
        joint = bounds.get("serving_packing_bound")
        if joint is not None and mips.hourly and settings.remaining_s() > write_back_s + JOINT_AGAIN_MARGIN * joint_s:
            # and, as floors under serving's hours, to the LP serving shares with the oversubscribed pools' jobs
            again = serving_packing_bound(problem, td, runs, bounds["capacity_free_bound"], samples,
                                          time_limit_s=settings.remaining_s() - write_back_s, floors=mips.hourly)
            if again is not None and again + bounds["packing_others_gain"] > joint:
                bounds["serving_packing_bound"] = again + bounds["packing_others_gain"]
                bounds["serving_packing_mip_floors"] = len(mips.hourly)
                bounds["relaxed_bound"] = max(bounds["relaxed_bound"], bounds["serving_packing_bound"])
    return _Found(best, best_cost, source, bounds, lagrange_info)


def _finish(problem: Problem, td: TimeData, settings: Settings, plan: TimePlan, cost: float, source: str,
            job_order: str, options: ScheduleOptions, write_back_s: float, n_replicas: int
            ) -> tuple[TimePlan, float, str]:
    """The last passes over a plan, each kept where it makes the plan cheaper, while the time left
    holds them and the write-back (``write_back_s``): replicas worth less than what they serve given
    back (``trim_replicas``), the jobs settled in the room left (``settle_jobs``), and demand left
    unserved served where that pays (``serve_more``). Returns the plan, its cost and its source."""
    settle_s = SETTLE_S_PER_REPLICA_VARIABLE * n_replicas
    if settings.remaining_s() > write_back_s + _finish_s(n_replicas):
        trimmed = trim_replicas(problem, td, plan)
        priced = plan_cost_cny(problem, td, trimmed)
        if priced < cost - 1e-6:
            plan, cost = trimmed, priced
            source = f"{source}; replicas worth less than what they serve taken back"
    if settings.remaining_s() > write_back_s + settle_s:
        settled = settle_jobs(problem, td, plan, job_order, options)
        priced = plan_cost_cny(problem, td, settled)
        if priced < cost - 1e-6:
            plan, cost = settled, priced
            source = f"{source}; jobs moved to cheaper runs, and left-out jobs placed, in the room left"
        served = serve_more(problem, td, plan)
        priced = plan_cost_cny(problem, td, served)
        if priced < cost - 1e-6:
            plan, cost = served, priced
            source = f"{source}; demand left unserved served where that costs less than its penalty"
    return plan, cost, source


def _finish_s(n_replicas: int) -> float:
    """The time ``_finish``'s passes are given (s), kept back from every step before them."""
    return (TRIM_S_PER_REPLICA_VARIABLE + SETTLE_S_PER_REPLICA_VARIABLE) * n_replicas


def replica_variables(problem: Problem, td: TimeData) -> int:
    """How many r[v,p,b] the full model would have (serving dominates the model's size at scale)."""
    return len(td.blocks) * sum(len(s.pools) for s in problem.services.values())


def spatial_pools(problem: Problem, settings: Settings) -> tuple[dict[str, set[Pool]], dict[str, set[Pool]], dict]:
    """Place the work with the spatial model and return the pools it chose per job and per service."""
    placed = solve_spatial(problem, settings=settings)
    job_pools: dict[str, set[Pool]] = defaultdict(set)
    serving_pools: dict[str, set[Pool]] = defaultdict(set)
    for r in placed.placements.itertuples(index=False):
        (job_pools if r.kind != "inference" else serving_pools)[r.workload].add((r.site, r.accelerator))
    s = placed.solver
    info = {"spatial_s": s.get("wall_s"), "spatial_gap": s.get("gap"), "spatial_status": placed.status.value}
    return dict(job_pools), dict(serving_pools), info


def cheapest_runs(problem: Problem, td: TimeData, options: ScheduleOptions | None = None) -> dict[str, dict[Pool, float]]:
    """Per job and pool, its cheapest run in its window (power, transfer, a checkpointable job's resumes
    and the work a job longer than the horizon leaves unfinished, CNY, marginal): what the model charges
    for that placement at the least (``ScheduleOptions.cheapest``)."""
    return (schedule_options(problem, td) if options is None else options).cheapest


def serving_bound(problem: Problem, td: TimeData) -> float:
    """Every token of demand served at its cheapest pool in reach (fractional replicas, no chip or
    power limit) or unserved, block by block (CNY)."""
    return float(serving_nochip_blocks(problem, td).sum())


def relaxed_bound(problem: Problem, td: TimeData, runs: dict[str, dict[Pool, float]] | None = None) -> float:
    """A lower bound on the full time model (CNY): every job at its cheapest (pool, start) or unplaced,
    every token of demand served at its cheapest pool in reach (fractional replicas) or unserved,
    ignoring chips and power caps; plus the idle draw of the inventory, which no plan avoids."""
    runs = cheapest_runs(problem, td) if runs is None else runs
    total = idle_power_cny(problem, td) + serving_bound(problem, td)
    for jid, job in problem.jobs.items():
        total += min([job.penalty_cny, *runs.get(jid, {}).values()])
    return total


#: the energetic bound writes a row per pool and window interval, up to this many intervals
ENERGETIC_INTERVALS = 400


def energetic_bound(problem: Problem, td: TimeData, runs: dict[str, dict[Pool, float]] | None = None,
                    time_limit_s: float = 10.0) -> float | None:
    """A lower bound on the full time model (CNY) that sees the chips and the power, in aggregate.

    Any plan runs each placed job inside its window, so for every interval I = [a, b) of window
    ends and every pool p, the chip-steps of the jobs whose window on p lies inside I fit in I::

        min  Σ_j,p (run_j,p − pen_j)·z[j,p] + Σ_j pen_j          z ≥ 0,  Σ_p z[j,p] ≤ 1
        s.t. Σ_{j: window_j,p ⊆ I} chips_j·steps_j,p·z[j,p] ≤ inv_p·|I|                (chip-steps)
             Σ_{p at s} Σ_{j: window ⊆ I} W_p·chips_j·steps_j,p·z[j,p] ≤ cap_s·|I|     (watt-steps at the meter)

    with run_j,p the cheapest run (``cheapest_runs``) and steps_j,p the steps it occupies. Serving is
    bounded apart (``serving_bound``, no chip limit) and the idle draw added: serving only takes
    chips from jobs, so the sum stays below every plan. Solved as an LP by HiGHS; None if it fails."""
    runs = cheapest_runs(problem, td) if runs is None else runs
    jobs = energetic_jobs_cny(problem, td, runs, time_limit_s)
    if jobs is None:
        return None
    never = sum(job.penalty_cny for jid, job in problem.jobs.items() if jid not in runs)  # never placeable
    return jobs + never + serving_bound(problem, td) + idle_power_cny(problem, td)


def energetic_jobs_cny(problem: Problem, td: TimeData, runs: dict[str, dict[Pool, float]],
                       time_limit_s: float = 10.0) -> float | None:
    """The jobs part of ``energetic_bound`` for the jobs in ``runs`` alone (CNY): a lower bound on what
    those jobs cost in any plan, whatever else holds the chips and the power. None if the LP fails."""
    ends = sorted({w.earliest for jid in runs for w in td.jobs[jid].windows.values()} | {0})
    dues = sorted({w.deadline for jid in runs for w in td.jobs[jid].windows.values()} | {td.steps})
    intervals = [(a, b) for a in ends for b in dues if b > a]
    if len(intervals) > ENERGETIC_INTERVALS:
        intervals = [(0, b) for b in dues] + [(a, td.steps) for a in ends if a > 0]
    model = mathopt.Model(name="energetic")
    z: dict[tuple[str, Pool], mathopt.Variable] = {}
    objective = 0.0
    constant = 0.0
    for jid, per_pool in runs.items():
        pen = problem.jobs[jid].penalty_cny
        constant += pen
        vs = []
        for pool, cost in per_pool.items():
            if cost < pen:
                var = model.add_variable(lb=0.0, ub=1.0)
                z[(jid, pool)] = var
                objective += (cost - pen) * var
                vs.append(var)
        if len(vs) > 1:
            model.add_linear_constraint(mathopt.fast_sum(vs) <= 1.0)
    chips: dict[tuple[Pool, int], list] = defaultdict(list)
    energy: dict[tuple[str, int], list] = defaultdict(list)
    for (jid, pool), var in z.items():
        w = td.jobs[jid].windows[pool]
        load = problem.jobs[jid].chips * w.steps  # the model holds a job's chips and watts for every step it runs
        watts = meter_watts(problem, td, pool)[0]
        for k, (a, b) in enumerate(intervals):
            if a <= w.earliest and w.deadline <= b:
                chips[(pool, k)].append(load * var)
                energy[(pool[0], k)].append(load * watts * var)
    for (pool, k), terms in chips.items():
        a, b = intervals[k]
        model.add_linear_constraint(mathopt.fast_sum(terms) <= problem.inventory[pool] * (b - a))
    for (site, k), terms in energy.items():
        a, b = intervals[k]
        model.add_linear_constraint(mathopt.fast_sum(terms) <= max(0, site_cap_w(problem, td, site)) * (b - a))
    model.minimize(objective)
    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=max(0.1, time_limit_s)))
    with native_output_silenced():
        res = solve_or_none(model, mathopt.SolverType.HIGHS, params)
    if res is None:
        return None
    dual = res.termination.objective_bounds.dual_bound
    if not math.isfinite(dual):
        return None
    return dual + constant
