"""Fuzzing through the real command line and the file readers, overlays and catalog overrides included.

Any mutation of a valid scenario file — a field set to junk, bytes flipped in the file, an overlay or
a catalog override made up at random — either validates (exit 0) or is refused with one line
naming the file (exit 2). Never a traceback, an internal error (exit 3) or a hang.
"""

from __future__ import annotations

import copy
import os
import signal
import sys
import threading
from pathlib import Path

import yaml
from click.testing import CliRunner
from conftest import key_paths
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli import main

BAD = Path(__file__).parent / "data" / "bad"
BASE_TEXT = (BAD / "base.yaml").read_text()
BASE = yaml.safe_load(BASE_TEXT)
FUZZ = dict(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])


PATHS = [p for p in key_paths(BASE) if p[0] not in ("catalog", "topology")]
NUMBERS = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans())
JUNK = st.one_of(st.none(), NUMBERS, st.text(max_size=12),
                 st.lists(st.one_of(NUMBERS, st.text(max_size=4)), max_size=3),
                 st.dictionaries(st.text(max_size=5), NUMBERS, max_size=2))


def check(path: Path, *extra: str) -> None:
    r = CliRunner().invoke(main, ["validate", str(path), *extra])
    assert r.exit_code in (0, 2), f"exit {r.exit_code}: {r.output} {r.exception!r}"
    if r.exit_code == 2:
        message = r.output.strip()
        assert len(message.splitlines()) == 1 and message.startswith("error: "), message
        assert "Traceback" not in message


def write(tmp_path: Path, data) -> Path:
    data = copy.deepcopy(data)
    data["catalog"] = {**data.get("catalog", {}), "path": str((BAD.parent / "core" / "catalog.yaml").resolve())}
    data["topology"] = {**data.get("topology", {}), "path": str((BAD.parent / "core" / "topology.yaml").resolve())}
    path = tmp_path / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@settings(**FUZZ)
@given(st.sampled_from(PATHS), JUNK)
def test_a_field_set_to_junk_validates_or_is_refused_in_one_line(tmp_path_factory, path, junk):
    data = copy.deepcopy(BASE)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = junk
    check(write(tmp_path_factory.mktemp("f"), data))


@settings(**FUZZ)
@given(st.data())
def test_flipped_bytes_in_the_file_are_read_safely(tmp_path_factory, data):
    raw = bytearray(BASE_TEXT.replace("path: ../core", "path: " + str((BAD.parent / "core").resolve())).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("b") / "flipped.yaml"
    path.write_bytes(bytes(raw))
    check(path)


SITE_IDS = st.sampled_from(["east", "west", "metro", "north", "Eastland"])
FIGURE = st.one_of(NUMBERS, st.fixed_dictionaries({"value": NUMBERS}, optional={
    "source": st.text(max_size=6), "retrieved": st.sampled_from(["2025-01-01", "yesterday", 3]),
    "confidence": st.sampled_from(["estimate", "press", "guess"]), "method": st.text(max_size=6)}))
OVERLAY = st.fixed_dictionaries({}, optional={
    "tariffs": st.dictionaries(SITE_IDS, st.one_of(
        st.fixed_dictionaries({}, optional={"price_cny_per_kwh": FIGURE, "flat_price_cny_per_kwh": FIGURE}),
        NUMBERS), max_size=2),
    "remove_sites": st.lists(SITE_IDS, max_size=2),
    "cut_links": st.lists(st.lists(SITE_IDS, max_size=3), max_size=2),
    "add_links": st.lists(st.fixed_dictionaries({"a": SITE_IDS, "b": SITE_IDS}, optional={
        "rtt_ms": FIGURE, "bandwidth_gbps": FIGURE, "reported_ms": FIGURE,
        "reported_kind": st.sampled_from(["one_way", "round_trip", "unspecified", "sideways"])}), max_size=2),
    "add_sites": st.lists(st.fixed_dictionaries({"id": st.text(max_size=4)}, optional={
        "name": st.text(max_size=4), "province": st.text(max_size=4), "role": st.sampled_from(["east", "west", "up"]),
        "lat": NUMBERS, "lon": NUMBERS, "pue": FIGURE, "price_cny_per_kwh": FIGURE, "power_envelope_mw": FIGURE}),
        max_size=1),
    "bogus": NUMBERS,
})
OVERRIDES = st.dictionaries(st.sampled_from(["gpu", "npu", "tpu", "systems", "stack_efficiency",
                                             "server_overhead_factor"]),
                            st.one_of(FIGURE, st.dictionaries(st.sampled_from(["tdp_w", "memory_gib", "released",
                                                                               "gpu-box", "cuda", "chips"]),
                                                              st.one_of(FIGURE, st.dictionaries(
                                                                  st.sampled_from(["power_kw", "chips"]), FIGURE,
                                                                  max_size=1)), max_size=2)), max_size=2)


@settings(**FUZZ)
@given(OVERLAY)
def test_a_random_overlay_validates_or_is_refused_in_one_line(tmp_path_factory, overlay):
    data = copy.deepcopy(BASE)
    data["topology"] = {"overlay": overlay}
    check(write(tmp_path_factory.mktemp("o"), data))


@settings(**FUZZ)
@given(OVERRIDES, st.lists(st.dictionaries(st.sampled_from(["id", "name", "tdp_w", "vendor", "released"]),
                                           st.one_of(NUMBERS, st.text(max_size=4)), max_size=4), max_size=1))
def test_random_catalog_overrides_validate_or_are_refused_in_one_line(tmp_path_factory, overrides, add):
    data = copy.deepcopy(BASE)
    data["catalog"] = {"overrides": overrides, "add": add}
    check(write(tmp_path_factory.mktemp("c"), data))


@settings(**FUZZ)
@given(st.sampled_from(["horizon_h", "sites.east.power_cap_mw", "training_jobs.0.chips", "solver.workers",
                        "topology.overlay.tariffs.east.price_cny_per_kwh", "catalog.overrides.gpu.tdp_w"]),
       st.sampled_from([".inf", "-.inf", ".nan", "1.0e300", "-1", "true", "[1, 2]", "{a: 1}", "'x'", "0", "1e400"]))
def test_set_with_junk_validates_or_is_refused_in_one_line(key, value):
    check(BAD / "base.yaml", "--set", f"{key}={value}")


def test_ctrl_c_during_a_solve_keeps_the_best_plan_marks_it_interrupted_and_exits_130(tmp_path):
    """A week of 400 jobs of distinct shapes (the scale benchmark's generator) takes far longer than
    a second to prove; Ctrl-C a second in, during the two-phase start or CP-SAT."""
    plan = tmp_path / "plan.json"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from scale import random_scenario
    finally:
        sys.path.pop(0)
    example = tmp_path / "week.yaml"
    example.write_text(yaml.safe_dump(random_scenario(400, 40, 12, 10, 12, seed=1, distinct=True)))
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        r = CliRunner().invoke(main, ["solve", str(example), "-o", str(plan), "--time-limit", "60", "--quiet"])
    finally:
        timer.cancel()
    assert r.exit_code == 130, r.output
    if plan.exists():  # interrupted during the solve (not while loading): the best plan so far, marked
        import json

        data = json.loads(plan.read_text())
        assert data["solver"]["interrupted"] is True and "gap" in data["solver"]
        assert "interrupted" in r.output
