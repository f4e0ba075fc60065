"""Checks that flag the data's own inconsistencies, for ``planner topology checks`` and ``planner catalog checks``.

A finding is ``impossible`` when a figure cannot be true as written (a link faster than
light in fibre, a path faster than a measured figure, a value outside its own range,
a source read before it was published, a tariff day that does not cover 24 hours) and
``inconsistent`` when the data disagrees with itself but may still be right (a PUE above
its policy cap, a link below the realistic fibre floor, a bare-domain citation). The
commands exit 1 on an impossible finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from hardware_catalog.provenance import Figure, audit, bare_domains
from planner.inputs.topology import (
    HOURS_PER_DAY,
    Topology,
    fibre_floor_rtt_ms,
    great_circle_km,
    light_in_fibre_rtt_ms,
)

Severity = Literal["impossible", "inconsistent"]
FINDING_COLUMNS = ["severity", "check", "where", "detail"]
_IMPOSSIBLE_AUDIT = ("outside its own range", "before the source was published", "without a method")


@dataclass(frozen=True)
class Finding:
    """One thing in the data a reviewer should look at."""

    severity: Severity
    check: str
    where: str
    detail: str


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    return pd.DataFrame([f.__dict__ for f in findings], columns=FINDING_COLUMNS)


def summary_line(what: str, findings: list[Finding], figures: int) -> str:
    """``topology checks: 812 figures; 0 impossible; 6 inconsistent (pue_above_cap 5, ...)``."""
    by_severity = Counter(f.severity for f in findings)
    parts = [f"{what} checks: {figures} figures", f"{by_severity['impossible']} impossible"]
    inconsistent = Counter(f.check for f in findings if f.severity == "inconsistent")
    detail = ", ".join(f"{c} {n}" for c, n in inconsistent.most_common())
    parts.append(f"{by_severity['inconsistent']} inconsistent" + (f" ({detail})" if detail else ""))
    impossible = Counter(f.check for f in findings if f.severity == "impossible")
    if impossible:
        parts[1] += " (" + ", ".join(f"{c} {n}" for c, n in impossible.most_common()) + ")"
    return "; ".join(parts)


def figure_findings(figures: Iterable[tuple[str, Figure | None]]) -> list[Finding]:
    """Provenance problems of every figure (``hardware_catalog.provenance.audit``)."""
    out = []
    for where, fig in figures:
        if fig is None:
            continue
        for problem in audit(fig):
            severity: Severity = "impossible" if any(k in problem for k in _IMPOSSIBLE_AUDIT) else "inconsistent"
            check = ("range_excludes_value" if "range" in problem else
                     "retrieved_before_published" if "published" in problem else
                     "estimate_without_method" if "method" in problem else "bare_domain")
            out.append(Finding(severity, check, where, problem))
    return out


# --------------------------------------------------------------------------- topology

def topology_findings(topo: Topology) -> list[Finding]:
    """Every check on the topology, in a stable order."""
    return [*figure_findings(topo.figures()), *pue_above_cap(topo), *links_against_fibre(topo),
            *paths_faster_than_measured(topo), *tariff_days(topo)]


def pue_above_cap(topo: Topology) -> list[Finding]:
    """A site costed at a PUE above its own policy cap."""
    out = []
    for s in topo.sites.values():
        pue, cap = s.pue.value, s.pue_cap.value
        if pue is not None and cap is not None and pue > cap + 1e-9:
            out.append(Finding("inconsistent", "pue_above_cap", f"site {s.id}",
                               f"PUE {pue:g} is above the cap {cap:g} ({s.pue.method or s.pue.source})"[:300]))
    return out


def links_against_fibre(topo: Topology) -> list[Finding]:
    """A link faster than light in a straight fibre (impossible) or than the realistic floor (inconsistent)."""
    if not topo.latency_model:
        return []
    out = []
    for link in topo.links:
        rtt = float(link.rtt_ms.value)  # type: ignore[arg-type]
        a, b = topo.graph.nodes[link.a], topo.graph.nodes[link.b]
        km = great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
        light, floor = light_in_fibre_rtt_ms(km, topo.latency_model), fibre_floor_rtt_ms(km, topo.latency_model)
        where = f"link {link.a}-{link.b}"
        if rtt < light - 1e-9:
            out.append(Finding("impossible", "link_faster_than_light", where,
                               f"RTT {rtt:g} ms is below light in a straight fibre ({light:.2f} ms over {km:.0f} km)"))
        elif rtt < floor - 1e-3:
            out.append(Finding("inconsistent", "link_below_fibre_floor", where,
                               f"RTT {rtt:g} ms is below the fibre floor {floor:.2f} ms at the floor route factor"))
    return out


def paths_faster_than_measured(topo: Topology) -> list[Finding]:
    """A path through other links that beats a link's measured (one-way or round-trip) figure."""
    out = []
    for link in topo.links:
        if link.reported_kind not in ("one_way", "round_trip"):
            continue
        measured = float(link.rtt_ms.value)  # type: ignore[arg-type]
        best = topo.rtt_ms(link.a, link.b)
        if best < measured - 1e-6:
            path = " > ".join(topo.path(link.a, link.b))
            out.append(Finding("impossible", "path_faster_than_measured", f"link {link.a}-{link.b}",
                               f"path {path} gives {best:.2f} ms, below the measured {measured:g} ms RTT"))
    return out


def tariff_days(topo: Topology) -> list[Finding]:
    """Every tariff's base day, and each month's overrides, cover hours 0-23 exactly once."""
    out, seen = [], set()
    for s in topo.sites.values():
        t = s.tariff
        if t.id in seen:
            continue
        seen.add(t.id)
        base = [b for b in t.bands if b.months is None]
        problems = _coverage(base)
        months = sorted({m for b in t.bands if b.months for m in b.months})
        for month in months:
            overrides = [b for b in t.bands if b.months and month in b.months]
            hours = Counter(h for b in overrides for h in b.covers())
            doubled = sorted(h for h, n in hours.items() if n > 1)
            if doubled:
                problems.append(f"month {month}: hours {doubled} are in more than one override band")
        out += [Finding("impossible", "tariff_day_coverage", f"tariff {t.id}", p) for p in problems]
    return out


def _coverage(bands: list[Any]) -> list[str]:
    hours = Counter(h for b in bands for h in b.covers())
    problems = []
    missing = sorted(set(range(HOURS_PER_DAY)) - set(hours))
    doubled = sorted(h for h, n in hours.items() if n > 1)
    if missing:
        problems.append(f"base day leaves hours {missing} uncovered")
    if doubled:
        problems.append(f"base day has hours {doubled} in more than one band")
    return problems


# --------------------------------------------------------------------------- catalog

def catalog_figures(catalog: Any) -> list[tuple[str, Figure | None]]:
    """Every (where, Figure) in a loaded catalog."""
    out: list[tuple[str, Figure | None]] = []
    for a in catalog.accelerators.values():
        out += [(f"accelerator {a.id}.{k}", f) for k, f in a.figures().items()]
    for s in catalog.systems.values():
        out += [(f"system {s.id}.{k}", f) for k, f in s.figures().items()]
    for st in catalog.stacks.values():
        out += [(f"stack {st.stack}.training_mfu", st.training_mfu),
                (f"stack {st.stack}.inference_efficiency", st.inference_efficiency)]
    out.append(("server_overhead_factor", catalog.server_overhead_factor))
    return out


def catalog_findings(catalog: Any) -> list[Finding]:
    """Provenance of every catalog figure, export-control sources, and system power against chip TDP."""
    out = figure_findings(catalog_figures(catalog))
    for a in catalog.accelerators.values():
        control = a.export_control
        if control is not None:
            for host in bare_domains(getattr(control, "source", None)):
                out.append(Finding("inconsistent", "bare_domain", f"accelerator {a.id}.export_control",
                                   f"source cites the bare domain '{host}'"))
    for s in catalog.systems.values():
        accel = catalog.accelerators.get(s.accelerator)
        if s.power_kw is None or s.power_kw.value is None or accel is None or accel.tdp_w is None:
            continue
        chips_kw = s.chips * float(accel.tdp_w.value or 0) / 1000
        if s.power_kw.value < chips_kw - 1e-9:
            out.append(Finding("inconsistent", "system_power_below_chip_tdp", f"system {s.id}",
                               f"{s.power_kw.value:g} kW for {s.chips} x {accel.id} at {accel.tdp_w.value:g} W "
                               f"({chips_kw:g} kW of chips alone)"))
    return out


def supply_frame(catalog: Any) -> pd.DataFrame:
    """Per-accelerator supply figures (units per year) with their sources."""
    rows = []
    for a in catalog.accelerators.values():
        for year in (2025, 2026):
            fig = getattr(a, f"supply_{year}_units", None)
            if fig is not None and fig.value is not None:
                rows.append({"accelerator": a.id, "vendor": a.vendor, "year": year, "units": int(fig.value),
                             "range": f"{fig.range[0]:,.0f}-{fig.range[1]:,.0f}" if fig.range else "",
                             "confidence": fig.confidence.value, "source": fig.source[:90]})
    return pd.DataFrame(rows, columns=["accelerator", "vendor", "year", "units", "range", "confidence", "source"])
