"""Step-time model of one serving replica: how long a prefill token and a decode step take.

A replica of ``n`` chips serves a model with the layout serving engines use for it:

* dense model: tensor parallelism over all ``n`` chips (``t = n``);
* mixture of experts: routed experts spread over the ``n`` chips (expert
  parallelism); the always-read weights (attention, shared experts, dense layers)
  whole on every chip (data-parallel attention, ``t = 1``) or, where they would
  take more than ``replicated_weights_share`` of memory, split over the fewest
  ``t`` chips of one scale-up domain that bring them under it and let the
  weights fit.

Decode step at batch ``B`` (sequences in the replica, ``b = B / n`` per chip)::

    memory  = [always·bytes/t + routed·bytes/n · (1 - (1 - k/E)^B) + b·r·ctx·kv_bytes] / (HBM · e_mem)
    compute = b · [2·active / peak + attention(ctx) / peak_kv] / e_comp
    comm    = b · [TP all-reduce + EP all-to-all bytes per token] / (link · e_link) + collectives · latency
    step    = max(memory, compute) + comm + overhead

``r = t / kv_shards`` is how often a sequence's KV cache is held (MLA's latent is
not split by tensor parallelism; GQA splits over at most ``kv_heads``). The
all-reduce moves ``2 (t - 1) / t`` of ``hidden x 2 B`` twice a layer; the
all-to-all sends each token to its ``k`` experts (dispatch at 1 B per element in
8-bit serving, else 2 B; combine at 2 B) hierarchically, as DeepEP and
CloudMatrix-Infer do: one copy per other scale-up domain the experts fall in
over the scale-out network, ``(D - 1)(1 - (1 - 1/D)^k)`` domains on average for
``D`` domains, and ``k (d - 1) / d`` copies over the scale-up links to reach the
experts' chips inside domains of ``d`` chips. Communication is not overlapped with compute: a conservative
reading that the calibration's efficiency factor absorbs.

A prefill token costs the same compute (attention over half the prompt, not
absorbed) and communication per token, with weight reads amortised over long
chunks and no per-step overhead.

``Efficiency`` holds the achieved shares of peak (compute, HBM, links); each is
at most 1, and with ``IDEAL`` and no communication or overhead the model is the
replica's roofline (``roofline``), which no estimate exceeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workloads.models import BYTES_PER_ELEMENT, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from workloads.estimator import HardwareSpec

GIB = 1024**3
EIGHT_BIT = ("fp8", "int8")


@dataclass(frozen=True)
class Efficiency:
    """Achieved shares of peak compute, HBM bandwidth and link bandwidth, each in (0, 1]."""

    compute: float
    memory: float
    link: float

    def __post_init__(self) -> None:
        for name in ("compute", "memory", "link"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"efficiency {name} = {getattr(self, name)} is outside (0, 1]")

    @classmethod
    def of(cls, hw: "HardwareSpec", factor: float = 1.0) -> "Efficiency":
        """The stack's compute efficiency x a calibration ``factor`` (capped at 1); HBM and links at defaults.

        Kernels differ by software stack, so the calibration moves compute efficiency;
        the achievable shares of HBM and link bandwidth are hardware-level figures
        from estimator_defaults.yaml.
        """
        from workloads.estimator import default

        return cls(compute=min(1.0, hw.inference_efficiency * factor), memory=default("memory_bandwidth_efficiency"),
                   link=default("link_bandwidth_efficiency"))


IDEAL = Efficiency(1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Layout:
    """How one replica holds a model; all byte figures per chip."""

    chips: int
    tensor_parallel: int
    domain_chips: int
    weights_bytes: float
    kv_copies: float  # r: how many chips hold each sequence's KV cache, per chip of the group
    usable_bytes: float

    @property
    def kv_room_bytes(self) -> float:
        return self.usable_bytes - self.weights_bytes


def layout(model: ModelSpec, hw: "HardwareSpec", precision: str, chips: int) -> Layout:
    """The serving layout of ``model`` on ``chips`` chips of ``hw`` (module docstring)."""
    from workloads.estimator import default

    bpp = BYTES_PER_ELEMENT[precision]
    usable = hw.memory_gib * GIB * default("usable_memory_fraction")
    domain = min(hw.scale_up_domain_chips, chips)
    if not model.is_moe:
        t = chips
    else:
        t, cap = 1, max(1, domain)
        routed = model.routed_expert_params * bpp / chips
        while t < cap and (model.always_read_params * bpp / t > default("replicated_weights_share") * usable
                           or model.always_read_params * bpp / t + routed > usable):
            t = min(t * 2, cap)
    weights = model.always_read_params * bpp / t + model.routed_expert_params * bpp / chips
    kv_shards = 1 if model.attention == "mla" else min(t, model.kv_heads)
    return Layout(chips=chips, tensor_parallel=t, domain_chips=domain, weights_bytes=weights,
                  kv_copies=t / kv_shards, usable_bytes=usable)


@dataclass(frozen=True)
class StepModel:
    """Per-chip costs of one replica, ready to time a decode step at any batch."""

    model: ModelSpec
    hw: "HardwareSpec"
    layout: Layout
    eff: Efficiency
    bytes_per_param: float
    kv_bytes: float
    avg_ctx: float
    ctx_max: int
    compute_s_per_token: float       # decode, per chip
    comm_s_per_token: float          # decode and prefill, per chip
    collectives_per_step: int
    overhead_s: float
    latency_s: float
    bandwidth: float                 # bytes/s per chip, achieved

    @property
    def batch_cap(self) -> int:
        """Most sequences the replica's memory holds at the longest context."""
        per_seq = self.layout.kv_copies * self.ctx_max * self.kv_bytes
        return max(0, math.floor(self.layout.kv_room_bytes * self.layout.chips / per_seq))

    def parts(self, batch: int) -> tuple[float, float, float]:
        """(memory, compute, fixed + communication) seconds of one decode step at ``batch``."""
        model, lay = self.model, self.layout
        b = batch / lay.chips
        if model.is_moe:
            miss = (1.0 - model.experts_active / model.experts_routed) ** batch
            weights = (model.always_read_params / lay.tensor_parallel
                       + model.routed_expert_params / lay.chips * (1.0 - miss)) * self.bytes_per_param
        else:
            weights = lay.weights_bytes
        memory = (weights + b * lay.kv_copies * self.avg_ctx * self.kv_bytes) / self.bandwidth
        compute = b * self.compute_s_per_token
        rest = b * self.comm_s_per_token + self.collectives_per_step * self.latency_s + self.overhead_s
        return memory, compute, rest

    def step_s(self, batch: int) -> float:
        memory, compute, rest = self.parts(batch)
        return max(memory, compute) + rest

    def largest_batch(self, tpot_s: float) -> int:
        """Largest batch whose step meets ``tpot_s`` and fits in memory; 0 if none."""
        cap = self.batch_cap
        if cap < 1 or self.step_s(1) > tpot_s:
            return 0
        lo, hi = 1, cap
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.step_s(mid) <= tpot_s:
                lo = mid
            else:
                hi = mid - 1
        return lo


def comm_s_per_token(model: ModelSpec, hw: "HardwareSpec", precision: str, lay: Layout, eff: Efficiency) -> float:
    """Chip-seconds of tensor-parallel and expert-parallel traffic per token (module docstring)."""
    up_bw = (hw.scale_up_gb_per_s or hw.scale_out_gb_per_s) * 1e9 * eff.link
    out_bw = hw.scale_out_gb_per_s * 1e9 * eff.link
    seconds = 0.0
    t = lay.tensor_parallel
    if t > 1:
        tp_bytes = 2 * model.layers * 2.0 * (t - 1) / t * model.hidden_size * 2.0
        seconds += tp_bytes / (up_bw if t <= hw.scale_up_domain_chips else out_bw)
    n = lay.chips
    if model.is_moe and n > 1:
        moe_layers = model.layers - model.dense_layers
        per_element = (1.0 if precision in EIGHT_BIT else 2.0) + 2.0
        bytes_ = moe_layers * model.experts_active * model.hidden_size * per_element
        d = lay.domain_chips
        domains = n / d
        k = model.experts_active
        remote_domains = (domains - 1.0) * (1.0 - (1.0 - 1.0 / domains) ** k) if domains > 1 else 0.0
        seconds += bytes_ * (d - 1) / d / up_bw + bytes_ / k * remote_domains / out_bw
    return seconds


def collectives_per_step(model: ModelSpec, lay: Layout) -> int:
    count = 2 * model.layers if lay.tensor_parallel > 1 else 0
    if model.is_moe and lay.chips > 1:
        count += 2 * (model.layers - model.dense_layers)
    return count


def step_model(model: ModelSpec, hw: "HardwareSpec", precision: str, chips: int, *, peak: float, peak_kv: float,
               kv_precision: str, avg_ctx: float, ctx_max: int, eff: Efficiency, ideal: bool = False) -> StepModel:
    """A StepModel; ``ideal`` drops communication and overhead (the roofline)."""
    from workloads.estimator import default

    lay = layout(model, hw, precision, chips)
    compute = (2.0 * model.active_params / (peak * 1e12)
               + model.attention_flops_per_token(avg_ctx, absorbed=True) / (peak_kv * 1e12)) / eff.compute
    return StepModel(
        model=model, hw=hw, layout=lay, eff=eff, bytes_per_param=BYTES_PER_ELEMENT[precision],
        kv_bytes=model.kv_bytes_per_token(kv_precision), avg_ctx=avg_ctx, ctx_max=ctx_max,
        compute_s_per_token=compute,
        comm_s_per_token=0.0 if ideal else comm_s_per_token(model, hw, precision, lay, eff),
        collectives_per_step=0 if ideal else collectives_per_step(model, lay),
        overhead_s=0.0 if ideal else default("decode_step_overhead_ms") / 1000.0,
        latency_s=default("collective_latency_ms") / 1000.0,
        bandwidth=hw.memory_bandwidth_tb_per_s * 1e12 * eff.memory)


def prefill_s_per_token(model: ModelSpec, hw: "HardwareSpec", precision: str, chips: int, *, peak: float,
                        peak_kv: float, input_tokens: int, eff: Efficiency, ideal: bool = False) -> float:
    """Chip-seconds to prefill one (uncached) prompt token on a ``chips``-chip replica."""
    compute = (2.0 * model.active_params / (peak * 1e12)
               + model.attention_flops_per_token(input_tokens / 2.0) / (peak_kv * 1e12)) / eff.compute
    if ideal:
        return compute
    return compute + comm_s_per_token(model, hw, precision, layout(model, hw, precision, chips), eff)


def roofline_decode(sm: StepModel) -> float:
    """Decode tokens/s per chip with ideal efficiency, no communication or overhead, at the memory-bound batch.

    B / max(memory(B), compute(B)) grows with B (weights are read once per step), so the
    largest batch that fits is the bound.
    """
    cap = sm.batch_cap
    if cap < 1:
        return 0.0
    memory, compute, _ = sm.parts(cap)
    return cap / max(memory, compute) / sm.layout.chips
