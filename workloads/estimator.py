"""Roofline estimates of training time and serving throughput per accelerator.

Pure functions, no solver: one (model, accelerator, precision) evaluation takes
tens of microseconds, so sweeping a whole catalog is instant.

Training
    FLOPs = tokens x (6 x active params + 6·L·H·T·(d_qk + d_v))   (PaLM, app. B)
    hours = FLOPs / (chips x peak[bf16] x MFU[stack])   (catalog MFU is relative to BF16 peak)

Inference
    A step-time model (``workloads.steptime``) times one decode step of a replica:
    weights read (active experts for MoE, bytes by precision), KV cache read by
    context, compute at the stack's achievable efficiency, tensor-parallel
    all-reduce and expert-parallel all-to-all over the scale-up and scale-out
    links, and a fixed per-step overhead. The decode batch is the largest that
    meets the TPOT and fits in memory. Prefill is timed per token the same way.

    Prefill and decode run in separate pools sized together for the request mix:
    per request a pool spends input/prefill and output/decode chip-seconds, so

        output tokens/s per chip (end to end) = output / (input / prefill + output / decode)

    counting every chip of both pools. This is the figure a scenario's
    ``tokens_per_s_per_chip`` and the solver mean; input tokens/s per chip is the
    same rate times input / output.

    Every estimate carries its replica's roofline (ideal efficiency, no
    communication or overhead, the largest batch that fits, no TPOT) and never
    exceeds it. The calibration module (``workloads.calibration``) fits the
    efficiency factors per (software stack, phase) on published measurements.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


from hardware_catalog.provenance import Figure, load_figure
from planner.errors import InputError
from planner.inputs.files import read_yaml
from workloads.models import BYTES_PER_ELEMENT, ModelSpec, smaller_fix

PRECISIONS = tuple(BYTES_PER_ELEMENT)
GIB = 1024**3
DEFAULTS_FILE = Path(__file__).parent / "data" / "estimator_defaults.yaml"


@lru_cache(maxsize=1)
def estimator_defaults() -> dict[str, Figure]:
    """Modelling assumptions (usable memory share, optimizer bytes, ...) as Figures."""
    raw = read_yaml(DEFAULTS_FILE, what="estimator defaults file")
    return {name: load_figure(fields, file=str(DEFAULTS_FILE), field=name) for name, fields in raw.items()}


def default(name: str) -> float:
    """One modelling assumption's value (estimator_defaults.yaml)."""
    return float(estimator_defaults()[name].value)  # type: ignore[arg-type]


_default = default


# -- hardware ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HardwareSpec:
    """The accelerator figures the estimator needs, as plain numbers.

    ``peak_tflops`` maps precision (fp32, bf16, fp16, fp8, int8) to dense peak
    TFLOPS (TOPS for int8), None where the chip has no native support.
    ``chip_power_kw`` is the all-in power per chip at load (chip plus its share
    of host, network and fans); ``tdp_w`` is the chip alone. ``scale_up_gb_per_s``
    is the chip's scale-up link per direction (None: it has none, traffic takes the
    scale-out network); ``scale_out_gb_per_s`` the network between scale-up domains
    per chip and direction (default: ``scale_out_gb_per_s`` in estimator_defaults.yaml).
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
    scale_up_gb_per_s: float | None = None
    scale_out_gb_per_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.scale_out_gb_per_s:
            object.__setattr__(self, "scale_out_gb_per_s", default("scale_out_gb_per_s"))
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
        link = _value(getattr(accel, "interconnect_gb_per_s", None))
        if link is not None and getattr(accel, "interconnect_direction", None) != "unidirectional":
            link = float(link) / 2.0  # catalog figures are both directions unless stated otherwise
        domain = _scale_up_domain(cat, accel_id, has_link=link is not None)
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
            scale_up_gb_per_s=float(link) if link is not None else None,
        )


def _scale_up_domain(cat: Any, accel_id: str, has_link: bool = True) -> int:
    """Largest scale-up domain of a catalog system carrying the chip.

    With no catalogued system: ``default_scale_up_domain_chips`` if the chip has a
    chip-to-chip link, else 1 (the chip alone).
    """
    systems = getattr(cat, "systems", None) or {}
    sizes = [int(s.scale_up_domain_chips) for s in systems.values()
             if s.accelerator == accel_id or accel_id in getattr(s, "also_ships_with", ())]
    return max(sizes, default=int(default("default_scale_up_domain_chips")) if has_link else 1)


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
    """Serving a model at an SLO on one accelerator kind; per-chip figures.

    ``output_tokens_per_s_per_chip`` is THE throughput: output tokens per second per
    chip, end to end, prefill chips included (module docstring). The decode and
    prefill figures are per chip of their own pool; ``roofline_*`` the bounds.
    """

    model_id: str
    accelerator_id: str
    precision: str
    chips_per_replica: int
    prefill_chips_per_replica: int
    scale_up_domains_per_replica: int
    tensor_parallel: int
    batch_size: int
    tpot_ms: float
    meets_tpot: bool
    step_ms: float
    ttft_ms: float
    meets_ttft: bool
    decode_tokens_per_s_per_chip: float
    prefill_tokens_per_s_per_chip: float
    output_tokens_per_s_per_chip: float
    input_tokens_per_s_per_chip: float
    total_tokens_per_s_per_chip: float
    prefill_chip_share: float
    power_kw_per_chip: float
    output_tokens_per_kwh: float
    decode_bound: str
    weights_gib_per_chip: float
    kv_cache_gib_per_chip: float
    input_tokens: int
    output_tokens: int
    prefix_cache_hit_rate: float
    roofline_decode_tokens_per_s_per_chip: float
    roofline_prefill_tokens_per_s_per_chip: float
    roofline_output_tokens_per_s_per_chip: float
    decode_factor: float = 1.0
    prefill_factor: float = 1.0
    basis: str = "uncalibrated"
    notes: tuple[str, ...] = field(default_factory=tuple)


def _blend(decode: float, prefill: float, input_tokens: int, output_tokens: int) -> tuple[float, float]:
    """(output tokens/s per chip, share of chips in the prefill pool) for pools sized to the request mix."""
    if decode <= 0 or prefill <= 0:
        return 0.0, 0.0
    prefill_s, decode_s = input_tokens / prefill, output_tokens / decode
    return output_tokens / (prefill_s + decode_s), prefill_s / (prefill_s + decode_s)


def with_throughput(est: InferenceEstimate, decode: float, prefill: float, basis: str,
                    notes: tuple[str, ...] = ()) -> InferenceEstimate:
    """A copy of ``est`` with new decode/prefill tokens/s per chip and the end-to-end figures recomputed."""
    output, share = _blend(decode, prefill, est.input_tokens, est.output_tokens)
    ratio = est.input_tokens / est.output_tokens
    return dataclasses.replace(
        est, decode_tokens_per_s_per_chip=decode, prefill_tokens_per_s_per_chip=prefill,
        output_tokens_per_s_per_chip=output, input_tokens_per_s_per_chip=output * ratio,
        total_tokens_per_s_per_chip=output * (1.0 + ratio), prefill_chip_share=share,
        output_tokens_per_kwh=output * 3600.0 / est.power_kw_per_chip, basis=basis, notes=est.notes + tuple(notes))


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


def serving_peak(hw: HardwareSpec, precision: str) -> tuple[float, str | None]:
    """Peak at ``precision`` for serving, and a note where an 8-bit equivalence stands in.

    FP8 and INT8 weights take one byte each, and W8A8 serving runs either on the
    matching tensor units. A chip without the one asked for (the Ascend 910C has no
    FP8, the 950 publishes no INT8) is taken at its other 8-bit peak, and the
    estimate says so: an equivalence of storage and rate, not of numerics.
    """
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision '{precision}'", field="precision",
                         fix=f"use one of {', '.join(PRECISIONS)}")
    peak = hw.peak(precision)
    if peak is not None:
        return peak, None
    if precision in ("fp8", "int8"):
        other = "int8" if precision == "fp8" else "fp8"
        other_peak = hw.peak(other)
        if other_peak is not None:
            return other_peak, (f"{precision} served as {other} (W8A8): same bytes per weight, {hw.id}'s "
                                f"{other} peak used; an equivalence, not a native {precision} figure")
    return _peak_or_error(hw, precision), None


def _replica_limit(model: ModelSpec, hw: HardwareSpec) -> int:
    """Largest replica tried: the same for every chip of a family, not tied to its scale-up domain."""
    if model.is_moe:
        return int(_default("max_replica_chips"))
    return int(_default("max_dense_replica_chips"))


def _candidate_sizes(limit: int) -> Iterable[int]:
    n = 1
    while n < limit:
        yield n
        n *= 2
    yield limit


def min_chips_per_replica(model: ModelSpec, hw: HardwareSpec, precision: str = "bf16",
                          context_tokens: int = 4096, kv_precision: str = "bf16") -> int:
    """Fewest chips (a power of two) whose layout holds the weights plus one full context per chip."""
    from workloads.steptime import layout

    limit = _replica_limit(model, hw)
    kv = context_tokens * model.kv_bytes_per_token(kv_precision)
    for n in _candidate_sizes(limit):
        lay = layout(model, hw, precision, n)
        if lay.kv_room_bytes * n >= kv * lay.kv_copies:
            return n
    usable = hw.memory_gib * GIB * _default("usable_memory_fraction")
    need = model.total_params * BYTES_PER_ELEMENT[precision] + kv
    raise InputError(
        f"{model.id} at {precision} needs {need / GIB:,.0f} GiB for weights plus one {context_tokens}-token context, "
        f"but {hw.id} offers at most {limit * usable / GIB:,.0f} GiB usable on the largest replica of {limit} chips",
        field="accelerator",
        fix=smaller_fix(precision, "a shorter context", "an accelerator with more memory"))


def estimate_inference(model: ModelSpec, hw: HardwareSpec, precision: str = "bf16", tpot_ms: float = 50.0,
                       ttft_ms: float | None = None, input_tokens: int = 2048, output_tokens: int = 512,
                       context_tokens: int | None = None, *, chips_per_replica: int | None = None,
                       prefill_chips_per_replica: int | None = None, kv_precision: str = "bf16",
                       prefix_cache_hit_rate: float = 0.0, decode_factor: float = 1.0,
                       prefill_factor: float = 1.0, basis: str = "uncalibrated") -> InferenceEstimate:
    """Step-time serving estimate with prefill and decode pools (see the module docstring).

    ``chips_per_replica`` sizes the decode replica; left out, every power of two from
    the fewest chips that hold the model up to ``max_replica_chips`` is tried and the
    one with the most output tokens/s per chip at the TPOT wins (so a looser TPOT
    never lowers the figure). ``prefill_chips_per_replica`` sizes the prefill replica
    (default: the fewest chips that hold the model). ``context_tokens`` is the longest
    sequence a slot must hold (default input + output). ``prefix_cache_hit_rate`` is
    the share of input tokens served from a prefix cache: they count in prefill
    throughput but cost no compute. ``decode_factor`` and ``prefill_factor`` scale the
    stack's achieved efficiencies (the calibration), each share capped at 1.
    """
    from workloads.steptime import Efficiency

    if tpot_ms <= 0:
        raise InputError(f"tpot_ms = {tpot_ms}", field="tpot_ms", fix="give a positive time per output token")
    if input_tokens < 1 or output_tokens < 1:
        raise InputError("input_tokens and output_tokens must be at least 1", field="input_tokens",
                         fix="give the request mix in tokens")
    if not 0 <= prefix_cache_hit_rate < 1:
        raise InputError(f"prefix_cache_hit_rate = {prefix_cache_hit_rate}", field="prefix_cache_hit_rate",
                         fix="give a share in [0, 1)")
    peak, equivalence = serving_peak(hw, precision)
    peak_kv = hw.peak(kv_precision) or peak
    ctx_max = context_tokens or input_tokens + output_tokens
    if ctx_max > model.max_context_tokens:
        raise InputError(f"{ctx_max} tokens exceed {model.id}'s maximum context of {model.max_context_tokens}",
                         field="context_tokens", fix=f"keep input + output within {model.max_context_tokens}")
    smallest = min_chips_per_replica(model, hw, precision, ctx_max, kv_precision)
    for name, given in (("chips_per_replica", chips_per_replica), ("prefill_chips_per_replica",
                                                                    prefill_chips_per_replica)):
        if given is not None and given < smallest:
            raise InputError(f"{model.id} at {precision} does not fit on {given} {hw.id} chips with a "
                             f"{ctx_max}-token context", field=name, fix=f"use at least {smallest} chips")
    setup = _Setup(model=model, hw=hw, precision=precision, peak=peak, peak_kv=peak_kv, kv_precision=kv_precision,
                   avg_ctx=input_tokens + output_tokens / 2.0, ctx_max=ctx_max, tpot_s=tpot_ms / 1000.0,
                   eff=Efficiency.of(hw, decode_factor))
    if chips_per_replica is not None:
        decode = _decode(setup, chips_per_replica)
    else:
        options = [_decode(setup, n) for n in _candidate_sizes(_replica_limit(model, hw))
                   if n >= smallest and _fits(setup, n)]
        met = [d for d in options if d.batch > 0]
        # most output tokens/s per chip; ties to the smaller replica. None meets the TPOT: the quickest single step.
        decode = max(met, key=lambda d: (d.tokens_per_s, -d.sm.layout.chips)) if met else \
            min(options, key=lambda d: d.sm.step_s(1))
    n_pre = prefill_chips_per_replica or smallest
    prefill_eff = Efficiency.of(hw, prefill_factor)
    s_per_token = _prefill_s_per_token(setup, n_pre, input_tokens, prefill_eff)
    prefill = 1.0 / s_per_token / (1.0 - prefix_cache_hit_rate)
    roof_pre = 1.0 / _prefill_s_per_token(setup, n_pre, input_tokens, None) / (1.0 - prefix_cache_hit_rate)
    ttft = input_tokens * (1.0 - prefix_cache_hit_rate) * s_per_token / n_pre * 1000.0

    sm, batch = decode.sm, decode.batch
    meets_tpot = batch > 0
    memory_s, compute_s, rest_s = sm.parts(max(batch, 1))
    if not meets_tpot:
        bound = "tpot-unmet"
    elif batch == sm.batch_cap and sm.step_s(batch) < setup.tpot_s:
        bound = "memory-capacity"
    elif rest_s >= max(memory_s, compute_s):
        bound = "communication"
    else:
        bound = "bandwidth" if memory_s >= compute_s else "compute"
    notes: list[str] = [equivalence] if equivalence else []
    if not meets_tpot:
        notes.append(f"one sequence already takes {sm.step_s(1) * 1000:.1f} ms per step on "
                     f"{sm.layout.chips} chips, over the {tpot_ms:g} ms TPOT: no throughput at this SLO")
    if ttft_ms is not None and ttft > ttft_ms:
        notes.append(f"prefill alone takes {ttft:.0f} ms > TTFT {ttft_ms:g} ms")
    n = sm.layout.chips
    est = InferenceEstimate(
        model_id=model.id, accelerator_id=hw.id, precision=precision, chips_per_replica=n,
        prefill_chips_per_replica=n_pre, scale_up_domains_per_replica=math.ceil(n / hw.scale_up_domain_chips),
        tensor_parallel=sm.layout.tensor_parallel, batch_size=batch, tpot_ms=tpot_ms, meets_tpot=meets_tpot,
        step_ms=sm.step_s(max(batch, 1)) * 1000.0, ttft_ms=ttft, meets_ttft=ttft_ms is None or ttft <= ttft_ms,
        decode_tokens_per_s_per_chip=0.0, prefill_tokens_per_s_per_chip=0.0, output_tokens_per_s_per_chip=0.0,
        input_tokens_per_s_per_chip=0.0, total_tokens_per_s_per_chip=0.0, prefill_chip_share=0.0,
        power_kw_per_chip=hw.chip_power_kw, output_tokens_per_kwh=0.0, decode_bound=bound,
        weights_gib_per_chip=sm.layout.weights_bytes / GIB,
        kv_cache_gib_per_chip=batch / n * sm.layout.kv_copies * ctx_max * sm.kv_bytes / GIB,
        input_tokens=input_tokens, output_tokens=output_tokens, prefix_cache_hit_rate=prefix_cache_hit_rate,
        roofline_decode_tokens_per_s_per_chip=decode.roofline, roofline_prefill_tokens_per_s_per_chip=roof_pre,
        roofline_output_tokens_per_s_per_chip=_blend(decode.roofline, roof_pre, input_tokens, output_tokens)[0],
        decode_factor=decode_factor, prefill_factor=prefill_factor, notes=tuple(notes))
    return with_throughput(est, decode.tokens_per_s, prefill, basis)


@dataclass(frozen=True)
class _Setup:
    model: ModelSpec
    hw: HardwareSpec
    precision: str
    peak: float
    peak_kv: float
    kv_precision: str
    avg_ctx: float
    ctx_max: int
    tpot_s: float
    eff: Any


@dataclass(frozen=True)
class _Decode:
    sm: Any
    batch: int
    tokens_per_s: float
    roofline: float


def _fits(s: _Setup, chips: int) -> bool:
    """Whether ``chips`` chips hold the weights and at least one longest context (layouts vary with size)."""
    from workloads.steptime import layout

    lay = layout(s.model, s.hw, s.precision, chips)
    return lay.kv_room_bytes * chips >= lay.kv_copies * s.ctx_max * s.model.kv_bytes_per_token(s.kv_precision)


def _decode(s: _Setup, chips: int) -> _Decode:
    from workloads.steptime import IDEAL, roofline_decode, step_model

    kwargs = dict(peak=s.peak, peak_kv=s.peak_kv, kv_precision=s.kv_precision, avg_ctx=s.avg_ctx, ctx_max=s.ctx_max)
    sm = step_model(s.model, s.hw, s.precision, chips, eff=s.eff, **kwargs)  # type: ignore[arg-type]
    if sm.batch_cap < 1:
        raise InputError(f"{s.model.id} at {s.precision} does not fit on {chips} {s.hw.id} chips with a "
                         f"{s.ctx_max}-token context", field="chips_per_replica",
                         fix="use more chips per replica")
    batch = sm.largest_batch(s.tpot_s)
    tokens = batch / sm.step_s(batch) / chips if batch else 0.0
    ideal = step_model(s.model, s.hw, s.precision, chips, eff=IDEAL, ideal=True, **kwargs)  # type: ignore[arg-type]
    return _Decode(sm=sm, batch=batch, tokens_per_s=tokens, roofline=roofline_decode(ideal))


def _prefill_s_per_token(s: _Setup, chips: int, input_tokens: int, eff: Any) -> float:
    from workloads.steptime import IDEAL, prefill_s_per_token

    return prefill_s_per_token(s.model, s.hw, s.precision, chips, peak=s.peak, peak_kv=s.peak_kv,
                               input_tokens=input_tokens, eff=eff or IDEAL, ideal=eff is None)


def cny_per_moutput_tokens(est: InferenceEstimate, price_cny_per_kwh: float, pue: float = 1.0) -> float:
    """Electricity cost in CNY per million OUTPUT tokens (prefill chips' energy included); inf at no throughput."""
    if price_cny_per_kwh < 0 or pue < 1.0:
        raise InputError(f"price {price_cny_per_kwh} CNY/kWh, PUE {pue}", field="pue",
                         fix="use a non-negative price and a PUE of at least 1.0")
    if est.output_tokens_per_kwh <= 0:
        return math.inf
    return 1e6 / est.output_tokens_per_kwh * pue * price_cny_per_kwh


__all__ = [
    "HardwareSpec", "TrainingEstimate", "InferenceEstimate", "estimate_training", "estimate_inference",
    "cny_per_moutput_tokens", "min_chips_per_replica", "serving_peak", "default", "with_throughput",
    "training_min_chips", "convert_chip_hours",
    "estimator_defaults", "PRECISIONS",
]
