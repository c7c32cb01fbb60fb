"""``fspatch import commits A..B``: turn commits of the backend's checkout into patches of a layer.

The first-parent commits of ``A..B``, oldest first (a merge becomes its first-parent diff); each
gives one patch: the message split into subject, description and trailers, the author as
``Name <email>``, the author date as a ``Date:`` header, the diff against the first parent.
Named ``NNNN-<subject slug>.patch``; placed, checked and written as ``import quilt`` does.
"""

from __future__ import annotations

from fspatch.core.interop import LayerImport, add_to_layer, commit_sources
from fspatch.core.session import pick_backend
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo


def run(
    ws: Workspace, spec: str, *, backend: str | None = None, vendor: str | None = None, check: bool = True,
    append: bool = False,
) -> LayerImport:
    b = ws.backend(pick_backend(ws, backend))
    path = ws.checkout_path(b)
    if not GitRepo.is_repo(path):
        raise UsageError(f"backend '{b.name}' has no checkout at {b.path}; run 'fspatch backend add'")
    sources = commit_sources(GitRepo.open(path), spec)
    return add_to_layer(ws, LayerRef(b.name, vendor), sources, check=check, append=append)
