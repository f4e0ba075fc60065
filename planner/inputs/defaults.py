"""The defaults a scenario leaves in force, each with its value and where it comes from.

``planner validate`` and ``planner plan-capacity`` list them, so a planner sees which numbers
they did not choose (the unserved-token penalty, the amortisation period …) before reading a
result that depends on them.
"""

from __future__ import annotations

from typing import Any

from planner.inputs.scenario import DEFAULT_UNPLACED_CNY_PER_CHIP_HOUR, DEFAULT_UNSERVED_CNY_PER_MTOKENS

#: where each objective default comes from (the capacity defaults carry theirs in the schema)
SOURCES = {
    "unserved_inference_cny_per_mtokens": (
        DEFAULT_UNSERVED_CNY_PER_MTOKENS,
        "the DeepSeek-V3 API output price, Feb 2025 (api-docs.deepseek.com pricing): the cost of buying the "
        "tokens elsewhere"),
    "unplaced_training_cny_per_chip_hour": (
        DEFAULT_UNPLACED_CNY_PER_CHIP_HOUR,
        "a China GPU rental of US$2.35 per GPU-hour, Mar 2026 (asiaict.com/ai/15740.html), at 7.2 CNY/USD"),
    "latency_cny_per_mtokens_ms": (None, "a preference weight, not a price: CNY per million tokens per ms of RTT"),
}


def defaults_in_force(scenario: Any) -> list[str]:
    """``section.field = value (source)`` for every objective and capacity setting the file leaves
    at its default."""
    out = []
    objective = scenario.objective
    for name in type(objective).model_fields:
        if name in objective.model_fields_set or name not in SOURCES:
            continue
        out.append(f"objective.{name} = {getattr(objective, name):g} ({SOURCES[name][1]})")
    cap = scenario.capacity
    if cap is not None:
        for name, info in type(cap).model_fields.items():
            if name in cap.model_fields_set or not info.description or info.is_required():
                continue
            value = getattr(cap, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append(f"capacity.{name} = {value:g} ({info.description})")
    return out
