"""The optimizer takes durations and throughput from the estimator when a scenario leaves them out."""

from __future__ import annotations

import pytest

import hardware_catalog
from conftest import solve_checked
from planner.errors import InputError
from planner.problem.build import build_problem
from planner.inputs.scenario import scenario_from_dict
from workloads.estimator import HardwareSpec, estimate_training
from workloads.models import get_model

BASE = {
    "name": "estimated",
    "horizon_h": 24,
    "sites": {"yrd": {"inventory": {"h20": 256, "ascend-910c": 256}},
              "guian": {"inventory": {"h20": 256, "ascend-910c": 512}}},
    "solver": {"time_limit_s": 10, "workers": 1},
}
JOB = {"id": "qwen-ft", "chips": 64, "model": "qwen3-32b", "tokens": 2e10,
       "allowed_accelerators": ["h20", "ascend-910c"]}
SERVICE = {"id": "qwen-chat", "model": "qwen3-32b", "precision": "bf16", "tpot_ms": 50,
           "demand_tokens_per_s": {"shanghai": 20000}, "rtt_slo_ms": 30,
           "allowed_accelerators": ["h20", "ascend-910c"]}


def test_training_hours_come_from_the_estimator():
    """hours = 6·N·D (+ attention) ÷ (chips × bf16 peak × stack MFU): the problem holds exactly the estimate
    as the job's run, and bills min(run, 24 h horizon) of it."""
    problem = build_problem(scenario_from_dict({**BASE, "training_jobs": [JOB]}))
    cat = hardware_catalog.load()
    for accel in ("h20", "ascend-910c"):
        est = estimate_training(get_model("qwen3-32b"), HardwareSpec.from_catalog(cat, accel), tokens=2e10, chips=64)
        assert problem.jobs["qwen-ft"].run_h[accel] == pytest.approx(est.hours)
        assert problem.jobs["qwen-ft"].hours[accel] == pytest.approx(min(est.hours, 24.0))
    # a 910C has five times the H20's bf16 peak, so the same work is quicker on it
    assert problem.jobs["qwen-ft"].run_h["ascend-910c"] < problem.jobs["qwen-ft"].run_h["h20"]
    assert {f["basis"] for f in problem.figures} == {"roofline"}


def test_services_get_estimated_throughput_and_the_plan_says_so():
    scenario = scenario_from_dict({**BASE, "training_jobs": [JOB], "inference_services": [SERVICE]})
    result = solve_checked(scenario)
    figures = {(f["workload"], f["accelerator"], f["figure"]): f for f in result.meta["figures"]}
    tps = figures[("qwen-chat", "h20", "tokens_per_s_per_chip")]
    assert tps["value"] > 0
    assert tps["basis"] == "calibrated" or tps["basis"].startswith("measured")
    assert ("qwen-chat", "h20") in {(r["service"], r["accelerator"]) for r in result.meta["estimated_throughput"]}
    assert figures[("qwen-chat", "h20", "chips_per_replica")]["value"] >= 1
    assert result.kpis["served_tokens_per_s"] == pytest.approx(20000)


def test_given_figures_win_over_the_estimate():
    service = {**SERVICE, "tokens_per_s_per_chip": {"h20": 123.0}, "chips_per_replica": {"h20": 2}}
    problem = build_problem(scenario_from_dict({**BASE, "inference_services": [service]}))
    svc = problem.services["qwen-chat"]
    assert svc.tokens_per_s_per_chip["h20"] == 123.0 and svc.chips_per_replica["h20"] == 2
    bases = {(f["accelerator"], f["figure"]): f["basis"] for f in problem.figures}
    assert bases[("h20", "tokens_per_s_per_chip")] == "given"
    assert bases[("ascend-910c", "tokens_per_s_per_chip")] != "given"


def test_unknown_model_names_the_scenario_field():
    with pytest.raises(InputError) as err:
        build_problem(scenario_from_dict({**BASE, "training_jobs": [{**JOB, "model": "qwen3-32"}]}))
    message = str(err.value)
    assert "training_jobs[0].model" in message and "did you mean" in message


def test_a_job_without_duration_or_work_is_rejected():
    with pytest.raises(InputError) as err:
        scenario_from_dict({**BASE, "training_jobs": [{"id": "x", "chips": 8, "allowed_accelerators": ["h20"]}]})
    assert "give duration_h" in str(err.value)


def test_allowed_stacks_expand_to_the_released_accelerators_on_them():
    service = {**SERVICE, "allowed_accelerators": [], "allowed_stacks": ["cann"]}
    problem = build_problem(scenario_from_dict({**BASE, "inference_services": [service]}))
    svc = problem.services["qwen-chat"]
    assert "ascend-910c" in svc.tokens_per_s_per_chip and "h20" not in svc.tokens_per_s_per_chip
    assert all(pool[1] == "ascend-910c" for pool in svc.pools)
    with pytest.raises(InputError) as err:
        build_problem(scenario_from_dict({**BASE, "inference_services": [{**service, "allowed_stacks": ["cannn"]}]}))
    assert "did you mean 'cann'?" in str(err.value) and "allowed_stacks" in str(err.value)


def test_gang_bounds_choose_the_smallest_gang_that_meets_the_deadline():
    """Within [16, 256]: the chosen gang is the smallest power of two whose estimated hours on some
    allowed accelerator fit the 48 h window, and half of it would not."""
    job = {"id": "qwen-ft", "chips_min": 16, "chips_max": 256, "model": "qwen3-32b", "tokens": 2e10,
           "allowed_accelerators": ["h20", "ascend-910c"], "deadline_h": 48}
    problem = build_problem(scenario_from_dict({**BASE, "horizon_h": 48, "training_jobs": [job]}))
    chips = problem.jobs["qwen-ft"].chips
    cat = hardware_catalog.load()
    best = min(estimate_training(get_model("qwen3-32b"), HardwareSpec.from_catalog(cat, a), tokens=2e10, chips=chips).hours
               for a in ("h20", "ascend-910c"))
    assert best <= 48
    if chips // 2 >= 16:
        half = min(estimate_training(get_model("qwen3-32b"), HardwareSpec.from_catalog(cat, a), tokens=2e10,
                                     chips=chips // 2).hours for a in ("h20", "ascend-910c"))
        assert half > 48
    assert any(f["figure"] == "chips" and f["value"] == chips for f in problem.figures)


def test_batch_inference_is_sized_from_throughput_and_scheduled_like_a_job():
    """hours = tokens ÷ (replicas × chips per replica × tokens/s per chip × 3,600)."""
    batch = {"id": "nightly-eval", "model": "qwen3-32b", "tokens": 5e9, "chips": 64,
             "allowed_accelerators": ["h20", "ascend-910c"], "deadline_h": 24}
    scenario = scenario_from_dict({**BASE, "batch_inference": [batch]})
    problem = build_problem(scenario)
    job = problem.jobs["nightly-eval"]
    assert job.kind == "batch"
    basis = {f["accelerator"]: f["basis"] for f in problem.figures if f["figure"] == "hours"}
    assert basis["h20"].startswith("batch:")
    replicas = int(basis["h20"].split()[1])
    result = solve_checked(scenario)
    row = result.placements.iloc[0]
    assert row.kind == "batch" and row.workload == "nightly-eval"
    assert replicas >= 1 and job.hours["h20"] > 0
    # more chips, proportionally fewer hours (whole replicas)
    bigger = build_problem(scenario_from_dict({**BASE, "batch_inference": [{**batch, "chips": 128}]}))
    assert bigger.jobs["nightly-eval"].hours["h20"] == pytest.approx(job.hours["h20"] / 2, rel=0.01)


def test_estimate_and_solve_agree_on_the_figure_for_the_same_service():
    """The solver's tokens/s per chip for a service is exactly what ``planner estimate`` prints first for the
    same model, precision, TPOT and request mix; the plan marks the service as estimated with its basis."""
    import json

    from click.testing import CliRunner

    from planner.cli import main

    service = {**SERVICE, "model": "deepseek-v3", "precision": "int8", "input_tokens": 2048, "output_tokens": 512}
    scenario = scenario_from_dict({**BASE, "inference_services": [service]})
    problem = build_problem(scenario)
    for accel in ("h20", "ascend-910c"):
        out = CliRunner().invoke(main, ["estimate", "--model", "deepseek-v3", "--accelerator", accel,
                                        "--precision", "int8", "--tpot-ms", "50", "--input-tokens", "2048",
                                        "--output-tokens", "512", "--format", "json"])
        assert out.exit_code == 0, out.output
        row, = json.loads(out.output)
        assert problem.services["qwen-chat"].tokens_per_s_per_chip[accel] == pytest.approx(
            row["output_tokens_per_s_per_chip"], rel=1e-9)
        assert problem.services["qwen-chat"].chips_per_replica[accel] == row["chips_per_replica"]
    result = solve_checked(scenario)
    marked = {(r["service"], r["accelerator"]): r for r in result.meta["estimated_throughput"]}
    assert set(marked) == {("qwen-chat", "h20"), ("qwen-chat", "ascend-910c")}
    assert all(r["basis"] == "calibrated" for r in marked.values())


def test_report_and_solve_output_list_estimated_services(capsys):
    from planner.cli.commands.solve import print_result
    from planner.viz.report import render_report

    result = solve_checked(scenario_from_dict({**BASE, "inference_services": [SERVICE]}))
    html = render_report(result)
    assert "Estimated throughput" in html and "qwen-chat" in html
    print_result(result)
    assert "Estimated throughput" in capsys.readouterr().out
