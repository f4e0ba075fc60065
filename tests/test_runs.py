"""The run store without Ray: `runs diff` on two hand-built runs, `solve --store`, `runs show`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import CORE
from planner.cli import main
from planner.inputs.scenario import load_scenario
from planner.studies.sweep.diff import diff_runs
from planner.studies.sweep.grid import RunSpec, Settings
from planner.studies.sweep.run import new_record
from planner.studies.sweep.store import RunStore


def _run(run_id: str, job_pool: tuple[str, str, float], gpu_boxes: int, npu_boxes: int, total: float) -> tuple:
    """A run record written by hand: job `train` (8 chips) on one pool, service `chat` on 10 east gpu,
    and GPU/NPU boxes bought in period y1."""
    site, accel, cost = job_pool
    scenario = load_scenario(CORE / "base.yaml")
    spec = RunSpec(run_id, {"sites.west.power_cap_mw": 0.01 if site == "east" else 1}, scenario,
                   Settings(mode="capacity"), "hash-" + run_id)
    out = new_record(run_id)
    out.update(status="optimal", objective={"total_cny_per_year": total}, kpis={"energy_mwh": 1.0, "chips_bought": 8.0 * (gpu_boxes + npu_boxes)},
               gap=0.0, best_bound=total, wall_s=0.1, verified=True)
    out["placements"] = [
        {"period": "y1", "workload": "train", "kind": "training", "site": site, "accelerator": accel, "chips": 8,
         "replicas": 0, "hours": 10, "energy_mwh": 0.1, "power_cost_cny": cost},
        {"period": "y1", "workload": "chat", "kind": "inference", "site": "east", "accelerator": "gpu", "chips": 10,
         "replicas": 5, "hours": 24, "energy_mwh": 0.3, "power_cost_cny": 240.0}]
    out["routing"] = [{"period": "y1", "service": "chat", "city": "metro", "site": "east", "accelerator": "gpu",
                       "tokens_per_s": 1000.0, "rtt_ms": 2.0}]
    out["purchases"] = [{"period": "y1", "site": "east", "system": "gpu-box", "accelerator": "gpu", "units": gpu_boxes,
                         "chips": 8 * gpu_boxes, "in_service_from": "y1", "capex_cny": 1e5 * gpu_boxes,
                         "annualised_cny_per_year": 2e4 * gpu_boxes}]
    if npu_boxes:
        out["purchases"].append({"period": "y1", "site": "west", "system": "npu-box", "accelerator": "npu",
                                 "units": npu_boxes, "chips": 8 * npu_boxes, "in_service_from": "y1",
                                 "capex_cny": 1e5 * npu_boxes, "annualised_cny_per_year": 2e4 * npu_boxes})
    return spec, out


def test_runs_diff_names_moves_purchases_and_kpi_changes(tmp_path):
    """A: train on west npu (24 CNY), 2 GPU boxes, 100 CNY/yr. B: train on east gpu (80 CNY), 3 GPU boxes and
    1 NPU box, 156 CNY/yr. chat and its routing are the same in both, so only train moved; the purchases
    differ by one GPU box at east and one NPU box at west; the total rises 56 CNY/yr (+56 %) and chips bought
    16 → 32."""
    path = tmp_path / "runs.duckdb"
    with RunStore(path) as store:
        store.record(*_run("aaaa1111", ("west", "npu", 24.0), 2, 0, 100.0))
        store.record(*_run("bbbb2222", ("east", "gpu", 80.0), 3, 1, 156.0))
        d = diff_runs(store.run("aaaa"), store.run("bbbb"))
    moves = d["moves"]
    assert moves[["period", "workload", "in_a", "in_b"]].values.tolist() == [
        ["y1", "train", "west/npu ×8", "east/gpu ×8"]]
    assert moves.power_cost_cny_b.iloc[0] - moves.power_cost_cny_a.iloc[0] == pytest.approx(56.0)
    assert d["routing"].empty
    bought = d["purchases"].set_index(["site", "system"])
    assert bought.loc[("east", "gpu-box"), ["units_a", "units_b", "change_units"]].tolist() == [2, 3, 1]
    assert bought.loc[("west", "npu-box"), ["units_a", "units_b", "change_units"]].tolist() == [0, 1, 1]
    kpis = d["kpis"].set_index("metric")
    assert kpis.loc["total_cny_per_year", "change"] == pytest.approx(56.0)
    assert kpis.loc["total_cny_per_year", "relative"] == pytest.approx(0.56)
    assert kpis.loc["chips_bought", ["a", "b"]].tolist() == [16.0, 32.0]
    assert "energy_mwh" not in kpis.index  # unchanged KPIs are left out
    assert d["params"].query("group == 'params'")[["a", "b"]].values.tolist() == [["1", "0.01"]]

    result = CliRunner().invoke(main, ["runs", "diff", str(path), "aaaa", "bbbb"])
    assert result.exit_code == 0, result.output
    assert "west/npu ×8" in result.output and "east/gpu ×8" in result.output and "Routing changes" in result.output


def test_solve_store_records_a_verified_run_that_runs_show_reads(tmp_path):
    """The tiny base: 8 chips × 10 h on west npu = 24 CNY (tests/test_solve.py)."""
    path = tmp_path / "runs.duckdb"
    runner = CliRunner()
    result = runner.invoke(main, ["solve", str(CORE / "base.yaml"), "--store", str(path), "-q", "--format", "json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(runner.invoke(main, ["runs", "list", str(path), "--format", "json"]).output)
    assert len(listing) == 1 and listing[0]["status"] == "optimal" and listing[0]["verified"] is True
    assert listing[0]["objective_cny"] == pytest.approx(24.0)
    shown = json.loads(runner.invoke(main, ["runs", "show", str(path), listing[0]["run_id"][:6],
                                            "--format", "json"]).output)
    assert shown["placements"][0]["site"] == "west" and shown["run"]["catalog_version"] == "tiny-1"
    # the same solve again is the same run (same scenario and settings): still one row
    runner.invoke(main, ["solve", str(CORE / "base.yaml"), "--store", str(path), "-q", "--format", "json"])
    assert len(json.loads(runner.invoke(main, ["runs", "list", str(path), "--format", "json"]).output)) == 1


def test_unknown_run_and_missing_store_exit_2_with_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["runs", "show", str(tmp_path / "none.duckdb"), "abc"])
    assert result.exit_code == 2 and "no such run store" in result.output
    path = tmp_path / "runs.duckdb"
    with RunStore(path) as store:
        store.record(*_run("aaaa1111", ("west", "npu", 24.0), 2, 0, 100.0))
    result = runner.invoke(main, ["runs", "show", str(path), "zzz"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and "no run 'zzz'" in result.output
