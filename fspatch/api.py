"""A small Python API for build hooks: materialise a backend with its layers into a directory.

For FlagScale's ``setup.py`` / PEP 517 backend (``pip install . --config-settings=backend=vllm
--config-settings=device=Cambricon_MLU``) and ``flagscale install <backend> --device <device>``,
which used to import FlagScale's patch tools::

    from fspatch import api

    ws = api.open_workspace("/src/FlagScale")
    tree = api.materialize(ws, "vllm", "build/vllm", device="Cambricon_MLU", task="inference")
    written = tree.files   # the paths written below tree.directory

The directory gets upstream at its pin + the common layer (+ the vendor layer), exactly what
``fspatch apply BACKEND --vendor V --task T --to DIR`` writes; the backend's checkout, HEAD and
stack are not touched (only its object store is used, and filled from the lock when missing).

Errors are the CLI's: :class:`fspatch.errors.FspatchError` and its subclasses, each with the
``exit_code`` the command line would exit with (1 conflict, 2 usage or input, 3 bug), and a
message naming the file and line where there is one.  Nothing here prints or exits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.workspace import Workspace, find_root
from fspatch.errors import ConflictError, FspatchError, InputError, UsageError

__all__ = [
    "ConflictError",
    "FspatchError",
    "InputError",
    "Materialized",
    "UsageError",
    "WorkspaceHandle",
    "materialize",
    "open_workspace",
]


@dataclass(frozen=True)
class WorkspaceHandle:
    """An opened workspace: its root and what it holds (backends, vendors and their device types)."""

    root: Path
    workspace: Workspace

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(self.workspace.backends())

    @property
    def vendors(self) -> tuple[str, ...]:
        return tuple(self.workspace.vendors())

    def vendor_for_device(self, device: str) -> str:
        """The vendor whose ``vendor.yaml`` names this device type (``Cambricon_MLU`` → ``cambricon``)."""
        from fspatch.commands.legacy import vendor_for_device

        return vendor_for_device(self.workspace, device)


@dataclass(frozen=True)
class Materialized:
    """What :func:`materialize` wrote."""

    backend: str  # the workspace's name for it (Megatron-LM → megatron)
    vendor: str | None
    task: str | None
    directory: Path
    upstream: str  # the pinned upstream commit
    top: str  # the stack's top commit (in the backend's object store)
    files: int  # files written
    layers: tuple[tuple[str, int], ...]  # (layer, patches applied), common first


def open_workspace(path: str | os.PathLike[str] = ".") -> WorkspaceHandle:
    """The workspace at ``path`` or above it (the directory holding ``upstream.lock``)."""
    start = Path(path).resolve()
    root = find_root(start)
    return WorkspaceHandle(root, Workspace.load(root))


def materialize(
    ws: WorkspaceHandle,
    backend: str,
    directory: str | os.PathLike[str],
    *,
    vendor: str | None = None,
    device: str | None = None,
    task: str | None = None,
    key: str | os.PathLike[str] | None = None,
    at: str | None = None,
    force: bool = False,
    fetch: bool = True,
) -> Materialized:
    """Write ``backend`` (FlagScale spellings too) with its common layer and, for ``vendor`` or
    ``device``, that vendor's layer, into ``directory``.

    ``task`` must be one the vendor layer declares; ``key`` is a private key (PEM) for encrypted
    patches, decrypted in memory; ``at`` reads the layers as of a workspace commit; ``force``
    writes into a non-empty directory; ``fetch`` clones a missing backend checkout from the lock
    first (as ``fspatch sync`` does).
    """
    from fspatch.commands import apply as apply_cmd
    from fspatch.commands import sync as sync_cmd
    from fspatch.commands.legacy import flagscale_name

    w = ws.workspace
    name = w.backend(flagscale_name(backend)).name
    if device is not None:
        found = ws.vendor_for_device(device)
        if vendor is not None and vendor != found:
            raise UsageError(f"device {device!r} belongs to vendor {found!r}, not {vendor!r}")
        vendor = found
    if task is not None and vendor is None:
        raise UsageError("task needs a vendor or device (tasks belong to vendor layers)")
    from fspatch.commands.recover import refuse_pending
    from fspatch.core.lock import workspace_locked

    with workspace_locked(w.root, "materialize"):  # it may clone a checkout: one changing fspatch at a time
        refuse_pending(w)
        if fetch:
            sync_cmd.run(w, [name])
        r = apply_cmd.run(
            w,
            name,
            vendor=vendor,
            task=task,
            force=force,
            to=Path(directory),
            at=at,
            key=Path(key) if key is not None else None,
        )
    return Materialized(
        r.backend,
        vendor,
        task,
        Path(r.to or directory),
        r.upstream,
        r.head,
        r.touched,
        tuple((s.layer, s.applied) for s in r.layers),
    )
