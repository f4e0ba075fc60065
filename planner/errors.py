"""Errors a planner can act on.

Every bad-input error names the file, the field and the fix. The CLI turns an
``InputError`` into one line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(ValueError):
    """Bad user input: a scenario, catalog, topology or CLI argument."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 fix: str | None = None) -> None:
        self.file = file
        self.field = field
        self.fix = fix
        self.detail = message
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}"
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        text = f"{where}: {self.detail}" if where else self.detail
        if self.fix:
            text = f"{text} (fix: {self.fix})"
        return _one_line(text)


class UnknownNameError(InputError, KeyError):
    """A name that is not in the catalog, topology or model library."""

    def __init__(self, kind: str, name: str, known: Iterable[str], *, file: str | None = None,
                 field: str | None = None, hint: str | None = None) -> None:
        """``hint`` replaces the spelling suggestion when the name is known as another kind
        (a demand city written where a site belongs, a system where an accelerator belongs)."""
        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        fix = hint or did_you_mean(name, known)
        if fix is None:
            shown = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
            fix = f"use one of: {shown}" if known else None
        super().__init__(f"unknown {kind} '{name}'", file=file, field=field, fix=fix)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.format()


def _one_line(text: str) -> str:
    """Escape control characters (from names in a file) so a message is always one printable line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """Return "did you mean 'x'?" for the closest known name, or None."""
    known = list(known)
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return f"did you mean '{lowered[name.lower()]}'?"
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean '{lowered[matches[0]]}'?" if matches else None
