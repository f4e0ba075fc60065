"""The walkthrough notebook runs from top to bottom (nbclient, the ``python3`` kernel of this interpreter)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "placement.ipynb"


def test_placement_notebook_executes() -> None:
    nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat, nbclient and ipykernel")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager

    # ipykernel's python3 spec says "python", which jupyter_client replaces with sys.executable,
    # so the kernel runs this interpreter and its packages
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve() or spec.argv[0] in ("python", "python3")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit it without outputs"
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = {i: cell.outputs for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    errors = [o for outs in outputs.values() for o in outs if o.output_type == "error"]
    assert errors == []
    text = "\n".join(o.get("text", "") for outs in outputs.values() for o in outs if o.output_type == "stream")
    assert "east-west-small: optimal" in text
    plotly = [o for outs in outputs.values() for o in outs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(plotly) == 6  # two maps, cost, utilisation, latency, Gantt
    # each also as a static PNG (redrawn by matplotlib), for viewers that run no JavaScript
    import base64

    for o in plotly:
        png = base64.b64decode(o["data"]["image/png"])
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
