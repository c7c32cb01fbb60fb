"""Applying a patch that does not apply: 3-way from its ``index`` blobs, else ``.rej`` files.

What ``quilt push --merge`` and ``git am -3`` do, in memory.  Each file of the patch is first
applied exactly (with line offsets, never fuzz).  A file whose hunks fail is repaired in one of
two ways:

* **3-way merge** when the patch's ``index`` line names a full pre-image blob id and the
  checkout's repository has that blob: ancestor = that blob, theirs = the patch applied to it
  (exact, it was made there), ours = the file on the patch's parent.  A clean merge goes into
  the patch's commit; a conflict leaves the parent's file in the commit and conflict markers
  for the checkout (so ``refresh`` records the resolution as the patch's change): ``diff3``
  style (the base between ``|||||||`` and ``=======``) by default, ``merge`` style (ours and
  theirs only) when asked, as quilt's ``push --merge=merge|diff3``.
* **rejects** otherwise: the hunks that apply go into the commit, the others are written as
  ``FILE.rej`` (unified hunks, as GNU patch writes them) for the checkout.

Binary files, adds, deletes and mode-only changes that fail are not repairable here: the
original error is raised and nothing is built.  Nothing here touches a file; the caller writes
:attr:`MergeApply.worktree`'s paths into the checkout after checking the commit out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from fspatch.core.hunks import apply_hunks
from fspatch.core.patch import FileDiff, format_diff
from fspatch.core.stack import PatchSource, apply_files
from fspatch.errors import ConflictError, FspatchError, HunkFailed
from fspatch.git_adapter import MODE_FILE, Entry, GitRepo

_FULL_ID = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
APPLIED, MERGED, CONFLICT, REJECTED = "applied", "merged", "conflict", "rejected"


@dataclass(frozen=True)
class FileOutcome:
    path: str
    how: str  # applied, merged, conflict, rejected
    rejected: tuple[int, ...] = ()  # 1-based hunk numbers written to PATH.rej

    @property
    def rej_path(self) -> str:
        return self.path + ".rej"


@dataclass(frozen=True)
class MergeApply:
    """The patch's commit tree, and what the checkout must show on top of it (markers, .rej files)."""

    tree: str
    worktree: str
    worktree_paths: tuple[str, ...]
    files: tuple[FileOutcome, ...]

    @property
    def clean(self) -> bool:
        return all(f.how in (APPLIED, MERGED) for f in self.files)

    @property
    def repaired(self) -> bool:
        return any(f.how != APPLIED for f in self.files)


def _blob(repo: GitRepo, blob_id: str | None) -> bytes | None:
    if blob_id is None or not _FULL_ID.match(blob_id) or set(blob_id) == {"0"}:
        return None
    try:
        return repo.read_blob(blob_id)
    except (KeyError, ValueError, FspatchError):
        return None


def _repairable(fd: FileDiff) -> bool:
    return (
        fd.status in ("M", "R", "C")
        and bool(fd.hunks)
        and fd.binary is None
        and not fd.binary_no_data
        and fd.old_path is not None
        and fd.new_path is not None
    )


def reject_text(fd: FileDiff, numbers: list[int]) -> bytes:
    """The ``.rej`` file: the rejected hunks as a unified diff from ``--- a/PATH`` on."""
    only = replace(fd, hunks=tuple(fd.hunks[i - 1] for i in numbers), old_id=None, new_id=None, status="M")
    text = format_diff([only])
    start = text.find(b"\n--- ")
    return text[start + 1 :] if start >= 0 else text


def merge_apply(
    repo: GitRepo, parent: str, src: PatchSource, labels: tuple[str, str, str], style: str = "diff3"
) -> MergeApply:
    """Apply ``src`` on commit ``parent``, repairing failing files as the module doc says;
    ``style`` is the marker style (a key of :data:`fspatch.git_adapter.MERGE_STYLES`)."""
    tree = repo.tree_of(parent)
    extra: dict[str, Entry | None] = {}
    outcomes: list[FileOutcome] = []
    for fd in src.patch.files:
        try:
            tree = apply_files(repo, tree, [fd])
            outcomes.append(FileOutcome(fd.path, APPLIED))
            continue
        except (HunkFailed, ConflictError) as exc:
            if not _repairable(fd):
                raise ConflictError(exc.message, path=src.display) from None
            failure = exc
        assert fd.old_path is not None and fd.new_path is not None
        ours_entry = repo.entry(tree, fd.old_path)
        if ours_entry is None:
            raise ConflictError(failure.message, path=src.display)
        ours = repo.read_blob(ours_entry.id)
        mode = fd.new_mode or ours_entry.mode or MODE_FILE
        base = _blob(repo, fd.old_id)
        theirs: bytes | None = None
        if base is not None:
            try:
                theirs = apply_hunks(base, fd.hunks, fd.path)
            except HunkFailed:
                theirs = None
        changes: dict[str, Entry | None] = {}
        if fd.new_path != fd.old_path:
            changes[fd.old_path] = None
        if base is not None and theirs is not None:
            got = repo.merge_file(
                fd.path, repo.write_blob(base), ours_entry.id, repo.write_blob(theirs), ours_entry.mode, labels, style
            )
            if got is not None and got[0]:
                changes[fd.new_path] = Entry(repo.write_blob(got[1]), mode)
                tree = repo.update_tree(tree, changes)
                outcomes.append(FileOutcome(fd.path, MERGED))
                continue
            if got is not None:
                changes[fd.new_path] = Entry(ours_entry.id, mode)
                tree = repo.update_tree(tree, changes)
                extra[fd.new_path] = Entry(repo.write_blob(got[1]), mode)
                outcomes.append(FileOutcome(fd.path, CONFLICT))
                continue
        content = ours
        rejected: list[int] = []
        for i, hunk in enumerate(fd.hunks, 1):
            try:
                content = apply_hunks(content, [hunk], fd.path)
            except HunkFailed:
                rejected.append(i)
        changes[fd.new_path] = Entry(repo.write_blob(content), mode)
        tree = repo.update_tree(tree, changes)
        extra[fd.new_path + ".rej"] = Entry(repo.write_blob(reject_text(fd, rejected)), MODE_FILE)
        outcomes.append(FileOutcome(fd.path, REJECTED, tuple(rejected)))
    worktree = repo.update_tree(tree, extra) if extra else tree
    return MergeApply(tree, worktree, tuple(sorted(extra)), tuple(outcomes))


__all__ = ["APPLIED", "CONFLICT", "MERGED", "REJECTED", "FileOutcome", "MergeApply", "merge_apply", "reject_text"]
