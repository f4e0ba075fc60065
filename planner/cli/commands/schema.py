"""`planner schema [--kind scenario|topology|overlay|catalog-override]`."""

from __future__ import annotations

import json

import click

from planner.inputs.scenario import scenario_schema
from planner.inputs.schemas import SCHEMAS, schema_of


@click.command("schema")
@click.option("--kind", type=click.Choice(["scenario", *SCHEMAS]), default="scenario", show_default=True,
              help="which input: a scenario file, a topology file, a scenario's topology.overlay, or its "
                   "catalog.overrides")
def command(kind: str) -> None:
    """Print the JSON Schema of an input file, with every field's bounds."""
    click.echo(json.dumps(scenario_schema() if kind == "scenario" else schema_of(kind), indent=2))
