"""Fill the figures a scenario leaves out (training hours, throughput, replica size) from the estimator.

Given figures always win. Otherwise training hours come from
``estimate_training`` (6·N·D FLOPs at the stack's MFU), and inference throughput
and chips per replica from ``estimate_inference`` calibrated against published
measurements (``workloads.calibration``), a measured figure overriding where one
matches. Every figure is recorded with its basis (given, roofline, calibrated,
measured) so the plan says which numbers were estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from planner.errors import InputError
from workloads.jobs import InferenceService, TrainingJob


@dataclass
class Resolved:
    values: dict[str, Any] = field(default_factory=dict)  # per accelerator
    figures: list[dict[str, Any]] = field(default_factory=list)  # provenance rows
    dropped: dict[str, str] = field(default_factory=dict)  # accelerator → why it cannot run the work


@lru_cache(maxsize=1)
def _calibration() -> Any:
    from workloads.calibration import calibrate

    return calibrate()


def _hardware(catalog: Any, accel: str) -> Any:
    from workloads.estimator import HardwareSpec

    return HardwareSpec.from_catalog(catalog, accel)


def training_hours(job: TrainingJob, catalog: Any, models: dict[str, Any]) -> Resolved:
    """Wall-clock hours of ``job`` on each allowed accelerator."""
    from workloads.estimator import convert_chip_hours, estimate_training
    from workloads.models import get_model

    out = Resolved()
    model = get_model(job.model, models) if job.model else None
    for accel in job.allowed_accelerators:
        given = job.given_hours(accel)
        if given is not None:
            out.values[accel] = given
            out.figures.append(_row(job.id, accel, "hours", given, "given"))
            continue
        try:
            hw = _hardware(catalog, accel)
            if job.reference_chip_hours is not None:
                ref = _hardware(catalog, job.reference_chip_hours.accelerator)
                hours = convert_chip_hours(job.reference_chip_hours.chip_hours, ref, hw, job.precision) / job.chips
                basis = f"converted from {job.reference_chip_hours.accelerator} chip-hours"
            else:
                est = estimate_training(model, hw, tokens=job.tokens, flops=job.flops, chips=job.chips,
                                        precision=job.precision)
                hours, basis = est.hours, est.basis
        except InputError as exc:
            out.dropped[accel] = exc.detail + (f" ({exc.fix})" if exc.fix else "")
            continue
        out.values[accel] = hours
        out.figures.append(_row(job.id, accel, "hours", hours, basis))
    return out


def service_figures(svc: InferenceService, catalog: Any, models: dict[str, Any]) -> tuple[Resolved, Resolved]:
    """(tokens/s per chip, chips per replica) of ``svc`` on each allowed accelerator."""
    from workloads.estimator import estimate_inference
    from workloads.models import get_model

    tps, cpr = Resolved(), Resolved()
    model = get_model(svc.model, models) if svc.model else None
    for accel in svc.allowed_accelerators:
        if accel in svc.tokens_per_s_per_chip and accel in svc.chips_per_replica:
            tps.values[accel] = float(svc.tokens_per_s_per_chip[accel])
            cpr.values[accel] = int(svc.chips_per_replica[accel])
            tps.figures.append(_row(svc.id, accel, "tokens_per_s_per_chip", tps.values[accel], "given"))
            cpr.figures.append(_row(svc.id, accel, "chips_per_replica", cpr.values[accel], "given"))
            continue
        try:
            hw = _hardware(catalog, accel)
            est = estimate_inference(model, hw, precision=svc.precision, tpot_ms=svc.tpot_ms, ttft_ms=svc.ttft_ms,
                                     input_tokens=svc.input_tokens, output_tokens=svc.output_tokens,
                                     chips_per_replica=svc.chips_per_replica.get(accel))
            est = _calibration().apply(est, hw)
        except InputError as exc:
            tps.dropped[accel] = exc.detail + (f" ({exc.fix})" if exc.fix else "")
            continue
        if not est.meets_tpot:
            tps.dropped[accel] = f"cannot meet the {svc.tpot_ms:g} ms TPOT SLO even at batch 1"
            continue
        value = float(svc.tokens_per_s_per_chip.get(accel, est.tokens_per_s_per_chip))
        tps.values[accel] = value
        cpr.values[accel] = int(est.chips_per_replica)
        tps.figures.append(_row(svc.id, accel, "tokens_per_s_per_chip", value,
                                "given" if accel in svc.tokens_per_s_per_chip else est.basis))
        cpr.figures.append(_row(svc.id, accel, "chips_per_replica", est.chips_per_replica,
                                "given" if accel in svc.chips_per_replica else "roofline"))
    return tps, cpr


def _row(workload: str, accel: str, figure: str, value: float, basis: str) -> dict[str, Any]:
    return {"workload": workload, "accelerator": accel, "figure": figure, "value": value, "basis": basis}
