"""A command prints at most ``WARNINGS_SHOWN`` of a scenario's warnings, then how many it left out."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import EXAMPLE

from planner.cli import main, output


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning:")]


def test_validate_shows_the_first_warnings_then_how_many_more(monkeypatch):
    """With a 1 h horizon each of the example's four long jobs (120, 36, 72 and 12 h on their fastest
    accelerators) draws a warning: two are shown, then one line for the other two."""
    monkeypatch.setattr(output, "WARNINGS_SHOWN", 2)
    r = CliRunner().invoke(main, ["validate", str(EXAMPLE), "--set", "horizon_h=1"])
    assert r.exit_code == 0, r.output
    lines = _warnings(r.output)
    assert len(lines) == 3
    assert "pretrain-moe-stage2" in lines[0] and "sft-chat" in lines[1]
    assert lines[2] == "warning: … and 2 more warning(s); --all-warnings prints them all"
    every = _warnings(CliRunner().invoke(main, ["validate", str(EXAMPLE), "--set", "horizon_h=1",
                                                "--all-warnings"]).output)
    assert len(every) == 4 and not any("more warning" in line for line in every)


def test_solve_says_where_the_rest_are(monkeypatch, tmp_path):
    monkeypatch.setattr(output, "WARNINGS_SHOWN", 1)
    r = CliRunner().invoke(main, ["solve", str(EXAMPLE), "--set", "horizon_h=1", "--quiet",
                                  "-o", str(tmp_path / "plan.json")])
    assert r.exit_code == 0, r.output
    lines = _warnings(r.output)
    assert lines[1].startswith("warning: … and 3 more warning(s); the plan JSON's `warnings` (-o)")
    assert len([w for w in json.loads((tmp_path / "plan.json").read_text())["warnings"] if "horizon" in w]) == 4
