"""``planner catalog``: browse the accelerator catalog and its sources."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

import hardware_catalog
from hardware_catalog.device_plugins import load_device_plugins
from hardware_catalog import PRECISIONS, Figure
from planner.cli.output import FORMATS, print_frame
from planner.errors import UnknownNameError
from planner.inputs import checks as checks_mod

LIST_COLUMNS = ("id", "vendor", "name", "released", "domestic", "software_stack")
LIST_TAIL = ("memory_gib", "memory_bandwidth_tb_per_s", "tdp_w", "chip_power_kw", "lowest_confidence")


@click.group("catalog")
def command() -> None:
    """Accelerators, systems and software-stack efficiency, with their sources."""


@command.command("list")
@click.option("--vendor", help="Only this vendor (case-insensitive), e.g. huawei.")
@click.option("--precision", type=click.Choice(PRECISIONS, case_sensitive=False),
              help="Only parts with a published peak at this precision; shows its TFLOPS column.")
@click.option("--sort-by", "sort_by", help="Column to sort by, e.g. tflops_bf16 or chip_power_kw.")
@click.option("--desc", is_flag=True, help="Sort in descending order.")
@click.option("--all-columns", is_flag=True, help="Show every column of the catalog frame.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def list_command(vendor: str | None, precision: str | None, sort_by: str | None, desc: bool,
                 all_columns: bool, fmt: str) -> None:
    """One row per accelerator."""
    cat = hardware_catalog.load()
    df = cat.to_frame()
    if vendor:
        vendors = {v.lower(): v for v in df["vendor"]}
        match = [v for v in vendors if v == vendor.lower() or v.startswith(vendor.lower())]
        if not match:
            raise UnknownNameError("vendor", vendor, sorted(set(df["vendor"])), field="--vendor")
        df = df[df["vendor"].str.lower().isin(match)]
    column = f"tflops_{(precision or 'bf16').lower()}"
    if precision:
        df = df[df[column].notna()]
    if not all_columns:
        df = df[[*LIST_COLUMNS, column, *LIST_TAIL]]
    if sort_by:
        if sort_by not in df.columns:
            raise UnknownNameError("column", sort_by, df.columns, field="--sort-by")
        df = df.sort_values(sort_by, ascending=not desc, na_position="last", kind="stable")
    print_frame(df.reset_index(drop=True), fmt, title=f"accelerator catalog {cat.version}")


@command.command("show")
@click.argument("entry_id")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def show_command(entry_id: str, fmt: str) -> None:
    """Every figure of one accelerator or system with its source, retrieval date and confidence."""
    cat = hardware_catalog.load()
    if entry_id in cat.accelerators:
        entry = cat.accelerators[entry_id]
        extra = {"chip_power_kw": _chip_power(cat, entry_id), "chip_power_basis": cat.chip_power_basis(entry_id)}
    elif entry_id in cat.systems:
        entry = cat.systems[entry_id]
        extra = {}
    else:
        raise UnknownNameError("accelerator or system", entry_id, [*cat.accelerators, *cat.systems])
    if fmt == "json":
        sys.stdout.write(json.dumps(entry.model_dump(mode="json") | extra, indent=2, ensure_ascii=False) + "\n")
        return
    _print_entry(entry, extra, cat.version)


@command.command("systems")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def systems_command(fmt: str) -> None:
    """Servers, racks and supernodes with their IT power (excluding facility cooling)."""
    cat = hardware_catalog.load()
    print_frame(cat.systems_frame(), fmt, title=f"systems {cat.version}")


@command.command("stacks")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def stacks_command(fmt: str) -> None:
    """Training MFU and inference efficiency assumed per software stack."""
    cat = hardware_catalog.load()
    print_frame(cat.stacks_frame(), fmt, title=f"software-stack efficiency {cat.version}")


def _chip_power(cat: hardware_catalog.Catalog, accel_id: str) -> float | None:
    try:
        return cat.chip_power_kw(accel_id)
    except Exception:  # noqa: BLE001 - shown as unknown, the reason is in chip_power_basis
        return None


def _print_entry(entry, extra: dict, version: str) -> None:
    console = Console()
    table = Table(title=Text(f"{entry.id} — {entry.name} (catalog {version})"), show_lines=True)
    for col in ("field", "value", "confidence", "retrieved", "source / method / note"):
        table.add_column(col, overflow="fold")
    for name, value in entry:
        if value is None or value == ():
            continue
        if isinstance(value, Figure):
            shown = "unsupported" if value.value is None else f"{value.value:g}"
            if value.range is not None:
                shown += f"  [{value.range[0]:g}–{value.range[1]:g}]"
            detail = value.source
            if value.mirror:
                detail += f"\nmirror: {value.mirror}"
            if value.method:
                detail += f"\nmethod: {value.method}"
            if value.note:
                detail += f"\nnote: {value.note}"
            read = value.retrieved.isoformat() + {True: " (re-read)", False: " (not re-read)"}.get(value.rechecked, "")
            _row(table, name, shown, value.confidence.value, read, detail)
        elif hasattr(value, "model_dump"):
            data = value.model_dump(mode="json")
            detail = data.pop("source", "")
            retrieved = data.pop("retrieved", "")
            note = data.pop("note", None)
            if note:
                detail += f"\nnote: {note}"
            _row(table, name, "; ".join(f"{k}: {v}" for k, v in data.items() if v is not None), "",
                          str(retrieved), detail)
        else:
            _row(table, name, str(value if not isinstance(value, tuple) else ", ".join(value)), "", "", "")
    for name, value in extra.items():
        shown = "unknown" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
        _row(table, name, shown, "", "", "derived by the catalog")
    console.print(table)


def _row(table: Table, *cells: str) -> None:
    """Sources and notes are text: square brackets in them are not rich markup."""
    table.add_row(*(Text(str(c)) for c in cells))


__all__ = ["command"]


@command.command("checks")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def checks_command(fmt: str) -> None:
    """Provenance and consistency of every catalog figure; exit 1 if a figure is impossible.

    Flags a value outside its own range, a source read before it was published, an
    estimate without a method, a bare-domain citation and a system drawing less power
    than its chips' TDP; lists the supply figures that capacity planning uses as caps.
    """
    cat = hardware_catalog.load()
    findings = checks_mod.catalog_findings(cat)
    figures = checks_mod.catalog_figures(cat)
    not_rechecked = sum(1 for _, f in figures if f is not None and f.rechecked is False)
    if fmt == "table":
        print_frame(checks_mod.findings_frame(findings), fmt, title=f"catalog {cat.version}: findings")
        print_frame(checks_mod.supply_frame(cat), fmt, title="Supply figures (default capacity supply caps)")
    else:
        print_frame(checks_mod.findings_frame(findings), fmt)
    line = checks_mod.summary_line("catalog", findings, len(figures))
    click.echo(f"{line}; {not_rechecked} not re-read since first recorded (rechecked: false)", err=fmt != "table")
    if any(f.severity == "impossible" for f in findings):
        sys.exit(1)


@command.command("plugins")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def plugins_command(fmt: str) -> None:
    """Each accelerator's Kubernetes device-plugin resource name and node labels, with confidence and source."""
    plugins = load_device_plugins()
    print_frame(plugins.to_frame(), fmt, title=f"device plugins (node labels {plugins.site_label}, "
                                               f"{plugins.accelerator_label})")
