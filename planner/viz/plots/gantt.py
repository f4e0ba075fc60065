"""Gantt chart of training jobs over the horizon, with tariff bands shaded when the plan has them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from planner.results.result import Result
from planner.results.statistics import BAND_COLUMNS, Statistics
from planner.viz.plots._style import colour_map, label, new_figure

#: band fill colours; unknown band names fall back to grey
BAND_COLOURS = {"valley": "#2ca02c", "deep_valley": "#1a7a1a", "flat": "#bbbbbb", "peak": "#ff7f0e",
                "critical": "#d62728"}


def plot_gantt(result: Result, fig: go.Figure | None = None, bands: pd.DataFrame | None = None,
               inference: bool = False) -> go.Figure:
    """Horizontal bars from ``start_h`` to ``end_h`` per workload, one trace per site.

    The time line comes from ``Statistics.timeline()``: a plan's own
    ``timeline`` table when it has one (start/end hours from time-of-use
    scheduling), else every job starts at hour 0 and runs its hours. Tariff
    bands (``band``, ``start_h``, ``end_h``) are shaded behind the bars; they
    come from ``bands`` or the plan's ``tariff_bands`` table.
    """
    stats = Statistics(result)
    timeline = stats.timeline()
    if not inference:
        timeline = timeline[timeline["kind"] != "inference"]
    bands = stats.tariff_bands() if bands is None else bands
    missing = set(BAND_COLUMNS) - set(bands.columns)
    if missing:
        raise ValueError(f"tariff bands need columns {BAND_COLUMNS}; missing {sorted(missing)}")
    fig = new_figure(fig, f"Training jobs over the horizon — {label(result.scenario)}")
    order = timeline.sort_values(["start_h", "end_h", "workload"], kind="stable")["workload"].tolist()
    colours = colour_map(timeline["site"])
    for site in sorted(timeline["site"].unique(), key=str):
        part = timeline[timeline["site"] == site]
        fig.add_trace(go.Bar(
            y=[label(w) for w in part["workload"]], x=part["end_h"] - part["start_h"], base=part["start_h"],
            orientation="h", name=label(site), marker_color=colours[str(site)],
            customdata=part[["accelerator", "chips", "start_h", "end_h"]].to_numpy(),
            hovertemplate="%{y} at " + label(site) + ": %{customdata[1]} × %{customdata[0]}"
                          "<br>hour %{customdata[2]:g} to %{customdata[3]:g}<extra></extra>"))
    horizon = float(result.meta.get("horizon_h") or (timeline["end_h"].max() if len(timeline) else 24.0))
    seen: set[str] = set()
    for band in bands.itertuples(index=False):
        name = str(band.band)
        fig.add_vrect(x0=float(band.start_h), x1=float(band.end_h), layer="below", line_width=0, opacity=0.18,
                      fillcolor=BAND_COLOURS.get(name, "#999999"), name=f"band {label(name)}")
        seen.add(name)
    for name in sorted(seen):  # legend entries for the shading
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{label(name)} tariff",
                                 marker=dict(symbol="square", size=12, color=BAND_COLOURS.get(name, "#999999"),
                                             opacity=0.4), legendgroup="bands"))
    fig.update_layout(barmode="overlay", xaxis=dict(title="hour of the horizon", range=[0, horizon]),
                      yaxis=dict(categoryorder="array", categoryarray=[label(w) for w in reversed(order)]),
                      legend_title_text="site", height=max(320, 80 + 28 * len(order)))
    return fig
