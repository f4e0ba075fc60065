"""The spatial plan is the time model with one block: same optimum on every example and the tiny base."""

from __future__ import annotations

from pathlib import Path

import pytest
from planner.core.solve import solve
from planner.core.timemodel import solve_time
from planner.inputs.scenario import load_scenario
from planner.problem.build import build_problem
from planner.problem.timedata import one_block

from conftest import tiny

EXAMPLES = sorted((Path(__file__).parent.parent / "workloads" / "examples").glob("*.yaml"))


def _both(scenario):
    problem = build_problem(scenario)
    spatial = solve(problem, time_limit_s=20, workers=2, seed=0)
    timed = solve_time(scenario, problem=problem, td=one_block(problem), time_limit_s=20, workers=2, seed=0)
    return spatial, timed


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_one_block_time_model_equals_the_spatial_model(path):
    spatial, timed = _both(load_scenario(path))
    assert spatial.status.value == timed.status.value == "optimal"
    assert timed.objective["total_cny"] == pytest.approx(spatial.objective["total_cny"], rel=1e-6)


def test_one_block_on_the_tiny_base():
    """The base tiny scenario's hand-worked optimum holds in both (see tests/test_solve.py)."""
    spatial, timed = _both(tiny())
    assert timed.objective["total_cny"] == pytest.approx(spatial.objective["total_cny"], rel=1e-6)
    assert timed.objective["power_cost_cny"] == pytest.approx(spatial.objective["power_cost_cny"], rel=1e-6)
