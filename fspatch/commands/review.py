"""``fspatch review``: a backend's layers, their patches, collisions, marker coverage and history.

Read-only: the stack is built in memory (no checkout moves, no state ref changes) and the
workspace history is read from git objects, never checked out.  See ``core/review.py``.
"""

from __future__ import annotations

from fspatch.core.review import HISTORY_LIMIT, Review, review
from fspatch.core.workspace import Workspace

ReviewResult = Review


def run(ws: Workspace, backend: str, *, vendor: str | None = None, limit: int = HISTORY_LIMIT) -> ReviewResult:
    return review(ws, backend, vendor, limit=limit)
