"""Calibration: the measurement table, the fitting rule, overrides and the error report."""

from __future__ import annotations

import pytest

from workloads.calibration import (calibrate, chip_ratios, error_report, error_summary, load_measurements,
                                   model_value)
from workloads.estimator import HardwareSpec, estimate_inference
from workloads.models import load_models


# Stack efficiencies as the hardware catalog gives them (training MFU, inference efficiency).
STACKS = {"cuda": (0.35, 0.28), "cann": (0.30, 0.33)}


def _hw(id_, bf16, low, mem, bw, domain, link, stack, low_key="fp8"):
    peaks = {"bf16": bf16, "fp16": bf16, low_key: low}
    mfu, eff = STACKS[stack]
    return HardwareSpec(id=id_, peak_tflops=peaks, memory_gib=mem, memory_bandwidth_tb_per_s=bw, chip_power_kw=1.0,
                        tdp_w=None, scale_up_domain_chips=domain, training_mfu=mfu, inference_efficiency=eff,
                        software_stack=stack, scale_up_gb_per_s=link)


# Spec-sheet peaks, memory, bandwidth, scale-up domain and link (GB/s each way) of the measured chips.
HARDWARE = {h.id: h for h in [
    _hw("h800", 989, 1979, 80, 3.35, 8, 200, "cuda"), _hw("h100-sxm", 989, 1979, 80, 3.35, 8, 450, "cuda"),
    _hw("h20", 148, 296, 96, 4.0, 8, 450, "cuda"), _hw("ascend-910c", 752, 1504, 128, 3.2, 384, 392, "cann", "int8"),
    _hw("ascend-910b4", 280, 560, 32, 0.8, 8, 196, "cann", "int8"),
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
    recomputed = 100 * (ok["estimate"] - ok["measured"]) / ok["measured"]
    assert recomputed.tolist() == pytest.approx(ok["error_pct"].tolist())
    summary = error_summary(report).set_index("phase")
    assert summary.loc["serving", "calibration_rows"] > 0 and summary.loc["serving", "held_out_rows"] > 0
    held = ok[ok["set"] == "held-out"]
    assert (held["estimate"] == held["loo_estimate"]).all()  # a held-out row's error is already out of sample


def test_the_report_shows_the_model_never_a_measurement():
    """Every estimate in the report is the model at its factor, recomputed here, even where a measurement
    matches the row's configuration exactly."""
    report = error_report(HARDWARE).set_index("id")
    models = load_models()
    for m in load_measurements():
        if report.loc[m.id, "status"] != "ok" or m.phase == "training":
            continue
        again = model_value(m, models[m.model], HARDWARE[m.hardware], report.loc[m.id, "factor"])
        assert report.loc[m.id, "estimate"] == pytest.approx(again)


def test_unknown_hardware_is_reported_not_estimated():
    report = error_report({"h800": HARDWARE["h800"]})
    assert (report.loc[report["hardware"] == "h20", "status"] != "ok").all()


def test_a_measurement_replaces_the_model_only_where_the_configuration_matches():
    """cloudmatrix-910c-decode-50ms: DeepSeek-R1, int8, 160-chip decode replica, TPOT 50 ms, no cache hits.

    TPOT 54 ms is within 10 % of 50: the measured 1,943 stands (and the basis says so); 56 ms is not, and
    neither is 20 ms (the 15 ms figure is 25 % away), a 144-chip replica or a 30 % cache-hit rate.
    ``basis="model"`` never replaces.
    """
    cal = calibrate(HARDWARE)
    model = load_models()["deepseek-r1"]
    hw = HARDWARE["ascend-910c"]
    kw = dict(input_tokens=4096, output_tokens=256)

    def est(**more):
        return cal.estimate(model, hw, "int8", **{**dict(tpot_ms=50, chips_per_replica=160), **kw, **more})

    for tpot in (50, 54):
        hit = est(tpot_ms=tpot)
        assert hit.decode_tokens_per_s_per_chip == 1943
        assert hit.basis.startswith("measured:cloudmatrix-910c-decode-50ms")
        assert any("not the model" in note for note in hit.notes)
    for miss in (est(tpot_ms=56), est(tpot_ms=20), est(chips_per_replica=144), est(prefix_cache_hit_rate=0.3),
                 est(basis="model")):
        assert "measured" not in miss.basis and miss.decode_tokens_per_s_per_chip != 1943
    model_only = est(basis="model")
    factor, level = cal.factor("cann", "decode")
    assert level == "stack:cann" and model_only.decode_factor == factor
    prefill = est(prefill_chips_per_replica=16)
    assert prefill.prefill_tokens_per_s_per_chip == 6688 and "cloudmatrix-910c-prefill" in prefill.basis


def test_catalog_specs_when_the_catalog_is_available():
    hardware_catalog = pytest.importorskip("hardware_catalog")
    cat = hardware_catalog.load()
    spec = HardwareSpec.from_catalog(cat, "ascend-910c")
    assert spec.memory_gib > 0 and spec.peak("int8") and spec.peak("fp8") is None
    assert spec.software_stack == "cann" and spec.scale_up_domain_chips == 384
    assert spec.scale_up_gb_per_s == pytest.approx(392)  # 784 GB/s both ways
    assert spec.chip_power_kw == pytest.approx(cat.chip_power_kw("ascend-910c"))
    # no catalogued system: a chip with a scale-up link takes the default 8-chip domain, one without stays alone
    pr = HardwareSpec.from_catalog(cat, "ascend-950pr")
    assert pr.scale_up_domain_chips == 8 and pr.scale_up_gb_per_s == pytest.approx(1000)
    mlu = HardwareSpec.from_catalog(cat, "mlu590")
    assert mlu.scale_up_domain_chips == 1 and mlu.scale_up_gb_per_s is None
    assert mlu.memory_bandwidth_tb_per_s == pytest.approx(1.23)


def test_leave_one_out_error_against_the_catalog_meets_the_target():
    """Issue targets on the shipped table: leave-one-out median |error| <= 25 % over decode and prefill
    calibration rows, every one within 2x. Held-out rows are reported, not asserted (never tuned to)."""
    report = error_report()
    assert (report["status"] == "ok").all(), report.loc[report["status"] != "ok", ["id", "status"]]
    summary = error_summary(report).set_index("phase")
    assert summary.loc["serving", "loo_median_abs_error_pct"] <= 25
    assert summary.loc["serving", "loo_all_within_2x"]
    assert not chip_ratios(report).empty


def test_default_basis_never_falls_as_the_tpot_loosens_across_measurement_windows():
    """Where a measurement stands in for the model (TPOT within 10 % of its own), the figure on either
    side of its window is capped by a looser measurement and floored by a tighter one, so the default
    basis is monotone in the TPOT SLO too. DeepSeek-R1 on 160 Ascend 910C at int8 has two measured
    TPOTs (15 ms: 538, 50 ms: 1,943 decode tokens/s per chip)."""
    from workloads.calibration import calibrate, catalog_hardware
    from workloads.models import get_model

    cal = calibrate()
    hw = catalog_hardware(["ascend-910c"])["ascend-910c"]
    model = get_model("deepseek-r1")
    previous = 0.0
    bases = set()
    for tpot_ms in sorted([12 + 0.05 * i for i in range(100)] + [13.49] + [40 + 0.5 * i for i in range(40)]):
        est = cal.estimate(model, hw, "int8", tpot_ms=tpot_ms, chips_per_replica=160,
                           input_tokens=4096, output_tokens=256)
        assert est.decode_tokens_per_s_per_chip >= previous - 1e-9, tpot_ms
        previous = est.decode_tokens_per_s_per_chip
        bases.add(est.basis.split(",")[0].split(":")[0])
    assert {"measured", "capped"} <= bases
