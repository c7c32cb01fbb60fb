"""One fspatch at a time per backend checkout (and per workspace git dir): a create-exclusive lock.

Why: two verbs run at once (``push -a`` and ``pop -a`` from two terminals, two CI jobs on one
runner) interleave their checkout writes and ref moves, and one of them ends with the files of
one outcome and the refs of the other.  Like git's ``index.lock``, the lock is a file created
with ``O_CREAT | O_EXCL``: whoever creates it holds it, everyone else gets one line naming the
holder.  It is taken by every verb that opens a journal (:func:`fspatch.core.journal.transaction`),
for the whole of its changes, and removed when the verb ends, however it ends.

Lock file, format 1: ``<git dir>/fspatch/lock`` holding one JSON object
``{"format": 1, "pid": 1234, "host": "ci-7", "operation": "push", "started": 1700000000}``.

A lock is *stale* when it was taken on this host by a process that no longer exists (a verb
killed with SIGKILL); it is then removed and taken again.  A lock from another host (a
checkout on a shared file system) is never guessed stale: the message says how to remove it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fspatch.errors import FspatchError

__all__ = ["LockedError", "holder", "locked", "workspace_lock_path", "workspace_locked"]

LOCK_FORMAT = 1
_NAME = "lock"


class LockedError(FspatchError):
    """Another fspatch process holds the lock; nothing was changed."""


def _path(git_dir: Path) -> Path:
    return git_dir / "fspatch" / _NAME


def workspace_lock_path(root: Path) -> Path:
    """The workspace's lock: in its own git dir when it has one, else ``.fspatch.lock`` at its root.

    Why a file at the root as the fallback: a workspace that is not a git repository has no
    private place, and the lock exists only while a verb runs (removed however it ends).
    """
    git_dir = root / ".git"
    return _path(git_dir) if git_dir.is_dir() else root / ".fspatch.lock"


def holder(git_dir: Path) -> dict[str, Any] | None:
    """What the lock file of ``git_dir`` says (None when there is none; ``{}`` when it is unreadable)."""
    return _holder(_path(git_dir))


def _holder(path: Path) -> dict[str, Any] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        data = json.loads(raw[:4096])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except (OverflowError, ValueError):
        return False
    return True


def _stale(data: dict[str, Any]) -> bool:
    pid = data.get("pid")
    return (
        data.get("host") == socket.gethostname() and isinstance(pid, int) and pid != os.getpid() and not _alive(pid)
    )


@contextmanager
def locked(git_dir: Path, operation: str) -> Iterator[None]:
    """Hold the lock of ``git_dir`` while the block runs; refused at once when another process holds it."""
    with _locked(_path(git_dir), operation, "checkout"):
        yield


@contextmanager
def workspace_locked(root: Path, operation: str) -> Iterator[None]:
    """Hold the workspace's lock while a changing verb runs (every one: the CLI takes it for them).

    Why a second lock: verbs that change only workspace files (``vendor add``, ``fmt``,
    ``header -m``, ``import``, ``resolutions forget``…) have no checkout to lock, and two of
    them, or one and a stack verb, would interleave their writes to series and patch files.
    """
    with _locked(workspace_lock_path(root), operation, "workspace"):
        yield


@contextmanager
def _locked(path: Path, operation: str, what: str) -> Iterator[None]:
    made = _make_parents(path.parent)
    me = {"format": LOCK_FORMAT, "pid": os.getpid(), "host": socket.gethostname(), "operation": operation}
    me["started"] = int(time.time())
    try:
        for _attempt in range(3):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:
                made = _make_parents(path.parent) or made  # another process removed the empty folder
                continue
            except FileExistsError:
                data = _holder(path)
                if data is None:
                    continue  # released between our open and our read: try again
                if data and _stale(data):
                    path.unlink(missing_ok=True)
                    continue
                if data.get("pid") == os.getpid() and data.get("host") == me["host"]:
                    yield  # this process holds it already (a nested journal): the outer one releases it
                    return
                raise LockedError(_message(path, data, what)) from None
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(json.dumps(me, sort_keys=True) + "\n")
            except OSError as exc:
                path.unlink(missing_ok=True)  # a full disk: no half-written lock is left behind
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            break
        else:
            raise LockedError(_message(path, _holder(path) or {}, what))
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        for folder in made:  # the folders the lock needed go again once empty (nothing else is there)
            try:
                folder.rmdir()
            except OSError:
                break


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        f.mkdir(exist_ok=True)
    return missing


def _message(path: Path, data: dict[str, Any], what: str) -> str:
    if not data:
        return f"{path} exists (unreadable): another fspatch may be running; remove the file if none is"
    who = f"'{str(data.get('operation'))[:40]}' (pid {str(data.get('pid'))[:20]} on {str(data.get('host'))[:80]})"
    return (
        f"another fspatch is changing this {what}: {who} holds {path}; wait for it to finish "
        "(if it is gone, remove that file)"
    )
