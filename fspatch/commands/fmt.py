"""``fspatch fmt``: rewrite patch files in their canonical form (what ``check --canonical`` asks for).

Only the bytes of files that are not canonical change; the new bytes parse back to the
same patch (headers, description, trailers and every hunk), so a patch never changes
meaning.  ``refresh`` keeps an unchanged patch's text on purpose (a no-op refresh writes
nothing), which is why this is a verb of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.health import canonical_rewrites
from fspatch.core.journal import crash_point
from fspatch.core.report import Finding
from fspatch.core.undo import workspace_transaction
from fspatch.core.workspace import Workspace


@dataclass(frozen=True)
class FmtResult:
    rewritten: tuple[str, ...]  # workspace-relative paths of the files written (or that would be, with dry_run)
    problems: tuple[Finding, ...]  # files left alone (they do not parse)


def run(ws: Workspace, backends: list[str] | None = None, *, dry_run: bool = False) -> FmtResult:
    rewrites, problems = canonical_rewrites(ws, backends)
    if rewrites and not dry_run:
        # Several files: a failure or a kill half-way puts the others back (journalled).
        files = [ws.patch_path(r.layer, r.name).relative_to(ws.root).as_posix() for r in rewrites]
        with workspace_transaction("fmt", ws.root, files=files):
            for r in rewrites:
                ws.write_patch(r.layer, r.name, r.data)
                crash_point("fmt:file")
    return FmtResult(tuple(r.display for r in rewrites), tuple(problems))
