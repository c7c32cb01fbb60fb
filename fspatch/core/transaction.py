"""Crash safety for every verb that changes more than one thing.

Why: a verb may be killed (SIGKILL, a closed laptop, CI timing out) between any two of
its steps — after writing a patch file but before moving the state ref, half-way
through a checkout.  Before its first change, a verb writes a journal naming every
file it may change and saving their bytes; the journal is dropped only once the
verb is done.  ``fspatch recover`` (or ``fspatch abort``) puts back every saved
byte; every other verb refuses to run while a journal is there.  The journal
lives in a git dir (the backend's, or the workspace's for workspace-only verbs),
never among the workspace files (DESIGN §2).

Journal format, version 1
-------------------------
``<git dir>/fspatch/txn.json``, written atomically::

    {"format": 1, "operation": "refresh", "backend": "vllm" | null,
     "root": "<workspace path>",
     "files": {"<workspace-relative path>": "<saved blob name>" | null, ...},
     "dirs": ["vendors", ...],              # files created below these since are removed
     "checkout": null | {"head": "<40-hex>" | null, "head_ref": "refs/heads/x" | null,
                         "index": "<saved blob name>" | null,
                         "refs": {"refs/fspatch/state": "<40-hex>" | null, ...},
                         "paths": ["<checkout path the verb may write>", ...],
                         "worktree": {"<checkout path>": "<saved blob name>" | null, ...}}}

``<git dir>/fspatch/txn-saved/<blob name>`` holds the saved bytes (``null``: the file
did not exist).  ``paths`` are restored to the saved HEAD's content: a verb lists
only paths it checked were free of local edits, so the user's other edits are
never touched.  ``worktree`` entries are restored byte for byte (``mark`` rewrites
files the user edited).

Tests kill a verb at named steps: ``FSPATCH_CRASH_AT=<step>`` makes
:func:`crash_point` send SIGKILL to its own process at that step (test-only).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from fspatch.core.yamlio import atomic_write
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo

TXN_FORMAT = 1
_NAME = "txn.json"
_SAVED = "txn-saved"
_REF_PREFIX = "refs/fspatch/"


# Journals opened by this process, by git dir: a verb that calls another (goto → push,
# mark → refresh) joins the running journal instead of refusing it.
_ACTIVE: ContextVar[dict[str, Transaction] | None] = ContextVar("fspatch_active_txn", default=None)


def active(git_dir: Path) -> Transaction | None:
    table = _ACTIVE.get()
    return None if table is None else table.get(str(git_dir))


def crash_point(step: str) -> None:
    """Die here, as a kill would, when the test harness names this step."""
    if os.environ.get("FSPATCH_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _home(git_dir: Path) -> Path:
    return git_dir / "fspatch"


def pending(git_dir: Path) -> dict[str, Any] | None:
    """The journal of an interrupted verb in this git dir, or None."""
    path = _home(git_dir) / _NAME
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None  # none, or another process just finished with it
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the journal: {exc.strerror}") from None
    try:
        data: dict[str, Any] = json.loads(raw, parse_int=_small_int)
    except (ValueError, RecursionError):
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise UsageError(
            f"{path}: the journal is damaged (not a journal object); nothing was done: "
            "remove it (and the txn-saved folder beside it) if no fspatch is running"
        )
    if data.get("format") != TXN_FORMAT:
        raise UsageError(f"{path}: unknown journal format {data.get('format')!r}; upgrade fspatch")
    return data


def _small_int(text: str) -> int:
    if len(text) > 18:
        raise ValueError("a number with more than 18 digits")
    return int(text)


def refuse_if_pending(git_dir: Path, where: str) -> None:
    if active(git_dir) is not None:
        return  # our own journal: a nested verb of the same process
    data = pending(git_dir)
    if data is not None:
        raise UsageError(
            f"an interrupted '{data.get('operation')}' left a journal in {where}; "
            "run 'fspatch recover' to put everything back as it was before it"
        )


class Transaction:
    """The journal of one running verb; ``note_*`` calls extend it before each change."""

    def __init__(self, git_dir: Path, root: Path, data: dict[str, Any], repo: GitRepo | None) -> None:
        self.git_dir = git_dir
        self.root = root
        self.data = data
        self.repo = repo
        self._n = 0

    # -- recording -------------------------------------------------------
    def _save(self, data: bytes | None) -> str | None:
        if data is None:
            return None
        self._n += 1
        name = f"b{self._n:06d}"
        (_home(self.git_dir) / _SAVED / name).write_bytes(data)
        return name

    def _write(self) -> None:
        atomic_write(_home(self.git_dir) / _NAME, (json.dumps(self.data, indent=1, sort_keys=True) + "\n").encode())

    def note_files(self, rels: Iterable[str]) -> None:
        """Workspace files (relative to the root) about to be written or removed."""
        changed = False
        for rel in rels:
            if rel in self.data["files"]:
                continue
            path = self.root / rel
            self.data["files"][rel] = self._save(path.read_bytes() if path.is_file() else None)
            changed = True
        if changed:
            self._write()

    def note_checkout(self, paths: Iterable[str]) -> None:
        """Checkout paths about to be written from a tree (already checked free of local edits)."""
        ck = self.data["checkout"]
        if ck is None:
            raise AssertionError("transaction opened without a checkout")
        ck["paths"] = sorted(set(ck["paths"]) | set(paths))
        self._write()

    def note_worktree(self, paths: Iterable[str]) -> None:
        """Checkout files about to be rewritten whose current bytes must come back on recover."""
        ck = self.data["checkout"]
        assert ck is not None and self.repo is not None
        wd = self.repo.workdir
        for path in paths:
            if path not in ck["worktree"]:
                full = wd / path
                ck["worktree"][path] = self._save(full.read_bytes() if full.is_file() else None)
        self._write()

    def done(self) -> None:
        clear(self.git_dir)


def clear(git_dir: Path) -> None:
    home = _home(git_dir)
    (home / _NAME).unlink(missing_ok=True)
    shutil.rmtree(home / _SAVED, ignore_errors=True)


@contextmanager
def transaction(
    operation: str,
    root: Path,
    *,
    repo: GitRepo | None = None,
    git_dir: Path | None = None,
    backend: str | None = None,
    files: Sequence[str] = (),
    dirs: Sequence[str] = (),
) -> Iterator[Transaction]:
    """Journal a verb: saved before its first change, restored if it fails, dropped when done.

    With ``repo`` the backend checkout's HEAD, index and ``refs/fspatch/*`` are saved too.
    A Python exception inside the block restores everything (the verb then reports its
    error with nothing changed); a kill leaves the journal for ``fspatch recover``.
    """
    where = git_dir if git_dir is not None else (repo.git_dir if repo is not None else None)
    if where is None:  # no git dir to keep a journal in: plain atomic writes only
        yield _NullTransaction(root)
        return
    joined = active(where)
    if joined is not None:
        joined.note_files([*files, *_files_below(root, dirs)])
        yield joined
        return
    from fspatch.core.lock import locked

    with locked(where, operation):
        yield from _journaled(operation, root, where, repo, backend, files, dirs)


def _journaled(
    operation: str,
    root: Path,
    where: Path,
    repo: GitRepo | None,
    backend: str | None,
    files: Sequence[str],
    dirs: Sequence[str],
) -> Iterator[Transaction]:
    """The body of :func:`transaction`, run while the lock is held."""
    refuse_if_pending(where, str(where))
    home = _home(where)
    shutil.rmtree(home / _SAVED, ignore_errors=True)
    (home / _SAVED).mkdir(parents=True)
    data: dict[str, Any] = {
        "format": TXN_FORMAT,
        "operation": operation,
        "backend": backend,
        "root": str(root),
        "files": {},
        "dirs": sorted(set(dirs)),
        "checkout": None,
    }
    txn = Transaction(where, root, data, repo)
    files = [*files, *_files_below(root, dirs)]
    if repo is not None:
        index = repo.git_dir / "index"
        data["checkout"] = {
            "head": repo.head(),
            "head_ref": repo.head_ref(),
            "index": txn._save(index.read_bytes()) if index.is_file() else None,
            "refs": {k: v for k, v in repo.refs(_REF_PREFIX).items()},
            "paths": [],
            "worktree": {},
        }
    txn.note_files(files)
    txn._write()
    crash_point(f"{operation}:journal")
    table = dict(_ACTIVE.get() or {})
    table[str(where)] = txn
    token = _ACTIVE.set(table)
    try:
        yield txn
    except BaseException:
        restore(where, data)
        clear(where)
        raise
    finally:
        _ACTIVE.reset(token)
    txn.done()


def _files_below(root: Path, dirs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for d in dirs:
        folder = root / d
        if folder.is_dir():
            out.extend(p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file())
    return out


class _NullTransaction(Transaction):
    def __init__(self, root: Path) -> None:
        super().__init__(Path("/nonexistent"), root, {"files": {}, "checkout": None}, None)

    def note_files(self, rels: Iterable[str]) -> None:
        pass

    def note_checkout(self, paths: Iterable[str]) -> None:
        pass

    def note_worktree(self, paths: Iterable[str]) -> None:
        pass

    def done(self) -> None:
        pass


def restore(git_dir: Path, data: dict[str, Any]) -> list[str]:
    """Put back every byte the journal saved; the paths restored."""
    saved = _home(git_dir) / _SAVED
    root = Path(data["root"])
    touched: list[str] = []
    ck = data.get("checkout")
    if ck is not None:
        repo = GitRepo.open(git_dir.parent) if git_dir.name == ".git" else GitRepo.open(git_dir)
        head = ck.get("head")
        if head is not None and ck["paths"]:
            repo.checkout_paths(repo.tree_of(head), ck["paths"])
            touched.extend(ck["paths"])
        wd = repo.workdir
        for path, blob in sorted(ck["worktree"].items()):
            full = wd / path
            if blob is None:
                full.unlink(missing_ok=True)
            else:
                full.write_bytes((saved / blob).read_bytes())
            touched.append(path)
        current = repo.refs(_REF_PREFIX)
        want: dict[str, str] = ck["refs"]
        for name in sorted(set(current) | set(want)):
            if current.get(name) != want.get(name):
                repo.force_ref(name, want.get(name))
        if head is not None:
            if ck.get("head_ref"):
                repo.set_head_ref(ck["head_ref"])
            else:
                repo.set_head(head)
        if ck.get("index") is not None:
            atomic_write(repo.git_dir / "index", (saved / ck["index"]).read_bytes())
    table: dict[str, str | None] = data["files"]
    for rel, blob in sorted(table.items()):
        path = root / rel
        if blob is None:
            if path.is_file() or path.is_symlink():
                path.unlink()
                touched.append(rel)
        elif atomic_write(path, (saved / blob).read_bytes()):
            touched.append(rel)
    for d in data.get("dirs", []):
        folder = root / d
        if folder.is_dir():
            for p in sorted(folder.rglob("*"), reverse=True):
                rel = p.relative_to(root).as_posix()
                if p.is_file() and rel not in table:
                    p.unlink()
                    touched.append(rel)
                elif p.is_dir() and not any(p.iterdir()):
                    p.rmdir()
    return touched


def recover(git_dir: Path) -> tuple[str, list[str]] | None:
    """Undo an interrupted verb found in this git dir: (operation, restored paths), or None."""
    data = pending(git_dir)
    if data is None:
        return None
    touched = restore(git_dir, data)
    clear(git_dir)
    return str(data.get("operation")), touched
