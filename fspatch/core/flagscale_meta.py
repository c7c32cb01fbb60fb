"""FlagScale's ``diff.yaml``, read as FlagScale writes it: leniently, with warnings naming file:line.

Why lenient: the real files (``hardware/<Device>/<Backend>/diff.yaml`` at FlagScale main) key
their maps by FlagScale's spellings (``Megatron-LM``, ``FlagScale``), leave ``contact: ''``,
write versions as ``main ``, ``v0.8.0`` or ``0.8.0``, and once (``5cb1800d1``) a task
``llama3``.  FlagScale's own tools accept all of that, so an importer that refuses it cannot
migrate FlagScale.  fspatch's strict ``schemas/diff.schema.json`` stays the contract for what
fspatch *writes*; this reader is for what FlagScale has *written*.

What is a warning and what is an error (an error means the metadata cannot be used at all, and
the directory is listed as not imported, with the reason):

* errors: not UTF-8, not YAML, the top level not a mapping;
* warnings (the value is kept as spelled, so it can be exported again): unknown keys; a
  ``backends_commit`` value that is not 40 hex digits (it is then unusable as a base and left
  out of :attr:`DiffMeta.backends_commit`, but kept in :attr:`DiffMeta.raw_backends_commit`);
  leading/trailing blanks; a version with a ``v`` prefix or that is not a version at all
  (``main``); a ``commit`` that is not 40 hex digits; a ``device_type`` other than the
  directory's name; a task outside train / inference / post_train; a value of the wrong type.

``contact: ''`` is allowed without a warning (15 of the 26 real files have it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fspatch.core.workspace import TASKS
from fspatch.errors import InputError

__all__ = ["DiffMeta", "MetaWarning", "read_diff_yaml"]

KEYS = ("backends_commit", "backends_version", "commit", "contact", "device_type", "models", "task")
_HEX40 = re.compile(r"[0-9a-f]{40}")
_VERSION = re.compile(r"\d+(\.\d+)*([._+-]?[0-9A-Za-z]+)*")


@dataclass(frozen=True)
class MetaWarning:
    """One thing FlagScale's tools accept and fspatch's schema would not: file, 1-based line, message."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass(frozen=True)
class DiffMeta:
    """The fields of one ``diff.yaml``, as spelled (keys of the maps are FlagScale's backend names).

    ``tasks`` holds the known tasks in the order written; ``other_tasks`` the rest, as written.
    ``backends_commit`` holds only usable (40-hex) commits; ``raw_backends_commit`` every value as
    written (strings), for a faithful export.
    """

    path: str
    backends_commit: dict[str, str]
    raw_backends_commit: dict[str, str]
    backends_version: dict[str, str]
    commit: str | None
    contact: str
    device_type: str | None
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    other_tasks: tuple[str, ...]
    warnings: tuple[MetaWarning, ...] = field(default=())


def _line(node: Any, key: Any) -> int | None:
    """1-based line of a mapping key (or sequence index) in a ruamel node, when it knows."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        pos = lc.key(key) if isinstance(key, str) else lc.item(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return int(pos[0]) + 1


def _blank_issue(value: str) -> str | None:
    if value != value.strip():
        return "has leading or trailing blanks"
    return None


def read_diff_yaml(raw: bytes, display: str, *, device_dir: str | None = None) -> DiffMeta:
    """Read one FlagScale ``diff.yaml``; raises :class:`InputError` only when it is not usable YAML.

    ``device_dir`` is the ``hardware/<Device>`` directory name the file sits in: a different
    ``device_type`` inside is a warning (FlagScale's ``unpatch`` goes by the directory, fspatch's
    vendor.yaml takes the file's).
    """
    from fspatch.core.yamlio import parse_yaml

    data = parse_yaml(raw, display)  # UTF-8, YAML syntax, mapping at the top: else InputError
    warnings: list[MetaWarning] = []

    def warn(line: int | None, message: str) -> None:
        warnings.append(MetaWarning(display, line, message))

    text = raw.decode("utf-8-sig", "replace")
    for number, line_text in enumerate(text.split("\n"), 1):
        if line_text.rstrip("\r") != line_text.rstrip("\r").rstrip(" \t"):
            warn(number, f"trailing blank after {line_text.strip()!r} (YAML drops it; FlagScale wrote it)")
    for key in data:
        if str(key) not in KEYS:
            warn(_line(data, key), f"unknown key {str(key)!r} (kept out of the layer; FlagScale's tools ignore it)")

    def string_map(key: str) -> dict[str, str]:
        node = data.get(key)
        if node is None:
            if key in data:
                warn(_line(data, key), f"{key} is empty")
            return {}
        if not isinstance(node, Mapping):
            warn(_line(data, key), f"{key} should be a mapping of backend to value, not {type(node).__name__}")
            return {}
        out: dict[str, str] = {}
        for k, v in node.items():
            line = _line(node, k) or _line(data, key)
            if not isinstance(v, str):
                warn(line, f"{key}.{k}: {v!r} is not a string; read as {str(v)!r}")
            out[str(k)] = "" if v is None else str(v)
        return out

    raw_commits = string_map("backends_commit")
    commits: dict[str, str] = {}
    node = data.get("backends_commit")
    for k, v in raw_commits.items():
        if _HEX40.fullmatch(v):
            commits[k] = v
        else:
            line = _line(node, k) if isinstance(node, Mapping) else None
            warn(line, f"backends_commit.{k}: {v!r} is not a 40-hex commit; the layer has no usable base for {k}")

    versions = string_map("backends_version")
    vnode = data.get("backends_version")
    for k, v in versions.items():
        line = _line(vnode, k) if isinstance(vnode, Mapping) else None
        issue = _blank_issue(v)
        if issue:
            warn(line, f"backends_version.{k}: {v!r} {issue} (kept as spelled)")
        bare = v.strip()
        if bare.startswith(("v", "V")) and _VERSION.fullmatch(bare[1:]):
            warn(
                line,
                f"backends_version.{k}: {bare!r} has a 'v' prefix (other files write {bare[1:]!r}); kept as spelled",
            )
        elif not _VERSION.fullmatch(bare):
            warn(line, f"backends_version.{k}: {bare!r} is not a version number (a branch name?); kept as spelled")

    commit: str | None = None
    if "commit" in data:
        value = data["commit"]
        commit = None if value is None else str(value)
        if commit is None or not _HEX40.fullmatch(commit):
            warn(_line(data, "commit"), f"commit: {commit!r} is not a 40-hex FlagScale commit")
    else:
        warn(None, "no 'commit' (the FlagScale commit the layer is based on)")

    contact_value = data.get("contact")
    contact = "" if contact_value is None else str(contact_value)
    if contact_value is not None and not isinstance(contact_value, str):
        warn(_line(data, "contact"), f"contact: {contact_value!r} is not a string")
    elif contact and _blank_issue(contact):
        warn(_line(data, "contact"), f"contact: {contact!r} has leading or trailing blanks (kept as spelled)")

    device_value = data.get("device_type")
    device = None if device_value is None else str(device_value)
    if device is None:
        warn(None, "no 'device_type'; the directory name is used")
    elif device_dir is not None and device != device_dir:
        warn(
            _line(data, "device_type"),
            f"device_type {device!r} is not its directory's {device_dir!r} (FlagScale's unpatch uses the directory)",
        )

    models: list[str] = []
    mnode = data.get("models")
    if mnode is not None and not isinstance(mnode, list):
        warn(_line(data, "models"), f"models should be a list, not {type(mnode).__name__}")
    for i, m in enumerate(mnode if isinstance(mnode, list) else ()):
        text = "" if m is None else str(m)
        issue = _blank_issue(text)
        if issue:
            warn(_line(mnode, i), f"models[{i}]: {text!r} {issue} (kept as spelled)")
        models.append(text)

    tasks: list[str] = []
    other: list[str] = []
    tnode = data.get("task")
    if tnode is None:
        warn(_line(data, "task") if "task" in data else None, "no task (train, inference, post_train)")
    elif not isinstance(tnode, list):
        tnode = [tnode]
        warn(_line(data, "task"), "task should be a list")
    for i, t in enumerate(tnode or ()):
        text = "" if t is None else str(t)
        line = _line(tnode, i) if hasattr(tnode, "lc") else _line(data, "task")
        if text.strip() in TASKS:
            if text != text.strip():
                warn(line, f"task[{i}]: {text!r} has leading or trailing blanks")
            if text.strip() not in tasks:
                tasks.append(text.strip())
        else:
            warn(line, f"task {text!r} is not one of {', '.join(TASKS)} (kept as spelled)")
            other.append(text)
    return DiffMeta(
        display,
        commits,
        raw_commits,
        versions,
        commit,
        contact,
        device,
        tuple(models),
        tuple(tasks),
        tuple(other),
        tuple(warnings),
    )


def try_read_diff_yaml(
    raw: bytes, display: str, *, device_dir: str | None = None
) -> tuple[DiffMeta | None, str | None]:
    """(metadata, None), or (None, the one-line reason it cannot be read): for scanners that go on."""
    try:
        return read_diff_yaml(raw, display, device_dir=device_dir), None
    except InputError as exc:
        return None, str(exc)


def kept_value_warnings(section: Mapping[str, Any]) -> list[tuple[int | None, str]]:
    """(line, message) for the values of a layer.yaml ``flagscale:`` section that fspatch's diff
    schema would refuse, found with the same rules as :func:`read_diff_yaml` (what was a warning at
    import stays one at ``check``; ``check --strict`` makes it an error).  Lines are layer.yaml's."""
    from fspatch.core.yamlio import dump_yaml

    fields = {k: section[k] for k in KEYS if k in section and k != "device_type"}
    if "task" not in fields:
        fields["task"] = list(TASKS[:1])  # a section without task is not a finding of its own
    if "commit" not in fields:
        fields["commit"] = "0" * 40
    meta = read_diff_yaml(dump_yaml(dict(fields)), "<kept>")
    out: list[tuple[int | None, str]] = []
    for w in meta.warnings:
        if w.message.startswith("trailing blank") or w.message.startswith("no "):
            continue
        key = w.message.split(":")[0].split(".")[0].split("[")[0].split(" ")[0]
        node: Any = section
        line = _line(section, key) if key in section else _line(section, "task" if "task" in w.message else key)
        sub = w.message.split(":")[0]
        if "." in sub and isinstance(section.get(key), Mapping):
            node = section[key]
            line = _line(node, sub.split(".", 1)[1]) or line
        out.append((line, f"flagscale.{w.message}"))
    return out
