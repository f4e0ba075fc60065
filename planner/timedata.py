"""Time data for the time-of-use model, and pricing and re-checking of a timeline, without a solver.

``build_time_data(scenario, problem)`` turns the scenario's ``time`` section,
the topology's hourly tariffs and the demand profile into plain numbers:

- steps of ``step_h`` hours over the horizon (hour 0 = Monday 00:00, UTC+8);
- the effective price per (site, accelerator) and step, after the domestic-chip
  subsidy, exactly as ``Problem.price_cny_per_kwh`` does for the mean price;
- **blocks**: maximal runs of steps in which every site's price and every
  city's demand fraction are equal. Inference replicas are decided per block:
  nothing that prices or sizes serving changes inside one, so aggregating
  hours into blocks does not change the answer (except that replicas cannot
  change inside a block when a training job starts or ends there). At scale
  (``time.serving_blocks: demand``) blocks split on demand changes only: a
  block's cost is still exact (constant replicas × the sum of its hourly
  prices), but serving cannot move between sites at a tariff change inside it;
- per job and pool the window of start steps: earliest = release + dataset
  transfer, latest = deadline − duration, both on the step grid;
- dataset transfers: hours = GB × 8 / (bottleneck Gbit/s × share) / 3600 over
  the topology's lowest-RTT path, and CNY = GB × Σ link CNY/GB where given.

**Link sharing (an approximation).** The share of the bottleneck a transfer
gets is fixed before solving: ``1 / n`` where ``n`` counts the jobs whose data
leaves the same origin and whose windows overlap this job's — as if all of
them moved their data at once over the origin's egress, the usual bottleneck.
That is conservative (transfers that do not overlap in fact finish sooner);
``time.transfer_bandwidth_share`` replaces it with a fixed share.

Energy per (step, pool)::

    busy chip-steps  = Σ_jobs chips × busy_fraction(step) + Σ_services cpr × replicas
    idle chips       = inventory − occupied chips (+ the idle tail of a job's last step), only if idle_chips = idle
    energy_kwh       = step_h × chip_kW × PUE × (busy + idle_fraction × idle)
    power_cost_cny   = energy_kwh × price(step, pool)

A job of ``d`` hours on a ``step_h`` grid occupies ⌈d/step_h⌉ steps; it is
busy for the whole of each but the last, and for the remainder of the last.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.demand_profiles import DemandProfile, idle_power_fraction, load_profile
from planner.errors import InputError
from planner.problem import Pool, Problem, load_topology_for
from planner.scenario import Scenario

# ---- table columns (also used by planner.result) -------------------------------------------------
HOURLY_COLUMNS = ["hour", "site", "accelerator", "band", "price_cny_per_kwh", "training_chips",
                    "inference_chips", "idle_chips", "meter_kw", "energy_kwh", "power_cost_cny"]
#: when each job segment and each block of replicas runs (the columns planner.statistics reads as a time line)
TIMELINE_COLUMNS = ["workload", "kind", "site", "accelerator", "chips", "start_h", "end_h"]
SCHEDULE_COLUMNS = ["workload", "site", "accelerator", "chips", "segment", "start_h", "end_h",
                    "energy_mwh", "power_cost_cny"]
REPLICA_COLUMNS = ["start_h", "end_h", "service", "site", "accelerator", "replicas"]
SERVING_COLUMNS = ["start_h", "end_h", "service", "city", "site", "accelerator", "tokens_per_s", "rtt_ms"]
TRANSFER_COLUMNS = ["workload", "origin", "site", "dataset_gb", "bandwidth_gbps", "share", "transfer_h",
                    "cost_cny", "path"]

#: relative tolerance on recomputed figures
REL_TOL = 1e-6
SMALL_MODEL_STARTS = 20_000
#: above this many (service × step) pairs, serving blocks split on demand changes only
AUTO_PRICE_BLOCKS = 2_000


@dataclass(frozen=True)
class Transfer:
    """Moving one job's dataset from its origin to a site."""

    origin: str
    site: str
    dataset_gb: float
    bandwidth_gbps: float  # bottleneck of the path (inf if origin is the site)
    share: float
    hours: float
    cost_cny: float
    path: str


@dataclass(frozen=True)
class Window:
    """Where in time a job may run on one pool, in steps."""

    earliest: int  # first step it may start (release + transfer)
    deadline: int  # step by which it must have ended (exclusive)
    steps: int  # steps it occupies
    busy_last: float  # busy fraction of its last step

    @property
    def latest_start(self) -> int:
        return self.deadline - self.steps


@dataclass(frozen=True)
class TimeJob:
    id: str
    release_h: float
    deadline_h: float
    preemptible: bool
    checkpoint_cny: float
    windows: dict[Pool, Window]
    transfers: dict[str, Transfer]  # per site; empty if the job has no dataset

    @property
    def pools(self) -> tuple[Pool, ...]:
        return tuple(self.windows)


@dataclass(frozen=True)
class TimeData:
    """Everything time-dependent the model, the greedy schedule and ``verify_timeline`` need."""

    horizon_h: int
    step_h: int
    price: dict[Pool, tuple[float, ...]]  # effective CNY/kWh per step
    band: dict[str, tuple[str, ...]]  # band name per site and step
    blocks: tuple[tuple[int, int], ...]  # [start, end) in steps
    demand: dict[tuple[str, str], tuple[float, ...]]  # (service, city) → tokens/s per block
    jobs: dict[str, TimeJob]
    idle_mode: str
    idle_fraction: float
    start_grid: str
    pools_per_job: int | None
    profile: str
    pre_unplaced: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def steps(self) -> int:
        return self.horizon_h // self.step_h

    def block_hours(self, b: int) -> float:
        s, e = self.blocks[b]
        return (e - s) * self.step_h

    def block_price(self, pool: Pool, b: int) -> float:
        """Mean price of a pool over a block: a constant draw over the block costs exactly this × hours."""
        s, e = self.blocks[b]
        return sum(self.price[pool][s:e]) / (e - s)

    def busy_fractions(self, jid: str, pool: Pool, n_run: int) -> list[float]:
        """Busy fraction of each of a job's run steps in time order: 1, 1, …, remainder."""
        w = self.jobs[jid].windows[pool]
        return [1.0] * (n_run - 1) + [w.busy_last] if n_run else []


# ---------------------------------------------------------------------------
#: the longest schedule the time model builds: a leap year of hourly steps
MAX_STEPS = 8784


def build_time_data(scenario: Scenario, problem: Problem, topology: Any = None,
                    profile: DemandProfile | None = None) -> TimeData:
    """Resolve the scenario's time section against its topology and demand profile."""
    file = scenario.source_path or "<scenario>"
    t = scenario.time
    topo = topology if topology is not None else load_topology_for(scenario)
    horizon = scenario.horizon_h
    if abs(horizon - round(horizon)) > 1e-9 or round(horizon) % t.step_h:
        raise InputError(f"horizon_h {horizon:g} is not a whole number of {t.step_h}-hour steps", file=file,
                         field="horizon_h", fix=f"use a multiple of time.step_h ({t.step_h})")
    hours = int(round(horizon))
    n_steps = hours // t.step_h
    if n_steps > MAX_STEPS:
        raise InputError(f"{n_steps} time steps ({hours} h at {t.step_h} h): the time model plans up to "
                         f"{MAX_STEPS} steps", file=file, field="horizon_h",
                         fix="plan a representative week (168 h) or month, use a longer time.step_h, or use "
                             "capacity planning for a year and more")
    if profile is None:
        base = scenario.resolve(".") if scenario.source_path else None
        profile = load_profile(t.demand_profile, base)

    # -- prices and bands per step --------------------------------------------------------
    site_price: dict[str, list[float]] = {}
    band: dict[str, tuple[str, ...]] = {}
    for sid in problem.sites:
        hourly = topo.hourly_price_cny_per_kwh(sid, hours, month=t.month)
        site_price[sid] = [sum(hourly[u * t.step_h:(u + 1) * t.step_h]) / t.step_h for u in range(n_steps)]
        names = _band_names(topo.sites[sid].tariff, t.month)
        band[sid] = tuple(names[(u * t.step_h) % 24] for u in range(n_steps))
    price = {}
    for (sid, accel) in problem.inventory:
        cut = problem.sites[sid].subsidy_fraction if problem.accels[accel].domestic else 0.0
        price[(sid, accel)] = tuple(p * (1.0 - cut) for p in site_price[sid])

    # -- demand fraction per step, at the demand resolution -----------------------------------
    cities = sorted({c for s in problem.services.values() for c in s.demand_tokens_per_s})
    res = t.demand_resolution_h
    frac: dict[str, list[float]] = {}
    for city in cities:
        hourly = profile.hourly(city, hours)
        peak = [max(hourly[(h // res) * res:min(hours, (h // res + 1) * res)]) for h in range(hours)]
        frac[city] = [max(peak[u * t.step_h:(u + 1) * t.step_h]) for u in range(n_steps)]

    # -- blocks: maximal runs of equal prices and demand ------------------------------------------
    split_on_price = t.serving_blocks == "demand_and_price" or (
        t.serving_blocks == "auto" and len(problem.services) * n_steps <= AUTO_PRICE_BLOCKS)

    def key(u: int) -> tuple:
        prices = tuple(site_price[s][u] for s in problem.sites) if split_on_price else ()
        return (prices, tuple(frac[c][u] for c in cities))

    blocks: list[tuple[int, int]] = []
    start = 0
    for u in range(1, n_steps + 1):
        if u == n_steps or key(u) != key(start):
            blocks.append((start, u))
            start = u
    demand = {(svc.id, city): tuple(d * frac[city][s] for s, _e in blocks)
              for svc in problem.services.values() for city, d in svc.demand_tokens_per_s.items()}

    # -- jobs: windows, transfers, residency ----------------------------------------------------
    by_copy: dict[str, Any] = {}
    for job in scenario.jobs:
        for k in range(job.count):
            by_copy[job.id if job.count == 1 else f"{job.id}#{k + 1}"] = job
    origin_windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for jid, job in by_copy.items():
        if job.dataset_gb > 0 and jid in problem.jobs:
            origin_windows[job.dataset_origin].append((job.release_h, min(job.deadline_h or hours, hours)))
    jobs: dict[str, TimeJob] = {}
    pre_unplaced: dict[str, str] = {}
    for i, sjob in enumerate(scenario.jobs):
        where = scenario.job_field(i)
        deadline_h = min(sjob.deadline_h or hours, float(hours))
        origin_node = None
        allowed_sites = set(problem.sites)
        if sjob.dataset_origin is not None:
            origin_node = _node(topo, sjob.dataset_origin, file, f"{where}.dataset_origin")
            if sjob.data_residency:
                province = _province(topo, origin_node, file, f"{where}.dataset_origin")
                allowed_sites = {s for s in problem.sites if topo.sites[s].province == province}
        if t.transfer_bandwidth_share is not None:
            share = t.transfer_bandwidth_share
        else:
            n = sum(1 for r, d in origin_windows.get(sjob.dataset_origin, []) if r < deadline_h and sjob.release_h < d)
            share = 1.0 / max(1, n)
        transfers: dict[str, Transfer] = {}
        if origin_node is not None and sjob.dataset_gb > 0:
            for sid in allowed_sites:
                transfers[sid] = _transfer(topo, origin_node, sid, sjob.dataset_gb, share, file, where)
        for k in range(sjob.count):
            jid = sjob.id if sjob.count == 1 else f"{sjob.id}#{k + 1}"
            data = problem.jobs.get(jid)
            if data is None:
                continue
            windows: dict[Pool, Window] = {}
            for pool in data.pools:
                site, accel = pool
                if site not in allowed_sites:
                    continue
                tr = transfers.get(site)
                earliest = math.ceil((sjob.release_h + (tr.hours if tr else 0.0)) / t.step_h - 1e-9)
                dl = math.floor(deadline_h / t.step_h + 1e-9)
                d_steps = data.hours[accel] / t.step_h
                n = max(1, math.ceil(d_steps - 1e-9))
                w = Window(earliest, dl, n, d_steps - (n - 1))
                if w.latest_start >= w.earliest:
                    windows[pool] = w
            jobs[jid] = TimeJob(jid, sjob.release_h, deadline_h, sjob.preemptible, sjob.checkpoint_cny,
                                windows, transfers)
            if jid in problem.pre_unplaced:
                pre_unplaced[jid] = problem.pre_unplaced[jid]
            elif not windows:
                pre_unplaced[jid] = _window_reason(sjob, data, allowed_sites, transfers, deadline_h)

    grid = t.start_grid
    if grid == "auto":
        n_starts = sum(w.latest_start - w.earliest + 1 for j in jobs.values() for w in j.windows.values()
                       if not j.preemptible)
        grid = "every_step" if n_starts <= SMALL_MODEL_STARTS else "breakpoints"
    idle_fig = idle_power_fraction()
    idle_fraction = t.idle_power_fraction if t.idle_power_fraction is not None else float(idle_fig.value)
    return TimeData(horizon_h=hours, step_h=t.step_h, price=price, band=band, blocks=tuple(blocks),
                    demand=demand, jobs=jobs, idle_mode=t.idle_chips, idle_fraction=idle_fraction,
                    start_grid=grid, pools_per_job=t.pools_per_job, profile=profile.name,
                    pre_unplaced=pre_unplaced)


def _band_names(tariff: Any, month: int | None) -> list[str]:
    names = ["flat"] * 24
    for b in tariff.bands:
        if b.months is None:
            for h in b.covers():
                names[h] = b.name
    if month is not None:
        for b in tariff.bands:
            if b.months is not None and month in b.months:
                for h in b.covers():
                    names[h] = b.name
    return names


def _node(topo: Any, name: str, file: str, field: str) -> str:
    try:
        return topo.node(name)
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=field, fix=exc.fix) from None


def _province(topo: Any, node: str, file: str, field: str) -> str:
    kind, _, ident = node.partition(":")
    province = topo.sites[ident].province if kind == "site" else topo.cities[ident].province
    if not province:
        raise InputError(f"data residency needs the province of '{ident}', which the topology does not give",
                         file=file, field=field, fix="name a site or a city with a province as dataset_origin")
    return province


def _transfer(topo: Any, origin: str, site: str, gb: float, share: float, file: str, where: str) -> Transfer:
    target = f"site:{site}"
    nodes = topo.path(origin, target)
    if not nodes:
        raise InputError(f"no path from {origin} to {site} in the topology", file=file,
                         field=f"{where}.dataset_origin", fix="add a link or restrict allowed_sites")
    if len(nodes) == 1:
        return Transfer(origin, site, gb, math.inf, share, 0.0, 0.0, origin)
    bottleneck = topo.bottleneck_gbps(origin, target)
    if math.isnan(bottleneck):
        raise InputError(f"a link on the path {' → '.join(nodes)} has no bandwidth_gbps", file=file,
                         field=f"{where}.dataset_gb", fix="give bandwidth_gbps for the links on the path")
    cost_per_gb = 0.0
    for u, v in zip(nodes, nodes[1:]):
        link = topo.graph.edges[u, v]["link"]
        if link.cost_cny_per_gb is not None and link.cost_cny_per_gb.value is not None:
            cost_per_gb += float(link.cost_cny_per_gb.value)
    hours = gb * 8.0 / (bottleneck * share) / 3600.0
    return Transfer(origin, site, gb, bottleneck, share, hours, gb * cost_per_gb, " → ".join(nodes))


def _window_reason(sjob: Any, data: Any, allowed_sites: set[str], transfers: dict[str, Transfer],
                   deadline_h: float) -> str:
    if not any(p[0] in allowed_sites for p in data.pools):
        return ("data residency confines it to sites in its data's province, and none of them has an allowed "
                "accelerator; add inventory there or lift data_residency")
    shortest = min(data.hours[p[1]] + (transfers[p[0]].hours if p[0] in transfers else 0.0)
                   for p in data.pools if p[0] in allowed_sites)
    return (f"its window [{sjob.release_h:g} h, {deadline_h:g} h) is shorter than its shortest run "
            f"plus data transfer ({shortest:.1f} h); move the deadline or shrink the dataset")


# ---------------------------------------------------------------------------
def job_energy(problem: Problem, td: TimeData, jid: str, pool: Pool, run_steps: list[int]) -> tuple[float, float]:
    """(kWh, CNY) a job draws busy over its run steps (full chip power, before any idle accounting)."""
    chips = problem.jobs[jid].chips
    kw = problem.meter_kw_per_chip(*pool)
    kwh = cost = 0.0
    for u, f in zip(run_steps, td.busy_fractions(jid, pool, len(run_steps))):
        e = chips * kw * td.step_h * f
        kwh += e
        cost += e * td.price[pool][u]
    return kwh, cost


def run_steps_of(segments: list[tuple[int, int]]) -> list[int]:
    return [u for s, e in sorted(segments) for u in range(s, e)]


def evaluate_timeline(problem: Problem, td: TimeData, schedule: pd.DataFrame, replicas: pd.DataFrame,
                      serving: pd.DataFrame) -> tuple[dict[str, float], dict[str, float], pd.DataFrame]:
    """Objective terms, KPIs and the per-(hour, site, accelerator) usage table of a plan, in plain Python."""
    T, step = td.steps, td.step_h
    occupied: dict[Pool, list[float]] = defaultdict(lambda: [0.0] * T)
    busy: dict[Pool, list[float]] = defaultdict(lambda: [0.0] * T)
    inference: dict[Pool, list[float]] = defaultdict(lambda: [0.0] * T)
    segs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    pool_of: dict[str, Pool] = {}
    for row in schedule.itertuples(index=False):
        segs[row.workload].append((int(round(row.start_h / step)), int(round(row.end_h / step))))
        pool_of[row.workload] = (row.site, row.accelerator)
    transfer = checkpoint = 0.0
    for jid, ss in segs.items():
        pool = pool_of[jid]
        chips = problem.jobs[jid].chips
        steps = run_steps_of(ss)
        for u, f in zip(steps, td.busy_fractions(jid, pool, len(steps))):
            occupied[pool][u] += chips
            busy[pool][u] += chips * f
        tj = td.jobs[jid]
        if pool[0] in tj.transfers:
            transfer += tj.transfers[pool[0]].cost_cny
        checkpoint += tj.checkpoint_cny * max(0, len(_merge(ss)) - 1)
    rep: dict[tuple[str, str, str, int], int] = {}
    for row in replicas.itertuples(index=False):
        b = _block_index(td, row.start_h, row.end_h)
        if b is None:
            continue
        rep[(row.service, row.site, row.accelerator, b)] = int(row.replicas)
        cpr = problem.services[row.service].chips_per_replica[row.accelerator]
        for u in range(*td.blocks[b]):
            occupied[(row.site, row.accelerator)][u] += cpr * int(row.replicas)
            busy[(row.site, row.accelerator)][u] += cpr * int(row.replicas)
            inference[(row.site, row.accelerator)][u] += cpr * int(row.replicas)

    rows = []
    power_cost = energy_kwh = carbon_kg = 0.0
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
            rows.append((u * step, site, accel, td.band[site][u], td.price[pool][u], int(round(occ - inf)),
                         int(round(inf)), (inv - occ) if idle_on else 0, meter_kw, e, problem.power_cost_weight * c))
    timeline = pd.DataFrame(rows, columns=HOURLY_COLUMNS)

    served: dict[tuple[str, str, int], float] = defaultdict(float)
    latency = weighted_rtt = max_rtt = token_hours = 0.0
    for row in serving.itertuples(index=False):
        b = _block_index(td, row.start_h, row.end_h)
        tps = float(row.tokens_per_s)
        if b is None or tps <= 0:
            continue
        hours = td.block_hours(b)
        served[(row.service, row.city, b)] += tps
        latency += tps * hours * problem.latency_cny_per_token_per_s(row.service, row.city, row.site) / problem.horizon_h
        rtt = problem.rtt_ms[(row.city, row.site)]
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
        "total_cny": weighted_power + latency + unplaced + transfer + checkpoint,
        "power_cost_cny": weighted_power,
        "latency_cny": latency,
        "unplaced_penalty_cny": unplaced,
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
        "inference_cny_per_mtokens": (float(timeline.loc[timeline.inference_chips > 0, "power_cost_cny"].sum())
                                      / served_mtokens) if served_mtokens else 0.0,
        "chips_used": int(max((sum(occupied[p][u] for p in occupied) for u in range(T)), default=0)),
        "jobs_placed": len(segs),
        "jobs_unplaced": len(problem.jobs) - len(segs),
        "peak_site_power_mw": max((kw for per in peak_site_kw.values() for kw in per.values()), default=0.0) / 1000,
    }
    return objective, kpis, timeline


def _merge(segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent segments are one run (no checkpoint between them)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(segments):
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _block_index(td: TimeData, start_h: float, end_h: float) -> int | None:
    s, e = int(round(start_h / td.step_h)), int(round(end_h / td.step_h))
    try:
        return td.blocks.index((s, e))
    except ValueError:
        return None


def cost_by_band(hourly: pd.DataFrame) -> pd.DataFrame:
    """Power cost and energy per time-of-use band (bands that drew nothing are left out), from a plan's hourly table."""
    timeline = hourly
    if timeline.empty:
        return pd.DataFrame(columns=["band", "energy_mwh", "power_cost_cny", "share"])
    g = timeline[timeline.energy_kwh > 0].groupby("band").agg(energy_kwh=("energy_kwh", "sum"), power_cost_cny=("power_cost_cny", "sum"))
    g["energy_mwh"] = g.pop("energy_kwh") / 1000
    total = g.power_cost_cny.sum()
    g["share"] = g.power_cost_cny / total if total else 0.0
    return g.reset_index()[["band", "energy_mwh", "power_cost_cny", "share"]].sort_values(
        "power_cost_cny", ascending=False, ignore_index=True)


# ---------------------------------------------------------------------------
def verify_timeline(problem: Problem, td: TimeData, plan: dict[str, Any]) -> list[str]:
    """Every violated constraint and mis-stated figure of a time-of-use plan, step by step."""
    out: list[str] = []
    step = td.step_h
    schedule = pd.DataFrame(plan.get("schedule", []), columns=SCHEDULE_COLUMNS)
    replicas = pd.DataFrame(plan.get("replicas", []), columns=REPLICA_COLUMNS)
    serving = pd.DataFrame(plan.get("serving", []), columns=SERVING_COLUMNS)
    transfers = pd.DataFrame(plan.get("transfers", []), columns=TRANSFER_COLUMNS)
    unplaced = {u["workload"] for u in plan.get("unplaced", []) if u.get("kind") != "inference"}

    # -- jobs: once, whole, allowed pool, inside the window ------------------------------------------
    segs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    pools: dict[str, set[Pool]] = defaultdict(set)
    for row in schedule.itertuples(index=False):
        if row.workload not in problem.jobs:
            out.append(f"schedule names unknown training job {row.workload}")
            continue
        s, e = row.start_h / step, row.end_h / step
        if abs(s - round(s)) > 1e-9 or abs(e - round(e)) > 1e-9 or e <= s:
            out.append(f"job {row.workload}: segment [{row.start_h}, {row.end_h}) h is not whole steps of {step} h")
            continue
        segs[row.workload].append((int(round(s)), int(round(e))))
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
        if not tj.preemptible and len(_merge(ss)) > 1:
            out.append(f"job {jid} is split in time but is not preemptible")
        if ss[0][0] < w.earliest:
            out.append(f"job {jid} starts at {ss[0][0] * step} h, before its release plus data transfer "
                       f"({w.earliest * step} h)")
        if ss[-1][1] > w.deadline:
            out.append(f"job {jid} ends at {ss[-1][1] * step} h, after its deadline ({w.deadline * step} h)")
        energy, cost = job_energy(problem, td, jid, pool, run_steps_of(ss))
        stated = schedule[schedule.workload == jid]
        if not math.isclose(float(stated.power_cost_cny.sum()), problem.power_cost_weight * cost,
                            rel_tol=REL_TOL, abs_tol=1e-6):
            out.append(f"job {jid} states {stated.power_cost_cny.sum()} CNY of power, the schedule gives "
                       f"{problem.power_cost_weight * cost}")

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

    # -- inference: replicas per block, SLO, demand, serving capacity -----------------------------------
    rep: dict[tuple[str, str, str, int], int] = {}
    for row in replicas.itertuples(index=False):
        b = _block_index(td, row.start_h, row.end_h)
        svc = problem.services.get(row.service)
        if b is None:
            out.append(f"replicas of {row.service} over [{row.start_h}, {row.end_h}) h do not match a block")
        elif svc is None or (row.site, row.accelerator) not in svc.pools:
            out.append(f"service {row.service} has replicas on {row.accelerator} at {row.site}, which it does not allow")
        else:
            rep[(row.service, row.site, row.accelerator, b)] = int(row.replicas)
    served: dict[tuple[str, str, int], float] = defaultdict(float)
    load: dict[tuple[str, str, str, int], float] = defaultdict(float)
    for row in serving.itertuples(index=False):
        b = _block_index(td, row.start_h, row.end_h)
        svc = problem.services.get(row.service)
        if b is None or svc is None or row.city not in svc.demand_tokens_per_s:
            out.append(f"serving row {row.service} {row.city} [{row.start_h}, {row.end_h}) h names no demand block")
            continue
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

    # -- the stated timeline and figures recompute ----------------------------------------------------------
    stated_tl = pd.DataFrame(plan.get("hourly", []), columns=HOURLY_COLUMNS)
    if len(stated_tl) != len(timeline):
        out.append(f"hourly table has {len(stated_tl)} rows; the plan gives {len(timeline)} (hour × pool)")
    else:
        key = ["hour", "site", "accelerator"]
        a = stated_tl.sort_values(key, ignore_index=True)
        b = timeline.sort_values(key, ignore_index=True)
        for col in ("training_chips", "inference_chips", "idle_chips", "meter_kw", "power_cost_cny",
                    "price_cny_per_kwh"):
            bad = ~pd.Series([math.isclose(float(x), float(y), rel_tol=REL_TOL, abs_tol=1e-6)
                              for x, y in zip(a[col], b[col])])
            if bad.any():
                i = int(bad.idxmax())
                out.append(f"hourly {col} at hour {b.hour[i]} {b.site[i]} {b.accelerator[i]} states {a[col][i]}, "
                           f"the plan gives {b[col][i]}")
    from planner.verify import compare_figures

    return out + compare_figures(plan, objective, kpis)
