"""Sites on a map of China, sized by chips used and coloured by tariff or carbon, with demand flows."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from planner.errors import InputError
from planner.results.result import Result
from planner.viz.plots._geo import outline_xy
from planner.viz.plots._style import colour_map, label, new_figure

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

    # flows: one line per (service, city, site), width ∝ tokens/s, coloured by service
    flows = (result.routing.groupby(["service", "city", "site"], as_index=False)["tokens_per_s"].sum()
             if len(result.routing) else result.routing)
    top = float(flows["tokens_per_s"].max()) if len(flows) else 0.0
    colours = colour_map(flows["service"]) if len(flows) else {}
    shown_services: list[str] = []
    for row in flows.itertuples(index=False):
        if row.city not in cities.index or row.site not in sites.index or row.tokens_per_s <= 0:
            continue
        c, s = cities.loc[row.city], sites.loc[row.site]
        width = MIN_FLOW_PX + (MAX_FLOW_PX - MIN_FLOW_PX) * float(row.tokens_per_s) / top
        rtt = _rtt(result, row.service, row.city, row.site)
        text = (f"<b>{label(row.service)}</b><br>{label(row.city)} → {label(row.site)}: "
                f"{row.tokens_per_s:,.0f} tokens/s" + (f"<br>RTT {rtt:.1f} ms" if rtt is not None else ""))
        fig.add_trace(go.Scatter(x=[c.lon, s.lon], y=[c.lat, s.lat], mode="lines",
                                 line=dict(color=colours[str(row.service)], width=width), opacity=0.6,
                                 name=f"flow {label(row.service)}: {label(row.city)} → {label(row.site)}",
                                 legendgroup=f"service {row.service}", showlegend=False,
                                 hovertext=[text, text], hoverinfo="text"))
        if row.service not in shown_services:
            shown_services.append(row.service)
    for service in sorted(shown_services, key=str):  # one legend entry per service
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{label(service)} (width ∝ tokens/s)",
                                 legendgroup=f"service {service}", line=dict(color=colours[str(service)], width=4)))

    used = result.inventory.groupby("site")["chips_used"].sum() if len(result.inventory) else {}
    total = result.inventory.groupby("site")["chips"].sum() if len(result.inventory) else {}
    chips = [int(used.get(s, 0)) for s in result.sites["site"]]
    biggest = max(chips, default=0) or 1
    sizes = [MIN_MARKER_PX + (MAX_MARKER_PX - MIN_MARKER_PX) * math.sqrt(n / biggest) for n in chips]
    site_positions, city_positions = place_labels(result, sizes)
    demand = _city_demand(result)
    fig.add_trace(go.Scatter(
        x=result.cities["lon"], y=result.cities["lat"], mode="markers+text", name="demand cities",
        marker=dict(symbol="diamond", size=9, color="#222222"),
        text=[label(c) for c in result.cities["city"]], textposition=city_positions,
        textfont=dict(size=10, color="#444444"),
        hovertext=[f"{label(c)}: demand {demand.get(c, 0.0):,.0f} tokens/s" for c in result.cities["city"]],
        hoverinfo="text"))

    hover = [
        f"<b>{label(r.site)}</b> ({label(r.role)})<br>chips used {n:,} of {int(total.get(r.site, 0)):,}"
        f"<br>power {r.power_used_mw:.2f} of {r.power_cap_mw:g} MW<br>tariff {r.price_cny_per_kwh:.3f} CNY/kWh"
        f" (subsidy {100 * (r.subsidy_fraction or 0):.0f} % on domestic chips)"
        f"<br>grid carbon {_fmt(r.carbon_kg_per_kwh)} kg/kWh, PUE {r.pue:g}"
        for r, n in zip(result.sites.itertuples(index=False), chips)]
    _add_size_legend(fig, biggest)
    site_traces = {}
    for key, (column, title, scale) in COLOURS.items():
        values = result.sites[column].astype(float)
        fig.add_trace(go.Scatter(
            x=result.sites["lon"], y=result.sites["lat"], mode="markers+text", name=f"sites ({key})",
            visible=key == color, text=[label(s) for s in result.sites["site"]], textposition=site_positions,
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


def _rtt(result: Result, service: str, city: str, site: str) -> float | None:
    r = result.routing
    rows = r[(r.service == service) & (r.city == city) & (r.site == site)]
    return float(rows.rtt_ms.max()) if len(rows) else None


# ---- size legend ------------------------------------------------------------------------------
#: where the size legend's circles sit: the empty lower-left corner of the map (lon, lat)
SIZE_LEGEND_AT = (76.0, 24.0)


def _add_size_legend(fig: go.Figure, biggest: int) -> None:
    """Circles for a few chip counts, drawn with the sites' own size rule, labelled in chips."""
    counts = sorted({_round_count(biggest * f) for f in (1.0, 0.25, 0.04)} - {0}, reverse=True)
    xs, ys, sizes, texts = [], [], [], []
    x, y = SIZE_LEGEND_AT
    for n in counts:
        size = MIN_MARKER_PX + (MAX_MARKER_PX - MIN_MARKER_PX) * math.sqrt(min(n, biggest) / biggest)
        xs.append(x)
        ys.append(y)
        sizes.append(size)
        texts.append(f"{n:,} chips")
        y -= 2.4
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", name="size: chips used", text=texts,
                             textposition="middle right", marker=dict(size=sizes, color="rgba(0,0,0,0)",
                                                                      line=dict(color="#555555", width=1)),
                             hoverinfo="skip", showlegend=False))
    fig.add_annotation(x=x, y=SIZE_LEGEND_AT[1] + 2.2, text="circle area ∝ chips used", showarrow=False,
                       xanchor="left", font=dict(size=11, color="#444444"))


def _round_count(n: float) -> int:
    """A round number of chips near ``n`` (1, 2 or 5 × a power of ten)."""
    if n < 1:
        return 0
    power = 10 ** int(math.floor(math.log10(n)))
    return min((m * power for m in (1, 2, 5, 10)), key=lambda v: abs(v - n))


# ---- labels -----------------------------------------------------------------------------------
#: rough size of one character and one line of label text in degrees at the report's size
CHAR_DEG, LINE_DEG = 0.42, 0.9
#: marker pixels per degree of longitude at the report's width (about 1,000 px for 63°, less margins)
PX_PER_DEG = 13.0
POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
             "bottom right", "bottom left")


def place_labels(result: Result, site_sizes_px: list[float] | None = None) -> tuple[list[str], list[str]]:
    """A text position for every site and city label such that no two labels overlap where a
    free position exists (greedy, sites first, then cities; each label tries the positions in
    ``POSITIONS`` order and takes the first whose box clears every box placed so far and every
    marker)."""
    sizes = site_sizes_px or [MIN_MARKER_PX] * len(result.sites)
    points = ([(float(r.lon), float(r.lat), str(r.site), size / 2 / PX_PER_DEG)
               for r, size in zip(result.sites.itertuples(index=False), sizes)]
              + [(float(r.lon), float(r.lat), str(r.city), 0.4) for r in result.cities.itertuples(index=False)])
    markers = [(x - rad, y - rad, x + rad, y + rad) for x, y, _, rad in points]
    placed: list[tuple[float, float, float, float]] = []
    chosen: list[str] = []
    for x, y, text, rad in points:
        w, h = CHAR_DEG * len(text), LINE_DEG
        best = POSITIONS[0]
        for pos in POSITIONS:
            box = _box(x, y, w, h, rad, pos)
            if not any(_overlap(box, b) for b in placed) and not any(
                    _overlap(box, m) for m in markers if not _same_point(m, x, y)):
                best = pos
                break
        placed.append(_box(x, y, w, h, rad, best))
        chosen.append(best)
    n_sites = len(result.sites)
    return chosen[:n_sites], chosen[n_sites:]


def _box(x: float, y: float, w: float, h: float, rad: float, pos: str) -> tuple[float, float, float, float]:
    vertical, horizontal = pos.split()
    if horizontal == "center":
        x0 = x - w / 2
    elif horizontal == "right":
        x0 = x + rad
    else:
        x0 = x - rad - w
    if vertical == "top":
        y0 = y + rad
    elif vertical == "bottom":
        y0 = y - rad - h
    else:
        y0 = y - h / 2
    return (x0, y0, x0 + w, y0 + h)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _same_point(box: tuple[float, float, float, float], x: float, y: float) -> bool:
    return abs((box[0] + box[2]) / 2 - x) < 1e-9 and abs((box[1] + box[3]) / 2 - y) < 1e-9
