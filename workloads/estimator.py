"""Roofline estimates of training time and serving throughput per accelerator.

Pure functions, no solver: one (model, accelerator, precision) evaluation takes
tens of microseconds, so sweeping a whole catalog is instant.

Training
    FLOPs = tokens x (6 x active params + 6·L·H·T·(d_qk + d_v))   (PaLM, app. B)
    hours = FLOPs / (chips x peak[bf16] x MFU[stack])   (catalog MFU is relative to BF16 peak)

Inference (one replica of ``n`` chips)
    prefill is compute-bound:
        s/token/chip = 2·active / (peak x eff) + attention(input/2) / (peak_kv x eff)
    decode is a roofline at batch B (concurrent sequences):
        step(B) = max( [weights read(B) + B·ctx·kv_bytes] / (n·bandwidth·eff_bw),
                       B·[2·active / peak + attention(ctx) / peak_kv] / (n·eff) )
        B = the largest batch with step(B) <= TPOT and weights + B·ctx_max·kv_bytes
            within n x memory x usable fraction
    decode tokens/s per chip = B / step(B) / n

``eff`` is the software stack's inference efficiency from the catalog (share of
peak compute in compute-bound serving); ``eff_bw`` the achievable share of peak
memory bandwidth (estimator_defaults.yaml). The
calibration module (``workloads.calibration``) scales the result by a factor
fitted on published measurements.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hardware_catalog.provenance import Figure
from planner.errors import InputError
from workloads.models import BYTES_PER_ELEMENT, ModelSpec

PRECISIONS = tuple(BYTES_PER_ELEMENT)
GIB = 1024**3
DEFAULTS_FILE = Path(__file__).parent / "data" / "estimator_defaults.yaml"


@lru_cache(maxsize=1)
def estimator_defaults() -> dict[str, Figure]:
    """Modelling assumptions (usable memory share, optimizer bytes, ...) as Figures."""
    with DEFAULTS_FILE.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return {name: Figure(**fields) for name, fields in raw.items()}


def _default(name: str) -> float:
    return float(estimator_defaults()[name].value)  # type: ignore[arg-type]


# -- hardware ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HardwareSpec:
    """The accelerator figures the estimator needs, as plain numbers.

    ``peak_tflops`` maps precision (fp32, bf16, fp16, fp8, int8) to dense peak
    TFLOPS (TOPS for int8), None where the chip has no native support.
    ``chip_power_kw`` is the all-in power per chip at load (chip plus its share
    of host, network and fans); ``tdp_w`` is the chip alone.
    """

    id: str
    peak_tflops: Mapping[str, float | None]
    memory_gib: float
    memory_bandwidth_tb_per_s: float
    chip_power_kw: float
    tdp_w: float | None
    scale_up_domain_chips: int
    training_mfu: float
    inference_efficiency: float
    software_stack: str | None = None

    def __post_init__(self) -> None:
        checks = {
            "memory_gib": self.memory_gib > 0,
            "memory_bandwidth_tb_per_s": self.memory_bandwidth_tb_per_s > 0,
            "chip_power_kw": self.chip_power_kw > 0,
            "scale_up_domain_chips": self.scale_up_domain_chips >= 1,
            "training_mfu": 0 < self.training_mfu <= 1,
            "inference_efficiency": 0 < self.inference_efficiency <= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"{name} = {getattr(self, name)!r} is out of range", file=f"accelerator {self.id}",
                                 field=name, fix="sizes and power must be positive, efficiencies in (0, 1]")
        unknown = set(self.peak_tflops) - set(PRECISIONS)
        if unknown:
            raise InputError(f"unknown precision(s) {sorted(unknown)}", file=f"accelerator {self.id}",
                             field="peak_tflops", fix=f"use {', '.join(PRECISIONS)}")

    def peak(self, precision: str) -> float | None:
        """Dense peak TFLOPS at ``precision``; None where not supported."""
        value = self.peak_tflops.get(precision)
        return value if value else None

    def replace(self, **changes: Any) -> "HardwareSpec":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_catalog(cls, cat: Any, accel_id: str) -> "HardwareSpec":
        """Build a spec from a loaded ``hardware_catalog`` (figures unwrapped to values)."""
        accel = _catalog_accelerator(cat, accel_id)
        peaks: dict[str, float | None] = {}
        for precision in PRECISIONS:
            try:
                peaks[precision] = accel.peak_tflops(precision)
            except (KeyError, ValueError, AttributeError):
                peaks[precision] = None
        if peaks.get("fp16") is None:
            peaks["fp16"] = peaks.get("bf16")
        stack = _value(getattr(accel, "software_stack", None))
        efficiency = cat.stack_efficiency(stack)
        mfu = _value(_first_attr(efficiency, "training_mfu", "mfu"))
        inf_eff = _value(_first_attr(efficiency, "inference_efficiency", "inference"))
        domain = _scale_up_domain(cat, accel_id)
        tdp_w = _value(getattr(accel, "tdp_w", None))
        missing = [name for name, v in (("memory_gib", _value(accel.memory_gib)),
                                         ("memory_bandwidth_tb_per_s", _value(accel.memory_bandwidth_tb_per_s)),
                                         ("training_mfu", mfu), ("inference_efficiency", inf_eff)) if v is None]
        if missing:
            raise InputError(f"accelerator '{accel_id}' lacks {', '.join(missing)}", file="hardware catalog",
                             field=accel_id, fix="add the figure (or an estimate with its method) to the catalog")
        return cls(
            id=accel_id,
            peak_tflops=peaks,
            memory_gib=float(_value(accel.memory_gib)),  # type: ignore[arg-type]
            memory_bandwidth_tb_per_s=float(_value(accel.memory_bandwidth_tb_per_s)),  # type: ignore[arg-type]
            chip_power_kw=float(cat.chip_power_kw(accel_id)),
            tdp_w=float(tdp_w) if tdp_w is not None else None,
            scale_up_domain_chips=domain,
            training_mfu=float(mfu),  # type: ignore[arg-type]
            inference_efficiency=float(inf_eff),  # type: ignore[arg-type]
            software_stack=str(stack) if stack is not None else None,
        )


def _scale_up_domain(cat: Any, accel_id: str) -> int:
    """Largest scale-up domain of a catalog system carrying the chip; 1 (the chip alone) if none."""
    systems = getattr(cat, "systems", None) or {}
    sizes = [int(s.scale_up_domain_chips) for s in systems.values()
             if s.accelerator == accel_id or accel_id in getattr(s, "also_ships_with", ())]
    return max(sizes, default=1)


def _value(x: Any) -> Any:
    return x.value if isinstance(x, Figure) or hasattr(x, "confidence") else x


def _first_attr(obj: Any, *names: str) -> Any:
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def _catalog_accelerator(cat: Any, accel_id: str) -> Any:
    getter = getattr(cat, "accelerator", None)
    if callable(getter):
        return getter(accel_id)
    table = getattr(cat, "accelerators", None)
    if isinstance(table, Mapping):
        if accel_id in table:
            return table[accel_id]
        from planner.errors import UnknownNameError
        raise UnknownNameError("accelerator", accel_id, table, field="accelerator")
    raise InputError("the hardware catalog offers no accelerator lookup", field=accel_id,
                     fix="update hardware_catalog")


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingEstimate:
    """Training a model on ``chips`` accelerators of one kind."""

    model_id: str
    accelerator_id: str
    precision: str
    tokens: float
    chips: int
    flops: float
    hours: float
    chip_hours: float
    energy_kwh: float
    mfu: float
    min_chips: int
    basis: str = "roofline"


@dataclass(frozen=True)
class InferenceEstimate:
    """Serving a model at an SLO on one accelerator kind; per-chip figures."""

    model_id: str
    accelerator_id: str
    precision: str
    chips_per_replica: int
    scale_up_domains_per_replica: int
    batch_size: int
    tpot_ms: float
    meets_tpot: bool
    ttft_ms: float
    meets_ttft: bool
    decode_tokens_per_s_per_chip: float
    prefill_tokens_per_s_per_chip: float
    tokens_per_s_per_chip: float
    output_tokens_per_s_per_chip: float
    power_kw_per_chip: float
    tokens_per_kwh: float
    output_tokens_per_kwh: float
    decode_bound: str
    weights_gib_per_chip: float
    kv_cache_gib_per_chip: float
    input_tokens: int
    output_tokens: int
    basis: str = "roofline"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def scaled(self, factor_decode: float, factor_prefill: float, basis: str) -> "InferenceEstimate":
        """A copy with decode/prefill throughput scaled and the blended figures recomputed."""
        decode = self.decode_tokens_per_s_per_chip * factor_decode
        prefill = self.prefill_tokens_per_s_per_chip * factor_prefill
        return with_throughput(self, decode, prefill, basis)


def _blend(decode: float, prefill: float, input_tokens: int, output_tokens: int) -> tuple[float, float]:
    """Total and output tokens/s of a chip doing both phases for the request mix."""
    chip_s_per_request = input_tokens / prefill + output_tokens / decode
    return (input_tokens + output_tokens) / chip_s_per_request, output_tokens / chip_s_per_request


def with_throughput(est: InferenceEstimate, decode: float, prefill: float, basis: str) -> InferenceEstimate:
    """A copy of ``est`` with new decode/prefill tokens/s per chip and the blended figures recomputed."""
    total, output = _blend(decode, prefill, est.input_tokens, est.output_tokens)
    return dataclasses.replace(
        est, decode_tokens_per_s_per_chip=decode, prefill_tokens_per_s_per_chip=prefill,
        tokens_per_s_per_chip=total, output_tokens_per_s_per_chip=output,
        tokens_per_kwh=total * 3600.0 / est.power_kw_per_chip,
        output_tokens_per_kwh=output * 3600.0 / est.power_kw_per_chip, basis=basis)


# -- training ----------------------------------------------------------------------------


def _peak_or_error(hw: HardwareSpec, precision: str) -> float:
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision '{precision}'", field="precision", fix=f"use one of {', '.join(PRECISIONS)}")
    peak = hw.peak(precision)
    if peak is None:
        supported = [p for p in PRECISIONS if hw.peak(p)]
        raise InputError(f"accelerator '{hw.id}' has no {precision} peak in the catalog", field="precision",
                         fix=f"use one of {', '.join(supported)}" if supported else "add peak TFLOPS to the catalog")
    return peak


def _training_peak(hw: HardwareSpec, precision: str) -> float:
    """The peak MFU is measured against: BF16 (FP16) for mixed-precision training, FP32 for fp32.

    Catalog MFU figures are fractions of peak dense BF16; runs that trained in FP8
    (DeepSeek-V3) carry their FP8 gain inside that MFU, so fp8/int8 do not switch peaks.
    """
    _peak_or_error(hw, precision)
    if precision == "fp32":
        return _peak_or_error(hw, "fp32")
    peak = hw.peak("bf16") or hw.peak("fp16")
    if peak is None:
        raise InputError(f"accelerator '{hw.id}' has no bf16/fp16 peak, which training MFU refers to",
                         field="precision", fix="add tflops_bf16 to the catalog")
    return peak


def training_min_chips(model: ModelSpec, hw: HardwareSpec) -> int:
    """Chips needed to hold weights, gradients and optimizer state (fully sharded)."""
    need = model.total_params * _default("training_bytes_per_param")
    return max(1, math.ceil(need / (hw.memory_gib * GIB * _default("usable_memory_fraction"))))


def estimate_training(model: ModelSpec, hw: HardwareSpec, tokens: float | None = None, chips: int = 1,
                      precision: str = "bf16", *, flops: float | None = None,
                      seq_len: int | None = None) -> TrainingEstimate:
    """Hours, chip-hours and energy to train ``model`` on ``tokens`` (or ``flops``) with ``chips`` chips."""
    if (tokens is None) == (flops is None):
        raise InputError("give exactly one of tokens or flops", field="tokens", fix="set tokens (or total flops)")
    if (tokens is not None and tokens <= 0) or (flops is not None and flops <= 0):
        raise InputError("training size must be positive", field="tokens" if tokens is not None else "flops",
                         fix="give a positive number")
    if chips < 1:
        raise InputError(f"chips = {chips}", field="chips", fix="use at least one chip")
    peak = _training_peak(hw, precision)
    min_chips = training_min_chips(model, hw)
    if chips < min_chips:
        raise InputError(
            f"{model.id} needs at least {min_chips} {hw.id} chips to hold weights, gradients and optimizer "
            f"state ({model.total_params_b.value:g}B params x {_default('training_bytes_per_param'):g} bytes)",
            field="chips", fix=f"use at least {min_chips} chips")
    seq = seq_len or int(_default("training_seq_len"))
    if tokens is not None:
        flops = tokens * model.training_flops_per_token(seq)
    else:
        tokens = flops / model.training_flops_per_token(seq)  # type: ignore[operator]
    seconds = flops / (chips * peak * 1e12 * hw.training_mfu)  # type: ignore[operator]
    hours = seconds / 3600.0
    chip_hours = hours * chips
    return TrainingEstimate(model_id=model.id, accelerator_id=hw.id, precision=precision, tokens=float(tokens),
                            chips=chips, flops=float(flops), hours=hours, chip_hours=chip_hours,  # type: ignore[arg-type]
                            energy_kwh=chip_hours * hw.chip_power_kw, mfu=hw.training_mfu, min_chips=min_chips)


def convert_chip_hours(chip_hours: float, reference: HardwareSpec, target: HardwareSpec,
                       precision: str = "bf16") -> float:
    """Chip-hours on ``target`` equivalent to ``chip_hours`` on ``reference`` (same FLOPs)."""
    ref_rate = _training_peak(reference, precision) * reference.training_mfu
    return chip_hours * ref_rate / (_training_peak(target, precision) * target.training_mfu)


# -- inference ---------------------------------------------------------------------------


def _replica_limit(model: ModelSpec, hw: HardwareSpec) -> int:
    if model.is_moe:
        return hw.scale_up_domain_chips * int(_default("max_replica_domains"))
    return hw.scale_up_domain_chips


def _candidate_sizes(limit: int) -> Iterable[int]:
    n = 1
    while n < limit:
        yield n
        n *= 2
    yield limit


def min_chips_per_replica(model: ModelSpec, hw: HardwareSpec, precision: str = "bf16",
                          context_tokens: int = 4096, kv_precision: str = "bf16") -> int:
    """Fewest chips (a power of two, or the whole domain) that hold the weights plus one full context.

    Dense models must fit inside one scale-up domain; mixture-of-experts models may
    span several domains with expert parallelism, up to ``max_replica_domains``.
    """
    weight_bytes = model.total_params * BYTES_PER_ELEMENT[precision]
    need = weight_bytes + context_tokens * model.kv_bytes_per_token(kv_precision)
    usable = hw.memory_gib * GIB * _default("usable_memory_fraction")
    limit = _replica_limit(model, hw)
    for n in _candidate_sizes(limit):
        if n * usable >= need:
            return n
    scope = (f"{limit} chips ({int(_default('max_replica_domains'))} scale-up domains of "
             f"{hw.scale_up_domain_chips})" if model.is_moe else f"one scale-up domain of {limit} chips")
    raise InputError(
        f"{model.id} at {precision} needs {need / GIB:,.0f} GiB for weights plus one {context_tokens}-token context, "
        f"but {hw.id} offers at most {limit * usable / GIB:,.0f} GiB usable across {scope}",
        field="accelerator", fix="use a lower precision (fp8/int8), a shorter context, or an accelerator with more memory")


def estimate_inference(model: ModelSpec, hw: HardwareSpec, precision: str = "bf16", tpot_ms: float = 50.0,
                       ttft_ms: float | None = None, input_tokens: int = 2048, output_tokens: int = 512,
                       context_tokens: int | None = None, *, chips_per_replica: int | None = None,
                       kv_precision: str = "bf16", prefix_cache_hit_rate: float = 0.0) -> InferenceEstimate:
    """Roofline serving estimate for one replica at the given SLO (see the module docstring).

    ``context_tokens`` is the longest sequence a slot must hold (default input +
    output); decode reads on average input + output/2 tokens of KV per sequence.
    ``prefix_cache_hit_rate`` is the share of input tokens served from a prefix
    cache: they count in prefill throughput but cost no compute.
    """
    if tpot_ms <= 0:
        raise InputError(f"tpot_ms = {tpot_ms}", field="tpot_ms", fix="give a positive time per output token")
    if input_tokens < 1 or output_tokens < 1:
        raise InputError("input_tokens and output_tokens must be at least 1", field="input_tokens",
                         fix="give the request mix in tokens")
    if not 0 <= prefix_cache_hit_rate < 1:
        raise InputError(f"prefix_cache_hit_rate = {prefix_cache_hit_rate}", field="prefix_cache_hit_rate",
                         fix="give a share in [0, 1)")
    peak = _peak_or_error(hw, precision)
    peak_kv = hw.peak(kv_precision) or peak
    ctx_max = context_tokens or input_tokens + output_tokens
    if ctx_max > model.max_context_tokens:
        raise InputError(f"{ctx_max} tokens exceed {model.id}'s maximum context of {model.max_context_tokens}",
                         field="context_tokens", fix=f"keep input + output within {model.max_context_tokens}")
    bytes_per_param = BYTES_PER_ELEMENT[precision]
    weight_bytes = model.total_params * bytes_per_param
    kv_bytes = model.kv_bytes_per_token(kv_precision)
    usable = hw.memory_gib * GIB * _default("usable_memory_fraction")

    if chips_per_replica is None:
        # Fewest chips that hold the model; grow the replica while one sequence alone misses the TPOT.
        n = min_chips_per_replica(model, hw, precision, ctx_max, kv_precision)
        sizes = [size for size in _candidate_sizes(_replica_limit(model, hw)) if size >= n]
        kwargs = dict(tpot_ms=tpot_ms, ttft_ms=ttft_ms, input_tokens=input_tokens, output_tokens=output_tokens,
                      context_tokens=context_tokens, kv_precision=kv_precision,
                      prefix_cache_hit_rate=prefix_cache_hit_rate)
        est = estimate_inference(model, hw, precision, chips_per_replica=sizes[0], **kwargs)
        for size in sizes[1:]:
            if est.meets_tpot:
                break
            est = estimate_inference(model, hw, precision, chips_per_replica=size, **kwargs)
        return est
    n = chips_per_replica
    batch_mem = math.floor((n * usable - weight_bytes) / (ctx_max * kv_bytes))
    if batch_mem < 1:
        raise InputError(f"{model.id} at {precision} does not fit on {n} {hw.id} chips with a {ctx_max}-token context",
                         field="chips_per_replica",
                         fix=f"use at least {min_chips_per_replica(model, hw, precision, ctx_max, kv_precision)} chips")

    eff = hw.inference_efficiency
    avg_ctx = input_tokens + output_tokens / 2.0
    bandwidth = n * hw.memory_bandwidth_tb_per_s * 1e12 * _default("memory_bandwidth_efficiency")
    linear_s_per_token = 2.0 * model.active_params / (n * peak * 1e12 * eff)
    attn_s_per_token = model.attention_flops_per_token(avg_ctx, absorbed=True) / (n * peak_kv * 1e12 * eff)
    compute_s_per_token = linear_s_per_token + attn_s_per_token

    def step_s(batch: int) -> tuple[float, float]:
        mem = (model.weights_read_params(batch) * bytes_per_param + batch * avg_ctx * kv_bytes) / bandwidth
        return mem, batch * compute_s_per_token

    tpot_s = tpot_ms / 1000.0
    meets_tpot = max(step_s(1)) <= tpot_s
    batch = 1
    if meets_tpot:
        lo, hi = 1, batch_mem
        while lo < hi:  # largest batch whose step time meets the TPOT
            mid = (lo + hi + 1) // 2
            if max(step_s(mid)) <= tpot_s:
                lo = mid
            else:
                hi = mid - 1
        batch = lo
    mem_s, comp_s = step_s(batch)
    step = max(mem_s, comp_s)
    decode = batch / step / n
    if not meets_tpot:
        bound = "tpot-unmet"
    elif batch == batch_mem and step < tpot_s:
        bound = "memory-capacity"
    else:
        bound = "bandwidth" if mem_s >= comp_s else "compute"

    prefill_s_per_token = (2.0 * model.active_params / (peak * 1e12 * eff)
                           + model.attention_flops_per_token(input_tokens / 2.0) / (peak_kv * 1e12 * eff))
    prefill = 1.0 / prefill_s_per_token / (1.0 - prefix_cache_hit_rate)
    ttft = input_tokens * (1.0 - prefix_cache_hit_rate) * prefill_s_per_token / n * 1000.0
    notes: list[str] = []
    if not meets_tpot:
        notes.append(f"a single sequence already takes {max(step_s(1)) * 1000:.1f} ms per token")
    if ttft_ms is not None and ttft > ttft_ms:
        notes.append(f"prefill alone takes {ttft:.0f} ms > TTFT {ttft_ms:g} ms")
    domains = math.ceil(n / hw.scale_up_domain_chips)
    est = InferenceEstimate(
        model_id=model.id, accelerator_id=hw.id, precision=precision, chips_per_replica=n,
        scale_up_domains_per_replica=domains, batch_size=batch, tpot_ms=tpot_ms, meets_tpot=meets_tpot,
        ttft_ms=ttft, meets_ttft=ttft_ms is None or ttft <= ttft_ms,
        decode_tokens_per_s_per_chip=0.0, prefill_tokens_per_s_per_chip=0.0, tokens_per_s_per_chip=0.0,
        output_tokens_per_s_per_chip=0.0, power_kw_per_chip=hw.chip_power_kw, tokens_per_kwh=0.0,
        output_tokens_per_kwh=0.0, decode_bound=bound, weights_gib_per_chip=weight_bytes / n / GIB,
        kv_cache_gib_per_chip=batch * ctx_max * kv_bytes / n / GIB, input_tokens=input_tokens,
        output_tokens=output_tokens, notes=tuple(notes))
    return with_throughput(est, decode, prefill, "roofline")


def cny_per_mtokens(est: InferenceEstimate, price_cny_per_kwh: float, pue: float = 1.0, *,
                    output_only: bool = False) -> float:
    """Electricity cost in CNY per million tokens (all tokens, or output tokens only)."""
    if price_cny_per_kwh < 0 or pue < 1.0:
        raise InputError(f"price {price_cny_per_kwh} CNY/kWh, PUE {pue}", field="pue",
                         fix="use a non-negative price and a PUE of at least 1.0")
    per_kwh = est.output_tokens_per_kwh if output_only else est.tokens_per_kwh
    return 1e6 / per_kwh * pue * price_cny_per_kwh


__all__ = [
    "HardwareSpec", "TrainingEstimate", "InferenceEstimate", "estimate_training", "estimate_inference",
    "cny_per_mtokens", "min_chips_per_replica", "with_throughput", "training_min_chips", "convert_chip_hours",
    "estimator_defaults", "PRECISIONS",
]
