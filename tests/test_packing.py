"""Oversubscribed pools: the time-indexed packing bound and the MIP repacking.

On tests/data/time, West prices 0.5 CNY/kWh with a 0.2 valley 10-16; PUE 1.0, 1 kW GPUs, no
subsidy, so a run costs chips × Σ hourly prices. West holds 8 GPUs and is the only site. Three
jobs of 8 GPUs × 4 h, each released at 08:00 and due at 20:00: twelve hours, room for all three
back to back and for nothing else.

- Greedy (biggest first, each at its cheapest start that fits): the first takes the valley
  10-14 (8 × 4 × 0.2 = 6.4); the second 14-18 (8 × (0.2 + 0.2 + 0.5 + 0.5) = 11.2); the third
  finds only 8-10 and 18-20 free and is left unplaced, for its penalty 8 × 4 × 17 = 544 CNY.
- Optimum: 8-12, 12-16, 16-20: 8 × (0.5 + 0.5 + 0.2 + 0.2) + 8 × 4 × 0.2 + 8 × 4 × 0.5
  = 11.2 + 6.4 + 16 = 33.6 CNY.
- Capacity-free bound: each job alone in the valley, 3 × 6.4 = 19.2 CNY. The packing bound
  (the three jobs' time-indexed LP on the whole pool) is the optimum, 33.6.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from planner import solve
from planner.core.packing import hot_pools, packing_bound, repack
from planner.core.timemodel import cheapest_runs, greedy_schedule, plan_cost_cny, relaxed_bound
from planner.inputs.scenario import scenario_from_dict
from planner.problem.build import build_problem
from planner.problem.timedata import build_time_data

TIME = Path(__file__).parent / "data" / "time"


def three_jobs(penalty: float = 17.0):
    data = yaml.safe_load((TIME / "base.yaml").read_text())
    data["sites"] = {"west": {"inventory": {"gpu": 8}}}
    data["training_jobs"] = [{"id": k, "chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"],
                              "release_h": 8, "deadline_h": 20, "unplaced_cny_per_chip_hour": penalty}
                             for k in ("a", "b", "c")]
    return scenario_from_dict(copy.deepcopy(data), file=str(TIME / "base.yaml"))


def test_the_greedy_fragments_the_pool_and_the_repacking_fits_all_three():
    s = three_jobs()
    p = build_problem(s)
    td = build_time_data(s, p)
    assert hot_pools(p, td) == {("west", "gpu"): ["a", "b", "c"]}
    greedy = greedy_schedule(p, td)
    assert len(greedy.segments) == 2
    assert plan_cost_cny(p, td, greedy) == pytest.approx(6.4 + 11.2 + 544)
    repacked = repack(p, td, greedy, time_limit_s=10)
    assert sorted(segs for _pool, segs in repacked.segments.values()) == [[(8, 12)], [(12, 16)], [(16, 20)]]
    assert plan_cost_cny(p, td, repacked) == pytest.approx(33.6)


def test_the_packing_bound_sees_the_queue_the_capacity_free_bound_ignores():
    s = three_jobs()
    p = build_problem(s)
    td = build_time_data(s, p)
    runs = cheapest_runs(p, td)
    free = relaxed_bound(p, td, runs)
    assert free == pytest.approx(19.2)
    bound, info = packing_bound(p, td, runs, free)
    assert info["packing_pools"] == 1
    assert bound == pytest.approx(33.6, rel=1e-6)
    r = solve(s)
    assert r.objective["total_cny"] == pytest.approx(33.6)
    assert r.solver["relaxed_bound"] == pytest.approx(33.6, rel=1e-6)
    assert r.solver["packing_bound"] == pytest.approx(33.6, rel=1e-6) and r.solver["packing_pools"] == 1


def test_a_penalty_below_the_cost_leaves_the_job_out_in_the_bound_too():
    """At 0.05 CNY per chip-hour a job's penalty (8 × 4 × 0.05 = 1.6) is below any run, so every
    plan and every bound leaves all three out: 3 × 1.6 = 4.8 CNY; the pool is not oversubscribed
    by what is worth running, and the packing LP agrees with the capacity-free bound."""
    s = three_jobs(penalty=0.05)
    p = build_problem(s)
    td = build_time_data(s, p)
    runs = cheapest_runs(p, td)
    free = relaxed_bound(p, td, runs)
    assert free == pytest.approx(4.8)
    assert packing_bound(p, td, runs, free)[0] == pytest.approx(4.8, rel=1e-6)


def test_without_the_cp_sat_search_the_greedy_repacked_is_proven_optimal_by_the_packing_bound(monkeypatch):
    """A model too large for CP-SAT in the time given (forced here by allowing 0 replica variables
    per second) gets the best greedy schedule, repacked: 33.6 CNY, and the packing bound proves it,
    gap 0. The plan verifies like any other, and says where it came from."""
    import json

    from planner.check.document import verify_document
    from planner.core import timemodel

    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)
    s = three_jobs()
    r = timemodel.solve_time(s, time_limit_s=20)
    assert r.status.value == "feasible" and r.solver["cp_sat_status"] is None
    assert r.objective["total_cny"] == pytest.approx(33.6)
    assert r.solver["best_bound"] == pytest.approx(33.6, rel=1e-6) and r.solver["gap"] == pytest.approx(0, abs=1e-6)
    assert "repacked by a MIP" in r.solver["plan_source"] and "skipped" in r.solver["search"]
    assert r.solver["greedy_objective"] == pytest.approx(6.4 + 11.2 + 544)  # the plain greedy, the baseline
    assert "packing bound" in r.solver["bound_source"]
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []
