"""When the command started, so a time limit covers the whole command, not only the solver.

Imported first by ``planner.cli``, so the clock starts before the command's own imports; ``begin``
(called as a command is invoked) keeps that start for the process's own command, and restarts it for
commands invoked later in a long-lived process (tests, notebooks). ``remaining`` gives the solver what
is left of the limit after reading and checking the input.
"""

from __future__ import annotations

import time

_IMPORTED = time.monotonic()
#: a command invoked this long after the import is not the process's own command-line call
_SAME_CALL_S = 30.0
STARTED = _IMPORTED
_calls = 0


def begin() -> None:
    """Start the command's clock (from the import, when the process was started for this command)."""
    global STARTED, _calls
    now = time.monotonic()
    _calls += 1
    STARTED = _IMPORTED if _calls == 1 and now - _IMPORTED < _SAME_CALL_S else now


def remaining(limit_s: float) -> float:
    """Seconds left of ``limit_s`` since the command started (at least 0.01 s, so the solver can stop at once)."""
    return max(0.01, limit_s - (time.monotonic() - STARTED))
