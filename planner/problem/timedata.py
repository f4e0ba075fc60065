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

**A job longer than the horizon** has ``d = horizon_h`` (the hours it runs inside the horizon, the
rule every pipeline shares, ``planner.problem.build.in_horizon``): it runs through the whole
horizon, so it can be placed only where it may start at hour 0 (released at 0, no dataset transfer)
and its deadline, if any, is not before the horizon's end; otherwise it is unplaced, and its reason
says so. The share of its run left undone is priced like unplaced work
(``JobData.unfinished_work_cny``) by the model, the greedy schedule and the bounds alike.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from planner.errors import InputError
from planner.inputs.demand_profiles import (
    DemandProfile,
    idle_power_fraction,
    load_profile,
)
from planner.inputs.scenario import Scenario
from planner.problem.build import Pool, Problem, load_topology_for

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
        return int(round(self.horizon_h / self.step_h))

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
        try:
            profile = load_profile(t.demand_profile, base)
        except InputError as exc:  # name the scenario's field that points at the profile, and where it failed
            where = f"{exc.file}{': ' + exc.field if exc.field else ''}"
            raise InputError(f"{exc.detail} (in {where})", file=scenario.source_path or "<scenario>",
                             field="time.demand_profile", fix=exc.fix) from None

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


def one_block(problem: Problem) -> TimeData:
    """The spatial plan as time data: one block over the whole horizon at each pool's mean price.

    Every job may run on any of its pools from the block's start, busy for ``hours / horizon``
    of the block (at most 1: a job longer than the horizon is billed the hours inside it), with no
    windows, transfers or idle draw, on every pool it allows (no pool is
    dropped for size); demand is each city's mean. The time
    model over this data is the spatial model (``tests/test_models.py`` checks the optimum on
    every example)."""
    horizon = problem.horizon_h
    price = {pool: (problem.price_cny_per_kwh(*pool),) for pool in problem.inventory}
    demand = {(svc.id, city): (d,) for svc in problem.services.values() for city, d in svc.demand_tokens_per_s.items()}
    jobs = {}
    for jid, job in problem.jobs.items():
        windows = {pool: Window(0, 1, 1, job.hours[pool[1]] / horizon) for pool in job.pools}
        jobs[jid] = TimeJob(jid, 0.0, horizon, False, 0.0, windows, {})
    return TimeData(horizon_h=horizon, step_h=horizon, price=price, band={s: ("mean",) for s in problem.sites},
                    blocks=((0, 1),), demand=demand, jobs=jobs, idle_mode="off", idle_fraction=0.0,
                    start_grid="every_step", pools_per_job=max(1, len(problem.inventory)), profile="mean demand",
                    pre_unplaced=dict(problem.pre_unplaced))


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
    if all(data.run_share(p[1]) < 1.0 for p in data.pools if p[0] in allowed_sites):
        return (f"it runs longer than the horizon, so a plan bills it for the whole horizon and it must run "
                f"from hour 0 to the end; its window [{sjob.release_h:g} h + data transfer, {deadline_h:g} h) "
                "is shorter: release it at 0 without a dataset transfer and with no deadline before the "
                "horizon's end, or raise horizon_h to plan the whole run")
    return (f"its window [{sjob.release_h:g} h, {deadline_h:g} h) is shorter than its shortest run "
            f"plus data transfer ({shortest:.1f} h); move the deadline or shrink the dataset")


# ---------------------------------------------------------------------------
def job_energy(problem: Problem, td: TimeData, jid: str, pool: Pool, run_steps: list[int],
               part: tuple[int, int] | None = None) -> tuple[float, float]:
    """(kWh, CNY before the power-cost weight) a job draws busy over its run steps (full chip power,
    before any idle accounting); ``part`` = (i, j) counts only run steps i..j−1 of them."""
    chips = problem.jobs[jid].chips
    kw = problem.meter_kw_per_chip(*pool)
    kwh = cost = 0.0
    pairs = list(zip(run_steps, td.busy_fractions(jid, pool, len(run_steps))))
    for u, f in (pairs if part is None else pairs[part[0]:part[1]]):
        e = chips * kw * td.step_h * f
        kwh += e
        cost += e * td.price[pool][u]
    return kwh, cost


def run_steps_of(segments: list[tuple[int, int]]) -> list[int]:
    return [u for s, e in sorted(segments) for u in range(s, e)]


def merge_segments(segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent segments are one run (no checkpoint between them)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(segments):
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out
