"""The solve entry point: one call for every kind of placement plan.

``solve(scenario)`` picks the model from the scenario's ``time.mode`` (or ``mode=``):
the spatial model, one block over the whole horizon (``planner.core.spatial``), or the
time-of-use model over tariff and demand blocks (``planner.core.timemodel``). It never
mutates the scenario.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.core.runner import Progress, relative_gap
from planner.core.spatial import solve_spatial
from planner.core.timemodel import solve_time
from planner.inputs.scenario import Scenario
from planner.problem.build import Problem
from planner.results.result import Result

__all__ = ["Progress", "relative_gap", "solve"]


def solve(scenario: Scenario | Problem, *, time_limit_s: float | None = None, workers: int | None = None,
          seed: int | None = None, relative_gap_limit: float | None = None,
          on_progress: Callable[[Progress], None] | None = None, hint: bool = True,
          mode: str | None = None) -> Result:
    """Place the scenario's work with CP-SAT and return the plan.

    ``mode="time"`` (or ``time.mode: time`` in the scenario) schedules it hour by hour
    with ``planner.core.timemodel``; ``mode="spatial"`` forces the spatial model.
    """
    if isinstance(scenario, Scenario) and (mode or scenario.time.mode) == "time":
        return solve_time(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                          relative_gap_limit=relative_gap_limit, on_progress=on_progress, hint=hint)
    if mode == "time":
        raise TypeError("the time model needs the Scenario (its time section), not a Problem")
    return solve_spatial(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                         relative_gap_limit=relative_gap_limit, on_progress=on_progress, hint=hint)
