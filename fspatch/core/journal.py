"""The one journal: how every multi-step verb, a paused replay included, stays undoable.

Why: a verb may be killed (SIGKILL, a closed laptop, CI timing out) between any two of
its steps, and an interactive replay stops at a conflict and hands the checkout to a
person.  Before its first change a verb writes a journal naming every file it may
change and saving their bytes; the journal is dropped only once the verb is done.  A
replay that stops keeps its journal with its :class:`~fspatch.core.replay_plan.Plan`
and ``paused`` set, so ``continue`` / ``skip`` resume it in another process; ``abort``
is the same undo as ``recover`` (put back every saved byte), then the plan is gone.
Every other verb refuses to run while a journal is there.  The journal lives in a git
dir (the backend's, or the workspace's for workspace-only verbs), never among the
workspace files (DESIGN §2).  The on-disk format (version 2) is documented in
``docs/journal.md``.

Tests kill a verb at named steps: ``FSPATCH_CRASH_AT=<step>`` makes
:func:`crash_point` send SIGKILL to its own process at that step (test-only).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fspatch.core.journal_check import ALL_REFS, DISCARD, FSPATCH_REFS, JournalRefused, absolute_dir, check
from fspatch.core.replay_plan import Plan
from fspatch.core.yamlio import atomic_write
from fspatch.errors import EnvironmentFailure, GitError, UsageError, describe_os_error
from fspatch.git_adapter import GitRepo

JOURNAL_FORMAT = 2
_NAME = "journal.json"
_SAVED = "journal-saved"
_OLD = ("txn.json", "operation.json")  # format 1 (two journals), written by fspatch before issue 12


def crash_point(step: str) -> None:
    """Die here, as a kill would, when the test harness names this step."""
    if os.environ.get("FSPATCH_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _home(git_dir: Path) -> Path:
    return git_dir / "fspatch"


# --------------------------------------------------------------------------- the persisted values


@dataclass
class SavedCheckout:
    """The backend checkout as it was: HEAD, index, refs, and which of its files may change."""

    head: str | None
    head_ref: str | None  # the branch HEAD pointed at, None when detached
    index: str | None  # saved blob name of the git index file
    refs: dict[str, str]  # every ref under ``ref_scope`` and its target
    ref_scope: str  # FSPATCH_REFS for a stack verb; ALL_REFS for a replay (its fetch adds tags)
    reset: bool = False  # restore the whole checkout to ``head`` (a replay: checked clean first)
    paths: list[str] = field(default_factory=list)  # restored to ``head``'s tree (checked free of edits)
    worktree: dict[str, str | None] = field(default_factory=dict)  # restored byte for byte

    def to_dict(self) -> dict[str, object]:
        return {
            "head": self.head,
            "head_ref": self.head_ref,
            "index": self.index,
            "refs": dict(sorted(self.refs.items())),
            "ref_scope": self.ref_scope,
            "reset": self.reset,
            "paths": sorted(self.paths),
            "worktree": dict(sorted(self.worktree.items())),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SavedCheckout:
        return cls(
            d["head"],
            d["head_ref"],
            d["index"],
            {str(k): str(v) for k, v in d["refs"].items()},
            str(d["ref_scope"]),
            bool(d["reset"]),
            [str(p) for p in d["paths"]],
            {str(k): v for k, v in d["worktree"].items()},
        )


@dataclass
class JournalData:
    """Everything one journal holds (``journal.json``, format 2)."""

    operation: str
    backend: str | None
    root: str  # the workspace; ``files`` and ``dirs`` are relative to it (or absolute: apply --to)
    files: dict[str, str | None] = field(default_factory=dict)  # path -> saved blob name, None: absent
    dirs: list[str] = field(default_factory=list)  # files created below these since are removed
    kept_dirs: list[str] = field(default_factory=list)  # folders below ``dirs`` (or ``dirs``) that existed
    checkout: SavedCheckout | None = None
    plan: Plan | None = None  # a replay's progress
    paused: bool = False  # a replay stopped at a conflict, waiting for continue/skip/abort

    def to_dict(self) -> dict[str, object]:
        return {
            "format": JOURNAL_FORMAT,
            "operation": self.operation,
            "backend": self.backend,
            "root": self.root,
            "files": dict(sorted(self.files.items())),
            "dirs": sorted(self.dirs),
            "kept_dirs": sorted(self.kept_dirs),
            "checkout": None if self.checkout is None else self.checkout.to_dict(),
            "plan": None if self.plan is None else self.plan.to_dict(),
            "paused": self.paused,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JournalData:
        return cls(
            str(d["operation"]),
            d["backend"],
            str(d["root"]),
            {str(k): v for k, v in d["files"].items()},
            [str(x) for x in d["dirs"]],
            [str(x) for x in d["kept_dirs"]],
            None if d["checkout"] is None else SavedCheckout.from_dict(d["checkout"]),
            None if d["plan"] is None else Plan.from_dict(d["plan"]),
            bool(d["paused"]),
        )


# --------------------------------------------------------------------------- reading


def pending(git_dir: Path, root: Path, *, outside: Path | None = None) -> JournalData | None:
    """The journal in this git dir (an interrupted verb, or a paused replay), or None.

    Checked before use (:mod:`fspatch.core.journal_check`): a damaged journal, or one whose
    orders would reach outside the workspace ``root`` and its checkouts, is refused with one
    line and the way out (``fspatch recover --discard``), never acted on.
    """
    home = _home(git_dir)
    path = home / _NAME
    if not path.is_file():
        for old in _OLD:
            if (home / old).is_file():
                raise JournalRefused(
                    f"{home / old}: a journal of an older fspatch (format 1); finish or undo it with that "
                    f"version ('fspatch recover' / 'fspatch abort'), or {DISCARD}"
                )
        return None
    raw = _read_raw(path)
    if raw is None:
        return None
    check(raw, path, git_dir=git_dir, root=root, outside=outside)
    try:
        return JournalData.from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise JournalRefused(f"{path}: the journal is damaged; nothing was done: {DISCARD}") from None


def _read_raw(path: Path) -> dict[str, Any] | None:
    """The journal's JSON object (None when it just went away); garbage and lists are refused."""
    try:
        text = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None  # another process just finished with it
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the journal: {exc.strerror}") from None
    damaged = f"{path}: the journal is damaged; nothing was done: {DISCARD}"
    try:
        raw: dict[str, Any] = json.loads(text, parse_int=_small_int)
    except (ValueError, RecursionError):
        raise JournalRefused(damaged) from None
    if not isinstance(raw, dict):
        raise JournalRefused(damaged)
    if raw.get("format") != JOURNAL_FORMAT:
        found = str(raw.get("format"))[:20]
        raise JournalRefused(f"{path}: unknown journal format {found!r}; upgrade fspatch, or {DISCARD}")
    return raw


def outside_dir(git_dir: Path) -> str | None:
    """The directory outside the workspace a pending ``apply --to DIR`` journal names (unchecked)."""
    path = _home(git_dir) / _NAME
    try:
        raw = json.loads(path.read_bytes(), parse_int=_small_int)
    except (OSError, ValueError, RecursionError):
        return None
    return absolute_dir(raw) if isinstance(raw, dict) else None


def discard(git_dir: Path) -> list[str]:
    """Drop whatever journal is in this git dir, unread (``recover --discard``); the files removed."""
    home = _home(git_dir)
    gone: list[str] = []
    for name in (_NAME, *_OLD):
        if (home / name).is_file() or (home / name).is_symlink():
            (home / name).unlink()
            gone.append(str(home / name))
    for name in (_SAVED, "txn-saved", "operation-saved"):
        folder = home / name
        if folder.is_symlink():
            folder.unlink()
            gone.append(str(folder))
        elif folder.is_dir():
            shutil.rmtree(folder)
            gone.append(str(folder))
    return gone


def _small_int(text: str) -> int:
    """JSON integers as journals hold them; 5000 digits is an attack, not a count."""
    if len(text) > 18:
        raise ValueError("a number with more than 18 digits")
    return int(text)


def paused_replay(git_dir: Path, root: Path) -> JournalData | None:
    """The journal of a replay waiting at a conflict, or None."""
    data = pending(git_dir, root)
    return data if data is not None and data.paused else None


def refuse_if_pending(git_dir: Path, where: str, root: Path, *, paused_ok: bool = False) -> None:
    """Refuse to change anything over a journal: an interrupted verb, or (unless paused_ok) a paused replay."""
    data = pending(git_dir, root, outside=_outside(git_dir))
    if data is None or (paused_ok and data.paused):
        return
    if data.paused:
        raise UsageError(
            f"a {data.operation} of '{data.backend}' is in progress; finish it with "
            "'fspatch continue', 'fspatch skip' or 'fspatch abort' first"
        )
    raise UsageError(
        f"an interrupted '{data.operation}' left a journal in {where}; "
        f"run '{recover_command(data)}' to put everything back as it was before it"
    )


def recover_command(data: JournalData) -> str:
    """What undoes this journal: ``fspatch recover``, with ``--to DIR`` for an ``apply --to DIR``."""
    outside = absolute_dir(data.to_dict())
    return "fspatch recover" + (f" --to {outside}" if outside is not None else "")


def _outside(git_dir: Path) -> Path | None:
    """An ``apply --to DIR`` journal is refused over, not undone, here: its DIR needs no confirmation."""
    found = outside_dir(git_dir)
    return Path(found) if found is not None else None


# --------------------------------------------------------------------------- writing


class Journal:
    """The journal of one running verb; ``note_*`` calls extend it before each change."""

    def __init__(self, git_dir: Path, data: JournalData, repo: GitRepo | None) -> None:
        self.git_dir = git_dir
        self.data = data
        self.repo = repo
        saved = _home(git_dir) / _SAVED
        self._n = sum(1 for _ in saved.iterdir()) if saved.is_dir() else 0

    @property
    def root(self) -> Path:
        return Path(self.data.root)

    @property
    def operation(self) -> str:
        return self.data.operation

    # -- recording -------------------------------------------------------
    def _save(self, data: bytes | None) -> str | None:
        if data is None:
            return None
        self._n += 1
        name = f"b{self._n:06d}"
        (_home(self.git_dir) / _SAVED / name).write_bytes(data)
        return name

    def write(self) -> None:
        """Persist the journal (atomically): every change it covers comes after this."""
        text = json.dumps(self.data.to_dict(), indent=1, sort_keys=True) + "\n"
        atomic_write(_home(self.git_dir) / _NAME, text.encode())

    def note_files(self, rels: Iterable[str]) -> None:
        """Files (relative to the root, or absolute) about to be written or removed."""
        changed = False
        for rel in rels:
            if rel in self.data.files:
                continue
            path = self.root / rel
            self.data.files[rel] = self._save(path.read_bytes() if path.is_file() else None)
            changed = True
        if changed:
            self.write()

    def note_dirs(self, dirs: Iterable[str]) -> None:
        """Folders whose files may be rewritten and below which new files may appear."""
        new = [d for d in dirs if d not in self.data.dirs]
        if not new:
            return
        self.data.dirs.extend(new)
        for d in new:
            folder = self.root / d
            if folder.is_dir():
                self.data.kept_dirs.append(d)
                self.data.kept_dirs.extend(
                    p.relative_to(self.root).as_posix() if not Path(d).is_absolute() else str(p)
                    for p in folder.rglob("*")
                    if p.is_dir() and not p.is_symlink()
                )
        self.note_files(_files_below(self.root, new))
        self.write()

    def note_checkout(self, paths: Iterable[str]) -> None:
        """Checkout paths about to be written from a tree (already checked free of local edits)."""
        ck = self.data.checkout
        if ck is None:
            raise AssertionError("journal opened without a checkout")
        ck.paths = sorted(set(ck.paths) | set(paths))
        self.write()

    def note_worktree(self, paths: Iterable[str]) -> None:
        """Checkout files about to be rewritten whose current bytes must come back on recover."""
        ck = self.data.checkout
        assert ck is not None and self.repo is not None
        wd = self.repo.workdir
        for path in paths:
            if path not in ck.worktree:
                full = wd / path
                ck.worktree[path] = self._save(full.read_bytes() if full.is_file() else None)
        self.write()

    # -- a replay ------------------------------------------------------------
    def pause(self, plan: Plan) -> None:
        """Keep the journal with the plan: the replay waits for continue/skip/abort."""
        self.data.plan = plan
        self.data.paused = True
        self.write()

    def resume(self) -> None:
        """The paused replay runs again: a kill from here on is an interrupted verb (recover/abort)."""
        self.data.paused = False
        self.write()

    def done(self) -> None:
        clear(self.git_dir)


class _NullJournal(Journal):
    """No git dir to keep a journal in: plain atomic writes only."""

    def __init__(self, root: Path) -> None:
        self.git_dir = Path("/nonexistent")
        self.data = JournalData("", None, str(root))
        self.repo = None
        self._n = 0

    def write(self) -> None:
        pass

    def note_files(self, rels: Iterable[str]) -> None:
        pass

    def note_dirs(self, dirs: Iterable[str]) -> None:
        pass

    def note_checkout(self, paths: Iterable[str]) -> None:
        pass

    def note_worktree(self, paths: Iterable[str]) -> None:
        pass

    def done(self) -> None:
        pass


def clear(git_dir: Path) -> None:
    """Drop the journal and its saved copies (and fspatch's folder in the git dir, once empty)."""
    home = _home(git_dir)
    (home / _NAME).unlink(missing_ok=True)
    shutil.rmtree(home / _SAVED, ignore_errors=True)
    with contextlib.suppress(OSError):
        home.rmdir()  # a lock or another file of fspatch's is there: it stays


def _saved_refs(repo: GitRepo, scope: str) -> dict[str, str]:
    return repo.direct_refs() if scope == ALL_REFS else repo.refs(scope)


def begin(
    operation: str,
    root: Path,
    *,
    repo: GitRepo | None = None,
    git_dir: Path | None = None,
    backend: str | None = None,
    files: Sequence[str] = (),
    dirs: Sequence[str] = (),
    ref_scope: str = FSPATCH_REFS,
    reset: bool = False,
    refs: Mapping[str, str] | None = None,
) -> Journal:
    """Write a new journal before a verb's first change (refused over any journal already there).

    With ``repo`` the backend checkout's HEAD, index and refs are saved too; ``refs`` overrides
    the refs saved (a replay saves them as they were before its fetch).
    """
    where = git_dir if git_dir is not None else (repo.git_dir if repo is not None else None)
    if where is None:
        return _NullJournal(root)
    refuse_if_pending(where, str(where), root)
    try:
        return _begin(operation, root, where, repo, backend, files, dirs, ref_scope, reset, refs)
    except BaseException:
        clear(where)  # nothing was changed yet: no half-written journal or saved copy stays behind
        raise


def _begin(
    operation: str,
    root: Path,
    where: Path,
    repo: GitRepo | None,
    backend: str | None,
    files: Sequence[str],
    dirs: Sequence[str],
    ref_scope: str,
    reset: bool,
    refs: Mapping[str, str] | None,
) -> Journal:
    """The body of :func:`begin`: the saved copies first, then the journal naming them."""
    home = _home(where)
    shutil.rmtree(home / _SAVED, ignore_errors=True)
    (home / _SAVED).mkdir(parents=True)
    index = repo.git_dir / "index" if repo is not None else None
    _reserve(home / _SAVED, index.stat().st_size if index is not None and index.is_file() else 0)
    data = JournalData(operation, backend, str(root))
    journal = Journal(where, data, repo)
    if repo is not None:
        assert index is not None
        data.checkout = SavedCheckout(
            head=repo.head(),
            head_ref=repo.head_ref(),
            index=journal._save(index.read_bytes()) if index.is_file() else None,
            refs=dict(refs) if refs is not None else _saved_refs(repo, ref_scope),
            ref_scope=ref_scope,
            reset=reset,
        )
    journal.note_files(files)
    journal.note_dirs(dirs)
    journal.write()
    return journal


_RESERVE = "reserve"
_RESERVE_MIN = 64 * 1024
_RESERVE_MAX = 64 * 1024 * 1024


def _reserve(saved: Path, index_bytes: int) -> None:
    """Set disk space aside for the undo: a verb that fills the disk can still be put back.

    Why: putting a checkout back writes files, HEAD, refs and the index; on a full disk that
    fails and the verb's half-done changes would stay.  The reserve (64 KiB and twice the index,
    allocated, not sparse) is removed first thing when undoing, so the undo has room.
    """
    size = min(_RESERVE_MAX, _RESERVE_MIN + 2 * index_bytes)
    fd = os.open(saved / _RESERVE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, size)
                return
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise OSError(exc.errno, exc.strerror, str(saved / _RESERVE)) from None
        os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def reopen(git_dir: Path, root: Path, repo: GitRepo | None) -> Journal:
    """The journal of a paused replay, to resume it (``continue`` / ``skip``)."""
    data = pending(git_dir, root)
    if data is None:
        raise UsageError("no journal to resume")
    return Journal(git_dir, data, repo)


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
) -> Iterator[Journal]:
    """Journal a verb: saved before its first change, restored if it fails, dropped when done.

    With ``repo`` the backend checkout's HEAD, index and ``refs/fspatch/*`` are saved too.
    A Python exception inside the block restores everything (the verb then reports its
    error with nothing changed); a kill leaves the journal for ``fspatch recover``.
    """
    from fspatch.core.lock import locked

    where = git_dir if git_dir is not None else (repo.git_dir if repo is not None else None)
    if where is None:
        yield begin(operation, root, repo=repo, git_dir=git_dir, backend=backend, files=files, dirs=dirs)
        return
    with locked(where, operation):  # one changing fspatch at a time (core/lock.py)
        yield from _journaled(operation, root, repo, git_dir, backend, files, dirs)


def _journaled(
    operation: str,
    root: Path,
    repo: GitRepo | None,
    git_dir: Path | None,
    backend: str | None,
    files: Sequence[str],
    dirs: Sequence[str],
) -> Iterator[Journal]:
    """The body of :func:`transaction`, run while the lock is held."""
    journal = begin(operation, root, repo=repo, git_dir=git_dir, backend=backend, files=files, dirs=dirs)
    if isinstance(journal, _NullJournal):
        yield journal
        return
    crash_point(f"{operation}:journal")
    with undone_on_error(journal):
        yield journal
    journal.done()


@contextmanager
def undone_on_error(journal: Journal) -> Iterator[Journal]:
    """A Python exception inside puts back every byte the journal saved, drops it, and is raised again.

    The error then says nothing was changed (an ``OSError`` becomes one environment line); when
    putting back fails too, the journal is kept for ``fspatch recover`` and the line says so.
    A kill inside leaves the journal as it is, for ``recover``.
    """
    try:
        yield journal
    except BaseException as exc:
        try:
            restore(journal.git_dir, journal.data)
        except Exception as undo:
            first = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            second = describe_os_error(undo) if isinstance(undo, OSError) else str(undo)
            raise EnvironmentFailure(
                f"{first}; putting things back failed too ({second}): the journal is kept, "
                "run 'fspatch recover' once that is fixed"
            ) from exc
        clear(journal.git_dir)
        if isinstance(exc, OSError):
            raise EnvironmentFailure(f"{describe_os_error(exc)}; nothing was changed") from exc
        if type(exc) is GitError:  # git refused a write (disk full, read-only): all put back
            raise GitError(f"{exc}; nothing was changed") from exc
        raise


def _files_below(root: Path, dirs: Sequence[str]) -> list[str]:
    """Files below the folders (symlinks skipped: their targets are not ours to save)."""
    out: list[str] = []
    for d in dirs:
        folder = root / d
        if folder.is_dir():
            for p in folder.rglob("*"):
                if p.is_file() and not p.is_symlink():
                    out.append(p.relative_to(root).as_posix() if not Path(d).is_absolute() else str(p))
    return out


# --------------------------------------------------------------------------- undoing


def restore(git_dir: Path, data: JournalData) -> list[str]:
    """Put back every byte the journal saved (checkout, refs, HEAD, index, files); the paths restored."""
    saved = _home(git_dir) / _SAVED
    (saved / _RESERVE).unlink(missing_ok=True)  # the room set aside for this undo
    root = Path(data.root)
    touched: list[str] = []
    ck = data.checkout
    if ck is not None:
        repo = GitRepo.open(git_dir.parent) if git_dir.name == ".git" else GitRepo.open(git_dir)
        if ck.head is not None and ck.reset:
            repo.reset_hard(ck.head)
        elif ck.head is not None and ck.paths:
            repo.checkout_paths(repo.tree_of(ck.head), ck.paths)
            touched.extend(ck.paths)
        wd = repo.workdir
        for path, blob in sorted(ck.worktree.items()):
            full = wd / path
            touched.extend(_drop_temp_copies(full, path))
            if full.is_symlink():
                full.unlink()  # the link itself is replaced, never written through
            if blob is None:
                full.unlink(missing_ok=True)
            else:
                atomic_write(full, (saved / blob).read_bytes(), root=wd)
            touched.append(path)
        current = _saved_refs(repo, ck.ref_scope)
        for name in sorted(set(current) | set(ck.refs)):
            if current.get(name) != ck.refs.get(name):
                repo.force_ref(name, ck.refs.get(name))
        if ck.head is not None:
            if ck.head_ref:
                repo.set_head_ref(ck.head_ref)
            else:
                repo.set_head(ck.head)
        if ck.index is not None:
            atomic_write(repo.git_dir / "index", (saved / ck.index).read_bytes())
    for rel, blob in sorted(data.files.items()):
        target = root / rel
        touched.extend(_drop_temp_copies(target, rel))
        if blob is None:
            if target.is_file() or target.is_symlink():
                target.unlink()
                touched.append(rel)
        elif atomic_write(target, (saved / blob).read_bytes(), root=None if Path(rel).is_absolute() else root):
            touched.append(rel)
    kept = set(data.kept_dirs)
    for d in data.dirs:
        folder = root / d
        if not folder.is_dir() or folder.is_symlink():
            continue
        absolute = Path(d).is_absolute()
        for p in sorted(folder.rglob("*"), reverse=True):
            rel = str(p) if absolute else p.relative_to(root).as_posix()
            if p.is_symlink():
                continue  # never saved, never ours
            if p.is_file() and rel not in data.files:
                p.unlink()
                touched.append(rel)
            elif p.is_dir() and rel not in kept and not any(p.iterdir()):
                p.rmdir()  # a folder the verb made and its files are gone again
        if d not in kept and not any(folder.iterdir()):
            folder.rmdir()
    return touched


def _drop_temp_copies(target: Path, rel: str) -> list[str]:
    """Remove the half-written ``.<name>.<12 hex>.tmp`` a kill inside ``atomic_write`` left beside ``target``.

    Why: the journal names the file, not the temporary copy ``atomic_write`` renames over it; a
    kill between the two left that copy behind after ``recover`` (seen by bench_kill on ``fmt``).
    Only fspatch's own pattern for a file the journal names is matched; links are not followed.
    """
    folder = target.parent
    if not folder.is_dir() or folder.is_symlink():
        return []
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}\.tmp")
    gone = []
    for p in folder.iterdir():
        if pattern.fullmatch(p.name) and (p.is_file() or p.is_symlink()):
            p.unlink()
            gone.append(str(Path(rel).parent / p.name))
    return gone


def recover(
    git_dir: Path, root: Path, *, paused_too: bool = False, outside: Path | None = None
) -> tuple[str, list[str]] | None:
    """Undo the verb journalled in this git dir: (operation, restored paths), or None.

    A paused replay is left waiting unless ``paused_too`` (that is ``abort``).  ``outside`` is
    the directory the user confirmed with ``recover --to DIR`` (an ``apply --to DIR`` journal).
    """
    data = pending(git_dir, root, outside=outside)
    if data is None or (data.paused and not paused_too):
        return None
    touched = restore(git_dir, data)
    clear(git_dir)
    return data.operation, touched
