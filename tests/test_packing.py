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
import json
import time
from pathlib import Path

import pytest
import yaml

from planner import solve
from planner.check.document import verify_document
from planner.core import timemodel
from planner.core.packing import chip_prices, hot_pools, packing_bound, repack, serving_packing_bound
from planner.core.serving_lp import ServingMIPs, serving_lp_bound, steered_guide
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


def _bounds_of(s):
    """The problem, its time data, every job's cheapest runs and the capacity-free bound."""
    p = build_problem(s)
    td = build_time_data(s, p)
    runs = cheapest_runs(p, td)
    return p, td, runs, relaxed_bound(p, td, runs)


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
    p, td, runs, free = _bounds_of(s)
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
    p, td, runs, free = _bounds_of(s)
    assert free == pytest.approx(4.8)
    assert packing_bound(p, td, runs, free)[0] == pytest.approx(4.8, rel=1e-6)


def test_without_the_cp_sat_search_the_greedy_repacked_is_proven_optimal_by_the_packing_bound(monkeypatch):
    """A model too large for CP-SAT in the time given (forced here by allowing 0 replica variables
    per second) gets the best greedy schedule, repacked: 33.6 CNY, and the packing bound proves it,
    gap 0. The plan verifies like any other, and says where it came from."""
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)
    monkeypatch.setattr(timemodel, "LAGRANGE_MIN_S", float("inf"))  # the repacking alone (prices: the next test)
    s = three_jobs()
    r = timemodel.solve_time(s, time_limit_s=20)
    assert r.status.value == "feasible" and r.solver["cp_sat_status"] is None
    assert r.objective["total_cny"] == pytest.approx(33.6)
    assert r.solver["best_bound"] == pytest.approx(33.6, rel=1e-6) and r.solver["gap"] == pytest.approx(0, abs=1e-6)
    assert "repacked by a MIP" in r.solver["plan_source"] and "skipped" in r.solver["search"]
    assert r.solver["greedy_objective"] == pytest.approx(6.4 + 11.2 + 544)  # the plain greedy, the baseline
    assert "packing bound" in r.solver["bound_source"]
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []


def test_the_jobs_lagrangian_prices_fit_all_three_without_the_repacking(monkeypatch):
    """The greedy again, its jobs told what each GPU-hour is worth to the others
    (``planner.core.lagrange``): the three runs back to back, 33.6 CNY, before any MIP."""
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)
    s = three_jobs()
    r = timemodel.solve_time(s, time_limit_s=20)
    assert r.objective["total_cny"] == pytest.approx(33.6)
    assert r.solver["lagrange_greedy_cny"] == pytest.approx(33.6)
    assert "Lagrangian relaxation" in r.solver["plan_source"] and "repacked" not in r.solver["plan_source"]
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []


def jobs_and_a_service(tmp_path, tokens_per_s: int = 8000):
    """``three_jobs`` plus a chat service that only West can serve (metro → west 30 ms, SLO 35 ms):
    8,000 tokens/s every hour (a flat profile), exactly what one replica of all 8 GPUs serves, and an
    unserved hour costs 28.8 M tokens × 300 CNY = 8,640 CNY.

    - Serving an hour costs 8 × price + latency 28.8 M tokens × 0.01 × 30 ms = 8.64: 12.64 CNY at the
      flat 0.5, 10.24 in the 10-16 valley; all 24 h: 18 × 12.64 + 6 × 10.24 = 288.96 CNY.
    - Serving and the jobs want the same chips at 8-20. A job placed there leaves 4 h unserved to
      save its 544 CNY penalty, so the optimum serves every hour and leaves the three jobs out:
      288.96 + 3 × 544 = 1,920.96 CNY. The greedy (serving first) finds it.
    - Capacity-free bound: serving 288.96 + the jobs alone in the valley 19.2 = 308.16. The packing
      bound gives the jobs the whole pool (33.6 instead of 19.2): 322.56; serving's LP with chips is
      still 288.96 (it has the pool to itself), so the bound stays at 322.56: gap 83 %.
    - With serving in the LP: the jobs' chips are priced at their mean penalty per chip-hour, 17 CNY.
      Serving's LP at that price still serves each hour (8 × price + 8.64 + 8 × 17 < 8,640), so its
      cut reads θ[u] ≥ 8·price + 144.64 − 17·s[u]. A chip-hour given to serving lowers θ by 17; given
      to a job it saves 17 − price of penalty net of power. The LP gives serving every chip and
      leaves the jobs out: 288.96 + 1,632 = 1,920.96, the optimum."""
    profile = tmp_path / "flat.csv"
    profile.write_text("hour,fraction_of_peak\n" + "".join(f"{h},1.0\n" for h in range(24)))
    raw = yaml.safe_load((TIME / "base.yaml").read_text())
    raw["sites"] = {"west": {"inventory": {"gpu": 8}}}
    raw["training_jobs"] = [{"id": k, "chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"],
                             "release_h": 8, "deadline_h": 20, "unplaced_cny_per_chip_hour": 17.0}
                            for k in ("a", "b", "c")]
    raw["inference_services"] = [{"id": "chat", "demand_tokens_per_s": {"metro": tokens_per_s}, "rtt_slo_ms": 35,
                                  "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 1000},
                                  "chips_per_replica": {"gpu": 8}, "unserved_cny_per_mtokens": 300}]
    raw["time"]["demand_profile"] = str(profile)
    return scenario_from_dict(raw, file=str(TIME / "base.yaml"))


def test_serving_in_the_packing_lp_proves_the_plan_the_packing_bound_cannot(tmp_path, monkeypatch):
    s = jobs_and_a_service(tmp_path)
    p, td, runs, free = _bounds_of(s)
    assert free == pytest.approx(308.16)
    assert packing_bound(p, td, runs, free)[0] == pytest.approx(322.56, rel=1e-6)
    plain = serving_lp_bound(p, td)
    priced = serving_lp_bound(p, td, chip_price=chip_prices(p, td, hot_pools(p, td)))
    assert plain.bound_cny == pytest.approx(288.96, rel=1e-6)
    assert priced.chip_price == {("west", "gpu"): pytest.approx(17.0)}
    assert serving_packing_bound(p, td, runs, free, [plain]) == pytest.approx(322.56, rel=1e-6)
    assert serving_packing_bound(p, td, runs, free, [plain, priced]) == pytest.approx(1920.96, rel=1e-6)

    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)  # the national-size path
    r = timemodel.solve_time(s, time_limit_s=20)
    assert r.objective["total_cny"] == pytest.approx(1920.96)
    assert r.kpis["jobs_placed"] == 0
    assert r.solver["packing_bound"] == pytest.approx(322.56, rel=1e-6)
    assert r.solver["serving_packing_bound"] == pytest.approx(1920.96, rel=1e-6)
    assert r.solver["gap"] == pytest.approx(0, abs=1e-6)
    assert r.solver["bound_source"].startswith("serving and the oversubscribed pools' jobs in one LP")
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []


def test_the_jobs_off_the_oversubscribed_pool_add_their_energetic_lp_to_the_packing_bound():
    """The three West jobs as above (pinned to West), and East with 8 GPUs too. Jobs d and e (8 GPUs ×
    4 h, either site, released 00:00, due 06:00) cannot both run on East: their runs would overlap.

    - Each alone runs on East 0-4 in the valley: 8 × 4 × 0.3 = 9.6 CNY (on West, 8 × 4 × 0.5 = 16).
      Capacity-free, both 9.6: 19.2.
    - Their energetic LP: in [0, 6) East holds 48 chip-hours and each run takes 32, so 1.5 runs go East
      and 0.5 West: 1.5 × 9.6 + 0.5 × 16 = 22.4, a gain of 3.2 over their cheapest runs.
    - The packing bound: the West jobs' LP 33.6 (above) + d and e's 22.4 = 56.0 CNY (52.8 with their
      cheapest runs). The optimum: 33.6 + 9.6 (one on East) + 16 (the other on West) = 59.2 CNY.
    The two parts share no chip: each bound holds for its own jobs whatever the other does, so they add."""
    data = yaml.safe_load((TIME / "base.yaml").read_text())
    data["sites"] = {"west": {"inventory": {"gpu": 8}}, "east": {"inventory": {"gpu": 8}}}
    job = {"chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"], "unplaced_cny_per_chip_hour": 17}
    data["training_jobs"] = ([{"id": k, **job, "release_h": 8, "deadline_h": 20, "allowed_sites": ["west"]} for k in "abc"]
                             + [{"id": k, **job, "release_h": 0, "deadline_h": 6} for k in "de"])
    s = scenario_from_dict(copy.deepcopy(data), file=str(TIME / "base.yaml"))
    p = build_problem(s)
    td = build_time_data(s, p)
    assert hot_pools(p, td) == {("west", "gpu"): ["a", "b", "c"]}
    r = solve(s)
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []
    assert r.objective["total_cny"] == pytest.approx(59.2)
    assert r.solver["capacity_free_bound"] == pytest.approx(38.4)
    assert r.solver["packing_others_gain"] == pytest.approx(3.2, rel=1e-6)
    assert r.solver["packing_bound"] == pytest.approx(56.0, rel=1e-6)
    assert r.solver["relaxed_bound"] == pytest.approx(56.0, rel=1e-6)


def test_whole_replicas_floor_serving_in_the_packing_lp(tmp_path):
    """``jobs_and_a_service`` with half the demand, 4,000 tokens/s: half a replica's worth.

    - Serving's LP holds half a replica (4 GPUs): 4 × price + latency 14.4 M tokens × 0.01 × 30 ms
      = 4.32 CNY an hour; 18 h at 0.5 and 6 h at 0.2: 18 × 6.32 + 6 × 5.12 = 144.48 CNY.
    - Its MIP needs a whole replica (an unserved hour costs 4,320 CNY): 8 × price + 4.32, so 8.32 and
      5.92 CNY an hour, 18 × 8.32 + 6 × 5.92 = 185.28 CNY.
    - With the unpriced LP alone, the LP serving shares with the jobs keeps s = 0 and gives the
      packing bound: 144.48 + the jobs' 33.6 = 178.08. With the MIP's hours as floors under θ it
      rises by 185.28 − 144.48 = 40.8, to 218.88."""
    s = jobs_and_a_service(tmp_path, tokens_per_s=4000)
    p, td, runs, free = _bounds_of(s)
    models: dict = {}
    plain = serving_lp_bound(p, td, models=models)
    assert plain.bound_cny == pytest.approx(144.48, rel=1e-6)
    mips = ServingMIPs(p, td, plain, models, deadline=time.perf_counter() + 30).start()
    gain, _info = mips.collect()
    assert gain == pytest.approx(40.8, rel=1e-6)
    assert sorted({round(v, 4) for v in mips.hourly.values()}) == [5.92, 8.32]
    without = serving_packing_bound(p, td, runs, free, [plain])
    assert without == pytest.approx(178.08, rel=1e-6)
    assert serving_packing_bound(p, td, runs, free, [plain], floors=mips.hourly) - without == pytest.approx(40.8, rel=1e-6)


def test_chip_hour_prices_steer_serving_block_by_block(tmp_path):
    """``jobs_and_a_service``: its blocks are 00-10, 10-16 and 16-24, and serving's LP holds one replica
    (all 8 GPUs) in each. An hour unserved costs 8,640 CNY, an hour served 12.64 at most, plus the
    price of its chips.

    - Priced at 500 CNY per chip-hour through 00-10 (8 × 500 = 4,000 an hour), serving still holds its
      replica there.
    - At 2,000 (16,000 an hour) leaving the demand unserved is cheaper: no replica, no route.
    - The two other blocks have no price and keep the unpriced LP's solution, unsolved."""
    s = jobs_and_a_service(tmp_path)
    p = build_problem(s)
    td = build_time_data(s, p)
    assert td.blocks == ((0, 10), (10, 16), (16, 24))
    models: dict = {}
    plain = serving_lp_bound(p, td, models=models)
    one = ({("chat", ("west", "gpu")): pytest.approx(1.0)}, {("chat", "metro", "west"): pytest.approx(8000.0)})
    assert all(plain.guide[b] == one for b in range(3))

    def price(cny_per_chip_h: float) -> dict:
        return {("west", "gpu"): [cny_per_chip_h] * 10 + [0.0] * 14}

    guide, info = steered_guide(p, td, plain, models, price(500.0), time_limit_s=10)
    assert info["steered_blocks"] == 1
    assert guide[0] == one
    guide, info = steered_guide(p, td, plain, models, price(2000.0), time_limit_s=10)
    assert info["steered_blocks"] == 1
    assert guide[0] == ({}, {})
    assert guide[1] is plain.guide[1] and guide[2] is plain.guide[2]


def test_serving_steered_by_the_jobs_chip_hour_prices_makes_room_for_a_job(tmp_path, monkeypatch):
    """East and West, 8 GPUs each. The chat service (8,000 tokens/s every hour, one 8-GPU replica) is
    cheaper on East every hour: 8 × price + 28.8 M tokens × 0.01 × 2 ms = 0.576 CNY an hour there
    (2.976 at 00-08, 8.576 at 08-22, 5.376 at 22-24: 154.624 CNY a day) against 8 × price + 8.64 on West
    (12.64 at 00-08). Job j (8 GPUs × 4 h, East only, 00-08, 17 CNY per chip-hour unplaced) fits only
    where serving is not.

    - Every greedy serves first, on East all day, and leaves j out: 154.624 + 544 = 698.624 CNY.
    - Serving holds a block (00-08) whole: moving it to West costs 8 × (12.64 − 2.976) = 77.312 and
      lets j run in the valley for 8 × 4 × 0.3 = 9.6. The optimum: 154.624 + 77.312 + 9.6 = 241.536.
    - The jobs' Lagrangian prices East's chips at 00-08 (j wants them); serving's LP at those prices
      moves West for that block, and the greedy around it finds the optimum."""
    profile = tmp_path / "flat.csv"
    profile.write_text("hour,fraction_of_peak\n" + "".join(f"{h},1.0\n" for h in range(24)))
    raw = yaml.safe_load((TIME / "base.yaml").read_text())
    raw["training_jobs"] = [{"id": "j", "chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"],
                             "allowed_sites": ["east"], "release_h": 0, "deadline_h": 8,
                             "unplaced_cny_per_chip_hour": 17.0}]
    raw["inference_services"] = [{"id": "chat", "demand_tokens_per_s": {"metro": 8000}, "rtt_slo_ms": 35,
                                  "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 1000},
                                  "chips_per_replica": {"gpu": 8}, "unserved_cny_per_mtokens": 300}]
    raw["time"]["demand_profile"] = str(profile)
    s = scenario_from_dict(raw, file=str(TIME / "base.yaml"))
    p = build_problem(s)
    td = build_time_data(s, p)
    assert not hot_pools(p, td)
    plain = greedy_schedule(p, td, serving_lp_bound(p, td).guide)
    assert plan_cost_cny(p, td, plain) == pytest.approx(698.624)
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)  # the national-size path
    r = timemodel.solve_time(s, time_limit_s=30)
    assert r.objective["total_cny"] == pytest.approx(241.536)
    assert r.solver["lagrange_greedy_cny"] == pytest.approx(698.624, abs=0.01)  # rounded to the fen
    assert r.solver["steered_greedy_cny"] == pytest.approx(241.536, abs=0.01)
    assert r.solver["plan_source"].startswith("greedy guided by the serving LP with the jobs' chip-hour prices")
    assert r.kpis["jobs_placed"] == 1
    assert verify_document(s, json.loads(json.dumps(r.to_dict()))) == []
