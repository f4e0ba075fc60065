"""Kubernetes names for plan objects: valid, unique, and traceable to the plan's name.

Object names are DNS-1123 labels: at most 63 lowercase alphanumerics or '-', starting
and ending with an alphanumeric. A plan name that already is one is kept as is. Any
other is lowercased, every run of other characters becomes '-', it is trimmed to fit,
and when that collides with a name already taken a short hash of the original is
appended. The original goes in the ``planner.io/original-name`` annotation, so the
mapping can be read back from the objects.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_NAME = 63
ORIGINAL_NAME = "planner.io/original-name"
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")


def is_dns_label(name: str) -> bool:
    return bool(DNS_LABEL.match(name))


def sanitize(name: str, max_len: int = MAX_NAME) -> str:
    """The nearest DNS-1123 label: lowercase, other characters as '-', trimmed to ``max_len``."""
    out = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:max_len].rstrip("-")
    return out or "x"


def _hash(name: str, n: int) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:n]


class Namer:
    """Hands out unique names in one scope (one kind in one namespace)."""

    def __init__(self, max_len: int = MAX_NAME) -> None:
        self.max_len = max_len
        self.by_original: dict[str, str] = {}
        self.taken: set[str] = set()

    def reserve(self, originals: Iterable[str]) -> None:
        """Give every already-valid name to itself first, so a cleaned-up name never takes it."""
        for original in originals:
            if original not in self.by_original and is_dns_label(original) and len(original) <= self.max_len:
                self.by_original[original] = original
                self.taken.add(original)

    def name(self, original: str) -> str:
        """The Kubernetes name for ``original`` (the same one on every call)."""
        if original in self.by_original:
            return self.by_original[original]
        candidate = original if is_dns_label(original) and len(original) <= self.max_len else sanitize(original,
                                                                                                       self.max_len)
        n = 6
        while candidate in self.taken:
            suffix = _hash(original, n)
            candidate = f"{sanitize(original, self.max_len - n - 1)}-{suffix}"
            n += 2
        self.by_original[original] = candidate
        self.taken.add(candidate)
        return candidate

    @staticmethod
    def annotations(original: str, name: str) -> dict[str, str]:
        """The original-name annotation when the Kubernetes name differs from the plan's."""
        return {} if original == name else {ORIGINAL_NAME: original}


def label_value(value: str) -> str:
    """A valid label value (<= 63 characters of alphanumerics, '-', '_', '.'), or a hashed stand-in."""
    if _LABEL_VALUE.match(value):
        return value
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-_.")[:56].rstrip("-_.")
    return f"{cleaned}-{_hash(value, 6)}" if cleaned else _hash(value, 12)
