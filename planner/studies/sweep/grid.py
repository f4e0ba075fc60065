"""Sweep parameters: ``--param`` grids, Latin-hypercube samples, tornado points, resolved scenarios.

A parameter is any ``--set`` key (``sites.guian.power_cap_mw``,
``topology.overlay.tariffs.guian.flat_price_cny_per_kwh``, ``inference_services.chat.rtt_slo_ms``)
or ``demand_scale``, which multiplies every inference service's demand per city.

    KEY=V1,V2,V3        these values (YAML: numbers, strings, lists)
    KEY=START:STOP:N    N evenly spaced numbers from START to STOP inclusive
    KEY=LOW:HIGH        a range (for --samples and --tornado)

The grid is the product of every parameter's values; ``--samples N`` draws a
Latin hypercube instead: each range is cut into N equal strata, every stratum is
used once, and value lists are drawn the same way over their indices.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from planner.errors import InputError
from planner.inputs.scenario import Scenario, load_scenario

#: a run's status when it raised, or was killed, rather than coming back from the solver
FAILED = "failed"
#: sweep-only keys that are not scenario fields
DEMAND_SCALE = "demand_scale"


@dataclass(frozen=True)
class Param:
    """One swept parameter: an explicit list of values, or a numeric range."""

    key: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None


def _number(text: str, item: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{flag} {item!r}: '{text}' is not a number", field=flag,
                         fix="write KEY=START:STOP:N with numbers, or KEY=V1,V2 for a list") from None


def parse_param(item: str, flag: str = "--param") -> Param:
    """Parse ``KEY=V1,V2``, ``KEY=START:STOP:N`` or ``KEY=LOW:HIGH``."""
    key, sep, raw = item.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise InputError(f"{flag} {item!r} is not KEY=VALUES", field=flag,
                         fix="write KEY=V1,V2,V3 or KEY=START:STOP:N, e.g. sites.guian.power_cap_mw=20:40:3")
    if not raw:
        raise InputError(f"{flag} {item!r}: empty range, no values", field=flag,
                         fix="give values after '=', e.g. KEY=1,2,3 or KEY=10:30:3")
    parts = raw.split(":")
    if len(parts) in (2, 3) and "," not in raw:
        low, high = _number(parts[0], item, flag), _number(parts[1], item, flag)
        if len(parts) == 2:
            if low == high:
                raise InputError(f"{flag} {item!r}: empty range, LOW equals HIGH", field=flag,
                                 fix="give two different ends, e.g. KEY=10:30")
            return Param(key, low=low, high=high)
        try:
            n = int(parts[2])
        except ValueError:
            raise InputError(f"{flag} {item!r}: N '{parts[2]}' is not a whole number", field=flag,
                             fix="write KEY=START:STOP:N, e.g. KEY=10:30:3") from None
        if n < 1:
            raise InputError(f"{flag} {item!r}: empty range, N is {n}", field=flag,
                             fix="give N of at least 1, e.g. KEY=10:30:3")
        values = tuple(_tidy(v) for v in np.linspace(low, high, n)) if n > 1 else (_tidy(low),)
        return Param(key, values=values, low=low, high=high)
    try:  # a YAML flow sequence, so values may be quoted strings or lists: KEY=1,2 or KEY="a,b",[x, y]
        values = yaml.safe_load(f"[{raw}]")
    except yaml.YAMLError:
        raise InputError(f"{flag} {item!r}: the values are not a valid YAML list", field=flag,
                         fix="separate values with commas; quote strings that contain ',', ':' or '#'") from None
    if any(v is None for v in values):
        raise InputError(f"{flag} {item!r}: an empty value in the list", field=flag,
                         fix="separate values with single commas, e.g. KEY=1,2,3")
    return Param(key, values=tuple(values))


def _tidy(value: float) -> float | int:
    """Floats from linspace without binary noise (20.000000000000004 → 20)."""
    v = float(np.round(value, 9))
    return int(v) if v.is_integer() else v


def grid(params: list[Param]) -> list[dict[str, Any]]:
    """Every combination of the parameters' values (one empty point when there are none)."""
    _check_unique(params)
    for p in params:
        if not p.values:
            raise InputError(f"--param {p.key}: a range LOW:HIGH needs a count for a grid", field="--param",
                             fix=f"write {p.key}={_fmt(p.low)}:{_fmt(p.high)}:3, or sample it with --samples N")
    return [dict(zip([p.key for p in params], combo)) for combo in itertools.product(*(p.values for p in params))]


def latin_hypercube(params: list[Param], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` points: each dimension cut into ``n`` strata, each stratum used exactly once.

    A range draws uniformly inside its stratum; a value list maps the stratum onto
    its k items (stratum i → item ⌊i·k/n⌋), so every item appears ⌊n/k⌋ or ⌈n/k⌉ times.
    """
    _check_unique(params)
    if n < 1:
        raise InputError(f"--samples {n}: need at least one sample", field="--samples", fix="use --samples 10")
    if not params:
        raise InputError("--samples needs at least one --param to sample", field="--samples",
                         fix="add --param KEY=LOW:HIGH")
    rng = np.random.default_rng(seed)
    columns = {}
    for p in params:
        strata = rng.permutation(n)
        u = (strata + rng.random(n)) / n  # one uniform draw per stratum, strata in random order
        if p.is_range:
            columns[p.key] = [_tidy(p.low + x * (p.high - p.low)) for x in u]
        else:  # the stratum alone picks the item, so every item is drawn ⌊n/k⌋ or ⌈n/k⌉ times
            columns[p.key] = [p.values[int(i * len(p.values) // n)] for i in strata]
    return [{k: columns[k][i] for k in columns} for i in range(n)]


def tornado_points(params: list[Param]) -> list[tuple[str, str, dict[str, Any]]]:
    """(axis, side, point): the base (no change) then each key at its low and at its high end."""
    _check_unique(params)
    out: list[tuple[str, str, dict[str, Any]]] = [("", "base", {})]
    for p in params:
        low, high = (p.low, p.high) if p.is_range else (p.values[0], p.values[-1])
        if low == high:
            raise InputError(f"--tornado {p.key}: empty range, LOW equals HIGH", field="--tornado",
                             fix="write KEY=LOW:HIGH with two different ends")
        out.append((p.key, "low", {p.key: _tidy(low) if isinstance(low, float) else low}))
        out.append((p.key, "high", {p.key: _tidy(high) if isinstance(high, float) else high}))
    return out


def _check_unique(params: list[Param]) -> None:
    seen: set[str] = set()
    for p in params:
        if p.key in seen:
            raise InputError(f"parameter '{p.key}' is given twice", field="--param",
                             fix="give each key once, with all its values: KEY=V1,V2,V3")
        seen.add(p.key)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


# ---- resolving a point into a scenario --------------------------------------------------------
def resolve_point(file: str, point: dict[str, Any], sets: dict[str, Any] | None = None) -> Scenario:
    """The scenario at one point: the file, its ``--set`` overrides, then the point's values.

    Unknown keys fail here with the loader's one-line message (file, field, fix).
    """
    overrides = {**(sets or {}), **{k: v for k, v in point.items() if k != DEMAND_SCALE}}
    scenario = load_scenario(file, overrides=overrides)
    if DEMAND_SCALE in point:
        scenario = scale_demand(scenario, point[DEMAND_SCALE])
    return scenario


def scale_demand(scenario: Scenario, factor: Any) -> Scenario:
    """Every inference service's demand per city multiplied by ``factor``."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
        raise InputError(f"{DEMAND_SCALE} is {factor!r}", field=DEMAND_SCALE, file=scenario.source_path,
                         fix="use a number that is not negative, e.g. demand_scale=1,2,5")
    services = [s.model_copy(update={"demand_tokens_per_s": {c: d * factor for c, d in s.demand_tokens_per_s.items()}})
                for s in scenario.inference_services]
    scaled = scenario.model_copy(update={"inference_services": services})
    scaled._source_path = scenario.source_path
    return scaled


def scenario_digest(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON (what was solved, not how it was written),
    and of the files it names (catalog, topology, demand profile), so editing one of them makes new runs."""
    data = scenario.model_dump(mode="json")
    h = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    for ref in (scenario.catalog.path, scenario.topology.path, getattr(scenario.time, "demand_profile", None)):
        path = scenario.resolve(ref) if ref else None
        if path is not None and path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def objective_key(mode: str) -> str:
    """The objective's total: CNY over the horizon when placing, CNY per year when buying."""
    return "total_cny_per_year" if mode == "capacity" else "total_cny"


@dataclass(frozen=True)
class Settings:
    """How each run is solved; part of a run's identity."""

    mode: str = "place"  # place | capacity
    model: str | None = None  # spatial | time | None (the scenario's time.mode)
    time_limit_s: float | None = None
    workers: int = 1
    seed: int | None = None
    mix: str | None = None  # NAME or NAME=RULE, as in `planner compare`

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "model": self.model, "time_limit_s": self.time_limit_s, "workers": self.workers,
                "seed": self.seed, "mix": self.mix}


def run_key(scenario: Scenario, settings: Settings) -> str:
    """A run's id: a hash of the resolved scenario and the settings (20 hex digits)."""
    text = scenario_digest(scenario) + json.dumps(settings.as_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class RunSpec:
    """One run to do: its id, where it sits in the study, the scenario and the settings."""

    run_id: str
    params: dict[str, Any]
    scenario: Scenario
    settings: Settings
    scenario_hash: str
    study: str = "grid"  # grid | sample | tornado | marginal | single
    axis: str = ""  # the tornado key or marginal item this run varies
    side: str = ""  # base | low | high | +STEP (a marginal run: one step more than the base)
