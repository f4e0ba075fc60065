"""Chip-hour prices from the jobs' Lagrangian relaxation (planner.core.lagrange), and the greedy
that weighs them.

On tests/data/time, West prices 0.5 CNY/kWh with a 0.2 valley 10-16; PUE 1.0, 1 kW GPUs, no
subsidy, so a run costs chips × Σ hourly prices. West holds 8 GPUs and is the only site.

- Job a: 8 GPUs × 4 h, released 08:00, due 20:00. Job b: 8 GPUs × 4 h, released 10:00, due 16:00,
  so b can only run in the valley (start 10, 11 or 12). Unplaced: 8 × 4 × 17 = 544 CNY each.
- Greedy (biggest first, ties by id: a first, at its cheapest start): a takes 10-14 for
  8 × 4 × 0.2 = 6.4; b finds no 4 free hours in 10-16 and is left out: 6.4 + 544 = 550.4 CNY.
- Optimum: a at 8-12, 8 × (0.5 + 0.5 + 0.2 + 0.2) = 11.2, and b at 12-16, 6.4: 17.6 CNY (or a at
  14-18 and b at 10-14, also 11.2 + 6.4).
- The relaxation: whatever b's start, it holds the GPUs at 12:00 and 13:00, so prices there make
  a move. Its optimum is the plan's 17.6 (one job cannot share an hour), and the greedy at half
  those prices places a at 8-12 and b at 12-16: 17.6.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from planner.check.document import verify_document
from planner.core import timemodel
from planner.core.lagrange import chip_hour_prices, plan_jobs_cny
from planner.core.model import TimePlan
from planner.core.timemodel import LAGRANGE_PRICE_WEIGHT, greedy_schedule, plan_cost_cny
from planner.inputs.scenario import scenario_from_dict
from planner.problem.build import build_problem
from planner.problem.timedata import build_time_data

TIME = Path(__file__).parent / "data" / "time"
POOL = ("west", "gpu")


def scenario(a: dict | None = None, b: dict | None = None):
    data = yaml.safe_load((TIME / "base.yaml").read_text())
    data["sites"] = {"west": {"inventory": {"gpu": 8}}}
    job = {"chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"], "unplaced_cny_per_chip_hour": 17}
    data["training_jobs"] = [{"id": "a", **job, "release_h": 8, "deadline_h": 20, **(a or {})},
                             {"id": "b", **job, "release_h": 10, "deadline_h": 16, **(b or {})}]
    return scenario_from_dict(copy.deepcopy(data), file=str(TIME / "base.yaml"))


def test_the_prices_make_the_flexible_job_leave_the_valley_to_the_one_that_needs_it():
    s = scenario()
    p = build_problem(s)
    td = build_time_data(s, p)
    greedy = greedy_schedule(p, td)
    assert greedy.segments == {"a": (POOL, [(10, 14)])}
    assert plan_cost_cny(p, td, greedy) == pytest.approx(550.4)
    found = chip_hour_prices(p, td, greedy, time_limit_s=10)
    assert found.info["lagrange_plan_jobs_cny"] == pytest.approx(550.4)
    assert found.info["lagrange_jobs_relaxed_cny"] == pytest.approx(17.6, abs=1e-6)  # the relaxation's optimum
    prices = found.prices[POOL]
    assert min(prices[12], prices[13]) > max(prices[:10].max(), prices[16:].max(), 1.0)  # the hours b must hold
    priced = greedy_schedule(p, td, serving=greedy,
                             chip_prices={q: LAGRANGE_PRICE_WEIGHT * v for q, v in found.prices.items()})
    assert priced.segments == {"a": (POOL, [(8, 12)]), "b": (POOL, [(12, 16)])}
    assert plan_cost_cny(p, td, priced) == pytest.approx(17.6)


def test_without_competition_the_prices_stay_zero_and_the_relaxation_is_each_job_at_its_cheapest():
    """b released at 16:00 and due at 20:00 (16-20: 8 × 4 × 0.5 = 16) no longer wants the valley; a
    takes 10-14 (6.4). Nothing competes: every price stays 0 and the relaxation is 6.4 + 16 = 22.4,
    what the greedy pays."""
    s = scenario(b={"release_h": 16, "deadline_h": 20})
    p = build_problem(s)
    td = build_time_data(s, p)
    greedy = greedy_schedule(p, td)
    assert plan_jobs_cny(p, td, greedy) == pytest.approx(22.4)
    found = chip_hour_prices(p, td, greedy, time_limit_s=10)
    assert found.info["lagrange_jobs_relaxed_cny"] == pytest.approx(22.4)
    assert not found.prices[POOL].any()


def test_a_checkpointable_job_is_priced_step_by_step():
    """a checkpointable (resume 1 CNY): alone in the relaxation it takes its four cheapest steps,
    the valley hours 10-13 (6.4, one piece, no resume), whatever b does; b alone in the valley
    6.4. So at no prices the relaxation is 12.8, and the GPUs at 10-13 are asked for twice."""
    s = scenario(a={"preemptible": True, "checkpoint_cny": 1.0})
    p = build_problem(s)
    td = build_time_data(s, p)
    assert td.jobs["a"].preemptible
    found = chip_hour_prices(p, td, TimePlan(), time_limit_s=10, max_steps=1)
    assert found.info["lagrange_steps"] == 1
    assert found.info["lagrange_jobs_relaxed_cny"] == pytest.approx(12.8)


def test_without_the_cp_sat_search_the_plan_takes_the_priced_jobs_and_verifies(monkeypatch):
    """Without the search, and with the size order alone (the slack order would place b first and
    find 17.6 by itself), the greedy's 550.4 becomes 17.6 by the prices, and the plan verifies."""
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)
    monkeypatch.setattr(timemodel, "JOB_ORDERS", {"size": timemodel.JOB_ORDERS["size"]})
    s = scenario()
    r = timemodel.solve_time(s, time_limit_s=30)
    assert r.objective["total_cny"] == pytest.approx(17.6)
    assert "Lagrangian relaxation" in r.solver["plan_source"]
    assert r.solver["lagrange_greedy_cny"] == pytest.approx(17.6)
    assert r.solver["greedy_objective"] == pytest.approx(550.4)  # the plain greedy, the baseline
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []


def test_kept_jobs_keep_their_runs_and_the_others_are_placed_around_them():
    """``keep`` holds a job where the given plan ran it (after a repacking, the oversubscribed pools'
    jobs): with a kept at 10-14, b still finds no four free valley hours, whatever the prices, and
    the plan stays at 6.4 + 544 = 550.4; with nothing kept, the prices give the optimum, 17.6."""
    s = scenario()
    p = build_problem(s)
    td = build_time_data(s, p)
    greedy = greedy_schedule(p, td)
    prices = {q: LAGRANGE_PRICE_WEIGHT * v for q, v in chip_hour_prices(p, td, greedy, time_limit_s=10).prices.items()}
    kept = greedy_schedule(p, td, serving=greedy, keep={"a"}, chip_prices=prices)
    assert kept.segments == {"a": (POOL, [(10, 14)])}
    assert plan_cost_cny(p, td, kept) == pytest.approx(550.4)
    free = greedy_schedule(p, td, serving=greedy, keep=set(), chip_prices=prices)
    assert plan_cost_cny(p, td, free) == pytest.approx(17.6)
