"""Calibration: the measurement table, the fitting rule, overrides and the error report."""

from __future__ import annotations

import pytest

from workloads.calibration import calibrate, error_report, error_summary, load_measurements
from workloads.estimator import HardwareSpec, estimate_inference
from workloads.models import load_models


# Stack efficiencies as the hardware catalog gives them (training MFU, inference efficiency).
STACKS = {"cuda": (0.35, 0.28), "cann": (0.30, 0.33)}


def _hw(id_, bf16, low, mem, bw, domain, stack, low_key="fp8"):
    peaks = {"bf16": bf16, "fp16": bf16, low_key: low}
    mfu, eff = STACKS[stack]
    return HardwareSpec(id=id_, peak_tflops=peaks, memory_gib=mem, memory_bandwidth_tb_per_s=bw, chip_power_kw=1.0,
                        tdp_w=None, scale_up_domain_chips=domain, training_mfu=mfu, inference_efficiency=eff,
                        software_stack=stack)


# Spec-sheet peaks, memory and bandwidth of the chips in the measurement table.
HARDWARE = {h.id: h for h in [
    _hw("h800", 989, 1979, 80, 3.35, 8, "cuda"), _hw("h100-sxm", 989, 1979, 80, 3.35, 8, "cuda"),
    _hw("h20", 148, 296, 96, 4.0, 8, "cuda"), _hw("ascend-910c", 752, 1504, 128, 3.2, 384, "cann", "int8"),
    _hw("ascend-910b4", 280, 560, 32, 0.8, 8, "cann", "int8"),
]}


def test_measurements_are_sourced_and_some_are_held_out():
    rows = load_measurements()
    assert all(r.source and r.retrieved for r in rows)
    assert any(r.held_out for r in rows) and any(not r.held_out for r in rows)


def test_held_out_rows_do_not_move_the_factors():
    rows = load_measurements()
    base = calibrate(HARDWARE, measurements=rows)
    changed = [r.model_copy(update={"value": r.value * 10}) if r.held_out else r for r in rows]
    assert calibrate(HARDWARE, measurements=changed).stack_factors == base.stack_factors


def test_report_has_every_row_and_errors_against_measurement():
    report = error_report(HARDWARE)
    assert len(report) == len(load_measurements())
    ok = report[report["status"] == "ok"]
    recomputed = 100 * (ok["estimate"] - ok["measured"]).abs() / ok["measured"]
    assert recomputed.tolist() == pytest.approx(ok["abs_error_pct"].tolist())
    summary = error_summary(report).set_index("set")
    assert summary.loc["calibration", "rows"] > 0 and summary.loc["held-out", "rows"] > 0
    assert summary.loc["calibration", "median_abs_error_pct"] <= 25
    assert (ok.loc[ok["set"] == "held-out", "abs_error_pct"] == ok.loc[ok["set"] == "held-out",
                                                                         "loo_abs_error_pct"]).all()


def test_unknown_hardware_is_reported_not_estimated():
    report = error_report({"h800": HARDWARE["h800"]})
    assert (report.loc[report["hardware"] == "h20", "status"] != "ok").all()


def test_measured_figure_overrides_an_exact_match():
    cal = calibrate(HARDWARE)
    model = load_models()["deepseek-r1"]
    hw = HARDWARE["ascend-910c"]
    est = estimate_inference(model, hw, "int8", tpot_ms=50, chips_per_replica=160)
    applied = cal.apply(est, hw)
    assert applied.decode_tokens_per_s_per_chip == 1943  # measured at TPOT 50 ms
    assert applied.basis.startswith("measured:cloudmatrix-910c-decode-50ms")
    strict = cal.apply(estimate_inference(model, hw, "int8", tpot_ms=20, chips_per_replica=160), hw)
    assert strict.decode_tokens_per_s_per_chip == 538  # only the 15 ms figure is safe at 20 ms
    factor, level = cal.factor("cann", "decode")
    raw = cal.apply(est, hw, override=False)
    assert raw.decode_tokens_per_s_per_chip == pytest.approx(est.decode_tokens_per_s_per_chip * factor)
    assert level == "stack:cann"


def test_catalog_specs_when_the_catalog_is_available():
    hardware_catalog = pytest.importorskip("hardware_catalog")
    if not hasattr(hardware_catalog, "load"):
        pytest.skip("hardware_catalog.load is not available yet")
    cat = hardware_catalog.load()
    spec = HardwareSpec.from_catalog(cat, "ascend-910c")
    assert spec.memory_gib > 0 and spec.peak("int8") and spec.peak("fp8") is None
    assert spec.software_stack == "cann" and spec.scale_up_domain_chips == 384
    assert spec.chip_power_kw == pytest.approx(cat.chip_power_kw("ascend-910c"))


def test_error_against_the_catalog_meets_the_target():
    hardware_catalog = pytest.importorskip("hardware_catalog")
    if not hasattr(hardware_catalog, "load"):
        pytest.skip("hardware_catalog.load is not available yet")
    report = error_report()
    assert (report["status"] == "ok").all()
    summary = error_summary(report).set_index("set")
    assert summary.loc["calibration", "median_abs_error_pct"] <= 25
