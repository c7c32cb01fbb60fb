"""One versioned envelope for every JSON document fspatch writes (see ``docs/json.md``).

Why: CI scripts and bots read ``--format json`` of many verbs; before this, only ``check`` and
``matrix`` said which layout they were, and ``backend list`` was a bare list that could never
grow a field.  Every document is now an object whose first two keys say what it is::

    {"format": "fspatch/<kind>", "version": 1, ...the verb's fields...}

``kind`` is the verb's command path (``check``, ``status``, ``backend-list``, ``vendor-list``,
``review``, ``blame`` ...).  ``version`` is the layout version of that kind: it changes (2, 3, ...)
only when a field is removed, renamed or changes meaning; adding a field keeps it.  A list
result goes under a named key (``"backends": [...]``), never at the top.  The one exception is
``matrix --github-matrix``: its ``{"include": [...]}`` is GitHub's own format, read by GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PREFIX = "fspatch/"
VERSION = 1
_KIND = re.compile(r"[a-z][a-z0-9-]*")


def kind_of(command_path: str) -> str:
    """``fspatch backend list`` → ``backend-list`` (the program name dropped)."""
    words = command_path.split()[1:]
    return "-".join(words) if words else "fspatch"


def envelope(kind: str, data: Mapping[str, Any], version: int = VERSION) -> dict[str, Any]:
    """``{"format": "fspatch/<kind>", "version": N, **data}``; ``data`` may not use those two keys."""
    if not _KIND.fullmatch(kind):
        raise ValueError(f"bad JSON kind {kind!r}")
    clash = {"format", "version"} & set(data)
    if clash:
        raise ValueError(f"JSON fields {sorted(clash)} are the envelope's")
    out: dict[str, Any] = {"format": PREFIX + kind, "version": version}
    out.update(data)
    return out
