"""The corpus of bad inputs (tests/data/bad, written by make_corpus.py) through the real command line.

Every bad scenario goes through ``validate`` and ``solve`` (capacity ones through ``plan-capacity``),
every bad plan through ``verify``: each must exit 2 with one line naming the file and the field —
no traceback, no hang (each command runs under an alarm), no silent acceptance. A FIFO and a
directory, which git cannot hold, are made here. The click runner runs the commands in-process.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner.cli import main

BAD = Path(__file__).parent / "data" / "bad"
EXPECTED = yaml.safe_load((BAD / "expected.yaml").read_text())
SECONDS = 30


@contextmanager
def deadline(seconds: int):
    def hung(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: the command hangs or runs away")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run(*args: str):
    with deadline(SECONDS):
        return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_exit_2(r, file: str, fragment: str) -> None:
    assert r.exception is None or isinstance(r.exception, SystemExit), f"{file}: raised {r.exception!r}"
    assert r.exit_code == 2, f"{file}: exit {r.exit_code}: {r.output}"
    message = r.output.strip()
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1, message
    assert message.startswith("error: ") and Path(file).name in message, message
    assert fragment in message, f"{fragment!r} not in {message}"


def _cases():
    for name, spec in sorted(EXPECTED.items()):
        for command in spec["commands"]:
            yield pytest.param(name, command, spec, id=f"{command}-{name}")


@pytest.mark.parametrize("name, command, spec", list(_cases()))
def test_every_bad_file_exits_2_with_one_line_naming_file_and_field(name, command, spec):
    path = BAD / name
    if command == "verify":
        r = run("verify", BAD / spec["scenario"], path)
    elif command == "solve":
        r = run("solve", path, "--quiet")
    else:
        r = run(command, path)
    assert_one_line_exit_2(r, str(path), spec["fragment"])


def test_the_corpus_covers_every_category_with_150_files_or_more():
    kinds = Counter(name.split("/")[1].split("_")[0] for name in EXPECTED)
    assert len(EXPECTED) >= 150, len(EXPECTED)
    for category in ("number", "resource", "file", "name", "overlay", "override", "path", "time", "capacity", "plan"):
        assert kinds[category] >= 3, kinds


def test_the_bases_are_valid_so_each_bad_file_is_bad_for_its_one_change(tmp_path):
    for base in ("base.yaml", "base_time.yaml"):
        assert run("validate", BAD / base).exit_code == 0
    assert run("validate", BAD / "base_capacity.yaml").exit_code == 0


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_a_fifo_a_directory_and_a_device_are_refused_without_blocking(tmp_path, command):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        r = run(command, path)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
        assert "not a regular file" in r.output
    r = run(command, tmp_path)  # click refuses a directory itself, with its usage message
    assert r.exit_code == 2 and "is a directory" in r.output


def test_a_fifo_plan_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    r = run("verify", BAD / "base.yaml", fifo)
    assert r.exit_code == 2 and "not a regular file" in r.output


@pytest.mark.parametrize("value, fragment", [
    ("horizon_h=.inf", "horizon_h"), ("horizon_h=.nan", "horizon_h"), ("horizon_h=1.0e300", "horizon_h"),
    ("training_jobs.0.chips=true", "chips"), ("training_jobs.0.duration_h=1.0e-300", "duration_h"),
    ("solver.workers=100000", "solver.workers"), ("training_jobs.0.count=10000000", "count"),
    ("topology.overlay.tariffs.east.price_cny_per_kwh=-1", "topology.overlay"),
    ("catalog.overrides.gpu.tdp_w=.inf", "catalog.overrides"),
])
def test_set_is_checked_like_the_file(value, fragment):
    for command in ("validate", "solve"):
        r = run(command, BAD / "base.yaml", "--set", value)
        assert r.exit_code == 2 and fragment in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_an_internal_error_is_one_line_exit_3_with_a_hint_and_debug_shows_the_traceback(monkeypatch):
    import planner.cli.commands.validate as validate

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(validate, "build_problem", boom)
    r = run("validate", BAD / "base.yaml")
    assert r.exit_code == 3 and len(r.output.strip().splitlines()) == 1
    assert "internal error: ZeroDivisionError: a bug" in r.output and "report" in r.output
    r = run("--debug", "validate", BAD / "base.yaml")
    assert r.exit_code == 3 and "Traceback" in r.output


def test_bad_workers_on_the_command_line_is_bad_input():
    r = run("solve", BAD / "base.yaml", "--workers", "100000")
    assert r.exit_code == 2
