"""The one solver runner: CP-SAT settings, progress reports, status mapping and the relative gap.

Every model in the project (spatial, time of use, capacity, Pareto points) is solved through
``new_solver`` and ``run_solver``, so settings and status mean the same everywhere.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from planner.core import scaling
from planner.results.result import Status

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

    def __init__(self, solver: cp_model.CpSolver) -> None:
        self.solver = solver
        self.interrupted = False
        self._active = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> "_StopOnInterrupt":
        if not self._active:
            return self
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
                self.solver.stop_search()

    def __exit__(self, *exc: Any) -> None:
        if not self._active:
            return
        signal.set_wakeup_fd(self._old_fd)
        signal.signal(signal.SIGINT, self._old_handler)
        os.write(self._write, b"\xff")
        self._watcher.join(timeout=5)
        os.close(self._write)
        os.close(self._read)


def run_solver(solver: cp_model.CpSolver, model: cp_model.CpModel, scale: scaling.CostScale,
               on_progress: Callable[[Progress], None] | None) -> tuple[Status, dict[str, Any]]:
    """Solve with progress reports; returns our status and the objective, bound and gap in CNY."""
    callback = _Callback(on_progress, scale)
    if on_progress is not None:
        solver.best_bound_callback = callback.on_bound
    with _StopOnInterrupt(solver) as interrupt:
        code = solver.solve(model, callback)
    status = _STATUS.get(code, Status.no_solution)
    info: dict[str, Any] = {"status": status.value, "cp_sat_status": solver.status_name(code),
                            "objective": None, "best_bound": None, "gap": None, "solutions": callback.solutions}
    if interrupt.interrupted:
        info["interrupted"] = True  # stopped by Ctrl-C: the best plan so far, with its gap
    if status.has_plan:
        info["objective"] = scale.cny(solver.objective_value)
        info["best_bound"] = scale.cny(solver.best_objective_bound)
        info["gap"] = relative_gap(info["objective"], info["best_bound"])
    return status, info
