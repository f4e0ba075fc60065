"""Hand-checked placements on the tiny catalog and topology (tests/data/core).

Both accelerators draw 1 kW per chip including the server (an 8 kW, 8-chip box).
East: PUE 1.25, 0.8 CNY/kWh, 2 ms from metro. West: PUE 1.2, 0.5 CNY/kWh, half
price for the domestic npu, 30 ms from metro. Cost = chips × 1 kW × hours × PUE × price.
"""

from __future__ import annotations

import threading

import pytest

from conftest import solve_checked, tiny

from planner.core import runner
from planner.core.runner import _StopOnMemory, resident_gb, resolve_settings
from planner.errors import InputError


def test_training_goes_to_the_cheapest_feasible_site():
    """8 chips × 10 h: east gpu 8·10·1.25·0.8 = 80, west gpu 8·10·1.2·0.5 = 48,
    west npu 8·10·1.2·0.5·0.5 = 24 CNY → west npu, objective 24 CNY."""
    r = solve_checked(tiny())
    assert r.status.value == "optimal"
    row = r.placements.iloc[0]
    assert (row.site, row.accelerator, row.chips) == ("west", "npu", 8)
    assert r.objective["total_cny"] == pytest.approx(24.0)
    assert r.kpis["energy_mwh"] == pytest.approx(8 * 10 * 1.2 / 1000)
    assert r.solver["gap"] == pytest.approx(0.0)


def test_a_tight_slo_forces_an_eastern_site():
    """1,000 tokens/s from metro, 100 tokens/s per chip, 2 chips per replica → 5 replicas, 24 h.
    SLO 5 ms: only east (2 ms) qualifies. Power 5·2·24·1.25·0.8 = 240 CNY; latency
    86.4 M tokens × 2 ms × 0.01 = 1.728 CNY → 241.728 CNY.
    With a 40 ms SLO the west wins: power 5·2·24·1.2·0.5 = 144, latency 86.4·30·0.01 = 25.92 → 169.92."""
    service = {"id": "chat", "demand_tokens_per_s": {"metro": 1000}, "rtt_slo_ms": 5,
               "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100},
               "chips_per_replica": {"gpu": 2}}
    r = solve_checked(tiny(training_jobs=[], inference_services=[service]))
    assert set(r.placements.site) == {"east"} and r.placements.replicas.sum() == 5
    assert r.objective["total_cny"] == pytest.approx(241.728)
    assert r.kpis["mean_rtt_ms"] == pytest.approx(2.0)

    loose = solve_checked(tiny(training_jobs=[], inference_services=[{**service, "rtt_slo_ms": 40}]))
    assert set(loose.placements.site) == {"west"}
    assert loose.objective["total_cny"] == pytest.approx(169.92)


def test_a_power_cap_forces_a_split():
    """Two 8-chip npu jobs, 10 h. Each draws 8 × 1 kW × 1.2 = 9.6 kW at the west meter; a 0.01 MW
    cap holds one. West npu 24 CNY + east npu 8·10·1.25·0.8 = 80 CNY (no subsidy east) = 104 CNY."""
    jobs = [{"id": "a", "chips": 8, "duration_h": 10, "allowed_accelerators": ["npu"]},
            {"id": "b", "chips": 8, "duration_h": 10, "allowed_accelerators": ["npu"]}]
    r = solve_checked(tiny(training_jobs=jobs, sites={"east": {"inventory": {"npu": 16}},
                                                       "west": {"inventory": {"npu": 16}, "power_cap_mw": 0.01}}))
    assert sorted(r.placements.site) == ["east", "west"]
    assert r.objective["total_cny"] == pytest.approx(104.0)
    assert r.kpis["peak_site_power_mw"] == pytest.approx(0.01)


def test_an_oversized_job_is_unplaced_with_its_reason():
    """64 chips in one gang, but no pool has more than 16: unplaced, with a warning.
    Penalty 17 CNY/chip-hour × 64 × 10 h = 10,880 CNY; the 8-chip job still costs 24 → 10,904."""
    jobs = [{"id": "huge", "chips": 64, "duration_h": 10, "allowed_accelerators": ["gpu", "npu"]},
            {"id": "train", "chips": 8, "duration_h": 10, "allowed_accelerators": ["gpu", "npu"]}]
    r = solve_checked(tiny(training_jobs=jobs))
    assert list(r.unplaced.workload) == ["huge"]
    assert "largest pool" in r.unplaced.reason.iloc[0] and "16" in r.unplaced.reason.iloc[0]
    assert any("huge" in w for w in r.warnings)
    assert r.objective["unplaced_penalty_cny"] == pytest.approx(10_880.0)
    assert r.objective["total_cny"] == pytest.approx(10_904.0)


def test_work_dearer_than_its_penalty_stays_unplaced_and_says_so():
    """Penalty 0.1 CNY/chip-hour × 8 × 10 = 8 CNY < 24 CNY, the cheapest placement: left unplaced."""
    jobs = [{"id": "cheap", "chips": 8, "duration_h": 10, "allowed_accelerators": ["npu"],
             "unplaced_cny_per_chip_hour": 0.1}]
    r = solve_checked(tiny(training_jobs=jobs))
    assert r.placements.empty
    assert r.objective["total_cny"] == pytest.approx(8.0)
    assert "exceeds its unplaced penalty" in r.unplaced.reason.iloc[0]


def test_capacity_leaves_demand_unserved_with_a_reason():
    """4,000 tokens/s, SLO 5 ms, only east's 16 gpus → 8 replicas × 200 = 1,600 tokens/s served.
    Unserved 2,400 tokens/s × 86,400 s = 207.36 M tokens × 8 CNY = 1,658.88 CNY penalty;
    power 16·24·1.25·0.8 = 384; latency 1,600·0.0864·2·0.01 = 2.7648 → 2,045.6448 CNY."""
    service = {"id": "chat", "demand_tokens_per_s": {"metro": 4000}, "rtt_slo_ms": 5,
               "allowed_accelerators": ["gpu"], "tokens_per_s_per_chip": {"gpu": 100},
               "chips_per_replica": {"gpu": 2}}
    r = solve_checked(tiny(training_jobs=[], inference_services=[service]))
    assert r.kpis["served_tokens_per_s"] == pytest.approx(1600)
    assert r.objective["total_cny"] == pytest.approx(2045.6448)
    row = r.unplaced.iloc[0]
    assert row.city == "metro" and row.tokens_per_s == pytest.approx(2400)
    assert "no free capacity within the 5 ms SLO" in row.reason


def test_identical_jobs_are_counted_not_enumerated():
    """count: 3 identical 8-chip jobs → one job class; west npu holds 2 (16 chips), the third goes
    to west gpu: 2·24 + 48 = 96 CNY."""
    jobs = [{"id": "sweep", "chips": 8, "duration_h": 10, "count": 3, "allowed_accelerators": ["gpu", "npu"]}]
    r = solve_checked(tiny(training_jobs=jobs))
    assert r.solver["job_classes"] == 1
    assert sorted(r.placements.workload) == ["sweep#1", "sweep#2", "sweep#3"]
    assert r.objective["total_cny"] == pytest.approx(96.0)


def test_solve_does_not_mutate_the_scenario():
    s = tiny()
    before = s.model_dump()
    solve_checked(s)
    assert s.model_dump() == before


def test_progress_reports_incumbents_with_bound_and_gap():
    """The progress line is fed by CP-SAT's solution and bound callbacks."""
    events = []
    solve_checked(tiny(), on_progress=events.append)
    with_plan = [e for e in events if e.objective_cny is not None]
    assert with_plan, "no incumbent was reported"
    last = with_plan[-1]
    assert last.objective_cny == pytest.approx(24.0)
    assert last.bound_cny <= last.objective_cny + 1e-6 and last.gap is not None and last.gap >= 0


def test_data_residency_confines_a_job_to_its_province_in_the_spatial_model_too():
    """Origin metro-side data in Eastland: the job may only use east (npu 80 CNY), not the cheaper west (24)."""
    jobs = [{"id": "train", "chips": 8, "duration_h": 10, "allowed_accelerators": ["gpu", "npu"],
             "dataset_origin": "east", "data_residency": True}]
    r = solve_checked(tiny(training_jobs=jobs))
    assert set(r.placements.site) == {"east"}
    assert r.objective["total_cny"] == pytest.approx(80.0)


def test_a_search_stops_once_the_process_passes_its_memory_mark():
    """The memory guard reads the process's resident memory while a search runs and stops it (as a
    time limit would) once it passes the mark; below the mark it never stops anything."""
    if resident_gb() is None:
        pytest.skip("no /proc: memory cannot be read here")
    stopped = threading.Event()
    with _StopOnMemory(stopped.set, limit_gb=0.0) as guard:  # any process holds more than 0 GB
        assert stopped.wait(timeout=5)
    assert guard.stopped
    calm = threading.Event()
    with _StopOnMemory(calm.set, limit_gb=1e6) as guard:
        assert not calm.wait(timeout=0.3)
    assert not guard.stopped


def test_the_scenarios_memory_mark_reaches_the_search(monkeypatch):
    """``solver.max_memory_gb`` (default 3) is the mark every CP-SAT search of a solve is held to, and
    the solver block records it; a mark below 0.25 GB is refused as bad input."""
    seen = []
    real = runner.run_solver

    def spy(solver, model, scale, on_progress, max_memory_gb=runner.SEARCH_MAX_RSS_GB):
        seen.append(max_memory_gb)
        return real(solver, model, scale, on_progress, max_memory_gb)

    monkeypatch.setattr(runner, "run_solver", spy)
    r = solve_checked(tiny(solver={"time_limit_s": 10, "max_memory_gb": 12}))
    assert r.objective["total_cny"] == pytest.approx(24.0)  # the base scenario's optimum
    assert seen == [12.0] and r.solver["max_memory_gb"] == 12.0
    assert resolve_settings(tiny()).max_memory_gb == runner.SEARCH_MAX_RSS_GB == 3.0
    with pytest.raises(InputError, match="max_memory_gb"):
        tiny(solver={"max_memory_gb": 0.1})
