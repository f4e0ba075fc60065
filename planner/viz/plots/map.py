"""Sites on a map of China, sized by chips used and coloured by tariff or carbon, with demand flows."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from planner.errors import InputError
from planner.results.result import Result
from planner.viz.plots._geo import outline_xy
from planner.viz.plots._style import label, new_figure

#: what the site colour can show: (sites column, colour bar title, colour scale)
COLOURS = {
    "price": ("price_cny_per_kwh", "tariff<br>CNY/kWh", "YlOrRd"),
    "carbon": ("carbon_kg_per_kwh", "grid carbon<br>kg/kWh", "YlOrBr"),
}
LON_RANGE = (73.0, 136.0)
LAT_RANGE = (17.0, 54.0)
MIN_MARKER_PX, MAX_MARKER_PX = 9.0, 46.0
MIN_FLOW_PX, MAX_FLOW_PX = 1.0, 9.0


def plot_map(result: Result, fig: go.Figure | None = None, color: str = "price") -> go.Figure:
    """Province outlines, demand cities, flows city→site weighted by tokens/s, and the sites.

    Site markers grow with the square root of chips used (area ∝ chips) and are
    coloured by the site's tariff (``color="price"``) or grid carbon intensity
    (``color="carbon"``); buttons on the figure switch between the two.
    Traces: ``provinces``, one ``flow city → site`` per pair (and a legend-only
    ``demand flows`` entry), ``demand cities``, ``sites (price)`` and ``sites (carbon)``.
    """
    if color not in COLOURS:
        raise InputError(f"unknown map colour '{color}'", field="color", fix=f"use one of {sorted(COLOURS)}")
    fig = new_figure(fig, f"Sites and demand flows — {label(result.scenario)}")
    sites = result.sites.set_index("site", drop=False)
    cities = result.cities.set_index("city", drop=False)

    lons, lats = outline_xy()
    fig.add_trace(go.Scatter(x=lons, y=lats, mode="lines", fill="toself", fillcolor="#f3f3f0",
                             line=dict(color="#b5b5b5", width=0.6), hoverinfo="skip", name="provinces",
                             showlegend=False))

    # flows: one line per (city, site), width ∝ tokens/s
    flows = (result.routing.groupby(["city", "site"], as_index=False)["tokens_per_s"].sum()
             if len(result.routing) else result.routing)
    top = float(flows["tokens_per_s"].max()) if len(flows) else 0.0
    drawn = False
    for row in flows.itertuples(index=False):
        if row.city not in cities.index or row.site not in sites.index or row.tokens_per_s <= 0:
            continue
        c, s = cities.loc[row.city], sites.loc[row.site]
        width = MIN_FLOW_PX + (MAX_FLOW_PX - MIN_FLOW_PX) * float(row.tokens_per_s) / top
        text = f"{label(row.city)} → {label(row.site)}: {row.tokens_per_s:,.0f} tokens/s"
        fig.add_trace(go.Scatter(x=[c.lon, s.lon], y=[c.lat, s.lat], mode="lines",
                                 line=dict(color="rgba(31,119,180,0.55)", width=width),
                                 name=f"flow {label(row.city)} → {label(row.site)}", legendgroup="flows",
                                 showlegend=False, hovertext=[text, text], hoverinfo="text"))
        drawn = True
    if drawn:  # one legend entry for all flows
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="demand flows (width ∝ tokens/s)",
                                 legendgroup="flows", line=dict(color="rgba(31,119,180,0.55)", width=4)))

    demand = _city_demand(result)
    fig.add_trace(go.Scatter(
        x=result.cities["lon"], y=result.cities["lat"], mode="markers+text", name="demand cities",
        marker=dict(symbol="diamond", size=9, color="#222222"),
        text=[label(c) for c in result.cities["city"]], textposition="bottom center",
        textfont=dict(size=10, color="#444444"),
        hovertext=[f"{label(c)}: demand {demand.get(c, 0.0):,.0f} tokens/s" for c in result.cities["city"]],
        hoverinfo="text"))

    used = result.inventory.groupby("site")["chips_used"].sum() if len(result.inventory) else {}
    total = result.inventory.groupby("site")["chips"].sum() if len(result.inventory) else {}
    chips = [int(used.get(s, 0)) for s in result.sites["site"]]
    biggest = max(chips, default=0) or 1
    sizes = [MIN_MARKER_PX + (MAX_MARKER_PX - MIN_MARKER_PX) * math.sqrt(n / biggest) for n in chips]
    hover = [
        f"<b>{label(r.site)}</b> ({label(r.role)})<br>chips used {n:,} of {int(total.get(r.site, 0)):,}"
        f"<br>power {r.power_used_mw:.2f} of {r.power_cap_mw:g} MW<br>tariff {r.price_cny_per_kwh:.3f} CNY/kWh"
        f" (subsidy {100 * (r.subsidy_fraction or 0):.0f} % on domestic chips)"
        f"<br>grid carbon {_fmt(r.carbon_kg_per_kwh)} kg/kWh, PUE {r.pue:g}"
        for r, n in zip(result.sites.itertuples(index=False), chips)]
    site_traces = {}
    for key, (column, title, scale) in COLOURS.items():
        values = result.sites[column].astype(float)
        fig.add_trace(go.Scatter(
            x=result.sites["lon"], y=result.sites["lat"], mode="markers+text", name=f"sites ({key})",
            visible=key == color, text=[label(s) for s in result.sites["site"]], textposition="top center",
            textfont=dict(size=11), hovertext=hover, hoverinfo="text", customdata=chips,
            marker=dict(size=sizes, color=values, colorscale=scale, showscale=True, opacity=0.9,
                        line=dict(color="#333333", width=1),
                        colorbar=dict(title=dict(text=title), x=1.02, y=1.0, yanchor="top", len=0.55))))
        site_traces[key] = len(fig.data) - 1

    buttons = []
    for key in COLOURS:
        visible = [True] * len(fig.data)
        for other, index in site_traces.items():
            visible[index] = other == key
        buttons.append(dict(label=f"colour: {'tariff' if key == 'price' else 'carbon'}", method="restyle",
                            args=[{"visible": visible}]))
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="right", x=0.01, y=0.99, xanchor="left", yanchor="top",
                          buttons=buttons, active=list(COLOURS).index(color), showactive=True)],
        legend=dict(x=1.02, y=0.0, xanchor="left", yanchor="bottom"),
        height=620)
    # equirectangular, stretched so a degree of latitude is 1/cos(35°) degrees of longitude long
    fig.update_xaxes(range=list(LON_RANGE), showgrid=False, zeroline=False, ticksuffix="°E", constrain="domain")
    fig.update_yaxes(range=list(LAT_RANGE), showgrid=False, zeroline=False, ticksuffix="°N",
                     scaleanchor="x", scaleratio=1 / math.cos(math.radians(35.0)), constrain="domain")
    return fig


def _city_demand(result: Result) -> dict[str, float]:
    served = result.routing.groupby("city")["tokens_per_s"].sum().to_dict() if len(result.routing) else {}
    short = result.unplaced.dropna(subset=["city"]).groupby("city")["tokens_per_s"].sum().to_dict() \
        if len(result.unplaced) else {}
    return {c: float(served.get(c, 0.0)) + float(short.get(c, 0.0)) for c in set(served) | set(short)}


def _fmt(value: object) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.3f}"
