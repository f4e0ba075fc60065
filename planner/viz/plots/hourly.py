"""Hourly power per site in a time-of-use plan, stacked, with a site's tariff bands shaded."""

from __future__ import annotations

import plotly.graph_objects as go

from planner.results.result import Result
from planner.viz.plots._style import colour_map, label, new_figure
from planner.viz.plots.gantt import BAND_COLOURS


def plot_hourly_power(result: Result, fig: go.Figure | None = None, bands_of: str | None = None) -> go.Figure:
    """Meter power (MW) per site and hour, stacked (one ``stackgroup`` trace per site).

    Tariff bands differ by province, so one site's bands are shaded behind the stack:
    ``bands_of`` (default: the site that draws the most energy), named in the title. One
    legend-only entry per band names its colour.
    """
    hourly = result.hourly
    fig = new_figure(fig, f"Power per site, hour by hour — {label(result.scenario)}")
    if hourly is None or not len(hourly):
        return fig
    per_site = hourly.groupby(["site", "hour"], as_index=False).agg(meter_kw=("meter_kw", "sum"))
    hours = sorted(per_site["hour"].unique())
    colours = colour_map(per_site["site"])
    order = per_site.groupby("site").meter_kw.sum().sort_values(ascending=False).index.tolist()
    for site in order:
        part = per_site[per_site.site == site].set_index("hour").reindex(hours, fill_value=0.0)
        mw = (part["meter_kw"] / 1000).tolist()
        # an hour's power holds for the whole hour: steps, closed at the end of the last hour
        fig.add_trace(go.Scatter(x=[*hours, hours[-1] + 1], y=[*mw, mw[-1]], mode="lines", name=label(site),
                                 stackgroup="power", line=dict(width=0.5, color=colours[str(site)], shape="hv"),
                                 hovertemplate=label(site) + ": %{y:.2f} MW at hour %{x}<extra></extra>"))
    site = bands_of or order[0]
    bands = hourly[hourly.site == site].groupby("hour").band.first().reindex(hours)
    seen = []
    start = hours[0]
    for i, h in enumerate(hours):
        last = i == len(hours) - 1
        if last or bands.iloc[i + 1] != bands.iloc[i]:
            name = str(bands.iloc[i])
            fig.add_vrect(x0=start, x1=h + 1, layer="below", line_width=0, opacity=0.15,
                          fillcolor=BAND_COLOURS.get(name, "#999999"), name=f"band {label(name)}")
            if name not in seen:
                seen.append(name)
            if not last:
                start = hours[i + 1]
    for name in sorted(seen):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{label(name)} tariff at {label(site)}",
                                 marker=dict(symbol="square", size=12, color=BAND_COLOURS.get(name, "#999999"),
                                             opacity=0.4), legendgroup="bands"))
    fig.update_layout(title=f"Power per site, hour by hour — {label(result.scenario)} "
                            f"(shaded: {label(site)}'s tariff bands)",
                      xaxis=dict(title="hour from the start (Monday 00:00)", range=[hours[0], hours[-1] + 1]),
                      yaxis_title="power at the meter (MW)", height=420)
    return fig
