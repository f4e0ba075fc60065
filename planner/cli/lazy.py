"""Subcommands discovered without importing them, so ``planner --help`` starts fast.

Each module in ``planner/cli/commands/`` defines ``command``. Listing the commands reads
their names and one-line help from the source (``ast``); a command's module, with its
pandas, OR-Tools or plotly imports, is imported only when that command runs or prints
its own help. ``benchmarks/startup.py`` measures the difference.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import click

from planner import collector
from planner.cli import commands

_DIR = Path(commands.__file__).parent


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    short_help: str


def discover() -> dict[str, Entry]:
    """Command name -> where it lives and its one-line help, from each module's source."""
    out: dict[str, Entry] = {}
    for path in sorted(_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "command":
                name = _decorated_name(node) or path.stem.replace("_", "-")
                doc = (ast.get_docstring(node) or "").strip().split("\n\n")[0].replace("\n", " ")
                out[name] = Entry(name, f"{commands.__name__}.{path.stem}", doc)
    return out


def _decorated_name(node: ast.FunctionDef) -> str | None:
    for dec in node.decorator_list:
        if (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr in ("command", "group")
                and dec.args and isinstance(dec.args[0], ast.Constant) and isinstance(dec.args[0].value, str)):
            return dec.args[0].value
    return None


class LazyCommands(click.Group):
    """A click group whose subcommands are imported on first use."""

    @cached_property
    def _entries(self) -> dict[str, Entry]:
        return discover()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._entries) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self._entries.get(cmd_name)
        if entry is None:
            return None
        cmd = getattr(collector.import_frozen(entry.module), "command")  # pandas, OR-Tools: imported once
        self.add_command(cmd, entry.name)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list for ``planner --help``, read from the sources: nothing is imported."""
        rows = [(e.name, e.short_help) for e in sorted(self._entries.values(), key=lambda e: e.name)]
        width = formatter.width - 6 - max((len(n) for n, _ in rows), default=0)
        rows = [(n, click.utils.make_default_short_help(h, max(width, 30))) for n, h in rows]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

