"""Resuming a bot replay's pending patches (``fspatch apply BACKEND`` while ``pending.yaml`` exists).

The bot (``pull-upstream --no-stop`` or ``rebase-vendors --no-stop``) completed and recorded
its conflicts as workspace data (:mod:`fspatch.core.replay_pending`); this builds the stack up
to the first pending patch and checks it out with diff3 conflict markers, exactly like an interactive stop, so
``continue`` / ``skip`` / ``abort`` finish it.  Works from a fresh clone of the bot's branch.
"""

from __future__ import annotations

from fspatch.core.replay import Progress
from fspatch.core.replay_driver import OperationResult, resume_pending
from fspatch.core.replay_pending import pending_patches
from fspatch.core.workspace import Workspace


def is_pending(ws: Workspace, backend: str) -> bool:
    """Whether BACKEND has patches pending from a bot replay."""
    return bool(pending_patches(ws, ws.backend(backend).name))


def run(ws: Workspace, backend: str, *, progress: Progress | None = None) -> OperationResult:
    return resume_pending(ws, ws.backend(backend).name, progress)
