"""`planner schema`."""

from __future__ import annotations

import json

import click

from planner.inputs.scenario import scenario_schema


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of a scenario file."""
    click.echo(json.dumps(scenario_schema(), indent=2))
