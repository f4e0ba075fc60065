"""The size guard: refuse a scenario whose model would run away, before anything is built.

The estimate counts the integer variables the CP-SAT models create (``planner.core.model``:
``place[class, pool]``, ``replicas[service, pool]``, ``flow[service, city, site]``;
``planner.core.timemodel`` adds one per step for each of them) from the scenario alone, as an
upper bound: every job entry is counted as its own class and every pool as usable. Memory is
estimated at ``KB_PER_VARIABLE``, measured by building and solving a synthetic CP-SAT model of
10^6 variables with one worker (0.96 KB per variable peak RSS; more workers take more).

``validate``, ``solve``, time mode and ``plan-capacity`` all run it (it is called by
``build_problem``), so they refuse the same scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.inputs.bounds import MAX_MODEL_VARIABLES as MAX_VARIABLES

#: job copies one plan holds (the scale benchmark runs 20,000)
MAX_JOB_COPIES = 200_000
#: peak memory per model variable, KB (measured, see the module docstring)
KB_PER_VARIABLE = 1.0
#: the time model's decomposition at scale (``planner.core.timemodel``: AUTO_POOLS_LIMIT, AUTO_POOLS_PER_JOB):
#: above this many (job class, pool) pairs it keeps the cheapest few pools per class
AUTO_POOLS_LIMIT = 3000
AUTO_POOLS_PER_JOB = 3


@dataclass(frozen=True)
class SizeEstimate:
    job_copies: int
    variables: int
    mode: str

    @property
    def memory_gb(self) -> float:
        return self.variables * KB_PER_VARIABLE / 1e6


def estimate_size(scenario: Any, mode: str | None = None) -> SizeEstimate:
    """Upper bound on job copies and model variables of ``scenario`` in ``mode`` (spatial or time)."""
    mode = mode or scenario.time.mode
    growth = 1.0
    pools = sum(1 for plan in scenario.sites.values() for n in plan.inventory.values() if n > 0)
    if scenario.capacity is not None:
        growth = max(p.training_growth for p in scenario.capacity.periods)
        pools += len(scenario.capacity.candidates) * len(scenario.sites)
    periods = len(scenario.capacity.periods) if scenario.capacity is not None else 1
    copies = sum(math.ceil(j.count * growth) for j in scenario.jobs)
    entries = len(scenario.jobs)
    routes = sum(len(s.demand_tokens_per_s) for s in scenario.inference_services) * len(scenario.sites)
    services = len(scenario.inference_services)
    per_block = services * pools + routes
    if mode == "time":
        steps = max(1, math.ceil(scenario.horizon_h / scenario.time.step_h))
        blocks = max(1, math.ceil(steps / scenario.time.demand_resolution_h))
        # the time model keeps the cheapest few pools per job class at scale, and one start variable per
        # candidate step (two per step, run and seg, for a preemptible job)
        keep = scenario.time.pools_per_job or (AUTO_POOLS_PER_JOB if entries * pools > AUTO_POOLS_LIMIT else pools)
        per_job = sum(min(pools, keep) * (2 * steps + 1 if j.preemptible else steps) for j in scenario.jobs)
        variables = per_job + per_block * blocks
    else:
        variables = entries * pools + per_block
    return SizeEstimate(copies, variables * periods, mode)


def check_size(scenario: Any, mode: str | None = None, *, file: str | None = None) -> SizeEstimate:
    """Raise ``InputError`` (with the fix) if the scenario's model would be too large to build."""
    est = estimate_size(scenario, mode)
    file = file or getattr(scenario, "source_path", None) or "<scenario>"
    if est.job_copies > MAX_JOB_COPIES:
        raise InputError(
            f"{est.job_copies:,} job copies (sum of count) exceed the {MAX_JOB_COPIES:,} one plan holds",
            file=file, field="training_jobs[].count",
            fix="aggregate identical jobs into larger gangs, or decompose the scenario into several")
    limit = getattr(scenario.solver, "max_variables", None) or MAX_VARIABLES
    if est.variables > limit:
        raise InputError(
            f"the {est.mode} model would have about {est.variables:,} variables (~{est.memory_gb:,.1f} GB), above "
            f"the limit of {limit:,}", file=file, field="solver.max_variables",
            fix="aggregate jobs or demand cities, decompose the scenario (fewer sites, a shorter horizon or a "
                "larger time.step_h), or raise solver.max_variables if the machine has the memory")
    return est
