"""Pricing and re-checking of a plan's schedule over its blocks from the scenario and the plan's decisions,
without a solver.

``evaluate_timeline`` prices a schedule step by step (the write-back uses it for every plan kind, so a
plan's figures are the checker's figures); ``verify_timeline`` re-checks a stated plan against it: a
time-of-use plan over its hours, a spatial plan over one block of the whole horizon.
"""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pandas as pd

from planner.check.common import check_context, check_run_share, check_unplaced
from planner.check.figures import REL_TOL, compare_figures
from planner.check.tables import columns, compare_tables, time_summaries
from planner.problem.build import Pool, Problem
from planner.problem.timedata import TimeData, job_energy, merge_segments, run_steps_of
from planner.results.columns import (
    HOURLY_COLUMNS,
    PLACEMENT_COLUMNS,
    REPLICA_COLUMNS,
    ROUTING_COLUMNS,
    SCHEDULE_COLUMNS,
    SERVING_COLUMNS,
    TRANSFER_COLUMNS,
)


def evaluate_timeline(problem: Problem, td: TimeData, schedule: pd.DataFrame, replicas: pd.DataFrame,
                      serving: pd.DataFrame) -> tuple[dict[str, float], dict[str, float], pd.DataFrame]:
    """Objective terms, KPIs and the per-(hour, site, accelerator) usage table of a plan, in plain Python."""
    T, step = td.steps, td.step_h
    occupied: dict[Pool, list[float]] = defaultdict(lambda: [0.0] * T)
    busy: dict[Pool, list[float]] = defaultdict(lambda: [0.0] * T)
    inference: dict[Pool, list[float]] = defaultdict(lambda: [0.0] * T)
    segs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    pool_of: dict[str, Pool] = {}
    for jid, site, accel, start_h, end_h in columns(schedule, "workload", "site", "accelerator", "start_h", "end_h"):
        segs[jid].append((int(round(start_h / step)), int(round(end_h / step))))
        pool_of[jid] = (site, accel)
    transfer = checkpoint = unfinished = 0.0
    for jid, ss in segs.items():
        pool = pool_of[jid]
        unfinished += problem.jobs[jid].unfinished_work_cny(pool[1])
        chips = problem.jobs[jid].chips
        steps = run_steps_of(ss)
        for u, f in zip(steps, td.busy_fractions(jid, pool, len(steps))):
            occupied[pool][u] += chips
            busy[pool][u] += chips * f
        tj = td.jobs[jid]
        if pool[0] in tj.transfers:
            transfer += tj.transfers[pool[0]].cost_cny
        checkpoint += tj.checkpoint_cny * max(0, len(merge_segments(ss)) - 1)
    rep: dict[tuple[str, str, str, int], int] = {}
    for sid, site, accel, n, start_h, end_h in columns(replicas, "service", "site", "accelerator", "replicas",
                                                      "start_h", "end_h"):
        b = _block_index(td, start_h, end_h)
        if b is None:
            continue
        rep[(sid, site, accel, b)] = int(n)
        chips = problem.services[sid].chips_per_replica[accel] * int(n)
        for u in range(*td.blocks[b]):
            occupied[(site, accel)][u] += chips
            busy[(site, accel)][u] += chips
            inference[(site, accel)][u] += chips

    rows = []
    power_cost = energy_kwh = carbon_kg = inference_cost = 0.0
    idle_on = td.idle_mode == "idle"
    peak_site_kw: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for pool, inv in sorted(problem.inventory.items()):
        site, accel = pool
        kw = problem.meter_kw_per_chip(site, accel)
        for u in range(T):
            occ, b = occupied[pool][u] if pool in occupied else 0.0, busy[pool][u] if pool in busy else 0.0
            idle = (inv - occ) + (occ - b) if idle_on else 0.0
            meter_kw = kw * (occ + (td.idle_fraction * (inv - occ) if idle_on else 0.0))
            e = step * kw * (b + td.idle_fraction * idle)
            c = e * td.price[pool][u]
            energy_kwh += e
            power_cost += c
            carbon_kg += e * (problem.sites[site].carbon_kg_per_kwh or 0.0)
            peak_site_kw[u][site] += meter_kw
            inf = inference[pool][u] if pool in inference else 0.0
            inference_cost += step * kw * inf * td.price[pool][u]  # the replicas' own draw, busy
            rows.append((u * step, site, accel, td.band[site][u], td.price[pool][u], int(round(occ - inf)),
                         int(round(inf)), (inv - occ) if idle_on else 0, meter_kw, e, problem.power_cost_weight * c))
    timeline = pd.DataFrame(rows, columns=HOURLY_COLUMNS)

    served: dict[tuple[str, str, int], float] = defaultdict(float)
    latency = weighted_rtt = max_rtt = token_hours = 0.0
    for sid, city, site, tps, start_h, end_h in columns(serving, "service", "city", "site", "tokens_per_s",
                                                        "start_h", "end_h"):
        b = _block_index(td, start_h, end_h)
        tps = float(tps)
        if b is None or tps <= 0:
            continue
        hours = td.block_hours(b)
        served[(sid, city, b)] += tps
        latency += tps * hours * problem.latency_cny_per_token_per_s(sid, city, site) / problem.horizon_h
        rtt = problem.rtt_ms[(city, site)]
        weighted_rtt += tps * hours * rtt
        token_hours += tps * hours
        max_rtt = max(max_rtt, rtt)
    unplaced = sum(job.penalty_cny for jid, job in problem.jobs.items() if jid not in segs)
    unserved_th = demand_th = 0.0
    for (sid, city), per_block in td.demand.items():
        rate = problem.unserved_cny_per_token_per_s(sid) / problem.horizon_h
        for b, d in enumerate(per_block):
            short = max(0.0, d - served[(sid, city, b)])
            unserved_th += short * td.block_hours(b)
            demand_th += d * td.block_hours(b)
            unplaced += short * rate * td.block_hours(b)
    weighted_power = problem.power_cost_weight * power_cost
    objective = {
        "total_cny": weighted_power + latency + unplaced + unfinished + transfer + checkpoint,
        "power_cost_cny": weighted_power,
        "latency_cny": latency,
        "unplaced_penalty_cny": unplaced,
        "unfinished_work_cny": unfinished,  # the share of a run longer than the horizon left undone
        "transfer_cny": transfer,
        "checkpoint_cny": checkpoint,
    }
    H = float(td.horizon_h)
    served_mtokens = token_hours * 3600 / 1e6
    kpis = {
        "power_cost_cny": power_cost,
        "energy_mwh": energy_kwh / 1000,
        "carbon_t": carbon_kg / 1000,
        "mean_rtt_ms": weighted_rtt / token_hours if token_hours else 0.0,
        "max_rtt_ms": max_rtt,
        "served_tokens_per_s": token_hours / H,
        "unserved_tokens_per_s": unserved_th / H,
        "demand_tokens_per_s": demand_th / H,
        "inference_cny_per_mtokens": inference_cost / served_mtokens if served_mtokens else 0.0,
        "chips_used": int(max((sum(occupied[p][u] for p in occupied) for u in range(T)), default=0)),
        "jobs_placed": len(segs),
        "jobs_unplaced": len(problem.jobs) - len(segs),
        "peak_site_power_mw": max((kw for per in peak_site_kw.values() for kw in per.values()), default=0.0) / 1000,
    }
    return objective, kpis, timeline


def _block_index(td: TimeData, start_h: float, end_h: float) -> int | None:
    s, e = int(round(start_h / td.step_h)), int(round(end_h / td.step_h))
    try:
        return td.blocks.index((s, e))
    except ValueError:
        return None


def _check_hourly(stated: pd.DataFrame, timeline: pd.DataFrame) -> list[str]:
    """The plan's hourly table against the one recomputed from its decisions."""
    if len(stated) != len(timeline):
        return [f"hourly table has {len(stated)} rows; the plan gives {len(timeline)} (hour × pool)"]
    out = []
    key = ["hour", "site", "accelerator"]
    a = stated.sort_values(key, ignore_index=True)
    b = timeline.sort_values(key, ignore_index=True)
    for col in key + ["band"]:  # the rows name the same hours and pools, in the same tariff bands
        bad = [i for i, (x, y) in enumerate(zip(a[col], b[col])) if str(x) != str(y) and not (
            col == "hour" and math.isclose(float(x), float(y), abs_tol=1e-9))]
        if bad:
            i = bad[0]
            return out + [f"hourly row {i} states {col} {a[col][i]!r}, the plan gives {b[col][i]!r} (at hour "
                          f"{b.hour[i]} {b.site[i]} {b.accelerator[i]})"]
    for col in ("training_chips", "inference_chips", "idle_chips", "meter_kw", "energy_kwh", "power_cost_cny",
                "price_cny_per_kwh"):
        bad = ~pd.Series([math.isclose(float(x), float(y), rel_tol=REL_TOL, abs_tol=1e-6)
                          for x, y in zip(a[col], b[col])])
        if bad.any():
            i = int(bad.idxmax())
            out.append(f"hourly {col} at hour {b.hour[i]} {b.site[i]} {b.accelerator[i]} states {a[col][i]}, "
                       f"the plan gives {b[col][i]}")
    return out


def _check_segment_figures(problem: Problem, td: TimeData, jid: str, pool: Pool, stated: list[tuple]) -> list[str]:
    """A job's segments are numbered 1, 2, … in time order, and each states the energy and power cost its
    steps draw (``job_energy``, the last step busy for its fraction), as the write-back splits them."""
    out: list[str] = []
    numbers = [k for *_figures, k in stated]
    if numbers != list(range(1, len(stated) + 1)):
        out.append(f"job {jid} numbers its segments {numbers} in time order; they are 1 to {len(stated)}")
    steps = run_steps_of([(s, e) for s, e, *_rest in stated])
    i = 0
    for s, e, mwh, cny, _k in stated:
        kwh, cost = job_energy(problem, td, jid, pool, steps, part=(i, i + e - s))
        i += e - s
        for name, got, want in (("energy_mwh", mwh, kwh / 1000), ("power_cost_cny", cny, problem.power_cost_weight * cost)):
            if not math.isclose(got, want, rel_tol=REL_TOL, abs_tol=1e-6):
                out.append(f"job {jid} over [{s * td.step_h:g}, {e * td.step_h:g}) h states {name} {got}; its run "
                           f"there gives {want}")
    return out


def verify_timeline(problem: Problem, td: TimeData, plan: dict[str, Any], spatial: bool = False) -> list[str]:
    """Every violated constraint and mis-stated figure of a plan, step by step over the blocks of ``td``.
    ``spatial``: a spatial plan over ``one_block`` (``planner.check.verify.as_one_block``), whose file has
    no hourly, timeline or transfers table; its sites and inventory count everything at once."""
    out: list[str] = []
    step = td.step_h
    schedule = pd.DataFrame(plan.get("schedule", []), columns=SCHEDULE_COLUMNS)
    replicas = pd.DataFrame(plan.get("replicas", []), columns=REPLICA_COLUMNS)
    serving = pd.DataFrame(plan.get("serving", []), columns=SERVING_COLUMNS)
    transfers = pd.DataFrame(plan.get("transfers", []), columns=TRANSFER_COLUMNS)
    unplaced = {u["workload"] for u in plan.get("unplaced", []) if u.get("kind") != "inference"}

    # -- jobs: once, whole, allowed pool, inside the window ------------------------------------------
    segs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    figures: dict[str, list[tuple]] = defaultdict(list)  # (start, end, MWh, CNY, segment number) stated
    pools: dict[str, set[Pool]] = defaultdict(set)
    good_rows: list[int] = []  # rows whose figures can be recomputed; the others are reported here
    for i, row in enumerate(schedule.itertuples(index=False)):
        if row.workload not in problem.jobs:
            out.append(f"schedule names unknown training job {row.workload}")
            continue
        s, e = row.start_h / step, row.end_h / step
        if abs(s - round(s)) > 1e-9 or abs(e - round(e)) > 1e-9 or e <= s:
            out.append(f"job {row.workload}: segment [{row.start_h}, {row.end_h}) h is not whole steps of {step} h")
            continue
        if s < 0 or e > td.steps:
            out.append(f"job {row.workload}: segment [{row.start_h}, {row.end_h}) h lies outside the horizon")
            continue
        if (row.site, row.accelerator) in td.jobs[row.workload].windows:
            good_rows.append(i)
        segs[row.workload].append((int(round(s)), int(round(e))))
        figures[row.workload].append((int(round(s)), int(round(e)), float(row.energy_mwh), float(row.power_cost_cny),
                                      row.segment))
        pools[row.workload].add((row.site, row.accelerator))
        if int(row.chips) != problem.jobs[row.workload].chips:
            out.append(f"job {row.workload} has {row.chips} chips; its gang is {problem.jobs[row.workload].chips}")
    for jid in problem.jobs:
        if jid in segs and jid in unplaced:
            out.append(f"training job {jid} is both scheduled and listed as unplaced")
        if jid not in segs and jid not in unplaced:
            out.append(f"training job {jid} is neither scheduled nor listed as unplaced")
    for jid, ss in segs.items():
        if len(pools[jid]) != 1:
            out.append(f"job {jid} runs on {len(pools[jid])} pools; a gang runs on one")
            continue
        pool = next(iter(pools[jid]))
        tj = td.jobs[jid]
        w = tj.windows.get(pool)
        if w is None:
            out.append(f"job {jid} runs on {pool[1]} at {pool[0]}, which it does not allow, cannot hold it, "
                       "or cannot reach in its window")
            continue
        ss = sorted(ss)
        if any(a[1] > b[0] for a, b in zip(ss, ss[1:])):
            out.append(f"job {jid} has overlapping segments")
        run = sum(e - s for s, e in ss)
        if run != w.steps:
            out.append(f"job {jid} runs {run * step} h; it needs {w.steps * step} h on {pool[1]}")
        if not tj.preemptible and len(merge_segments(ss)) > 1:
            out.append(f"job {jid} is split in time but is not preemptible")
        if ss[0][0] < w.earliest:
            out.append(f"job {jid} starts at {ss[0][0] * step} h, before its release plus data transfer "
                       f"({w.earliest * step} h)")
        if ss[-1][1] > w.deadline:
            out.append(f"job {jid} ends at {ss[-1][1] * step} h, after its deadline ({w.deadline * step} h)")
        if run == w.steps and not any(a[1] > b[0] for a, b in zip(ss, ss[1:])):
            out += _check_segment_figures(problem, td, jid, pool, sorted(figures[jid]))

    # -- transfers as the topology gives them -----------------------------------------------------------
    stated_tr = {r.workload: r for r in transfers.itertuples(index=False)}
    for jid, ss in segs.items():
        if len(pools[jid]) != 1:
            continue
        site = next(iter(pools[jid]))[0]
        tr = td.jobs[jid].transfers.get(site)
        got = stated_tr.get(jid)
        if tr is None:
            if got is not None and got.transfer_h > 0:
                out.append(f"job {jid} lists a transfer but has no dataset to move")
            continue
        if got is None:
            out.append(f"job {jid} moves {tr.dataset_gb:g} GB to {site} but the plan lists no transfer")
        elif got.site != site or not math.isclose(float(got.transfer_h), tr.hours, rel_tol=REL_TOL, abs_tol=1e-9) \
                or not math.isclose(float(got.cost_cny), tr.cost_cny, rel_tol=REL_TOL, abs_tol=1e-9):
            out.append(f"job {jid}: transfer to {got.site} states {got.transfer_h} h, {got.cost_cny} CNY; "
                       f"the topology gives {tr.hours} h, {tr.cost_cny} CNY to {site}")
        else:  # the figures it was priced from, as the topology and the scenario give them
            for name, stated, want in (("origin", got.origin, tr.origin), ("path", got.path, tr.path)):
                if str(stated) != str(want):
                    out.append(f"job {jid}: transfer states {name} {stated!r}; the topology gives {want!r}")
            for name, want in (("dataset_gb", tr.dataset_gb), ("bandwidth_gbps", tr.bandwidth_gbps), ("share", tr.share)):
                if not math.isfinite(want):
                    continue  # a dataset already at the site: no link, no bandwidth
                stated = float(getattr(got, name))
                if not math.isclose(stated, float(want), rel_tol=REL_TOL, abs_tol=1e-9):
                    out.append(f"job {jid}: transfer states {name} {stated}; the scenario and topology give {want}")

    # -- inference: replicas per block, SLO, demand, serving capacity -----------------------------------
    rep: dict[tuple[str, str, str, int], int] = defaultdict(int)
    good_replicas: list[int] = []
    for i, row in enumerate(replicas.itertuples(index=False)):
        b = _block_index(td, row.start_h, row.end_h)
        svc = problem.services.get(row.service)
        if b is None:
            out.append(f"replicas of {row.service} over [{row.start_h}, {row.end_h}) h do not match a block")
        elif svc is None or (row.site, row.accelerator) not in svc.pools:
            out.append(f"service {row.service} has replicas on {row.accelerator} at {row.site}, which it does not allow")
        elif (row.site, row.accelerator) not in problem.inventory:
            out.append(f"{row.service} uses {row.accelerator} at {row.site}, which has no inventory")
        elif int(row.replicas) >= 0:  # a negative count is reported by check_signs and would hide load
            rep[(row.service, row.site, row.accelerator, b)] += int(row.replicas)
            good_replicas.append(i)
    served: dict[tuple[str, str, int], float] = defaultdict(float)
    load: dict[tuple[str, str, str, int], float] = defaultdict(float)
    good_serving: list[int] = []
    for i, row in enumerate(serving.itertuples(index=False)):
        b = _block_index(td, row.start_h, row.end_h)
        svc = problem.services.get(row.service)
        if b is None or svc is None or row.city not in svc.demand_tokens_per_s:
            out.append(f"serving row {row.service} {row.city} [{row.start_h}, {row.end_h}) h names no demand block")
            continue
        if float(row.tokens_per_s) <= 0:
            continue  # serves nothing (a negative row is reported by check_signs)
        if row.accelerator not in svc.tokens_per_s_per_chip:
            out.append(f"serving sends {row.service} to {row.accelerator} at {row.site}, which it does not allow")
            continue
        if not math.isclose(float(row.rtt_ms), problem.rtt_ms[(row.city, row.site)], rel_tol=REL_TOL, abs_tol=1e-6):
            out.append(f"serving {row.service} {row.city}→{row.site} states rtt_ms {row.rtt_ms}, topology gives "
                       f"{problem.rtt_ms[(row.city, row.site)]}")
        good_serving.append(i)
        if row.site not in svc.city_sites[row.city]:
            out.append(f"latency SLO: {row.service} serves {row.city} from {row.site}, beyond {svc.rtt_slo_ms:g} ms")
        served[(row.service, row.city, b)] += float(row.tokens_per_s)
        load[(row.service, row.site, row.accelerator, b)] += float(row.tokens_per_s)
    for (sid, city, b), tps in sorted(served.items()):
        d = td.demand[(sid, city)][b]
        if tps > d + 1e-6:
            out.append(f"demand: {sid} serves {tps:,.1f} tokens/s to {city} in [{td.blocks[b][0] * step}, "
                       f"{td.blocks[b][1] * step}) h; demand is {d:,.1f}")
    for (sid, site, accel, b), tps in sorted(load.items()):
        cap = rep.get((sid, site, accel, b), 0) * problem.services[sid].replica_tokens_per_s(accel)
        if tps > cap + 1e-6:
            out.append(f"serving capacity: {sid} routes {tps:,.1f} tokens/s to {accel} at {site} in block {b}; "
                       f"its replicas serve {cap:,.1f}")

    # -- every step: chips and power ----------------------------------------------------------------------
    ok_jobs = {jid for jid in segs if len(pools[jid]) == 1}
    schedule = schedule.iloc[good_rows]
    schedule = schedule[schedule.workload.isin(ok_jobs)]
    replicas, serving = replicas.iloc[good_replicas], serving.iloc[good_serving]
    objective, kpis, timeline = evaluate_timeline(problem, td, schedule, replicas, serving)
    site_kw = timeline.groupby(["hour", "site"])["meter_kw"].sum()
    for row in timeline.itertuples(index=False):
        used = row.training_chips + row.inference_chips
        inv = problem.inventory[(row.site, row.accelerator)]
        if used > inv:
            out.append(f"chip capacity at hour {row.hour}: {used} {row.accelerator} used at {row.site}, only {inv}")
    for (hour, site), kw in site_kw.items():
        cap = problem.sites[site].power_cap_kw
        if kw > cap * (1 + 1e-9):
            out.append(f"power cap at hour {hour}: {site} draws {kw / 1000:.3f} MW at the meter, cap {cap / 1000:.3f} MW")

    # -- the stated hourly table recomputes (a spatial plan's file has none) -----------------------------------
    if not spatial:
        out += _check_hourly(pd.DataFrame(plan.get("hourly", []), columns=HOURLY_COLUMNS), timeline)
    # -- the report's tables: placements, routing and timeline summaries, sites and inventory --------------
    placements, routing, gantt = time_summaries(problem, td, schedule, replicas, serving)
    out += compare_tables("placements", plan.get("placements", []), placements,
                          ["workload", "site", "accelerator"], PLACEMENT_COLUMNS[1:2] + PLACEMENT_COLUMNS[4:-1])
    for row in plan.get("placements") or []:  # run_share (older plans may leave it out where it is 1)
        if row["kind"] == "inference":  # serving runs the whole horizon
            out += check_run_share(SimpleNamespace(**row), 1.0)
            continue
        job = problem.jobs.get(row["workload"])
        if job is not None and row["accelerator"] in job.hours:
            out += check_run_share(SimpleNamespace(**row), job.run_share(row["accelerator"]))
    out += compare_tables("routing", plan.get("routing", []), routing, ["service", "city", "site", "accelerator"],
                          ROUTING_COLUMNS[4:])
    if not spatial:
        out += compare_tables("timeline", plan.get("timeline") or [], gantt,
                              ["workload", "site", "accelerator", "start_h"], ["kind", "chips", "end_h"])
    out += check_context(problem, plan, placements, None if spatial else timeline)
    # -- unserved demand listed with its amount (the horizon's mean of what each block leaves short) -----------
    short: dict[tuple[str, str], float] = {}
    for (sid, city), per_block in td.demand.items():
        th = sum(max(0.0, d - served.get((sid, city, b), 0.0)) * td.block_hours(b)
                 for b, d in enumerate(per_block) if d - served.get((sid, city, b), 0.0) > 0.5)
        short[(sid, city)] = th / td.horizon_h
    out += check_unplaced(problem, plan, short, threshold=0.0)
    return out + compare_figures(plan, objective, kpis) + _check_meta(problem, td, plan, spatial)


def _check_meta(problem: Problem, td: TimeData, plan: dict[str, Any], spatial: bool) -> list[str]:
    """The plan's basis, as its scenario gives it: catalog and topology versions and the horizon, and for
    time of use the step, demand profile and idle-chip accounting (a plan may leave one out)."""
    want: dict[str, Any] = {"catalog_version": problem.catalog_version, "topology_version": problem.topology_version,
                            "horizon_h": problem.horizon_h}
    if not spatial:
        want.update(step_h=td.step_h, demand_profile=td.profile, idle_chips=td.idle_mode,
                    idle_power_fraction=td.idle_fraction)
    meta = plan.get("meta") or {}
    out = []
    for key, value in want.items():
        if key not in meta:
            continue
        got = meta[key]
        same = (math.isclose(float(got), float(value), rel_tol=REL_TOL, abs_tol=1e-9)
                if isinstance(value, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool)
                else got == value)
        if not same:
            out.append(f"meta.{key} states {got!r}; the scenario gives {value!r}")
    return out
