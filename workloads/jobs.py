"""Training jobs and inference services as a scenario states them.

Figures a scenario gives directly (duration, throughput per chip, chips per
replica) are taken as given. Figures it leaves out are filled by the estimator
when the scenario is prepared (``planner.problem``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

_STRICT = ConfigDict(extra="forbid", frozen=True)


class TrainingJob(BaseModel):
    """A gang-scheduled training job: all ``chips`` on one site and one accelerator type."""

    model_config = _STRICT

    id: str = Field(min_length=1)
    chips: PositiveInt = Field(description="gang size: chips that run the job together")
    allowed_accelerators: list[str] = Field(min_length=1)
    duration_h: PositiveFloat | None = Field(
        None, description="wall-clock hours on any allowed accelerator")
    duration_h_by_accelerator: dict[str, PositiveFloat] | None = Field(
        None, description="wall-clock hours per accelerator; overrides duration_h where given")
    count: PositiveInt = Field(1, description="number of identical copies of this job")
    unplaced_cny_per_chip_hour: PositiveFloat | None = Field(
        None, description="penalty for leaving it unplaced; default from the objective section")
    allowed_sites: list[str] | None = Field(None, description="restrict to these sites (e.g. data residency)")

    @model_validator(mode="after")
    def _has_duration(self) -> "TrainingJob":
        if self.duration_h is None and not self.duration_h_by_accelerator:
            raise ValueError("give duration_h or duration_h_by_accelerator")
        if self.duration_h_by_accelerator and self.duration_h is None:
            missing = [a for a in self.allowed_accelerators if a not in self.duration_h_by_accelerator]
            if missing:
                raise ValueError(
                    f"duration_h_by_accelerator has no entry for {missing}; add them or give duration_h")
        return self

    def hours_on(self, accelerator: str) -> float:
        by_accel = self.duration_h_by_accelerator or {}
        return float(by_accel.get(accelerator, self.duration_h))  # type: ignore[arg-type]


class InferenceService(BaseModel):
    """An online inference service: token demand per city under a network RTT SLO."""

    model_config = _STRICT

    id: str = Field(min_length=1)
    demand_tokens_per_s: dict[str, PositiveFloat] = Field(
        min_length=1, description="tokens/s of demand per demand city")
    rtt_slo_ms: PositiveFloat = Field(description="network round-trip SLO from city to site")
    allowed_accelerators: list[str] = Field(min_length=1)
    tokens_per_s_per_chip: dict[str, PositiveFloat] = Field(
        description="sustained tokens/s per chip at the latency SLO, per accelerator")
    chips_per_replica: dict[str, PositiveInt] = Field(
        description="chips one replica needs (weights + KV cache fit), per accelerator")
    unserved_cny_per_mtokens: PositiveFloat | None = Field(
        None, description="penalty per million unserved tokens; default from the objective section")

    @model_validator(mode="after")
    def _per_accelerator(self) -> "InferenceService":
        for name in ("tokens_per_s_per_chip", "chips_per_replica"):
            table = getattr(self, name)
            missing = [a for a in self.allowed_accelerators if a not in table]
            if missing:
                raise ValueError(f"{name} has no entry for allowed accelerator(s) {missing}")
        return self
