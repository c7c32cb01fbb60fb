"""``fspatch fold FILE``: fold a diff into the top patch (``quilt fold``, in memory).

The diff (a patch file, a ``git diff`` output, or stdin) is applied on the top patch's commit
in memory, without fuzz; the top patch is rewritten to hold both changes and the checkout moves
once to the result.  A hunk that does not apply, or a local edit the checkout would lose,
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fspatch.core.lookup import working_layer
from fspatch.core.patch import parse_patch
from fspatch.core.restack import LayerEdit, diff_between, execute, fold_files
from fspatch.core.session import Session, read_patch
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class FoldResult:
    backend: str
    layer: str
    patch: str
    path: str
    source: str
    files: tuple[str, ...]  # files of the top patch after folding


def run(
    ws: Workspace, backend: str, data: bytes, source: str, *, strip: int = 1, layer: str | None = None
) -> FoldResult:
    s = Session.open(ws, backend)
    s.require_head_at_stack()
    ref = working_layer(s, layer)
    entries = s.entries(ref)
    ls = s.check_applied_prefix(ref, entries)
    s.require_top_layer(ref)
    if not ls.applied:
        raise UsageError(f"no patches of {ref.dir.as_posix()} are applied; fold needs a top patch ('fspatch new NAME')")
    extra = parse_patch(data, source, strip)
    if not extra.files:
        raise UsageError(f"{source}: no diff to fold")
    top = ls.applied[-1]
    display = f"{ref.dir.as_posix()}/{top.name}"
    entry = next(e for e in entries if e.name == top.name)
    old = read_patch(ws.patch_path(ref, top.name), display, entry.strip, ws.root)
    tree = fold_files(s, top.commit, extra.files, source)
    parent = ls.applied[-2].commit if len(ls.applied) > 1 else ls.base
    folded = {p for fd in extra.files for p in (fd.old_path, fd.new_path) if p is not None}
    before = {(fd.old_path, fd.new_path): fd for fd in old.files}
    # files the fold does not touch keep their bytes (context, spelling) as refresh keeps them
    files = tuple(
        before.get((fd.old_path, fd.new_path), fd) if not ({fd.old_path, fd.new_path} & folded) else fd
        for fd in diff_between(s, parent, tree, display)
    )
    new = replace(old, files=files)
    execute(s, ref, ls, LayerEdit(tuple(entries), {top.name: new}, (), len(ls.applied)), f"fold {source}")
    paths = sorted({p for fd in new.files for p in (fd.old_path, fd.new_path) if p is not None})
    return FoldResult(s.backend.name, ref.label, top.name, display, source, tuple(paths))
