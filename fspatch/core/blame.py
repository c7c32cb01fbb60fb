"""Blame a file of the patched tree: each line's owner is upstream or the patch that added it.

How: the stack is built in memory (:func:`fspatch.core.review.build_steps`; the common layer,
then the chosen vendor layer).  Attribution starts with every line of the upstream file owned
by the upstream commit that last changed it (``upstream <short commit>``), from the adapter's
:meth:`~fspatch.git_adapter.GitRepo.blame` over the pinned commit's history in the checkout:
one walk of the file's history and one line diff per version, not a walk per line.  Then,
patch by patch, the file before and after the patch is line-diffed (libgit2, through the
adapter's ``line_hunks``) and the owners are carried forward: unchanged lines keep theirs,
lines the patch adds (or rewrites) become the patch's.  So a later patch that rewrites a line
an earlier patch added takes the line over, as ``git blame`` would.

Renames and copies are followed: the file's name at every step is found by walking the patches
backwards from the top, so a patch that renames ``a.py`` to ``b.py`` carries ``a.py``'s owners
into ``b.py``.  Lines are split on ``\\n`` only (a ``\\r`` stays in its line).
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.layers import PatchStep, StepError
from fspatch.core.review import build_steps, is_binary, split_lines
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import ConflictError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class Owner:
    """Who introduced a line: upstream (layer and patch None) or one patch of one layer."""

    kind: str  # "upstream" or "patch"
    commit: str  # the upstream commit that last changed the line, or the patch's (in-memory) stack commit
    layer: str | None = None  # "common" or "vendor/<name>"
    patch: str | None = None
    subject: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "upstream":
            return f"upstream {self.commit[:12]}"
        return f"{self.layer}/{self.patch}"


@dataclass(frozen=True)
class BlameLine:
    number: int  # 1-based
    owner: str  # Owner.label
    text: str  # decoded as UTF-8 (invalid bytes replaced), without the line's \n


@dataclass(frozen=True)
class BlameResult:
    backend: str
    path: str  # the path in the patched tree
    upstream: str
    layers: tuple[str, ...]
    owners: tuple[Owner, ...]  # every owner with at least one line, upstream first, stack order
    lines: tuple[BlameLine, ...]

    def counts(self) -> dict[str, int]:
        """Owner label → number of lines it owns."""
        out = {o.label: 0 for o in self.owners}
        for line in self.lines:
            out[line.owner] += 1
        return out


def _steps(s: Session, layers: list[LayerRef]) -> list[PatchStep]:
    steps: list[PatchStep] = []
    for step in build_steps(s, layers):
        if isinstance(step, StepError):
            raise ConflictError(f"cannot build the stack to blame: {step.message}", path=step.display)
        steps.append(step)
    return steps


def _names(steps: list[PatchStep], path: str) -> list[str]:
    """The file's name before each step (index i) and at the top (index len(steps))."""
    names = [path] * (len(steps) + 1)
    cur = path
    for i in range(len(steps) - 1, -1, -1):
        names[i + 1] = cur
        for fd in steps[i].source.patch.files:
            if fd.status in ("R", "C") and fd.new_path == cur and fd.old_path is not None:
                cur = fd.old_path
                break
        names[i] = cur
    return names


def carry(owners: list[Owner], hunks: list[tuple[int, int, int, int]], new_len: int, mine: Owner) -> list[Owner]:
    """Owners of the new text: unchanged lines keep theirs, added lines get ``mine``.

    ``hunks`` are 0-context line hunks ``(old_start, old_count, new_start, new_count)``, 1-based,
    where a count of 0 puts the start on the line *after which* the change sits.
    """
    out: list[Owner] = []
    old_i = 0
    for old_start, old_count, _new_start, new_count in hunks:
        first = old_start - 1 if old_count else old_start
        out.extend(owners[old_i:first])
        out.extend([mine] * new_count)
        old_i = first + old_count
    out.extend(owners[old_i:])
    if len(out) != new_len:  # the diff and our line split disagree: a bug, not bad input
        raise AssertionError(f"blame: {len(out)} owners for {new_len} lines")
    return out


def _upstream_owners(repo: GitRepo, pinned: str, path: str) -> list[Owner]:
    """Each line of the upstream file: the upstream commit that last changed it ([] if absent)."""
    if repo.entry(repo.tree_of(pinned), path) is None:
        return []
    made: dict[str, Owner] = {}
    out: list[Owner] = []
    for commit in repo.blame(pinned, path):
        owner = made.get(commit)
        if owner is None:
            subject = repo.commit_info(commit).message.split("\n", 1)[0]
            owner = made[commit] = Owner("upstream", commit, subject=subject)
        out.append(owner)
    return out


def blame(ws: Workspace, backend: str, path: str, vendor: str | None = None) -> BlameResult:
    """Attribute every line of ``path`` in the patched tree (common, plus ``vendor``'s layer)."""
    b = ws.backend(backend)
    layers = [LayerRef(b.name, None)]
    if vendor is not None:
        ws.vendor_info(vendor)
        layer = LayerRef(b.name, vendor)
        if layer not in ws.vendor_layers(b.name):
            raise UsageError(f"vendor {vendor!r} has no layer for backend {b.name!r} ({layer.dir.as_posix()}/)")
        layers.append(layer)
    s = Session.open(ws, b.name, operation_ok=True)
    repo = s.repo
    steps = _steps(s, layers)
    names = _names(steps, path)
    top_tree = steps[-1].tree if steps else repo.tree_of(b.commit)
    top = repo.read_file(top_tree, path)
    if top is None:
        where = " + ".join(["upstream", *(layer.label for layer in layers)])
        raise UsageError(f"{path}: no such file in the patched tree of '{b.name}' ({where})")
    if is_binary(top[0]):
        raise UsageError(f"{path}: binary file, nothing to blame line by line")

    owners = _upstream_owners(repo, b.commit, names[0])
    for i, step in enumerate(steps):
        before = repo.read_file(step.parent_tree, names[i])
        after = repo.read_file(step.tree, names[i + 1])
        before_data = before[0] if before is not None else b""
        after_data = after[0] if after is not None else b""
        if before_data == after_data and names[i] == names[i + 1]:
            continue
        mine = Owner("patch", step.commit, step.layer.label, step.source.name, step.source.patch.subject)
        if before is None:
            owners = []
        owners = carry(owners, repo.line_hunks(before_data, after_data), len(split_lines(after_data)), mine)

    lines = tuple(
        BlameLine(n, o.label, raw.decode("utf-8", "replace"))
        for n, (o, raw) in enumerate(zip(owners, split_lines(top[0]), strict=True), start=1)
    )
    seen: dict[str, Owner] = {}
    for o in owners:
        seen.setdefault(o.label, o)
    upstream_labels = list(dict.fromkeys(o.label for o in owners if o.kind == "upstream"))
    order = upstream_labels + [f"{st.layer.label}/{st.source.name}" for st in steps]
    used = tuple(seen[label] for label in order if label in seen)
    return BlameResult(b.name, path, b.commit, tuple(layer.label for layer in layers), used, tuple(lines))
