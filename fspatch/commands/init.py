"""``fspatch init``: make a folder an fspatch workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.core.workspace import init_workspace
from fspatch.core.yamlio import atomic_write

# The checkouts are clones, recreated by ``fspatch sync`` from the lock: a ``git add -A`` in the
# workspace must not record them (git would store an embedded repository a clone cannot fill).
GITIGNORE = b"# fspatch: backend checkouts are recreated from upstream.lock by 'fspatch sync'\n/third_party/\n"


@dataclass(frozen=True)
class InitResult:
    root: str
    created: tuple[str, ...]


def run(root: Path) -> InitResult:
    """Create the workspace, and a ``.gitignore`` for the checkouts when there is none (an existing one is kept)."""
    created = init_workspace(root)
    ignore = root / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, GITIGNORE)
        created.append(ignore)
    return InitResult(str(root), tuple(str(p.relative_to(root)) for p in created))
