"""The two-phase start (HiGHS, replicas integer) keeps every optimum and only proves true bounds."""

from __future__ import annotations

import pytest
from conftest import EXAMPLE

from planner.check.verify import verify_plan
from planner.core import twophase
from planner.core.runner import resolve_settings
from planner.core.spatial import build_spatial_model, solve_spatial
from planner.core.timemodel import cheapest_runs, energetic_bound, relaxed_bound, solve_time
from planner.core.twophase import LinearView, milp_phase, relax_and_round
from planner.inputs.scenario import load_scenario
from planner.problem.build import build_problem
from planner.problem.timedata import build_time_data


def test_forced_start_keeps_the_example_optimum():
    """east_west_small's optimum is 201,902.72 CNY (tests/test_plain_milp.py derives it from the last figure;
    tests/test_one_block.py solves it without the start)."""
    problem = build_problem(load_scenario(EXAMPLE))
    plain = solve_spatial(problem, settings=resolve_settings(None, time_limit_s=20), start="off")
    started = solve_spatial(problem, settings=resolve_settings(None, time_limit_s=20), start="two_phase")
    assert started.objective["total_cny"] == pytest.approx(plain.objective["total_cny"], rel=1e-6)
    assert verify_plan(problem, started.to_dict()) == []
    assert "start" in started.solver and "start" not in plain.solver
    assert started.solver["best_bound"] <= started.solver["objective"] * (1 + 1e-9)


def test_phases_give_plans_of_the_model_and_bounds_below_them():
    """Relax-and-round and the MILP phase return complete plans that meet every row, and bounds
    that no plan beats: LP bound ≤ MILP bound ≤ CP-SAT's optimum."""
    problem = build_problem(load_scenario(EXAMPLE))
    built = build_spatial_model(problem)
    view = LinearView(built.model)
    integer = built.integer_variables()
    rr = relax_and_round(view, integer, 10)
    mp = milp_phase(view, integer, 10, hint=rr.values)
    optimum = built.scale.units(solve_spatial(problem, time_limit_s=20, start="off").solver["objective"])
    for phase in (rr, mp):
        assert phase.values is not None and view.objective(phase.values) == phase.objective_units
        assert phase.bound_units <= optimum + 1
        assert phase.objective_units >= optimum - 1
    assert rr.bound_units <= mp.bound_units + 1


def test_energetic_bound_lies_between_the_capacity_free_bound_and_the_optimum():
    """On the time-of-use example: capacity-free ≤ energetic (it adds rows to the same LP) ≤ optimum."""
    scenario = load_scenario(EXAMPLE.parent / "time_of_use_day.yaml")
    problem = build_problem(scenario)
    td = build_time_data(scenario, problem)
    runs = cheapest_runs(problem, td)
    free, energetic = relaxed_bound(problem, td, runs), energetic_bound(problem, td, runs)
    result = solve_time(scenario, problem=problem, td=td, time_limit_s=20)
    assert result.status.value == "optimal"
    assert free <= energetic + 1e-6
    assert energetic <= result.solver["objective"] * (1 + 1e-9)


def test_relax_and_round_falls_back_on_the_relaxation_when_the_second_lp_runs_out(monkeypatch):
    """When the LP of the rest (replicas fixed) finds no point in time, the relaxation's own point is
    rounded and filled: still a plan that meets every row, no cheaper than the optimum, with the LP bound."""
    problem = build_problem(load_scenario(EXAMPLE))
    built = build_spatial_model(problem)
    view = LinearView(built.model)
    integer = built.integer_variables()
    solve, calls = twophase._solve, []

    def second_runs_out(mip, *args, **kwargs):
        calls.append(mip)
        res, point = solve(mip, *args, **kwargs)
        return (res, None) if len(calls) == 2 else (res, point)

    monkeypatch.setattr(twophase, "_solve", second_runs_out)
    rr = relax_and_round(view, integer, 10)
    optimum = built.scale.units(solve_spatial(problem, time_limit_s=20, start="off").solver["objective"])
    assert len(calls) == 2 and "the relaxation's point" in rr.status
    assert rr.values is not None and view.objective(rr.values) == rr.objective_units
    assert rr.objective_units >= optimum - 1 and rr.bound_units <= optimum + 1
