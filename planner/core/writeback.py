"""The one write-back: a schedule over the blocks of its time data becomes a ``Result``.

A spatial plan is the schedule over one block of the whole horizon (``one_block``), so every plan
kind is priced by the same code: ``evaluate_timeline`` for the objective and KPIs, ``time_summaries``
for the placements and routing, ``context_tables`` for sites, inventory and cities, and
``explain_unplaced`` for the reason of every job left out and every demand left unserved. The
figures are recomputed from the plan's decisions in floating point, never taken from the solver's
scaled integers; ``verify`` recomputes them the same way (``planner.check``).

A spatial plan's file keeps the spatial tables (placements, routing); a time-of-use plan adds its
schedule, replicas and serving per block, transfers, and the hourly table and timeline.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from planner.check.tables import columns, context_tables, time_summaries
from planner.check.timeline import evaluate_timeline
from planner.core import scaling
from planner.core.model import TimePlan, meter_watts, site_cap_w, start_cost
from planner.problem.build import Pool, Problem
from planner.problem.costs import (
    StepPrices,
    cheapest_steps,
    replica_block_cny,
    step_power_cny,
    transfer_cny,
)
from planner.problem.timedata import TimeData, Window, job_energy, run_steps_of
from planner.results.columns import (
    REPLICA_COLUMNS,
    SCHEDULE_COLUMNS,
    SERVING_COLUMNS,
    TRANSFER_COLUMNS,
    UNPLACED_COLUMNS,
)
from planner.results.estimated import estimated_throughput
from planner.results.result import Result, Status


def write_back(problem: Problem, td: TimeData, plan: TimePlan, status: Status, solver_info: dict,
               spatial: bool = False) -> Result:
    """Turn a schedule into a Result: its tables and every figure recomputed. ``spatial``: ``td`` is
    ``one_block(problem)`` and the Result is a spatial plan (its file has no schedule tables)."""
    schedule, transfers, replicas, serving = _decision_tables(problem, td, plan)
    objective, kpis, hourly = evaluate_timeline(problem, td, schedule, replicas, serving)
    placements, routing, timeline = time_summaries(problem, td, schedule, replicas, serving)
    unplaced = pd.DataFrame(explain_unplaced(problem, td, plan, serving, spatial), columns=UNPLACED_COLUMNS)
    # chips and power in use at the busiest hour, not summed over the horizon (one block: the same)
    sites, inventory, cities = context_tables(problem, placements, None if spatial else hourly)
    meta = {"catalog_version": problem.catalog_version, "catalog_changes": list(problem.catalog_changes),
            "topology_version": problem.topology_version, "horizon_h": problem.horizon_h,
            "figures": list(problem.figures), "estimated_throughput": estimated_throughput(problem.figures)}
    common = {"scenario": problem.name, "status": status, "objective": objective, "kpis": kpis,
              "placements": placements, "routing": routing, "unplaced": unplaced, "solver": solver_info,
              "sites": sites, "inventory": inventory, "cities": cities, "warnings": list(problem.warnings)}
    if spatial:
        return Result(**common, meta=meta)
    meta.update({"mode": "time", "step_h": td.step_h, "demand_profile": td.profile, "idle_chips": td.idle_mode,
                 "idle_power_fraction": td.idle_fraction})
    return Result(**common, meta=meta, timeline=timeline, hourly=hourly, schedule=schedule, replicas=replicas,
                  serving=serving, transfers=transfers)


def plan_objective(problem: Problem, td: TimeData, plan: TimePlan) -> dict[str, float]:
    """The plan's objective terms as its write-back states them, without the tables: for a baseline."""
    schedule, _transfers, replicas, serving = _decision_tables(problem, td, plan)
    return evaluate_timeline(problem, td, schedule, replicas, serving)[0]


def _decision_tables(problem: Problem, td: TimeData, plan: TimePlan
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The plan's decisions as tables: the schedule (each job segment with its energy), transfers,
    replicas and serving per block."""
    step = td.step_h
    sched_rows, transfer_rows = [], []
    for jid, (pool, segs) in sorted(plan.segments.items()):
        steps = run_steps_of(segs)
        i = 0
        for k, (s, e) in enumerate(sorted(segs)):
            n = e - s
            # the segment's share of the job's energy: job_energy over all its steps, split by segment
            kwh, cost = job_energy(problem, td, jid, pool, steps, part=(i, i + n))
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
    serving = pd.DataFrame(route_blocks(problem, td, plan), columns=SERVING_COLUMNS)
    return schedule, transfers, replicas, serving


def route_blocks(problem: Problem, td: TimeData, plan: TimePlan) -> list[tuple]:
    """Split each block's (service, city, site) flow over the accelerators serving it there."""
    left = {k: scaling.tokens_down(problem.services[k[0]].replica_tokens_per_s(k[2])) * n
            for k, n in plan.replicas.items()}
    by_site: dict[tuple[str, str, int], list] = defaultdict(list)  # (service, site, block) → replica keys
    for key in sorted(left):
        by_site[(key[0], key[1], key[3])].append(key)
    rows = []
    for (sid, city, site, b), tps in sorted(plan.flow.items(), key=lambda kv: (kv[0][3], kv[0])):
        for key in by_site[(sid, site, b)]:
            take = min(tps, left[key])
            if take > 0:
                rows.append((td.blocks[b][0] * td.step_h, td.blocks[b][1] * td.step_h, sid, city, site, key[2],
                             take, problem.rtt_ms[(city, site)]))
                left[key] -= take
                tps -= take
    return rows


def explain_unplaced(problem: Problem, td: TimeData, plan: TimePlan, serving: pd.DataFrame,
                     spatial: bool = False) -> list[tuple]:
    """A reason a planner can act on for every job left out and every demand left unserved."""
    rows = []
    prices = StepPrices(td)
    room = None  # chips and power left step by step, once a reason needs them
    for jid in sorted(problem.jobs):
        if jid in plan.segments:
            continue
        job = problem.jobs[jid]
        if jid in td.pre_unplaced:
            rows.append((jid, job.kind, None, None, td.pre_unplaced[jid]))
            continue
        tj = td.jobs[jid]
        windows = [(p, w) for p, w in tj.windows.items() if p in problem.inventory]
        if not windows:
            rows.append((jid, job.kind, None, None, "no pool it allows can hold it; allow more accelerators or sites, "
                                                    "or add inventory"))
            continue
        cost, pool = min(_cheapest_run(problem, td, prices, jid, p, w) for p, w in windows)
        if cost > job.penalty_cny:
            undone = job.unfinished_work_cny(pool[1])
            what = f"{cost:,.0f} CNY" if not undone else (
                f"{cost:,.0f} CNY (its run {cost - undone:,.0f} + unfinished work {undone:,.0f})")
            reason = (f"its cheapest run{'' if spatial else ' in its window'}, on {pool[1]} at {pool[0]}, costs "
                      f"{what}, which exceeds its unplaced penalty {job.penalty_cny:,.0f} CNY; raise "
                      "unplaced_cny_per_chip_hour to place it")
        else:
            room = room or room_left(problem, td, plan)
            reason = _capacity_reason(problem, td, jid, *room, spatial)
        rows.append((jid, job.kind, None, None, reason))
    served: dict[tuple[str, str, int], float] = defaultdict(float)
    for sid, city, start_h, tps in columns(serving, "service", "city", "start_h", "tokens_per_s"):
        served[(sid, city, int(start_h // td.step_h))] += float(tps)
    for (sid, city), per in sorted(td.demand.items()):
        short_th, short_blocks = 0.0, []
        for b, d in enumerate(per):
            gap = d - served[(sid, city, td.blocks[b][0])]
            if gap > 0.5:
                short_th += gap * td.block_hours(b)
                short_blocks.append((b, gap))
        if short_th:
            if (sid, city) in problem.pre_unserved:
                reason = problem.pre_unserved[(sid, city)]
            else:
                room = room or room_left(problem, td, plan)
                reason = _demand_reason(problem, td, sid, city, *short_blocks[0], *room)
                if not spatial:
                    first = td.blocks[short_blocks[0][0]][0] * td.step_h
                    reason = f"short in {len(short_blocks)} of {len(td.blocks)} blocks (first at hour {first:g}): {reason}"
            rows.append((sid, "inference", city, short_th / td.horizon_h, reason))
    return rows


def _cheapest_run(problem: Problem, td: TimeData, prices: StepPrices, jid: str, pool: Pool, w: Window
                  ) -> tuple[float, Pool]:
    """What the job's cheapest run in its window on ``pool`` costs, as the objective prices it: one piece at
    its best start, or for a checkpointable job its cheapest steps with its resumes counted."""
    tj = td.jobs[jid]
    if not tj.preemptible:
        return min(start_cost(problem, td, prices, jid, pool, t) for t in range(w.earliest, w.latest_start + 1)), pool
    steps = np.array([[step_power_cny(problem, td, jid, pool, u) for u in range(w.earliest, w.deadline)]])
    fixed = transfer_cny(td, jid, pool[0]) + problem.jobs[jid].unfinished_work_cny(pool[1])
    return float(cheapest_steps(steps, [w.steps], tj.checkpoint_cny).cny[0]) + fixed, pool


def room_left(problem: Problem, td: TimeData, plan: TimePlan) -> tuple[dict[Pool, np.ndarray], dict[str, np.ndarray]]:
    """Chips left on each pool and watts left at each site's meter, step by step, around the plan."""
    free = {p: np.full(td.steps, n, dtype=np.int64) for p, n in problem.inventory.items()}
    free_w = {s: np.full(td.steps, site_cap_w(problem, td, s), dtype=np.int64) for s in problem.sites}
    watts = {p: meter_watts(problem, td, p)[0] for p in problem.inventory}
    held = [(pool, problem.jobs[jid].chips, s, e) for jid, (pool, segs) in plan.segments.items() for s, e in segs]
    held += [((site, accel), n * problem.services[sid].chips_per_replica[accel], *td.blocks[b])
             for (sid, site, accel, b), n in plan.replicas.items()]
    for pool, chips, s, e in held:
        free[pool][s:e] -= chips
        free_w[pool[0]][s:e] -= chips * watts[pool]
    return free, free_w


def powered_chips(problem: Problem, td: TimeData, pool: Pool, free: dict[Pool, np.ndarray],
             free_w: dict[str, np.ndarray]) -> np.ndarray:
    """Chips of ``pool`` free and with power at its site's meter, step by step (none on a pool without
    inventory)."""
    if pool not in free:
        return np.zeros(td.steps, dtype=np.int64)
    watts = meter_watts(problem, td, pool)[0]
    return np.minimum(free[pool], free_w[pool[0]] // watts) if watts else free[pool]


def _capacity_reason(problem: Problem, td: TimeData, jid: str, free: dict[Pool, np.ndarray],
                     free_w: dict[str, np.ndarray], spatial: bool) -> str:
    """Why a job that would pay for itself was left out: on the pool with the most room, how many of its
    chips were free (and powered) for a whole run in its window, and what to change."""
    tj, chips = td.jobs[jid], problem.jobs[jid].chips
    best = None  # (chips free and powered, chips free, pool, first step of that run)
    for pool, w in sorted(tj.windows.items()):
        if pool not in free:
            continue  # no inventory there
        both = powered_chips(problem, td, pool, free, free_w)[w.earliest:w.deadline]
        alone = free[pool][w.earliest:w.deadline]
        if tj.preemptible:  # its steps need not be one run: the n-th most room of its window
            k = len(both) - w.steps
            room = (int(np.partition(both, k)[k]), int(np.partition(alone, k)[k]), pool, None)
        else:
            runs_both = np.lib.stride_tricks.sliding_window_view(both, w.steps).min(axis=1)
            t = int(np.argmax(runs_both))
            room = (int(runs_both[t]), int(np.lib.stride_tricks.sliding_window_view(alone, w.steps).min(axis=1).max()),
                    pool, w.earliest + t)
        if best is None or room[:2] > best[:2]:
            best = room
    both, alone, (site, accel), first = best
    limit = (f"{max(0, both)} of its {chips} chips had power at {site}" if alone >= chips else
             f"{max(0, alone)} of its {chips} chips were free on {accel} at {site}")
    if spatial:  # one block: chips are held for the whole horizon
        return (f"needs {chips} chips, but other work held them: at most {limit}, the most room on any of its "
                "pools; add chips or power there, or allow more accelerators or sites")
    step = td.step_h
    w = tj.windows[(site, accel)]
    hours = w.steps * step
    when = f" (from hour {first * step:g})" if first is not None and both > 0 else ""
    return (f"needs {chips} chips for {hours:g} h within hours {w.earliest * step:g}-{w.deadline * step:g}, but other "
            f"work held them: at most {limit} for {hours:g} h{when}, the most room on any of its pools; add chips or "
            "power there, widen its window, or allow more accelerators")


def _demand_reason(problem: Problem, td: TimeData, sid: str, city: str, b: int, short: float,
                   free: dict[Pool, np.ndarray], free_w: dict[str, np.ndarray]) -> str:
    """Why demand was left unserved in block ``b``: the next whole replica in reach would cost more
    (power and latency) than the penalty for the tokens it would serve, or no pool in reach had room
    for one."""
    svc = problem.services[sid]
    s, e = td.blocks[b]
    hours = td.block_hours(b)
    rate = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h * hours
    best = None  # (cost less penalty, cost, penalty, tokens/s it would serve, pool)
    for pool in svc.pools:
        if pool[0] not in svc.city_sites[city] or \
                int(powered_chips(problem, td, pool, free, free_w)[s:e].min()) < svc.chips_per_replica[pool[1]]:
            continue
        tokens = min(short, float(scaling.tokens_down(svc.replica_tokens_per_s(pool[1]))))
        cost = (replica_block_cny(problem, td, sid, pool, b)
                + tokens * problem.latency_cny_per_token_per_s(sid, city, pool[0]) / problem.horizon_h * hours)
        if best is None or (cost - tokens * rate, pool) < (best[0], best[4]):
            best = (cost - tokens * rate, cost, tokens * rate, tokens, pool)
    if best is None:
        return (f"no free capacity within the {svc.rtt_slo_ms:g} ms SLO of {city} (sites "
                f"{', '.join(svc.city_sites[city])} are full in chips or power); add chips or power there, relax "
                "rtt_slo_ms, or allow more accelerators")
    _net, cost, penalty, tokens, (site, accel) = best
    over = "over the horizon" if hours == problem.horizon_h else "over that block"
    replica = f"another whole replica ({svc.chips_per_replica[accel]} {accel} at {site})"
    if cost >= penalty:
        return (f"{replica} would serve {tokens:,.0f} of the last {short:,.0f} tokens/s for {cost:,.2f} CNY {over} "
                f"(power and latency), more than the {penalty:,.2f} CNY penalty for leaving them unserved; raise "
                "unserved_cny_per_mtokens or use smaller replicas to serve them")
    return (f"{replica} had room and would serve {tokens:,.0f} of the last {short:,.0f} tokens/s for {cost:,.2f} CNY "
            f"{over} (power and latency), less than the {penalty:,.2f} CNY penalty, but this plan left them (see "
            "its status and gap: a longer solve may serve them)")
