"""Sweeps on a real local Ray (2 CPUs, started once for this module) with a real DuckDB run store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmarks.instances import national_week, write_scenario
from conftest import DATA, EXAMPLE, solve_checked
from planner.cli import main
from planner.inputs.scenario import load_scenario
from planner.studies.sweep.grid import Settings, parse_param
from planner.studies.sweep.sensitivity import marginal_values, tornado
from planner.studies.sweep.store import RunStore
from planner.studies.sweep.study import plan_runs, run_sweep
from planner.studies.sweep.tables import read_table, table_from_store

ray = pytest.importorskip("ray")
MARGINAL = DATA / "sweep" / "marginal.yaml"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for the whole module; the engine reuses a running session and leaves it running."""
    from planner.studies.sweep.engine import _quiet_env

    _quiet_env()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _grid_3x3(**kwargs):
    return plan_runs(str(EXAMPLE), params=[parse_param("demand_scale=1,2,3"),
                                           parse_param("sites.guian.power_cap_mw=10:30:3")],
                     settings=Settings(time_limit_s=20), **kwargs)


def test_a_3x3_sweep_of_the_example_is_recorded_and_resumed(tmp_path):
    """Nine runs, each verified; the store holds them with their plans; a second pass solves nothing.

    Demand scale 1 is the example itself (201,902.72 CNY, as `planner solve` finds); doubling demand
    costs more, and Gui'an's cap (10–30 MW) does not bind at these demands, so the objective
    depends on the demand scale alone."""
    plan = _grid_3x3()
    assert len(plan.specs) == 9 and len({s.run_id for s in plan.specs}) == 9
    with RunStore(tmp_path / "runs.duckdb") as store:
        table = run_sweep(plan, store=store, progress=False)
        assert list(table.status.unique()) == ["optimal"]
        assert table.verified.all() and (table.violation_count == 0).all() and not table.skipped.any()
        assert sorted(table["sites.guian.power_cap_mw"].unique()) == [10, 20, 30]
        by_scale = table.groupby("demand_scale")["total_cny"]
        assert (by_scale.max() - by_scale.min()).max() == pytest.approx(0.0, abs=1e-6)
        base = solve_checked(load_scenario(EXAMPLE)).objective["total_cny"]
        assert by_scale.first()[1] == pytest.approx(base)
        assert by_scale.first()[1] < by_scale.first()[2] < by_scale.first()[3]
        # what the store holds: one row per run, its placements and routing, versions
        n_runs, n_placements = store.con.execute(
            "SELECT count(*), (SELECT count(DISTINCT run_id) FROM placements) FROM runs").fetchone()
        assert (n_runs, n_placements) == (9, 9)
        versions = store.con.execute("SELECT DISTINCT planner_version, catalog_version FROM runs").fetchall()
        assert len(versions) == 1 and versions[0][1]
        served = store.con.execute(
            "SELECT sum(tokens_per_s) FROM routing JOIN runs USING (run_id) "
            "WHERE CAST(params->>'demand_scale' AS INTEGER) = 2 AND params->>'sites.guian.power_cap_mw' = '10'"
        ).fetchone()[0]
        assert served == pytest.approx(2 * 360_000)

        again = run_sweep(_grid_3x3(), store=store, progress=False)
        assert again.skipped.all()
        assert again.total_cny.tolist() == pytest.approx(table.total_cny.tolist())

        # a run taken out of the store is the only one solved again
        gone = table.run_id.iloc[4]
        for t in ("runs", "placements", "routing", "unplaced"):
            store.con.execute(f"DELETE FROM {t} WHERE run_id = ?", [gone])
        third = run_sweep(_grid_3x3(), store=store, progress=False)
        assert third.loc[~third.skipped, "run_id"].tolist() == [gone]
        rebuilt = table_from_store(store)
        assert rebuilt.run_id.tolist() == table.run_id.tolist()


def test_a_run_killed_on_purpose_is_recorded_as_failed_and_tried_again(tmp_path):
    """The benchmarks' national week (2,000 jobs, 200 services) searches its whole 60 s limit, far past a 1 s
    wall limit: its worker is killed, the run is stored as failed with the reason, and a second pass tries
    it again rather than skipping it. (The 2027 capacity study, used before, now proves its optimum in
    about 0.2 s, since a job it cannot finish in the week is priced for the work left undone.)"""
    national = write_scenario(national_week(), tmp_path / "national.yaml")
    plan = plan_runs(str(national), settings=Settings(time_limit_s=60))
    with RunStore(tmp_path / "runs.duckdb") as store:
        table = run_sweep(plan, store=store, kill_after_s=1.0, progress=False)
        row = table.iloc[0]
        assert row.status == "failed" and "killed after" in row.reason and "--kill-after" in row.reason
        assert store.done([row.run_id]) == {row.run_id: "failed"}
        again = run_sweep(plan, store=store, kill_after_s=1.0, progress=False)
        assert not again.skipped.any() and again.status.iloc[0] == "failed"
        assert tornado(again).empty and marginal_values(again).empty
    result = CliRunner().invoke(main, ["sweep", str(national), "--time-limit", "60", "--kill-after", "1", "-q"])
    assert result.exit_code == 1 and "killed after" in result.output and "no run found a plan" in result.output


def test_marginal_values_match_two_re_solves_by_hand(tmp_path):
    """tests/data/sweep/marginal.yaml. Jobs a and b: 8 npu × 10 h each. West's 0.01 MW cap holds one job
    (8 × 1 kW × 1.2 = 9.6 kW): west npu 8·10·1.2·0.5·0.5 = 24 CNY, east npu 8·10·1.25·0.8 = 80 CNY.
    Service chat: 1,000 tokens/s from metro within 5 ms (east only), 200 tokens/s per 2-gpu replica,
    east has 8 gpu → 4 replicas: power 4·2·24·1.25·0.8 = 192, latency 69.12 M tokens × 2 ms × 0.01 = 1.3824,
    200 tokens/s unserved: 17.28 M tokens × 8 CNY = 138.24. Base = 104 + 192 + 1.3824 + 138.24 = 435.6224 CNY.

    * +1 MW at west: both jobs west, 24 + 24 → saves 56 CNY (56 CNY per MW); +1 MW east saves 0.
    * +8 gpu at east: a 5th replica for 48 power + 0.3456 latency instead of the 138.24 penalty
      → saves 89.8944 CNY (11.2368 CNY per chip); +8 npu anywhere saves 0 (west is power-bound).
    * +1 ms on chat's SLO: 6 ms still excludes west (30 ms) → 0.
    """
    plan = plan_runs(str(MARGINAL), marginal=["power", "chips", "slo"], steps={"chips": 8},
                     settings=Settings(time_limit_s=10))
    table = run_sweep(plan, progress=False)
    mv = marginal_values(table).set_index(["family", "item"])
    assert mv.loc[("power_cap_mw", "west"), "value_cny"] == pytest.approx(56.0)
    assert mv.loc[("power_cap_mw", "west"), "value_per_unit_cny"] == pytest.approx(56.0)
    assert mv.loc[("power_cap_mw", "east"), "value_cny"] == pytest.approx(0.0, abs=1e-6)
    assert mv.loc[("chips", "east/gpu"), "value_cny"] == pytest.approx(89.8944)
    assert mv.loc[("chips", "east/gpu"), "value_per_unit_cny"] == pytest.approx(11.2368)
    for pool in ("east/npu", "west/npu"):
        assert mv.loc[("chips", pool), "value_cny"] == pytest.approx(0.0, abs=1e-6)
    assert mv.loc[("rtt_slo_ms", "chat"), "value_cny"] == pytest.approx(0.0, abs=1e-6)
    assert mv.exact.all() and set(mv.method) == {"paired re-solve"}
    assert mv.base_cny.iloc[0] == pytest.approx(435.6224)

    # the same differences from two plain solves
    base = solve_checked(load_scenario(MARGINAL)).objective["total_cny"]
    west = solve_checked(load_scenario(MARGINAL, {"sites.west.power_cap_mw": 1.01})).objective["total_cny"]
    gpu = solve_checked(load_scenario(MARGINAL, {"sites.east.inventory.gpu": 16})).objective["total_cny"]
    assert (base - west, base - gpu) == pytest.approx((56.0, 89.8944))


def test_tornado_orders_parameters_by_swing(tmp_path):
    """The example with demand ×1 → ×3 and Gui'an's cap 10 → 30 MW, one at a time: demand swings the
    objective (201,903 CNY at ×1 → over 500,000 at ×3, as in the grid), the cap not at all; the report draws both."""
    plan = plan_runs(str(EXAMPLE), tornado=[parse_param("demand_scale=1:3", "--tornado"),
                                            parse_param("sites.guian.power_cap_mw=10:30", "--tornado")],
                     settings=Settings(time_limit_s=20))
    assert [(s.axis, s.side) for s in plan.specs] == [
        ("", "base"), ("demand_scale", "low"), ("demand_scale", "high"),
        ("sites.guian.power_cap_mw", "low"), ("sites.guian.power_cap_mw", "high")]
    table = run_sweep(plan, progress=False)
    t = tornado(table)
    assert t.parameter.tolist() == ["demand_scale", "sites.guian.power_cap_mw"]
    assert t.value_at_low.iloc[0] == pytest.approx(t.base_value.iloc[0])  # ×1 is the base
    assert t.swing.iloc[0] > 300_000 and t.swing.iloc[1] == pytest.approx(0.0, abs=1e-6)
    out = tmp_path / "tornado.parquet"
    from planner.studies.sweep.tables import write_table

    write_table(table, out)
    result = CliRunner().invoke(main, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text()
    assert "Sensitivity (one at a time)" in html and "Tornado: total_cny" in html and "Spread of key KPIs" in html


def test_sweep_cli_writes_a_table_and_the_store_reports(tmp_path):
    store, out = tmp_path / "runs.duckdb", tmp_path / "sweep.json"
    args = ["sweep", str(MARGINAL), "--param", "sites.west.power_cap_mw=0.01,1", "--store", str(store),
            "-o", str(out), "--format", "json", "--marginal", "power", "--time-limit", "5"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["study"] for r in rows] == ["grid", "grid", "marginal", "marginal", "marginal"]
    assert {r["status"] for r in rows} == {"optimal"} and all(r["verified"] for r in rows)
    assert rows[0]["total_cny"] == pytest.approx(435.6224) and rows[1]["total_cny"] == pytest.approx(379.6224)
    assert len(read_table(out)) == 5
    result = CliRunner().invoke(main, ["report", str(store), "-o", str(tmp_path / "s.html")])
    assert result.exit_code == 0, result.output
    assert "Marginal values" in (tmp_path / "s.html").read_text()
    listing = CliRunner().invoke(main, ["runs", "list", str(store), "--format", "json"])
    assert listing.exit_code == 0 and len(json.loads(listing.output)) == 4  # the base run is shared


@pytest.mark.parametrize("args, message", [
    (["--param", "sites.guian.power_cap_mww=1,2"], "did you mean 'power_cap_mw'?"),
    (["--param", "sites.guian.power_cap_mw="], "empty range"),
    (["--param", "sites.guian.power_cap_mw=10:30:0"], "empty range, N is 0"),
    (["--tornado", "demand_scale=2:2"], "empty range"),
    (["--param", "demand_scale=1,2", "--address", "ray://127.0.0.1:1"], "no Ray cluster answers at ray://127.0.0.1:1"),
    (["--param", "demand_scale=1,2", "--address", "127.0.0.1:1"], "no Ray cluster answers"),
    (["--marginal", "power,chipz"], "did you mean 'chips'?"),
    (["--param", "demand_scale=1", "-o", "out.xlsx"], ".csv, .parquet or .json"),
])
def test_bad_sweep_input_exits_2_with_one_line(args, message):
    result = CliRunner().invoke(main, ["sweep", str(EXAMPLE), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
