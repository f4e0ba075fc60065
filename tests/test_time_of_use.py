"""Hand-checked time-of-use plans on a two-site topology (tests/data/time).

East: valley 0.3 CNY/kWh 00-08, peak 1.0 08-22, flat 0.6 22-24 (a night valley).
West: valley 0.2 10-16 (a solar midday valley), flat 0.5 otherwise.
PUE 1.0, gpu chips of 1 kW, no subsidy: cost = chips × hours × price.
Every plan goes through ``verify`` (every hour of its timeline re-checked).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import Result, solve
from planner.inputs.demand_profiles import builtin_profile, load_profile_csv
from planner.errors import InputError
from planner.problem.build import build_problem
from planner.inputs.scenario import Scenario, scenario_from_dict
from planner.problem.timedata import build_time_data
from planner.results.statistics import cost_by_band
from planner.check.document import verify_document
from planner.check.verify import verify_plan

TIME = Path(__file__).parent / "data" / "time"
EAST_ONLY = {"east": {"inventory": {"gpu": 8}}}


def scenario(**changes: Any) -> Scenario:
    data = yaml.safe_load((TIME / "base.yaml").read_text())
    for key, value in copy.deepcopy(changes).items():
        if key == "time":
            data["time"].update(value)
        else:
            data[key] = value
    return scenario_from_dict(data, file=str(TIME / "base.yaml"))


def job(**fields: Any) -> dict[str, Any]:
    return {"id": "train", "chips": 8, "duration_h": 4, "allowed_accelerators": ["gpu"], **fields}


def east_chat(peak_tokens_per_s: int, training_jobs: tuple[dict[str, Any], ...] = ()) -> Scenario:
    """Only East (16 GPUs) and one chat service from Metro (SLO 5 ms: East only), 200 tokens/s per
    2-chip replica, demand 0.4 of its peak until noon and the peak after (two_level.csv); and
    ``training_jobs``."""
    service = {"id": "chat", "demand_tokens_per_s": {"metro": peak_tokens_per_s}, "rtt_slo_ms": 5,
               "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100},
               "chips_per_replica": {"gpu": 2}}
    return scenario(sites={"east": {"inventory": {"gpu": 16}}}, training_jobs=list(training_jobs),
                    inference_services=[service],
                    time={"demand_profile": "two_level.csv"})


def verify(s: Scenario, r: Result) -> list[str]:
    """Everything ``planner verify`` checks, the solver block's objective against the plan's total included."""
    return verify_document(s, json.loads(json.dumps(r.to_dict())))


def solved(s: Scenario) -> Result:
    r = solve(s)
    assert r.status.value == "optimal"
    assert verify(s, r) == []
    assert r.solver["gap"] == pytest.approx(0.0)
    assert r.solver["bound_scope"] == "full"
    assert r.solver["relaxed_bound"] <= r.objective["total_cny"] + 1e-6  # the capacity-free bound never cuts the optimum
    # the plan file round-trips, and the round-tripped plan verifies too
    again = Result.from_dict(r.to_dict())
    assert verify(s, again) == []
    return r


def test_a_job_shifts_to_the_night_valley_when_its_deadline_allows():
    """Released at 12:00 (peak) with 48 h to go: it waits for the next night's valley.
    8 chips × 4 h × 0.3 = 9.6 CNY, starting between 24:00 and 28:00; running at once would cost 32."""
    r = solved(scenario(horizon_h=48, sites=EAST_ONLY, training_jobs=[job(release_h=12, deadline_h=48)]))
    row = r.schedule.iloc[0]
    assert 24 <= row.start_h <= 28 and row.end_h - row.start_h == 4
    assert r.objective["total_cny"] == pytest.approx(9.6)
    assert set(r.hourly[r.hourly.training_chips > 0].band) == {"valley"}


def test_a_job_of_3_5_hours_holds_4_steps_and_bills_3_5_hours():
    """An 8-chip job of 3.5 h on 1 h steps holds its chips for 4 whole steps in the night valley and
    draws power for 3.5 h of them: 8 × 3.5 × 0.3 = 8.4 CNY. Its placement states the 3.5 hours billed."""
    r = solved(scenario(sites=EAST_ONLY, training_jobs=[job(duration_h=3.5)]))
    assert r.objective["total_cny"] == pytest.approx(8.4)
    assert float(r.schedule.end_h.iloc[0] - r.schedule.start_h.iloc[0]) == 4
    assert r.placements.hours.iloc[0] == pytest.approx(3.5)


def test_a_deadline_forbids_the_shift():
    """Deadline 20:00: the job must run inside 12-20, all peak: 8 × 4 × 1.0 = 32 CNY.
    With a 26:00 deadline it reaches half the valley: 8 × (0.6 + 0.6 + 0.3 + 0.3) = 14.4 CNY (start 22:00)."""
    r = solved(scenario(horizon_h=48, sites=EAST_ONLY, training_jobs=[job(release_h=12, deadline_h=20)]))
    assert r.objective["total_cny"] == pytest.approx(32.0)
    assert list(cost_by_band(r.hourly).band) == ["peak"]
    r = solved(scenario(horizon_h=48, sites=EAST_ONLY, training_jobs=[job(release_h=12, deadline_h=26)]))
    assert r.objective["total_cny"] == pytest.approx(14.4)
    assert r.schedule.start_h.iloc[0] == 22


def test_settling_moves_a_job_to_its_cheapest_run_and_places_a_left_out_one():
    """8 GPUs at East, two 8-chip 4-hour jobs due by 24:00. A plan that runs a at 08-12 (peak: 8 × 4 ×
    1.0 = 32 CNY) and leaves b out pays 32 CNY and b's penalty. Settled, a moves to the valley's first
    4 hours (8 × 4 × 0.3 = 9.6) and b fits in the next 4 (9.6): 19.2 CNY, the optimum."""
    from planner.core import timemodel
    from planner.core.options import schedule_options

    s = scenario(sites=EAST_ONLY, training_jobs=[job(id="a", deadline_h=24), job(id="b", deadline_h=24)])
    p = build_problem(s)
    td = build_time_data(s, p)
    plan = timemodel.TimePlan(segments={"a": (("east", "gpu"), [(8, 12)])})
    assert timemodel.plan_cost_cny(p, td, plan) == pytest.approx(32 + p.jobs["b"].penalty_cny)
    settled = timemodel.settle_jobs(p, td, plan, "size", schedule_options(p, td))
    assert settled.segments == {"a": (("east", "gpu"), [(0, 4)]), "b": (("east", "gpu"), [(4, 8)])}
    assert timemodel.plan_cost_cny(p, td, settled) == pytest.approx(19.2)
    assert plan.segments == {"a": (("east", "gpu"), [(8, 12)])}  # the plan given is not changed


@settings(max_examples=25, deadline=None)
@given(jobs=st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(0, 16), st.integers(0, 16),
                               st.booleans()), min_size=1, max_size=5),
       order=st.sampled_from(["size", "slack", "penalty_rate"]))
def test_settling_never_costs_more_and_the_plan_verifies(jobs, order):
    """Any jobs (chips, hours, release, slack, checkpointable) on East's 8 GPUs, placed by the greedy in
    any order: settled, the plan costs no more, every job keeps its window and its hours, no hour holds
    more than 8 chips, and the plan written back verifies."""
    from planner.core import timemodel
    from planner.core.options import schedule_options
    from planner.core.writeback import write_back
    from planner.results.result import Status

    specs = [job(id=f"j{k}", chips=c, duration_h=h, release_h=r, deadline_h=min(24, r + h + slack), preemptible=pre,
                 checkpoint_cny=1.0) for k, (c, h, r, slack, pre) in enumerate(jobs) if r + h <= 24]
    if not specs:
        return
    s = scenario(sites=EAST_ONLY, training_jobs=specs)
    p = build_problem(s)
    td = build_time_data(s, p)
    plan = timemodel.greedy_schedule(p, td, job_order=order)
    settled = timemodel.settle_jobs(p, td, plan, order, schedule_options(p, td))
    assert timemodel.plan_cost_cny(p, td, settled) <= timemodel.plan_cost_cny(p, td, plan) + 1e-9
    assert set(plan.segments) <= set(settled.segments)
    busy = [0] * td.steps
    for jid, (_pool, segs) in settled.segments.items():
        w = td.jobs[jid].windows[("east", "gpu")]
        assert sum(e - b for b, e in segs) == w.steps
        assert all(w.earliest <= b < e <= w.deadline for b, e in segs)
        for b, e in segs:
            for u in range(b, e):
                busy[u] += p.jobs[jid].chips
    assert max(busy) <= 8
    r = write_back(p, td, settled, Status.feasible, {"model": "time", "status": "feasible"})
    assert verify(s, r) == []


def test_capacity_forces_two_jobs_to_run_one_after_the_other():
    """8 GPUs, two 8-chip 4-hour jobs, both due by 08:00: they share the night valley in turn,
    [0, 4) and [4, 8): 2 × 8 × 4 × 0.3 = 19.2 CNY; never more than 8 chips busy in any hour."""
    jobs = [job(id="a", deadline_h=8), job(id="b", deadline_h=8)]
    r = solved(scenario(sites=EAST_ONLY, training_jobs=jobs))
    spans = sorted(zip(r.schedule.start_h, r.schedule.end_h))
    assert spans == [(0, 4), (4, 8)]
    assert r.objective["total_cny"] == pytest.approx(19.2)
    assert r.hourly.training_chips.max() == 8
    from planner.results.statistics import Statistics

    gantt = Statistics(r).timeline()
    assert sorted(zip(gantt.start_h, gantt.end_h)) == [(0, 4), (4, 8)] and set(gantt.kind) == {"training"}


def test_a_job_left_out_for_want_of_chips_says_how_many_were_free_and_where():
    """8 GPUs, three 8-chip 4-hour jobs due by 08:00: two run in turn (19.2 CNY), the third is left out
    (its run would cost 9.6, under its penalty), and its reason says that no chip of gpu at East was
    free for 4 h of its window: the other two hold them."""
    jobs = [job(id=k, deadline_h=8) for k in ("a", "b", "c")]
    r = solved(scenario(sites=EAST_ONLY, training_jobs=jobs))
    left = r.unplaced[r.unplaced.kind == "training"]
    assert len(left) == 1 and len(r.schedule) == 2
    assert left.reason.iloc[0] == (
        "needs 8 chips for 4 h within hours 0-8, but other work held them: at most 0 of its 8 chips were free "
        "on gpu at east for 4 h, the most room on any of its pools; add chips or power there, "
        "widen its window, or allow more accelerators")


def test_a_job_left_out_for_want_of_power_says_so_and_a_checkpointable_one_counts_its_steps():
    """16 GPUs at East under a 12 kW meter (1 kW a chip): one 8-chip job at a time. Of three due by
    08:00, two run in turn and the third is left out: 8 chips are free beside the one running, but
    the meter has power for 4 of them. Checkpointable, the same: its 4 steps need not be one run,
    so its reason names no start."""
    for preemptible, when in ((False, " (from hour 0)"), (True, "")):
        jobs = [job(id=k, deadline_h=8, preemptible=preemptible, checkpoint_cny=1.0) for k in ("a", "b", "c")]
        r = solved(scenario(sites={"east": {"inventory": {"gpu": 16}, "power_cap_mw": 0.012}}, training_jobs=jobs))
        left = r.unplaced[r.unplaced.kind == "training"]
        assert len(left) == 1
        assert left.reason.iloc[0] == (
            f"needs 8 chips for 4 h within hours 0-8, but other work held them: at most 4 of its 8 chips had power at "
            f"east for 4 h{when}, the most room on any of its pools; add chips or power there, widen its window, "
            "or allow more accelerators")


def test_a_checkpointable_job_is_priced_split_when_its_reason_is_given():
    """8 GPUs at East, a checkpointable 8-chip 12-hour job due by 24:00 (1 CNY a resume) whose penalty is
    8 × 12 × 0.5 = 48 CNY. In one piece its cheapest run, 00-12, costs 8 × (8 × 0.3 + 4 × 1.0) = 51.2,
    above the penalty; split, 00-10 and 22-24 cost 8 × (2.4 + 2.0 + 1.2) + 1 = 45.8, below it. The
    solve runs it split, and a plan that left it out would not be told its run costs more than its penalty."""
    from planner.core.writeback import explain_unplaced
    from planner.core.model import TimePlan
    from planner.results.columns import SERVING_COLUMNS

    s = scenario(sites=EAST_ONLY, training_jobs=[job(duration_h=12, preemptible=True, checkpoint_cny=1.0)],
                 objective={"latency_cny_per_mtokens_ms": 0.01, "unplaced_training_cny_per_chip_hour": 0.5})
    r = solved(s)
    assert r.objective["total_cny"] == pytest.approx(45.8)
    p = build_problem(s)
    td = build_time_data(s, p)
    assert p.jobs["train"].penalty_cny == pytest.approx(48.0)
    (row,) = explain_unplaced(p, td, TimePlan(), pd.DataFrame([], columns=SERVING_COLUMNS))
    assert row[4].startswith("needs 8 chips for 12 h within hours 0-24")


def test_a_western_midday_valley_beats_an_eastern_night_valley():
    """Window the whole day, both sites: east night 8 × 4 × 0.3 = 9.6, west midday 8 × 4 × 0.2 = 6.4 → west,
    starting between 10:00 and 12:00."""
    r = solved(scenario())
    row = r.schedule.iloc[0]
    assert row.site == "west" and 10 <= row.start_h <= 12
    assert r.objective["total_cny"] == pytest.approx(6.4)


def test_data_transfer_delays_and_costs_and_residency_confines():
    """4,500 GB from metro. To west: 4,500 × 8 / 10 Gbit/s = 3,600 s = 1 h, 4,500 × 0.0004 = 1.8 CNY
    → 6.4 + 1.8 = 8.2 < 9.6 east (100 Gbit/s, 0.1 h, no price given): west.
    With data residency metro's data stays in Eastland: east, night valley, start ≥ 1 h (after the 0.1 h
    transfer, on the hour grid): 9.6 CNY."""
    data = {"dataset_origin": "metro", "dataset_gb": 4500}
    r = solved(scenario(training_jobs=[job(**data)]))
    assert r.schedule.site.iloc[0] == "west"
    assert r.objective["total_cny"] == pytest.approx(8.2)
    assert r.objective["transfer_cny"] == pytest.approx(1.8)
    tr = r.transfers.iloc[0]
    assert tr.transfer_h == pytest.approx(1.0) and tr.cost_cny == pytest.approx(1.8)

    r = solved(scenario(training_jobs=[job(**data, data_residency=True)]))
    row = r.schedule.iloc[0]
    assert row.site == "east" and row.start_h >= 1 and row.end_h <= 8
    assert r.transfers.transfer_h.iloc[0] == pytest.approx(0.1)
    assert r.objective["total_cny"] == pytest.approx(9.6)


def test_a_slow_transfer_can_make_a_deadline_unreachable():
    """45,000 GB to west takes 10 h; to east 1 h. Deadline 6:00: only east can run it (1 → 5 at 0.3)."""
    r = solved(scenario(training_jobs=[job(dataset_origin="metro", dataset_gb=45000, deadline_h=6)]))
    assert r.schedule.site.iloc[0] == "east"
    assert r.objective["total_cny"] == pytest.approx(9.6)


def test_inference_cost_per_mtoken_counts_the_replicas_alone_where_a_job_shares_their_pool():
    """East-only chat (peak 100 tokens/s, 40 before noon; one 2-GPU replica serves 200) and an 8-chip
    4-hour job on the same 16 GPUs. The replica serves 00-08 (2 kW × 0.3 = 0.6 CNY an hour, under the
    40 × 0.0288 = 1.152 its tokens are worth unserved) and 12-24, not 08-12 (2.0 > 1.152): 8 × 0.6 +
    10 × 2.0 + 2 × 1.2 = 27.2 CNY for (8 × 40 + 12 × 100) × 3,600 / 1e6 = 5.472 Mtokens, 4.9708 CNY per
    Mtoken. The job runs in the valley beside it (8 × 4 × 0.3 = 9.6 CNY), which is not inference's cost.
    Total 31.91744 + 9.6 = 41.51744 CNY."""
    r = solved(east_chat(peak_tokens_per_s=100, training_jobs=(job(deadline_h=24),)))
    assert r.objective["total_cny"] == pytest.approx(41.51744)
    assert r.kpis["inference_cny_per_mtokens"] == pytest.approx(27.2 / 5.472)
    assert r.schedule.start_h.iloc[0] < 8  # beside the replica, in the valley


def test_a_preemptible_job_splits_over_two_valleys_and_pays_the_checkpoint():
    """12 h on east over 48 h. Whole, the cheapest 12 consecutive hours are 20-32: 2 × 1.0 + 2 × 0.6 + 8 × 0.3
    = 5.6 CNY per chip → 44.8. Preemptible with a 5 CNY resume: 12 valley hours (00-08 and 24-32),
    8 × 12 × 0.3 = 28.8 + 5 = 33.8 CNY."""
    whole = solved(scenario(horizon_h=48, sites=EAST_ONLY, training_jobs=[job(duration_h=12)]))
    assert whole.objective["total_cny"] == pytest.approx(44.8)
    r = solved(scenario(horizon_h=48, sites=EAST_ONLY,
                        training_jobs=[job(duration_h=12, preemptible=True, checkpoint_cny=5)]))
    assert r.objective["total_cny"] == pytest.approx(33.8)
    assert r.objective["checkpoint_cny"] == pytest.approx(5.0)
    assert len(r.schedule) == 2 and set(r.hourly[r.hourly.training_chips > 0].band) == {"valley"}


def test_a_dear_resume_keeps_a_preemptible_job_in_one_piece_in_the_bound_and_the_greedy():
    """The same 12 h job with a 20 CNY resume: the two valleys cost 28.8 + 20 = 48.8 CNY, more than
    running whole through 20-32 (or 22-34) for 44.8. The capacity-free bound counts the resume and is
    exact, 44.8 (the 12 cheapest hours alone would give 28.8); the greedy runs the job in one piece, and
    so does the optimum."""
    from planner.core.timemodel import greedy_schedule, plan_cost_cny, relaxed_bound

    s = scenario(horizon_h=48, sites=EAST_ONLY,
                 training_jobs=[job(duration_h=12, preemptible=True, checkpoint_cny=20)])
    p = build_problem(s)
    td = build_time_data(s, p)
    assert relaxed_bound(p, td) == pytest.approx(44.8)
    plan = greedy_schedule(p, td)
    (start, end), = plan.segments["train"][1]
    assert end - start == 12
    assert plan_cost_cny(p, td, plan) == pytest.approx(44.8)
    r = solved(s)
    assert r.objective["total_cny"] == pytest.approx(44.8)
    assert r.objective["checkpoint_cny"] == 0.0


def test_inference_replicas_follow_the_demand_profile():
    """1,000 tokens/s peak from metro, SLO 5 ms → east only; 200 tokens/s per replica (2 chips).
    Profile: 0.4 of peak until noon, 1.0 after → 2 replicas, then 5. Blocks and power:
    [0,8) 2·2·8·0.3 = 9.6; [8,12) 2·2·4·1.0 = 16; [12,22) 5·2·10·1.0 = 100; [22,24) 5·2·2·0.6 = 12 → 137.6.
    Latency: (400·12 + 1000·12) h·tokens/s × 3,600 = 60.48 M tokens × 2 ms × 0.01 = 1.2096 → 138.8096 CNY."""
    s = east_chat(peak_tokens_per_s=1000)
    r = solved(s)
    by_block = dict(zip(r.replicas.start_h, r.replicas.replicas))
    assert by_block == {0: 2, 8: 2, 12: 5, 22: 5}
    assert r.objective["power_cost_cny"] == pytest.approx(137.6)
    assert r.objective["total_cny"] == pytest.approx(138.8096)
    # the spatial model holds the peak's 5 replicas all day at the mean price
    spatial = solve(s, mode="spatial")
    assert spatial.objective["total_cny"] > r.objective["total_cny"]


def test_the_capacity_free_bound_is_exact_for_a_job_alone_and_below_a_queue():
    """Alone, the valley job's cheapest run is the optimum: the bound is 9.6 CNY exactly. Two 4-hour
    jobs due by 06:00 on 8 GPUs cannot both run; the bound ignores chips and puts both in the valley
    [0, 4): 2 × 8 × 4 × 0.3 = 19.2 CNY, strictly below what any plan pays."""
    from planner.core.timemodel import relaxed_bound

    s = scenario(horizon_h=48, sites=EAST_ONLY, training_jobs=[job(release_h=12, deadline_h=48)])
    p = build_problem(s)
    assert relaxed_bound(p, build_time_data(s, p)) == pytest.approx(9.6)
    s = scenario(sites=EAST_ONLY, training_jobs=[job(id="a", deadline_h=6), job(id="b", deadline_h=6)])
    p = build_problem(s)
    assert relaxed_bound(p, build_time_data(s, p)) == pytest.approx(19.2)
    assert solve(s).objective["total_cny"] > 19.2


def test_a_decomposed_solve_keeps_its_restricted_bound_apart():
    """Placing with the spatial model first restricts the choices: the plan still verifies, but it is
    never called optimal, best_bound is the full model's capacity-free bound and the CP-SAT bound of the
    restricted model is reported as restricted_bound."""
    from planner.core.timemodel import solve_time

    s = scenario(training_jobs=[job(id="a"), job(id="b", deadline_h=12)])
    r = solve_time(s, decompose="spatial", time_limit_s=10)
    assert verify(s, r) == []
    assert r.status.value == "feasible" and r.solver["decomposition"] == "spatial"
    assert "restricted" in r.solver["bound_scope"]
    assert r.solver["best_bound"] == pytest.approx(r.solver["relaxed_bound"])
    assert r.solver["best_bound"] <= r.objective["total_cny"] + 1e-6
    assert r.solver["restricted_bound"] is not None
    assert r.objective["total_cny"] <= r.solver["greedy_objective"] + 1e-6
    assert solve_time(s, decompose="off").solver["decomposition"] == "off"


def test_a_decomposed_solve_starts_from_the_national_size_path_and_keeps_its_plan(monkeypatch):
    """A decomposed solve first runs the national-size path (the greedy schedules, chip-hour prices,
    trimming and settling, serving's MIPs), then CP-SAT from its plan. With a 600 s limit on the
    flexible national week, CP-SAT alone had ended at 10.944 M CNY where that path gives 10.757 M
    in 60 s. Here CP-SAT is made to find nothing: the path's plan and bounds stand, and verify."""
    from planner.core import timemodel
    from planner.core.timemodel import solve_time
    from planner.results.result import Status

    s = scenario(training_jobs=[job(id="a"), job(id="b", deadline_h=12)])
    real = timemodel.solve_model

    def nothing(*args, **kwargs):
        _status, outcome, _solver = real(*args, **kwargs)
        return Status.no_solution, {**outcome, "status": "no_solution", "objective": None, "best_bound": None,
                                    "gap": None}, None

    monkeypatch.setattr(timemodel, "solve_model", nothing)
    r = solve_time(s, decompose="spatial", time_limit_s=10)
    assert verify(s, r) == []
    assert r.status.value == "feasible" and r.solver["plan_source"].endswith("(CP-SAT found no plan)")
    assert r.solver["national_path_s"] > 0
    monkeypatch.setattr(timemodel, "SEARCH_MAX_REPLICA_VARIABLES_PER_S", -1)  # the national-size path alone
    alone = solve_time(s, time_limit_s=10)
    assert r.objective["total_cny"] == pytest.approx(alone.objective["total_cny"], rel=1e-9)
    assert r.solver["best_bound"] == pytest.approx(alone.solver["best_bound"], rel=1e-9)


def test_idle_chips_draw_their_fraction_unless_switched_off():
    """One 8-chip 4-hour job on east (night valley, 9.6 CNY busy). With idle chips on at 0.2 the other
    20 hours of 8 chips draw 8 × 0.2 kW: 8 × 0.2 × (4 × 0.3 + 14 × 1.0 + 2 × 0.6) = 26.24 CNY → 35.84."""
    r = solved(scenario(sites=EAST_ONLY, time={"idle_chips": "idle", "idle_power_fraction": 0.2}))
    assert r.objective["total_cny"] == pytest.approx(35.84)
    assert r.hourly.idle_chips.sum() == 8 * 20


def test_an_impossible_window_is_unplaced_with_its_reason():
    """6 hours of work in a 4-hour window: never schedulable; penalty 17 × 8 × 6 = 816 CNY."""
    r = solved(scenario(training_jobs=[job(duration_h=6, release_h=2, deadline_h=6)]))
    assert r.schedule.empty
    assert "shorter than its shortest run" in r.unplaced.reason.iloc[0]
    assert r.objective["total_cny"] == pytest.approx(816.0)


def test_verify_catches_a_broken_timeline():
    s = scenario(sites=EAST_ONLY, training_jobs=[job(id="a", deadline_h=8), job(id="b", deadline_h=8)])
    plan = solve(s).to_dict()
    for row in plan["schedule"]:  # run both at once: 16 chips on 8
        row["start_h"], row["end_h"] = 0, 4
    problems = verify_plan(build_problem(s), plan, s)
    assert any("chip capacity at hour 0" in p for p in problems)
    assert verify_plan(build_problem(s), plan) != []  # without the scenario it says what it needs


def test_builtin_profile_is_an_estimate_with_its_method():
    prof = builtin_profile()
    assert len(prof.default) == 24 and max(prof.default) == 1.0
    fig = prof.figures["trough_fraction"]
    assert fig.confidence.value == "estimate" and fig.method
    assert min(prof.default) == pytest.approx(fig.value)


def test_a_broken_profile_names_the_line_and_the_fix(tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text("hour,fraction_of_peak\n0,0.5\n1,1.5\n")
    with pytest.raises(InputError) as exc:
        load_profile_csv(bad)
    assert "line 3" in str(exc.value) and "outside [0, 1]" in str(exc.value)


def test_a_horizon_off_the_step_grid_is_an_input_error():
    s = scenario(horizon_h=25, time={"step_h": 2})
    with pytest.raises(InputError, match="whole number of 2-hour steps"):
        build_time_data(s, build_problem(s))


@settings(max_examples=12, deadline=None)
@given(release=st.integers(0, 20), slack=st.integers(0, 24), hours=st.integers(1, 6), n=st.integers(1, 3))
def test_every_plan_keeps_windows_and_capacity(release, slack, hours, n):
    """Any windows and job counts: the plan verifies and no scheduled job leaves its window."""
    deadline = min(48, release + hours + slack)
    s = scenario(horizon_h=48, training_jobs=[job(duration_h=hours, release_h=release, deadline_h=deadline, count=n)])
    r = solve(s)
    assert verify(s, r) == []
    assert ((r.schedule.start_h >= release) & (r.schedule.end_h <= deadline)).all()


def test_cli_switches_model_and_verifies_the_timeline(tmp_path):
    """`planner solve --model spatial|time`, then `planner verify` re-checks every hour of the time plan."""
    from click.testing import CliRunner

    from planner.cli import main

    base = TIME / "base.yaml"
    plan = tmp_path / "plan.json"
    out = CliRunner().invoke(main, ["solve", str(base), "-q", "--model", "time", "-o", str(plan)])
    assert out.exit_code == 0, out.output
    assert "Power cost by time-of-use band" in out.output
    data = json.loads(plan.read_text())
    assert data["meta"]["mode"] == "time" and data["objective"]["total_cny"] == pytest.approx(6.4)
    out = CliRunner().invoke(main, ["verify", str(base), str(plan)])
    assert out.exit_code == 0 and "ok" in out.output
    out = CliRunner().invoke(main, ["solve", str(base), "-q", "--model", "spatial", "--format", "json"])
    assert json.loads(out.output)["objective"]["total_cny"] == pytest.approx(13.6)  # 8 × 4 × west mean 0.425
