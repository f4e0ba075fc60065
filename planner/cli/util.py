"""Options shared by several commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from planner.errors import InputError
from planner.inputs.scenario import Scenario, load_scenario


def set_option(fn: Any) -> Any:
    """``--set key=value`` (repeatable): override any scenario field without editing the file."""
    return click.option(
        "--set", "sets", multiple=True, metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set sites.guian.power_cap_mw=50 "
             "--set 'topology.overlay.tariffs.guian.flat_price_cny_per_kwh=0.4' (values are YAML)")(fn)


def parse_sets(sets: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r} is not KEY=VALUE", field="--set",
                             fix="write it as dotted.key=value, e.g. solver.time_limit_s=5")
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise InputError(f"--set {item!r}: the value is not valid YAML", field="--set",
                             fix="quote strings that contain ':' or '#'") from None
    return out


def load_with_sets(file: str, sets: tuple[str, ...]) -> Scenario:
    return load_scenario(file, overrides=parse_sets(sets))


def record_scenario(plan_path: str, file: str, sets: tuple[str, ...]) -> None:
    """Note in a written plan JSON the scenario file and ``--set`` overrides it was solved from,
    so `planner export` can re-check the plan without being told the scenario again."""
    path = Path(plan_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["scenario_file"] = {"path": str(Path(file).resolve()), "sets": list(sets)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
