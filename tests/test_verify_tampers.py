"""Adversarial tests for ``verify``: tampered plans of every kind are caught, untouched ones pass.

Each tamper changes a decision of a valid plan (``tamper.plan_of``) and then, like a careful liar,
restates every figure with the project's own pricing code (``tamper.restate``), so the plan is
self-consistent; or it changes one stated figure after the restatement. ``verify`` must flag every
one, with violations (exit 1) or, for a plan that is no longer readable, one ``InputError`` (exit 2).
Tampers that change nothing (row order, extra columns, reasons reworded) must still pass.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from conftest import key_paths

from planner.check.document import verify_document
from planner.errors import InputError
from tamper import plan_of, restate, scenario_of

Plan = dict[str, Any]


def _row(rows: list[dict], **match: Any) -> dict:
    return next(r for r in rows if all(r.get(k) == v for k, v in match.items()))


# -- decisions changed, figures restated ----------------------------------------------------------------
def _s_disallowed_accelerator(p: Plan) -> None:
    _row(p["placements"], workload="tune#1")["accelerator"] = "npu"  # tune runs on GPUs only


def _s_gang_size(p: Plan) -> None:
    _row(p["placements"], workload="train")["chips"] = 4


def _s_placed_twice(p: Plan) -> None:
    p["placements"].append(copy.deepcopy(_row(p["placements"], workload="train")))


def _s_job_vanishes(p: Plan) -> None:
    p["placements"].remove(_row(p["placements"], workload="tune#2"))


def _s_fewer_replicas(p: Plan) -> None:
    _row(p["placements"], workload="chat")["replicas"] -= 1


def _s_serve_beyond_demand(p: Plan) -> None:
    _row(p["routing"], service="chat")["tokens_per_s"] *= 1.5


def _s_demand_deleted(p: Plan) -> None:
    p["routing"].remove(_row(p["routing"], service="chat"))


def _s_negative_row_hides_load(p: Plan) -> None:
    row = _row(p["routing"], service="bulk")
    row["tokens_per_s"] += 1000
    p["routing"].append({**row, "tokens_per_s": -1000.0})


def _s_over_inventory(p: Plan) -> None:
    bulk = _row(p["placements"], workload="bulk")
    bulk["replicas"] += 1  # 20 NPUs at east, which has 16
    _row(p["routing"], service="bulk")["tokens_per_s"] += 1000
    _row(p["unplaced"], workload="bulk")["tokens_per_s"] -= 1000


def _s_unplaced_amount(p: Plan) -> None:
    _row(p["unplaced"], workload="bulk")["tokens_per_s"] = 40000.0


def _s_unplaced_job_dropped(p: Plan) -> None:
    p["unplaced"].remove(_row(p["unplaced"], workload="huge"))


def _s_route_without_replicas(p: Plan) -> None:
    _row(p["routing"], service="chat").update(site="east", rtt_ms=2.0)


def _s_beyond_slo(p: Plan) -> None:
    _row(p["routing"], service="bulk").update(site="west", rtt_ms=30.0)


def _s_huge_forced_in(p: Plan) -> None:
    p["unplaced"].remove(_row(p["unplaced"], workload="huge"))
    p["placements"].append({"workload": "huge", "kind": "training", "site": "east", "accelerator": "gpu",
                            "chips": 64, "replicas": 0, "hours": 6.0, "energy_mwh": 0.0, "power_cost_cny": 0.0})


def _s_status_infeasible(p: Plan) -> None:
    p["status"] = "infeasible"
    p["solver"]["status"] = "infeasible"


def _s_optimal_claimed(p: Plan) -> None:
    p["solver"].update(cp_sat_status="FEASIBLE")


def _s_bound_above(p: Plan) -> None:
    p["solver"]["best_bound"] = p["solver"]["objective"] * 1.1


def _s_gap(p: Plan) -> None:
    p["solver"]["gap"] = 0.05


def _s_job_as_batch(p: Plan) -> None:
    _row(p["placements"], workload="train")["kind"] = "batch"


def _s_job_replicas(p: Plan) -> None:
    _row(p["placements"], workload="train")["replicas"] = 3


def _s_unplaced_served_city(p: Plan) -> None:
    p["unplaced"].append({"workload": "chat", "kind": "inference", "city": "metro", "tokens_per_s": 500.0,
                          "reason": "invented"})


def _s_unplaced_empty_reason(p: Plan) -> None:
    _row(p["unplaced"], workload="huge")["reason"] = "  "


SPATIAL_DECISIONS: list[Callable[[Plan], None]] = [
    _s_disallowed_accelerator, _s_gang_size, _s_placed_twice, _s_job_vanishes, _s_fewer_replicas,
    _s_serve_beyond_demand, _s_demand_deleted, _s_negative_row_hides_load, _s_over_inventory, _s_unplaced_amount,
    _s_unplaced_job_dropped, _s_route_without_replicas, _s_beyond_slo, _s_huge_forced_in, _s_status_infeasible,
    _s_optimal_claimed, _s_bound_above, _s_gap, _s_job_as_batch, _s_job_replicas, _s_unplaced_served_city,
    _s_unplaced_empty_reason,
]


def _t_before_release(p: Plan) -> None:
    _row(p["schedule"], workload="train").update(start_h=0, end_h=4)  # before its dataset arrives


def _t_past_horizon(p: Plan) -> None:
    _row(p["schedule"], workload="train").update(start_h=22, end_h=26)


def _t_runs_short(p: Plan) -> None:
    _row(p["schedule"], workload="train")["end_h"] -= 1


def _t_split_unpreemptible(p: Plan) -> None:
    row = _row(p["schedule"], workload="train")
    p["schedule"].append({**row, "segment": 2, "start_h": row["start_h"] + 3, "end_h": row["end_h"] + 2})
    row["end_h"] = row["start_h"] + 2


def _t_moved_onto_a_full_site(p: Plan) -> None:
    _row(p["schedule"], workload="train")["site"] = "east"
    for r in p["transfers"]:
        if r["workload"] == "train":
            r["site"] = "east"


def _t_fewer_replicas(p: Plan) -> None:
    max(p["replicas"], key=lambda r: r["replicas"])["replicas"] -= 2


def _t_serve_beyond_demand(p: Plan) -> None:
    p["serving"][0]["tokens_per_s"] *= 3


def _t_serving_deleted(p: Plan) -> None:
    del p["serving"][-1]


def _t_negative_replicas(p: Plan) -> None:
    p["replicas"].append({**p["replicas"][0], "site": "east", "replicas": -3})


def _t_transfer_cost(p: Plan) -> None:
    p["transfers"][0]["cost_cny"] *= 0.5


def _t_transfer_deleted(p: Plan) -> None:
    del p["transfers"][0]


def _t_scheduled_and_unplaced(p: Plan) -> None:
    p["unplaced"].append({"workload": "train", "kind": "training", "city": None, "tokens_per_s": None,
                          "reason": "invented"})


def _t_job_vanishes(p: Plan) -> None:
    p["schedule"] = [r for r in p["schedule"] if r["workload"] != "split"]


def _t_segment_off_grid(p: Plan) -> None:
    _row(p["schedule"], workload="split")["end_h"] = 5.5


def _t_serving_rtt(p: Plan) -> None:
    p["serving"][0]["rtt_ms"] = 1.0


TIME_DECISIONS: list[Callable[[Plan], None]] = [
    _t_before_release, _t_past_horizon, _t_runs_short, _t_split_unpreemptible, _t_moved_onto_a_full_site,
    _t_fewer_replicas, _t_serve_beyond_demand, _t_serving_deleted, _t_negative_replicas, _t_transfer_cost,
    _t_transfer_deleted, _t_scheduled_and_unplaced, _t_job_vanishes, _t_segment_off_grid, _t_serving_rtt,
    _s_gap, _s_bound_above, _s_status_infeasible,
]


def _c_negative_units(p: Plan) -> None:
    _row(p["purchases"], system="npu-box")["units"] = -2


def _c_beyond_supply(p: Plan) -> None:
    _row(p["purchases"], system="npu-box")["units"] = 4  # 32 NPUs against a supply of 16


def _c_beyond_unit_bound(p: Plan) -> None:
    _row(p["purchases"], system="gpu-box")["units"] = 30


def _c_purchase_deleted(p: Plan) -> None:
    p["purchases"].remove(_row(p["purchases"], system="gpu-box"))


def _c_not_a_candidate(p: Plan) -> None:
    _row(p["purchases"], system="gpu-box")["site"] = "west"


def _c_bought_later(p: Plan) -> None:
    _row(p["purchases"], system="npu-box")["period"] = "y2"  # in service after the horizon, yet used in y2


def _c_period_deleted(p: Plan) -> None:
    del p["periods"]["y2"]


def _c_more_replicas_than_bought(p: Plan) -> None:
    next(r for r in p["periods"]["y2"]["placements"] if r["kind"] == "inference")["replicas"] += 4


def _c_demand_deleted(p: Plan) -> None:
    p["periods"]["y1"]["routing"] = []


def _c_unknown_period(p: Plan) -> None:
    p["periods"]["y3"] = copy.deepcopy(p["periods"]["y2"])


CAPACITY_DECISIONS: list[Callable[[Plan], None]] = [
    _c_negative_units, _c_beyond_supply, _c_beyond_unit_bound, _c_purchase_deleted, _c_not_a_candidate,
    _c_bought_later, _c_period_deleted, _c_more_replicas_than_bought, _c_demand_deleted, _c_unknown_period,
    _s_gap, _s_bound_above,
]

# -- one stated figure changed after the restatement -----------------------------------------------------
FIGURES = {
    "spatial": [("objective", "total_cny"), ("objective", "power_cost_cny"), ("objective", "latency_cny"),
                ("objective", "unplaced_penalty_cny"), ("kpis", "energy_mwh"), ("kpis", "carbon_t"),
                ("kpis", "mean_rtt_ms"), ("kpis", "served_tokens_per_s"), ("kpis", "peak_site_power_mw"),
                ("placements", "power_cost_cny"), ("placements", "energy_mwh"), ("placements", "hours"),
                ("routing", "rtt_ms"), ("sites", "power_cap_mw"), ("sites", "price_cny_per_kwh"),
                ("sites", "power_used_mw"), ("inventory", "chips"), ("inventory", "chips_used"),
                ("cities", "lat")],
    "time": [("objective", "total_cny"), ("objective", "transfer_cny"), ("objective", "checkpoint_cny"),
             ("kpis", "energy_mwh"), ("kpis", "chips_used"), ("hourly", "meter_kw"), ("hourly", "power_cost_cny"),
             ("hourly", "price_cny_per_kwh"), ("schedule", "power_cost_cny"), ("placements", "hours"),
             ("placements", "energy_mwh"), ("routing", "tokens_per_s"), ("timeline", "end_h"),
             ("inventory", "chips_used"), ("sites", "power_used_mw")],
    "capacity": [("objective", "total_cny_per_year"), ("objective", "annualised_capex_cny_per_year"),
                 ("objective", "maintenance_cny_per_year"), ("kpis", "capex_cny"), ("kpis", "systems_bought"),
                 ("kpis", "crf"), ("purchases", "capex_cny"), ("purchases", "annualised_cny_per_year"),
                 ("purchases", "chips"), ("period", "capex_cny"), ("period", "power_cost_cny_per_year"),
                 ("period", "cny_per_mtokens_all_in"), ("period", "chips_owned"), ("period", "chip_utilisation")],
}


def _bump(p: Plan, section: str, key: str, kind: str) -> None:
    if section == "period":
        p["periods"]["y2"]["kpis"][key] = p["periods"]["y2"]["kpis"][key] * 1.5 + 1
    elif section in ("objective", "kpis"):
        p[section][key] = p[section][key] * 1.5 + 1
    else:
        row = max(p[section], key=lambda r: abs(r[key] or 0))
        row[key] = row[key] * 1.5 + 1


DECISIONS = {"spatial": SPATIAL_DECISIONS, "time": TIME_DECISIONS, "capacity": CAPACITY_DECISIONS}
TAMPERS = [(kind, f.__name__, f, True) for kind, fs in DECISIONS.items() for f in fs] + [
    (kind, f"{section}.{key}", (lambda p, s=section, k=key, kd=kind: _bump(p, s, k, kd)), False)
    for kind, figures in FIGURES.items() for section, key in figures]


def caught(kind: str, tamper: Callable[[Plan], None], consistent: bool) -> tuple[bool, str]:
    """Apply a tamper (restating the figures first if ``consistent``); True if verify flags the plan."""
    scenario = scenario_of(kind)
    plan = plan_of(kind)
    if consistent:
        tamper(plan)
        plan = restate(kind, scenario, plan)
    else:
        plan = restate(kind, scenario, plan)
        tamper(plan)
    plan = json.loads(json.dumps(plan))  # as a plan file holds it
    try:
        violations = verify_document(scenario, plan, file="tampered.json")
    except InputError as exc:
        return True, f"exit 2: {exc}"
    return bool(violations), "; ".join(violations[:2])


@pytest.mark.parametrize("kind, name, tamper, consistent", TAMPERS, ids=[f"{k}-{n}" for k, n, _, _ in TAMPERS])
def test_a_tampered_plan_is_caught(kind, name, tamper, consistent):
    ok, why = caught(kind, tamper, consistent)
    assert ok, f"{kind} plan tampered by {name} passed verify"


def test_at_least_sixty_tampered_plans_over_three_kinds_are_all_caught():
    counts = {kind: sum(1 for k, *_ in TAMPERS if k == kind) for kind in DECISIONS}
    assert len(TAMPERS) >= 60 and all(n >= 10 for n in counts.values()), counts


# -- tampers that change nothing --------------------------------------------------------------------------
def _reorder(p: Plan) -> None:
    for table in ("placements", "routing", "unplaced", "sites", "inventory", "schedule", "serving", "hourly",
                  "replicas", "purchases"):
        if isinstance(p.get(table), list):
            p[table].reverse()
    for period in p.get("periods", {}).values():
        _reorder(period)


def _extra_column(p: Plan) -> None:
    for row in p.get("placements", []) + p.get("purchases", []):
        row["note"] = "checked by hand"
    for period in p.get("periods", {}).values():
        _extra_column(period)


def _reworded(p: Plan) -> None:
    for row in p.get("unplaced", []):
        row["reason"] = "no room: " + row["reason"]
    p["warnings"] = ["edited"]
    p["solver"]["wall_s"] = 123.0


NOOPS = [_reorder, _extra_column, _reworded]


@pytest.mark.parametrize("kind", list(DECISIONS))
@pytest.mark.parametrize("noop", NOOPS, ids=[f.__name__ for f in NOOPS])
def test_a_tamper_that_changes_nothing_passes(kind, noop):
    scenario, plan = scenario_of(kind), plan_of(kind)
    noop(plan)
    plan = restate(kind, scenario, plan)
    assert verify_document(scenario, json.loads(json.dumps(plan))) == []


# -- random tampers -------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(DECISIONS)), st.data())
def test_a_randomly_scaled_figure_is_caught(kind, data):
    """Any stated figure of any table, scaled by a factor away from 1, is caught after restatement."""
    section, key = data.draw(st.sampled_from(FIGURES[kind]))
    factor = data.draw(st.one_of(st.floats(0.0, 0.99), st.floats(1.01, 100.0)))
    scenario = scenario_of(kind)
    plan = restate(kind, scenario, plan_of(kind))
    target = plan["periods"]["y2"]["kpis"] if section == "period" else plan[section] if section in (
        "objective", "kpis") else max(plan[section], key=lambda r: abs(r[key] or 0))
    if not target[key]:
        target[key] = 1.0 + factor
    else:
        target[key] = target[key] * factor
    try:
        assert verify_document(scenario, json.loads(json.dumps(plan))) != []
    except InputError:
        pass


def test_every_pareto_point_verifies_through_the_one_path_and_a_tampered_point_is_caught():
    from planner.problem.build import build_problem
    from planner.studies.pareto import pareto_frontier
    from tamper import restate_spatial, spatial_scenario

    scenario = spatial_scenario()
    problem = build_problem(scenario)
    _table, results = pareto_frontier(problem, 3, time_limit_s=5, workers=1, seed=0)
    assert len(results) >= 2
    for r in results:
        plan = json.loads(r.to_json())
        assert verify_document(scenario, plan) == []
        _s_serve_beyond_demand(plan)
        assert verify_document(scenario, json.loads(json.dumps(restate_spatial(problem, plan)))) != []


DECISION_COLUMNS = {
    "spatial": [("placements", "replicas"), ("placements", "chips"), ("routing", "tokens_per_s")],
    "time": [("schedule", "start_h"), ("schedule", "end_h"), ("replicas", "replicas"), ("serving", "tokens_per_s")],
    "capacity": [("purchases", "units")],
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(DECISIONS)), st.data())
def test_a_random_change_to_a_decision_is_caught_after_restatement(kind, data):
    """Any decision (a row's chips, replicas, tokens, start or end, units bought) moved by a whole step
    and restated consistently is caught: it breaks a constraint, loses work, or is no longer the plan
    the solver reported (its total differs from the solver's objective)."""
    table, column = data.draw(st.sampled_from(DECISION_COLUMNS[kind]))
    scenario, plan = scenario_of(kind), plan_of(kind)
    rows = plan[table]
    if column == "chips":  # a service's chips follow its replicas (restated); a job's gang is a decision
        rows = [r for r in rows if r["kind"] != "inference"]
    row = rows[data.draw(st.integers(0, len(rows) - 1))]
    step = data.draw(st.sampled_from([-3, -2, -1, 1, 2, 3])) * (100 if column == "tokens_per_s" else 1)
    row[column] = row[column] + step
    plan = json.loads(json.dumps(restate(kind, scenario, plan)))
    try:
        assert verify_document(scenario, plan) != [], f"{table}.{column} {step:+} passed"
    except InputError:
        pass


PLAN_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(-1e6, 1e6),
                      st.text(max_size=6), st.lists(st.integers(), max_size=2), st.dictionaries(
                          st.text(max_size=4), st.integers(), max_size=2))


@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(DECISIONS)), st.data())
def test_any_field_of_a_plan_set_to_junk_is_judged_without_crashing(kind, data):
    """verify never raises on a plan file: junk anywhere is either a violation or one InputError."""
    scenario, plan = scenario_of(kind), plan_of(kind)
    paths = [p for p in key_paths(plan, items=3) if p[0] not in ("warnings", "meta")]
    path = data.draw(st.sampled_from(paths))
    node = plan
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = data.draw(PLAN_JUNK)
    try:
        verify_document(scenario, json.loads(json.dumps(plan)))
    except InputError as exc:
        assert len(str(exc).splitlines()) == 1


def test_a_jobs_energy_stated_twice_over_in_every_table_it_appears_in_is_caught():
    """A job's energy doubled in its placement (spatial), or in its schedule segments and its placement
    alike (time of use), everything else as solved: verify prices each segment's steps itself, so the
    tables agreeing with each other does not make them true."""
    for kind, tables in (("spatial", ["placements"]), ("time", ["schedule", "placements"])):
        plan = plan_of(kind)
        jid = next(r["workload"] for r in plan["placements"] if r["kind"] != "inference")
        for table in tables:
            for row in plan[table]:
                if row["workload"] == jid:
                    row["energy_mwh"] *= 2
        violations = verify_document(scenario_of(kind), json.loads(json.dumps(plan)))
        assert any(v.startswith(f"job {jid} over") and "energy_mwh" in v for v in violations), violations


def test_a_transfer_restated_from_another_dataset_is_caught():
    """The time-of-use plan's dataset transfer states the origin, size, bandwidth and share it was priced
    from: each changed alone is caught, though its hours and cost still match."""
    for name, value in (("origin", "city:elsewhere"), ("dataset_gb", 1.0), ("bandwidth_gbps", 1e6), ("share", 0.5),
                        ("path", "city:metro")):
        plan = plan_of("time")
        plan["transfers"][0][name] = value
        violations = verify_document(scenario_of("time"), json.loads(json.dumps(plan)))
        assert any(f"transfer states {name}" in v for v in violations), (name, violations)


def _tables(plan: Plan, prefix: str = ""):
    """(name, rows) of every table in a plan, a capacity plan's period plans included."""
    for key, value in plan.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            yield prefix + key, value
        elif key == "periods" and isinstance(value, dict):
            for name, period in value.items():
                yield from _tables(period, f"periods.{name}.")


#: names that identify a row (changed, they name other work or nothing: judged by the shape check or as a
#: different row), and free text
_NOT_FIGURES = {"workload", "service", "site", "accelerator", "city", "kind", "system", "reason"}


@pytest.mark.parametrize("kind", ["spatial", "time", "capacity"])
def test_every_stated_field_changed_alone_in_any_table_is_caught(kind):
    """Each number and each name-like text of every table (placements, routing, schedule, replicas,
    serving, transfers, hourly, timeline, sites, inventory, cities, purchases, periods …), changed alone in
    the first and the last row, with nothing restated: verify catches every one, or refuses the file."""
    base, scenario = plan_of(kind), scenario_of(kind)
    missed = []
    for name, rows in list(_tables(base)):
        for column in rows[0]:
            for i in sorted({0, len(rows) - 1}):
                plan = json.loads(json.dumps(base))
                table = plan
                for part in name.split("."):
                    table = table[part]
                value = table[i][column]
                if column in _NOT_FIGURES or value is None or isinstance(value, bool):
                    continue
                if isinstance(value, str):
                    table[i][column] = value + "x"
                elif isinstance(value, int):
                    table[i][column] = value + 1
                else:
                    table[i][column] = value * 1.5 + 1
                try:
                    caught = verify_document(scenario, plan) != []
                except InputError:
                    caught = True
                if not caught:
                    missed.append(f"{name}[{i}].{column}")
    assert missed == []


@pytest.mark.parametrize("kind", ["spatial", "time", "capacity"])
def test_every_stated_basis_in_meta_changed_alone_is_caught(kind):
    """The plan's basis (catalog and topology versions, horizon; for time of use the step, demand profile
    and idle-chip accounting), each changed alone in the plan and in each period plan: caught."""
    base, scenario = plan_of(kind), scenario_of(kind)
    parts = [()] + [("periods", name) for name in base.get("periods", {})]
    missed = []
    for path in parts:
        meta = base
        for part in path:
            meta = meta[part]
        for key, value in (meta.get("meta") or {}).items():
            if key not in ("catalog_version", "topology_version", "horizon_h", "step_h", "demand_profile",
                           "idle_chips", "idle_power_fraction"):
                continue
            plan = json.loads(json.dumps(base))
            target = plan
            for part in path:
                target = target[part]
            target["meta"][key] = value + "x" if isinstance(value, str) else value * 1.5 + 1
            if verify_document(scenario, plan) == []:
                missed.append(".".join([*path, "meta", key]))
    assert missed == []
