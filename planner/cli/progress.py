"""A live progress line for the solver, fed by CP-SAT's solution and bound callbacks."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:  # only a type here; importing the runner would load OR-Tools at start-up
    from planner.core.runner import Progress


class ProgressLine:
    """Context manager; call it with ``Progress`` reports. Silent unless stderr is a terminal."""

    def __init__(self, enabled: bool = True) -> None:
        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._live: Live | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> "ProgressLine":
        if self.enabled:
            self._live = Live(Text("solving …"), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def __call__(self, p: Progress) -> None:
        if self._live is None:
            return
        obj = "–" if p.objective_cny is None else f"{p.objective_cny:,.0f}"
        bound = "–" if p.bound_cny is None else f"{p.bound_cny:,.0f}"
        gap = "–" if p.gap is None else f"{100 * p.gap:.2f} %"
        with self._lock:
            self._live.update(Text(f"solving  {p.elapsed_s:6.1f} s   best {obj} CNY   bound {bound} CNY   gap {gap}"))
