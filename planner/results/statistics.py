"""A plan's answers as tidy DataFrames, in the spirit of PyPSA's ``n.statistics``.

Everything here is computed from the plan alone (``Result`` or a plan JSON read
with ``Result.from_json``), so a report needs nothing but the plan file::

    stats = Statistics(result)
    stats.cost(by="site")              # power cost and energy per site
    stats.cost(by=["site", "kind"])    # any columns the placements table has
    stats.utilisation_chips()          # chips used / inventory per pool
    stats.latency_percentiles()        # token-weighted RTT p50 / p90 / p99
    export(result, "out/")             # every table as CSV and Parquet

Units are in the column names. Carbon is energy at the meter times the site's
grid intensity (``energy_mwh × carbon_kg_per_kwh`` gives tonnes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from planner.errors import InputError, UnknownNameError
from planner.results.columns import TIMELINE_COLUMNS
from planner.results.result import Result

#: RTT bucket edges (ms) for the latency distribution; the last bucket is open.
RTT_BUCKET_EDGES_MS: tuple[float, ...] = (0, 2, 5, 10, 20, 40)
PERCENTILES: tuple[int, ...] = (50, 90, 99)
#: columns of a tariff band table used to shade the Gantt chart
BAND_COLUMNS = ["band", "start_h", "end_h"]

__all__ = ["Statistics", "export", "tables", "RTT_BUCKET_EDGES_MS", "TIMELINE_COLUMNS", "BAND_COLUMNS"]


class Statistics:
    """Tables answering a planner's questions about one plan."""

    def __init__(self, result: Result) -> None:
        self.result = result

    # ---- helpers ----------------------------------------------------------------
    @property
    def horizon_h(self) -> float:
        return float(self.result.meta.get("horizon_h") or 0.0)

    def placements(self) -> pd.DataFrame:
        """Placements with the site's carbon intensity applied: adds ``carbon_t``."""
        p = self.result.placements.copy()
        intensity = self.result.sites.set_index("site")["carbon_kg_per_kwh"] if len(self.result.sites) else {}
        carbon = p["site"].map(intensity).astype(float) if len(p) else pd.Series(dtype=float)
        p["carbon_t"] = p["energy_mwh"].astype(float) * carbon.fillna(0.0)
        return p

    # ---- cost, energy, carbon ---------------------------------------------------
    def cost(self, by: str | Sequence[str] = "site") -> pd.DataFrame:
        """Power cost, energy and carbon grouped by any placement columns.

        ``by`` may name any column the placements table has (``site``,
        ``accelerator``, ``kind``, ``workload``, and a tariff ``band`` once plans
        carry one), so new columns group without code changes.
        """
        keys = [by] if isinstance(by, str) else list(by)
        p = self.placements()
        for key in keys:
            if key not in p.columns:
                raise UnknownNameError("placement column", key, list(p.columns), field="by")
        if not len(p):
            return pd.DataFrame(columns=[*keys, "chips", "energy_mwh", "power_cost_cny", "carbon_t", "share"])
        out = (p.groupby(keys, as_index=False)
               .agg(chips=("chips", "sum"), energy_mwh=("energy_mwh", "sum"),
                    power_cost_cny=("power_cost_cny", "sum"), carbon_t=("carbon_t", "sum")))
        total = out["power_cost_cny"].sum()
        out["share"] = out["power_cost_cny"] / total if total else 0.0
        return out.sort_values("power_cost_cny", ascending=False, kind="stable").reset_index(drop=True)

    def objective(self) -> pd.DataFrame:
        """The objective's terms in CNY, in the order they add up."""
        o = self.result.objective
        terms = [k.removesuffix("_cny") for k in o if k.endswith("_cny") and k != "total_cny"]  # time plans add more
        rows = [(term, float(o[f"{term}_cny"])) for term in terms]
        rows.append(("total", float(o.get("total_cny", 0.0))))
        return pd.DataFrame(rows, columns=["term", "cost_cny"])

    def energy(self) -> pd.DataFrame:
        """Energy, carbon and power cost per site, with the site's tariff and grid intensity (every site)."""
        sites = self.result.sites[["site", "role", "price_cny_per_kwh", "carbon_kg_per_kwh"]]
        per = self.cost(by="site")[["site", "energy_mwh", "power_cost_cny", "carbon_t"]]
        out = sites.merge(per, on="site", how="left")
        for col in ("energy_mwh", "power_cost_cny", "carbon_t"):
            out[col] = out[col].astype(float).fillna(0.0)
        return out.reset_index(drop=True)

    # ---- utilisation --------------------------------------------------------------
    def utilisation_chips(self) -> pd.DataFrame:
        """Chips used over inventory for every pool (site, accelerator)."""
        inv = self.result.inventory[["site", "accelerator", "chips", "chips_used"]].copy()
        inv["chips"] = inv["chips"].astype(int)
        inv["chips_used"] = inv["chips_used"].astype(int)
        inv["utilisation"] = (inv["chips_used"] / inv["chips"].where(inv["chips"] > 0)).fillna(0.0)
        return inv.reset_index(drop=True)

    def utilisation_power(self) -> pd.DataFrame:
        """Power drawn at the meter over the site's cap, with every placement running at once."""
        s = self.result.sites[["site", "power_cap_mw", "power_used_mw"]].copy()
        s["power_cap_mw"] = s["power_cap_mw"].astype(float)
        s["power_used_mw"] = s["power_used_mw"].astype(float)
        s["utilisation"] = (s["power_used_mw"] / s["power_cap_mw"].where(s["power_cap_mw"] > 0)).fillna(0.0)
        return s.reset_index(drop=True)

    # ---- latency ------------------------------------------------------------------
    def latency(self, edges_ms: Sequence[float] = RTT_BUCKET_EDGES_MS) -> pd.DataFrame:
        """Served tokens/s per RTT bucket ``[low, high)``; the last bucket is open-ended."""
        edges = [float(e) for e in edges_ms]
        r = self.result.routing
        labels = [f"{lo:g}–{hi:g} ms" for lo, hi in zip(edges, edges[1:])] + [f"≥ {edges[-1]:g} ms"]
        highs = edges[1:] + [math.inf]
        tps = [0.0] * len(labels)
        for rtt, t in zip(r["rtt_ms"].astype(float), r["tokens_per_s"].astype(float)):
            for i, hi in enumerate(highs):
                if rtt < hi:
                    tps[i] += t
                    break
        total = sum(tps)
        return pd.DataFrame({"rtt_bucket": labels, "rtt_low_ms": edges, "rtt_high_ms": highs, "tokens_per_s": tps,
                             "share": [t / total if total else 0.0 for t in tps]})

    def latency_percentiles(self, percentiles: Sequence[float] = PERCENTILES) -> pd.DataFrame:
        """Token-weighted RTT percentiles: p% of served tokens travel at most ``rtt_ms``."""
        r = self.result.routing[["rtt_ms", "tokens_per_s"]].astype(float)
        r = r[r["tokens_per_s"] > 0].sort_values("rtt_ms", kind="stable")
        total = r["tokens_per_s"].sum()
        cum = r["tokens_per_s"].cumsum() / total if total else r["tokens_per_s"]
        rows = []
        for p in percentiles:
            hit = r["rtt_ms"][cum >= p / 100 - 1e-12]
            rows.append((f"p{p:g}", float(p), float(hit.iloc[0]) if len(hit) else math.nan))
        return pd.DataFrame(rows, columns=["percentile", "percent", "rtt_ms"])

    # ---- tokens ---------------------------------------------------------------------
    def cny_per_mtokens(self) -> pd.DataFrame:
        """Per service: tokens/s demanded and served, power cost and CNY per million served tokens.

        The cost is the power bill of the service's replicas over the horizon;
        latency weights and penalties are preferences, not money, and stay out.
        """
        r = self.result.routing
        served = r.groupby("service")["tokens_per_s"].sum() if len(r) else pd.Series(dtype=float)
        p = self.result.placements
        inf = p[p["kind"] == "inference"]
        cost = inf.groupby("workload")["power_cost_cny"].sum() if len(inf) else pd.Series(dtype=float)
        chips = inf.groupby("workload")["chips"].sum() if len(inf) else pd.Series(dtype=float)
        unserved = self.result.unplaced.query("kind == 'inference'")
        short = unserved.groupby("workload")["tokens_per_s"].sum() if len(unserved) else pd.Series(dtype=float)
        services = sorted(set(served.index) | set(cost.index) | set(short.index))
        rows = []
        for svc in services:
            tps = float(served.get(svc, 0.0))
            cny = float(cost.get(svc, 0.0))
            mtokens = tps * 3600 * self.horizon_h / 1e6
            rows.append((svc, int(chips.get(svc, 0)), tps + float(short.get(svc, 0.0)), tps, mtokens, cny,
                         cny / mtokens if mtokens else math.nan))
        return pd.DataFrame(rows, columns=["service", "chips", "demand_tokens_per_s", "served_tokens_per_s",
                                           "served_mtokens", "power_cost_cny", "cny_per_mtokens"])

    # ---- unplaced, time line ----------------------------------------------------------
    def unplaced(self) -> pd.DataFrame:
        """Jobs left unplaced and demand left unserved, each with its reason."""
        return self.result.unplaced.reset_index(drop=True)

    def timeline(self) -> pd.DataFrame:
        """When each placement runs. Plans without their own time line start everything at hour 0."""
        own = getattr(self.result, "timeline", None)
        if isinstance(own, pd.DataFrame):
            return own.reset_index(drop=True)
        p = self.result.placements
        out = pd.DataFrame({"workload": p["workload"], "kind": p["kind"], "site": p["site"],
                            "accelerator": p["accelerator"], "chips": p["chips"],
                            "start_h": 0.0, "end_h": p["hours"].astype(float)}, columns=TIMELINE_COLUMNS)
        return out.reset_index(drop=True)

    def tariff_bands(self) -> pd.DataFrame:
        """Tariff bands over the horizon when the plan carries them (time-of-use plans), else empty."""
        own = getattr(self.result, "tariff_bands", None)
        if isinstance(own, pd.DataFrame):
            return own.reset_index(drop=True)
        return pd.DataFrame(columns=BAND_COLUMNS)

    # ---- all at once ----------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Status, objective terms, KPIs and solver figures as one long table (metric, value)."""
        r = self.result
        rows: list[tuple[str, str, object]] = [("plan", "scenario", r.scenario), ("plan", "status", r.status.value)]
        rows += [("objective", k, v) for k, v in r.objective.items()]
        rows += [("kpi", k, v) for k, v in r.kpis.items()]
        for key in ("objective", "best_bound", "gap", "wall_s", "time_limit_s", "cp_sat_status",
                    "greedy_objective", "solutions"):
            if key in r.solver:
                rows.append(("solver", key, r.solver[key]))
        rows += [("meta", k, v) for k, v in r.meta.items() if isinstance(v, (str, int, float))]
        return pd.DataFrame([(g, m, None if v is None else str(v)) for g, m, v in rows],
                            columns=["group", "metric", "value"])

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name: the plan's own tables and the statistics."""
        r = self.result
        out = {
            "summary": self.summary(),
            "objective": self.objective(),
            "placements": r.placements,
            "routing": r.routing,
            "unplaced": r.unplaced,
            "sites": r.sites,
            "inventory": r.inventory,
            "cities": r.cities,
            "cost_by_site": self.cost("site"),
            "cost_by_accelerator": self.cost("accelerator"),
            "cost_by_kind": self.cost("kind"),
            "energy_by_site": self.energy(),
            "utilisation_chips": self.utilisation_chips(),
            "utilisation_power": self.utilisation_power(),
            "latency_buckets": self.latency(),
            "latency_percentiles": self.latency_percentiles(),
            "cny_per_mtokens": self.cny_per_mtokens(),
            "timeline": self.timeline(),
        }
        if "band" in r.placements.columns:
            out["cost_by_band"] = self.cost("band")
        return {name: df.reset_index(drop=True) for name, df in out.items()}


def tables(result: Result) -> dict[str, pd.DataFrame]:
    """Every table of a plan by name (see ``Statistics.tables``)."""
    return Statistics(result).tables()


def export(result: Result, directory: str | Path) -> dict[str, Path]:
    """Write every table as ``NAME.csv`` and ``NAME.parquet`` into ``directory``; returns the CSV paths."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory", field="--export", fix="give a directory path")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in tables(result).items():
        df.to_csv(out / f"{name}.csv", index=False)
        df.to_parquet(out / f"{name}.parquet", index=False, engine="pyarrow")
        written[name] = out / f"{name}.csv"
    return written


def cost_by_band(hourly: pd.DataFrame) -> pd.DataFrame:
    """Power cost and energy per time-of-use band (bands that drew nothing are left out), from a plan's hourly table."""
    timeline = hourly
    if timeline.empty:
        return pd.DataFrame(columns=["band", "energy_mwh", "power_cost_cny", "share"])
    g = timeline[timeline.energy_kwh > 0].groupby("band").agg(energy_kwh=("energy_kwh", "sum"), power_cost_cny=("power_cost_cny", "sum"))
    g["energy_mwh"] = g.pop("energy_kwh") / 1000
    total = g.power_cost_cny.sum()
    g["share"] = g.power_cost_cny / total if total else 0.0
    return g.reset_index()[["band", "energy_mwh", "power_cost_cny", "share"]].sort_values(
        "power_cost_cny", ascending=False, ignore_index=True)


# ---------------------------------------------------------------------------
