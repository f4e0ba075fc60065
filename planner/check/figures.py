"""One comparison of a plan's stated figures with the figures recomputed from its decisions."""

from __future__ import annotations

import math
from typing import Any

#: relative tolerance on recomputed figures
REL_TOL = 1e-6
#: figures added after plans were first written: a plan may leave one out where it recomputes to zero
#: (and the transfer and checkpoint terms, which a spatial plan states since it is written back as the
#: schedule over one block, always zero there)
NEWER_FIGURES = frozenset({"unfinished_work_cny", "unfinished_work_cny_per_year", "transfer_cny", "checkpoint_cny"})


def missing(key: str, value: float) -> bool:
    """Whether a figure the plan does not state is a violation (not for a newer figure that is zero)."""
    return not (key in NEWER_FIGURES and abs(float(value)) <= 1e-6)


def compare_figures(plan: dict[str, Any], objective: dict[str, float], kpis: dict[str, float]) -> list[str]:
    """Every objective term and KPI the plan states, against the same figure recomputed from the plan."""
    out = []
    for section, recomputed in (("objective", objective), ("kpis", kpis)):
        stated = plan.get(section, {})
        for key, value in recomputed.items():
            if key not in stated:
                if missing(key, value):
                    out.append(f"{section}.{key} is missing")
            elif not math.isclose(float(stated[key]), float(value), rel_tol=REL_TOL, abs_tol=1e-6):
                out.append(f"{section}.{key} states {stated[key]}, the plan gives {value}")
    return out
