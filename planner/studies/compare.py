"""Compare hardware mixes: the same scenario solved under several restrictions, side by side.

A mix is ``NAME=RULE``. A rule is a ``+``-joined list of filters on the catalog:

    free                  no restriction
    domestic              only accelerators made by Chinese vendors
    foreign               only imported accelerators
    no-vendor:NVIDIA      drop a vendor          vendor:Huawei   keep only a vendor
    only:h20,ascend-910c  keep only these ids    no:h20          drop these ids
    min-share:h20=0.6     (capacity plans) at least this share of the chips bought

Known names need no rule: ``all-domestic``, ``no-nvidia``, ``h20-heavy``
(min-share:h20=0.6), ``free``. A rule takes accelerators out of every site's
inventory and out of what may be bought; work that only they could run is
reported unplaced with that reason, so nothing silently disappears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.core.runner import resolve_settings
from planner.core.solve import solve
from planner.errors import InputError, UnknownNameError, did_you_mean
from planner.inputs.scenario import Scenario
from planner.problem.build import (
    build_problem,
    load_catalog_for,
    load_topology_for,
    restrict_inventory,
)
from planner.studies.capacity import plan_capacity

PRESETS = {
    "free": "free",
    "all-domestic": "domestic",
    "no-nvidia": "no-vendor:NVIDIA",
    "h20-heavy": "min-share:h20=0.6",
}
FILTERS = ("free", "domestic", "foreign", "vendor", "no-vendor", "only", "no", "min-share")


@dataclass
class Mix:
    """A parsed mix: which accelerators are allowed, and minimum shares of purchases."""

    name: str
    rule: str
    allowed: Callable[[Any], bool] = field(repr=False)
    min_share: dict[str, float] = field(default_factory=dict)


def parse_mix(text: str) -> Mix:
    """Parse ``NAME=RULE`` (or a preset name) into a ``Mix``."""
    name, sep, rule = text.partition("=")
    name = name.strip()
    if not sep:
        if name not in PRESETS:
            hint = did_you_mean(name, PRESETS) or f"use NAME=RULE or one of {', '.join(PRESETS)}"
            raise InputError(f"unknown mix '{name}'", field="--mix", fix=hint)
        rule = PRESETS[name]
    checks: list[Callable[[Any], bool]] = []
    shares: dict[str, float] = {}
    for part in rule.split("+"):
        kind, _, arg = part.strip().partition(":")
        values = [v.strip() for v in arg.split(",") if v.strip()]
        if kind == "free":
            continue
        if kind == "domestic":
            checks.append(lambda a: bool(a.domestic))
        elif kind == "foreign":
            checks.append(lambda a: not a.domestic)
        elif kind == "vendor" and values:
            checks.append(lambda a, v=values: any(a.vendor.lower().startswith(x.lower()) for x in v))
        elif kind == "no-vendor" and values:
            checks.append(lambda a, v=values: not any(a.vendor.lower().startswith(x.lower()) for x in v))
        elif kind == "only" and values:
            checks.append(lambda a, v=values: a.id in v)
        elif kind == "no" and values:
            checks.append(lambda a, v=values: a.id not in v)
        elif kind == "min-share" and values:
            for item in values:
                accel, _, share = item.partition("=")
                try:
                    shares[accel] = float(share)
                except ValueError:
                    raise InputError(f"mix '{name}': share in '{item}' is not a number", field="--mix",
                                     fix="write min-share:h20=0.6") from None
        else:
            hint = did_you_mean(kind, FILTERS) or f"filters are {', '.join(FILTERS)}"
            raise InputError(f"mix '{name}': cannot read rule part '{part}'", field="--mix", fix=hint)
    return Mix(name, rule, lambda a: all(check(a) for check in checks), shares)


def compare(scenario: Scenario, mixes: list[Mix], *, time_limit_s: float | None = None, workers: int | None = None,
            seed: int | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Solve ``scenario`` once per mix; one row per mix, and the results by name."""
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    for mix in mixes:
        for accel in mix.min_share:
            if accel not in catalog.accelerators:
                raise UnknownNameError("accelerator", accel, catalog.accelerators, field=f"--mix {mix.name}")
    rows, results = [], {}
    for mix in mixes:
        if scenario.capacity is not None:
            result = plan_capacity(scenario, time_limit_s=time_limit_s, workers=workers, seed=seed,
                                   restrict=mix.allowed, min_share=mix.min_share)
            rows.append(_capacity_row(mix, result))
        else:
            if mix.min_share:
                raise InputError(f"mix '{mix.name}' sets a purchase share, but the scenario plans no purchases",
                                 field="--mix", fix="add a capacity section, or use only:/no: filters")
            restricted = restrict_inventory(scenario, catalog, mix.allowed)
            problem = build_problem(restricted, catalog, topology, strict=False)
            result = solve(problem, settings=resolve_settings(scenario, time_limit_s=time_limit_s,
                                                              workers=workers, seed=seed))
            rows.append(_place_row(mix, result))
        results[mix.name] = result
    return pd.DataFrame(rows), results


def _place_row(mix: Mix, r: Any) -> dict[str, Any]:
    return {"mix": mix.name, "rule": mix.rule, "status": r.status.value, "total_cny": r.objective["total_cny"],
            "power_cost_cny": r.objective["power_cost_cny"], "latency_cny": r.objective["latency_cny"],
            "unplaced_penalty_cny": r.objective["unplaced_penalty_cny"],
            "unfinished_work_cny": r.objective["unfinished_work_cny"], "jobs_unplaced": r.kpis["jobs_unplaced"],
            "unserved_tokens_per_s": r.kpis["unserved_tokens_per_s"], "energy_mwh": r.kpis["energy_mwh"],
            "carbon_t": r.kpis["carbon_t"], "mean_rtt_ms": r.kpis["mean_rtt_ms"],
            "inference_cny_per_mtokens": r.kpis["inference_cny_per_mtokens"], "gap": r.solver.get("gap")}


def _capacity_row(mix: Mix, r: Any) -> dict[str, Any]:
    last = list(r.periods.values())[-1]
    return {"mix": mix.name, "rule": mix.rule, "status": r.status.value,
            "total_cny_per_year": r.objective["total_cny_per_year"], "capex_cny": r.kpis["capex_cny"],
            "annualised_capex_cny_per_year": r.objective["annualised_capex_cny_per_year"],
            "power_cost_cny_per_year": r.objective["power_cost_cny_per_year"],
            "latency_cny_per_year": r.objective["latency_cny_per_year"],
            "unplaced_penalty_cny_per_year": r.objective["unplaced_penalty_cny_per_year"],
            "unfinished_work_cny_per_year": r.objective["unfinished_work_cny_per_year"],
            "systems_bought": r.kpis["systems_bought"], "chips_bought": r.kpis["chips_bought"],
            "jobs_unplaced_last_period": last.kpis["jobs_unplaced"],
            "unserved_tokens_per_s_last_period": last.kpis["unserved_tokens_per_s"],
            "cny_per_mtokens_last_period": last.kpis["cny_per_mtokens_all_in"], "gap": r.solver.get("gap")}
