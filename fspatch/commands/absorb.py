"""``fspatch absorb``: each edited hunk of the checkout into the applied patch that owns it.

The routing is :mod:`fspatch.core.absorb_route`, the rewrite :mod:`fspatch.core.absorb`
(computed in memory, then written once inside one journal, like ``refresh``); ``--dry-run``
only lists where each hunk would go.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.absorb import execute_absorb, plan_absorb
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace


@dataclass(frozen=True)
class AbsorbedHunk:
    where: str  # path:line, or path (added) for a whole-file change
    change: str  # "-2 +3", or the whole-file kind
    layer: str
    patch: str
    rule: str  # lines, file, into, new, top (docs/flagscale-compat.md)
    new: bool


@dataclass(frozen=True)
class AbsorbResult:
    backend: str
    dry_run: bool
    hunks: tuple[AbsorbedHunk, ...]
    patches: tuple[str, ...]  # destination patch files, workspace-relative
    changed: tuple[str, ...]  # of those, the ones whose bytes changed (empty for a dry run)


def run(
    ws: Workspace,
    backend: str,
    *,
    layer: str | None = None,
    into: str | None = None,
    dry_run: bool = False,
    per_file: bool | None = None,
) -> AbsorbResult:
    s = Session.open(ws, backend)
    plan = plan_absorb(s, layer=layer, into=into, per_file=per_file)
    hunks = tuple(
        AbsorbedHunk(r.hunk.where, r.hunk.summary, r.layer, r.patch, r.rule, r.new) for r in plan.routes
    )
    patches = tuple(w.display for w in plan.writes)
    if dry_run:
        return AbsorbResult(s.backend.name, True, hunks, patches, ())
    with s.transaction("absorb", files=plan.files):
        changed = execute_absorb(s, plan)
    return AbsorbResult(s.backend.name, False, hunks, patches, tuple(changed))
