"""The shape of a plan file, checked before any figure is: typed rows, finite numbers, known names.

A plan that fails here is not a plan of this scenario (a binary file, a truncated or hand-edited
JSON, a row naming a job the scenario does not have): ``planner verify`` reports it as bad input
(exit 2, one line naming the file and the field). A plan that passes is then judged figure by
figure (``planner.check.verify``), and each wrong figure is a violation (exit 1).

Rows may carry extra columns (the plan format grows additively); every column the checks read is
typed here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from planner.errors import InputError
from planner.inputs.files import decode_utf8, read_text

FIX = "verify a plan against the scenario it was solved from (planner solve FILE -o plan.json)"


def _number_only(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return value


def _whole(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a whole number")
    value = _number_only(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    return value


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a name (a string)")
    return value


Num = Annotated[float, BeforeValidator(_number_only)]
Whole = Annotated[int, BeforeValidator(_whole)]
Name = Annotated[str, BeforeValidator(_text)]

_ROW = ConfigDict(extra="allow", frozen=True)


class PlacementRow(BaseModel):
    model_config = _ROW
    workload: Name
    kind: Literal["training", "batch", "inference"]
    site: Name
    accelerator: Name
    chips: Whole
    replicas: Whole = 0
    hours: Num
    energy_mwh: Num
    power_cost_cny: Num
    run_share: Num | None = None  # absent in plans written before it was added


class RoutingRow(BaseModel):
    model_config = _ROW
    service: Name
    city: Name
    site: Name
    accelerator: Name
    tokens_per_s: Num
    rtt_ms: Num


class UnplacedRow(BaseModel):
    model_config = _ROW
    workload: Name
    kind: Literal["training", "batch", "inference"]
    city: Name | None = None
    tokens_per_s: Num | None = None
    reason: Name


class SiteRow(BaseModel):
    model_config = _ROW
    site: Name
    role: Name | None = None
    lat: Num | None = None
    lon: Num | None = None
    pue: Num
    price_cny_per_kwh: Num
    subsidy_fraction: Num
    carbon_kg_per_kwh: Num | None = None
    power_cap_mw: Num
    power_used_mw: Num


class InventoryRow(BaseModel):
    model_config = _ROW
    site: Name
    accelerator: Name
    chips: Whole
    chips_used: Whole
    domestic: bool
    chip_power_kw: Num


class CityRow(BaseModel):
    model_config = _ROW
    city: Name
    lat: Num
    lon: Num


class TimelineRow(BaseModel):
    model_config = _ROW
    workload: Name
    kind: Literal["training", "batch", "inference"]
    site: Name
    accelerator: Name
    chips: Whole
    start_h: Num
    end_h: Num


class HourlyRow(BaseModel):
    model_config = _ROW
    hour: Num
    site: Name
    accelerator: Name
    band: Name | None = None
    price_cny_per_kwh: Num
    training_chips: Num
    inference_chips: Num
    idle_chips: Num
    meter_kw: Num
    energy_kwh: Num
    power_cost_cny: Num


class ScheduleRow(BaseModel):
    model_config = _ROW
    workload: Name
    site: Name
    accelerator: Name
    chips: Whole
    segment: Whole
    start_h: Num
    end_h: Num
    energy_mwh: Num
    power_cost_cny: Num


class ReplicaRow(BaseModel):
    model_config = _ROW
    start_h: Num
    end_h: Num
    service: Name
    site: Name
    accelerator: Name
    replicas: Whole


class ServingRow(BaseModel):
    model_config = _ROW
    start_h: Num
    end_h: Num
    service: Name
    city: Name
    site: Name
    accelerator: Name
    tokens_per_s: Num
    rtt_ms: Num


class TransferRow(BaseModel):
    model_config = _ROW
    workload: Name
    origin: Name | None = None
    site: Name
    dataset_gb: Num
    transfer_h: Num
    cost_cny: Num


class PurchaseRow(BaseModel):
    model_config = _ROW
    period: Name
    site: Name
    system: Name
    accelerator: Name
    units: Whole
    chips: Whole
    in_service_from: Name
    capex_cny: Num
    annualised_cny_per_year: Num


class SolverBlock(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    status: Literal["optimal", "feasible", "no_solution", "infeasible", "model_invalid"] | None = None
    cp_sat_status: Name | None = None
    objective: Num | None = None
    best_bound: Num | None = None
    gap: Num | None = None
    relative_gap_limit: Num | None = None
    cost_units_per_cny: Annotated[float, BeforeValidator(_number_only), Field(gt=0)] | None = None
    interrupted: bool = False


Figures = dict[str, Num]


class PlacementPlan(BaseModel):
    """A spatial or time-of-use plan (``Result.to_dict``), or one period of a capacity plan."""

    model_config = ConfigDict(extra="allow", frozen=True)
    scenario: Name = ""
    status: Literal["optimal", "feasible", "no_solution", "infeasible", "model_invalid"]
    objective: Figures
    kpis: Figures
    placements: list[PlacementRow] = []
    routing: list[RoutingRow] = []
    unplaced: list[UnplacedRow] = []
    sites: list[SiteRow] = []
    inventory: list[InventoryRow] = []
    cities: list[CityRow] = []
    solver: SolverBlock = SolverBlock()
    timeline: list[TimelineRow] | None = None
    hourly: list[HourlyRow] = []
    schedule: list[ScheduleRow] = []
    replicas: list[ReplicaRow] = []
    serving: list[ServingRow] = []
    transfers: list[TransferRow] = []
    meta: dict[str, Any] = {}


class CapacityPlan(BaseModel):
    """A capacity plan (``CapacityResult.to_dict``)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: Literal["capacity"]
    scenario: Name = ""
    status: Literal["optimal", "feasible", "no_solution", "infeasible", "model_invalid"]
    objective: Figures
    kpis: Figures
    purchases: list[PurchaseRow] = []
    periods: dict[str, PlacementPlan]
    solver: SolverBlock = SolverBlock()


def read_plan(path: str | Path) -> Any:
    """Parse a plan file: a regular UTF-8 JSON file; ``NaN``/``Infinity`` are refused."""
    text = read_text(path, what="plan JSON file", fix="pass a plan written by `planner solve -o`")
    return parse_plan_text(text, file=str(path))


def parse_plan_text(text: str | bytes, *, file: str = "<plan>") -> Any:
    if isinstance(text, bytes):
        text = decode_utf8(text, file, what="plan JSON file")

    def refuse(constant: str) -> Any:
        raise InputError(f"holds {constant}, which is not a finite number", file=file,
                         fix="a plan holds only finite numbers; re-solve to get a clean plan")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=file, field=f"line {exc.lineno}, column {exc.colno}",
                         fix="pass a plan written by `planner solve -o`") from None
    except RecursionError:
        raise InputError("nesting is too deep for a plan", file=file, fix="pass a plan written by `planner solve -o`"
                         ) from None


def check_shape(data: Any, *, file: str = "<plan>") -> PlacementPlan | CapacityPlan:
    """The typed plan, or one ``InputError`` naming the first malformed field."""
    if not isinstance(data, dict):
        raise InputError("not a plan: expected a JSON object", file=file, fix=FIX)
    model: type[BaseModel] = CapacityPlan if data.get("kind") == "capacity" else PlacementPlan
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _loc(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise InputError(f"not a plan this verifier can read: {message}", file=file, field=field or None,
                         fix=FIX) from None


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
