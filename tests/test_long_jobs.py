"""A job longer than the horizon is billed, priced and warned about the same way by every pipeline.

The scenario: tests/data/core, a 168 h horizon, West only with 8 npu (1 kW per chip, PUE 1.2,
0.5 CNY/kWh halved for domestic chips = 0.25 CNY/kWh), and one 8-chip job that runs 300 h.

    billed hours   = min(300, 168)                   = 168 h   (run_share 168 / 300 = 0.56)
    power cost     = 168 h × 8 × 1 kW × 1.2 × 0.25     = 403.2 CNY per 168 h   (the whole run: 720)
    unplaced       = 17 CNY/chip-h × 8 × 300 h        = 40,800 CNY            (its whole run)
    unfinished     = (1 − 0.56) × 40,800              = 17,952 CNY            (the 132 h left undone)
    placed         = 403.2 + 17,952                   = 18,355.2 CNY < 40,800, so it is placed
    per year       = 403.2 × 8,760 / 168 = 21,024 CNY power, 17,952 × 8,760 / 168 = 936,085.71 CNY
                     unfinished work                                          (plan-capacity)
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.check.capacity import verify_capacity
from planner.check.document import verify_document
from planner.check.verify import verify_plan
from planner.cli import main
from planner.core.solve import solve
from planner.core.timemodel import solve_time
from planner.problem.build import build_problem
from planner.problem.sanity import long_job_warning
from planner.problem.timedata import one_block
from planner.studies.capacity import plan_capacity
from tests.conftest import CORE, solve_checked, tiny

JOB = {"id": "marathon", "chips": 8, "duration_h": 300, "allowed_accelerators": ["npu"]}
WARNING = long_job_warning("marathon", {"npu": 300.0}, 168.0)
#: runs 100 h on the gpu (finishes) and 300 h on the npu (does not)
TWO_CHIP_JOB = {**JOB, "duration_h": None, "allowed_accelerators": ["gpu", "npu"],
                "duration_h_by_accelerator": {"gpu": 100, "npu": 300}}
CANDIDATE = {"system": "npu-box", "price_cny": 120_000, "max_units_per_site": 1}


def long_job(**changes):
    return tiny(**{"horizon_h": 168, "training_jobs": [JOB], "sites": {"west": {"inventory": {"npu": 8}}}, **changes})


def test_the_warning_names_the_billed_hours_the_share_and_the_drawback():
    assert WARNING == (
        "job 'marathon' runs 300 h on its fastest allowed accelerator, longer than the 168 h horizon: every plan "
        "bills the 168 h it runs inside the horizon (56 % of its run there; placement column run_share) and "
        "prices the unfinished share of its run like unplaced work (unplaced_cny_per_chip_hour; objective line "
        "unfinished_work_cny): raise horizon_h to plan the whole run")


def test_the_problem_bills_the_hours_inside_the_horizon_and_prices_the_rest():
    job = build_problem(long_job()).jobs["marathon"]
    assert job.hours == {"npu": 168.0} and job.run_h == {"npu": 300.0}
    assert job.run_share("npu") == pytest.approx(0.56)
    assert job.penalty_cny == pytest.approx(40_800.0)
    assert job.unfinished_work_cny("npu") == pytest.approx(17_952.0)


def test_solve_bills_168_h_prices_the_unfinished_work_and_states_the_run_share():
    scenario = long_job()
    r = solve_checked(scenario)
    row = r.placements.iloc[0]
    assert (row.hours, row.run_share) == (168.0, pytest.approx(0.56))
    assert row.power_cost_cny == pytest.approx(403.2)
    assert r.objective["unfinished_work_cny"] == pytest.approx(17_952.0)
    assert r.objective["unplaced_penalty_cny"] == 0.0
    assert r.objective["total_cny"] == pytest.approx(18_355.2)
    assert r.solver["greedy_objective"] == pytest.approx(18_355.2)
    assert WARNING in r.warnings


def test_a_fast_chip_that_finishes_beats_a_slow_low_power_one_that_does_not():
    """West holds 8 gpu and 8 npu; the job runs 100 h on the gpu, 300 h on the npu (168 h horizon).

        gpu: 100 h × 8 × 1.2 kW × 0.5 CNY/kWh                   =   480 CNY, finished
        npu: 168 h × 8 × 1.2 kW × 0.25 CNY/kWh                  = 403.2 CNY of power (cheaper by 76.8)
             + (1 − 168/300) × 17 × 8 chips × 100 h (penalty 13,600) = 5,984 CNY unfinished work
                                                                = 6,387.2 CNY
    The gpu plan costs 480 CNY; billing the hours inside the horizon alone would have chosen the npu."""
    two_chips = {"training_jobs": [TWO_CHIP_JOB], "sites": {"west": {"inventory": {"gpu": 8, "npu": 8}}}}
    scenario = long_job(**two_chips)
    job = build_problem(scenario).jobs["marathon"]
    assert job.penalty_cny == pytest.approx(13_600.0)
    assert job.unfinished_work_cny("gpu") == 0.0 and job.unfinished_work_cny("npu") == pytest.approx(5_984.0)
    r = solve_checked(scenario)
    row = r.placements.iloc[0]
    assert (row.accelerator, row.hours, row.run_share) == ("gpu", 100.0, 1.0)
    assert r.objective["total_cny"] == pytest.approx(480.0)
    assert r.objective["unfinished_work_cny"] == 0.0
    assert r.solver["greedy_objective"] == pytest.approx(480.0)  # the greedy plan prices it the same way
    timed_scenario = long_job(time={"mode": "time", "idle_chips": "off"}, **two_chips)
    timed = solve_time(timed_scenario)
    assert verify_document(timed_scenario, json.loads(json.dumps(timed.to_dict()))) == []  # bound ≤ plan too
    assert timed.solver["best_bound"] == pytest.approx(480.0)
    assert timed.solver["greedy_objective"] == pytest.approx(480.0)
    assert timed.placements.accelerator.tolist() == ["gpu"]
    assert timed.objective["total_cny"] == pytest.approx(480.0)


def test_time_of_use_runs_it_through_the_whole_horizon_for_the_same_bill():
    """Flat tariff, no idle draw: 168 one-hour steps × 8 chips × 1.2 kW × 0.25 CNY/kWh = 403.2 CNY of power,
    plus 17,952 CNY of unfinished work = 18,355.2 CNY."""
    scenario = long_job(time={"mode": "time", "idle_chips": "off"})
    r = solve_time(scenario)
    assert r.status.value == "optimal"
    assert verify_document(scenario, json.loads(json.dumps(r.to_dict()))) == []
    assert list(zip(r.schedule.start_h, r.schedule.end_h)) == [(0.0, 168.0)]
    row = r.placements.iloc[0]
    assert (row.hours, row.run_share) == (168.0, pytest.approx(0.56))
    assert r.objective["power_cost_cny"] == pytest.approx(403.2)
    assert r.objective["unfinished_work_cny"] == pytest.approx(17_952.0)
    assert r.objective["total_cny"] == pytest.approx(18_355.2)
    assert WARNING in r.warnings


def test_time_of_use_says_why_a_long_job_released_late_is_unplaced():
    """Released at 10 h it cannot run through the 168 h it is billed; the reason says so, and it pays its
    whole penalty, 17 × 8 × 300 = 40,800 CNY."""
    scenario = long_job(time={"mode": "time", "idle_chips": "off"}, training_jobs=[{**JOB, "release_h": 10}])
    r = solve_time(scenario)
    assert r.unplaced.workload.tolist() == ["marathon"]
    assert "runs longer than the horizon" in r.unplaced.reason.iloc[0]
    assert r.objective["unplaced_penalty_cny"] == pytest.approx(40_800.0)
    assert r.objective["unfinished_work_cny"] == 0.0


def test_plan_capacity_bills_the_same_168_h_a_year_over():
    """More npu would not finish it sooner, so nothing is bought: 21,024 CNY of power and 936,085.71 CNY of
    unfinished work a year (8,760 / 168 windows)."""
    scenario = long_job(capacity={"candidates": [CANDIDATE]})
    r = plan_capacity(scenario, time_limit_s=10, workers=1)
    assert r.purchases.empty
    assert r.objective["power_cost_cny_per_year"] == pytest.approx(21_024.0)
    assert r.objective["unfinished_work_cny_per_year"] == pytest.approx(17_952.0 * 8_760 / 168)
    assert WARNING in r.warnings
    assert verify_capacity(scenario, r.to_dict()) == []


def test_verify_catches_the_full_run_billed_and_a_run_share_left_out():
    """The whole run (300 h: 720 CNY) in place of the 168 h inside the horizon is a wrong figure, and a plan
    of a job that does not finish must say what share of it runs."""
    scenario = long_job()
    problem = build_problem(scenario)
    plan = solve(scenario).to_dict()
    row = plan["placements"][0]
    full = dict(row, hours=300.0, energy_mwh=300 * 8 * 1.2 / 1000, power_cost_cny=720.0, run_share=1.0)
    tampered = {**plan, "placements": [full]}
    errors = verify_plan(problem, tampered)
    assert any("hours states 300.0, the plan gives 168" in e for e in errors), errors
    assert any("states power_cost_cny 720.0; its run there gives 403.2" in e for e in errors), errors
    assert any("states run_share 1.0, the plan gives 0.56" in e for e in errors), errors
    missing = {**plan, "placements": [{k: v for k, v in row.items() if k != "run_share"}]}
    assert any("does not state run_share" in e for e in verify_plan(problem, missing))


def test_verify_catches_a_plan_that_drops_the_unfinished_work():
    """A plan that leaves out the 17,952 CNY of unfinished work, or states it 0 with a total of 403.2 CNY,
    is caught: verify recomputes it from the scenario and the placement."""
    scenario = long_job()
    problem = build_problem(scenario)
    plan = solve(scenario).to_dict()
    dropped = {**plan, "objective": {k: v for k, v in plan["objective"].items() if k != "unfinished_work_cny"}}
    assert "objective.unfinished_work_cny is missing" in verify_plan(problem, dropped)
    zero = {**plan, "objective": {**plan["objective"], "unfinished_work_cny": 0.0, "total_cny": 403.2},
            "solver": {**plan["solver"], "objective": 403.2}}
    errors = verify_plan(problem, zero)
    assert any(e.startswith("objective.unfinished_work_cny states 0.0, the plan gives 1795") for e in errors), errors
    assert any(e.startswith("objective.total_cny states 403.2, the plan gives 1835") for e in errors), errors
    assert verify_document(scenario, json.loads(json.dumps(zero))) != []


@settings(max_examples=30, deadline=None)
@given(run_h=st.integers(1, 600), horizon_h=st.sampled_from([24, 48, 168]))
def test_every_job_is_billed_the_hours_inside_the_horizon(run_h, horizon_h):
    """billed = min(run, horizon); run_share × run = billed; the penalty is 17 CNY × 8 chips × run and the
    unfinished work (1 − run_share) × penalty = 17 × 8 × (run − horizon)⁺; the one-block time data never has a
    job busy for more than its block; a warning exactly when the run is longer."""
    scenario = tiny(horizon_h=horizon_h, training_jobs=[{**JOB, "duration_h": run_h}],
                    sites={"west": {"inventory": {"npu": 8}}})
    problem = build_problem(scenario)
    job = problem.jobs["marathon"]
    assert job.hours["npu"] == min(run_h, horizon_h)
    assert job.run_share("npu") * run_h == pytest.approx(job.hours["npu"])
    assert job.penalty_cny == pytest.approx(17 * 8 * run_h)
    assert job.unfinished_work_cny("npu") == pytest.approx(17 * 8 * max(0, run_h - horizon_h))
    assert one_block(problem).jobs["marathon"].windows[("west", "npu")].busy_last <= 1.0
    long = [w for w in problem.warnings if "longer than the" in w]
    assert long == ([long_job_warning("marathon", {"npu": float(run_h)}, float(horizon_h))] if run_h > horizon_h
                    else [])


def test_the_solve_summary_shows_the_unfinished_work(tmp_path):
    """The terminal's totals show the 17,952 CNY of unfinished work beside the 403 CNY of power."""
    data = yaml.safe_load((CORE / "base.yaml").read_text())
    data.update(horizon_h=168, training_jobs=[JOB], sites={"west": {"inventory": {"npu": 8}}},
                catalog={"path": str(CORE / "catalog.yaml")}, topology={"path": str(CORE / "topology.yaml")})
    path = tmp_path / "marathon.yaml"
    path.write_text(yaml.safe_dump(data))
    r = CliRunner().invoke(main, ["solve", str(path), "--time-limit", "5"], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    assert re.search(r"unfinished work\s*│?\s*17,952 CNY", r.output), r.output
    assert re.search(r"objective \(per 168 h\)\s*│?\s*18,355 CNY", r.output), r.output


def test_a_plan_written_before_unfinished_work_was_priced_still_verifies_when_it_has_none():
    """Plans from before the figure existed have no ``unfinished_work_cny``: where every job
    finishes it recomputes to 0 and its absence is no violation; where it is not 0 it is."""
    from planner.check.figures import compare_figures

    assert compare_figures({"objective": {"total_cny": 1.0}}, {"total_cny": 1.0, "unfinished_work_cny": 0.0}, {}) == []
    assert compare_figures({"objective": {"total_cny": 1.0}}, {"total_cny": 1.0, "unfinished_work_cny": 5.0}, {}) == [
        "objective.unfinished_work_cny is missing"]
