"""Printing tables for people (rich) and for scripts (CSV, JSON)."""

from __future__ import annotations

import json
import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "csv", "json")


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def make_console(stderr: bool = False) -> Console:
    """A console that wraps to the terminal, or writes wide lines when output is piped to a file."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=200)


def print_frame(df: pd.DataFrame, fmt: str = "table", title: str | None = None,
                console: Console | None = None) -> None:
    """Print a DataFrame as a rich table, CSV or JSON records."""
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(json.dumps(json.loads(df.to_json(orient="records")), indent=2) + "\n")
    else:
        console = console or make_console()
        table = Table(title=title, show_lines=False)
        for col in df.columns:
            table.add_column(str(col), justify="right" if pd.api.types.is_numeric_dtype(df[col]) else "left")
        for row in df.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        console.print(table)
