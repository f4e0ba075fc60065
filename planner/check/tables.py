"""The tables a plan derives from its decisions, recomputed for ``verify``.

A plan's decisions are its placements and routing (spatial), or its schedule, replicas and serving
per block (time of use). Everything else in the plan file — the sites, inventory and cities tables,
and for time-of-use plans the placements, routing and timeline summaries the report shows — follows
from the decisions and the scenario. These functions give those tables as the write-back does, so
``verify`` can compare every stated row with the recomputed one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pandas as pd

from planner.check.figures import REL_TOL
from planner.problem.build import Problem
from planner.problem.costs import replica_energy
from planner.problem.timedata import TimeData
from planner.results.columns import (
    CITY_COLUMNS,
    INVENTORY_COLUMNS,
    PLACEMENT_COLUMNS,
    ROUTING_COLUMNS,
    SITE_COLUMNS,
    TIMELINE_COLUMNS,
)


def columns(df: pd.DataFrame, *names: str) -> Iterator[tuple]:
    """The rows of ``df``'s columns ``names`` as plain tuples: far quicker than ``itertuples`` on string
    columns, which the write-back and ``verify`` walk for every plan (20,000 jobs at national scale)."""
    return zip(*(df[n].tolist() for n in names)) if len(df) else iter(())


def context_tables(problem: Problem, placements: pd.DataFrame,
                   hourly: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sites (with the power the plan uses), pools (with chips used) and demand cities.

    Spatial plans use everything at once; a time-of-use plan (``hourly`` given) reports each pool's
    busiest hour and each site's peak meter power.
    """
    used = placements.groupby(["site", "accelerator"])["chips"].sum().to_dict() if len(placements) else {}
    site_mw: dict[str, float] = defaultdict(float)
    for (site, accel), chips in used.items():
        if site in problem.sites and accel in problem.accels:
            site_mw[site] += chips * problem.meter_kw_per_chip(site, accel) / 1000
    if hourly is not None and len(hourly):
        busy = hourly.assign(chips=hourly.training_chips + hourly.inference_chips)
        used = {k: int(round(v)) for k, v in busy.groupby(["site", "accelerator"]).chips.max().items()}
        peak = hourly.groupby(["hour", "site"]).meter_kw.sum().groupby("site").max() / 1000
        site_mw = defaultdict(float, {s: float(v) for s, v in peak.items()})
    elif hourly is not None:
        used, site_mw = {}, defaultdict(float)
    sites = pd.DataFrame([(s.id, s.role, s.lat, s.lon, s.pue, s.price_cny_per_kwh, s.subsidy_fraction,
                           s.carbon_kg_per_kwh, s.power_cap_kw / 1000, site_mw[s.id])
                          for s in problem.sites.values()], columns=SITE_COLUMNS)
    inventory = pd.DataFrame([(site, accel, n, int(used.get((site, accel), 0)), problem.accels[accel].domestic,
                               problem.accels[accel].chip_power_kw)
                              for (site, accel), n in sorted(problem.inventory.items())], columns=INVENTORY_COLUMNS)
    cities = pd.DataFrame([(c, lat, lon) for c, (lat, lon) in sorted(problem.city_coords.items())],
                          columns=CITY_COLUMNS)
    return sites, inventory, cities


def time_summaries(problem: Problem, td: TimeData, schedule: pd.DataFrame, replicas: pd.DataFrame,
                   serving: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A time-of-use plan's placements (jobs with their hours billed and their energy, services at their
    peak replicas), routing (the horizon's mean tokens/s) and timeline (when each job segment and block
    of replicas runs)."""
    # summed row by row (a groupby over 20,000 one-row groups took seconds)
    jobs: dict[tuple[str, str, str, int], list[float]] = {}  # → [steps held, MWh, CNY]
    for jid, site, accel, chips, start_h, end_h, mwh, cny in columns(
            schedule, "workload", "site", "accelerator", "chips", "start_h", "end_h", "energy_mwh", "power_cost_cny"):
        acc = jobs.setdefault((jid, site, accel, int(chips)), [0.0, 0.0, 0.0])
        acc[0] += (end_h - start_h) / td.step_h
        acc[1] += mwh
        acc[2] += cny
    rows = []
    for (jid, site, accel, chips), (steps, mwh, cny) in sorted(jobs.items()):
        # the hours billed: its steps, the last one busy for its fraction (a one-block plan: the job's hours)
        hours = sum(td.busy_fractions(jid, (site, accel), int(round(steps)))) * td.step_h
        rows.append((jid, problem.jobs[jid].kind, site, accel, chips, 0, hours, float(mwh), float(cny),
                     problem.jobs[jid].run_share(accel)))
    served: dict[tuple[str, str, str], list[float]] = {}  # → [peak replicas, replica-hours, kWh, CNY]
    for sid, site, accel, n, start_h, end_h in columns(replicas, "service", "site", "accelerator", "replicas",
                                                      "start_h", "end_h"):
        acc = served.setdefault((sid, site, accel), [0, 0.0, 0.0, 0.0])
        kwh, cny = replica_energy(problem, td, sid, (site, accel), int(n), int(start_h // td.step_h),
                                  int(end_h // td.step_h))
        acc[0] = max(acc[0], int(n))
        acc[1] += (end_h - start_h) * n
        acc[2] += kwh
        acc[3] += cny
    for (sid, site, accel), (peak, replica_h, kwh, cny) in sorted(served.items()):
        cpr = problem.services[sid].chips_per_replica[accel]
        rows.append((sid, "inference", site, accel, peak * cpr, peak, float(replica_h) / peak if peak else 0.0,
                     kwh / 1000, problem.power_cost_weight * cny, 1.0))
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    token_h: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for sid, city, site, accel, tps, start_h, end_h in columns(serving, "service", "city", "site", "accelerator",
                                                               "tokens_per_s", "start_h", "end_h"):
        token_h[(sid, city, site, accel)] += tps * (end_h - start_h)
    route = [(sid, city, site, accel, float(th) / td.horizon_h, problem.rtt_ms[(city, site)])
             for (sid, city, site, accel), th in sorted(token_h.items())]
    gantt = [(jid, problem.jobs[jid].kind, site, accel, chips, start_h, end_h) for jid, site, accel, chips, start_h, end_h
             in columns(schedule, "workload", "site", "accelerator", "chips", "start_h", "end_h")]
    gantt += [(sid, "inference", site, accel, n * problem.services[sid].chips_per_replica[accel], start_h, end_h)
              for sid, site, accel, n, start_h, end_h
              in columns(replicas, "service", "site", "accelerator", "replicas", "start_h", "end_h")]
    return placements, pd.DataFrame(route, columns=ROUTING_COLUMNS), pd.DataFrame(gantt, columns=TIMELINE_COLUMNS)


def compare_tables(name: str, stated: list[dict[str, Any]], recomputed: pd.DataFrame, key: list[str],
                   columns: list[str]) -> list[str]:
    """Every row of ``recomputed`` is stated once with equal ``columns``, and nothing else is stated."""
    out: list[str] = []
    want: dict[tuple, Any] = {}
    for row in recomputed.itertuples(index=False):
        want[tuple(_plain(getattr(row, k)) for k in key)] = row
    seen: set[tuple] = set()
    for i, row in enumerate(stated):
        k = tuple(_plain(row.get(c)) for c in key)
        label = f"{name}[{i}] ({', '.join(str(x) for x in k)})"
        if k in seen:
            out.append(f"{label} is stated twice")
            continue
        seen.add(k)
        if k not in want:
            out.append(f"{label} is not in the plan's recomputed {name} table")
            continue
        for c in columns:
            if not _same(row.get(c), getattr(want[k], c)):
                out.append(f"{label}: {c} states {row.get(c)!r}, the plan gives {_plain(getattr(want[k], c))!r}")
    for k in want:
        if k not in seen:
            out.append(f"{name} is missing the row ({', '.join(str(x) for x in k)})")
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and \
            (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-6)
    return a == b
