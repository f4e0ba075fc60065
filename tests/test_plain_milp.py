"""The benchmarks' plain MILP baseline (HiGHS) agrees with the planner where both prove optimality.

The baseline shares no model code with the planner, so agreement on hand-checked
scenarios is what lets ``benchmarks/national.py`` trust it at national scale.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.plain_milp import solve_plain_milp
from conftest import EXAMPLE, solve_checked, tiny
from planner import load_scenario, solve
from planner.problem.build import build_problem

SERVICE = {"id": "chat", "demand_tokens_per_s": {"metro": 1000}, "rtt_slo_ms": 5,
           "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100}, "chips_per_replica": {"gpu": 2}}


def plain(scenario) -> dict:
    out = solve_plain_milp(build_problem(scenario), time_limit_s=20, threads=1)
    assert out["status"] == "optimal"
    assert out["gap"] == pytest.approx(0.0, abs=1e-9)
    return out


def test_the_cheapest_site_costs_24_cny():
    """8 chips × 10 h on the west npu: 8·10·1.2·0.5·0.5 = 24 CNY (as tests/test_solve.py)."""
    assert plain(tiny())["objective"] == pytest.approx(24.0)


def test_a_tight_slo_costs_241_728_cny():
    """5 replicas of 2 gpus in the east for 24 h: 240 CNY power + 1.728 CNY latency."""
    assert plain(tiny(training_jobs=[], inference_services=[SERVICE]))["objective"] == pytest.approx(241.728)


def test_a_power_cap_split_costs_104_cny():
    """A 0.01 MW cap at west holds one 9.6 kW npu job: 24 CNY west + 80 CNY east."""
    jobs = [{"id": "a", "chips": 8, "duration_h": 10, "allowed_accelerators": ["npu"]},
            {"id": "b", "chips": 8, "duration_h": 10, "allowed_accelerators": ["npu"]}]
    scenario = tiny(training_jobs=jobs, sites={"east": {"inventory": {"npu": 16}},
                                               "west": {"inventory": {"npu": 16}, "power_cap_mw": 0.01}})
    assert plain(scenario)["objective"] == pytest.approx(104.0)


def test_the_built_in_example_matches_the_planners_proven_optimum():
    """The README's example: the planner proves its optimum, and HiGHS finds the same figure.

    201,902.720 CNY. pretrain-moe-stage2 (1,024 chips) runs 120 h on the 910C, 500 h on the H20. On the
    910C at Helinger it finishes: 1,024 × 1.746875 kW × 120 h × 0.39 CNY/kWh = 83,715.84 CNY. On the H20 at
    Zhongwei its 168 h inside the horizon cost 1,024 × 0.934375 × 168 × 0.5 = 80,371.20 CNY of power, but
    1 − 168/500 = 66.4 % of its run is left undone, priced like unplaced work: 0.664 × 17 CNY × 1,024 chips ×
    120 h (its penalty, 2,088,960 CNY) = 1,387,069.44 CNY. So it stays on the 910C, and no other job's
    choice changes (they all finish inside the horizon)."""
    scenario = load_scenario(EXAMPLE)
    planner = solve(scenario)
    assert planner.status.value == "optimal"
    assert plain(scenario)["objective"] == pytest.approx(planner.objective["total_cny"], rel=1e-9)
    assert planner.objective["total_cny"] == pytest.approx(201_902.72, abs=0.01)
    assert planner.objective["unfinished_work_cny"] == 0.0


@settings(max_examples=25, deadline=None)
@given(chips=st.lists(st.sampled_from([8, 16]), min_size=1, max_size=4),
       hours=st.lists(st.integers(1, 30), min_size=4, max_size=4),
       demand=st.integers(0, 3000))
def test_plain_milp_and_planner_agree_on_tiny_fleets(chips, hours, demand):
    """Both prove the optimum of random tiny fleets (jobs plus one service), so the objectives match."""
    jobs = [{"id": f"j{i}", "chips": c, "duration_h": hours[i], "allowed_accelerators": ["gpu", "npu"]}
            for i, c in enumerate(chips)]
    services = [{**SERVICE, "rtt_slo_ms": 40, "demand_tokens_per_s": {"metro": demand}}] if demand else []
    scenario = tiny(training_jobs=jobs, inference_services=services)
    planner = solve_checked(scenario)
    assert planner.status.value == "optimal"
    assert plain(scenario)["objective"] == pytest.approx(planner.objective["total_cny"], rel=1e-6, abs=1e-6)


def test_no_shift_reference_prices_the_same_work_at_release(tmp_path):
    """West only (tests/data/time): valley 0.2 CNY/kWh 10-16, flat 0.5 otherwise; 8 chips × 1 kW × 4 h.
    Released at 4 h, due at 24 h: run at release (4-8, flat) costs 8·4·0.5 = 16 CNY; the plan moves it
    into the valley (10-14) for 8·4·0.2 = 6.4 CNY, a 60 % saving, which is also the most shifting can give."""
    import json

    import yaml

    from benchmarks.national import no_shift_saving

    time_dir = EXAMPLE.parent.parent.parent / "tests" / "data" / "time"
    data = yaml.safe_load((time_dir / "base.yaml").read_text())
    data["catalog"] = {"path": str((time_dir / "../core/catalog.yaml").resolve())}
    data["topology"] = {"path": str(time_dir / "topology.yaml")}
    data["sites"] = {"west": {"inventory": {"gpu": 8}}}
    data["training_jobs"][0].update(release_h=4, deadline_h=24)
    path = tmp_path / "shift.yaml"
    path.write_text(yaml.safe_dump(data))
    result = solve(load_scenario(path))
    figures = no_shift_saving(path, json.loads(result.to_json()))
    assert figures["plan_cny"] == pytest.approx(6.4)
    assert figures["reported_power_cny"] == pytest.approx(6.4)
    assert figures["no_shift_cny"] == pytest.approx(16.0)
    assert figures["saving"] == pytest.approx(0.6)
    assert figures["best_saving"] == pytest.approx(0.6)
