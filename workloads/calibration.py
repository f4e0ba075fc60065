"""Calibrating the step-time estimator against published measurements.

Rules
    1. Fitted factors. For every (software stack, phase) with calibration rows,
       one factor scales the stack's compute efficiency (capped at 1 of peak)
       inside the step-time model, chosen to minimise the squared log error over
       those rows (a 1-D golden-section search); phases are decode and prefill.
       A stack with no rows for a phase takes the factor fitted on all stacks'
       rows of that phase; a phase with no rows keeps factor 1. Because the
       factor acts inside the model, the batch still meets the TPOT and no
       estimate exceeds the replica's roofline. Training rows get the geometric
       mean of measured / estimated chip-hours, reported only.
    2. Measured override. A measurement replaces the model's decode (prefill)
       figure only where its configuration matches the request: same hardware,
       model, precision and replica size (decode or prefill replica), the same
       stated prefix-cache hit rate and, for decode, a TPOT within 10 % of the
       measured one. The basis then names the measurement; ``basis="model"``
       never overrides.
    Rows marked ``held_out`` are never used to fit factors. The error report
    gives, per row, the in-sample error (factors fitted on all calibration rows),
    the leave-one-out error (refitted without the row) and, for held-out rows,
    their error against the full fit; and medians of each.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hardware_catalog.provenance import Confidence
from planner.errors import InputError
from planner.inputs.files import read_yaml
from workloads.estimator import (HardwareSpec, InferenceEstimate, cny_per_moutput_tokens, estimate_inference,
                                 estimate_training, with_throughput)
from workloads.models import ModelSpec, load_models, smaller_fix

MEASUREMENTS_FILE = Path(__file__).parent / "data" / "measurements.yaml"

Metric = Literal["decode_tokens_per_s_per_chip", "prefill_tokens_per_s_per_chip", "training_chip_hours"]
PHASE: dict[str, str] = {"decode_tokens_per_s_per_chip": "decode", "prefill_tokens_per_s_per_chip": "prefill",
                         "training_chip_hours": "training"}
#: a measured decode figure stands in for the model only within this relative distance of its TPOT
TPOT_MATCH = 0.10
#: golden-section search range of a fitted factor (x the stack's catalog compute efficiency)
FACTOR_RANGE = (0.05, 8.0)


class Variant(BaseModel):
    """Figures of the exact part measured where it differs from the catalog entry's value (within its range)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_gib: float | None = Field(None, gt=0)
    memory_bandwidth_tb_per_s: float | None = Field(None, gt=0)


class Setup(BaseModel):
    """The deployment a figure was measured under.

    ``chips_per_replica`` is the replica of the measured phase: the decode replica
    for decode rows, the prefill replica for prefill rows.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    chips_per_replica: int | None = Field(None, ge=1)
    tpot_ms: float = Field(50.0, gt=0)
    input_tokens: int = Field(2048, ge=1)
    output_tokens: int = Field(512, ge=1)
    kv_precision: str = "bf16"
    prefix_cache_hit_rate: float = Field(0.0, ge=0, lt=1)
    tokens: float | None = Field(None, gt=0)
    chips: int | None = Field(None, ge=1)
    variant: Variant | None = None


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
    raw = read_yaml(path, what="measurements file")
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


def _measured_hw(m: Measurement, hw: HardwareSpec) -> HardwareSpec:
    variant = m.setup.variant
    if variant is None:
        return hw
    return hw.replace(**{k: v for k, v in variant.model_dump().items() if v is not None})


def model_estimate(m: Measurement, model: ModelSpec, hw: HardwareSpec, factor: float = 1.0) -> InferenceEstimate:
    """The step-time model at a measurement's setup, its phase's efficiency scaled by ``factor``."""
    s = m.setup
    replica = {"chips_per_replica": s.chips_per_replica} if m.phase == "decode" else \
        {"prefill_chips_per_replica": s.chips_per_replica}
    return estimate_inference(model, _measured_hw(m, hw), m.precision, tpot_ms=s.tpot_ms, input_tokens=s.input_tokens,
                              output_tokens=s.output_tokens, kv_precision=s.kv_precision,
                              prefix_cache_hit_rate=s.prefix_cache_hit_rate,
                              decode_factor=factor if m.phase == "decode" else 1.0,
                              prefill_factor=factor if m.phase == "prefill" else 1.0, **replica)


def model_value(m: Measurement, model: ModelSpec, hw: HardwareSpec, factor: float = 1.0) -> float:
    """The model's figure for a measurement's metric and setup."""
    s = m.setup
    if m.metric == "training_chip_hours":
        if s.tokens is None or s.chips is None:
            raise InputError("training rows need setup.tokens and setup.chips", file=str(MEASUREMENTS_FILE),
                             field=m.id, fix="add tokens and chips under setup")
        return estimate_training(model, hw, s.tokens, s.chips, m.precision).chip_hours * factor
    return float(getattr(model_estimate(m, model, hw, factor), m.metric))


def roofline_of(m: Measurement, model: ModelSpec, hw: HardwareSpec) -> float | None:
    """The replica's roofline for a serving measurement (None for training)."""
    if m.phase == "training":
        return None
    est = model_estimate(m, model, hw)
    return est.roofline_decode_tokens_per_s_per_chip if m.phase == "decode" \
        else est.roofline_prefill_tokens_per_s_per_chip


def _geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


Row = tuple[Measurement, ModelSpec, HardwareSpec]


def _loss(rows: Sequence[Row], factor: float) -> float:
    total = 0.0
    for m, model, hw in rows:
        value = model_value(m, model, hw, factor)
        total += math.log(m.value / value) ** 2 if value > 0 else 1e6
    return total


def fit_factor(rows: Sequence[Row]) -> float:
    """The factor minimising the squared log error of ``rows`` (serving rows of one phase)."""
    if rows[0][0].phase == "training":
        return _geomean([m.value / model_value(m, model, hw) for m, model, hw in rows])
    lo, hi = math.log(FACTOR_RANGE[0]), math.log(FACTOR_RANGE[1])
    golden = (math.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = _loss(rows, math.exp(a)), _loss(rows, math.exp(b))
    for _ in range(36):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = _loss(rows, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = _loss(rows, math.exp(b))
    return math.exp((lo + hi) / 2)


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

    def matching(self, est: InferenceEstimate, hw: HardwareSpec, phase: str) -> Measurement | None:
        """The measurement whose configuration matches the estimate's (rule 2), if any."""
        metric = f"{phase}_tokens_per_s_per_chip"
        replica = est.chips_per_replica if phase == "decode" else est.prefill_chips_per_replica
        for m in self.measurements:
            s = m.setup
            if (m.hardware, m.model, m.precision, m.metric) != (hw.id, est.model_id, est.precision, metric):
                continue
            if s.chips_per_replica != replica or s.prefix_cache_hit_rate != est.prefix_cache_hit_rate:
                continue
            if phase == "decode" and abs(est.tpot_ms - s.tpot_ms) > TPOT_MATCH * s.tpot_ms:
                continue
            return m
        return None

    def _same_decode_setup(self, est: InferenceEstimate, hw: HardwareSpec) -> list[Measurement]:
        return [m for m in self.measurements
                if (m.hardware, m.model, m.precision, m.metric) == (hw.id, est.model_id, est.precision,
                                                                   "decode_tokens_per_s_per_chip")
                and m.setup.chips_per_replica == est.chips_per_replica
                and m.setup.prefix_cache_hit_rate == est.prefix_cache_hit_rate]

    def looser_decode_cap(self, est: InferenceEstimate, hw: HardwareSpec) -> Measurement | None:
        """The lowest decode measurement of the same configuration taken at a looser TPOT than the request.

        Where the model is above it, the estimate is capped there: a tighter SLO can never serve more than
        a measured looser one, so the figure never falls as the TPOT SLO loosens into a measurement's window.
        """
        looser = [m for m in self._same_decode_setup(est, hw) if m.setup.tpot_ms > est.tpot_ms * (1 + TPOT_MATCH)]
        return min(looser, key=lambda m: m.value, default=None)

    def tighter_decode_floor(self, est: InferenceEstimate, hw: HardwareSpec) -> Measurement | None:
        """The highest decode measurement of the same configuration taken at a tighter TPOT than the request.

        A looser SLO can always run the tighter one's batch, so the estimate is never below it: the figure
        never falls as the TPOT SLO loosens out of a measurement's window.
        """
        tighter = [m for m in self._same_decode_setup(est, hw) if m.setup.tpot_ms < est.tpot_ms * (1 - TPOT_MATCH)]
        return max(tighter, key=lambda m: m.value, default=None)

    def estimate(self, model: ModelSpec, hw: HardwareSpec, precision: str = "bf16", *, basis: str = "auto",
                 **kwargs: Any) -> InferenceEstimate:
        """Calibrated estimate; with ``basis="auto"`` a matching measurement replaces its phase's figure.

        ``basis="model"`` is the calibrated model alone; ``"uncalibrated"`` the catalog efficiencies.
        """
        if basis not in ("auto", "model", "uncalibrated"):
            raise InputError(f"unknown basis '{basis}'", field="--basis", fix="use auto, model or uncalibrated")
        if basis == "uncalibrated":
            return estimate_inference(model, hw, precision, **kwargs)
        f_decode, lvl_d = self.factor(hw.software_stack, "decode")
        f_prefill, lvl_p = self.factor(hw.software_stack, "prefill")
        est = estimate_inference(model, hw, precision, decode_factor=f_decode, prefill_factor=f_prefill,
                                 basis="calibrated", **kwargs)
        if basis == "model":
            return est
        decode, prefill = est.decode_tokens_per_s_per_chip, est.prefill_tokens_per_s_per_chip
        parts, notes = [], []
        for phase in ("decode", "prefill"):
            m = self.matching(est, hw, phase)
            if m is None:
                continue
            if phase == "decode":
                decode = m.value
            else:
                prefill = m.value
            parts.append(f"measured:{m.id}")
            notes.append(f"{phase} figure is the measurement {m.id} ({m.value:,.0f}/s per chip), not the model's "
                         f"{getattr(est, m.metric):,.0f}; --basis model shows the model alone")
        if not any(p.startswith("measured:") for p in parts) or self.matching(est, hw, "decode") is None:
            cap = self.looser_decode_cap(est, hw)
            if cap is not None and cap.value < decode:
                decode = cap.value
                parts.insert(0, f"capped:{cap.id}")
                notes.append(f"decode figure capped at the measurement {cap.id} ({cap.value:,.0f}/s per chip at a "
                             f"looser TPOT of {cap.setup.tpot_ms:g} ms), below the model's "
                             f"{est.decode_tokens_per_s_per_chip:,.0f}: a tighter SLO cannot serve more")
            floor = self.tighter_decode_floor(est, hw)
            if floor is not None and floor.value > decode:
                decode = floor.value
                parts.insert(0, f"floored:{floor.id}")
                notes.append(f"decode figure raised to the measurement {floor.id} ({floor.value:,.0f}/s per chip at "
                             f"a tighter TPOT of {floor.setup.tpot_ms:g} ms), above the model's "
                             f"{est.decode_tokens_per_s_per_chip:,.0f}: a looser SLO can run the same batch")
        if not parts or not est.meets_tpot:
            return est
        return with_throughput(est, decode, prefill, ",".join(parts) + ("" if len(parts) == 2 else ",calibrated"),
                               tuple(notes))


def fit(rows: Sequence[Row], measurements: Sequence[Measurement] = ()) -> Calibration:
    """Fit factors from (measurement, model, hardware) rows; held-out rows are skipped."""
    by_stack: dict[tuple[str, str], list[Row]] = defaultdict(list)
    by_phase: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        m, _, hw = row
        if m.held_out:
            continue
        by_stack[(hw.software_stack or "unknown", m.phase)].append(row)
        by_phase[m.phase].append(row)
    return Calibration(stack_factors={k: fit_factor(v) for k, v in by_stack.items()},
                       phase_factors={k: fit_factor(v) for k, v in by_phase.items()},
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
              models: Mapping[str, ModelSpec]) -> tuple[list[Row], dict[str, str]]:
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    for m in measurements:
        hw, model = hardware.get(m.hardware), models.get(m.model)
        if hw is None or model is None:
            skipped[m.id] = "no spec for the hardware or model"
            continue
        try:
            model_value(m, model, hw)
            roof = roofline_of(m, model, hw)
        except InputError as exc:
            skipped[m.id] = f"the model cannot run this setup: {exc.detail}"
            continue
        if roof is not None and m.value > roof * (1 + 1e-9):
            skipped[m.id] = (f"measured {m.value:,.0f} is above the replica's roofline {roof:,.0f} with the catalog's "
                             "figures: the catalog or the setup is wrong, so the row cannot calibrate")
            continue
        rows.append((m, model, hw))
    return rows, skipped


def _inputs(hardware: Mapping[str, HardwareSpec] | None, models: Mapping[str, ModelSpec] | None,
            measurements: Sequence[Measurement] | None
            ) -> tuple[list[Measurement], Mapping[str, HardwareSpec], Mapping[str, ModelSpec]]:
    measurements = list(measurements) if measurements is not None else load_measurements()
    hardware = hardware if hardware is not None else catalog_hardware(sorted({m.hardware for m in measurements}))
    models = models if models is not None else load_models()
    return measurements, hardware, models


def calibrate(hardware: Mapping[str, HardwareSpec] | None = None, models: Mapping[str, ModelSpec] | None = None,
              measurements: Sequence[Measurement] | None = None) -> Calibration:
    """Fit the calibration from the shipped measurement table."""
    measurements, hardware, models = _inputs(hardware, models, measurements)
    rows, _ = _evaluate(measurements, hardware, models)
    return fit(rows, measurements)


def _error_pct(estimate: float, measured: float) -> float:
    return 100.0 * (estimate - measured) / measured


def factor_table(calibration: Calibration | None = None) -> pd.DataFrame:
    """The fitted factors: per (stack, phase) where the stack has rows, per phase across stacks otherwise."""
    cal = calibration or calibrate()
    rows = [{"stack": stack, "phase": phase, "factor": f,
             "rows": sum(1 for m in cal.measurements if m.phase == phase and not m.held_out
                         and _stack_of(m) == stack)}
            for (stack, phase), f in sorted(cal.stack_factors.items())]
    rows += [{"stack": "(all stacks: stacks without rows)", "phase": phase, "factor": f,
              "rows": sum(1 for m in cal.measurements if m.phase == phase and not m.held_out)}
             for phase, f in sorted(cal.phase_factors.items())]
    return pd.DataFrame(rows)


def _stack_of(m: Measurement) -> str | None:
    spec = catalog_hardware([m.hardware]).get(m.hardware)
    return spec.software_stack if spec else None


def error_report(hardware: Mapping[str, HardwareSpec] | None = None, models: Mapping[str, ModelSpec] | None = None,
                 measurements: Sequence[Measurement] | None = None) -> pd.DataFrame:
    """The calibrated model (never a measurement) against every published row.

    ``estimate``/``error_pct``: factors fitted on all calibration rows (in-sample
    for calibration rows, out-of-sample for held-out rows). ``loo_estimate``/
    ``loo_error_pct``: refitted without the row itself; for held-out rows the same
    as the full fit. ``ratio`` is estimate / measured of the honest figure (LOO for
    calibration rows). Rows the model cannot evaluate get a ``status`` saying why.
    """
    measurements, hardware, models = _inputs(hardware, models, measurements)
    rows, skipped = _evaluate(measurements, hardware, models)
    cal = fit(rows, measurements)
    records: list[dict[str, Any]] = []
    for i, (m, model, hw) in enumerate(rows):
        factor, level = cal.factor(hw.software_stack, m.phase)
        estimate = model_value(m, model, hw, factor)
        if m.held_out:
            loo_factor, loo_level = factor, level
        else:
            loo = fit(rows[:i] + rows[i + 1:])
            loo_factor, loo_level = loo.factor(hw.software_stack, m.phase)
        loo_estimate = model_value(m, model, hw, loo_factor) if not m.held_out else estimate
        records.append({
            "id": m.id, "set": "held-out" if m.held_out else "calibration", "hardware": m.hardware,
            "stack": hw.software_stack, "model": m.model, "precision": m.precision, "metric": m.metric,
            "phase": m.phase, "chips": m.setup.chips_per_replica or m.setup.chips,
            "tpot_ms": m.setup.tpot_ms if m.phase == "decode" else None,
            "measured": m.value, "uncalibrated": model_value(m, model, hw), "roofline": roofline_of(m, model, hw),
            "factor": factor, "factor_level": level, "estimate": estimate,
            "error_pct": _error_pct(estimate, m.value),
            "loo_factor": loo_factor, "loo_factor_level": loo_level, "loo_estimate": loo_estimate,
            "loo_error_pct": _error_pct(loo_estimate, m.value),
            "ratio": loo_estimate / m.value,
            "confidence": m.confidence.value, "source": m.source, "status": "ok",
        })
    for m in measurements:
        if m.id in skipped:
            records.append({"id": m.id, "set": "held-out" if m.held_out else "calibration", "hardware": m.hardware,
                            "model": m.model, "precision": m.precision, "metric": m.metric, "phase": m.phase,
                            "measured": m.value, "confidence": m.confidence.value, "source": m.source,
                            "status": skipped[m.id]})
    return pd.DataFrame.from_records(records)


def error_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Median and worst absolute % error per phase: in-sample, leave-one-out and held-out."""
    ok = report[report["status"] == "ok"]
    out = []
    for phase in ("decode", "prefill", "serving", "training"):
        part = ok[ok["phase"].isin(["decode", "prefill"])] if phase == "serving" else ok[ok["phase"] == phase]
        cal, held = part[part["set"] == "calibration"], part[part["set"] == "held-out"]

        def stat(frame: pd.DataFrame, col: str, how: str) -> float | None:
            values = frame[col].astype(float).abs()
            return (values.median() if how == "median" else values.max()) if len(values) else None

        loo_ratios = cal["ratio"].astype(float)
        held_ratios = held["ratio"].astype(float)
        out.append({
            "phase": phase, "calibration_rows": len(cal), "held_out_rows": len(held),
            "in_sample_median_abs_error_pct": stat(cal, "error_pct", "median"),
            "loo_median_abs_error_pct": stat(cal, "loo_error_pct", "median"),
            "loo_worst_abs_error_pct": stat(cal, "loo_error_pct", "max"),
            "held_out_median_abs_error_pct": stat(held, "error_pct", "median"),
            "held_out_worst_abs_error_pct": stat(held, "error_pct", "max"),
            "loo_all_within_2x": bool(loo_ratios.between(0.5, 2.0).all()) if len(loo_ratios) else None,
            "held_out_all_within_2x": bool(held_ratios.between(0.5, 2.0).all()) if len(held_ratios) else None,
        })
    return pd.DataFrame(out)


def chip_ratios(report: pd.DataFrame) -> pd.DataFrame:
    """Ratios between chips where both were measured on the same phase and model architecture.

    Decode pairs must share the TPOT. ``published`` is measured A / measured B;
    ``estimated`` the ratio of the calibrated model's figures (what ``planner
    estimate --basis model`` prints), ``loo_estimated`` of the leave-one-out figures;
    ``off_pct`` how far each is from the published ratio.
    """
    ok = report[(report["status"] == "ok") & report["phase"].isin(["decode", "prefill"])]
    models = load_models()
    records = []
    for (_, a), (_, b) in itertools.combinations(ok.iterrows(), 2):
        if a["phase"] != b["phase"] or a["hardware"] == b["hardware"]:
            continue
        if not _same_architecture(models, a["model"], b["model"]):
            continue
        if a["phase"] == "decode" and a["tpot_ms"] != b["tpot_ms"]:
            continue  # chips compare at one service level
        a, b = (a, b) if a["measured"] >= b["measured"] else (b, a)
        published = a["measured"] / b["measured"]
        fitted = a["estimate"] / b["estimate"]
        honest = a["loo_estimate"] / b["loo_estimate"]
        records.append({"phase": a["phase"], "a": a["id"], "b": b["id"], "published": published,
                        "estimated": fitted, "off_pct": 100.0 * (fitted - published) / published,
                        "loo_estimated": honest, "loo_off_pct": 100.0 * (honest - published) / published})
    return pd.DataFrame.from_records(records)


def _same_architecture(models: Mapping[str, ModelSpec], a: str, b: str) -> bool:
    if a == b:
        return True
    if a not in models or b not in models:
        return False
    ma, mb = models[a], models[b]
    keep = ("layers", "hidden_size", "attention", "experts_routed", "experts_active", "kv_lora_rank")
    return ma.total_params == mb.total_params and ma.active_params == mb.active_params \
        and all(getattr(ma, k) == getattr(mb, k) for k in keep)


def compare_accelerators(model: ModelSpec, hardware: Mapping[str, HardwareSpec],
                         calibration: Calibration | None = None, *, precision: str = "bf16",
                         price_cny_per_kwh: float | None = None, pue: float = 1.0, basis: str = "auto",
                         unavailable: Mapping[str, str] | None = None, **kwargs: Any) -> pd.DataFrame:
    """One row per accelerator: serving figures on ``basis``, or why it cannot serve the model.

    Raises InputError when the model fits on none of them.
    """
    records: list[dict[str, Any]] = []
    reasons: dict[str, str] = {}
    for accel_id, hw in sorted(hardware.items()):
        try:
            if calibration is None or basis == "uncalibrated":
                est = estimate_inference(model, hw, precision, **kwargs)
            else:
                est = calibration.estimate(model, hw, precision, basis=basis, **kwargs)
        except InputError as exc:
            reasons[accel_id] = exc.detail
            continue
        records.append(estimate_row(est, price_cny_per_kwh, pue))
    if not records and len(reasons) == 1:
        (accel_id, reason), = reasons.items()
        raise InputError(reason, field=accel_id, fix=smaller_fix(precision, "a shorter context",
                                                                   "an accelerator with more memory"))
    if not records:
        detail = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "the catalog is empty"
        raise InputError(f"{model.id} at {precision} fits on no accelerator ({detail})", field="model",
                         fix=smaller_fix(precision, "a shorter context", "a larger accelerator"))
    for accel_id, reason in {**reasons, **(unavailable or {})}.items():
        records.append({"accelerator": accel_id, "notes": reason})
    return pd.DataFrame.from_records(records)


def estimate_row(est: InferenceEstimate, price: float | None = None, pue: float = 1.0) -> dict[str, Any]:
    """The figures ``planner estimate`` prints, throughput meaning first."""
    row: dict[str, Any] = {
        "accelerator": est.accelerator_id,
        "output_tokens_per_s_per_chip": est.output_tokens_per_s_per_chip,
        "input_tokens_per_s_per_chip": est.input_tokens_per_s_per_chip,
        "basis": est.basis,
        "precision": est.precision, "chips_per_replica": est.chips_per_replica,
        "prefill_chips_per_replica": est.prefill_chips_per_replica, "prefill_chip_share": est.prefill_chip_share,
        "batch_size": est.batch_size, "step_ms": est.step_ms,
        "decode_tokens_per_s_per_chip": est.decode_tokens_per_s_per_chip,
        "prefill_tokens_per_s_per_chip": est.prefill_tokens_per_s_per_chip,
        "roofline_output_tokens_per_s_per_chip": est.roofline_output_tokens_per_s_per_chip,
        "ttft_ms": est.ttft_ms, "meets_tpot": est.meets_tpot, "decode_bound": est.decode_bound,
        "power_kw_per_chip": est.power_kw_per_chip, "output_tokens_per_kwh": est.output_tokens_per_kwh,
    }
    if price is not None:
        row["cny_per_moutput_tokens"] = cny_per_moutput_tokens(est, price, pue)
    row["notes"] = "; ".join(est.notes)
    return row
