"""Invariants that hold for every plan, on random problems (hypothesis).

- the plan passes the independent re-check (``verify_plan``);
- every job is placed or listed unplaced with a reason;
- the optimum is never worse than the greedy warm start;
- solving never mutates the problem.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.problem.build import AccelData, JobData, Problem, ServiceData, SiteData
from planner.core.solve import solve
from planner.check.verify import verify_plan


@st.composite
def problems(draw) -> Problem:
    n_sites = draw(st.integers(1, 3))
    sites = {}
    for i in range(n_sites):
        sid = f"s{i}"
        sites[sid] = SiteData(sid, draw(st.sampled_from(["east", "west"])), draw(st.floats(1.05, 1.5)),
                              draw(st.floats(20, 400)), draw(st.floats(0.2, 1.0)), draw(st.sampled_from([0.0, 0.5])),
                              0.5)
    accels = {"a": AccelData("a", draw(st.floats(0.4, 1.5)), False),
              "b": AccelData("b", draw(st.floats(0.4, 1.5)), True)}
    inventory = {}
    for s in sites:
        for a in accels:
            n = draw(st.integers(0, 64))
            if n:
                inventory[(s, a)] = n
    jobs = {}
    for j in range(draw(st.integers(0, 6))):
        chips = draw(st.sampled_from([4, 8, 16, 32, 96]))
        hours = {a: draw(st.floats(1, 48)) for a in accels}
        pools = tuple(p for p in inventory if inventory[p] >= chips)
        jobs[f"j{j}"] = JobData(f"j{j}", chips, hours, pools, draw(st.floats(1, 5000)))
    cities = ["c0", "c1"]
    rtt = {(c, s): draw(st.floats(1, 30)) for c in cities for s in sites}
    services = {}
    for v in range(draw(st.integers(0, 3))):
        slo = draw(st.floats(5, 30))
        cpr = {"a": draw(st.sampled_from([1, 2, 8])), "b": draw(st.sampled_from([1, 4]))}
        pools = tuple(p for p in inventory if inventory[p] >= cpr[p[1]])
        pool_sites = {p[0] for p in pools}
        demand = {c: draw(st.floats(10, 5000)) for c in cities}
        city_sites = {c: tuple(s for s in sorted(pool_sites) if rtt[(c, s)] <= slo) for c in cities}
        services[f"v{v}"] = ServiceData(f"v{v}", demand, slo, {"a": draw(st.floats(10, 300)), "b": draw(st.floats(10, 300))},
                                        cpr, pools, city_sites, draw(st.floats(0.5, 20)))
    return Problem("random", draw(st.sampled_from([1.0, 24.0])), sites, accels, inventory, jobs, services, rtt,
                   1.0, draw(st.floats(0, 0.05)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_plan_verifies_and_beats_greedy(problem: Problem) -> None:
    before = copy.deepcopy(problem)
    result = solve(problem, time_limit_s=5, workers=1)
    assert result.is_feasible()
    assert problem == before, "solve mutated its input"
    plan = result.to_dict()
    assert verify_plan(problem, plan) == []
    placed = set(result.placements.query("kind == 'training'").workload)
    unplaced = set(result.unplaced.query("kind == 'training'").workload)
    assert placed | unplaced == set(problem.jobs) and not placed & unplaced
    assert all(result.unplaced.reason.str.len() > 10)
    if result.status.value == "optimal":
        assert result.objective["total_cny"] <= result.solver["greedy_objective"] * (1 + 1e-4) + 1.0


@st.composite
def capacity_scenarios(draw):
    from conftest import tiny

    demand = draw(st.floats(200, 6000))
    service = {"id": "chat", "demand_tokens_per_s": {"metro": demand}, "rtt_slo_ms": draw(st.sampled_from([5, 40])),
               "allowed_accelerators": ["gpu", "npu"],
               "tokens_per_s_per_chip": {"gpu": draw(st.floats(50, 300)), "npu": draw(st.floats(50, 300))},
               "chips_per_replica": {"gpu": 8, "npu": 8}}
    capacity = {
        "candidates": [{"system": "gpu-box", "price_cny": draw(st.floats(5e4, 3e5)), "max_units_per_site": 4},
                       {"system": "npu-box", "price_cny": draw(st.floats(5e4, 3e5)), "max_units_per_site": 4,
                        "lead_time_periods": draw(st.integers(0, 1))}],
        "periods": [{"name": "p1"}, {"name": "p2", "inference_growth": draw(st.floats(1.0, 2.0))}],
        "interest_rate": draw(st.floats(0, 0.1)),
    }
    if draw(st.booleans()):
        capacity["budget_cny"] = draw(st.floats(5e4, 1e6))
    if draw(st.booleans()):
        capacity["supply_chips_per_period"] = {"npu": draw(st.sampled_from([0, 8, 16]))}
    if draw(st.booleans()):
        capacity["space_racks"] = {"east": draw(st.floats(0.1, 2.0)), "west": draw(st.floats(0.1, 2.0))}
    return tiny(horizon_h=168, sites={"east": {"inventory": {"gpu": draw(st.sampled_from([0, 8]))}},
                                      "west": {"inventory": {}}},
                training_jobs=[], inference_services=[service], capacity=capacity)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity_scenarios())
def test_every_capacity_plan_verifies_and_never_costs_more_than_buying_nothing(scenario) -> None:
    from planner.check.capacity import verify_capacity
    from planner.studies.capacity import plan_capacity

    result = plan_capacity(scenario, time_limit_s=5, workers=1)
    assert result.is_feasible()
    assert verify_capacity(scenario, result.to_dict()) == []
    nothing = plan_capacity(scenario.model_copy(update={"capacity": scenario.capacity.model_copy(
        update={"candidates": [c.model_copy(update={"max_units_per_site": 0}) for c in scenario.capacity.candidates]})}),
        time_limit_s=5, workers=1)
    if result.status.value == "optimal":
        assert result.objective["total_cny_per_year"] <= nothing.objective["total_cny_per_year"] * (1 + 1e-6) + 1
