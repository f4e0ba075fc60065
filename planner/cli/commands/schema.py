"""`planner schema`."""

from __future__ import annotations

import json

import click

from planner.cli.schema_names import builtin_ids, with_names
from planner.inputs.scenario import scenario_schema
from planner.inputs.schemas import SCHEMAS, schema_of


@click.command("schema")
@click.option("--kind", type=click.Choice(["scenario", *SCHEMAS]), default="scenario", show_default=True,
              help="which input: a scenario file, a topology file, a scenario's topology.overlay, or its "
                   "catalog.overrides")
@click.option("--no-ids", is_flag=True, help="leave out the built-in site, city, accelerator, system and model ids")
def command(kind: str, no_ids: bool) -> None:
    """Print the JSON Schema of an input file, with every field's bounds and the built-in ids for editors."""
    schema = scenario_schema() if kind == "scenario" else schema_of(kind)
    click.echo(json.dumps(schema if no_ids else with_names(schema, builtin_ids()), indent=2))
