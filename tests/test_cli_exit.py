"""The command's exit when a HiGHS solve of the two-phase start still runs (``planner.cli.run``).

HiGHS cannot be stopped from outside, and a process that ends while one still runs is aborted by the
C++ runtime (exit 134); so ``planner`` exits at once with its own status, its output flushed."""

from __future__ import annotations

import sys

import pytest

import planner.cli as cli
from planner.core import runner


class _Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@pytest.fixture
def fast_exit(monkeypatch):
    def fake_exit(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    return monkeypatch


@pytest.mark.parametrize(("argv", "status"), [(["--version"], 0), (["validate", "/no/such/scenario.yaml"], 2)])
def test_a_solve_left_running_ends_the_command_at_once_with_its_status(fast_exit, argv, status):
    fast_exit.setattr(runner, "solves_left_behind", lambda: True)
    fast_exit.setattr(sys, "argv", ["planner", *argv])
    with pytest.raises(_Exited) as exited:
        cli.run()
    assert exited.value.code == status


def test_without_a_solve_left_running_the_command_exits_as_usual(fast_exit):
    fast_exit.setattr(runner, "solves_left_behind", lambda: False)
    fast_exit.setattr(sys, "argv", ["planner", "validate", "/no/such/scenario.yaml"])
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 2
