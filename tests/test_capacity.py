"""Capacity planning, hardware-mix comparison and the Pareto frontier, checked by hand.

Tiny catalog and topology (tests/data/core): 1 kW per chip; east has PUE 1.25 and
0.8 CNY/kWh and is 2 ms from metro. One 8-chip box is one replica. The planning window
is a whole year (horizon 8,760 h), the interest rate 0 over 5 years (CRF 0.2) and no
maintenance, so one box costs 0.2 × price a year plus 8 × 8,760 × 1.25 × 0.8 = 70,080 CNY
of power when it runs. A gpu box (100,000 CNY) serves 800 tokens/s; an npu box
(120,000 CNY) 2,000. Serving x tokens/s for a year from east costs
x × 31,536 s·M⁻¹ × 2 ms × 0.01 = 0.63072·x CNY of latency.
"""

from __future__ import annotations

import pytest

from conftest import tiny
from planner.check.capacity import verify_capacity
from planner.studies.capacity import capital_recovery_factor, plan_capacity
from planner.studies.compare import compare, parse_mix
from planner.errors import InputError
from planner.studies.pareto import pareto_frontier
from planner.problem.build import build_problem
from planner.inputs.scenario import load_scenario
from conftest import EXAMPLE


def capacity_scenario(demand: float, penalty_cny_per_mtokens: float = 8.0, **capacity):
    service = {"id": "chat", "demand_tokens_per_s": {"metro": demand}, "rtt_slo_ms": 5,
               "unserved_cny_per_mtokens": penalty_cny_per_mtokens,
               "allowed_accelerators": ["gpu", "npu"], "tokens_per_s_per_chip": {"gpu": 100, "npu": 250},
               "chips_per_replica": {"gpu": 8, "npu": 8}}
    settings = {"candidates": [{"system": "gpu-box", "price_cny": 100_000, "max_units_per_site": 6},
                               {"system": "npu-box", "price_cny": 120_000, "max_units_per_site": 6}],
                "interest_rate": 0.0, "amortisation_years": 5, "maintenance_fraction_per_year": 0.0}
    settings.update(capacity)
    return tiny(horizon_h=8760, sites={"east": {"inventory": {}}}, training_jobs=[], inference_services=[service],
                capacity=settings)


def checked(scenario, **kw):
    result = plan_capacity(scenario, time_limit_s=10, workers=1, **kw)
    assert verify_capacity(scenario, result.to_dict()) == []
    return result


def test_crf():
    assert capital_recovery_factor(0.0, 5) == pytest.approx(0.2)
    assert capital_recovery_factor(0.05, 5) == pytest.approx(0.230975, rel=1e-5)


def test_buying_the_cheaper_per_token_accelerator_is_optimal():
    """1,000 tokens/s: two gpu boxes (2·20,000 + 2·70,080 = 180,160) or one npu box
    (24,000 + 70,080 = 94,080); plus latency 630.72 → 94,710.72 CNY a year."""
    r = checked(capacity_scenario(1000))
    assert r.status.value == "optimal"
    assert r.purchases[["system", "units"]].values.tolist() == [["npu-box", 1]]
    assert r.objective["total_cny_per_year"] == pytest.approx(94_710.72)
    assert r.kpis["capex_cny"] == pytest.approx(120_000)


def test_supply_caps_force_a_mix():
    """3,000 tokens/s with at most 8 npu chips: 1 npu box (2,000) + 2 gpu boxes (1,600).
    Capex 24,000 + 40,000; power 3 × 70,080 = 210,240; latency 1,892.16 → 276,132.16 CNY.
    Four gpu boxes would cost 4 × 90,080 + 1,892.16 = 362,212.16; one gpu box too few leaves
    200 tokens/s = 6,307.2 M tokens a year unserved, 315,360 CNY at 50 CNY per million."""
    r = checked(capacity_scenario(3000, penalty_cny_per_mtokens=50, supply_chips_per_period={"npu": 8}))
    bought = dict(r.purchases[["system", "units"]].values.tolist())
    assert bought == {"npu-box": 1, "gpu-box": 2}
    assert r.objective["total_cny_per_year"] == pytest.approx(276_132.16)


def test_a_budget_leaves_demand_unserved_and_says_why():
    """Budget 100,000: one gpu box serves 800 of 1,000 tokens/s: 20,000 + 70,080 + latency 504.576;
    the other 200 tokens/s are 6,307.2 M tokens a year, 50,457.6 CNY at 8 CNY per million →
    141,042.176 CNY (buying nothing would cost 252,288 in penalty)."""
    r = checked(capacity_scenario(1000, budget_cny=100_000))
    assert r.purchases[["system", "units"]].values.tolist() == [["gpu-box", 1]]
    assert r.objective["total_cny_per_year"] == pytest.approx(141_042.176)
    unplaced = r.periods["year-1"].unplaced
    assert unplaced.tokens_per_s.tolist() == [pytest.approx(200)]
    assert "capex budget" in unplaced.reason.iloc[0]


def test_compare_matches_solving_each_restricted_scenario_alone():
    scenario = capacity_scenario(1000)
    table, results = compare(scenario, [parse_mix("free"), parse_mix("gpu-only=only:gpu")], time_limit_s=10,
                             workers=1)
    free = checked(scenario)
    gpu_only = checked(scenario.model_copy(update={"capacity": scenario.capacity.model_copy(
        update={"candidates": [c for c in scenario.capacity.candidates if c.system == "gpu-box"]})}))
    totals = dict(zip(table.mix, table.total_cny_per_year))
    assert totals["free"] == pytest.approx(free.objective["total_cny_per_year"])
    assert totals["gpu-only"] == pytest.approx(gpu_only.objective["total_cny_per_year"])
    # one gpu box and 200 tokens/s unserved beats a second box (50,457.6 < 90,080): as under the budget
    assert totals["gpu-only"] == pytest.approx(141_042.176)


def test_min_share_mix_buys_the_share():
    """h20-heavy-style rule on the tiny catalog: at least 60 % of chips bought must be gpu."""
    table, results = compare(capacity_scenario(1000), [parse_mix("gpu-heavy=min-share:gpu=0.6")], time_limit_s=10,
                             workers=1)
    bought = results["gpu-heavy"].purchases
    gpu = bought[bought.accelerator == "gpu"].chips.sum()
    assert gpu >= 0.6 * bought.chips.sum() and gpu > 0


def test_compare_in_placement_mode_reports_what_a_rule_leaves_unplaced():
    table, results = compare(tiny(), [parse_mix("free"), parse_mix("imported=foreign")], time_limit_s=10, workers=1)
    totals = dict(zip(table.mix, table.total_cny))
    assert totals["free"] == pytest.approx(24.0)  # west npu, see test_solve
    assert totals["imported"] == pytest.approx(48.0)  # west gpu
    with pytest.raises(InputError, match="unknown mix"):
        parse_mix("all-domestik")


def test_pareto_points_are_feasible_and_non_dominated():
    problem = build_problem(load_scenario(EXAMPLE))
    table, plans = pareto_frontier(problem, 4, time_limit_s=5, workers=1)
    assert len(table) >= 2
    for i, a in table.iterrows():
        for j, b in table.iterrows():
            if i != j:
                assert not (b.cost_cny <= a.cost_cny and b.latency_cny <= a.latency_cny
                            and (b.cost_cny < a.cost_cny or b.latency_cny < a.latency_cny))
    assert table.cost_cny.is_monotonic_increasing and table.latency_cny.is_monotonic_decreasing
    assert all(p.kpis["unserved_tokens_per_s"] == 0 for p in plans)


def test_set_overrides_fields_without_editing_files():
    s = load_scenario(EXAMPLE, overrides={"sites.guian.power_cap_mw": 50, "inference_services.chat-east.rtt_slo_ms": 3})
    assert s.sites["guian"].power_cap_mw == 50
    assert next(v for v in s.inference_services if v.id == "chat-east").rtt_slo_ms == 3
    with pytest.raises(InputError, match="no such place"):
        load_scenario(EXAMPLE, overrides={"inference_services.nope.rtt_slo_ms": 3})


def test_report_shows_one_period_of_a_capacity_plan(tmp_path):
    from click.testing import CliRunner

    from planner.cli import main

    plan = tmp_path / "capacity.json"
    plan.write_text(checked(capacity_scenario(1000)).to_json())
    runner = CliRunner()
    ok = runner.invoke(main, ["report", str(plan), "-o", str(tmp_path / "r.html")])
    assert ok.exit_code == 0, ok.output
    assert "npu" in (tmp_path / "r.html").read_text()
    bad = runner.invoke(main, ["report", str(plan), "--period", "year-2", "-o", str(tmp_path / "r.html")])
    assert bad.exit_code == 2 and "did you mean 'year-1'?" in bad.output


def test_a_job_longer_than_the_planning_window_is_billed_for_the_window():
    """A 10,000 h job in an 8,760 h window costs the window's hours: 8 × 1 kW × 8,760 h × 1.2 × 0.5 × 0.5
    (west npu, subsidised) = 21,024 CNY a year, not its whole length (24,000). The 1,240 h it does not run
    are priced like unplaced work: (1 − 8,760/10,000) × 17 CNY × 8 chips × 10,000 h = 168,640 CNY a year
    (one window is the year). More npu would not finish it sooner, so nothing is bought."""
    job = {"id": "long", "chips": 8, "duration_h": 10_000, "allowed_accelerators": ["npu"]}
    scenario = tiny(horizon_h=8760, training_jobs=[job], sites={"west": {"inventory": {"npu": 8}}},
                    capacity={"candidates": [{"system": "npu-box", "price_cny": 120_000, "max_units_per_site": 1}]})
    r = checked(scenario)
    assert r.purchases.empty
    assert r.objective["power_cost_cny_per_year"] == pytest.approx(21_024.0)
    assert r.objective["unfinished_work_cny_per_year"] == pytest.approx(168_640.0)
    assert any("longer than the 8,760 h horizon: every plan bills the 8,760 h" in w for w in r.warnings)
