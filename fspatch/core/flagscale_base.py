"""Where a FlagScale vendor layer was made: its upstream commit, FlagScale commit and common layer.

``diff.yaml`` names ``backends_commit`` (the upstream commit FlagScale's ``unpatch`` resets the
submodule to before applying the vendor's patches) and ``commit`` (the FlagScale commit the
vendor started from).  The common layer of that time is read from the FlagScale repository's
own history at that commit; FlagScale's gitlink there (``third_party/<Backend>``) is a second
candidate base (see :func:`fspatch.core.vendor_base.split_at_base`).  Whatever is missing is
replaced by what the workspace has, and the report says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fspatch.core.fetch import fetch_ref
from fspatch.core.vendor_base import CommonAtBase, ForwardConflict, common_at, gitlink_at
from fspatch.core.workspace import Workspace, normalize_backend
from fspatch.errors import InputError
from fspatch.git_adapter import GitRepo

__all__ = ["AtBase", "ForwardReport", "find_base"]


@dataclass(frozen=True)
class AtBase:
    flagscale_commit: str  # diff.yaml's commit ("" when it names none)
    backends_commit: str  # the upstream commit the vendor's patches are read on
    candidates: tuple[tuple[str, str], ...]  # (why, upstream commit) to split on, best first
    common: CommonAtBase
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ForwardReport:
    """Per vendor layer: ``found at <FlagScale base> (upstream <commit>), brought to <pin>: N clean, M conflicts``."""

    found_at: str  # FlagScale commit of the vendor's base
    upstream: str  # upstream commit the vendor-only layer was split on
    backends_commit: str  # diff.yaml's backends_commit
    brought_to: str  # the workspace pin
    clean: int
    conflicts: int
    regions: tuple[ForwardConflict, ...]
    common_source: str  # history | current
    notes: tuple[str, ...]


def _named(mapping: Any, backend: str) -> str | None:
    if not isinstance(mapping, Mapping):
        return None
    for k, v in mapping.items():
        if normalize_backend(str(k)) == backend and v is not None:
            return str(v).strip()
    return None


def _have(ws: Workspace, repo: GitRepo, backend: str, commit: str) -> bool:
    if repo.has_commit(commit):
        return True
    b = ws.backend(backend)
    try:
        fetch_ref(ws.root, repo, b.url, b.mirrors, commit, None)
    except InputError:
        return False
    return repo.has_commit(commit)


def find_base(
    ws: Workspace,
    repo: GitRepo,
    fs_repo: GitRepo | None,
    backend: str,
    backends_commit: Mapping[str, str],
    fs_commit: str,
    current_common: Sequence[tuple[str, bytes]],
    display: str,
) -> AtBase:
    """The base a vendor layer was made on, as far as the data says (notes name every fallback).

    ``backends_commit`` is diff.yaml's map as FlagScale spells it; ``fs_commit`` its ``commit``.
    """
    pin = ws.backend(backend).commit
    notes: list[str] = []
    bc = _named(backends_commit, backend)
    if not bc:
        notes.append(f"{display}/diff.yaml names no backends_commit for {backend}; read on the pin")
        bc = pin
    elif not _have(ws, repo, backend, bc):
        notes.append(f"upstream commit {bc[:12]} is not in the checkout nor fetchable; read on the pin")
        bc = pin
    fs_commit = fs_commit.strip()
    common = common_at(fs_repo, fs_commit, backend, current_common)
    if common.note:
        notes.append(common.note + "; the current common layer is subtracted")
    candidates = [("backends_commit", bc)]
    gl = gitlink_at(fs_repo, fs_commit, backend)
    if gl is not None and gl != bc and repo.has_commit(gl):
        candidates.append(("FlagScale's gitlink", gl))
    return AtBase(fs_commit, bc, tuple(candidates), common, tuple(notes))
