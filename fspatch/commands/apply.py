"""``fspatch apply``: build a backend's stack in memory, then check out its top once.

The work is :func:`fspatch.core.apply.apply_layers` (one journalled change, ``--to``
included); this verb is its entry point.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.apply import ApplyResult, LayerSummary, apply_layers
from fspatch.core.workspace import Workspace

__all__ = ["ApplyResult", "LayerSummary", "run"]


def run(
    ws: Workspace,
    backend: str,
    *,
    vendor: str | None = None,
    task: str | None = None,
    upto: str | None = None,
    force: bool = False,
    to: Path | None = None,
    at: str | None = None,
    key: Path | None = None,
) -> ApplyResult:
    return apply_layers(ws, backend, vendor=vendor, task=task, upto=upto, force=force, to=to, at=at, key=key)
