"""The solved plan: a small object around tidy DataFrames, with a JSON form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from planner.results.columns import (
    CITY_COLUMNS,
    HOURLY_COLUMNS,
    INVENTORY_COLUMNS,
    PLACEMENT_COLUMNS,
    PLAN_FORMAT_VERSION,
    REPLICA_COLUMNS,
    ROUTING_COLUMNS,
    SCHEDULE_COLUMNS,
    SERVING_COLUMNS,
    SITE_COLUMNS,
    TIMELINE_COLUMNS,
    TRANSFER_COLUMNS,
    UNPLACED_COLUMNS,
)


class Status(str, Enum):
    """The project's own solver statuses."""

    optimal = "optimal"  # proven optimal (within the requested relative gap)
    feasible = "feasible"  # a plan, not proven optimal in the time limit
    no_solution = "no_solution"  # time ran out before any plan was found
    infeasible = "infeasible"
    model_invalid = "model_invalid"

    @property
    def has_plan(self) -> bool:
        return self in (Status.optimal, Status.feasible)


@dataclass
class Result:
    """A plan with its cost, KPIs and solver statistics. Build one with ``planner.core.solve``."""

    scenario: str
    status: Status
    objective: dict[str, float]
    kpis: dict[str, float]
    placements: pd.DataFrame
    routing: pd.DataFrame
    unplaced: pd.DataFrame
    solver: dict[str, Any]
    #: the sites, their pools and the demand cities, so a plan file alone can be mapped and reported
    sites: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SITE_COLUMNS))
    inventory: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INVENTORY_COLUMNS))
    cities: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CITY_COLUMNS))
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # catalog/topology versions, horizon
    # -- time-of-use plans only (empty for spatial plans); see planner.problem.timedata -------------
    #: when each job segment and block of replicas runs; None for spatial plans (everything from hour 0)
    timeline: pd.DataFrame | None = None
    #: per (hour, site, accelerator): chips busy and idle, meter kW, price, band and power cost
    hourly: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HOURLY_COLUMNS))
    #: per job run segment: start_h, end_h, energy and power cost
    schedule: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCHEDULE_COLUMNS))
    #: replicas per (block, service, site, accelerator)
    replicas: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPLICA_COLUMNS))
    #: tokens/s per (block, service, city, site, accelerator)
    serving: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SERVING_COLUMNS))
    #: dataset transfer hours and cost per job
    transfers: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TRANSFER_COLUMNS))

    # ---- reading ----------------------------------------------------------------
    def cost(self) -> float:
        return float(self.objective.get("total_cny", float("nan")))

    def is_feasible(self) -> bool:
        return self.status.has_plan

    def summary(self) -> str:
        """A plain-text summary: status, objective terms, KPIs and the gap."""
        s = self.solver
        lines = [
            f"scenario {self.scenario}: {self.status.value}",
            f"objective {self.objective.get('total_cny', 0):,.0f} CNY = power {self.objective.get('power_cost_cny', 0):,.0f}"
            f" + latency {self.objective.get('latency_cny', 0):,.0f} + unplaced {self.objective.get('unplaced_penalty_cny', 0):,.0f}",
            f"best bound {s.get('best_bound', float('nan')):,.0f} CNY, gap {100 * s.get('gap', float('nan')):.3f} %,"
            f" wall {s.get('wall_s', 0):.2f} s",
            f"energy {self.kpis.get('energy_mwh', 0):,.1f} MWh, mean RTT {self.kpis.get('mean_rtt_ms', 0):.1f} ms,"
            f" max RTT {self.kpis.get('max_rtt_ms', 0):.1f} ms, unplaced {len(self.unplaced)}",
        ]
        return "\n".join(lines)

    # ---- JSON -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "scenario": self.scenario,
            "status": self.status.value,
            "objective": self.objective,
            "kpis": self.kpis,
            "placements": _records(self.placements),
            "routing": _records(self.routing),
            "unplaced": _records(self.unplaced),
            "sites": _records(self.sites),
            "inventory": _records(self.inventory),
            "cities": _records(self.cities),
            "solver": self.solver,
            **{name: _records(getattr(self, name)) for name in _TIME_TABLES
               if getattr(self, name) is not None and len(getattr(self, name))},
            "warnings": self.warnings,
            "meta": self.meta,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        return dump_json(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Result":
        return cls(
            scenario=data.get("scenario", ""),
            status=Status(data["status"]),
            objective=dict(data.get("objective", {})),
            kpis=dict(data.get("kpis", {})),
            placements=pd.DataFrame(data.get("placements", []), columns=PLACEMENT_COLUMNS),
            routing=pd.DataFrame(data.get("routing", []), columns=ROUTING_COLUMNS),
            unplaced=pd.DataFrame(data.get("unplaced", []), columns=UNPLACED_COLUMNS),
            sites=pd.DataFrame(data.get("sites", []), columns=SITE_COLUMNS),
            inventory=pd.DataFrame(data.get("inventory", []), columns=INVENTORY_COLUMNS),
            cities=pd.DataFrame(data.get("cities", []), columns=CITY_COLUMNS),
            solver=dict(data.get("solver", {})),
            warnings=list(data.get("warnings", [])),
            meta=dict(data.get("meta", {})),
            **{name: pd.DataFrame(data.get(name, []), columns=cols) for name, cols in _TIME_TABLES.items()
               if name != "timeline" or "timeline" in data},
        )

    @classmethod
    def from_json(cls, path: str | Path) -> "Result":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


_TIME_TABLES = {"timeline": TIMELINE_COLUMNS, "hourly": HOURLY_COLUMNS, "schedule": SCHEDULE_COLUMNS, "replicas": REPLICA_COLUMNS,
                "serving": SERVING_COLUMNS, "transfers": TRANSFER_COLUMNS}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records")) if len(df) else []


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


_COMPACT = json.JSONEncoder(allow_nan=False, default=_json_default)


def _dump(value: Any, level: int) -> str:
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        items = (f"{pad}{_COMPACT.encode(k)}: {_dump(v, level + 1)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, list) and value and all(isinstance(x, (dict, list)) for x in value):
        return "[\n" + ",\n".join(pad + _COMPACT.encode(x) for x in value) + "\n" + end + "]"
    return _COMPACT.encode(value)


def dump_json(data: dict[str, Any], path: str | Path | None = None) -> str:
    """A plan as JSON text (written to ``path`` too, if given): the one writer of plan files.

    Mappings are indented; a list of records or rows (a table) is written one compact record per
    line. That reads like the table it is, and each record goes through the json module's C
    encoder (indented output is encoded in Python: 0.052 s for a plan of 2,000 distinct jobs, now 0.025 s)."""
    text = _dump(data, 0)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text
