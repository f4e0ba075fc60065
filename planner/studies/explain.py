"""Why a capacity plan leaves demand unserved or work unplaced while hardware could be bought.

For every (period, service) with unserved tokens, the cheapest way to serve one more million
tokens on a candidate the plan could buy is worked out from the same figures the model uses:

    n_chips   = replicas needed for the unserved tokens/s × chips per replica
    units     = ⌈n_chips / chips_k⌉                                   systems come whole
    cny_per_mtokens(s, k) = [ units · (CRF + m) · price_k                capex + maintenance per year
                              + n_chips · meter_kw(s, a) · 8760 · price_kwh(s, a) ]   power per year
                            / (unserved tokens/s · 3600 · 8760 / 10⁶)

over candidates (site s within the service's SLO of the city, system k with accelerator a the
service may use). If the cheapest is above ``objective.unserved_inference_cny_per_mtokens``, the
model is right to leave the tokens unserved, and the message says so with both numbers and the
two ways out. If it is below, something else held the purchase back: the budget, the supply
cap, the space or power envelope, which the message names. Training jobs get the same check
against ``unplaced_training_cny_per_chip_hour``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.inputs.defaults import SOURCES
from planner.inputs.scenario import Scenario
from planner.problem.build import load_catalog_for, load_topology_for
from planner.studies.capacity import (
    HOURS_PER_YEAR,
    CapacityResult,
    binding_limits,
    candidate_options,
    capital_recovery_factor,
    period_problems,
    sites_only,
)

#: where each default objective weight comes from (stated with the value in every explanation)
DEFAULT_SOURCES = {name: (value, f"default: {source}") for name, (value, source) in SOURCES.items()}


@dataclass(frozen=True)
class Cheapest:
    """The cheapest candidate for one unit of work, all-in per year."""

    site: str
    system: str
    accelerator: str
    cost: float  # CNY per million tokens, or CNY per chip-hour for training


def explain_capacity(scenario: Scenario, result: CapacityResult) -> list[str]:
    """One sentence per unserved service and per period with unplaced training, with the numbers."""
    cap = scenario.capacity
    if cap is None or not result.is_feasible():
        return []
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    options, _ = candidate_options(scenario, catalog, sites_only(scenario, topology))
    problems = {p.name: pr for p, pr in zip(cap.periods, period_problems(scenario, options, catalog, topology))}
    crf = capital_recovery_factor(cap.interest_rate, cap.amortisation_years)
    per_chip_year = {(o.site, o.system): (crf + cap.maintenance_fraction_per_year) * o.price_cny / o.chips
                     for o in options}
    limits = binding_limits(cap, result.purchases, options)
    out: list[str] = []
    for period, plan in result.periods.items():
        problem = problems.get(period)
        if problem is None:
            continue
        unplaced = plan.unplaced
        served = unplaced[unplaced.kind == "inference"] if len(unplaced) else unplaced
        for service, rows in (served.groupby("workload") if len(served) else []):
            svc = problem.services.get(service)
            if svc is None:
                continue
            tokens = float(rows.tokens_per_s.sum())
            cities = [c for c in rows.city if isinstance(c, str)]
            best = _cheapest_serving(problem, svc, cities, tokens, options, per_chip_year)
            penalty = svc.penalty_cny_per_mtokens
            out.append(_inference_sentence(period, service, tokens, best, penalty, limits))
        jobs = unplaced[unplaced.kind != "inference"] if len(unplaced) else unplaced
        if len(jobs):
            out.append(_training_sentence(period, jobs, problem, options, per_chip_year, scenario, limits))
    return out


def _cheapest_serving(problem: Any, svc: Any, cities: list[str], tokens_per_s: float, options: list[Any],
                      per_chip_year: dict[tuple[str, str], float]) -> Cheapest | None:
    """The cheapest whole purchase that serves ``tokens_per_s``: systems come in whole units, so a
    384-chip supernode bought for 26 chips of demand costs all 384 chips' capex."""
    best: Cheapest | None = None
    mtokens_per_year = tokens_per_s * 3600 * HOURS_PER_YEAR / 1e6
    if mtokens_per_year <= 0:
        return None
    for o in options:
        per_chip = svc.tokens_per_s_per_chip.get(o.accelerator, 0.0)
        if per_chip <= 0 or o.site not in problem.sites:
            continue
        if cities and not any(problem.rtt_ms.get((c, o.site), float("inf")) <= svc.rtt_slo_ms for c in cities):
            continue
        replica = svc.chips_per_replica.get(o.accelerator, 1)
        chips = math.ceil(tokens_per_s / (per_chip * replica)) * replica
        units = math.ceil(chips / o.chips)
        power = chips * problem.meter_kw_per_chip(o.site, o.accelerator) * HOURS_PER_YEAR \
            * problem.price_cny_per_kwh(o.site, o.accelerator)
        cost = (units * o.chips * per_chip_year[(o.site, o.system)] + power) / mtokens_per_year
        if best is None or cost < best.cost:
            best = Cheapest(o.site, o.system, o.accelerator, cost)
    return best


def _penalty_text(field: str, value: float) -> str:
    default, source = DEFAULT_SOURCES[field]
    return f"{value:g} ({source})" if value == default else f"{value:g} (set in the scenario)"


def _inference_sentence(period: str, service: str, tokens: float, best: Cheapest | None, penalty: float,
                        limits: str) -> str:
    head = f"{period}: {tokens:,.0f} tokens/s of {service} unserved"
    field = "unserved_inference_cny_per_mtokens"
    if best is None:
        return (f"{head}; no candidate system can serve it within its SLO (no candidate site is close enough, or "
                "none has an accelerator the service allows); add a candidate at a site near its cities")
    cost = (f"serving it costs at least {best.cost:,.2f} CNY per million tokens on the cheapest candidate "
            f"({best.system} at {best.site}: whole systems' capex + maintenance + power, before latency)")
    if best.cost > penalty:
        return (f"{head}: {cost}; the unserved penalty is {_penalty_text(field, penalty)}, so leaving it unserved "
                f"is cheaper. Raise objective.{field} above {best.cost:,.2f} if these tokens must be served, "
                "or add a cheaper candidate")
    blocked = f"buying more was blocked by {limits}" if limits else (
        "the candidates that could serve it are limited by their sites' power or space envelopes, or by "
        "max_units_per_site; raise those")
    return f"{head}: {cost}, below the unserved penalty of {_penalty_text(field, penalty)}; {blocked}"


def _training_sentence(period: str, jobs: Any, problem: Any, options: list[Any],
                       per_chip_year: dict[tuple[str, str], float], scenario: Scenario, limits: str) -> str:
    names = [str(j) for j in jobs.workload]
    penalty = scenario.objective.unplaced_training_cny_per_chip_hour
    field = "unplaced_training_cny_per_chip_hour"
    best = None
    for o in options:
        if o.site not in problem.sites:
            continue
        cost = per_chip_year[(o.site, o.system)] / HOURS_PER_YEAR + problem.meter_kw_per_chip(o.site, o.accelerator) \
            * problem.price_cny_per_kwh(o.site, o.accelerator)
        if best is None or cost < best.cost:
            best = Cheapest(o.site, o.system, o.accelerator, cost)
    head = f"{period}: {len(names)} training job(s) unplaced ({', '.join(names[:3])}{' …' if len(names) > 3 else ''})"
    if best is None:
        return f"{head}; no candidate system can hold them; add a candidate"
    cost = (f"a bought chip costs at least {best.cost:,.2f} CNY per chip-hour ({best.system} at {best.site}, "
            "capex + maintenance + power)")
    if best.cost > penalty:
        return (f"{head}: {cost}; the unplaced penalty is {_penalty_text(field, penalty)}, so renting is cheaper. "
                f"Raise objective.{field} above {best.cost:,.2f} if the jobs must run on owned hardware")
    blocked = f"buying more was blocked by {limits}" if limits else \
        "the candidates are limited by site power, space or max_units_per_site, or the jobs' gangs do not fit them"
    return f"{head}: {cost}, below the unplaced penalty of {_penalty_text(field, penalty)}; {blocked}"


def binding_limits_of(scenario: Scenario, result: CapacityResult) -> str:
    """The purchase limits (budget, supply) the plan reached, as a phrase; empty if none."""
    if scenario.capacity is None:
        return ""
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    options, _ = candidate_options(scenario, catalog, sites_only(scenario, topology))
    return binding_limits(scenario.capacity, result.purchases, options)
