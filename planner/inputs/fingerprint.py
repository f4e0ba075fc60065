"""Which scenario a plan was solved from.

``fingerprint(scenario)`` hashes everything in the scenario that shapes a plan (sites, work,
objective, catalog and topology references, time and capacity settings, after ``--set``
overrides), but not the solver settings or the file's path. ``planner solve -o`` stores it in
the plan's ``meta``; ``plan_mismatch`` tells ``verify`` that a plan belongs to another scenario
before any constraint is checked.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: fields that do not change what a valid plan is
_IGNORED = {"solver", "source_path", "description"}


def fingerprint(scenario: Any) -> str:
    """A short stable hash of the plan-shaping content of a scenario."""
    data = scenario.model_dump(mode="json", exclude=_IGNORED & set(type(scenario).model_fields))
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def plan_mismatch(plan: dict[str, Any], scenario: Any, plan_file: str, scenario_file: str) -> str | None:
    """A sentence if ``plan`` was solved from a scenario of another name, else None."""
    base = _plan_scenario(plan)
    if base and base != scenario.name:
        return (f"{plan_file} belongs to scenario '{base}', not to {scenario_file} ('{scenario.name}'); verify it "
                "against the scenario it was solved from")
    return None


def plan_changed(plan: dict[str, Any], scenario: Any, plan_file: str, scenario_file: str) -> str | None:
    """A warning if ``plan`` was solved from another version of this scenario (checking a plan
    against a changed scenario is legitimate: it shows what the change breaks)."""
    stored = (plan.get("meta") or {}).get("scenario_fingerprint")
    if stored is not None and stored != fingerprint(scenario) and _plan_scenario(plan) == scenario.name:
        return (f"{plan_file} was solved from another version of '{scenario.name}' (its sites, work or settings "
                f"differ from {scenario_file} with these --set overrides); violations below may come from the change")
    return None


def _plan_scenario(plan: dict[str, Any]) -> str:
    return str(plan.get("scenario", "")).split(" — period ")[0]
