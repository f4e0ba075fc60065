"""Scenario files: YAML in, validated and immutable pydantic objects out.

A scenario names the catalog and topology it uses (built-in by default), the
inventory and power cap of each site, the training jobs and inference
services, the objective weights and the solver settings. Loading never runs
anything from the file: YAML is read with the safe loader and every key is
checked against the schema (unknown keys are errors, with "did you mean").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from planner import collector
from planner.errors import InputError
from planner.inputs import bounds as B
from planner.inputs.files import check_finite, read_yaml
from planner.inputs.validation import validation_to_input_error
from planner.inputs.schemas import AddedAccelerator, CatalogOverrides, TopologyOverlay
from workloads.jobs import InferenceService, TrainingJob

_STRICT = ConfigDict(extra="forbid", frozen=True)

#: Defaults for the objective weights, with where they come from.
#: - unplaced training: renting the chip-hours elsewhere; a China GPU rental of
#:   US$2.35/GPU-h (Mar 2026, asiaict.com/ai/15740.html) ≈ 17 CNY at 7.2 CNY/USD.
#: - unserved inference: buying the tokens from a public API; DeepSeek-V3 output
#:   price 8 CNY per million tokens (Feb 2025, api-docs.deepseek.com pricing).
DEFAULT_UNPLACED_CNY_PER_CHIP_HOUR = 17.0
DEFAULT_UNSERVED_CNY_PER_MTOKENS = 8.0


class CatalogRef(BaseModel):
    """Which accelerator catalog to use and what to change in it."""

    model_config = _STRICT
    path: str | None = Field(None, description="catalog YAML replacing the built-in one (relative to the scenario)")
    overrides: CatalogOverrides = Field(default_factory=lambda: CatalogOverrides({}),
                                        description="{accelerator_id: {field: value}} (planner schema --kind "
                                        "catalog-override)")
    add: list[AddedAccelerator] = Field(default_factory=list, description="extra accelerator entries")

    def overrides_dict(self) -> dict[str, Any]:
        """The overrides as plain data, for the catalog loader."""
        return self.overrides.model_dump(exclude_unset=True)

    def add_list(self) -> list[dict[str, Any]]:
        return [a.model_dump(exclude_unset=True) for a in self.add]


class TopologyRef(BaseModel):
    """Which site topology to use and what to change in it."""

    model_config = _STRICT
    path: str | None = Field(None, description="topology YAML replacing the built-in one (relative to the scenario)")
    overlay: TopologyOverlay = Field(default_factory=TopologyOverlay,
                                     description="add/remove sites, change tariffs, cut links (planner schema "
                                     "--kind overlay)")

    def overlay_dict(self) -> dict[str, Any]:
        """The overlay as plain data, for the topology loader."""
        return self.overlay.model_dump(exclude_unset=True)


class SitePlan(BaseModel):
    """What a site has: chips per accelerator and the power cap at the meter."""

    model_config = _STRICT
    inventory: dict[str, B.ChipsOrZero] = Field(default_factory=dict, description="chips per accelerator id")
    power_cap_mw: B.PowerMW | None = Field(
        None, description="power at the meter (IT × PUE) in MW; default: the topology's envelope")


class Objective(BaseModel):
    """Weights that turn power, latency and unplaced work into one CNY figure."""

    model_config = _STRICT
    power_cost_weight: B.Weight = 1.0
    latency_cny_per_mtokens_ms: B.UnitPriceOrZero = Field(
        0.01, description="CNY per million served tokens per ms of network RTT (a preference, not a price)")
    unplaced_training_cny_per_chip_hour: B.UnitPrice = DEFAULT_UNPLACED_CNY_PER_CHIP_HOUR
    unserved_inference_cny_per_mtokens: B.UnitPrice = DEFAULT_UNSERVED_CNY_PER_MTOKENS


class SolverSettings(BaseModel):
    """CP-SAT settings."""

    model_config = _STRICT
    time_limit_s: B.TimeLimit = 30.0
    workers: B.Workers = 2
    seed: B.Seed = 0
    max_variables: B.ModelVariables = Field(
        B.MAX_MODEL_VARIABLES, description="refuse a model estimated larger than this (planner.problem.size); "
        "raise it only if the machine has about 1 KB of memory per variable")
    relative_gap: B.Fraction = Field(0.0, description="stop when the gap is below this")
    max_memory_gb: B.MemoryGB = Field(
        3.0, description="a CP-SAT search stops with its best plan, as at its time limit, once the process "
        "holds more than this many GB (resident); CP-SAT grows with the time it searches")


class TimeSettings(BaseModel):
    """The time-of-use model: horizon in steps, hourly tariffs, diurnal demand (see ``planner.core.timemodel``)."""

    model_config = _STRICT
    mode: Literal["spatial", "time"] = Field(
        "spatial", description="spatial: all work concurrent at mean prices; time: schedule hour by hour")
    step_h: B.StepHours = Field(1, description="time step in hours; job starts fall on steps")
    demand_profile: str = Field(
        "builtin", description="'builtin' (diurnal estimate) or a CSV path: hour,fraction_of_peak[,city]")
    demand_resolution_h: B.StepHours = Field(
        1, description="serve each run of this many hours at its peak hour's demand (fewer blocks, conservative)")
    idle_chips: Literal["off", "idle"] = Field(
        "off", description="off: unused chips are switched off; idle: they draw idle power")
    idle_power_fraction: B.Fraction | None = Field(
        None, description="idle draw as a fraction of busy chip power; default: the data file's estimate")
    serving_blocks: Literal["auto", "demand_and_price", "demand"] = Field(
        "auto", description="replicas change where demand or any price changes, or where demand changes only (faster)")
    start_grid: Literal["auto", "every_step", "breakpoints"] = Field(
        "auto", description="candidate start steps: every step, or tariff breakpoints only (faster)")
    pools_per_job: B.SmallCount | None = Field(
        None, description="consider only this many cheapest pools per job class (decomposition); default: auto")
    transfer_bandwidth_share: B.Fraction | None = Field(
        None, gt=0, description="share of the bottleneck a transfer gets; default: fair share per origin")
    month: B.Month | None = Field(None, description="month for seasonal tariff overrides")


class CandidateSystem(BaseModel):
    """A system (server or supernode) from the catalog that may be bought."""

    model_config = _STRICT
    system: str = Field(description="system id from the catalog, e.g. hgx-h20, cloudmatrix-384")
    sites: list[str] | None = Field(None, description="sites it may go to; default every site in the scenario")
    max_units_per_site: B.Units | None = Field(None, description="per site and period")
    price_cny: B.Cny | None = Field(None, description="unit price; default the catalog's")
    lead_time_periods: B.Units = Field(0, description="periods between order and service")


class PlanningPeriod(BaseModel):
    """One planning period (a quarter or a year) with its demand forecast."""

    model_config = _STRICT
    name: str
    inference_growth: B.Multiplier = Field(1.0, description="multiplies every service's demand")
    training_growth: B.Multiplier = Field(1.0, description="multiplies every training job's count (rounded)")
    budget_cny: B.Cny | None = Field(None, description="capex budget for purchases in this period")


class CapacitySettings(BaseModel):
    """Capacity planning: which systems may be bought, and what money, supply and space allow."""

    model_config = _STRICT
    candidates: list[CandidateSystem] = Field(min_length=1)
    budget_cny: B.Cny | None = Field(None, description="capex budget over all periods")
    periods: list[PlanningPeriod] = Field(default_factory=lambda: [PlanningPeriod(name="year-1")], min_length=1)
    amortisation_years: B.Years = Field(
        5.0, description="assumption: servers are commonly depreciated over 5 years; set your own")
    interest_rate: B.Fraction = Field(0.05, description="assumption: cost of capital for the capital recovery "
                                 "factor; set your own")
    maintenance_fraction_per_year: B.Fraction = Field(
        0.03, description="assumption: maintenance and support per year as a share of capex; set your own")
    supply_chips_per_period: dict[str, B.ChipsOrZero] = Field(
        default_factory=dict, description="chips of each accelerator that can be bought per period; overrides the "
        "catalog's supply figures")
    catalog_supply_caps: bool = Field(
        True, description="cap an accelerator with no supply_chips_per_period in a period named by a year (e.g. "
        "'2026') at the catalog's supply_<year>_units (national production or imports; planner catalog checks "
        "lists them)")
    space_racks: dict[str, B.Racks] = Field(default_factory=dict, description="racks free for new systems per site")
    usd_to_cny: B.ExchangeRate = Field(7.2, description="for catalog prices in USD; 7.2 is the rounded 2025 level of "
                                      "the CNY/USD rate (about 7.1-7.3 through 2025), set the rate you budget at")
    rack_units_per_rack: B.SmallCount = Field(42, description="a standard 42U rack, for systems sized in rack units")
    allow_export_controlled: bool = Field(False, description="allow buying parts whose export status is prohibited")


class Scenario(BaseModel):
    """A planning scenario. Immutable: the solver never changes it."""

    model_config = _STRICT
    name: str = "scenario"
    description: str = ""
    horizon_h: B.HorizonHours = Field(24.0, description="hours that inference runs and power is billed over")
    catalog: CatalogRef = Field(default_factory=CatalogRef)
    topology: TopologyRef = Field(default_factory=TopologyRef)
    sites: dict[str, SitePlan] = Field(min_length=1)
    training_jobs: list[TrainingJob] = Field(default_factory=list)
    batch_inference: list[TrainingJob] = Field(
        default_factory=list, description="batch inference: a model, a token volume and a deadline; "
        "scheduled like training (same fields; kind is set to batch)")
    inference_services: list[InferenceService] = Field(default_factory=list)
    models: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="extra models for the estimator, {model_id: fields as in the model library}")
    objective: Objective = Field(default_factory=Objective)
    capacity: CapacitySettings | None = Field(None, description="capacity planning (planner plan-capacity)")
    solver: SolverSettings = Field(default_factory=SolverSettings)
    time: TimeSettings = Field(default_factory=TimeSettings)
    #: where the scenario was read from; relative paths resolve against it
    _source_path: str | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> str | None:
        """The file the scenario was read from (not part of the scenario itself)."""
        return self._source_path

    @model_validator(mode="before")
    @classmethod
    def _batch_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("batch_inference"), list):
            data = {**data, "batch_inference": [{**b, "kind": "batch"} if isinstance(b, dict) else b
                                                for b in data["batch_inference"]]}
        return data

    @property
    def jobs(self) -> list[TrainingJob]:
        """Training jobs and batch-inference jobs: all the gang-scheduled work."""
        return [*self.training_jobs, *self.batch_inference]

    def job_field(self, index: int) -> str:
        """Where the ``index``-th of ``jobs`` sits in the file, for error messages."""
        n = len(self.training_jobs)
        return f"training_jobs[{index}]" if index < n else f"batch_inference[{index - n}]"

    @model_validator(mode="after")
    def _unique_ids(self) -> "Scenario":
        for kind, items in (("jobs", self.jobs), ("inference_services", self.inference_services)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    raise ValueError(f"id '{item.id}' is used twice among {kind}; ids must be unique")
                seen.add(item.id)
        clash = {j.id for j in self.jobs} & {s.id for s in self.inference_services}
        if clash:
            raise ValueError(f"ids {sorted(clash)} name both a training job and a service; rename one")
        if not self.jobs and not self.inference_services:
            raise ValueError("the scenario has no training_jobs, batch_inference or inference_services")
        return self

    def resolve(self, path: str | None) -> Path | None:
        """Resolve a path given in the scenario relative to the scenario file."""
        if path is None:
            return None
        p = Path(path)
        if not p.is_absolute() and self.source_path:
            p = Path(self.source_path).parent / p
        return p


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file."""
    return Scenario.model_json_schema()


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario YAML file.

    ``overrides`` maps dotted keys to values (``{"solver.time_limit_s": 5}``) and
    is merged before validation, as Calliope does with its overrides.
    """
    with collector.paused():  # every object read lives on in the scenario (planner.collector)
        return _load_scenario(Path(path), overrides)


def _load_scenario(path: Path, overrides: dict[str, Any] | None) -> Scenario:
    data = read_yaml(path, what="scenario file", fix="check the path")
    if not isinstance(data, dict):
        raise InputError("a scenario must be a YAML mapping (key: value)", file=str(path),
                         fix="start from workloads/examples/east_west_small.yaml")
    for key, value in (overrides or {}).items():
        check_finite(value, file=str(path), prefix=key)  # an override is checked like the file
        _set_dotted(data, key, value, file=str(path))
    return scenario_from_dict(data, file=str(path))


def scenario_from_dict(data: dict[str, Any], file: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a plain dict (as parsed from YAML)."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, file, Scenario) from None
    scenario._source_path = file if file != "<scenario>" else None
    return scenario


def _set_dotted(data: dict[str, Any], key: str, value: Any, file: str = "<scenario>") -> None:
    """Set ``a.b.0.c`` in nested dicts and lists; list items may also be named by their ``id``."""
    parts = key.split(".")
    node: Any = data
    try:
        for part in parts[:-1]:
            node = _child(node, part, create=True)
        if isinstance(node, list):
            node[_index(node, parts[-1])] = value
        elif isinstance(node, dict):
            node[parts[-1]] = value
        else:
            raise KeyError(parts[-1])
    except (KeyError, IndexError, ValueError, TypeError):
        raise InputError(f"cannot set '{key}': no such place in the scenario", file=file, field=key,
                         fix="use dotted keys as in the file; list items by index or id, "
                             "e.g. training_jobs.0.chips or inference_services.chat.rtt_slo_ms") from None


def _index(items: list[Any], part: str) -> int:
    if part.isdigit():
        return int(part)
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == part:
            return i
    raise KeyError(part)


def _child(node: Any, part: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part)]
    if isinstance(node, dict):
        if part not in node or node[part] is None:
            node[part] = {}
        return node[part]
    raise KeyError(part)
