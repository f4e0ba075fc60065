"""The one solver runner: settings, the two-phase start, CP-SAT, progress, status and the gap.

Every model in the project (spatial, time of use, capacity, Pareto points) is solved through
``solve_model`` (or ``new_solver`` and ``run_solver`` for a re-solve of the same model), with
``Settings`` resolved once by ``resolve_settings``, so settings and status mean the same everywhere:
an argument given (not None) wins over the scenario's ``solver`` section, which wins over the
defaults, and the time limit covers the whole solve from ``Settings.started``, build included.
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from planner.core import scaling
from planner.core.twophase import (
    LinearView,
    Phase,
    add_solution_hint,
    hint_objective,
    milp_phase,
    native_output_silenced,
    relax_and_round,
)
from planner.inputs.scenario import Scenario, SolverSettings
from planner.results.result import Status

#: a model with at least this many variables gets the two-phase start (``start="auto"``) ...
AUTO_START_VARIABLES = 3000
#: ... and at most this many nonzero row coefficients: the start's memory and its LPs' time grow with
#: them. The 20,000-job week of distinct shapes (208,287 variables, 25,232 rows, 632,997 nonzeros)
#: peaked at 1.95 GB with every phase run (0.66 GB before the start) and its LP took 11-20 s; the
#: decomposed 168 h time-of-use week (375,305 variables, 572,260 rows, 6,480,200 nonzeros) reached
#: 7.4 GB with the start and 2.45 GB without (benchmarks/phases.py, benchmarks/national.py). The
#: 300-job time-of-use week of ``national.py --quick`` (87,876 variables, 1,311,381 nonzeros) needs the
#: start: its relax and round gives 39.6 M CNY in 7 s (gap 5.9 %), CP-SAT alone 46.0 M (gap 19.0 %)
AUTO_START_MAX_NONZEROS = 2_500_000
#: share of the remaining time the two-phase start may use, and of that the MILP (phase 1 b)
START_SHARE = 0.65
MILP_SHARE = 0.7
#: the MILPs of phase 1 stop at this gap (or the requested one, if larger)
MILP_GAP = 0.002
#: the MILPs of phase 1 run only with at least this many times relax and round's time left: each first
#: solves the same LP at its root. On the 20,000-job week of distinct shapes at load 5, with 16 s left
#: after a 43 s relax and round, they returned a plan 4.8× the relaxation and no usable bound, and took
#: 0.8 GB and both cores from the search
MILP_MIN_LP_MULTIPLE = 2.0
#: how long past their limit the start waits for the MILPs: HiGHS checks its limit between steps, and
#: on the 300-job time-of-use week its whole MILP ran 47 s against a 17 s limit (the command ended
#: 4.5 s past its own); past this the start goes on without them, as after Ctrl-C
MILP_GRACE_S = 1.0
#: right after relax and round, CP-SAT with the replicas fixed repacks the jobs rounding left out, for
#: this many times relax and round's time (at least ``EARLY_FIXED_MIN_S``, at most this share of the
#: start's budget). On the national week from a menu it took relax and round's plan from 2.6 % above
#: the relaxation to 0.7 % in 0.5 s and 0.4 % in 1 s
EARLY_FIXED_LP_MULTIPLE = 3.0
EARLY_FIXED_MIN_S = 1.0
EARLY_FIXED_SHARE = 0.25
#: CP-SAT settings of that repack. One worker (its LP-guided search) met the gap there in 0.33-0.41 s
#: in every run, where two (that worker beside a second subsolver sharing its time) took 0.50-0.62 s;
#: one presolve pass and no symmetry detection took 0.33-0.35 s of those 0.40 (a packing around fixed
#: replicas leaves presolve little to find)
EARLY_FIXED_PARAMETERS = {"num_workers": 1, "max_presolve_iterations": 1, "symmetry_level": 0}

#: a CP-SAT search stops (keeping its best plan, as at its time limit) once the process's resident memory
#: passes this, unless the scenario's ``solver.max_memory_gb`` says otherwise: issue 11 asks for 20,000 jobs
#: in under 4 GB. CP-SAT grows with the time it searches:
#: on the 20,000-job week of distinct shapes the search alone reached 5.0 GB in 120 s on a quiet machine,
#: and phase 2 (replicas fixed) 3.7 GB in 48 s, where sampling stops it within a few hundred MB of the
#: mark. CP-SAT's own ``max_memory_in_mb`` did not stop a search in the OR-Tools 9.15 wheel
SEARCH_MAX_RSS_GB = 3.0
#: how often the process's memory is read during a search
_MEMORY_POLL_S = 0.1

_STATUS = {
    cp_model.OPTIMAL: Status.optimal,
    cp_model.FEASIBLE: Status.feasible,
    cp_model.INFEASIBLE: Status.infeasible,
    cp_model.MODEL_INVALID: Status.model_invalid,
    cp_model.UNKNOWN: Status.no_solution,
}


@dataclass(frozen=True)
class Progress:
    """One progress report: elapsed time, incumbent, bound and gap (CNY)."""

    elapsed_s: float
    objective_cny: float | None
    bound_cny: float | None

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective_cny, self.bound_cny)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective − bound| / max(|objective|, 1): 0 means proven optimal."""
    if objective is None or bound is None or math.isnan(objective) or math.isnan(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)



def state_plan_objective(info: dict[str, Any], total_cny: float) -> None:
    """Make the solver block state the plan's own priced total, which ``verify`` recomputes.

    CP-SAT's objective counts every cost coefficient rounded to whole cost units
    (``scaling.CostScale``); over thousands of small coefficients (latency per token/s per hour)
    that rounding adds up to more than verify's tolerance. The plan's total is priced in floating
    point from its decisions, so the block states that and keeps CP-SAT's figure as
    ``model_objective``. A CP-SAT bound above the priced total (possible by rounding only) is
    capped at it and the excess recorded as ``bound_rounding_cny``."""
    model = info.get("objective")
    info["model_objective"] = model
    info["objective"] = total_cny
    bound = info.get("best_bound")
    if bound is not None and bound > total_cny:
        info["bound_rounding_cny"] = bound - total_cny
        info["best_bound"] = total_cny
    info["gap"] = relative_gap(total_cny, info.get("best_bound"))

@dataclass(frozen=True)
class Settings:
    """Solver settings, resolved once: the whole solve (build included) ends by ``started + time_limit_s``."""

    time_limit_s: float
    workers: int
    seed: int
    relative_gap_limit: float
    started: float = field(default_factory=time.perf_counter)
    #: a CP-SAT search stops with its best plan once the process holds more than this (``SEARCH_MAX_RSS_GB``)
    max_memory_gb: float = SEARCH_MAX_RSS_GB

    def remaining_s(self) -> float:
        return self.time_limit_s - (time.perf_counter() - self.started)

    def as_info(self) -> dict[str, Any]:
        return {"time_limit_s": self.time_limit_s, "workers": self.workers, "seed": self.seed,
                "relative_gap_limit": self.relative_gap_limit, "max_memory_gb": self.max_memory_gb}


def resolve_settings(source: Any = None, *, time_limit_s: float | None = None, workers: int | None = None,
                     seed: int | None = None, relative_gap_limit: float | None = None,
                     started: float | None = None, max_memory_gb: float | None = None) -> Settings:
    """Arguments that are not None win, then ``source``'s ``solver`` section (a Scenario), then the defaults."""
    base = source.solver if isinstance(source, Scenario) else SolverSettings()
    return Settings(time_limit_s=float(time_limit_s if time_limit_s is not None else base.time_limit_s),
                    workers=int(workers if workers is not None else base.workers),
                    seed=int(seed if seed is not None else base.seed),
                    relative_gap_limit=float(relative_gap_limit if relative_gap_limit is not None
                                             else base.relative_gap),
                    started=started if started is not None else time.perf_counter(),
                    max_memory_gb=float(max_memory_gb if max_memory_gb is not None else base.max_memory_gb))


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, on_progress: Callable[[Progress], None] | None, scale: scaling.CostScale) -> None:
        super().__init__()
        self._scale = scale
        self._on_progress = on_progress
        self._start = time.perf_counter()
        self.objective: float | None = None
        self.solutions = 0

    def on_solution_callback(self) -> None:
        self.solutions += 1
        self.objective = self._scale.cny(self.ObjectiveValue())
        if self._on_progress:
            self._on_progress(Progress(time.perf_counter() - self._start, self.objective,
                                       self._scale.cny(self.BestObjectiveBound())))

    def on_bound(self, bound: float) -> None:
        if self._on_progress:
            self._on_progress(Progress(time.perf_counter() - self._start, self.objective, self._scale.cny(bound)))


def new_solver(time_limit_s: float, workers: int, seed: int, relative_gap_limit: float = 0.0) -> cp_model.CpSolver:
    """A CP-SAT solver with the settings every solve in the project shares.

    The full-problem worker is CP-SAT's ``max_lp`` (the LP with every linearised
    constraint and cuts): on 2 cores it proves bounds that the default worker leaves
    several percent below the plan, because whole replicas and whole gangs round up.
    """
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, float(time_limit_s))
    params.num_workers = int(workers)
    params.random_seed = int(seed)
    params.relative_gap_limit = float(relative_gap_limit)
    params.extra_subsolvers.append("max_lp")
    return solver


class _StopOnInterrupt:
    """Ctrl-C during a solve stops the search (as a time limit would) and marks the result interrupted.

    CP-SAT runs with the GIL released, so a Python signal handler would only run after the solve.
    Python's C-level handler still writes the signal to a wakeup file descriptor at once; a watcher
    thread reads it and calls ``stop_search``. Outside the main thread this does nothing.
    """

    def __init__(self, solver: cp_model.CpSolver | None = None, stop: Callable[[], None] | None = None) -> None:
        self.solver = solver
        self.stop = stop if stop is not None else solver.stop_search  # type: ignore[union-attr]
        self.interrupted = False
        self._active = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> "_StopOnInterrupt":
        if not self._active:
            return self
        if self.solver is not None:
            self.solver.parameters.catch_sigint_signal = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._old_handler = signal.signal(signal.SIGINT, self._on_signal)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        return self

    def _on_signal(self, signum: int, frame: Any) -> None:  # runs after the solve returns
        self.interrupted = True

    def _watch(self) -> None:
        while True:
            data = os.read(self._read, 64)
            if not data or data == b"\xff":  # closed, or told to finish
                return
            if signal.SIGINT in data:
                self.interrupted = True
                self.stop()

    def __exit__(self, *exc: Any) -> None:
        if not self._active:
            return
        signal.set_wakeup_fd(self._old_fd)
        signal.signal(signal.SIGINT, self._old_handler)
        os.write(self._write, b"\xff")
        self._watcher.join(timeout=5)
        os.close(self._write)
        os.close(self._read)


def resident_gb() -> float | None:
    """The process's resident memory (GB) from /proc (Linux); None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 ** 3
    except (OSError, ValueError, IndexError):
        return None


class _StopOnMemory:
    """Stops the search (``stop``) once the process holds more than ``limit_gb``, read every
    ``_MEMORY_POLL_S`` in a thread; ``stopped`` says whether it did. Where memory cannot be read
    (no /proc) it does nothing."""

    def __init__(self, stop: Callable[[], None], limit_gb: float) -> None:
        self.stop, self.limit_gb, self.stopped = stop, limit_gb, False
        self._done = threading.Event()

    def __enter__(self) -> "_StopOnMemory":
        if resident_gb() is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(_MEMORY_POLL_S):
            gb = resident_gb()
            if gb is not None and gb > self.limit_gb:
                self.stopped = True
                self.stop()
                return

    def __exit__(self, *exc: Any) -> None:
        self._done.set()


def run_solver(solver: cp_model.CpSolver, model: cp_model.CpModel, scale: scaling.CostScale,
               on_progress: Callable[[Progress], None] | None, max_memory_gb: float = SEARCH_MAX_RSS_GB
               ) -> tuple[Status, dict[str, Any]]:
    """Solve with progress reports; returns our status and the objective, bound and gap in CNY. The
    search stops with its best plan, as at its time limit, once the process holds ``max_memory_gb``."""
    callback = _Callback(on_progress, scale)
    if on_progress is not None:
        solver.best_bound_callback = callback.on_bound
    with _StopOnInterrupt(solver) as interrupt, _StopOnMemory(solver.stop_search, max_memory_gb) as memory:
        code = solver.solve(model, callback)
    status = _STATUS.get(code, Status.no_solution)
    info: dict[str, Any] = {"status": status.value, "cp_sat_status": solver.status_name(code),
                            "objective": None, "best_bound": None, "gap": None, "solutions": callback.solutions}
    if interrupt.interrupted:
        info["interrupted"] = True  # stopped by Ctrl-C: the best plan so far, with its gap
    if memory.stopped:
        info["stopped_at_memory_gb"] = max_memory_gb  # the best plan so far, as at a time limit
    if status.has_plan:
        info["objective"] = scale.cny(solver.objective_value)
        info["best_bound"] = scale.cny(solver.best_objective_bound)
        info["gap"] = relative_gap(info["objective"], info["best_bound"])
    return status, info


class Values:
    """Variable values of a solved model, read as ``CpSolver.value`` reads them."""

    def __init__(self, values: list[int]) -> None:
        self._values = values

    def value(self, var: cp_model.IntVar) -> int:
        return self._values[var.index]


def solve_model(model: cp_model.CpModel, scale: scaling.CostScale, settings: Settings, *,
                integer: set[int] | None = None, start: str = "auto",
                on_progress: Callable[[Progress], None] | None = None) -> tuple[Status, dict[str, Any], Any]:
    """Solve a core model within what is left of ``settings``' limit; returns (status, info, values).

    ``integer`` names the variables whose integrality costs the gap (replicas, purchases). With
    ``start="auto"`` a model of ``AUTO_START_VARIABLES`` or more gets the two-phase start
    (``planner.core.twophase``); ``start="two_phase"`` forces it and ``"off"`` skips it. CP-SAT
    then starts from phase 2's plan if it beats the model's own hint. ``best_bound`` is the
    stronger of phase 1's and CP-SAT's bounds; ``values`` reads the best plan found (``.value(var)``)."""
    info: dict[str, Any] = {}
    best: Phase | None = None
    bound_units: float | None = None
    #: (seconds since the solve started, objective, bound) each time either improved, in CNY
    trace: list[tuple[float, float | None, float | None]] = []
    n_vars = len(model.Proto().variables)
    view: LinearView | None = None
    if integer is not None and (start == "two_phase" or (
            start == "auto" and n_vars >= AUTO_START_VARIABLES and not _more_nonzeros(model, AUTO_START_MAX_NONZEROS))):
        view = LinearView(model)
        best, bound_units, info["start"] = _two_phase(model, view, scale, settings, integer, trace)
    floor = _cny(scale, bound_units)

    def progress(p: Progress) -> None:
        bound = p.bound_cny if floor is None or p.bound_cny is None else max(floor, p.bound_cny)
        objective = p.objective_cny
        if best is not None and (objective is None or scale.cny(best.objective_units) < objective):
            objective = scale.cny(best.objective_units)
        trace.append((time.perf_counter() - settings.started, objective, bound))
        if on_progress is not None:
            on_progress(Progress(time.perf_counter() - settings.started, objective, bound))

    view = None  # the start's rows (0.2 GB at 20,000 jobs) are not needed by the search: free them first
    stopped = bool(info.get("start", {}).get("interrupted"))  # Ctrl-C during the start: keep what it found
    done = bool(info.get("start", {}).get("stopped_at_gap"))  # the start met the requested gap
    if bound_units is not None and not (stopped or done):
        add_objective_floor(model, bound_units)  # CP-SAT then knows the proven bound (its gap limit too)
    solver = new_solver(0.0 if (stopped or done) else settings.remaining_s(), settings.workers, settings.seed,
                        settings.relative_gap_limit)
    status, outcome = run_solver(solver, model, scale, progress, settings.max_memory_gb)
    if stopped:
        outcome["interrupted"] = True
    info["trace"] = [(round(t, 3), o, b) for t, o, b in trace]
    info.update(outcome)
    values: Any = solver
    if not status.has_plan and best is None:  # fall back on the model's own hint (the greedy plan) if it is one
        view = LinearView(model)
        hinted = hint_objective(view, model)
        if math.isfinite(hinted):
            proto = model.Proto()
            hint = dict(zip(proto.solution_hint.vars, proto.solution_hint.values))
            best = Phase([hint[i] for i in range(view.n)], hinted, None, 0.0, "the model's hint")
            info["plan_source"] = "hint (CP-SAT found no plan in time)"
    if best is not None and (not status.has_plan or scale.cny(best.objective_units) < outcome["objective"] - 1e-9):
        values = Values(best.values)  # CP-SAT ran out of time before it matched phase 2's plan
        info["objective"] = scale.cny(best.objective_units)
        info.setdefault("plan_source", f"two-phase start ({best.status}); CP-SAT had not matched it")
        if not status.has_plan:
            status = Status.feasible
            info["status"] = status.value
    if bound_units is not None and status.has_plan:
        bound = scale.cny(bound_units)
        if info["best_bound"] is None or bound > info["best_bound"]:
            info["best_bound"] = bound
            info["bound_source"] = f"two-phase start ({info['start'].get('bound_from', 'HiGHS')})"
        info["gap"] = relative_gap(info["objective"], info["best_bound"])
    return status, info, values


def _two_phase(model: cp_model.CpModel, view: LinearView, scale: scaling.CostScale, settings: Settings,
               integer: set[int], trace: list) -> tuple[Phase | None, float | None, dict[str, Any]]:
    """Phase 1 (relax and round, then the MILP for its bound), phase 2 (CP-SAT with ``integer`` fixed);
    the best plan becomes the model's hint. Uses ``START_SHARE`` of the time left."""
    budget = settings.remaining_s() * START_SHARE
    t0 = time.perf_counter()
    with _StopOnInterrupt(stop=lambda: None) as guard, native_output_silenced():  # the phases poll the guard
        best, bound, report = _phases(model, view, scale, settings, integer, trace, budget, t0,
                                      lambda: guard.interrupted)
    if guard.interrupted:
        report["interrupted"] = True
    return best, bound, report


def _phases(model: cp_model.CpModel, view: LinearView, scale: scaling.CostScale, settings: Settings,
            integer: set[int], trace: list, budget: float, t0: float, interrupted: Callable[[], bool]
            ) -> tuple[Phase | None, float | None, dict[str, Any]]:
    halted = [False]  # Ctrl-C reached a CP-SAT search of the start (its own watcher took the signal)

    def stopped() -> bool:
        return interrupted() or halted[0]

    def record(phases: list[Phase]) -> None:
        plans = [p.objective_units for p in phases if p.objective_units is not None]
        bounds = [p.bound_units for p in phases if p.bound_units is not None]
        trace.append((time.perf_counter() - settings.started, _cny(scale, min(plans, default=None)),
                      _cny(scale, max(bounds, default=None))))

    target = settings.relative_gap_limit

    def reached(phases: list[Phase]) -> bool:
        """The plans in hand and the bounds proven meet the requested gap (never when it is 0)."""
        plans = [p.objective_units for p in phases if p.values is not None]
        bounds = [p.bound_units for p in phases if p.bound_units is not None]
        gap = relative_gap(min(plans, default=None), max(bounds, default=None))
        return target > 0 and gap is not None and gap <= target

    phases = [relax_and_round(view, integer, budget * 0.6)]  # seconds at national scale
    record(phases)
    early: dict[str, Any] = {}
    stop_below = _meets_gap_below(phases[0].bound_units, target)
    if (phases[0].values is not None and not stopped() and not reached(phases) and stop_below is not None
            and phases[0].point_units is not None and phases[0].point_units < stop_below):
        # rounding the job counts down leaves whole jobs out where the relaxation packed a pool to
        # the last chip; CP-SAT with the replicas fixed repacks them in a second or two, and meets
        # the requested gap against the relaxation's bound without any MILP when the LP with those
        # replicas (``point_units``, the most a repacking can come down to) is within it
        t1 = time.perf_counter()
        seconds = min(max(EARLY_FIXED_MIN_S, EARLY_FIXED_LP_MULTIPLE * phases[0].seconds),
                      EARLY_FIXED_SHARE * (budget - (t1 - t0)))
        repacked, halted[0] = _fixed_search(model, view, scale, settings, integer, phases[0], seconds, stop_below,
                                            parameters=EARLY_FIXED_PARAMETERS)
        early = {"s": round(time.perf_counter() - t1, 3),
                 "objective": _cny(scale, (repacked or phases[0]).objective_units)}
        if repacked is not None:
            phases[0] = Phase(repacked.values, repacked.objective_units, phases[0].bound_units,
                              phases[0].seconds + repacked.seconds, f"{phases[0].status}, repacked by CP-SAT",
                              phases[0].point_units)
        record(phases)
    # the two MILPs run side by side (HiGHS releases the interpreter): one proves the bound, one finds plans
    limit = budget * MILP_SHARE - (time.perf_counter() - t0)
    heard = {"plan": phases[0].objective_units, "bound": phases[0].bound_units}
    lock = threading.Lock()

    def hear(plan: float | None, bound: float | None) -> None:  # HiGHS's log, from either thread
        with lock:
            better = False
            if plan is not None and (heard["plan"] is None or plan < heard["plan"]):
                heard["plan"], better = plan, True
            if bound is not None and (heard["bound"] is None or bound > heard["bound"]):
                heard["bound"], better = bound, True
            if better:
                trace.append((time.perf_counter() - settings.started, _cny(scale, heard["plan"]),
                              _cny(scale, heard["bound"])))

    found: list[Phase | None] = [None, None]

    def run(k: int, whole: bool) -> None:
        found[k] = milp_phase(view, integer, limit, relative_gap=max(MILP_GAP, target), hint=phases[0].values,
                              whole=whole, progress=hear)

    # HiGHS does not heed an interrupter, so the MILPs run in daemon threads that Ctrl-C may leave behind.
    # The whole MILP (plans) runs only when the solve is to prove optimality: with a gap to meet, the
    # start stops once the replicas-only MILP's bound meets it, and a whole MILP still running then
    # would be left behind, holding a core (and a script's exit) until its own limit
    kinds = (False, True) if target <= 0 else (False,)
    threads = [threading.Thread(target=run, args=(k, whole), daemon=True) for k, whole in enumerate(kinds)]
    worth_it = limit >= MILP_MIN_LP_MULTIPLE * phases[0].seconds
    overran = False
    if not stopped() and not reached(phases) and worth_it:
        for thread in threads:
            thread.start()
        deadline = time.perf_counter() + limit + MILP_GRACE_S  # HiGHS may overrun its own limit
        while (any(t.is_alive() for t in threads) and not stopped()
               and not reached(phases + [p for p in found if p is not None])):
            if time.perf_counter() > deadline:
                overran = True  # left behind like on Ctrl-C: the search goes on with what is in hand
                break
            for thread in [t for t in threads if t.is_alive()][:1]:
                thread.join(timeout=0.1)
    _LEFT_BEHIND.extend(t for t in threads if t.is_alive())
    phases += [p for p in found if p is not None]
    record(phases)
    report: dict[str, Any] = {p.status: {"s": round(p.seconds, 3), "objective": _cny(scale, p.objective_units),
                                         "bound": _cny(scale, p.bound_units)} for p in phases}
    if early:
        report["replicas fixed, early"] = early
    if halted[0]:
        report["interrupted"] = True
    if overran:
        report["MILPs past their limit"] = {"limit_s": round(limit, 3), "grace_s": MILP_GRACE_S}
    if not worth_it:
        report["MILPs skipped"] = {"s_left": round(limit, 3), "relax_and_round_s": round(phases[0].seconds, 3)}
    bounds = [p.bound_units for p in phases if p.bound_units is not None]
    bound = max(bounds) if bounds else None
    if bound is not None:
        proving = next(p for p in phases if p.bound_units == bound)
        report["bound_from"] = _BOUND_FROM.get(proving.status.split(" ")[0], "HiGHS")
    plans = [p for p in phases if p.values is not None]
    if not plans:
        return None, bound, report
    best = min(plans, key=lambda p: p.objective_units)
    if reached(phases):  # the requested gap is met: no phase 2
        report["stopped_at_gap"] = True
        add_solution_hint(model, best.values)
        report["hinted"] = True
        return best, bound, report
    if not stopped():
        # phase 2 repacks around the integer values whose relaxed point was cheapest (the replicas-only
        # MILP's, usually): rounding its job counts may have left that plan dearer than another
        start = min(plans, key=lambda p: (p.point_units if p.point_units is not None else p.objective_units,
                                          p.objective_units))
        t1 = time.perf_counter()
        found2, halted[0] = _fixed_search(model, view, scale, settings, integer, start, budget - (t1 - t0),
                                          _meets_gap_below(bound, target))
        if found2 is not None and found2.objective_units < best.objective_units:
            best = found2
        report["phase 2"] = {"s": round(time.perf_counter() - t1, 3), "objective": _cny(scale, best.objective_units)}
        if halted[0]:
            report["interrupted"] = True
        record(phases + [best])
        if reached(phases + [best]):  # phase 2's plan meets the requested gap: CP-SAT need not search
            report["stopped_at_gap"] = True
    if best.objective_units < hint_objective(view, model):
        add_solution_hint(model, best.values)
        report["hinted"] = True
    return best, bound, report


def _meets_gap_below(bound: float | None, target: float) -> float | None:
    """The objective at or below which a plan is within ``target`` of ``bound`` (``relative_gap``'s
    |objective − bound| / |objective|); None when there is no bound or no gap to meet."""
    if bound is None or not 0 < target < 1:
        return None
    return bound / (1.0 - target) if bound >= 0 else bound / (1.0 + target)


#: HiGHS solves the start stopped waiting for (the gap met, Ctrl-C, HiGHS past its limit). Nothing stops
#: HiGHS from outside (MathOpt's interrupter does not reach it), and a process that ends while one still
#: runs is aborted by the C++ runtime ("terminate called without an active exception", exit 134), so
#: the interpreter waits for them at exit; the command line exits at once instead (``planner.cli.run``)
_LEFT_BEHIND: list[threading.Thread] = []


def solves_left_behind() -> bool:
    """Whether a HiGHS solve the start stopped waiting for still runs in this process."""
    return any(t.is_alive() for t in _LEFT_BEHIND)


@atexit.register
def _wait_for_solves_left_behind() -> None:
    for thread in _LEFT_BEHIND:
        thread.join()


#: what each phase's bound is, by the first word of its status
_BOUND_FROM = {"relax": "the LP relaxation, by HiGHS",
               "MILP": "HiGHS on the model with only replicas and purchases integer",
               "whole": "HiGHS on the whole MILP"}


def _fixed_search(model: cp_model.CpModel, view: LinearView, scale: scaling.CostScale, settings: Settings,
                  integer: set[int], start: Phase, seconds: float, stop_below: float | None = None,
                  parameters: dict[str, Any] | None = None) -> tuple[Phase | None, bool]:
    """CP-SAT on the model with ``integer`` fixed at ``start``'s values, hinted with ``start``, for
    ``seconds``: a packing problem of the relaxed variables it closes fast. Returns its plan if cheaper
    than ``start``'s (else None) and whether Ctrl-C stopped it. ``stop_below`` (objective units) ends
    the search at the first plan under it: the requested gap against a bound proven elsewhere.
    ``parameters`` override CP-SAT's (``num_workers`` only lowers the settings' workers)."""
    if seconds <= 0.01:
        return None, False
    sub = model.clone()
    for i in integer:
        sub.add(sub.get_int_var_from_proto_index(i) == start.values[i])
    add_solution_hint(sub, start.values)
    t1 = time.perf_counter()
    solver = new_solver(seconds, settings.workers, settings.seed, 1e-5)
    for name, value in (parameters or {}).items():
        setattr(solver.parameters, name, min(value, settings.workers) if name == "num_workers" else value)
    below = None if stop_below is None else scale.cny(stop_below)

    def enough(p: Progress) -> None:
        if below is not None and p.objective_cny is not None and p.objective_cny <= below:
            solver.stop_search()

    status, outcome = run_solver(solver, sub, scale, enough if below is not None else None, settings.max_memory_gb)
    interrupted = bool(outcome.get("interrupted"))
    if not status.has_plan or scale.units(outcome["objective"]) >= start.objective_units:
        return None, interrupted
    values = [int(solver.value(sub.get_int_var_from_proto_index(i))) for i in range(view.n)]
    objective = view.objective(values)
    if objective is None:
        return None, interrupted
    return Phase(values, objective, None, time.perf_counter() - t1, "CP-SAT, integer fixed"), interrupted


def _more_nonzeros(model: cp_model.CpModel, limit: int) -> bool:
    """Whether the model's rows hold more than ``limit`` nonzero coefficients (counted until it is known)."""
    count = 0
    for ct in model.Proto().constraints:
        count += len(ct.linear.vars)
        if count > limit:
            return True
    return False


def add_objective_floor(model: cp_model.CpModel, bound_units: float) -> None:
    """objective ≥ ⌊bound⌋: a proven lower bound as a row, a valid cut that lets CP-SAT's own bound
    and gap limit start where phase 1 ended (it cuts off no plan)."""
    proto = model.Proto()
    obj = proto.objective
    expr = cp_model.LinearExpr.weighted_sum([model.get_int_var_from_proto_index(v) for v in obj.vars],
                                            list(obj.coeffs))
    model.add(expr >= math.floor(bound_units - obj.offset) - 1).with_name("proven_bound")


def _cny(scale: scaling.CostScale, units: float | None) -> float | None:
    return None if units is None else scale.cny(units)
