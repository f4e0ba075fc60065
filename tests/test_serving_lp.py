"""The serving LP bound: chips and power kept, replicas fractional, one LP per distinct hour.

On tests/data/time: East prices 0.3 (00-08), 1.0 (08-22), 0.6 (22-24); West 0.5, with 0.2 (10-16).
PUE 1.0 and 1 kW chips, latency priced at zero, so an hour of one 2-chip replica costs 2 × price.
Demand is flat at 1,000 tokens/s from Metro (2 ms to East, 30 ms to West, both inside the 50 ms
SLO); a replica of 2 chips serves 200 tokens/s, so the hour needs 5 replicas = 10 chip-kW.

- Capacity-free: each hour at the cheaper site: 8 h × 10 × 0.3 (East) + 2 × 10 × 0.5 + 6 × 10 × 0.2
  + 6 × 10 × 0.5 + 2 × 10 × 0.5 (West) = 24 + 10 + 12 + 30 + 10 = 86 CNY.
- East holds 4 chips (2 replicas): at night only 2 replicas fit there, the other 3 run in the
  West at 0.5: 8 × (4 × 0.3 + 6 × 0.5) = 33.6 instead of 24; every other hour is West's already:
  the LP bound is 86 − 24 + 33.6 = 95.6 CNY, which is also the optimum (its replicas are whole).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from planner import solve
from planner.check.document import verify_document
from planner.core import serving_lp, timemodel
from planner.core.serving_lp import (
    ServingMIPs,
    block_signatures,
    serving_lp_bound,
)
from planner.core.options import schedule_options
from planner.core.runner import resolve_settings
from planner.core.timemodel import serving_bound
from planner.inputs.scenario import scenario_from_dict
from planner.problem.build import build_problem
from planner.problem.timedata import build_time_data
from tests.test_time_of_use import east_chat, scenario

TIME = Path(__file__).parent / "data" / "time"


def chat_scenario(tmp_path: Path, east_gpus: int, days: int = 1):
    (tmp_path / "flat.csv").write_text("hour,fraction_of_peak\n" + "".join(f"{h},1.0\n" for h in range(24)))
    data = yaml.safe_load((TIME / "base.yaml").read_text())
    data.update(horizon_h=24 * days, training_jobs=[], sites={"east": {"inventory": {"gpu": east_gpus}},
                                                              "west": {"inventory": {"gpu": 16}}},
                objective={"latency_cny_per_mtokens_ms": 0.0},
                inference_services=[{"id": "chat", "demand_tokens_per_s": {"metro": 1000}, "rtt_slo_ms": 50,
                                     "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100},
                                     "chips_per_replica": {"gpu": 2}}])
    data["catalog"] = {"path": str((TIME / "../core/catalog.yaml").resolve())}
    data["topology"] = {"path": str((TIME / "topology.yaml").resolve())}
    data["time"]["demand_profile"] = str(tmp_path / "flat.csv")
    path = tmp_path / "chat.yaml"
    path.write_text(yaml.safe_dump(data))
    return scenario_from_dict(data, file=str(path))


def test_the_serving_lp_keeps_the_chips_the_capacity_free_bound_ignores(tmp_path):
    s = chat_scenario(tmp_path, east_gpus=4)
    p = build_problem(s)
    td = build_time_data(s, p)
    assert serving_bound(p, td) == pytest.approx(86.0)
    out = serving_lp_bound(p, td)
    lp, info = out.bound_cny, out.info
    assert lp == pytest.approx(95.6, rel=1e-6)
    assert info["serving_lp_solved"] == info["serving_lp_blocks"]
    r = solve(s)
    assert r.objective["total_cny"] == pytest.approx(95.6)
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []
    assert r.solver["relaxed_bound"] == pytest.approx(95.6, rel=1e-6)
    assert r.solver["relaxed_bound"] <= r.objective["total_cny"] + 1e-6


def test_with_chips_to_spare_the_lp_equals_the_capacity_free_bound(tmp_path):
    """16 GPUs in the East: nothing binds, both bounds are 86 CNY."""
    s = chat_scenario(tmp_path, east_gpus=16)
    p = build_problem(s)
    td = build_time_data(s, p)
    assert serving_lp_bound(p, td).bound_cny == pytest.approx(serving_bound(p, td), rel=1e-6) == pytest.approx(86.0)


def test_a_week_of_equal_days_needs_one_lp_per_distinct_hour(tmp_path):
    """Seven equal days: the blocks repeat, so the LPs are those of one day's distinct hours. A
    day has five price runs (00-08, 08-10, 10-16, 16-22, 22-24), and 08-10 prices as 16-22 (East
    1.0, West 0.5): four LPs, and the bound is seven days' worth, 7 × 95.6 CNY."""
    s = chat_scenario(tmp_path, east_gpus=4, days=7)
    p = build_problem(s)
    td = build_time_data(s, p)
    assert len(block_signatures(p, td)) == 4
    out = serving_lp_bound(p, td)
    lp, info = out.bound_cny, out.info
    assert info["serving_lp_blocks"] == 4
    assert lp == pytest.approx(7 * 95.6, rel=1e-6)


def test_no_time_for_the_lp_falls_back_to_the_capacity_free_bound(tmp_path):
    s = chat_scenario(tmp_path, east_gpus=4)
    p = build_problem(s)
    td = build_time_data(s, p)
    out = serving_lp_bound(p, td, time_limit_s=0.0)
    lp, info = out.bound_cny, out.info
    assert info["serving_lp_solved"] == 0
    assert lp == pytest.approx(86.0)


def test_whole_replicas_raise_serving_bound_by_the_mip_of_each_distinct_hour():
    """On tests/data/time, East only: 100 tokens/s from Metro at the peak, 40 before noon
    (two_level.csv), one 2-chip replica serves 200 tokens/s; a token/s left unserved costs
    0.6912 / 24 = 0.0288 CNY an hour; latency 2 ms × 0.01 CNY per M tokens·ms.

    - LP (replicas fractional): 0.2 replica (0.4 kW) before noon and 0.5 (1 kW) after:
      0.4 × (8 × 0.3 + 4 × 1.0) + 1 × (10 × 1.0 + 2 × 0.6) = 2.56 + 11.2 = 13.76 CNY, plus latency on
      (40 × 12 + 100 × 12) × 3,600 = 6.048 M tokens: 0.12096 → 13.88096 CNY.
    - MIP (whole replicas): one replica (2 kW) wherever it beats leaving the demand unserved.
      00-08: 2 × 0.3 = 0.6 CNY/h < 40 × 0.0288 = 1.152, served: 4.8. 08-12: 2.0 > 1.152, unserved: 4.608.
      12-22: 2.0 < 100 × 0.0288 = 2.88, served: 20. 22-24: 1.2 < 2.88, served: 2.4. Latency on the
      5.472 M tokens served: 0.10944. Total 31.91744 CNY: whole replicas add 18.03648."""
    s = east_chat(peak_tokens_per_s=100)
    p = build_problem(s)
    td = build_time_data(s, p)
    models: dict = {}
    lp = serving_lp_bound(p, td, models=models)
    assert lp.bound_cny == pytest.approx(13.88096, rel=1e-6)
    gain, info = ServingMIPs(p, td, lp, models, deadline=time.perf_counter() + 10).start().collect()
    assert gain == pytest.approx(18.03648, rel=1e-6)
    assert info["serving_mip_hours"] == 4
    # the models are left as they were: the LP again gives the LP bound
    assert serving_lp_bound(p, td, models=models).bound_cny == pytest.approx(13.88096, rel=1e-6)


def test_serving_mips_start_no_mip_past_their_deadline():
    """The MIPs run beside the caller and never start one that could end past the deadline: with
    the deadline already past, no hour is proved and the gain is 0; the LP bound stands."""
    s = east_chat(peak_tokens_per_s=100)
    p = build_problem(s)
    td = build_time_data(s, p)
    models: dict = {}
    lp = serving_lp_bound(p, td, models=models)
    gain, info = ServingMIPs(p, td, lp, models, deadline=time.perf_counter() - 1.0).start().collect()
    assert gain == 0.0
    assert info["serving_mip_hours"] == 0


def test_a_failed_serving_mip_leaves_the_lp_bound_and_says_why(monkeypatch):
    """A MIP that fails in the background thread raises nothing in the caller: the gain is 0, and the
    solver block names the error."""
    def broken(*_args, **_kwargs):
        raise RuntimeError("no HiGHS here")

    monkeypatch.setattr(serving_lp, "solve_proto", broken)
    s = east_chat(peak_tokens_per_s=100)
    p = build_problem(s)
    td = build_time_data(s, p)
    models: dict = {}
    lp = serving_lp_bound(p, td, models=models)
    gain, info = ServingMIPs(p, td, lp, models, deadline=time.perf_counter() + 10).start().collect()
    assert gain == 0.0
    assert info["serving_mip_hours"] == 0
    assert info["serving_mip_error"] == "RuntimeError: no HiGHS here"


def test_serving_mips_collected_without_a_start_run_in_the_time_left():
    """With one worker the solve collects the MIPs without starting them first: they run then, before
    the deadline, and prove the same 18.03648 CNY as in the background."""
    s = east_chat(peak_tokens_per_s=100)
    p = build_problem(s)
    td = build_time_data(s, p)
    models: dict = {}
    lp = serving_lp_bound(p, td, models=models)
    gain, info = ServingMIPs(p, td, lp, models, deadline=time.perf_counter() + 10).collect()
    assert gain == pytest.approx(18.03648, rel=1e-6)
    assert info["serving_mip_hours"] == 4


def test_a_replica_that_costs_more_than_what_it_serves_is_taken_back(monkeypatch):
    """East-only chat as above (peak 100 tokens/s, 40 before noon). At 08-12 a whole 2-GPU replica
    costs 2 kW × 1.0 = 2.0 CNY an hour and would serve 40 tokens/s, worth 40 × 0.0288 = 1.152 CNY an
    hour unserved (less 40 × 3,600 × 2 ms × 0.01 / 1e6 = 0.00288 of latency). The greedy opens it for
    the demand: 31.91744 + 4 × (2.0 − 1.152) + 4 × 0.00288 = 35.32096 CNY. Taken back, those tokens
    go unserved, and the plan is the MIP's optimum, 31.91744 CNY, which its bound proves."""
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)
    s = east_chat(peak_tokens_per_s=100)
    r = timemodel.solve_time(s, time_limit_s=20)
    assert r.objective["total_cny"] == pytest.approx(31.91744, rel=1e-6)
    assert r.solver["greedy_objective"] == pytest.approx(35.32096, rel=1e-6)  # the plain greedy, the baseline
    assert r.solver["plan_source"].endswith("replicas worth less than what they serve taken back")
    assert r.solver["best_bound"] == pytest.approx(31.91744, rel=1e-6)
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []


def test_a_replica_whose_tokens_fit_in_another_sites_spare_is_taken_back():
    """Chat from Metro with a 50 ms SLO (East at 2 ms, West at 30), peak 100 tokens/s from noon, 200 per
    2-GPU replica. At 12-16 West is in its valley (2 kW × 0.2 = 0.4 CNY an hour a replica) and East at
    its peak (2.0): the greedy serves the 100 tokens/s from one West replica. A plan that also holds an
    East replica there, serving 40 of them, pays 4 h × 2.0 = 8 CNY for it and saves 40 × 28 ms × 0.01
    CNY per Mtoken·ms × 3,600 × 4 h / 1e6 = 0.16128 CNY of latency. Giving it back moves the 40 tokens/s
    into the West replica's spare 100: 7.83872 CNY saved, and the greedy's plan again."""
    s = scenario(sites={"east": {"inventory": {"gpu": 16}}, "west": {"inventory": {"gpu": 16}}}, training_jobs=[],
                 inference_services=[{"id": "chat", "demand_tokens_per_s": {"metro": 100}, "rtt_slo_ms": 50,
                                      "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100},
                                      "chips_per_replica": {"gpu": 2}}],
                 time={"demand_profile": "two_level.csv"})
    p = build_problem(s)
    td = build_time_data(s, p)
    greedy = timemodel.greedy_schedule(p, td)
    b = td.blocks.index((12, 16))
    assert greedy.replicas[("chat", "west", "gpu", b)] == 1 and greedy.flow[("chat", "metro", "west", b)] == 100
    assert ("chat", "east", "gpu", b) not in greedy.replicas
    two = timemodel.TimePlan(dict(greedy.segments), dict(greedy.replicas), dict(greedy.flow))
    two.replicas[("chat", "east", "gpu", b)] = 1
    two.flow[("chat", "metro", "west", b)] = 60
    two.flow[("chat", "metro", "east", b)] = 40
    assert timemodel.plan_cost_cny(p, td, two) - timemodel.plan_cost_cny(p, td, greedy) == pytest.approx(7.83872)
    trimmed = timemodel.trim_replicas(p, td, two)
    assert trimmed.replicas == greedy.replicas and trimmed.flow == greedy.flow
    # the last passes every large plan gets (the national-size path's, and a decomposed CP-SAT plan's)
    # take the same replica back, and say so; the greedy's plan they leave as it is
    options = schedule_options(p, td)
    cost = timemodel.plan_cost_cny(p, td, two)
    finished, left, source = timemodel._finish(p, td, resolve_settings(None, time_limit_s=30), two, cost, "a plan",
                                               "size", options, write_back_s=0.0, n_replicas=1)
    assert finished.replicas == greedy.replicas and finished.flow == greedy.flow
    assert cost - left == pytest.approx(7.83872)
    assert source == "a plan; replicas worth less than what they serve taken back"
    cost = timemodel.plan_cost_cny(p, td, greedy)
    assert timemodel._finish(p, td, resolve_settings(None, time_limit_s=30), greedy, cost, "a plan", "size", options,
                             write_back_s=0.0, n_replicas=1) == (greedy, cost, "a plan")


def test_demand_a_free_replica_would_serve_for_less_than_its_penalty_is_served():
    """East-only chat (peak 100 tokens/s from noon, 200 per 2-GPU replica). At 12-22, the peak tariff,
    a replica costs 2 kW × 1.0 × 10 h = 20 CNY and serves the 100 tokens/s, worth 100 × 0.0288 × 10 = 28.8
    CNY unserved, less 100 × 3,600 × 10 × 2 ms × 0.01 / 1e6 = 0.072 of latency: 8.728 CNY saved. A plan
    without it is served again, back to the greedy's plan; a plan that serves everything is left as it is."""
    s = east_chat(peak_tokens_per_s=100)
    p = build_problem(s)
    td = build_time_data(s, p)
    greedy = timemodel.greedy_schedule(p, td)
    b = td.blocks.index((12, 22))
    assert greedy.replicas[("chat", "east", "gpu", b)] == 1 and greedy.flow[("chat", "metro", "east", b)] == 100
    short = timemodel.TimePlan(dict(greedy.segments), dict(greedy.replicas), dict(greedy.flow))
    del short.replicas[("chat", "east", "gpu", b)], short.flow[("chat", "metro", "east", b)]
    assert timemodel.plan_cost_cny(p, td, short) - timemodel.plan_cost_cny(p, td, greedy) == pytest.approx(8.728)
    served = timemodel.serve_more(p, td, short)
    assert served.replicas == greedy.replicas and served.flow == greedy.flow
    assert timemodel.serve_more(p, td, greedy) == greedy


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(peak=st.integers(min_value=1, max_value=1800))
@example(peak=172)
def test_giving_back_replicas_never_costs_more_and_the_plan_verifies(peak, monkeypatch):
    """Whatever the demand (up to what East's 16 GPUs serve, 1,600 tokens/s, and past it), the plan of
    the national-size path costs no more than the plain greedy (its baseline), no more than the greedy
    with its replicas given back, never less than its bound, and verifies. The model serves whole
    tokens/s; the plan's total prices the fraction left (0.4 × 172 = 68.8 tokens/s) as unserved, the
    same in every plan, and so does the baseline."""
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)
    s = east_chat(peak_tokens_per_s=peak)
    p = build_problem(s)
    td = build_time_data(s, p)
    plain = timemodel.greedy_schedule(p, td)
    trimmed = timemodel.trim_replicas(p, td, plain)
    assert timemodel.plan_cost_cny(p, td, trimmed) <= timemodel.plan_cost_cny(p, td, plain) + 1e-9
    r = timemodel.solve_time(s, time_limit_s=20)
    assert r.objective["total_cny"] <= r.solver["greedy_objective"] + 1e-6
    # 0.4 × peak before noon, rounded down to whole tokens/s: the fraction left is 0.0288 CNY per token/s-hour
    rounded_down = 12 * (0.4 * peak - math.floor(0.4 * peak + 1e-9)) * 0.0288
    assert r.solver["greedy_objective"] - timemodel.plan_cost_cny(p, td, plain) == pytest.approx(rounded_down, abs=1e-6)
    assert r.objective["total_cny"] <= timemodel.plan_cost_cny(p, td, trimmed) + rounded_down + 1e-6
    assert r.solver["best_bound"] <= r.objective["total_cny"] + 1e-6
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []
