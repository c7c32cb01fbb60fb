"""``fspatch squash A B``: make two patches of a layer one (``stg squash``).

B's change joins A: the combined patch is the diff from A's parent to the tree after both, it
keeps A's name and header (``-m`` gives a new description), and B leaves the series (its file
is removed).  When B is not right above A it is first moved there, in memory; if the patches
between them do not apply without it, nothing changes.  Both must be applied, or both
unapplied (an unapplied pair is combined on top of the applied part, in memory only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fspatch.core.lookup import find_patch
from fspatch.core.patch import parse_message
from fspatch.core.restack import LayerEdit, diff_between, execute, sources
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class SquashResult:
    backend: str
    layer: str
    dir: str
    into: str
    squashed: str
    files: tuple[str, ...]


def run(
    ws: Workspace, backend: str, first: str, second: str, *, message: str | None = None, layer: str | None = None
) -> SquashResult:
    s = Session.open(ws, backend)
    ref, a = find_patch(s, first, layer)
    _, b = find_patch(s, second, ref.vendor or "common")
    if a == b:
        raise UsageError(f"cannot squash {a} into itself")
    entries = s.entries(ref)
    ls = s.check_applied_prefix(ref, entries)
    names = [e.name for e in entries]
    applied = len(ls.applied)
    a_on, b_on = names.index(a) < applied, names.index(b) < applied
    if a_on != b_on:
        raise UsageError(f"{a} and {b} must both be applied or both unapplied; push or pop first")
    if a_on or applied:
        s.require_head_at_stack()
        s.require_top_layer(ref)
    order = [e for e in entries if e.name != b]
    ia = [e.name for e in order].index(a)
    moved = [*order[: ia + 1], entries[names.index(b)], *order[ia + 1 :]]
    # build up to B (now right above A) in memory from the layer's base
    upto = ia + 2
    built = s.builder().build(ls.base, sources(s, ref, moved[:upto], {}))
    parent = built[ia - 1].commit if ia else ls.base
    display = f"{ref.dir.as_posix()}/{a}"
    src = sources(s, ref, [entries[names.index(a)]], {})[0].patch
    combined = replace(src, files=diff_between(s, parent, s.repo.tree_of(built[ia + 1].commit), display))
    if message is not None:
        subject, description, trailers = parse_message(message)
        if not subject:
            raise UsageError("the message is empty; a patch needs at least a subject line")
        combined = replace(combined, subject=subject, description=description, trailers=trailers)
    new_applied = applied - 1 if a_on else applied
    execute(s, ref, ls, LayerEdit(tuple(order), {a: combined}, (b,), new_applied), f"squash {b} into {a}")
    files = sorted({p for fd in combined.files for p in (fd.old_path, fd.new_path) if p is not None})
    return SquashResult(s.backend.name, ref.label, ref.dir.as_posix(), a, b, tuple(files))
