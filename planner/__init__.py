"""East-West compute planner: place AI training and inference across China's compute hubs.

    from planner import load_scenario, solve
    result = solve(load_scenario("workloads/examples/east_west_small.yaml"))
    print(result.summary()); result.placements; result.routing

The package is laid out by stage, each a layer that imports only from the layers below it
(checked by the import-linter contract in pyproject.toml):

    cli → viz → studies → core → check → results → problem → inputs   (errors: shared by all)

The names below are loaded on first use, so ``import planner.errors`` (which the catalog and
workload packages do) stays cheap and the command line starts quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Result", "Scenario", "Status", "load_scenario", "solve", "verify"]

_LAZY = {
    "Result": "planner.results.result",
    "Status": "planner.results.result",
    "Scenario": "planner.inputs.scenario",
    "load_scenario": "planner.inputs.scenario",
    "solve": "planner.core.solve",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")


def verify(scenario: Any, result: Any) -> list[str]:
    """Re-check a result against its scenario without the solver; returns the violations."""
    from planner.check.document import verify_document

    return verify_document(scenario, result.to_dict())
