"""Typed catalog entries: accelerators, systems and software-stack efficiency.

Every measured or reported number is a :class:`~hardware_catalog.provenance.Figure`.
Two kinds of "nothing" are kept apart:

* the field is absent (``None``): the figure is not published / not known;
* the field is a Figure whose ``value`` is ``None``: the chip does not support it
  (e.g. ``tflops_fp8`` on a part without FP8).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hardware_catalog.provenance import Confidence, Figure

SOFTWARE_STACKS: tuple[str, ...] = (
    "cuda",      # NVIDIA CUDA
    "cann",      # Huawei Ascend CANN (+ MindSpore, torch_npu)
    "neuware",   # Cambricon Neuware (CNNL/CNCL, torch_mlu)
    "xpu",       # Kunlunxin XPU SDK (XPyTorch, vllm-kunlun)
    "dtk",       # Hygon DTK (HIP/ROCm-compatible)
    "maca",      # MetaX MXMACA
    "musa",      # Moore Threads MUSA
    "supa",      # Biren BIRENSUPA
    "t-head",    # Alibaba T-Head PPU software stack
)
SoftwareStack = Literal["cuda", "cann", "neuware", "xpu", "dtk", "maca", "musa", "supa", "t-head"]

PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")

ExportStatus = Literal["domestic", "licence_required", "case_by_case", "prohibited"]

_ID_PATTERN = r"^[a-z0-9][a-z0-9.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExportControl(_Strict):
    """Availability in China under US export rules, with the rule and its date.

    ``domestic`` means the part is made by a Chinese vendor: US rules bear on its
    supply chain (Entity List, foundry and HBM access), not on its sale in China.
    """

    status: ExportStatus
    rule: str
    date: dt.date | None = None
    source: str
    retrieved: dt.date
    note: str | None = None


class Accelerator(_Strict):
    """One accelerator package as sold (a card or module), with its peak dense figures."""

    id: str = Field(pattern=_ID_PATTERN)
    name: str
    vendor: str
    released: bool
    domestic: bool
    software_stack: SoftwareStack
    release_year: int | None = None
    source: str | None = Field(default=None, description="where the identity fields come from")
    tflops_fp32: Figure | None = None
    tflops_tf32: Figure | None = None
    tflops_bf16: Figure | None = None
    tflops_fp16: Figure | None = None
    tflops_fp8: Figure | None = None
    tflops_int8: Figure | None = None
    sparse: str | None = Field(default=None, description="sparse-throughput note; never mixed into the tflops_* figures")
    memory_type: str | None = None
    memory_gib: Figure | None = None
    memory_bandwidth_tb_per_s: Figure | None = None
    interconnect_name: str | None = None
    interconnect_gb_per_s: Figure | None = None
    interconnect_direction: Literal["unidirectional", "bidirectional"] | None = None
    tdp_w: Figure | None = None
    process_node: str | None = None
    export_control: ExportControl | None = None
    unit_price_usd: Figure | None = None
    unit_price_cny: Figure | None = None
    supply_2025_units: Figure | None = None
    supply_2026_units: Figure | None = None
    notes: str | None = None

    def peak_tflops(self, precision: str) -> float | None:
        """Peak dense TFLOPS (TOPS for int8) at ``precision``; None if unsupported or unpublished."""
        from planner.errors import UnknownNameError

        key = precision.lower()
        if key not in PRECISIONS:
            raise UnknownNameError("precision", precision, PRECISIONS)
        figure: Figure | None = getattr(self, f"tflops_{key}")
        return None if figure is None else figure.value

    def supports(self, precision: str) -> bool:
        """True when the part has a published, non-null peak at ``precision``."""
        return self.peak_tflops(precision) is not None

    def figures(self) -> dict[str, Figure]:
        """Every Figure on this entry, by field name."""
        return {name: value for name, value in self if isinstance(value, Figure)}

    @model_validator(mode="after")
    def _check(self) -> "Accelerator":
        if self.interconnect_gb_per_s is not None and self.interconnect_gb_per_s.value is not None \
                and self.interconnect_name is None:
            raise ValueError("interconnect_gb_per_s needs interconnect_name")
        for name, fig in self.figures().items():
            if fig.value is not None and fig.value < 0:
                raise ValueError(f"{name} must not be negative (got {fig.value})")
        return self


class System(_Strict):
    """A server, rack or supernode built from one accelerator type.

    ``power_kw`` is IT power at the meter for the whole system (accelerators, host
    CPUs, memory, NICs, in-system switches and optics, fans, PSU losses). It excludes
    facility cooling: the planner multiplies by the site PUE separately.
    """

    id: str = Field(pattern=_ID_PATTERN)
    name: str
    vendor: str
    accelerator: str
    also_ships_with: tuple[str, ...] = Field(default=(), description="sibling accelerator variants sold in the same system")
    released: bool = True
    chips: int = Field(gt=0)
    scale_up_domain_chips: int = Field(gt=0)
    chips_per_node: int | None = Field(
        default=None, gt=0,
        description="accelerators per server (one Kubernetes node) in a system of several servers")
    power_kw: Figure | None = None
    rack_units: int | None = Field(default=None, gt=0)
    racks: int | None = Field(default=None, gt=0)
    price_usd: Figure | None = None
    price_cny: Figure | None = None
    source: str | None = Field(default=None, description="where chips, domain size and footprint come from")
    notes: str | None = None

    def figures(self) -> dict[str, Figure]:
        return {name: value for name, value in self if isinstance(value, Figure)}

    @model_validator(mode="after")
    def _check(self) -> "System":
        if self.scale_up_domain_chips > self.chips:
            # A domain spanning several servers (a supernode) is described as one system.
            raise ValueError("scale_up_domain_chips exceeds chips: describe the whole scale-up domain as one system")
        if self.accelerator in self.also_ships_with:
            raise ValueError("also_ships_with repeats the main accelerator")
        if self.chips_per_node is not None and self.chips % self.chips_per_node:
            raise ValueError(f"chips ({self.chips}) is not a whole number of nodes of chips_per_node "
                             f"({self.chips_per_node})")
        return self


class StackEfficiency(_Strict):
    """Achievable fraction of peak on one software stack.

    ``training_mfu``: model-FLOPs utilisation of large-scale LLM pre-training,
    relative to the chip's peak dense BF16/FP16.
    ``inference_efficiency``: achieved fraction of peak dense compute (in the
    serving precision) in compute-bound serving (prefill).
    """

    stack: SoftwareStack
    name: str
    vendors: tuple[str, ...]
    training_mfu: Figure
    inference_efficiency: Figure
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "StackEfficiency":
        for name in ("training_mfu", "inference_efficiency"):
            value = getattr(self, name).value
            if value is None or not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be a fraction in (0, 1], got {value}")
        return self


CONFIDENCE_ORDER: tuple[Confidence, ...] = tuple(Confidence)
