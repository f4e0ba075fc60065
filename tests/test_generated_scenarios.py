"""10,000 generated scenarios through solve → verify with no loss (slow: ``pytest -m slow``).

The generator and the loop are ``benchmarks/generated_verify.py``, which prints the figures; this
runs the same loop and requires that no plan loses work or mis-states a figure, and that every
refused scenario gets one line. The default run checks 80 of them, so the loop itself stays tested
(among them, at seed 0, capacity plans that leave a job out whose allowed pools were not all bought).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from generated_verify import run  # noqa: E402


@pytest.mark.slow
def test_ten_thousand_generated_scenarios_solve_and_verify_with_no_loss():
    out = run(10_000, seed=0)
    assert out["losses"] == []
    assert out["counts"]["verified"] >= 9_000, out["counts"]


def test_eighty_generated_scenarios_solve_and_verify_with_no_loss():
    out = run(80, seed=0)
    assert out["losses"] == [] and out["counts"].get("verified", 0) >= 60, out
