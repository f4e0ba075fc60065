"""Warnings for figures that are valid but probably not what the planner meant.

Each is a plain sentence naming the field, what it holds, what it is compared with, and the
likely fix. They never stop a run: ``planner validate`` and every solving command print them.

* a site's ``power_cap_mw`` above the topology's power envelope for that site (a unit slip:
  30000 written for 30 MW is 30 GW);
* inventory that cannot all run at once under the site's power cap;
* a training job longer than the horizon. The spatial plan bills the job's whole run, while
  ``plan-capacity`` bills the hours inside each representative window; both say so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

Pool = tuple[str, str]


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def sanity_warnings(scenario: Any, topology: Any, sites: dict[str, Any], accels: dict[str, Any],
                    inventory: dict[Pool, int], jobs: dict[str, Any], horizon_h: float,
                    strict: bool = True) -> list[str]:
    """Every sanity warning for one resolved scenario, in the order of the file.

    ``strict=False`` (the derived per-period problems of capacity planning, whose inventory holds
    every chip that *could* be bought) checks only the power cap against the envelope: the
    inventory and job checks belong to the scenario as written, which ``validate`` builds strictly.
    """
    out: list[str] = []
    for site_id, plan in scenario.sites.items():
        site = sites.get(site_id)
        if site is None:
            continue
        envelope = _value(getattr(topology.sites[site_id], "power_envelope_mw", None))
        if plan.power_cap_mw is not None and envelope is not None and plan.power_cap_mw > float(envelope):
            out.append(f"sites.{site_id}.power_cap_mw is {plan.power_cap_mw:,.6g} MW, above the topology's "
                       f"{float(envelope):,.6g} MW power envelope for {site_id}; power_cap_mw is in MW at the meter "
                       "(1000 MW = 1 GW): check the unit")
        if not strict:
            continue
        draw_kw = sum(n * accels[a].chip_power_kw * site.pue for (s, a), n in inventory.items() if s == site_id)
        if draw_kw > site.power_cap_kw * (1 + 1e-9):
            out.append(f"sites.{site_id}: the inventory draws up to {draw_kw / 1000:,.2f} MW at the meter with every "
                       f"chip busy, above its {site.power_cap_kw / 1000:,.2f} MW cap; at most "
                       f"{100 * site.power_cap_kw / draw_kw:.0f} % of it can run at once "
                       "(raise power_cap_mw or expect idle chips)")
    long_jobs: dict[str, float] = defaultdict(float)
    for job in (jobs.values() if strict else ()):
        shortest = min(job.hours.values(), default=0.0)
        if shortest > horizon_h + 1e-9:
            long_jobs[job.id.split("#")[0]] = shortest
    for job_id, hours in long_jobs.items():
        out.append(f"job '{job_id}' runs {hours:,.6g} h on its fastest allowed accelerator, longer than the "
                   f"{horizon_h:g} h horizon: `solve` bills its whole run, `plan-capacity` bills the "
                   f"{horizon_h:g} h inside each planning window; raise horizon_h or shorten the job to compare "
                   "like with like")
    return out
