"""JSON Schemas (draft 2020-12) for every workspace YAML file, and errors that name a line.

Why packaged schemas: the rules travel with the code that relies on them (they ship inside the
wheel under ``fspatch/schemas``; ``fspatch init`` copies them into a workspace for editors).
The workspace's own ``schemas/`` copies are never read for validation, so an edited copy cannot
loosen the checks.

Why line numbers: a schema error is only useful if it says where.  ruamel's round-trip containers
carry ``.lc`` line info; each error's ``absolute_path`` is walked down the data to the deepest
key or item that has a line (a missing key points at its parent mapping, an unexpected key at
itself).  Plain dicts have no line info and give ``None``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from fspatch.errors import InputError

__all__ = ["SCHEMA_NAMES", "iter_errors", "load_schema", "schema_text", "validate"]

#: Every schema fspatch ships, one per YAML file of a workspace (DESIGN §2).
SCHEMA_NAMES: tuple[str, ...] = ("diff", "history", "layer", "lock", "pending", "vendor")

_MAX_MESSAGE = 200

#: What the schemas' regular expressions mean, in words; an unknown pattern is shown as is.
_PATTERN_WORDS = {
    "^[0-9a-f]{40}$": "must be a full commit id: 40 lowercase hex digits",
    "^[0-9a-f]{64}$": "must be a SHA-256: 64 lowercase hex digits",
    "^[a-z0-9_]+$": "must be lowercase letters, digits and '_' (a backend name like llama_cpp)",
    "^\\S(.*\\S)?$": "must not be empty nor start or end with blanks",
    "^[A-Za-z0-9][A-Za-z0-9_-]*$": ("must be letters, digits, '_' and '-', starting with a letter or digit"),
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": ("must be letters, digits, '_', '.' and '-', starting with a letter or digit"),
    "^(?!-)(?!ext::)(?!fd::)[^\\x00-\\x1f\\x7f]+$": (
        "must be a path or URL that neither starts with '-' nor uses the ext:: or fd:: transport"
    ),
    "^(?!-)[^\\x00-\\x20~^:?*\\[\\\\\\x7f]+$": "must be a valid git tag or branch name",
    "^(?![/\\\\])(?![A-Za-z]:)(?!(.*[/\\\\])?\\.\\.?([/\\\\]|$))[^\\x00-\\x1f\\x7f]+$": (
        "must be a relative path inside the workspace (no '.' or '..' parts, not absolute)"
    ),
}


def schema_text(name: str) -> str:
    """The packaged schema file's exact text (``init`` copies it byte for byte)."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"no packaged schema {name!r} (known: {', '.join(SCHEMA_NAMES)})")
    beside = Path(__file__).resolve().parent.parent / "schemas" / f"{name}.schema.json"
    if beside.is_file():  # an installed or editable package: a plain file (importlib.resources costs ~4 ms)
        return beside.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("fspatch").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """Read the packaged schema ``fspatch/schemas/<name>.schema.json`` (a fresh dict each call)."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema


@cache
def _validator(name: str) -> Any:
    """One compiled validator per schema, built on first use (jsonschema is imported lazily)."""
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def iter_errors(data: Any, name: str) -> list[tuple[int | None, str]]:
    """Every schema violation of ``data`` as ``(1-based line or None, message)``, sorted by line.

    Why a list and not a generator: ``check`` reports all of them and sorts anyway.
    """
    found: list[tuple[int | None, str]] = []
    for error in _validator(name).iter_errors(data):
        found.extend(_describe(data, error))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda item: (item[0] is None, item[0] or 0))


def _ok_marker(name: str, text: bytes) -> Path | None:
    """Where a 'these bytes passed this schema' marker lives, or None when caching is off."""
    if os.environ.get("FSPATCH_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(schema_text(name).encode() + b"\0" + text).hexdigest()
    return Path(base) / "fspatch" / "schema-ok" / digest


def errors_cached(data: Any, name: str, key: bytes) -> list[tuple[int | None, str]]:
    """``iter_errors``, skipped (no errors) when data with this key already passed this schema."""
    marker = _ok_marker(name, key)
    if marker is not None and marker.exists():
        return []
    errors = iter_errors(data, name)
    if not errors and marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass
    return errors


def validate_cached(data: Any, name: str, source_path: str, text: bytes) -> None:
    """``validate``, skipped when exactly these bytes already passed exactly this schema.

    Why: importing jsonschema costs ~100 ms, more than a quick verb's whole work, and the
    lock is read by every verb.  The key is a SHA-256 of the schema and the file's bytes,
    so any change to either validates again; ``FSPATCH_NO_CACHE=1`` turns the cache off.
    The marker is an empty file under ``$XDG_CACHE_HOME/fspatch`` (never in the workspace).
    """
    marker = _ok_marker(name, text)
    if marker is not None and marker.exists():
        return
    validate(data, name, source_path)
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # a read-only home only costs speed


def validate(data: Any, name: str, source_path: str) -> None:
    """Raise an :class:`InputError` for the first violation (by line) of schema ``name``."""
    errors = iter_errors(data, name)
    if errors:
        line, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(message + more, path=source_path, line=line)


# --------------------------------------------------------------------------- locating errors


def _key_line(mapping: Any, key: Any) -> int | None:
    """1-based line of ``key`` in a ruamel mapping, or ``None`` without line info."""
    lc = getattr(mapping, "lc", None)
    try:
        pos = lc.key(key) if lc is not None else None
    except (KeyError, IndexError, TypeError):
        return None
    return int(pos[0]) + 1 if pos else None


def _item_line(seq: Any, index: int) -> int | None:
    """1-based line of item ``index`` in a ruamel sequence, or ``None`` without line info."""
    lc = getattr(seq, "lc", None)
    try:
        pos = lc.item(index) if lc is not None else None
    except (KeyError, IndexError, TypeError):
        return None
    return int(pos[0]) + 1 if pos else None


def _own_line(node: Any) -> int | None:
    """1-based line where a ruamel container starts (the top-level mapping has no parent key)."""
    lc = getattr(node, "lc", None)
    line = getattr(lc, "line", None) if lc is not None else None
    return int(line) + 1 if line is not None else None


def _walk(data: Any, path: Sequence[Any]) -> tuple[Any, int | None]:
    """Follow ``path`` down ``data``; return the node reached and the deepest line on the way."""
    node = data
    line = _own_line(data)
    for elem in path:
        if isinstance(node, dict) and elem in node:
            line = _key_line(node, elem) or line
            node = node[elem]
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            line = _item_line(node, elem) or line
            node = node[elem]
        else:
            break
    return node, line


def _where(path: Iterable[Any]) -> str:
    """``backends.vllm.commit`` / ``task[1]``: the dotted location of an instance, for messages."""
    out = ""
    for elem in path:
        out += f"[{elem}]" if isinstance(elem, int) else (f".{elem}" if out else str(elem))
    return out


def _short(value: Any) -> str:
    """A value as a message shows it: a quoted string or a compact repr, cut to a sane length."""
    if isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _yaml_type(value: Any) -> str:
    """The YAML word for the type a value was read as."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty (null)"
    return f"a {type(value).__name__}"


_TYPE_WORDS = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def _describe(data: Any, error: Any) -> list[tuple[int | None, str]]:
    """Turn one jsonschema error into located, readable messages (one per unexpected key)."""
    path = list(error.absolute_path)
    node, line = _walk(data, path)
    where = _where(path)
    prefix = f"{where}: " if where else ""
    kind = error.validator

    if kind == "additionalProperties" and isinstance(node, dict) and error.validator_value is False:
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extras = [k for k in node if k not in allowed and not any(p.search(str(k)) for p in patterns)]
        known = ", ".join(sorted(allowed)) or "none"
        return [
            (
                _key_line(node, key) or line,
                f"{prefix}unexpected key {str(key)!r} (allowed: {known})",
            )
            for key in extras
        ] or [(line, prefix + _clip(error.message))]
    if "propertyNames" in list(error.absolute_schema_path) and isinstance(node, dict):
        # propertyNames errors carry no instance path: the instance is the key itself.
        key = error.instance
        key_line = _key_line(node, key)
        return [(key_line or line, f"{prefix}key {_rule(error)}")]
    if kind == "required":
        missing = error.message.split(" is a required property")[0]
        return [(line, f"{prefix}missing required key {missing}")]
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        want = " or ".join(_TYPE_WORDS.get(n, n) for n in names)
        msg = f"{prefix}expected {want}, got {_yaml_type(error.instance)} {_short(error.instance)}"
        if "string" in names and not isinstance(error.instance, (dict, list, type(None))):
            msg += " (quote it)"
        return [(line, msg)]
    return [(line, prefix + _rule(error))]


def _rule(error: Any) -> str:
    """A readable statement of the rule an instance broke."""
    kind = error.validator
    value = error.validator_value
    inst = error.instance
    if kind == "pattern":
        return f"{_short(inst)} {_PATTERN_WORDS.get(value, f'does not match {value}')}"
    if kind == "enum":
        return f"{_short(inst)} is not one of {', '.join(map(str, value))}"
    if kind == "const":
        return f"must be {value!r}, not {_short(inst)}"
    if kind == "minItems" and value == 1:
        return "must not be empty"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "minLength" and value == 1:
        return "must not be empty"
    if kind == "minProperties" and value == 1:
        return "must not be empty"
    if kind == "maxProperties" and value == 1:
        return f"only one of {', '.join(map(repr, inst))} may be given"
    return _clip(error.message)


def _clip(message: str) -> str:
    """Keep one error to one readable line."""
    message = " ".join(message.split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
