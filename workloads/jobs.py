"""Training jobs and inference services as a scenario states them.

Figures a scenario gives directly (duration, throughput per chip, chips per
replica) are taken as given. Figures it leaves out are filled by the estimator
when the scenario is prepared (``planner.problem.build``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.inputs import bounds as B

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ReferenceChipHours(BaseModel):
    """Work stated as chip-hours on one accelerator, e.g. {accelerator: h800, chip_hours: 2.8e6}."""

    model_config = _STRICT
    accelerator: str
    chip_hours: B.ChipHours


class TrainingJob(BaseModel):
    """A gang-scheduled job: all its chips on one site and one accelerator type.

    ``kind: batch`` is batch inference: ``tokens`` is the volume to process, and the
    estimator turns it into hours from the model's throughput at ``tpot_ms``.
    """

    model_config = _STRICT

    id: str = Field(min_length=1)
    kind: Literal["training", "batch"] = "training"
    chips: B.Chips | None = Field(None, description="gang size: chips that run the job together")
    chips_min: B.Chips | None = Field(None, description="smallest gang, when the planner may choose its size")
    chips_max: B.Chips | None = Field(None, description="largest gang, when the planner may choose its size")
    allowed_accelerators: list[str] = Field(default_factory=list)
    allowed_stacks: list[str] = Field(default_factory=list, description="software stacks, e.g. [cuda, cann]")
    duration_h: B.Hours | None = Field(
        None, description="wall-clock hours on any allowed accelerator; a plan bills the power of at most "
                          "horizon_h of them (the hours inside the horizon) and prices the unfinished share of "
                          "the run like unplaced work (unplaced_cny_per_chip_hour)")
    duration_h_by_accelerator: dict[str, B.Hours] | None = Field(
        None, description="wall-clock hours per accelerator; overrides duration_h where given")
    count: B.Count = Field(1, description="number of identical copies of this job")
    unplaced_cny_per_chip_hour: B.UnitPrice | None = Field(
        None, description="penalty for leaving it unplaced; default from the objective section")
    allowed_sites: list[str] | None = Field(None, description="restrict to these sites (e.g. data residency)")
    priority: B.Multiplier = Field(1.0, description="multiplies the unplaced penalty")
    # -- work, for the estimator, when no duration is given --------------------------
    model: str | None = Field(None, description="model id from the model library (or the scenario's models)")
    tokens: B.Tokens | None = Field(None, description="training tokens (batch: tokens to process)")
    flops: B.Flops | None = Field(None, description="total training FLOPs, instead of tokens")
    reference_chip_hours: ReferenceChipHours | None = Field(
        None, description="the work as chip-hours on a named reference accelerator")
    precision: str = Field("bf16", description="training (or batch serving) precision")
    tpot_ms: B.Milliseconds = Field(200.0, description="batch: time per output token it may take")
    input_tokens: B.TokenCount = Field(2048, description="batch: mean prompt length")
    output_tokens: B.TokenCount = Field(512, description="batch: mean output length")
    # -- time and data, used by the time-of-use model (``time.mode: time``) ----------
    release_h: B.HourOfHorizon = Field(0.0, description="earliest start, hours from the horizon's start")
    deadline_h: B.HourOfHorizon | None = Field(None, description="latest end, hours from the start; default: horizon")
    preemptible: bool = Field(False, description="may be split in time at checkpoints")
    checkpoint_cny: B.CnyOrZero = Field(0.0, description="cost of each resume from a checkpoint")
    dataset_origin: str | None = Field(None, description="city or site id where the training data starts")
    dataset_gb: B.Gigabytes = Field(0.0, description="dataset size moved to the chosen site, GB")
    data_residency: bool = Field(False, description="the data may not leave the origin's province")

    @model_validator(mode="after")
    def _gang(self) -> "TrainingJob":
        if not self.allowed_accelerators and not self.allowed_stacks:
            raise ValueError("give allowed_accelerators or allowed_stacks")
        bounds = (self.chips_min, self.chips_max)
        if self.chips is None and None in bounds:
            raise ValueError("give chips, or chips_min and chips_max for the planner to choose within")
        if self.chips is not None and bounds != (None, None):
            raise ValueError("give chips or chips_min/chips_max, not both")
        if self.chips is None and self.chips_min > self.chips_max:  # type: ignore[operator]
            raise ValueError(f"chips_min {self.chips_min} exceeds chips_max {self.chips_max}")
        if self.chips is None and self.model is None:
            raise ValueError("choosing the gang size needs the work: set model with tokens (or flops)")
        if self.kind == "batch" and self.flops is not None:
            raise ValueError("batch inference is sized in tokens, not flops")
        return self

    @model_validator(mode="after")
    def _window(self) -> "TrainingJob":
        if self.deadline_h is not None and self.deadline_h <= self.release_h:
            raise ValueError(f"deadline_h {self.deadline_h:g} is not after release_h {self.release_h:g}")
        if (self.data_residency or self.dataset_gb) and self.dataset_origin is None:
            raise ValueError("dataset_gb and data_residency need dataset_origin (a city or site id)")
        return self

    @model_validator(mode="after")
    def _has_duration(self) -> "TrainingJob":
        has_work = self.model is not None and (self.tokens or self.flops)
        if self.duration_h is None and not self.duration_h_by_accelerator and not has_work \
                and self.reference_chip_hours is None:
            raise ValueError("give duration_h, duration_h_by_accelerator, model with tokens (or flops), "
                             "or reference_chip_hours")
        if sum(x is not None for x in (self.tokens, self.flops)) > 1:
            raise ValueError("give tokens or flops, not both")
        if (self.tokens or self.flops) and self.model is None:
            raise ValueError("tokens/flops need a model: set model")
        if self.duration_h_by_accelerator and self.duration_h is None and not has_work \
                and self.reference_chip_hours is None:
            missing = [a for a in self.allowed_accelerators if a not in self.duration_h_by_accelerator]
            if missing:
                spare = sorted(set(self.duration_h_by_accelerator) - set(self.allowed_accelerators))
                hint = (f"allowed_accelerators names {missing}, which duration_h_by_accelerator does not have; "
                        f"it has {spare} instead: is one of the names misspelt? (planner catalog list shows the "
                        "ids)") if spare else f"duration_h_by_accelerator has no entry for {missing}"
                raise ValueError(f"{hint}; add them or give duration_h")
        return self

    def given_hours(self, accelerator: str) -> float | None:
        """Hours the scenario states for this accelerator, or None (then the estimator decides)."""
        by_accel = self.duration_h_by_accelerator or {}
        value = by_accel.get(accelerator, self.duration_h)
        return None if value is None else float(value)


class InferenceService(BaseModel):
    """An online inference service: token demand per city under a network RTT SLO."""

    model_config = _STRICT

    id: str = Field(min_length=1)
    demand_tokens_per_s: dict[str, B.TokensPerS] = Field(
        min_length=1, description="output tokens/s of demand per demand city (the spatial model serves this rate "
        "all horizon; the time model treats it as the peak hour and follows the demand profile)")
    rtt_slo_ms: B.Milliseconds = Field(description="network round-trip SLO from city to site")
    allowed_accelerators: list[str] = Field(default_factory=list)
    allowed_stacks: list[str] = Field(default_factory=list, description="software stacks, e.g. [cuda, cann]")
    tokens_per_s_per_chip: dict[str, B.TokensPerS] = Field(
        default_factory=dict, description="sustained output tokens/s per chip at the latency SLO, counting every "
        "chip of a replica (prefill and decode), per accelerator; estimated from `model` where not given")
    chips_per_replica: dict[str, B.Chips] = Field(
        default_factory=dict, description="chips one replica needs (weights + KV cache fit), per accelerator; "
        "estimated from `model` where not given")
    model: str | None = Field(None, description="model id, for the estimator")
    precision: str = Field("bf16", description="serving precision (bf16, fp8, int8)")
    tpot_ms: B.Milliseconds = Field(50.0, description="time-per-output-token SLO the estimate must meet")
    ttft_ms: B.Milliseconds | None = Field(None, description="time-to-first-token SLO")
    input_tokens: B.TokenCount = Field(2048, description="mean prompt length, for the estimator")
    output_tokens: B.TokenCount = Field(512, description="mean output length, for the estimator")
    unserved_cny_per_mtokens: B.UnitPrice | None = Field(
        None, description="penalty per million unserved tokens; default from the objective section")
    latency_cny_per_mtokens_ms: B.UnitPriceOrZero | None = Field(
        None, description="this service's latency weight; default from the objective section")

    @model_validator(mode="after")
    def _per_accelerator(self) -> "InferenceService":
        if not self.allowed_accelerators and not self.allowed_stacks:
            raise ValueError("give allowed_accelerators or allowed_stacks")
        if self.model is not None:
            return self
        if self.allowed_stacks:
            raise ValueError("allowed_stacks needs a model so the estimator can size every accelerator")
        for name in ("tokens_per_s_per_chip", "chips_per_replica"):
            table = getattr(self, name)
            missing = [a for a in self.allowed_accelerators if a not in table]
            if missing:
                spare = sorted(set(table) - set(self.allowed_accelerators))
                hint = f" (it has {spare}: is one of the names misspelt?)" if spare else ""
                raise ValueError(f"{name} has no entry for allowed accelerator(s) {missing}{hint}; "
                                 "add them or set `model` so the estimator fills them in")
        return self
