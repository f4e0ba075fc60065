"""Suggestions that know what kind of thing a name is.

A spelling suggestion alone sends ``shanghai`` written as a site to ``shaoguan``, a site in
another province. These hints look the name up among the other kinds first: a demand city
used as a site gets the sites that can serve it, a site used as a city gets the cities near
it, a system used as an accelerator gets its accelerator.
"""

from __future__ import annotations

from typing import Any

#: sites listed for a city named where a site belongs: those within this RTT, else the nearest three
NEAR_MS = 5.0


def sites_near(topology: Any, city: str, slo_ms: float | None = None) -> list[tuple[str, float]]:
    """(site, RTT ms) for every site, nearest first; within ``slo_ms`` when given."""
    node = topology.node(f"city:{city}")
    rows = sorted(((s, float(topology.rtt_ms(node, f"site:{s}"))) for s in topology.sites), key=lambda r: (r[1], r[0]))
    return [r for r in rows if slo_ms is None or r[1] <= slo_ms + 1e-9]


def site_hint(topology: Any, name: str) -> str | None:
    """For a name that is not a site: what it is instead, and which sites to use."""
    city = _match(name, topology.cities)
    if city is None:
        return None
    near = sites_near(topology, city, NEAR_MS)
    within = f"sites within {NEAR_MS:g} ms" if near else "nearest sites"
    shown = near or sites_near(topology, city)[:3]
    listed = ", ".join(f"{s} ({ms:.1f} ms)" for s, ms in shown[:5])
    return f"{name} is a demand city; {within}: {listed} (planner topology near {city} lists them all)"


def city_hint(topology: Any, name: str) -> str | None:
    """For a name that is not a demand city: if it is a site, the cities nearest it."""
    site = _match(name, topology.sites)
    if site is None:
        return None
    rows = sorted(((c, float(topology.rtt_ms(f"city:{c}", f"site:{site}"))) for c in topology.cities),
                  key=lambda r: (r[1], r[0]))[:3]
    return f"{name} is a site, not a demand city; cities nearest it: " + ", ".join(f"{c} ({ms:.1f} ms)" for c, ms in rows)


def accelerator_hint(catalog: Any, name: str) -> str | None:
    """For a name that is not an accelerator: if it is a system, the accelerator it holds."""
    system = _match(name, getattr(catalog, "systems", {}))
    if system is None:
        return None
    sys_ = catalog.systems[system]
    return (f"{name} is a system ({sys_.chips} × {sys_.accelerator}); inventories and jobs count chips by "
            f"accelerator: use {sys_.accelerator}")


def _match(name: str, known: Any) -> str | None:
    lowered = {str(k).lower(): k for k in known}
    return lowered.get(str(name).lower())
