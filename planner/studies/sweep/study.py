"""A sweep from start to end: plan the runs, run what the store does not hold, return a tidy table.

``plan_runs`` turns the command line into ``RunSpec``s (grid, Latin-hypercube
samples, tornado points, marginal-value pairs), each with its id: a hash of the
resolved scenario and the settings. ``run_sweep`` skips the runs the store
already holds (failed ones are tried again), sends the rest to Ray, records each
one as it arrives, and returns one row per run in sweep order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from planner.errors import InputError, did_you_mean
from planner.problem.build import build_problem
from planner.studies.sweep import engine
from planner.studies.sweep.grid import (FAILED, Param, RunSpec, Settings, grid, latin_hypercube, objective_key,
                                        resolve_point, run_key, scenario_digest, tornado_points)

#: columns every sweep table starts with
LEAD_COLUMNS = ["position", "run_id", "study", "axis", "side", "mix"]
#: columns every sweep table ends with
TAIL_COLUMNS = ["status", "reason", "gap", "best_bound", "solve_s", "wall_s", "verified", "violation_count",
                "skipped"]


@dataclass
class SweepPlan:
    """Every run of a sweep, in order, and the sweep's id (a hash of what was asked)."""

    file: str
    specs: list[RunSpec]
    sweep_id: str
    param_keys: list[str]
    settings: Settings
    spec: dict[str, Any] = field(default_factory=dict)

    def unique(self) -> list[RunSpec]:
        seen: dict[str, RunSpec] = {}
        for s in self.specs:
            seen.setdefault(s.run_id, s)
        return list(seen.values())


def _spec(file: str, point: dict[str, Any], sets: dict[str, Any], settings: Settings, study: str,
          axis: str = "", side: str = "") -> RunSpec:
    scenario = resolve_point(file, point, sets)
    return RunSpec(run_key(scenario, settings), dict(point), scenario, settings, scenario_digest(scenario),
                   study, axis, side)


def plan_runs(file: str, *, sets: dict[str, Any] | None = None, params: list[Param] = (),
              mixes: list[str] = (), samples: int | None = None, seed: int = 0, tornado: list[Param] = (),
              marginal: list[str] = (), steps: dict[str, float] | None = None,
              settings: Settings = Settings()) -> SweepPlan:
    """All the runs a sweep asks for. Bad keys and values fail here, before anything runs."""
    sets = dict(sets or {})
    mix_list = list(mixes) or [None]
    specs: list[RunSpec] = []
    for mix in mix_list:
        s = Settings(**{**settings.as_dict(), "mix": mix})
        if params or (not tornado and not marginal):
            points = latin_hypercube(list(params), samples, seed) if samples else grid(list(params))
            specs += [_spec(file, p, sets, s, "sample" if samples else "grid") for p in points]
        for axis, side, point in tornado_points(list(tornado)) if tornado else []:
            specs.append(_spec(file, point, sets, s, "tornado", axis, side))
        if marginal:
            specs += marginal_specs(file, sets, s, marginal, steps or {})
    keys = list(dict.fromkeys([p.key for p in params] + [p.key for p in tornado]
                              + [k for sp in specs for k in sp.params]))
    spec = {"file": file, "sets": sets, "params": [p.__dict__ for p in params], "mixes": list(mixes),
            "samples": samples, "seed": seed, "tornado": [p.__dict__ for p in tornado], "marginal": list(marginal),
            "steps": steps or {}, "settings": settings.as_dict()}
    sweep_id = hashlib.sha256((json.dumps(spec, sort_keys=True, default=str)
                               + "".join(s.run_id for s in specs)).encode()).hexdigest()[:12]
    return SweepPlan(file, specs, sweep_id, keys, settings, spec)


# ---- marginal values: paired re-solves --------------------------------------------------------
MARGINAL_FAMILIES = {"power": "power_cap_mw", "chips": "chips", "slo": "rtt_slo_ms"}
DEFAULT_STEPS = {"power": 1.0, "chips": 1000, "slo": 1.0}


def marginal_specs(file: str, sets: dict[str, Any], settings: Settings, families: list[str],
                   steps: dict[str, float]) -> list[RunSpec]:
    """The base run and, per item, the same scenario with one more unit of it.

    power: every site's cap + ``steps['power']`` MW (the cap the plan used, topology default included);
    chips: every pool (site, accelerator) on hand + ``steps['chips']`` chips;
    slo:   every inference service's RTT SLO + ``steps['slo']`` ms.
    """
    for fam in families:
        if fam not in MARGINAL_FAMILIES:
            raise InputError(f"unknown marginal value '{fam}'", field="--marginal",
                             fix=did_you_mean(fam, MARGINAL_FAMILIES) or f"use {', '.join(MARGINAL_FAMILIES)}")
    step = {**DEFAULT_STEPS, **steps}
    base = resolve_point(file, {}, sets)
    problem = build_problem(base, strict=False)
    out = [_spec(file, {}, sets, settings, "marginal", "", "base")]
    if "power" in families:
        for site in sorted(base.sites):
            cap_mw = problem.sites[site].power_cap_kw / 1000
            key = f"sites.{site}.power_cap_mw"
            out.append(_spec(file, {key: round(cap_mw + step["power"], 9)}, sets, settings, "marginal",
                             f"power_cap_mw:{site}", f"+{step['power']:g}"))
    if "chips" in families:
        for site, plan in sorted(base.sites.items()):
            for accel, chips in sorted(plan.inventory.items()):
                key = f"sites.{site}.inventory.{accel}"
                out.append(_spec(file, {key: int(chips + step["chips"])}, sets, settings, "marginal",
                                 f"chips:{site}/{accel}", f"+{step['chips']:g}"))
    if "slo" in families:
        for svc in base.inference_services:
            key = f"inference_services.{svc.id}.rtt_slo_ms"
            out.append(_spec(file, {key: round(svc.rtt_slo_ms + step["slo"], 9)}, sets, settings, "marginal",
                             f"rtt_slo_ms:{svc.id}", f"+{step['slo']:g}"))
    return out


# ---- running ---------------------------------------------------------------------------------
def run_sweep(plan: SweepPlan, *, store: Any = None, address: str | None = None, cpus_per_run: float = 1.0,
              kill_after_s: float | None = None, num_cpus: int | None = None, progress: bool = True,
              on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """Run the plan's runs that the store does not hold yet; the tidy table of every run."""
    unique = plan.unique()
    outcomes: dict[str, dict[str, Any]] = {}
    skipped: set[str] = set()
    if store is not None:
        store.start_sweep(plan.sweep_id, plan.file, plan.spec)
        for i, s in enumerate(plan.specs):
            store.link(plan.sweep_id, i, s)
        held = store.done([s.run_id for s in unique])
        skipped = {rid for rid, status in held.items() if status != FAILED}
        if skipped:
            stored = store.runs().set_index("run_id")
            for rid in skipped:
                outcomes[rid] = _outcome_from_row(stored.loc[rid])
    todo = [s for s in unique if s.run_id not in skipped]
    if todo:
        cluster = engine.connect(address, num_cpus=num_cpus)
        try:
            with _Bar(len(todo), enabled=progress) as bar:
                def done(spec: RunSpec, outcome: dict[str, Any]) -> None:
                    outcomes[spec.run_id] = outcome
                    if store is not None:
                        store.record(spec, outcome, plan.file)
                    bar.advance(outcome["status"] == FAILED)
                    if on_done is not None:
                        on_done(spec, outcome)

                engine.run_all(todo, cluster, cpus_per_run=cpus_per_run, kill_after_s=kill_after_s, on_done=done)
        finally:
            engine.disconnect(cluster)
    return tidy(plan, outcomes, skipped)


def _outcome_from_row(row: pd.Series) -> dict[str, Any]:
    return {"status": row["status"], "reason": row["reason"], "objective": json.loads(row["objective"]),
            "kpis": json.loads(row["kpis"]), "gap": row["gap"], "best_bound": row["best_bound"],
            "solve_s": row["solve_s"], "wall_s": row["wall_s"], "verified": bool(row["verified"]),
            "violation_count": int(row["violation_count"])}


def tidy(plan: SweepPlan, outcomes: dict[str, dict[str, Any]], skipped: set[str] = frozenset()) -> pd.DataFrame:
    """One row per run: where it sits in the study, parameters, status, objective terms, KPIs, gap, time, verified."""
    rows = []
    for i, s in enumerate(plan.specs):
        o = outcomes.get(s.run_id) or {"status": "not run", "reason": "", "objective": {}, "kpis": {}}
        row: dict[str, Any] = {"position": i, "run_id": s.run_id, "study": s.study, "axis": s.axis, "side": s.side,
                               "mix": s.settings.mix or ""}
        row.update({k: s.params.get(k) for k in plan.param_keys})
        row.update({"status": o["status"], "reason": o.get("reason") or ""})
        row.update(o.get("objective") or {})
        row.update({k: v for k, v in (o.get("kpis") or {}).items() if k not in row})
        row.update({k: o.get(k) for k in ("gap", "best_bound", "solve_s", "wall_s")})
        row.update({"verified": bool(o.get("verified")), "violation_count": int(o.get("violation_count") or 0),
                    "skipped": s.run_id in skipped})
        rows.append(row)
    df = pd.DataFrame(rows)
    tail = [c for c in TAIL_COLUMNS if c in df.columns]
    first = [c for c in LEAD_COLUMNS + plan.param_keys if c in df.columns] + ["status", "reason"]
    middle = [c for c in df.columns if c not in first and c not in tail]
    return df[first + middle + [c for c in tail if c not in first]]


class _Bar:
    """A rich progress bar on stderr: done, failed, elapsed and ETA."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.failed = 0
        self._progress = None

    def __enter__(self) -> "_Bar":
        if self.enabled:
            self._progress = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("done · [red]{task.fields[failed]} failed[/]"),
                                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("sweep", total=self.total, failed=0)
        self.t0 = time.perf_counter()
        return self

    def advance(self, failed: bool) -> None:
        self.failed += int(failed)
        if self._progress is not None:
            self._progress.update(self._task, advance=1, failed=self.failed)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def main_objective(df: pd.DataFrame, required: bool = True) -> str | None:
    """The objective column of a sweep table (total_cny, or total_cny_per_year for capacity runs);
    None when no run has one and ``required`` is false (every run failed)."""
    for key in (objective_key("capacity"), objective_key("place")):
        if key in df.columns:
            return key
    if not required:
        return None
    raise InputError("the sweep table has no objective column", field="total_cny",
                     fix="give a table written by `planner sweep`")
