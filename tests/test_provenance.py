"""Every sourced figure a reviewer can follow: catalog, topology and workload data.

Fails on a bare-domain source, an estimate without a method, a retrieval date before
the source's publication, and a value outside its own range.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import hardware_catalog
from hardware_catalog.provenance import Confidence, Figure, audit, bare_domains
from planner.cli import main
from planner.inputs import checks, topology

WORKLOAD_DATA = Path(__file__).resolve().parents[1] / "workloads" / "data"


def _raw_figures(obj, where):
    if isinstance(obj, dict):
        if {"value", "source", "confidence"} <= set(obj):
            yield where, Figure.model_validate({k: v for k, v in obj.items() if k in Figure.model_fields})
            return
        for key, value in obj.items():
            yield from _raw_figures(value, f"{where}.{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _raw_figures(value, f"{where}[{i}]")


def every_figure():
    yield from checks.catalog_figures(hardware_catalog.load())
    yield from topology.load().figures()
    for path in sorted(WORKLOAD_DATA.glob("*.yaml")):
        yield from _raw_figures(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def test_every_figure_passes_the_audit():
    figures = [(w, f) for w, f in every_figure() if f is not None]
    assert len(figures) > 800
    problems = [f"{where}: {p}" for where, f in figures for p in audit(f)]
    assert problems == []


def test_retrieved_dates_are_honest():
    """Only pages re-read on 2026-12-01 carry that date; the rest keep their first-recorded date."""
    for where, fig in every_figure():
        if fig is None:
            continue
        assert fig.retrieved <= dt.date(2026, 12, 1), where
        if fig.retrieved == dt.date(2026, 12, 1) and fig.confidence is not Confidence.estimate:
            assert fig.rechecked is True, where


@pytest.mark.parametrize("text, bare", [
    ("as reported at https://afslaw.com and https://businesstimes.com.sg", ["afslaw.com", "businesstimes.com.sg"]),
    ("Bloomberg via japantimes.co.jp (2025-09-30)", ["japantimes.co.jp"]),
    ("https://www.japantimes.co.jp/business/2025/09/30/tech/huawei-ai-chip-nvidia-china", []),
    ("CANN Ascend910B1.ini; arXiv:2506.12708; github.com/baidu/vLLM-Kunlun", []),
    ("e993.com (Ulanqab data-centre cluster)", ["e993.com"]),
])
def test_bare_domains(text, bare):
    assert bare_domains(text) == bare


def test_audit_flags_each_problem():
    fig = Figure(value=20, source="https://afslaw.com", retrieved=dt.date(2025, 1, 1), confidence=Confidence.press,
                 range=(1, 10), published=dt.date(2025, 6, 1))
    problems = audit(fig)
    assert any("bare domain 'afslaw.com'" in p for p in problems)
    assert any("before the source was published" in p for p in problems)
    assert any("outside its own range [1, 10]" in p for p in problems)
    assert audit(fig.model_copy(update={"source": "https://www.afslaw.com/x", "range": None, "published": None})) == []


def test_catalog_checks_pass_and_list_supply():
    out = CliRunner().invoke(main, ["catalog", "checks"])
    assert out.exit_code == 0, out.output
    assert "0 impossible" in out.output.splitlines()[-1]
    assert "mlu590" in out.output and "ascend-910c" in out.output


def test_catalog_checks_exit_1_on_an_impossible_figure(monkeypatch):
    cat = hardware_catalog.load(overrides={"h20": {"tdp_w": {"value": 900, "source": "https://example.org/x",
                                                               "retrieved": "2026-12-01", "confidence": "press",
                                                               "range": [300, 500]}}})
    monkeypatch.setattr(hardware_catalog, "load", lambda *a, **k: cat)
    out = CliRunner().invoke(main, ["catalog", "checks"])
    assert out.exit_code == 1
    assert "range_excludes_value" in out.output


def _raw_dicts(obj):
    if isinstance(obj, dict):
        yield obj
        for value in obj.values():
            yield from _raw_dicts(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _raw_dicts(value)


def test_every_recorded_figure_says_whether_it_was_re_read():
    """A figure written out in a data file states rechecked: true (read on `retrieved`) or false."""
    root = Path(__file__).resolve().parents[1]
    files = [*sorted((root / "planner" / "data" / "topology").glob("*.yaml")), *sorted(WORKLOAD_DATA.glob("*.yaml")),
             root / "hardware_catalog" / "data" / "sources.yaml", root / "planner" / "data" / "profiles" / "profiles.yaml"]
    missing = []
    for path in files:
        for d in _raw_dicts(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if "retrieved" in d and "confidence" in d and "rechecked" not in d:
                missing.append(f"{path.name}: {str(d.get('source'))[:60]}")
    assert missing == []
