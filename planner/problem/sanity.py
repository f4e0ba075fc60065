"""Warnings for figures that are valid but probably not what the planner meant.

Each is a plain sentence naming the field, what it holds, what it is compared with, and the
likely fix. They never stop a run: ``planner validate`` and every solving command print them.

* a site's ``power_cap_mw`` above the topology's power envelope for that site (a unit slip:
  30000 written for 30 MW is 30 GW);
* inventory that cannot all run at once under the site's power cap;
* a job longer than the horizon. Every plan (solve, time of use, plan-capacity, compare, pareto)
  bills the hours it runs inside the horizon (``planner.problem.build.in_horizon``) and prices the
  unfinished share of its run like unplaced work (``JobData.unfinished_work_cny``); the warning is
  one sentence, the same from every command.
"""

from __future__ import annotations

from typing import Any

Pool = tuple[str, str]


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def sanity_warnings(scenario: Any, topology: Any, sites: dict[str, Any], accels: dict[str, Any],
                    inventory: dict[Pool, int], jobs: dict[str, Any], horizon_h: float,
                    strict: bool = True) -> list[str]:
    """Every sanity warning for one resolved scenario, in the order of the file.

    ``strict=False`` (the derived per-period problems of capacity planning, whose inventory holds
    every chip that *could* be bought) skips the inventory check, which belongs to the scenario as
    written; the power cap and long-job checks run on every build, so every command says the same.
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
            out.append(f"sites.{site_id}: the inventory draws up to {draw_kw / 1000:,.6g} MW at the meter with every "
                       f"chip busy, above its {site.power_cap_kw / 1000:,.6g} MW cap; at most "
                       f"{100 * site.power_cap_kw / draw_kw:.0f} % of it can run at once "
                       "(raise power_cap_mw or expect idle chips)")
    long_jobs: dict[str, dict[str, float]] = {}
    for job in jobs.values():
        run_h = getattr(job, "run_h", None) or job.hours
        if any(h > horizon_h + 1e-9 for h in run_h.values()):
            long_jobs[job.id.split("#")[0]] = run_h
    out += [long_job_warning(job_id, run_h, horizon_h) for job_id, run_h in long_jobs.items()]
    return out


def long_job_warning(job_id: str, run_h: dict[str, float], horizon_h: float) -> str:
    """The one sentence every command prints for a job that runs longer than the horizon on some
    allowed accelerator (``run_h``: its whole run per accelerator)."""
    h = f"{horizon_h:,.6g} h"
    shortest = min(run_h.values())
    if shortest > horizon_h + 1e-9:
        return (f"job '{job_id}' runs {shortest:,.6g} h on its fastest allowed accelerator, longer than the {h} "
                f"horizon: every plan bills the {h} it runs inside the horizon ({100 * horizon_h / shortest:.0f} % "
                "of its run there; placement column run_share) and prices the unfinished share of its run like "
                "unplaced work (unplaced_cny_per_chip_hour; objective line unfinished_work_cny): raise horizon_h "
                "to plan the whole run")
    slow = sorted(a for a, x in run_h.items() if x > horizon_h + 1e-9)
    longest = max(run_h[a] for a in slow)
    return (f"job '{job_id}' runs longer than the {h} horizon on {', '.join(slow)} (up to {longest:,.6g} h; "
            f"{shortest:,.6g} h on its fastest allowed accelerator): a plan that puts it there bills the {h} it "
            f"runs inside the horizon (down to {100 * horizon_h / longest:.0f} % of its run; placement column "
            "run_share) and prices the unfinished share of its run like unplaced work (unplaced_cny_per_chip_hour; "
            "objective line unfinished_work_cny), so it goes there only if the power saved outweighs that")
