"""Options shared by several commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from planner.errors import InputError
from planner.inputs.bounds import MAX_SEED, MAX_TIME_LIMIT_S, MAX_WORKERS
from planner.inputs.files import parse_yaml
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
        out[key.strip()] = parse_yaml(raw, file="--set", field=key.strip())
    return out


def load_with_sets(file: str, sets: tuple[str, ...]) -> Scenario:
    return load_scenario(file, overrides=parse_sets(sets))


__all__ = ["MAX_SEED", "MAX_TIME_LIMIT_S", "MAX_WORKERS", "exit_if_interrupted", "load_with_sets", "parse_sets",
           "record_scenario", "set_option"]


def exit_if_interrupted(solver: dict[str, Any], output: str | None) -> None:
    """After Ctrl-C stopped the solve: say what was kept and exit 130."""
    if not solver.get("interrupted"):
        return
    gap = solver.get("gap")
    kept = (f"the best plan so far (gap {100 * gap:.2f} %) is written to {output}, marked interrupted"
            if output and gap is not None else
            f"the best plan so far is written to {output}, marked interrupted" if output else
            "no plan file was asked for (-o)")
    click.echo(f"interrupted: {kept}", err=True)
    sys.exit(130)


def record_scenario(plan_path: str, file: str, sets: tuple[str, ...]) -> None:
    """Note in a written plan JSON the scenario file and ``--set`` overrides it was solved from,
    so `planner export` can re-check the plan without being told the scenario again."""
    path = Path(plan_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["scenario_file"] = {"path": str(Path(file).resolve()), "sets": list(sets)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
