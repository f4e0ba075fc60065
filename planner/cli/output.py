"""Printing tables for people (rich) and for scripts (CSV, JSON).

Three rules hold for everything printed here:

* **Names are text, never markup.** Every cell, title and message that can carry a name from a
  file goes to rich as ``Text`` (or escaped), so a job id ``train[/]`` prints as itself and
  ``[white on white]hidden`` cannot hide anything.
* **Nothing is cut.** Ids keep their full width; long text wraps; when a table is wider than the
  terminal, low-priority columns are left out (and named under the table), and when even the
  key columns do not fit, each row is printed as a stacked record.
* **One number format per unit**, read from the column name (``_cny``, ``_mwh``, ``_ms`` …),
  with thousands separators.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Sequence

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from planner.results.units import format_number

if TYPE_CHECKING:  # pandas is imported by whoever has a DataFrame; the CLI's start-up does not need it
    from pandas import DataFrame

FORMATS = ("table", "csv", "json")
#: columns whose text may wrap over several lines (everything else keeps its width)
WRAPPING = {"reason", "note", "notes", "source", "claim", "detail", "explanation", "path", "sources", "value",
            "what", "description", "comment", "why"}
_WRAP_MIN = 24
_NUMBERLIKE = re.compile(r"^[-+]?[\d,.]+( %)?$|^–$")


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in ("NAType",
                                                                                                     "NaTType"):
        return "–"
    if isinstance(value, (int, float, bool)) or hasattr(value, "dtype"):
        return format_number(column, value)
    return str(value)


# ---- consoles and messages ------------------------------------------------------------------------
def make_console(stderr: bool = False) -> Console:
    """A console that wraps to the terminal (``COLUMNS`` if set), or 200 columns when piped to a file."""
    probe = Console(stderr=stderr)
    if probe.is_terminal or os.environ.get("COLUMNS"):
        return probe
    return Console(stderr=stderr, width=200)


def say(text: str, console: Console | None = None, style: str | None = None) -> None:
    """Print a line that may contain names: never read as markup."""
    (console or make_console()).print(Text(text, style=style or ""), highlight=False)


def warn(text: str, console: Console | None = None) -> None:
    """``warning: …`` on stderr, the label in yellow, the text (with its names) literal."""
    console = console or make_console(stderr=True)
    console.print(Text.assemble(("warning:", "yellow"), " ", text), highlight=False)


#: a command prints at most this many of a scenario's warnings, then says how many it left out: a
#: national week of 20,000 distinct jobs has over a thousand (one per job longer than the horizon)
WARNINGS_SHOWN = 10


#: where a command says the warnings it did not print can be read
ALL_WARNINGS_AT = "the plan JSON's `warnings` (-o) and `planner validate FILE --all-warnings` list them all"


def warn_all(warnings: Sequence[str], console: Console | None = None, *, every: bool = False,
             where: str = ALL_WARNINGS_AT) -> None:
    """``warn`` each of ``warnings``, the first ``WARNINGS_SHOWN`` of them unless ``every``, then one
    line saying how many more there are and ``where`` to read them."""
    console = console or make_console(stderr=True)
    shown = list(warnings) if every else list(warnings)[:WARNINGS_SHOWN]
    for w in shown:
        warn(w, console)
    if len(warnings) > len(shown):
        warn(f"… and {len(warnings) - len(shown):,} more warning(s); {where}", console)


# ---- tables ---------------------------------------------------------------------------------------
def print_frame(df: DataFrame, fmt: str = "table", title: str | None = None,
                console: Console | None = None, *, keep: Sequence[str] = (), drop_first: Sequence[str] = (),
                note: str | None = None, max_rows: int | None = None) -> None:
    """Print a DataFrame as a rich table, CSV or JSON records.

    ``max_rows``: a terminal table shows at most this many rows and says how many it left out
    (CSV and JSON always carry every row).

    ``keep``: columns never left out (the row's identity; default: the leading text columns).
    ``drop_first``: columns to leave out first when the table is too wide (default: from the right).
    """
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
        return
    if fmt == "json":
        sys.stdout.write(json.dumps(json.loads(df.to_json(orient="records")), indent=2) + "\n")
        return
    console = console or make_console()
    if max_rows is not None and len(df) > max_rows:
        more = f"showing {max_rows:,} of {len(df):,} rows; -o plan.json, --export DIR or --rows 0 give them all"
        note = more if note is None else f"{note}\n{more}"
        df = df.head(max_rows)
    cols = [str(c) for c in df.columns]
    cells = {c: [_cell(c, v) for v in df.iloc[:, i]] for i, c in enumerate(cols)}
    numeric = {c: getattr(df.iloc[:, i].dtype, "kind", "O") in "iuf"
               for i, c in enumerate(cols)}
    if not keep:
        keep = _leading_text_columns(cols, numeric)
    widths = {c: _min_width(c, cells[c], numeric[c]) for c in cols}
    shown = list(cols)
    order = [c for c in drop_first if c in cols] + [c for c in reversed(cols) if c not in keep and c not in drop_first]
    dropped: list[str] = []
    while _min_table_width(shown, widths) > console.width and order:
        victim = order.pop(0)
        shown.remove(victim)
        dropped.append(victim)
    for c in list(reversed(dropped)):  # a later drop may have freed room for an earlier one
        trial = [x for x in cols if x in shown or x == c]
        if _min_table_width(trial, widths) <= console.width:
            shown, dropped = trial, [d for d in dropped if d != c]
    if _min_table_width(shown, widths) > console.width or len(dropped) > len(cols) / 2:
        _print_stacked(df, cols, cells, title, console)
        return
    natural = {c: max(len(_header(c)), max((len(v) for v in cells[c]), default=0)) for c in shown}
    fixed = None
    if _min_table_width(shown, natural) > console.width:  # pin every column at its minimum; text takes the rest
        spare = console.width - _min_table_width(shown, widths)
        wrapping = [c for c in shown if natural[c] > widths[c] and (c in WRAPPING or widths[c] == _WRAP_MIN)]
        fixed = dict(widths)
        for c in wrapping:
            fixed[c] = min(natural[c], widths[c] + spare // len(wrapping))
    console.print(_table(df, shown, cells, fixed or {}, numeric, title, widths))
    if dropped:
        say(f"  (left out at {console.width} columns: {', '.join(dropped)}; a wider terminal or --format csv "
            "shows them)", console, style="dim")
    if note:
        say(note, console, style="dim")


def _leading_text_columns(cols: list[str], numeric: dict[str, bool]) -> list[str]:
    out = []
    for c in cols:
        if numeric[c] or c in WRAPPING:
            break
        out.append(c)
    return out[:3] or cols[:1]


def _header(column: str) -> str:
    """Headers wrap at word boundaries, so ``power_cost_cny`` may take two lines but is never cut."""
    return column.replace("_", " ")


def _min_width(column: str, cells: list[str], numeric: bool) -> int:
    longest_word = max((len(w) for w in _header(column).split()), default=1)
    longest_cell = max((len(s) for s in cells), default=1)
    if not numeric and (column in WRAPPING or longest_cell > 40):
        longest_cell_word = max((len(w) for s in cells for w in s.split()), default=1)
        return max(min(_WRAP_MIN, longest_cell), longest_word, min(longest_cell_word, 40))
    return max(longest_word, longest_cell)


def _table(df: DataFrame, shown: list[str], cells: dict[str, list[str]], fixed: dict[str, int],
           numeric: dict[str, bool], title: str | None, widths: dict[str, int]) -> Table:
    table = Table(title=Text(title) if title else None, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    for c in shown:
        # cells never wrap below min_width (the longest id or number), so only headers and long text wrap
        right = numeric[c] or (bool(cells[c]) and all(_NUMBERLIKE.match(v) for v in cells[c]))
        table.add_column(Text(_header(c)), justify="right" if right else "left", overflow="fold",
                         min_width=widths[c], width=fixed.get(c))
    for r in range(len(df)):
        table.add_row(*(Text(cells[c][r]) for c in shown))
    return table


def _min_table_width(shown: list[str], widths: dict[str, int]) -> int:
    """Width of the table with every column at its minimum: two spaces between columns, no edges."""
    return sum(widths[c] for c in shown) + 2 * (len(shown) - 1)


def _print_stacked(df: DataFrame, cols: list[str], cells: dict[str, list[str]], title: str | None,
                   console: Console) -> None:
    """One block per row, ``field  value`` per line: for tables no terminal width can hold."""
    if title:
        console.print(Text(title, style="italic"))
    label_w = max(len(c) for c in cols)
    for r in range(len(df)):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(min_width=label_w, no_wrap=True, style="dim")
        grid.add_column(overflow="fold")
        for c in cols:
            grid.add_row(Text(c), Text(cells[c][r]))
        console.print(grid)
        if r != len(df) - 1:
            console.print(Text("─" * min(console.width, 40), style="dim"))


__all__ = ["FORMATS", "escape", "format_number", "make_console", "print_frame", "say", "warn"]
