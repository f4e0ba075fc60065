"""``verify`` for every plan kind through one path: read, check the shape, recompute, compare.

``verify_file(scenario, path)`` and ``verify_document(scenario, data)`` return the violations of a
spatial, time-of-use or capacity plan (each Pareto point is a spatial plan). They raise nothing but
``InputError``: a file that is not a readable plan of this scenario (binary, not JSON, missing keys,
a row naming a job or accelerator the scenario does not have) is bad input, reported on one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.check.capacity import verify_capacity
from planner.check.common import check_solver_objective
from planner.check.plan_schema import check_shape, read_plan
from planner.check.verify import check_plan_shape, verify_plan
from planner.inputs.scenario import Scenario
from planner.problem.build import build_problem


def verify_document(scenario: Scenario, data: Any, file: str = "<plan>") -> list[str]:
    """Every violation in a plan of any kind; ``InputError`` if it is not a plan of this scenario."""
    shape = check_shape(data, file=file)
    if getattr(shape, "kind", None) == "capacity":
        return verify_capacity(scenario, data, file=file) + check_solver_objective(data, "total_cny_per_year")
    problem = build_problem(scenario)
    check_plan_shape(problem, data, file=file)
    return verify_plan(problem, data, scenario) + check_solver_objective(data)


def verify_file(scenario: Scenario, path: str | Path) -> tuple[Any, list[str]]:
    """Read the plan file at ``path`` and verify it; returns (the plan, its violations)."""
    data = read_plan(path)
    return data, verify_document(scenario, data, file=str(path))
