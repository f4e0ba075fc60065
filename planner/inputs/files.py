"""Reading input files so that no file can crash or hang the planner.

Every scenario, catalog, topology, model library, demand profile and plan file is read
through ``read_text`` (and YAML through ``read_yaml``/``parse_yaml``):

* only regular files are opened: a FIFO, a device or a directory would block or mislead,
  so it is refused before ``open``;
* a file larger than ``MAX_FILE_BYTES`` is refused before it is read;
* text must be UTF-8 (a leading byte-order mark is dropped); a bad byte is reported with
  its line and column;
* YAML is parsed with libyaml's safe loader where it is installed (``yaml.CSafeLoader``,
  about 10× faster than the pure-Python one) and the pure-Python safe loader otherwise;
  nothing in a file is ever executed;
* a key given twice in one mapping is an error (YAML's last-wins would silently drop a site
  or a job list);
* nesting deeper than ``MAX_DEPTH`` is refused before any object is built, so neither the
  C parser nor Python's recursion can overflow;
* every number must be finite: ``.inf`` and ``.nan`` are refused with the path to them.

Each refusal is one ``InputError`` naming the file, the place and the fix.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from planner.errors import InputError

#: the largest input file read, in bytes (a 20,000-job scenario is about 3 MB)
MAX_FILE_BYTES = 256 * 1024 * 1024
#: the deepest nesting of mappings and lists accepted (scenarios nest about 6 deep)
MAX_DEPTH = 64

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LIBYAML = _BaseLoader is not yaml.SafeLoader


class UniqueKeyLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader (libyaml's where available) that refuses a key given twice in one mapping."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key (a list or mapping)",
                key_node.start_mark) from None
        if key in seen:
            raise DuplicateKeyError(key, seen[key], key_node.start_mark)
        seen[key] = key_node.start_mark
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: _map(loader, node))


def _map(loader: Any, node: yaml.MappingNode) -> Any:
    data: dict[Any, Any] = {}
    yield data
    data.update(_construct_mapping(loader, node))


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, first: Any, mark: Any) -> None:
        self.key, self.first, self.mark = key, first, mark
        super().__init__(f"key {key!r} is given twice")


def read_text(path: str | Path, *, what: str = "file", fix: str | None = None) -> str:
    """The UTF-8 text of a regular file, or one ``InputError`` saying why it cannot be read."""
    path = Path(path)
    name = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError("file not found", file=name, fix=fix or "check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=name, fix=fix) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"is a directory, not a {what}", file=name, fix=fix or "give a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"is not a regular file (a pipe, socket or device), so it is not read as a {what}",
                         file=name, fix="save the input to a file and pass its path")
    if st.st_size > MAX_FILE_BYTES:
        raise InputError(f"is {st.st_size / 2**20:,.0f} MiB, above the {MAX_FILE_BYTES / 2**20:,.0f} MiB limit "
                         f"for a {what}", file=name, fix="split or aggregate the input")
    try:
        # O_NONBLOCK: a file swapped for a FIFO between stat and open still cannot block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError(f"is not a regular file, so it is not read as a {what}", file=name,
                                 fix="save the input to a file and pass its path")
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=name, fix=fix) from None
    return decode_utf8(raw, name, what=what)


def decode_utf8(raw: bytes, file: str, *, what: str = "file") -> str:
    """Decode UTF-8 (dropping a byte-order mark), naming the line and column of the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        binary = b"\x00" in raw[:4096]
        detail = "is a binary file, not" if binary else f"is not UTF-8 text (byte 0x{raw[exc.start]:02x})"
        raise InputError(f"{detail} {'a ' + what if binary else ''}".strip(), file=file,
                         field=f"line {line}, column {column}",
                         fix="save the file as UTF-8 text" if not binary else f"pass a {what}") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise InputError(f"is a binary file (it holds NUL bytes), not a {what}", file=file, field=f"line {line}",
                         fix=f"pass a {what}")
    return text.removeprefix("\ufeff")


def read_yaml(path: str | Path, *, what: str = "YAML file", fix: str | None = None) -> Any:
    """Read a YAML file safely (see the module docstring)."""
    return parse_yaml(read_text(path, what=what, fix=fix), file=str(path))


def parse_yaml(text: str, *, file: str = "<yaml>", field: str | None = None) -> Any:
    """Parse YAML text with the unique-key safe loader, the depth limit and the finite-number check."""
    try:
        _check_depth(text)
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKeyError as exc:
        raise InputError(f"key '{exc.key}' is given twice (first at line {exc.first.line + 1}); YAML would keep "
                         "only the last one", file=file, field=_at(field, exc.mark),
                         fix="merge the two entries or rename one") from None
    except _TooDeep as exc:
        raise InputError(f"nesting is deeper than {MAX_DEPTH} levels", file=file, field=_at(field, exc.mark),
                         fix="flatten the file; scenarios nest about 6 levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"YAML syntax error: {problem}", file=file, field=_at(field, mark),
                         fix="check indentation, colons and quotes at that line") from None
    except RecursionError:  # belt and braces: _check_depth should have caught it
        raise InputError(f"nesting is deeper than {MAX_DEPTH} levels", file=file, field=field,
                         fix="flatten the file") from None
    check_finite(data, file=file, prefix=field or "")
    return data


def _at(field: str | None, mark: Any) -> str | None:
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
    if field and where:
        return f"{field} ({where})"
    return field or where


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: Any) -> None:
        self.mark = mark
        super().__init__("too deep")


_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str) -> None:
    """Walk the parser's events (no recursion, no objects built) and refuse deep nesting."""
    if text.count("[") + text.count("{") + text.count("\n") < MAX_DEPTH:  # too short to nest that deep
        return
    depth = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise _TooDeep(event.start_mark)
        elif isinstance(event, _CLOSE):
            depth -= 1


def check_finite(data: Any, *, file: str, prefix: str = "") -> None:
    """Refuse any infinite or NaN number, and any integer beyond ±2**63, anywhere in parsed data."""
    stack: list[tuple[str, Any]] = [(prefix, data)]
    seen: set[int] = set()  # YAML aliases share objects: visit each once, so an alias bomb stays cheap
    while stack:
        where, node = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise InputError(f"{node} is not a finite number", file=file, field=where or None,
                             fix="give a finite number within the field's bounds (planner schema)")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2**63:
            raise InputError(f"{node} is beyond any realistic figure (|x| ≥ 2^63)", file=file, field=where or None,
                             fix="give a number within the field's bounds (planner schema)")
