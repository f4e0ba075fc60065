"""The HTML report: self-contained, escaped, and rendered by real headless Chromium.

The browser check loads the page from a file with name resolution switched
off, then asserts: no console output (errors, warnings or logs), no network
request made by the page (from Chromium's net log), every chart drawn as SVG,
and a screenshot that is not blank.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.viz.report import render_report, write_report
from plan_fixtures import HOSTILE_NAME, HOSTILE_SITE, example, hostile

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
         "--window-size=1280,1800", "--virtual-time-budget=15000", "--hide-scrollbars"]


def _browse(pages: dict[str, Path], tmp: Path) -> dict[str, tuple[str, str, Path, dict]]:
    """Load each page in its own headless Chromium, in parallel: name → (DOM, stderr log, screenshot, net log)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    runs = {}
    for name, page in pages.items():
        shot, netlog, dom, log = (tmp / f"{name}.png", tmp / f"{name}.netlog.json", tmp / f"{name}.dom.html",
                                  tmp / f"{name}.log")
        with dom.open("w") as out, log.open("w") as err:
            proc = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp / (name + '-profile')}",
                                     f"--screenshot={shot}", f"--log-net-log={netlog}", "--dump-dom",
                                     page.resolve().as_uri()], stdout=out, stderr=err)
        runs[name] = (proc, dom, log, shot, netlog)
    out = {}
    for name, (proc, dom, log, shot, netlog) in runs.items():
        assert proc.wait(timeout=120) == 0, log.read_text()[-2000:]
        out[name] = (dom.read_text(encoding="utf-8"), log.read_text(), shot, json.loads(netlog.read_text()))
    return out


@pytest.fixture(scope="module")
def browsed(tmp_path_factory) -> dict[str, tuple[str, str, Path, dict]]:
    """The example's report and the hostile plan's report, rendered by Chromium."""
    tmp = tmp_path_factory.mktemp("browser")
    pages = {"example": write_report(example(), tmp / "example.html"),
             "hostile": write_report(hostile(), tmp / "hostile.html")}
    return _browse(pages, tmp)


def _page_requests(netlog: dict) -> list[str]:
    """URLs the page itself asked for (Chromium's own services use another isolation key)."""
    types = {v: k for k, v in netlog["constants"]["logEventTypes"].items()}
    urls = []
    for event in netlog["events"]:
        params = event.get("params") or {}
        from_page = "file://" in str(params.get("network_isolation_key"))
        if types.get(event["type"]) == "URL_REQUEST_START_JOB" and from_page:
            if not str(params.get("url", "")).startswith(("file:", "data:", "blob:")):
                urls.append(params["url"])
    return urls


def _check_page(rendered: tuple[str, str, Path, dict], figures: int) -> str:
    dom, log, shot, netlog = rendered
    console = [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == [], "console output:\n" + "\n".join(console)
    assert _page_requests(netlog) == []
    plots = dom.split('<div class="plot">')[1:]
    assert len(plots) == figures
    for i, chunk in enumerate(plots):
        assert 'class="main-svg"' in chunk, f"chart {i} did not render"
    from PIL import Image  # the test extra installs pillow
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        width, height = rgb.size
    not_white = sum(n for n, c in colours if sum(c) < 720)
    assert (width, height) == (1280, 1800)
    assert len(colours) > 200, "screenshot has almost no colours"
    assert not_white > 0.03 * width * height, "screenshot is nearly blank"
    return dom


def test_report_renders_in_chromium(browsed) -> None:
    dom = _check_page(browsed["example"], figures=6)  # map, 2 cost, utilisation, latency, Gantt
    assert "east-west-small" in dom and "Plan report" in dom


def test_hostile_names_are_escaped(browsed) -> None:
    r = hostile()
    text = render_report(r)
    for raw in (HOSTILE_SITE, HOSTILE_NAME, "job<img src=x onerror=alert(1)>", "chat</script>", "gpu<i>"):
        assert raw not in text
    assert "&lt;script&gt;alert(&quot;scenario&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert "job&lt;img src=x onerror=alert(1)&gt;" in text  # in the placements table
    scripts = len(re.findall(r"<script\b", text, flags=re.I))
    dom = _check_page(browsed["hostile"], figures=6)
    assert len(re.findall(r"<script\b", dom, flags=re.I)) == scripts  # nothing injected a script element
    assert "<img src=\"x\"" not in dom and "<b>bold</b>" not in dom


def test_report_is_self_contained() -> None:
    text = render_report(example())
    assert re.search(r"<script[^>]*\bsrc=", text) is None  # plotly.js inline, nothing loaded from elsewhere
    assert len(text) > 3_000_000 and text.count("Plotly.newPlot") == 6


def test_report_command_writes_html_and_exports(tmp_path) -> None:
    plan = tmp_path / "plan.json"
    example().to_json(plan)
    out, export_dir = tmp_path / "r.html", tmp_path / "tables"
    res = CliRunner().invoke(main, ["report", str(plan), "-o", str(out), "--export", str(export_dir)])
    assert res.exit_code == 0, res.output
    assert "report written" in res.output and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (export_dir / "cost_by_site.parquet").exists() and (export_dir / "placements.csv").exists()


@pytest.mark.parametrize("content, message", [(None, "file not found"), ("{", "not valid JSON"),  # the shared plan reader
                                              ('{"scenario": "x"}', "not a plan")])
def test_report_command_bad_plans_exit_2(tmp_path, content, message) -> None:
    plan = tmp_path / "plan.json"
    if content is not None:
        plan.write_text(content)
    res = CliRunner().invoke(main, ["report", str(plan), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and message in res.output
