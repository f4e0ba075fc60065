"""Calibrating the roofline estimator against published measurements.

Rules
    1. Fitted factor. For every (software stack, phase) with calibration rows,
       factor = geometric mean of measured / roofline over those rows; phases are
       decode, prefill and training. A stack with no rows for a phase takes the
       geometric mean over all stacks for that phase; a phase with no rows at
       all keeps factor 1. Calibrated estimate = roofline x factor.
    2. Measured override. Where the measurement table holds the exact
       (hardware, model, precision) and metric, the planner uses the measured
       figure instead of the estimate. For decode it must have been measured at
       a TPOT no looser than the one asked for (a stricter SLO is a safe lower
       bound); the loosest such TPOT wins.
    Rows marked ``held_out`` are never used to fit factors; the error report
    gives their error separately. The report shows the calibrated estimate
    before any override (an override would make its own error zero).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hardware_catalog.provenance import Confidence
from planner.errors import InputError
from workloads.estimator import (HardwareSpec, InferenceEstimate, estimate_inference, estimate_training,
                                 with_throughput)
from workloads.models import ModelSpec, load_models

MEASUREMENTS_FILE = Path(__file__).parent / "data" / "measurements.yaml"

Metric = Literal["decode_tokens_per_s_per_chip", "prefill_tokens_per_s_per_chip", "training_chip_hours"]
PHASE: dict[str, str] = {"decode_tokens_per_s_per_chip": "decode", "prefill_tokens_per_s_per_chip": "prefill",
                         "training_chip_hours": "training"}


class Setup(BaseModel):
    """The deployment a figure was measured under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chips_per_replica: int | None = Field(None, ge=1)
    tpot_ms: float = Field(50.0, gt=0)
    input_tokens: int = Field(2048, ge=1)
    output_tokens: int = Field(512, ge=1)
    kv_precision: str = "bf16"
    prefix_cache_hit_rate: float = Field(0.0, ge=0, lt=1)
    tokens: float | None = Field(None, gt=0)
    chips: int | None = Field(None, ge=1)


class Measurement(BaseModel):
    """One published figure with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    hardware: str
    model: str
    precision: str
    metric: Metric
    value: float = Field(gt=0)
    source: str = Field(min_length=1)
    retrieved: dt.date
    rechecked: bool | None = None  # false: not re-read since first recorded (see hardware_catalog.provenance)
    confidence: Confidence
    held_out: bool = False
    setup: Setup = Setup()
    note: str | None = None

    @property
    def phase(self) -> str:
        return PHASE[self.metric]


def load_measurements(path: Path | None = None) -> list[Measurement]:
    """Read the measurement table (a YAML list)."""
    path = path or MEASUREMENTS_FILE
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, list):
        raise InputError("expected a list of measurements", file=str(path), fix="write '- id: ...' entries")
    rows: list[Measurement] = []
    for i, item in enumerate(raw):
        try:
            rows.append(Measurement(**item))
        except (ValidationError, TypeError) as exc:
            name = item.get("id", f"[{i}]") if isinstance(item, dict) else f"[{i}]"
            raise InputError(str(exc).splitlines()[0] if not isinstance(exc, ValidationError)
                             else exc.errors()[0]["msg"], file=str(path), field=str(name),
                             fix="see the header of measurements.yaml for the fields") from exc
    ids = [r.id for r in rows]
    if len(ids) != len(set(ids)):
        raise InputError("duplicate measurement id", file=str(path), field="id", fix="give each row its own id")
    return rows


def roofline_value(m: Measurement, model: ModelSpec, hw: HardwareSpec) -> float:
    """The uncalibrated estimator's figure for a measurement's metric and setup."""
    s = m.setup
    if m.metric == "training_chip_hours":
        if s.tokens is None or s.chips is None:
            raise InputError("training rows need setup.tokens and setup.chips", file=str(MEASUREMENTS_FILE),
                             field=m.id, fix="add tokens and chips under setup")
        return estimate_training(model, hw, s.tokens, s.chips, m.precision).chip_hours
    est = estimate_inference(model, hw, m.precision, tpot_ms=s.tpot_ms, input_tokens=s.input_tokens,
                             output_tokens=s.output_tokens, chips_per_replica=s.chips_per_replica,
                             kv_precision=s.kv_precision, prefix_cache_hit_rate=s.prefix_cache_hit_rate)
    return getattr(est, m.metric)


def _geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


@dataclass(frozen=True)
class Calibration:
    """Fitted factors per (stack, phase) and per phase, plus the measurements for overrides."""

    stack_factors: Mapping[tuple[str, str], float]
    phase_factors: Mapping[str, float]
    measurements: tuple[Measurement, ...] = ()

    def factor(self, stack: str | None, phase: str) -> tuple[float, str]:
        """The factor for a stack and phase, and the level it came from."""
        if stack is not None and (stack, phase) in self.stack_factors:
            return self.stack_factors[(stack, phase)], f"stack:{stack}"
        if phase in self.phase_factors:
            return self.phase_factors[phase], "all-stacks"
        return 1.0, "none"

    def measured(self, hardware: str, model: str, precision: str, metric: str,
                 tpot_ms: float | None = None) -> Measurement | None:
        """The measurement that overrides an estimate, if any (rule 2 in the module docstring)."""
        hits = [m for m in self.measurements
                if (m.hardware, m.model, m.precision, m.metric) == (hardware, model, precision, metric)]
        if metric == "decode_tokens_per_s_per_chip" and tpot_ms is not None:
            hits = [m for m in hits if m.setup.tpot_ms <= tpot_ms]
            hits.sort(key=lambda m: m.setup.tpot_ms)
        return hits[-1] if hits else None

    def apply(self, est: InferenceEstimate, hw: HardwareSpec, *, override: bool = True) -> InferenceEstimate:
        """Scale an inference estimate by the fitted factors, then apply measured overrides."""
        f_decode, _ = self.factor(hw.software_stack, "decode")
        f_prefill, _ = self.factor(hw.software_stack, "prefill")
        decode = est.decode_tokens_per_s_per_chip * f_decode
        prefill = est.prefill_tokens_per_s_per_chip * f_prefill
        basis = "calibrated"
        if override:
            m_dec = self.measured(hw.id, est.model_id, est.precision, "decode_tokens_per_s_per_chip", est.tpot_ms)
            m_pre = self.measured(hw.id, est.model_id, est.precision, "prefill_tokens_per_s_per_chip")
            if m_dec is not None:
                decode, basis = m_dec.value, f"measured:{m_dec.id}"
            if m_pre is not None:
                prefill = m_pre.value
                basis = f"{basis},measured:{m_pre.id}" if basis.startswith("measured") else f"measured:{m_pre.id}"
        return with_throughput(est, decode, prefill, basis)


def fit(rows: Sequence[tuple[Measurement, HardwareSpec, float]],
        measurements: Sequence[Measurement] = ()) -> Calibration:
    """Fit factors from (measurement, hardware, roofline value) rows; held-out rows are skipped."""
    by_stack: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_phase: dict[str, list[float]] = defaultdict(list)
    for m, hw, roofline in rows:
        if m.held_out:
            continue
        ratio = m.value / roofline
        by_stack[(hw.software_stack or "unknown", m.phase)].append(ratio)
        by_phase[m.phase].append(ratio)
    return Calibration(stack_factors={k: _geomean(v) for k, v in by_stack.items()},
                       phase_factors={k: _geomean(v) for k, v in by_phase.items()},
                       measurements=tuple(measurements))


def catalog_hardware(ids: Sequence[str] | None = None,
                     unavailable: dict[str, str] | None = None) -> dict[str, HardwareSpec]:
    """HardwareSpecs from ``hardware_catalog.load()`` (all accelerators, or ``ids``).

    Accelerators the estimator cannot use (e.g. no published memory bandwidth) are
    left out; pass a dict as ``unavailable`` to collect why.
    """
    try:
        import hardware_catalog
        cat = hardware_catalog.load()  # type: ignore[attr-defined]
    except (ImportError, AttributeError) as exc:
        raise InputError("the hardware catalog is not available", field="hardware_catalog",
                         fix="install a planner version whose hardware_catalog provides load()") from exc
    if ids is None:
        table = getattr(cat, "accelerators", None)
        ids = list(table) if table is not None else []
    specs = {}
    for accel_id in ids:
        try:
            specs[accel_id] = HardwareSpec.from_catalog(cat, accel_id)
        except (InputError, KeyError) as exc:
            if unavailable is not None:
                unavailable[accel_id] = exc.detail if isinstance(exc, InputError) else str(exc)
            continue
    return specs


def _evaluate(measurements: Sequence[Measurement], hardware: Mapping[str, HardwareSpec],
              models: Mapping[str, ModelSpec]) -> tuple[list[tuple[Measurement, HardwareSpec, float]], list[str]]:
    rows, skipped = [], []
    for m in measurements:
        hw, model = hardware.get(m.hardware), models.get(m.model)
        if hw is None or model is None:
            skipped.append(m.id)
            continue
        try:
            rows.append((m, hw, roofline_value(m, model, hw)))
        except InputError:
            skipped.append(m.id)
    return rows, skipped


def calibrate(hardware: Mapping[str, HardwareSpec] | None = None, models: Mapping[str, ModelSpec] | None = None,
              measurements: Sequence[Measurement] | None = None) -> Calibration:
    """Fit the calibration from the shipped measurement table."""
    measurements = list(measurements) if measurements is not None else load_measurements()
    hardware = hardware if hardware is not None else catalog_hardware(sorted({m.hardware for m in measurements}))
    models = models if models is not None else load_models()
    rows, _ = _evaluate(measurements, hardware, models)
    return fit(rows, measurements)


def error_report(hardware: Mapping[str, HardwareSpec] | None = None, models: Mapping[str, ModelSpec] | None = None,
                 measurements: Sequence[Measurement] | None = None) -> pd.DataFrame:
    """Estimate vs measurement for every row: roofline, factor, calibrated estimate and % errors.

    ``abs_error_pct`` is |estimate - measured| / measured with factors fitted on
    the calibration rows. ``loo_abs_error_pct`` refits without the row itself
    (leave-one-out), the honest error for a calibration row. Rows whose
    hardware or model is unknown get no estimate and ``status`` says why.
    """
    measurements = list(measurements) if measurements is not None else load_measurements()
    hardware = hardware if hardware is not None else catalog_hardware(sorted({m.hardware for m in measurements}))
    models = models if models is not None else load_models()
    rows, skipped = _evaluate(measurements, hardware, models)
    cal = fit(rows, measurements)
    records: list[dict[str, Any]] = []
    for i, (m, hw, roofline) in enumerate(rows):
        factor, level = cal.factor(hw.software_stack, m.phase)
        estimate = roofline * factor
        loo = fit(rows[:i] + rows[i + 1:]) if not m.held_out else cal
        loo_estimate = roofline * loo.factor(hw.software_stack, m.phase)[0]
        records.append({
            "id": m.id, "set": "held-out" if m.held_out else "calibration", "hardware": m.hardware,
            "stack": hw.software_stack, "model": m.model, "precision": m.precision, "metric": m.metric,
            "measured": m.value, "roofline": roofline, "factor": factor, "factor_level": level,
            "estimate": estimate, "error_pct": 100.0 * (estimate - m.value) / m.value,
            "abs_error_pct": 100.0 * abs(estimate - m.value) / m.value,
            "loo_abs_error_pct": 100.0 * abs(loo_estimate - m.value) / m.value,
            "confidence": m.confidence.value, "source": m.source, "status": "ok",
        })
    for mid in skipped:
        m = next(x for x in measurements if x.id == mid)
        records.append({"id": m.id, "set": "held-out" if m.held_out else "calibration", "hardware": m.hardware,
                        "stack": None, "model": m.model, "precision": m.precision, "metric": m.metric,
                        "measured": m.value, "roofline": None, "factor": None, "factor_level": None,
                        "estimate": None, "error_pct": None, "abs_error_pct": None, "loo_abs_error_pct": None,
                        "confidence": m.confidence.value, "source": m.source,
                        "status": "no spec for hardware/model or it does not fit"})
    return pd.DataFrame.from_records(records)


def error_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Median and worst absolute % error on the calibration set and on the held-out set."""
    out = []
    for name in ("calibration", "held-out"):
        part = report[(report["set"] == name) & (report["status"] == "ok")]
        abs_err = part["abs_error_pct"].astype(float)
        loo = part["loo_abs_error_pct"].astype(float)
        out.append({"set": name, "rows": len(part),
                    "median_abs_error_pct": abs_err.median() if len(part) else None,
                    "worst_abs_error_pct": abs_err.max() if len(part) else None,
                    "median_loo_abs_error_pct": loo.median() if len(part) else None,
                    "worst_loo_abs_error_pct": loo.max() if len(part) else None})
    return pd.DataFrame(out)


def compare_accelerators(model: ModelSpec, hardware: Mapping[str, HardwareSpec],
                         calibration: Calibration | None = None, *, precision: str = "bf16",
                         price_cny_per_kwh: float | None = None, pue: float = 1.0,
                         unavailable: Mapping[str, str] | None = None, **kwargs: Any) -> pd.DataFrame:
    """One row per accelerator: calibrated serving figures, or why it cannot serve the model.

    Raises InputError when the model fits on none of them.
    """
    from workloads.estimator import cny_per_mtokens

    records: list[dict[str, Any]] = []
    reasons: dict[str, str] = {}
    for accel_id, hw in sorted(hardware.items()):
        try:
            est = estimate_inference(model, hw, precision, **kwargs)
        except InputError as exc:
            reasons[accel_id] = exc.detail
            continue
        if calibration is not None:
            est = calibration.apply(est, hw)
        records.append(_row(est, price_cny_per_kwh, pue, cny_per_mtokens))
    if not records and len(reasons) == 1:
        (accel_id, reason), = reasons.items()
        raise InputError(reason, field=accel_id, fix="try a lower precision (fp8/int8), a shorter context, "
                         "or an accelerator with more memory")
    if not records:
        detail = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "the catalog is empty"
        raise InputError(f"{model.id} at {precision} fits on no accelerator ({detail})", field="model",
                         fix="try a lower precision (fp8/int8), a shorter context, or add a larger accelerator")
    for accel_id, reason in {**reasons, **(unavailable or {})}.items():
        records.append({"accelerator": accel_id, "notes": reason})
    return pd.DataFrame.from_records(records)


def _row(est: InferenceEstimate, price: float | None, pue: float, cost_fn: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "accelerator": est.accelerator_id, "precision": est.precision,
        "chips_per_replica": est.chips_per_replica, "batch_size": est.batch_size,
        "decode_tokens_per_s_per_chip": est.decode_tokens_per_s_per_chip,
        "prefill_tokens_per_s_per_chip": est.prefill_tokens_per_s_per_chip,
        "tokens_per_s_per_chip": est.tokens_per_s_per_chip, "ttft_ms": est.ttft_ms,
        "meets_tpot": est.meets_tpot, "decode_bound": est.decode_bound,
        "power_kw_per_chip": est.power_kw_per_chip, "tokens_per_kwh": est.tokens_per_kwh,
    }
    if price is not None:
        row["cny_per_mtokens"] = cost_fn(est, price, pue)
    row["basis"] = est.basis
    row["notes"] = "; ".join(est.notes)
    return row
