"""Utilisation heatmap: sites × accelerators (chips used / inventory), plus each site's power."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from planner.results.result import Result
from planner.results.statistics import Statistics
from planner.viz.plots._style import label, new_figure

POWER_COLUMN = "site power"


def plot_utilisation(result: Result, fig: go.Figure | None = None, power: bool = True) -> go.Figure:
    """One heatmap trace ``utilisation``: rows are sites, columns accelerators (and site power).

    Cells hold the used fraction (0–1); pools a site does not have are blank.
    With ``power=True`` a last column shows power at the meter over the site's cap.
    """
    fig = new_figure(fig, f"Utilisation — {label(result.scenario)}")
    stats = Statistics(result)
    chips = stats.utilisation_chips()
    sites = list(result.sites["site"]) or sorted(chips["site"].unique())
    accels = sorted(chips["accelerator"].unique())
    cell = {(r.site, r.accelerator): r for r in chips.itertuples(index=False)}
    columns = accels + ([POWER_COLUMN] if power else [])
    pw = stats.utilisation_power().set_index("site")
    z, text = [], []
    for site in sites:
        zrow, trow = [], []
        for accel in accels:
            r = cell.get((site, accel))
            zrow.append(float(r.utilisation) if r is not None else math.nan)
            trow.append(f"{r.chips_used:,}/{r.chips:,}" if r is not None else "")
        if power:
            p = pw.loc[site] if site in pw.index else None
            zrow.append(float(p.utilisation) if p is not None else math.nan)
            trow.append(f"{p.power_used_mw:.1f}/{p.power_cap_mw:g} MW" if p is not None else "")
        z.append(zrow)
        text.append(trow)
    fig.add_trace(go.Heatmap(
        z=z, x=[label(c) for c in columns], y=[label(s) for s in sites], text=text, texttemplate="%{text}",
        zmin=0.0, zmax=1.0, colorscale="Blues", name="utilisation", hoverongaps=False,
        colorbar=dict(title=dict(text="used"), tickformat=".0%"),
        hovertemplate="%{y} · %{x}<br>%{text} (%{z:.1%})<extra></extra>"))
    fig.update_layout(xaxis_title="accelerator", yaxis=dict(autorange="reversed"),
                      height=max(320, 60 + 48 * len(sites)))
    return fig
