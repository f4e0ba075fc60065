"""The two-phase start (HiGHS, replicas integer) keeps every optimum and only proves true bounds."""

from __future__ import annotations

import random

import pytest
from conftest import EXAMPLE
from ortools.math_opt import model_pb2
from ortools.sat.python import cp_model

from planner.check.verify import verify_plan
from planner.core import runner, twophase
from planner.core.runner import _fixed_search, _meets_gap_below, resolve_settings, solve_model
from planner.core.scaling import CostScale
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


def _two_sizes_of_job() -> tuple[cp_model.CpModel, LinearView]:
    """One pool of 9 chips. Class A: one job of 6 chips that saves 10 CNY placed; class B: two jobs of
    4 chips that save 6 CNY each. Unplaced, they cost 20 CNY in all (the offset)::

        min 20 − 10·a − 6·b   s.t. 6a + 4b ≤ 9,  a ∈ [0, 1], b ∈ [0, 2]

    The LP packs the pool to the last chip: a = 1, b = 0.75, 5.5 CNY. Rounding b down leaves 3 chips,
    too few for a B job: 10 CNY. The optimum leaves A out and places both B jobs: 20 − 12 = 8 CNY."""
    model = cp_model.CpModel()
    a, b = model.new_int_var(0, 1, "a"), model.new_int_var(0, 2, "b")
    model.add(6 * a + 4 * b <= 9)
    model.minimize(20 - 10 * a - 6 * b)
    return model, LinearView(model)


def test_rounding_leaves_a_job_out_and_the_fixed_search_repacks_it():
    model, view = _two_sizes_of_job()
    rr = relax_and_round(view, set(), 10)
    assert rr.bound_units == pytest.approx(5.5) and rr.point_units == pytest.approx(5.5)
    assert rr.objective_units == 10
    scale = CostScale(units_per_cny=1.0)
    settings = resolve_settings(None, time_limit_s=10, relative_gap_limit=0.0)
    repacked, interrupted = _fixed_search(model, view, scale, settings, set(), rr, 5.0)
    assert repacked is not None and repacked.values == [0, 2] and repacked.objective_units == 8
    assert not interrupted
    # nothing cheaper than the start: no plan
    assert _fixed_search(model, view, scale, settings, set(), repacked, 5.0) == (None, False)


def test_ctrl_c_in_a_search_of_the_start_stops_the_whole_solve(monkeypatch):
    """The start's CP-SAT searches take Ctrl-C with their own watcher; the start must still stop there
    (no MILP, no phase 2, and the final CP-SAT search only a 0.01 s look) and mark the result
    interrupted, keeping the repacked plan."""
    model, _ = _two_sizes_of_job()
    solve = runner.run_solver
    calls = []

    def interrupted_at_once(solver, model, scale, on_progress, max_memory_gb=runner.SEARCH_MAX_RSS_GB):
        calls.append(solver.parameters.max_time_in_seconds)
        status, info = solve(solver, model, scale, on_progress, max_memory_gb)
        info["interrupted"] = True
        return status, info

    monkeypatch.setattr(runner, "run_solver", interrupted_at_once)
    settings = resolve_settings(None, time_limit_s=10, relative_gap_limit=0.01)
    status, info, values = solve_model(model, CostScale(units_per_cny=1.0), settings, integer=set(), start="two_phase")
    start = info["start"]
    assert start["interrupted"] and "replicas fixed, early" in start
    assert not any(name.startswith(("MILP", "whole", "phase 2")) for name in start)
    assert info["interrupted"] and info["objective"] == 8
    assert len(calls) == 2 and calls[1] == pytest.approx(0.01)  # the final search only looks, for 0.01 s


def test_the_start_stops_once_the_repacked_plan_meets_the_gap():
    """At a 35 % gap limit the repacked plan (8 CNY against the LP's 5.5: 31 %) is enough: no MILP runs.
    A plan within 35 % of 5.5 costs at most 5.5 / 0.65 = 8.46 CNY."""
    model, _ = _two_sizes_of_job()
    settings = resolve_settings(None, time_limit_s=10, relative_gap_limit=0.35)
    status, info, values = solve_model(model, CostScale(units_per_cny=1.0), settings, integer=set(),
                                       start="two_phase")
    start = info["start"]
    assert start["stopped_at_gap"] and start["replicas fixed, early"]["objective"] == 8
    assert not any(name.startswith(("MILP", "whole")) for name in start)
    assert start["bound_from"] == "the LP relaxation, by HiGHS"
    # CP-SAT's last look (time 0: the start met the gap) may still prove so small a model optimal
    assert info["objective"] == 8 and 5.5 - 1e-6 <= info["best_bound"] <= 8 + 1e-6
    assert _meets_gap_below(5.5, 0.35) == pytest.approx(5.5 / 0.65)
    assert _meets_gap_below(-5.5, 0.35) == pytest.approx(-5.5 / 1.35)


def test_the_solve_stops_once_phase_2_meets_the_gap(monkeypatch):
    """With the early repack left out (no time for it), the start's plan is relax and round's, 10 CNY
    against the LP's 5.5 (45 %); the MILP (no integer variable here: the LP again) adds nothing, and
    phase 2 repacks to the optimum, 8 CNY: 31 %, within a 35 % limit. CP-SAT then only looks (0.01 s),
    where it used to search the whole model again for the time left."""
    monkeypatch.setattr(runner, "EARLY_FIXED_SHARE", 0.0)
    model, _ = _two_sizes_of_job()
    solve, calls = runner.run_solver, []

    def recorded(solver, model, scale, on_progress, max_memory_gb=runner.SEARCH_MAX_RSS_GB):
        calls.append(solver.parameters.max_time_in_seconds)
        return solve(solver, model, scale, on_progress, max_memory_gb)

    monkeypatch.setattr(runner, "run_solver", recorded)
    settings = resolve_settings(None, time_limit_s=10, relative_gap_limit=0.35)
    status, info, values = solve_model(model, CostScale(units_per_cny=1.0), settings, integer=set(), start="two_phase")
    start = info["start"]
    assert start["replicas fixed, early"]["objective"] == 10 and start["relax and round"]["objective"] == 10
    assert start["phase 2"]["objective"] == 8 and start["stopped_at_gap"]
    assert info["objective"] == 8
    assert len(calls) == 2 and calls[1] == pytest.approx(0.01)  # phase 2's search, then only a look


def _lp(costs: list[float], ubs: list[float], rows: list[tuple[dict[int, float], float]]):
    """A MathOpt LP proto: min costs·x, 0 ≤ x ≤ ubs, each row Σ coef·x ≥ lo."""
    mip = model_pb2.ModelProto(name="t")
    n = len(costs)
    mip.variables.ids.extend(range(n))
    mip.variables.lower_bounds.extend([0.0] * n)
    mip.variables.upper_bounds.extend(ubs)
    mip.variables.integers.extend([False] * n)
    mip.linear_constraints.ids.extend(range(len(rows)))
    mip.linear_constraints.lower_bounds.extend(lo for _terms, lo in rows)
    mip.linear_constraints.upper_bounds.extend(float("inf") for _ in rows)
    for r, (terms, _lo) in enumerate(rows):
        for v in sorted(terms):
            mip.linear_constraint_matrix.row_ids.append(r)
            mip.linear_constraint_matrix.column_ids.append(v)
            mip.linear_constraint_matrix.coefficients.append(terms[v])
    mip.objective.linear_coefficients.ids.extend(range(n))
    mip.objective.linear_coefficients.values.extend(costs)
    return mip


def test_a_failed_highs_solve_is_tried_again_with_the_objective_scaled_down(monkeypatch):
    """HiGHS's dual simplex fails on objective coefficients of 10^11 and more ("excessive dual
    values", raised by MathOpt): on a 168 h week of 150 jobs and 10 services that ended the solve
    with a traceback. Here the first call fails as it did there.

    min 8e11·x + 3e4·y  s.t.  x + y ≥ 1,  0 ≤ y ≤ 0.4,  0 ≤ x ≤ 1: y = 0.4 and x = 0.6, so the
    optimum is 8e11·0.6 + 3e4·0.4 = 480,000,012,000. The largest cost, 8e11, is brought under
    2^20 by dividing by 2^20 (8e11 / 2^19 = 1,525,879 is still above it)."""
    mip = _lp([8e11, 3e4], [1.0, 0.4], [({0: 1.0, 1: 1.0}, 1.0)])
    seen = []
    real = twophase._highs

    def flaky(m, *args):
        top = max(m.objective.linear_coefficients.values)
        seen.append(top)
        if top > 1e11:
            raise RuntimeError("HighsStatus: kError [INTERNAL]")
        return real(m, *args)

    monkeypatch.setattr(twophase, "_highs", flaky)
    solved, point = twophase._solve(mip, 5.0, 1e-9)
    assert seen == [8e11, 8e11 / 2**20]
    assert solved.reason == "OPTIMAL"
    assert solved.dual_bound == pytest.approx(480_000_012_000, rel=1e-9)
    assert point == pytest.approx([0.6, 0.4])
    assert list(mip.objective.linear_coefficients.values) == [8e11, 3e4]  # put back as it was


def test_a_solve_that_fails_twice_gives_its_reason_and_no_point(monkeypatch):
    """A model the solver rejects either way comes back with an ``ERROR (…)`` reason and no point,
    so each caller falls back as for a solve that did not finish, and nothing raises."""
    mip = _lp([8e11, 3e4], [1.0, 0.4], [({0: 1.0, 1: 1.0}, 1.0)])

    def broken(*_args):
        raise RuntimeError("HighsStatus: kError [INTERNAL]")

    monkeypatch.setattr(twophase, "_highs", broken)
    solved, point = twophase._solve(mip, 5.0, 1e-9)
    assert point is None
    assert solved.reason.startswith("ERROR (HighsStatus: kError [INTERNAL]; first HighsStatus")
    assert list(mip.objective.linear_coefficients.values) == [8e11, 3e4]
    # small costs are not scaled, so there is no second try
    small = _lp([2.0, 1.0], [1.0, 0.4], [({0: 1.0, 1: 1.0}, 1.0)])
    solved, point = twophase._solve(small, 5.0, 1e-9)
    assert point is None and solved.reason == "ERROR (HighsStatus: kError [INTERNAL])"


def _random_lp(seed: int, cost_divisor: float = 1.0):
    """An LP of 200 columns and 100 rows with costs up to 8e11 and coefficients up to 7.7e6, as the
    time model's LP of the rest has."""
    rng = random.Random(seed)
    n, m = 200, 100
    mip = model_pb2.ModelProto(name="t")
    mip.variables.ids.extend(range(n))
    mip.variables.lower_bounds.extend([0.0] * n)
    mip.variables.upper_bounds.extend([rng.choice([1.0, 8.0, 7e6]) for _ in range(n)])
    mip.variables.integers.extend([False] * n)
    entries = []
    for r in range(m):
        for v in rng.sample(range(n), 4):
            entries.append((r, v, rng.choice([1.0, 8.0, 7.7e6, 1e3])))
    entries.sort()
    mip.linear_constraints.ids.extend(range(m))
    mip.linear_constraints.lower_bounds.extend([rng.choice([0.0, 1.0, 5.0]) for _ in range(m)])
    mip.linear_constraints.upper_bounds.extend([1.4e7] * m)
    mip.linear_constraint_matrix.row_ids.extend(r for r, _v, _c in entries)
    mip.linear_constraint_matrix.column_ids.extend(v for _r, v, _c in entries)
    mip.linear_constraint_matrix.coefficients.extend(c for _r, _v, c in entries)
    mip.objective.linear_coefficients.ids.extend(range(n))
    mip.objective.linear_coefficients.values.extend(rng.choice([3e4, 1e8, 8e11]) / cost_divisor for _ in range(n))
    return mip


@pytest.mark.parametrize("seed", [6, 16])
def test_an_lp_highs_fails_on_unscaled_solves_to_its_scaled_bound(seed):
    """Two LPs on which HiGHS (OR-Tools 9.15) failed unscaled, in 2 of 40 seeds ("HighsModelStatus
    was Unknown"; "incompatible basis and dual solution"): each is solved, and its bound is the bound
    of the same LP with the objective divided by 2^20, multiplied back."""
    solved, point = twophase._solve(_random_lp(seed), 10.0, 1e-9)
    scaled, _ = twophase._solve(_random_lp(seed, 2**20), 10.0, 1e-9)
    assert solved.reason == scaled.reason == "OPTIMAL"
    assert point is not None
    assert solved.dual_bound == pytest.approx(scaled.dual_bound * 2**20, rel=1e-7)
