"""The one place where real numbers become CP-SAT integers.

CP-SAT takes integer coefficients only. Costs are counted in units of
10^-k CNY, with k chosen per problem so that the smallest cost coefficient
keeps about four significant digits while the largest possible objective
stays far inside int64 (``CostScale.for_range``). Power is counted in watts,
rounded *up* per chip so an integer-feasible plan is feasible in real numbers
too; serving capacity in whole tokens/s, rounded *down*; demand in whole
tokens/s, rounded down. Reported costs are recomputed in floating point from
the plan (``planner.check.timeline.evaluate_timeline``), so rounding here only perturbs the search,
never the figures a planner reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the largest objective magnitude we let CP-SAT see (int64 is 9.2e18)
MAX_OBJECTIVE_UNITS = 1e15
#: the smallest coefficient should have at least this many units (≈ 4 significant digits)
MIN_COEFFICIENT_UNITS = 1e4


@dataclass(frozen=True)
class CostScale:
    """Objective units per CNY."""

    units_per_cny: float

    @classmethod
    def for_range(cls, smallest_cny: float, largest_total_cny: float) -> "CostScale":
        """Pick 10^k units per CNY: fine enough for ``smallest_cny``, coarse enough for ``largest_total_cny``."""
        k = 3  # at least milli-CNY
        if smallest_cny > 1e-9:  # coefficients below a nano-CNY do not steer anything
            k = max(k, math.ceil(math.log10(MIN_COEFFICIENT_UNITS / smallest_cny)))
        if largest_total_cny > 0:
            k = min(k, math.floor(math.log10(MAX_OBJECTIVE_UNITS / largest_total_cny)))
        return cls(10.0 ** max(0, min(k, 12)))

    def units(self, cny: float) -> int:
        """CNY → integer objective units (nearest)."""
        return int(round(cny * self.units_per_cny))

    def cny(self, units: float) -> float:
        """Integer objective units → CNY."""
        return units / self.units_per_cny


def power_w_up(kw: float) -> int:
    """Power per chip in whole watts, rounded up (conservative for caps)."""
    return int(math.ceil(kw * 1000 - 1e-9))


def cap_w_down(kw: float) -> int:
    """A power cap in whole watts, rounded down (conservative)."""
    return int(math.floor(kw * 1000 + 1e-9))


def tokens_down(tokens_per_s: float) -> int:
    """Serving capacity in whole tokens/s, rounded down (conservative)."""
    return int(math.floor(tokens_per_s + 1e-9))


def demand_tokens(tokens_per_s: float) -> int:
    """Demand in whole tokens/s: never serve more than was asked."""
    return int(math.floor(tokens_per_s + 1e-9))


#: a replica's capacity spans at least this many flow steps, so the step costs < 1/STEPS of a replica
FLOW_STEPS_PER_REPLICA = 1000


def flow_quantum(replica_tokens_per_s: list[float]) -> int:
    """Tokens/s per unit of a CP-SAT flow variable: a power of ten, small beside every replica.

    Counting flow in steps of Q tokens/s (Q = 10^k ≤ smallest replica / 1,000) keeps variable
    domains and coefficients in the range CP-SAT searches well; at most Q tokens/s per city
    and Q per replica go unused, under 0.1 % of a replica.
    """
    smallest = min((c for c in replica_tokens_per_s if c > 0), default=0.0)
    if smallest < FLOW_STEPS_PER_REPLICA:
        return 1
    return 10 ** int(math.floor(math.log10(smallest / FLOW_STEPS_PER_REPLICA)))


def flow_units(tokens_per_s: float, quantum: int) -> int:
    """Whole flow steps in ``tokens_per_s``, rounded down (demand and capacity alike)."""
    return int(math.floor(tokens_per_s / quantum + 1e-9))
