"""The model library: architecture figures for the LLMs a planner serves and trains.

``load_models()`` reads ``workloads/data/models.yaml`` and returns
``{model_id: ModelSpec}``. A scenario adds or overrides models with
``load_models(extra={...})`` using the same fields as the YAML file.

Derived quantities (KV-cache bytes per token, attention FLOPs, the split of
parameters into routed experts and the always-read remainder) are properties
computed from the config fields, so they cannot drift from their inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hardware_catalog.provenance import Figure, load_figure
from planner.errors import InputError, UnknownNameError
from planner.inputs.files import read_yaml

MODELS_FILE = Path(__file__).parent / "data" / "models.yaml"

#: Bytes per stored element at each precision the estimator knows.
BYTES_PER_ELEMENT: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


def smaller_fix(precision: str, *rest: str) -> str:
    """The fix for "does not fit": a smaller precision only where one exists (never fp8 to fp8)."""
    smaller = [p for p, b in BYTES_PER_ELEMENT.items() if b < BYTES_PER_ELEMENT.get(precision, 0)]
    options = ([f"a lower precision ({' or '.join(smaller)})"] if smaller else []) + list(rest)
    return "try " + (", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0])


class ModelSpec(BaseModel):
    """One model's architecture, as published in its config.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    source: str
    retrieved: dt.date
    total_params_b: Figure
    active_params_b: Figure
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    attention: Literal["mha", "gqa", "mla"]
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0, description="query/key head size (qk_nope_head_dim for MLA)")
    qk_rope_head_dim: int = Field(0, ge=0)
    v_head_dim: int | None = Field(None, gt=0)
    kv_lora_rank: int | None = Field(None, gt=0)
    experts_routed: int = Field(0, ge=0)
    experts_shared: int = Field(0, ge=0)
    experts_active: int = Field(0, ge=0)
    dense_layers: int = Field(0, ge=0)
    max_context_tokens: int = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        if self.total_params_b.value is None or self.active_params_b.value is None:
            raise ValueError("total_params_b and active_params_b need a value")
        if self.active_params_b.value > self.total_params_b.value:
            raise ValueError("active_params_b exceeds total_params_b")
        if self.attention == "mla" and self.kv_lora_rank is None:
            raise ValueError("attention 'mla' needs kv_lora_rank")
        if self.experts_routed and not 0 < self.experts_active <= self.experts_routed:
            raise ValueError("experts_active must be between 1 and experts_routed")
        if self.experts_routed and self.active_params_b.value == self.total_params_b.value:
            raise ValueError("a mixture-of-experts model needs active_params_b below total_params_b")
        return self

    # -- parameters -----------------------------------------------------------------------

    @property
    def is_moe(self) -> bool:
        return self.experts_routed > 0

    @cached_property
    def total_params(self) -> float:
        return self.total_params_b.value * 1e9  # type: ignore[operator]

    @cached_property
    def active_params(self) -> float:
        return self.active_params_b.value * 1e9  # type: ignore[operator]

    @cached_property
    def routed_expert_params(self) -> float:
        """Parameters in routed experts: total = rest + routed, active = rest + routed x k/E."""
        if not self.is_moe:
            return 0.0
        share = self.experts_active / self.experts_routed
        return (self.total_params - self.active_params) / (1.0 - share)

    @cached_property
    def always_read_params(self) -> float:
        """Parameters every decode step reads whatever the routing (attention, dense, shared)."""
        return self.total_params - self.routed_expert_params

    def weights_read_params(self, batch_tokens: float) -> float:
        """Expected parameters a decode step touches for ``batch_tokens`` tokens.

        Each routed expert is untouched by one token with probability 1 - k/E, so
        the expected routed share read is 1 - (1 - k/E)^B (uniform routing).
        """
        if not self.is_moe:
            return self.total_params
        miss = (1.0 - self.experts_active / self.experts_routed) ** max(batch_tokens, 0.0)
        return self.always_read_params + self.routed_expert_params * (1.0 - miss)

    # -- attention ------------------------------------------------------------------------

    def kv_bytes_per_token(self, kv_precision: str = "bf16") -> float:
        """KV-cache bytes one token occupies across all layers.

        MLA caches the compressed latent plus the decoupled RoPE key:
        layers x (kv_lora_rank + qk_rope_head_dim) x bytes. GQA/MHA cache a key
        and a value per KV head: 2 x layers x kv_heads x head_dim x bytes.
        """
        bytes_ = BYTES_PER_ELEMENT[kv_precision]
        if self.attention == "mla":
            return self.layers * (self.kv_lora_rank + self.qk_rope_head_dim) * bytes_  # type: ignore[operator]
        return 2.0 * self.layers * self.kv_heads * self.head_dim * bytes_

    @property
    def _qk_dim(self) -> int:
        return self.head_dim + self.qk_rope_head_dim

    @property
    def _v_dim(self) -> int:
        return self.v_head_dim or self.head_dim

    def attention_flops_per_token(self, context_tokens: float, *, absorbed: bool = False) -> float:
        """Forward FLOPs for one query token attending to ``context_tokens`` keys.

        2 x layers x heads x context x (d_qk + d_v). For MLA decode with the
        up-projections absorbed, scores run over kv_lora_rank + rope dims and
        values over kv_lora_rank (DeepSeek-V2 paper, sec. 2.1.2).
        """
        if absorbed and self.attention == "mla":
            d_qk = self.kv_lora_rank + self.qk_rope_head_dim  # type: ignore[operator]
            d_v = self.kv_lora_rank
        else:
            d_qk, d_v = self._qk_dim, self._v_dim
        return 2.0 * self.layers * self.attention_heads * context_tokens * (d_qk + d_v)  # type: ignore[operator]

    def training_flops_per_token(self, seq_len: int) -> float:
        """6 x active params + attention, after PaLM (arXiv 2204.02311, app. B): 6·L·H·T·(d_qk + d_v)."""
        attention = 6.0 * self.layers * self.attention_heads * seq_len * (self._qk_dim + self._v_dim)
        return 6.0 * self.active_params + attention


def _read_yaml(path: Path) -> dict[str, Any]:
    data = read_yaml(path, what="model library file")
    if not isinstance(data, dict):
        raise InputError("expected a mapping of model id to fields", file=str(path),
                         fix="write 'model-id: {name: ..., layers: ...}'")
    return data


_FIGURES = ("total_params_b", "active_params_b")


def parse_models(data: Mapping[str, Any], *, file: str) -> dict[str, ModelSpec]:
    """Validate ``{model_id: fields}`` into ModelSpecs; errors name the model and field."""
    models: dict[str, ModelSpec] = {}
    for model_id, fields in data.items():
        if not isinstance(fields, Mapping):
            raise InputError("expected a mapping of fields", file=file, field=str(model_id),
                             fix="give name, source, layers, ... under the model id")
        # the figures come through the one Figure loader of the catalog, the topology and the workloads
        figures = {name: load_figure(fields[name], file=file, field=f"{model_id}.{name}")
                   for name in _FIGURES if fields.get(name) is not None}
        try:
            models[str(model_id)] = ModelSpec(id=str(model_id), **{**fields, **figures})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InputError(err["msg"], file=file, field=f"{model_id}.{where}" if where else str(model_id),
                             fix="see workloads/data/models.yaml for a complete entry") from exc
    return models


def load_models(extra: Mapping[str, Any] | None = None, *, path: Path | None = None) -> dict[str, ModelSpec]:
    """Load the model library, then add or replace models from ``extra`` (same fields)."""
    path = path or MODELS_FILE
    models = parse_models(_read_yaml(path), file=str(path))
    if extra:
        models.update(parse_models(extra, file="scenario models"))
    return models


def get_model(model_id: str, models: Mapping[str, ModelSpec] | None = None) -> ModelSpec:
    """Look a model up by id, with "did you mean" on a typo."""
    models = models if models is not None else load_models()
    try:
        return models[model_id]
    except KeyError:
        raise UnknownNameError("model", model_id, models, field="model") from None
