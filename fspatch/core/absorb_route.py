"""Which applied patch owns each edited hunk of the checkout (git-absorb's idea, on a layered stack).

The checkout's edits (HEAD = the stack top → the working tree) are cut into hunks: line hunks
with no context for a text file, one whole-file hunk for an added, deleted, binary, symlink or
mode change.  Each hunk is routed by the first rule that decides:

``lines``
    the latest applied patch (stack order: common layer, then the vendor layer) that last
    changed the lines the hunk rewrites.  A pure insertion belongs to a patch only when the
    lines on both sides of it (the one side, at an end of the file) are that patch's.
``file``
    a patch of the scope that changes this one file and nothing else (FlagScale keeps one
    patch per file: ``0012-megatron-core-timers.py.patch``).
``into``
    the patch ``--into`` names.
``new``
    in a *per-file layer* (every patch changes one file and is named after it, as FlagScale's
    ``tools/patch/patch.py`` and ``fspatch import flagscale`` name them) a file no patch of the
    layer changes gets a new patch named after it, at the top of the layer.
``top``
    the top applied patch of the scope.

The scope is one layer (``--layer``) or every applied layer.  Lines owned by a patch *below*
the scope count as not owned (a vendor layer edits common lines all the time); lines owned by
a patch *above* it are refused, since recording them lower would change what the upper patch
applies to.  Line ownership follows a file by its path (a patch that renames a file owns all
of its lines, as it wrote them).

Values in, values out: :func:`route_hunks` reads trees, never writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fspatch.core.blame import Owner, carry
from fspatch.core.names import bare, slug
from fspatch.core.review import is_binary, split_lines
from fspatch.core.stack import StackState
from fspatch.errors import UsageError
from fspatch.git_adapter import MODE_EXEC, MODE_FILE, Entry, GitRepo

RULES = ("lines", "file", "into", "new", "top")
_TEXT_MODES = (MODE_FILE, MODE_EXEC)


@dataclass(frozen=True)
class EditHunk:
    """One edited piece of the checkout: a 0-context line hunk, or a whole file (``kind`` != text)."""

    path: str
    kind: str  # "text", "added", "deleted", "binary", "mode", "link"
    old_start: int = 0  # 1-based as in a unified diff; for a count of 0, the line after which
    old_count: int = 0
    new_start: int = 0
    new_count: int = 0

    @property
    def where(self) -> str:
        """``path:line`` (the first new line, or where lines were removed), or ``path (added)``."""
        if self.kind != "text":
            return f"{self.path} ({self.kind})"
        line = self.new_start if self.new_count else max(self.new_start, 1)
        return f"{self.path}:{line}"

    @property
    def summary(self) -> str:
        return f"-{self.old_count} +{self.new_count}" if self.kind == "text" else self.kind


@dataclass(frozen=True)
class Slot:
    """One applied patch, by its position in the stack."""

    index: int  # in stack order, 0 = the lowest patch of the lowest layer
    layer_index: int
    patch_index: int
    layer: str  # "common" or "vendor/<name>"
    name: str
    commit: str
    parent: str


@dataclass(frozen=True)
class Route:
    """Where one hunk goes: a patch of a layer (``new``: a patch absorb creates) and why."""

    hunk: EditHunk
    layer: str
    patch: str
    rule: str  # one of RULES
    new: bool = False


def slots_of(state: StackState) -> list[Slot]:
    out: list[Slot] = []
    for li, ls in enumerate(state.layers):
        parent = ls.base
        for pi, ap in enumerate(ls.applied):
            out.append(Slot(len(out), li, pi, ls.layer, ap.name, ap.commit, parent))
            parent = ap.commit
    return out


def edit_hunks(repo: GitRepo, head_tree: str, work_tree: str) -> list[EditHunk]:
    """The checkout's edits against the stack top, file by file in path order."""
    out: list[EditHunk] = []
    for path, old, new in repo.changed_files(head_tree, work_tree):
        if old is None:
            out.append(EditHunk(path, "added"))
        elif new is None:
            out.append(EditHunk(path, "deleted"))
        elif old.mode not in _TEXT_MODES or new.mode not in _TEXT_MODES:
            out.append(EditHunk(path, "link"))
        elif old.mode != new.mode:
            out.append(EditHunk(path, "mode"))
        else:
            a, b = repo.read_blob(old.id), repo.read_blob(new.id)
            if is_binary(a) or is_binary(b):
                out.append(EditHunk(path, "binary"))
            else:
                out.extend(EditHunk(path, "text", *h) for h in repo.line_hunks(a, b))
    return out


def per_file_layer(repo: GitRepo, slots: Sequence[Slot], changed: dict[int, list[str]]) -> bool:
    """Every patch of these (one layer's) changes one file and is named after it (FlagScale's form)."""
    if not slots:
        return False
    return all(len(changed[s.index]) == 1 and bare(s.name) == slug(changed[s.index][0]) for s in slots)


def new_patch_name(path: str, existing: Sequence[str]) -> str:
    """FlagScale's per-file name with the layer's next number: ``0070-megatron-core-new_op.py.patch``."""
    numbers = [int(m.group(1)) for n in existing if (m := re.match(r"^(\d{4})-", n))]
    return f"{(max(numbers) + 1) if numbers else 1:04d}-{slug(path) or 'patch'}.patch"


class Router:
    """Routes hunks for one stack, one scope and one ``--into`` (see the module docstring)."""

    def __init__(
        self,
        repo: GitRepo,
        state: StackState,
        *,
        scope: str | None,
        into: tuple[str, str] | None,
        series: dict[str, list[str]],
        per_file: bool | None = None,
    ) -> None:
        self.repo = repo
        self.slots = slots_of(state)
        self.scope = scope
        self.into = into
        self.series = series  # layer label → every patch name of its series (for new names)
        labels = [ls.layer for ls in state.layers]
        if scope is not None and scope not in labels:
            vendor = scope.removeprefix("vendor/")
            raise UsageError(
                f"layer {scope} of '{state.backend}' is not applied; apply it first "
                f"('fspatch apply {state.backend} --vendor {vendor}')"
            )
        self.scope_index = labels.index(scope) if scope is not None else len(labels) - 1
        self.scope_label = labels[self.scope_index]
        self.changed = {s.index: repo.changed_paths(repo.tree_of(s.parent), repo.tree_of(s.commit)) for s in self.slots}
        in_scope = [s for s in self.slots if s.layer == self.scope_label]
        self.per_file = per_file_layer(repo, in_scope, self.changed) if per_file is None else per_file
        self._owners: dict[str, list[Owner]] = {}
        self._new: dict[str, str] = {}  # path → the new patch created for it

    # -- ownership ---------------------------------------------------------
    def _in_scope(self, s: Slot) -> bool:
        return self.scope is None or s.layer_index == self.scope_index

    def _above_scope(self, s: Slot) -> bool:
        return self.scope is not None and s.layer_index > self.scope_index

    def owners(self, path: str) -> list[Owner]:
        """Owner of every line of the stack top's ``path``: upstream, or the patch that last changed it."""
        if path in self._owners:
            return self._owners[path]
        repo = self.repo
        owners: list[Owner] | None = None
        for s in self.slots:
            if path not in self.changed[s.index]:
                continue
            before, after = _text(repo, s.parent, path), _text(repo, s.commit, path) or b""
            mine = Owner("patch", str(s.index), s.layer, s.name)  # commit holds the slot's index here
            n = len(split_lines(after))
            if before is None:  # the patch adds the file (or makes it text): every line is its own
                owners = [mine] * n
            else:
                if owners is None:
                    owners = [Owner("upstream", "")] * len(split_lines(before))
                owners = carry(owners, repo.line_hunks(before, after), n, mine)
        if owners is None:
            top = self.slots[-1].commit if self.slots else None
            data = _text(repo, top, path) if top else None
            owners = [Owner("upstream", "")] * len(split_lines(data or b""))
        self._owners[path] = owners
        return owners

    def _line_owner(self, h: EditHunk) -> Slot | None:
        if h.kind != "text":
            return None
        owners = self.owners(h.path)
        if h.old_count:
            touched = owners[h.old_start - 1 : h.old_start - 1 + h.old_count]
        else:
            sides = [owners[i] for i in (h.old_start - 1, h.old_start) if 0 <= i < len(owners)]
            if not sides or any(o != sides[0] for o in sides):
                return None
            touched = sides
        patches = [self.slots[int(o.commit)] for o in touched if o.kind == "patch"]
        if not patches:
            return None
        latest = max(patches, key=lambda s: s.index)
        if self._above_scope(latest):
            raise UsageError(
                f"{h.where}: the lines belong to {latest.layer}/{latest.name}, above layer {self.scope_label}; "
                f"record them there (fspatch absorb --layer {latest.layer}) or pop that layer first"
            )
        return latest if self._in_scope(latest) else None

    def _file_owner(self, h: EditHunk) -> Slot | None:
        mine = [s for s in self.slots if self._in_scope(s) and self.changed[s.index] == [h.path]]
        return mine[-1] if mine else None

    # -- routing -----------------------------------------------------------
    def route(self, h: EditHunk) -> Route:
        owner = self._line_owner(h)
        if owner is not None:
            return Route(h, owner.layer, owner.name, "lines")
        owner = self._file_owner(h)
        if owner is not None:
            return Route(h, owner.layer, owner.name, "file")
        if self.into is not None:
            return Route(h, self.into[0], self.into[1], "into")
        touched_in_scope = any(h.path in self.changed[s.index] for s in self.slots if s.layer == self.scope_label)
        if self.per_file and not touched_in_scope:
            name = self._new.get(h.path)
            if name is None:
                existing = [*self.series.get(self.scope_label, []), *self._new.values()]
                name = new_patch_name(h.path, existing)
                self._new[h.path] = name
            return Route(h, self.scope_label, name, "new", new=True)
        top = [s for s in self.slots if s.layer == self.scope_label] or [s for s in self.slots if self._in_scope(s)]
        if not top:
            raise UsageError(
                f"{h.where}: no applied patch in {self.scope_label} to record it in; "
                "create one with 'fspatch new NAME' or name one with --into"
            )
        return Route(h, top[-1].layer, top[-1].name, "top")


def route_hunks(router: Router, hunks: Sequence[EditHunk]) -> list[Route]:
    return [router.route(h) for h in hunks]


def _text(repo: GitRepo, commit: str | None, path: str) -> bytes | None:
    if commit is None:
        return None
    e: Entry | None = repo.entry(repo.tree_of(commit), path)
    if e is None or e.mode not in _TEXT_MODES:
        return None
    data = repo.read_blob(e.id)
    return None if is_binary(data) else data
