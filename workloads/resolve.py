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


def training_hours(job: TrainingJob, catalog: Any, models: dict[str, Any], accelerators: list[str],
                   chips: int) -> Resolved:
    """Wall-clock hours of ``job`` with a gang of ``chips`` on each of ``accelerators``."""
    from workloads.models import get_model

    out = Resolved()
    model = get_model(job.model, models) if job.model else None
    for accel in accelerators:
        given = job.given_hours(accel)
        if given is not None:
            out.values[accel] = given
            out.figures.append(_row(job.id, accel, "hours", given, "given"))
            continue
        try:
            hours, basis = _estimate_hours(job, model, catalog, accel, chips)
        except InputError as exc:
            out.dropped[accel] = exc.detail + (f" ({exc.fix})" if exc.fix else "")
            continue
        out.values[accel] = hours
        out.figures.append(_row(job.id, accel, "hours", hours, basis))
    return out


def _estimate_hours(job: TrainingJob, model: Any, catalog: Any, accel: str, chips: int) -> tuple[float, str]:
    """Hours of the job's work on ``chips`` chips of ``accel``, and the basis of the figure."""
    from workloads.estimator import convert_chip_hours, estimate_training

    hw = _hardware(catalog, accel)
    if job.reference_chip_hours is not None:
        ref = _hardware(catalog, job.reference_chip_hours.accelerator)
        return (convert_chip_hours(job.reference_chip_hours.chip_hours, ref, hw, job.precision) / chips,
                f"converted from {job.reference_chip_hours.accelerator} chip-hours")
    if job.kind == "batch":
        est = _calibration().estimate(model, hw, job.precision, tpot_ms=job.tpot_ms, input_tokens=job.input_tokens,
                                      output_tokens=job.output_tokens)
        if not est.meets_tpot:
            raise InputError(f"{model.id} on {accel} cannot meet the {job.tpot_ms:g} ms TPOT even at batch 1",
                             fix="loosen tpot_ms")
        if chips < est.chips_per_replica:
            raise InputError(f"one replica of {model.id} needs {est.chips_per_replica} {accel} chips, the gang has "
                             f"{chips}", fix="raise chips (or chips_max)")
        replicas = chips // est.chips_per_replica
        # the volume counts input and output tokens; the replica's chips include its prefill share
        rate = replicas * est.chips_per_replica * est.total_tokens_per_s_per_chip
        return job.tokens / rate / 3600.0, f"batch: {replicas} replicas, {est.basis}"  # type: ignore[operator]
    est = estimate_training(model, hw, tokens=job.tokens, flops=job.flops, chips=chips, precision=job.precision)
    return est.hours, est.basis


def choose_gang(job: TrainingJob, catalog: Any, models: dict[str, Any], accelerators: list[str]
                ) -> tuple[int, dict[str, Any] | None]:
    """The gang size: ``chips`` if given, else the smallest size in [chips_min, chips_max] (powers of two
    and the bounds) that some allowed accelerator can run and, with a deadline, finish by it;
    the largest size if none finishes in time. Smaller gangs fit more places at the same chip-hours."""
    if job.chips is not None:
        return job.chips, None
    from workloads.models import get_model

    lo, hi = int(job.chips_min), int(job.chips_max)  # type: ignore[arg-type]
    sizes = sorted({lo, hi} | {2 ** k for k in range(hi.bit_length() + 1) if lo <= 2 ** k <= hi})
    model = get_model(job.model, models)
    window = (job.deadline_h - job.release_h) if job.deadline_h is not None else None
    for size in sizes:
        for accel in accelerators:
            try:
                hours, _basis = _estimate_hours(job, model, catalog, accel, size)
            except InputError:
                continue
            if window is None or hours <= window:
                return size, _row(job.id, accel, "chips", size, f"smallest gang in [{lo}, {hi}] that "
                                  + ("runs" if window is None else f"finishes within {window:g} h"))
    return hi, _row(job.id, accelerators[0] if accelerators else "", "chips", hi,
                    f"largest gang in [{lo}, {hi}]: no size finishes within the window")


def service_figures(svc: InferenceService, catalog: Any, models: dict[str, Any], accelerators: list[str]
                    ) -> tuple[Resolved, Resolved]:
    """(tokens/s per chip, chips per replica) of ``svc`` on each of ``accelerators``.

    tokens/s per chip is ``output_tokens_per_s_per_chip``: output tokens per second per
    chip end to end, the prefill pool's chips included (the figure ``planner estimate``
    prints first).
    """
    from workloads.models import get_model

    tps, cpr = Resolved(), Resolved()
    model = get_model(svc.model, models) if svc.model else None
    for accel in accelerators:
        if accel in svc.tokens_per_s_per_chip and accel in svc.chips_per_replica:
            tps.values[accel] = float(svc.tokens_per_s_per_chip[accel])
            cpr.values[accel] = int(svc.chips_per_replica[accel])
            tps.figures.append(_row(svc.id, accel, "tokens_per_s_per_chip", tps.values[accel], "given"))
            cpr.figures.append(_row(svc.id, accel, "chips_per_replica", cpr.values[accel], "given"))
            continue
        try:
            est = service_estimate(svc, model, _hardware(catalog, accel))
        except InputError as exc:
            tps.dropped[accel] = exc.detail + (f" ({exc.fix})" if exc.fix else "")
            continue
        if not est.meets_tpot:
            tps.dropped[accel] = f"cannot meet the {svc.tpot_ms:g} ms TPOT SLO even at batch 1"
            continue
        # services meter output tokens: the estimate counts every chip, prefill pool and decode pool
        value = float(svc.tokens_per_s_per_chip.get(accel, est.output_tokens_per_s_per_chip))
        tps.values[accel] = value
        cpr.values[accel] = int(est.chips_per_replica)
        tps.figures.append(_row(svc.id, accel, "tokens_per_s_per_chip", value,
                                "given" if accel in svc.tokens_per_s_per_chip else est.basis))
        cpr.figures.append(_row(svc.id, accel, "chips_per_replica", est.chips_per_replica,
                                "given" if accel in svc.chips_per_replica else "step-time model"))
    return tps, cpr


def service_estimate(svc: InferenceService, model: Any, hw: Any) -> Any:
    """The calibrated estimate the solver uses for ``svc`` on ``hw`` (measurement where one matches)."""
    return _calibration().estimate(model, hw, svc.precision, tpot_ms=svc.tpot_ms, ttft_ms=svc.ttft_ms,
                                   input_tokens=svc.input_tokens, output_tokens=svc.output_tokens,
                                   chips_per_replica=svc.chips_per_replica.get(hw.id))


def _row(workload: str, accel: str, figure: str, value: float, basis: str) -> dict[str, Any]:
    return {"workload": workload, "accelerator": accel, "figure": figure, "value": value, "basis": basis}
