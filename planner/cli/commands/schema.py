"""`planner schema`."""

from __future__ import annotations

import json

import click

from planner.cli.schema_names import builtin_ids, with_names
from planner.inputs.scenario import scenario_schema


@click.command("schema")
@click.option("--no-ids", is_flag=True, help="leave out the built-in site, city, accelerator, system and model ids")
def command(no_ids: bool) -> None:
    """Print the JSON Schema of a scenario file, with the built-in ids for editors to complete."""
    schema = scenario_schema()
    click.echo(json.dumps(schema if no_ids else with_names(schema, builtin_ids()), indent=2))
