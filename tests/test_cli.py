"""The command line as a planner meets it: the example, plan files, and broken inputs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import DATA, EXAMPLE
from planner.cli import main

BROKEN = DATA / "broken"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_example_solves_to_optimality_and_shows_the_east_west_logic(tmp_path):
    plan = tmp_path / "plan.json"
    r = run("solve", EXAMPLE, "-o", plan, "--quiet")
    assert r.exit_code == 0, r.output
    data = json.loads(plan.read_text())
    assert data["status"] == "optimal" and data["solver"]["gap"] == pytest.approx(0.0, abs=1e-9)
    for key in ("status", "objective", "kpis", "placements", "routing", "unplaced", "solver"):
        assert key in data
    for key in ("power_cost_cny", "energy_mwh", "mean_rtt_ms", "max_rtt_ms"):
        assert key in data["kpis"]
    assert set(data["solver"]) >= {"status", "wall_s", "objective", "best_bound", "gap"}
    roles = {s["site"]: s["role"] for s in data["sites"]}
    training = [p for p in data["placements"] if p["kind"] == "training"]
    assert training and all(roles[p["site"]] == "west" for p in training)
    chat = [r for r in data["routing"] if r["service"].startswith("chat")]
    assert chat and all(roles[r["site"]] == "east" for r in chat)
    assert "Totals" in r.output and "gap" in r.output

    ok = run("verify", EXAMPLE, plan)
    assert ok.exit_code == 0, ok.output


def test_verify_catches_a_tampered_plan(tmp_path):
    plan = tmp_path / "plan.json"
    assert run("solve", EXAMPLE, "-o", plan, "--quiet").exit_code == 0
    data = json.loads(plan.read_text())
    training = next(p for p in data["placements"] if p["kind"] == "training")
    training["chips"] = training["chips"] // 2
    data["kpis"]["power_cost_cny"] *= 0.5
    data["routing"][0]["tokens_per_s"] *= 100
    plan.write_text(json.dumps(data))
    r = run("verify", EXAMPLE, plan)
    assert r.exit_code == 1
    assert "its gang is" in r.output
    assert "kpis.power_cost_cny" in r.output
    assert "serving capacity" in r.output or "demand:" in r.output


def test_format_json_prints_the_plan():
    r = run("solve", EXAMPLE, "--format", "json", "--time-limit", "10")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["status"] == "optimal"


def test_validate_and_schema():
    r = run("validate", EXAMPLE)
    assert r.exit_code == 0 and "ok" in r.output
    schema = json.loads(run("schema").output)
    assert "training_jobs" in schema["properties"]


@pytest.mark.parametrize("name, fragments", [
    ("yaml_syntax.yaml", ["YAML syntax error", "line 4"]),
    ("unknown_accelerator.yaml", ["unknown accelerator 'gpuu'", "did you mean 'gpu'?", "sites.east.inventory.gpuu"]),
    ("unknown_site.yaml", ["unknown site 'easst'", "did you mean 'east'?"]),
    ("unknown_city.yaml", ["unknown demand city 'metroo'", "did you mean 'metro'?"]),
    ("negative_demand.yaml", ["demand_tokens_per_s.metro", "greater than 0", "use a positive number"]),
    ("zero_demand.yaml", ["demand_tokens_per_s.metro", "greater than 0"]),
    ("unmeetable_slo.yaml", ["no site can meet the 5 ms SLO for metro", "west at 30.0 ms", "rtt_slo_ms"]),
    ("unknown_key.yaml", ["unknown key 'trainng_jobs'", "did you mean 'training_jobs'?"]),
])
@pytest.mark.parametrize("command", ["solve", "validate"])
def test_bad_input_is_one_line_exit_2_no_traceback(name, fragments, command):
    r = run(command, BROKEN / name)
    assert r.exit_code == 2, r.output
    message = r.output.strip()
    assert len(message.splitlines()) == 1, message
    assert name in message
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in message


def test_missing_file_exits_2():
    r = run("solve", "nope.yaml")
    assert r.exit_code == 2 and "file not found" in r.output


def test_oversized_job_is_a_warning_not_an_error(tmp_path):
    scenario = tmp_path / "big.yaml"
    scenario.write_text((DATA / "core" / "base.yaml").read_text()
                        .replace("catalog.yaml", str(DATA / "core" / "catalog.yaml"))
                        .replace("topology.yaml", str(DATA / "core" / "topology.yaml"))
                        .replace("chips: 8", "chips: 64"))
    plan = tmp_path / "plan.json"
    r = run("solve", scenario, "-o", plan, "--quiet")
    assert r.exit_code == 0
    assert "warning" in r.output and "can never be placed" in r.output
    data = json.loads(plan.read_text())
    assert data["unplaced"][0]["workload"] == "train"
    assert run("verify", scenario, plan).exit_code == 0


def test_the_plan_records_catalog_version_and_overrides(tmp_path):
    plan = tmp_path / "plan.json"
    r = run("solve", EXAMPLE, "-o", plan, "--quiet", "--set", "catalog.overrides.h20.tdp_w=450")
    assert r.exit_code == 0, r.output
    meta = json.loads(plan.read_text())["meta"]
    assert meta["catalog_version"].endswith("+overrides")
    assert meta["catalog_changes"] == ["h20.tdp_w"]


def test_time_of_use_example_moves_work_into_valley_hours(tmp_path):
    example = EXAMPLE.parent / "time_of_use_day.yaml"
    plan = tmp_path / "plan.json"
    r = run("solve", example, "-o", plan, "--quiet")
    assert r.exit_code == 0, r.output
    data = json.loads(plan.read_text())
    assert data["status"] == "optimal" and data["meta"]["mode"] == "time"
    # the regulated job stays in Shanghai's province
    finance = [p for p in data["placements"] if p["workload"] == "finance-ft"]
    assert [p["site"] for p in finance] == ["yrd"]
    # batch inference is scheduled as a job of its own kind, inside its deadline
    batch = [p for p in data["placements"] if p["workload"] == "nightly-eval"]
    assert [p["kind"] for p in batch] == ["batch"]
    assert run("verify", example, plan).exit_code == 0


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d["placements"][0].update(site="nowhere"), "unknown site 'nowhere'"),
    (lambda d: d["placements"][0].update(chips="many"), "not a whole number"),
    (lambda d: d["routing"][0].update(city="lhasa"), "not a demand city"),
    (lambda d: d.clear() or d.update(placements={}), "not a plan"),
])
def test_verify_rejects_plans_that_are_not_this_scenarios_with_exit_2(tmp_path, mutate, fragment):
    plan = tmp_path / "plan.json"
    assert run("solve", EXAMPLE, "-o", plan, "--quiet").exit_code == 0
    data = json.loads(plan.read_text())
    mutate(data)
    plan.write_text(json.dumps(data))
    r = run("verify", EXAMPLE, plan)
    assert r.exit_code == 2 and fragment in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_validate_checks_the_capacity_section_too():
    capacity = EXAMPLE.parent / "capacity_2027.yaml"
    assert run("validate", capacity).exit_code == 0
    r = run("validate", capacity, "--set", "capacity.candidates.0.system=hgx-h2O")
    assert r.exit_code == 2 and "did you mean 'hgx-h20'?" in r.output


def test_terminal_tables_cap_their_rows_and_say_so_while_json_keeps_every_row():
    """The example places 11 placement rows and routes 8 flows: --rows 3 prints 3 of each and says
    how many it left out; the plan JSON still holds all of them."""
    r = run("solve", EXAMPLE, "--quiet", "--rows", "3")
    assert r.exit_code == 0, r.output
    assert "showing 3 of 11 rows" in r.output
    assert "showing 3 of 8 rows" in r.output
    full = run("solve", EXAMPLE, "--format", "json")
    plan = json.loads(full.stdout)
    assert len(plan["placements"]) == 11 and len(plan["routing"]) == 8
