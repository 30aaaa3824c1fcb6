"""Turn Pydantic validation errors into lines a person can act on.

Each problem names the file, the line and column of the offending YAML node,
and the field path (``images[2].size``), e.g.::

    specs/goals.yaml:14:11: images[2].quality: 'ultra' is not one of: fast, standard, high

Pydantic's own messages are rewritten where they read poorly for a YAML
author ("Input should be a valid dictionary or instance of BrandColor" becomes
"expected a mapping (key: value), got a number"), enum errors list the
allowed values with a did-you-mean, and union branches are never reported one
line per branch.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

SLUG_RE = r"^[a-z0-9][a-z0-9._-]{0,127}$"
HEX_RE = r"^#[0-9A-Fa-f]{6}$"
SLUG_RULES = "lowercase letters, digits, '-', '_', '.'; starts with a letter or digit"

# Human descriptions of the regex patterns used in the spec models.
_PATTERN_HINTS = {
    SLUG_RE: f"is not a slug ({SLUG_RULES})",
    HEX_RE: "is not a hex colour like '#0A7B83'",
}

# Tags Pydantic puts in ``loc`` for union branches and dict keys. A loc part is
# only dropped when it is not a real key of the YAML mapping at that point.
_BRANCH_TAGS = {
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "none",
    "CustomSize",
    "SizePreset",
    "FocalName",
    "FocalXY",
    "BrandColor",
    "[key]",
}


Row = tuple[tuple[Any, ...], str, str, str]  # (loc, file:line:col, message, kind)


def field_path(loc: tuple[Any, ...]) -> str:
    """``("images", 2, "size")`` → ``images[2].size``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(spec)"


def _mapping_value(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _node_for(root: yaml.Node | None, loc: tuple[Any, ...], want_key: bool) -> yaml.Node | None:
    """Walk the composed YAML tree along ``loc``; the deepest node reached.

    A field that is missing from the YAML stops the walk at its parent mapping,
    so "required field is missing" points at the mapping that lacks it. A
    block mapping or list that is the value of a key is reported at its key
    (``matrix:``), not at its first entry on the next line.
    """
    node = root
    key: yaml.Node | None = None  # the key node whose value ``node`` is
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = _mapping_value(node, part)
            if found is None:
                break
            if want_key and i == len(loc) - 1:
                return found[0]
            key, node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            key, node = None, node.value[part]
        else:
            break  # a scalar shorthand (e.g. size: 800x600): report the scalar itself
    if key is not None and isinstance(node, yaml.CollectionNode) and not node.flow_style:
        return key
    return node


def locate(
    source: str, root: yaml.Node | None, loc: tuple[Any, ...], want_key: bool = False
) -> str:
    """``file:line:col`` of the node at ``loc`` (just ``file`` without a tree)."""
    node = _node_for(root, loc, want_key)
    if node is None:
        return source
    mark = node.start_mark
    return f"{source}:{mark.line + 1}:{mark.column + 1}"


def clean_loc(loc: tuple[Any, ...], root: yaml.Node | None = None) -> tuple[Any, ...]:
    """Drop Pydantic's union-branch and dict-key tags so the path reads like the YAML."""
    out: list[Any] = []
    node = root
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            node = (
                node.value[part]
                if isinstance(node, yaml.SequenceNode) and part < len(node.value)
                else None
            )
            continue
        text = str(part)
        found = _mapping_value(node, text) if isinstance(node, yaml.MappingNode) else None
        if found is not None:  # a real key in the YAML, whatever its name
            out.append(text)
            node = found[1]
        elif not _is_branch_tag(text):
            out.append(text)
            node = None
    return tuple(out)


def _is_branch_tag(part: str) -> bool:
    return part in _BRANCH_TAGS or part.startswith(
        ("function-", "literal[", "enum[", "constrained-", "list[", "dict[", "tagged-union[")
    )


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the mapping that holds the last element of ``loc``."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = _first_model(field.annotation)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def describe(value: Any) -> str:
    """A short description of a YAML value for "expected X, got Y" messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when ``word`` is close to one of ``choices``, else ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _choices(expected: str) -> list[str]:
    # Pydantic's ctx["expected"] reads "'fast', 'standard' or 'high'".
    return re.findall(r"'([^']*)'", expected)


def error_message(error: dict[str, Any]) -> str:
    """The readable message of one Pydantic error (without location or path)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    msg: str = error["msg"]
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value error|Assertion failed), ", "", msg)
    if kind == "missing":
        return "required field is missing"
    if kind in ("enum", "literal_error"):
        allowed = _choices(str(ctx.get("expected", "")))
        hint = did_you_mean(value, allowed)
        return f"{describe(value)} is not one of: {', '.join(allowed)}{hint}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return f"{describe(value)} {_PATTERN_HINTS.get(pattern, f'does not match {pattern}')}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        word = "minimum" if kind == "greater_than_equal" else "must be more than"
        return f"{value!r} is too small ({word} {bound})"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        word = "maximum" if kind == "less_than_equal" else "must be less than"
        return f"{value!r} is too large ({word} {bound})"
    if kind == "too_short":
        need = ctx.get("min_length", 1)
        got = ctx.get("actual_length", 0)
        return f"needs at least {need} item{'s' if need != 1 else ''}, got {got}"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} items, at most {ctx.get('max_length')} allowed"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        length = len(value) if isinstance(value, str) else "?"
        return f"is too long ({length} characters, at most {ctx.get('max_length')})"
    if kind == "string_type":
        return f"expected text, got {describe(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe(value)}"
    if kind == "finite_number":
        return f"{describe(value)} is not a finite number (NaN and infinity cannot be published)"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe(value)}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list, got {describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (key: value), got {describe(value)}"
    if kind == "invalid_key":
        return f"key {value!r} must be text"
    return msg


def format_validation_error(
    exc: ValidationError, source: str, root: yaml.Node | None, model: type[BaseModel]
) -> list[str]:
    """One line per distinct problem, duplicates removed. ``model``: the model validated
    (:class:`mediagen.spec.job.JobSpec` for a spec), for "did you mean" suggestions."""
    errors = exc.errors(include_url=False)
    # "unknown field 'imges'; did you mean 'images'?" already explains why
    # 'images' is missing: don't report that as a second problem.
    explained: set[tuple[Any, ...]] = set()
    rows: list[Row] = []
    for error in errors:
        loc = clean_loc(tuple(error["loc"]), root)
        if error["type"] == "extra_forbidden" and loc:
            name = str(loc[-1])
            allowed = _allowed_fields(model, loc)
            close = difflib.get_close_matches(name, allowed, n=1)
            if close:
                explained.add((*loc[:-1], close[0]))
            hint = f"; did you mean {close[0]!r}?" if close else ""
            rows.append(
                (
                    loc,
                    locate(source, root, loc, want_key=True),
                    f"unknown field {name!r}{hint}",
                    "extra",
                )
            )
        elif error["type"] == "invalid_key":
            loc = loc[:-1]
            rows.append((loc, locate(source, root, loc), error_message(error), "key"))
        else:
            kind = (
                "branch" if clean_loc(tuple(error["loc"])) != tuple(error["loc"]) else error["type"]
            )
            rows.append((loc, locate(source, root, loc), error_message(error), kind))
    rows = _merge_union_branches(rows)
    # Report in document order (Pydantic's is field-definition order); stable without a tree.
    rows.sort(key=lambda row: _position(root, row[0], row[3] == "extra"))
    problems: list[str] = []
    seen: set[str] = set()
    for loc, where, message, kind in rows:
        if kind == "missing" and loc in explained:
            continue
        line = f"{where}: {field_path(loc)}: {message}"
        if line not in seen:
            seen.add(line)
            problems.append(line)
    return problems


def _merge_union_branches(rows: list[Row]) -> list[Row]:
    """Errors of every branch of one union field → one line ("expected X or Y").

    The spec's own unions have validators that avoid this; this keeps any
    other union (now or later) from printing one line per branch.
    """
    merged: list[Row] = []
    index: dict[tuple[Any, ...], int] = {}
    for row in rows:
        loc, _, message, kind = row
        if kind == "branch" and loc in index:
            first = merged[index[loc]]
            if message not in first[2]:
                merged[index[loc]] = (first[0], first[1], f"{first[2]}; or {message}", kind)
            continue
        if kind == "branch":
            index[loc] = len(merged)
        merged.append(row)
    return merged


def _position(root: yaml.Node | None, loc: tuple[Any, ...], want_key: bool) -> tuple[int, int]:
    node = _node_for(root, loc, want_key)
    if node is None:
        return (0, 0)
    return (node.start_mark.line, node.start_mark.column)


def format_problems(
    problems: Iterable[tuple[tuple[Any, ...], str]], source: str, root: yaml.Node | None
) -> list[str]:
    """``(loc, message)`` pairs → located problem lines, as for validation errors."""
    return [
        f"{locate(source, root, loc)}: {field_path(loc)}: {message}" for loc, message in problems
    ]
