"""The solver block of a time-of-use plan states the plan's own priced total, so the plan passes ``verify``.

CP-SAT sees every cost coefficient rounded to whole cost units (``planner.core.scaling``). Where
thousands of tokens/s each carry a latency coefficient of a few units, that rounding adds up to more
than verify's tolerance (10^-5 of the total plus 100 units); the 168 h national time-of-use week's
greedy-fallback plan stated a total 6.8e-5 off its recomputed one. These plans must verify as
written, whether CP-SAT, the two-phase start or the greedy hint found them.
"""

from __future__ import annotations

import json

import pytest

from planner.check.document import verify_document
from planner.core import runner
from planner.core.timemodel import solve_time
from planner.results.result import Status

from test_time_of_use import scenario

#: 100,000 tokens/s peak from metro, east only (SLO 5 ms), 2,000 tokens/s per 2-chip replica
SERVICE = {"id": "chat", "demand_tokens_per_s": {"metro": 100_000}, "rtt_slo_ms": 5,
           "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 1000},
           "chips_per_replica": {"gpu": 2}, "unserved_cny_per_mtokens": 1e5}


def coarse_scale_scenario():
    """Profile 0.4 of peak until noon, 1.0 after: 20 replicas, then 50. East tariff, PUE 1, 1 kW chips.

    Power: [0,8) 20·2·8·0.3 = 96; [8,12) 20·2·4·1.0 = 160; [12,22) 50·2·10·1.0 = 1,000;
    [22,24) 50·2·2·0.6 = 120 → 1,376 CNY. Latency (0.01 CNY per M tokens·ms, 2 ms):
    (40,000·12 + 100,000·12) h·tokens/s × 3,600 = 6,048 M tokens × 0.02 = 120.96 → 1,496.96 CNY.

    The unserved penalty makes the objective's range wide, so CP-SAT counts 10^5 units per CNY and
    a token/s of latency per block costs 57.6, 28.8, 72 and 14.4 units (blocks of 8, 4, 10, 2 h),
    rounded to 58, 29, 72 and 14: (0.4·40,000 + 0.2·40,000 − 0.4·100,000) units = −0.16 CNY,
    so CP-SAT's objective for the optimum is 1,496.80 CNY — 1.1e-4 of the total off."""
    return scenario(sites={"east": {"inventory": {"gpu": 1000}}}, training_jobs=[], inference_services=[SERVICE],
                    time={"demand_profile": "two_level.csv"})


def test_a_solved_plan_states_its_priced_total_not_the_rounded_model_figure():
    s = coarse_scale_scenario()
    r = solve_time(s)
    assert r.status == Status.optimal
    assert r.objective["power_cost_cny"] == pytest.approx(1376.0)
    assert r.objective["latency_cny"] == pytest.approx(120.96)
    assert r.objective["total_cny"] == pytest.approx(1496.96)
    assert r.solver["cost_units_per_cny"] == 1e5
    assert r.solver["model_objective"] == pytest.approx(1496.80)  # the mismatch class: 1.1e-4 of the total
    assert r.solver["objective"] == r.objective["total_cny"]
    assert r.solver["best_bound"] <= r.solver["objective"]
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []


def test_a_greedy_fallback_plan_verifies(monkeypatch):
    """CP-SAT finds nothing in time: the runner falls back on the model's hint (the greedy plan), and
    that plan verifies as written, its stated objective the plan's own total."""

    def nothing_found(solver, model, scale, on_progress, max_memory_gb=runner.SEARCH_MAX_RSS_GB):
        return Status.no_solution, {"status": "no_solution", "cp_sat_status": "UNKNOWN", "objective": None,
                                    "best_bound": None, "gap": None, "solutions": 0}

    monkeypatch.setattr(runner, "run_solver", nothing_found)
    s = coarse_scale_scenario()
    r = solve_time(s, start="off")
    assert r.status == Status.feasible
    assert r.solver["plan_source"].startswith("hint")
    assert r.solver["objective"] == r.objective["total_cny"] == pytest.approx(r.solver["greedy_objective"])
    assert abs(r.solver["model_objective"] - r.objective["total_cny"]) > 1e-5 * r.objective["total_cny"]
    assert r.solver["best_bound"] is None  # CP-SAT proved nothing; the relaxed bound stays in relaxed_bound
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []
