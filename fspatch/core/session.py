"""A session: one backend's workspace files, checkout and stack state, opened together.

Every stack verb (apply, push, pop, refresh, new, …) starts from a session and
ends with ``commit``: the one place where the checkout is moved and the state
ref updated, in that order, after everything was computed in memory.  The stack
motions (push, pop, goto) are session operations in StGit's ``StackTransaction``
manner: each computes the new :class:`StackState` in memory and returns a
:class:`Motion`; the verb composing them executes once, with ``commit`` inside
``transaction`` (the journal).  So no verb ever calls another verb.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from fspatch.core import names
from fspatch.core.fetch import ensure_commit
from fspatch.core.journal import Journal, crash_point, refuse_if_pending, transaction
from fspatch.core.patch import Patch, parse_patch
from fspatch.core.series import SeriesEntry
from fspatch.core.stack import (
    STATE_REF,
    AppliedPatch,
    Builder,
    LayerState,
    PatchSource,
    StackState,
    load_state,
    save_state,
)
from fspatch.core.workspace import Backend, LayerRef, Workspace, read_patch_bytes, vendor_of_label
from fspatch.errors import DirtyCheckoutError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass
class Session:
    ws: Workspace
    backend: Backend
    repo: GitRepo
    state: StackState | None
    state_ref: str | None
    txn: Journal | None = None
    head_at_open: str | None = None

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(
        cls, ws: Workspace, name: str, *, fetch: bool = True, operation_ok: bool = False, read_only: bool = False
    ) -> Session:
        """Open a backend; refused while a pull-upstream/rebase-vendors waits (unless operation_ok)
        or an interrupted verb left a journal (unless read_only: status may look, never change)."""
        backend = ws.backend(name)
        path = ws.checkout_path(backend)
        if not GitRepo.is_repo(path):
            raise UsageError(
                f"backend '{backend.name}' has no checkout at {backend.path}; "
                f"run 'fspatch backend add {backend.name} --url {backend.url} --ref {backend.ref}'"
            )
        repo = GitRepo.open(path)
        if not read_only:
            refuse_if_pending(repo.git_dir, backend.path, ws.root, paused_ok=operation_ok)
            if (ws.root / ".git").is_dir():  # an interrupted export or import of the workspace
                refuse_if_pending(ws.root / ".git", "the workspace's .git", ws.root)
        if fetch:
            ensure_commit(repo, backend, ws.root)
        state, ref = load_state(repo)
        if state is None and repo.head() == backend.commit:
            # The checkout at its pinned upstream with no stack yet (right after backend add or
            # sync): an applied state whose layers are empty, as in quilt.  Saved on the first commit.
            state = StackState(backend.name, backend.commit, (LayerState("common", backend.commit, ()),))
        return cls(ws, backend, repo, state, ref, None, repo.head())

    @contextmanager
    def transaction(self, operation: str, files: Sequence[str] = (), dirs: Sequence[str] = ()) -> Iterator[Journal]:
        """Journal this verb's changes (workspace files, checkout, refs) until it is done."""
        with transaction(
            operation,
            self.ws.root,
            repo=self.repo,
            backend=self.backend.name,
            files=[str(f) for f in files],
            dirs=[str(d) for d in dirs],
        ) as txn:
            # The lock is held from here; what this verb computed must still be what is on disk.
            if self.repo.read_ref(STATE_REF) != self.state_ref or self.repo.head() != self.head_at_open:
                raise UsageError(
                    f"the stack of '{self.backend.name}' changed while this command was working "
                    "(another fspatch finished meanwhile); nothing was changed: run it again"
                )
            self.txn = txn
            try:
                yield txn
            finally:
                self.txn = None

    def layer_ref(self, vendor: str | None) -> LayerRef:
        """The layer ``--layer``/``--vendor`` names: ``common`` (or None) or a vendor (``vendor/NAME`` too)."""
        if vendor is not None:
            vendor = vendor.removeprefix("vendor/")
            if vendor == names.COMMON:
                return LayerRef(self.backend.name, None)
            self.ws.vendor_info(vendor)  # unknown vendor: clear error
        return LayerRef(self.backend.name, vendor)

    def current_layer(self, vendor: str | None, patch: str | None = None) -> LayerRef:
        """The layer a stack verb works on: the one named, else the layer PATCH names or is found
        in (``common/0004``, or a name only a lower layer has: :mod:`fspatch.core.names`), else
        the top applied layer."""
        if vendor is not None:
            return self.layer_ref(vendor)
        top = self._top_layer()
        if patch is None:
            return top
        layers = [LayerRef(self.backend.name, None), *self.ws.vendor_layers(self.backend.name)]
        if top not in layers:
            layers.append(top)
        found, _ = names.resolve(
            [
                names.LayerNames(ref.vendor, ref.dir.as_posix(), tuple(e.name for e in self.entries(ref)))
                for ref in layers
            ],
            patch,
            top.vendor,
            self.backend.name,
        )
        return LayerRef(self.backend.name, found)

    def _top_layer(self) -> LayerRef:
        if self.state is not None and self.state.layers:
            return LayerRef.from_label(self.backend.name, self.state.layers[-1].layer)
        return LayerRef(self.backend.name, None)

    def require_state(self) -> StackState:
        if self.state is None:
            raise UsageError(
                f"nothing applied for backend '{self.backend.name}'; run 'fspatch apply {self.backend.name}' first"
            )
        return self.state

    def require_head_at_stack(self, *, allow_descendant: bool = False) -> None:
        """Refuse to act when someone moved the checkout's HEAD away from the stack."""
        state = self.require_state()
        head = self.repo.head()
        if head == state.head:
            return
        if allow_descendant and head is not None and self.repo.descends_from(head, state.head):
            return
        raise UsageError(
            f"{self.backend.path}: HEAD ({(head or 'unborn')[:12]}) is not the top of the fspatch stack "
            f"({state.head[:12]}); check the stack out again with 'fspatch apply {self.backend.name} --force' "
            "or move HEAD back"
        )

    # -- series and patches -----------------------------------------------
    def entries(self, layer: LayerRef) -> list[SeriesEntry]:
        return self.ws.read_layer_series(layer)

    def source(self, layer: LayerRef, entry: SeriesEntry) -> PatchSource:
        path = self.ws.patch_path(layer, entry.name)
        display = f"{layer.dir}/{entry.name}"
        return PatchSource(entry.name, display, read_patch(path, display, entry.strip, self.ws.root))

    def builder(self) -> Builder:
        return Builder(self.repo, self.backend.commit)

    def layer_state(self, layer: LayerRef) -> LayerState | None:
        return self.state.layer(layer.label) if self.state is not None else None

    def check_applied_prefix(self, layer: LayerRef, entries: Sequence[SeriesEntry]) -> LayerState:
        """The layer's applied patches must be the first names of its series, in order."""
        state = self.require_state()
        ls = state.layer(layer.label)
        if ls is None:
            raise UsageError(
                f"layer {layer.label} of '{self.backend.name}' is not applied; "
                f"run 'fspatch apply {self.backend.name}{' --vendor ' + layer.vendor if layer.vendor else ''}'"
            )
        names = [e.name for e in entries]
        if names[: len(ls.applied)] != ls.names():
            raise UsageError(
                f"{layer.dir}/series changed under the applied patches; rebuild the stack with "
                f"'fspatch apply {self.backend.name}'"
            )
        return ls

    def applied_layer(
        self, vendor: str | None, patch: str | None = None
    ) -> tuple[LayerRef, list[SeriesEntry], LayerState]:
        """The layer a stack verb works on, its series, and its applied part (checked to agree)."""
        layer = self.current_layer(vendor, patch)
        entries = self.entries(layer)
        return layer, entries, self.check_applied_prefix(layer, entries)

    def require_top_layer(self, layer: LayerRef) -> None:
        state = self.require_state()
        idx = state.index_of(layer.label)
        above = [ls for ls in state.layers[idx + 1 :] if ls.applied]
        if above:
            raise UsageError(
                f"layer {above[0].layer} is applied on top of {layer.label}; pop it first "
                f"('fspatch pop -a --vendor {vendor_of_label(above[0].layer)}')"
            )

    # -- stack motions: computed in memory, executed by ``commit`` -----------
    def push_motion(
        self, layer: LayerRef, entries: Sequence[SeriesEntry], ls: LayerState, *, patch: str | None, all_: bool
    ) -> Motion:
        """Push the next patch, all of them, or up to PATCH (built in memory; nothing moves yet)."""
        pending = self.to_push(layer, entries, ls, patch=patch, all_=all_)
        applied = self.builder().build(ls.top, [self.source(layer, e) for e in pending])
        new_layer = replace(ls, applied=ls.applied + tuple(applied))
        state = self.require_state().with_layer(new_layer)
        return Motion(layer, state, tuple(e.name for e in pending), (), applied[-1].name)

    def to_push(
        self, layer: LayerRef, entries: Sequence[SeriesEntry], ls: LayerState, *, patch: str | None, all_: bool
    ) -> list[SeriesEntry]:
        """What push pushes: the next patch, all of them, or up to PATCH."""
        pending = list(entries[len(ls.applied) :])
        if not pending:
            raise UsageError(f"all patches of {layer.dir} are applied")
        if patch is not None:
            name = resolve_patch([e.name for e in entries], patch, layer)
            if name in ls.names():
                raise UsageError(f"{name} is already applied")
            pending = pending[: [e.name for e in pending].index(name) + 1]
        elif not all_:
            pending = pending[:1]
        return pending

    def pop_motion(
        self, layer: LayerRef, entries: Sequence[SeriesEntry], ls: LayerState, *, patch: str | None, all_: bool
    ) -> Motion:
        """Pop one patch, all of them, or down to (keeping) PATCH as the top, like ``quilt pop PATCH``."""
        names = ls.names()
        if not names:
            raise UsageError(f"no patches of {layer.dir} are applied")
        if all_:
            keep = 0
        elif patch is not None:
            name = resolve_patch([e.name for e in entries], patch, layer)
            if name not in names:
                raise UsageError(f"{name} is not applied")
            keep = names.index(name) + 1
            if keep == len(names):
                raise UsageError(f"{name} is already the top patch")
        else:
            keep = len(names) - 1
        state = self.require_state().with_layer(replace(ls, applied=ls.applied[:keep]))
        return Motion(layer, state, (), tuple(names[keep:]), names[keep - 1] if keep else None)

    def goto_motion(self, layer: LayerRef, entries: Sequence[SeriesEntry], ls: LayerState, patch: str) -> Motion:
        """Push or pop until PATCH is the top of its layer."""
        name = resolve_patch([e.name for e in entries], patch, layer)
        names = ls.names()
        if names and names[-1] == name:
            raise UsageError(f"{name} is already the top patch")
        if name in names:
            return self.pop_motion(layer, entries, ls, patch=name, all_=False)
        return self.push_motion(layer, entries, ls, patch=name, all_=False)

    # -- the end of every verb ---------------------------------------------
    def commit(
        self, new_state: StackState | None, *, reason: str, checkout: bool = True, force: bool = False
    ) -> list[str]:
        """Move the checkout to the new top (touching changed paths only), then the state ref."""
        touched: list[str] = []
        target = new_state.head if new_state is not None else self.backend.commit
        txn = self.txn
        if checkout and self.repo.head() != target:
            try:
                touched = self.repo.checkout(
                    target, reason=reason, force=force, before_write=txn.note_checkout if txn else None
                )
            except DirtyCheckoutError as exc:
                raise DirtyCheckoutError(exc.message, path=self.backend.path) from None
            crash_point(f"{txn.operation if txn else 'commit'}:checkout")
        self.state_ref = save_state(self.repo, new_state, self.state_ref, reason)
        self.state = new_state
        crash_point(f"{txn.operation if txn else 'commit'}:state")
        return touched


@dataclass(frozen=True)
class Motion:
    """A stack motion computed in memory: the new state, what it pushes and pops, the new top."""

    layer: LayerRef
    state: StackState
    pushed: tuple[str, ...]
    popped: tuple[str, ...]
    top: str | None


def read_patch(path: Path, display: str, strip: int = 1, root: Path | None = None) -> Patch:
    """Read and parse one patch file (size limit, no symlinks: ``read_patch_bytes``).

    An encrypted patch (by its name or its magic) is named as such: the stack verbs read
    plain files, only ``apply --key`` decrypts.
    """
    from fspatch.core.crypto import looks_encrypted

    data = read_patch_bytes(path, display, root)
    if looks_encrypted(path.name, data):
        raise UsageError(
            "encrypted patch: this verb needs the plain text; apply the layer with "
            "'fspatch apply BACKEND --key PRIVATE_PEM' (decrypted in memory only)",
            path=display,
        )
    return parse_patch(data, display, strip)


def pick_backend(ws: Workspace, name: str | None, cwd: Path | None = None) -> str:
    """The backend a verb means when none was named: the only one, the one we stand in, or the one applied."""
    backends = ws.backends()
    if name is not None:
        return ws.backend(name).name
    if not backends:
        raise UsageError("no backends in upstream.lock; add one with 'fspatch backend add'")
    if len(backends) == 1:
        return next(iter(backends))
    here = (cwd or Path(os.getcwd())).resolve()
    for b in backends.values():
        path = ws.checkout_path(b).resolve()
        if here == path or path in here.parents:
            return b.name
    applied = []
    for b in backends.values():
        path = ws.checkout_path(b)
        if GitRepo.is_repo(path):
            state, _ = load_state(GitRepo.open(path))
            if state is not None and any(ls.applied for ls in state.layers):
                applied.append(b.name)
    if len(applied) == 1:
        return applied[0]
    raise UsageError(
        "several backends in this workspace (" + ", ".join(sorted(backends)) + "); say which with -b BACKEND"
    )


def resolve_patch(patches: Sequence[str], query: str, layer: LayerRef) -> str:
    """A patch of ``layer`` by any name a person has for it (:mod:`fspatch.core.names`): the file
    name, without ``.patch``, the name given to ``new``, its number, a unique prefix, and the
    ``layer/name`` forms (whose layer part the caller already chose with ``current_layer``)."""
    q = names.split_query(query, layer.backend)
    return names.resolve_in_layer(names.LayerNames(layer.vendor, layer.dir.as_posix(), tuple(patches)), q.name)


def applied_names(ls: LayerState | None) -> list[str]:
    return ls.names() if ls is not None else []


__all__ = [
    "AppliedPatch",
    "Motion",
    "Session",
    "applied_names",
    "ensure_commit",
    "pick_backend",
    "read_patch",
    "resolve_patch",
]
