"""The solve entry point: one call for every kind of placement plan.

``solve(scenario)`` picks the model from the scenario's ``time.mode`` (or ``mode=``):
the spatial model, one block over the whole horizon (``planner.core.spatial``), or the
time-of-use model over tariff and demand blocks (``planner.core.timemodel``). It never
mutates the scenario.
"""

from __future__ import annotations

from collections.abc import Callable

from planner import collector
from planner.core.runner import Progress, Settings, relative_gap, resolve_settings
from planner.core.spatial import solve_spatial
from planner.core.timemodel import solve_time
from planner.inputs.scenario import Scenario
from planner.problem.build import Problem
from planner.results.result import Result

__all__ = ["Progress", "relative_gap", "solve"]


def solve(scenario: Scenario | Problem, *, time_limit_s: float | None = None, workers: int | None = None,
          seed: int | None = None, relative_gap_limit: float | None = None,
          on_progress: Callable[[Progress], None] | None = None, hint: bool = True,
          mode: str | None = None, settings: Settings | None = None) -> Result:
    """Place the scenario's work with CP-SAT and return the plan.

    ``mode="time"`` (or ``time.mode: time`` in the scenario) schedules it hour by hour
    with ``planner.core.timemodel``; ``mode="spatial"`` forces the spatial model. Settings
    are resolved once (``planner.core.runner.resolve_settings``) and the time limit covers
    the whole call, the problem's build included.
    """
    if settings is None:
        settings = resolve_settings(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                                    relative_gap_limit=relative_gap_limit)
    with collector.paused():  # the build creates objects that all live to the end (planner.collector)
        return _solve(scenario, settings, on_progress, hint, mode)


def _solve(scenario: Scenario | Problem, settings: Settings, on_progress: Callable[[Progress], None] | None,
           hint: bool, mode: str | None) -> Result:
    if isinstance(scenario, Scenario) and (mode or scenario.time.mode) == "time":
        return solve_time(scenario, settings=settings, on_progress=on_progress, hint=hint)
    if mode == "time":
        raise TypeError("the time model needs the Scenario (its time section), not a Problem")
    return solve_spatial(scenario, settings=settings, on_progress=on_progress, hint=hint)
