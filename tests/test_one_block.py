"""The spatial plan is the time model with one block: same optimum on every example and the tiny base."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from planner.core.greedy import greedy_plan
from planner.core.solve import solve
from planner.core.spatial import as_time_plan, write_back
from planner.core.timemodel import solve_time
from planner.core.writeback import write_back as write_back_blocks
from planner.inputs.scenario import load_scenario
from planner.problem.build import build_problem
from planner.problem.timedata import one_block
from planner.results.result import Status

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


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_one_block_write_back_prices_a_plan_as_the_spatial_one_does(path):
    """The same plan (the greedy's), written back as a spatial plan and as a one-block schedule: every
    objective term and every KPI agree, the cost of inference per Mtoken among them, and so do the
    placements (a job's hours are the hours billed), routing, sites, inventory and cities tables."""
    problem = build_problem(load_scenario(path))
    plan = greedy_plan(problem)
    spatial = write_back(problem, plan, Status.feasible, {})
    timed = write_back_blocks(problem, one_block(problem), as_time_plan(plan), Status.feasible, {})
    for key, value in spatial.objective.items():
        assert timed.objective[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert set(timed.kpis) == set(spatial.kpis)
    for key, value in spatial.kpis.items():
        assert timed.kpis[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    for table, key in (("placements", ["workload", "site", "accelerator"]),
                       ("routing", ["service", "city", "site", "accelerator"]), ("sites", ["site"]),
                       ("inventory", ["site", "accelerator"]), ("cities", ["city"])):
        a = getattr(spatial, table).sort_values(key, ignore_index=True)
        b = getattr(timed, table).sort_values(key, ignore_index=True)
        assert list(a.columns) == list(b.columns) and len(a) == len(b), table
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-9, obj=table)
