"""Reading a spec's bytes and YAML safely: every hostile input becomes a SpecError.

A spec may come from anyone (``submit``, a deployment parameter, the API's
batch handler), so reading it must neither block, nor exhaust memory, nor
print a traceback:

- the file is ``stat``-ed first: a FIFO, a device (``/dev/zero``) or a folder
  is refused before it is opened; it is opened non-blocking and at most
  ``spec_max_bytes + 1`` bytes are read;
- PyYAML's own failures are located (``file:line:col``): characters its reader
  refuses (control characters, lone surrogates), nesting deeper than
  ``spec_max_depth`` (its composer recurses), and scalars its constructors
  cannot build (``2024-02-30``, a 4,301-digit int, ``!!bool x``, ...);
- :func:`check_values` then refuses what YAML escapes can still smuggle into a
  string (``"\\0"``, ``"\\ud800"``, ``"\\x1b"``) and non-finite floats
  (``.nan``, ``.inf``), which no manifest (JSON) can carry.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mediagen.errors import SpecError
from mediagen.spec.diagnostics import describe, field_path, locate

Loc = tuple[Any, ...]

# What no spec text may hold: C0/C1 controls except tab/LF/CR, DEL, U+FFFE/U+FFFF
# and lone surrogates (they cannot even be written as UTF-8).
BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def read_spec_file(path: Path, max_bytes: int) -> str:
    """The text of a spec file, refusing anything but a regular file of at most ``max_bytes``.

    ``FileNotFoundError`` for a missing file (the CLI says "no such file").
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:  # too long a name, a loop of links, no permission
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror or exc}") from None
    _check_regular(path, info)
    _check_size(path, info.st_size, max_bytes)
    # Non-blocking: a FIFO swapped in after the stat must not hang the reader.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path)) from None
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        _check_regular(path, os.fstat(fd))
        raw = handle.read(max_bytes + 1)
    _check_size(path, len(raw), max_bytes)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(f"{path}:{line}:{column}: not UTF-8 text (byte {exc.start})") from None


def _check_regular(path: Path, info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise SpecError(f"{path}: is a folder, not a spec file")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise SpecError(f"{path}: is {kind}, not a spec file")


def _check_size(source: Any, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise SpecError(
            f"{source}: the spec is larger than {max_bytes:,} bytes (MEDIAGEN_SPEC_MAX_BYTES); "
            "split it into several specs"
        )


def check_text_size(text: str, source: str, max_bytes: int) -> None:
    """Inline YAML text gets the same size cap as a file (counted in UTF-8 bytes)."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        _check_size(source, max_bytes + 1, max_bytes)


def check_data_size(data: Any, source: str, max_bytes: int) -> None:
    """An inline mapping (API, deployment parameter) gets the cap too, measured as JSON."""
    import json

    try:
        size = len(json.dumps(data, default=str, ensure_ascii=False).encode("utf-8", "replace"))
    except (TypeError, ValueError, RecursionError):
        raise SpecError(f"{source}: the spec is not plain data (nested too deeply?)") from None
    _check_size(source, size, max_bytes)


# --- YAML ----------------------------------------------------------------------------


class _SpecYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a depth limit and located construction errors."""

    max_depth = 32

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # The composer recurses once per level: stop long before Python's recursion limit.
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {self.max_depth} levels deep "
                    "(MEDIAGEN_SPEC_MAX_DEPTH)", self.peek_event().start_mark,
                )  # fmt: skip
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            # e.g. 2024-02-30, a 4,301-digit int, !!int abc, !!bool x, a +99:99 timezone
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = describe(value) if isinstance(value, str) else "this value"
            reason = str(exc).split(";")[0] if isinstance(exc, ValueError) else "not readable"
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown} as {node.tag.rsplit(':', 1)[-1]}: {reason}",
                node.start_mark,
            ) from None  # fmt: skip


def parse_yaml(text: str, source: str, max_depth: int) -> tuple[Any, yaml.Node | None]:
    """The data and the composed node tree (for line numbers), parsed once."""
    loader: _SpecYamlLoader | None = None
    try:
        loader = _SpecYamlLoader(text)  # the reader checks every character here
        loader.max_depth = max_depth
        root = loader.get_single_node()
        if root is None:
            return None, None
        duplicates = list(_duplicate_keys(root, (), set()))
        if duplicates:
            problems = [
                f"{source}:{key.start_mark.line + 1}:{key.start_mark.column + 1}: "
                f"{field_path(loc)}: duplicate key {loc[-1]!r} (first at line {first})"
                for loc, key, first in duplicates
            ]
            raise SpecError(f"{source}: invalid spec ({count(len(problems), 'problem')})", problems)
        return loader.construct_document(root), root
    except yaml.reader.ReaderError as exc:
        raise SpecError(_reader_message(exc, text, source)) from None
    except yaml.YAMLError as exc:
        raise SpecError(yaml_message(exc, source)) from None
    except RecursionError:  # a last line of defence: the depth limit stops this first
        raise SpecError(f"{source}: not valid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _reader_message(exc: yaml.reader.ReaderError, text: str, source: str) -> str:
    position = min(exc.position, len(text))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return (
        f"{source}:{line}:{column}: not valid YAML: character U+{exc.character:04X} is not "
        "allowed (control characters, U+FFFE/U+FFFF and lone surrogates never are)"
        if isinstance(exc.character, int)
        else f"{source}:{line}:{column}: not valid YAML: {exc.reason}"
    )


def yaml_message(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    problem = getattr(exc, "problem", None) or str(exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark is not mark:
        started = f"line {context_mark.line + 1}"
        if problem.startswith("but "):  # "expected a single document ..., but found another"
            problem = f"{context} (from {started}), {problem}"
        else:  # "expected ',' or ']' ... (while parsing a flow sequence from line 7)"
            problem = f"{problem} ({context} from {started})"
    return f"{where}: not valid YAML: {problem}"


def _duplicate_keys(
    node: yaml.Node, loc: Loc, visited: set[int]
) -> Iterator[tuple[Loc, yaml.Node, int]]:
    """``(loc, key node, first line)`` of every key given twice in one mapping.

    PyYAML silently keeps the last value of a repeated key; in a spec that is
    almost always a mistake (two ``quality:`` lines), so it is an error.
    """
    if id(node) in visited:  # an alias: already checked (and no exponential walk)
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in first:
                    yield (*loc, key), key_node, first[key]
                else:
                    first[key] = key_node.start_mark.line + 1
            yield from _duplicate_keys(value_node, (*loc, key), visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index), visited)


# --- values ----------------------------------------------------------------------------


def check_values(data: Any, source: str, root: yaml.Node | None, max_depth: int) -> None:
    """Refuse control characters, lone surrogates and NaN/infinity anywhere in ``data``."""
    problems = [
        f"{locate(source, root, loc)}: {field_path(loc)}: {message}"
        for loc, message in _bad_values(data, (), set(), max_depth)
    ]
    if problems:
        raise SpecError(f"{source}: invalid spec ({count(len(problems), 'problem')})", problems)


def _bad_values(value: Any, loc: Loc, seen: set[int], depth: int) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        match = BAD_CHARACTERS.search(value)
        if match:
            yield (
                loc,
                (
                    f"contains control character U+{ord(match.group()):04X} at position "
                    f"{match.start() + 1}; specs hold plain text only"
                ),
            )
    elif isinstance(value, float) and not math.isfinite(value):
        yield loc, f"{value!r} is not a number a manifest can hold: use a finite number"
    elif isinstance(value, dict | list):
        if id(value) in seen:  # a YAML alias: checked once (no exponential walk)
            return
        seen.add(id(value))
        if depth <= 0:
            yield loc, "nested too deeply (MEDIAGEN_SPEC_MAX_DEPTH)"
            return
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and BAD_CHARACTERS.search(key):
                yield loc, f"key {key!r} contains a control character"  # repr: escaped
                continue
            if isinstance(key, float) and not math.isfinite(key):
                yield loc, f"key {key!r} is not a finite number"
                continue
            yield from _bad_values(item, (*loc, key), seen, depth - 1)
