"""``fspatch import mbox FILE…``: insert the patches of mailboxes / ``git format-patch`` files into a layer.

A file may hold many mails (split on ``From <id> <date>`` lines, mboxrd ``>From`` unquoted);
``[PATCH n/m]`` is dropped from subjects; author, subject, date, other headers, description and
trailers are kept; mails without a diff (cover letters) are skipped and listed.  Patches are named
``NNNN-<subject slug>.patch``; placed, checked and written as ``import quilt`` does
(:func:`fspatch.core.interop.add_to_layer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fspatch.core.interop import LayerImport, add_to_layer, mbox_sources
from fspatch.core.session import pick_backend
from fspatch.core.workspace import LayerRef, Workspace


def run(
    ws: Workspace, files: Sequence[Path], *, backend: str | None = None, vendor: str | None = None,
    check: bool = True, append: bool = False,
) -> LayerImport:
    layer = LayerRef(pick_backend(ws, backend), vendor)
    sources, skipped = mbox_sources(files)
    return add_to_layer(ws, layer, sources, check=check, skipped=skipped, append=append)
