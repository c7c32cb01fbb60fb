"""``fspatch status``: per backend, the pin, the applied layers, and every way they disagree.

Why more than counts: the checkout's stack (``refs/fspatch/state``), the lock and the series
are three records that drift apart (a bot's bump, a ``git pull`` of the workspace, a series
edited by hand, a replay paused or left pending).  Each disagreement becomes a :class:`Note`
saying what is true and what to run; ``--format json`` carries the same notes and facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fspatch.core import journal
from fspatch.core.drift import UNAPPLIED, SeriesChange, describe, layer_changes, needs_rebuild, ref_names
from fspatch.core.journal import JournalData
from fspatch.core.journal_check import JournalRefused
from fspatch.core.replay_pending import PendingPatch, PendingSummary, pending_rel, summary
from fspatch.core.replay_report import RESOLVED
from fspatch.core.session import Session
from fspatch.core.stack import Builder, StackState
from fspatch.core.workspace import Backend, LayerRef, Workspace, vendor_of_label
from fspatch.errors import FspatchError, InputError
from fspatch.git_adapter import GitRepo

# Note kinds (stable: JSON consumers match on them).
NO_CHECKOUT = "no-checkout"
INTERRUPTED = "interrupted"
REFUSED = "journal-refused"  # a journal fspatch will not act on (issue 15): never "run recover"
PAUSED = "paused"
PENDING = "pending"
PENDING_INVALID = "pending-invalid"
STALE = "stale"
SERIES_CHANGED = "series-changed"
SERIES_INVALID = "series-invalid"
HEAD_MOVED = "head-moved"
NO_STACK = "no-stack"
DIRTY = "dirty"


@dataclass(frozen=True)
class Note:
    """One thing about a backend a person must know, and the command that deals with it."""

    kind: str
    message: str
    run: str = ""  # what to do, as shown: "run 'fspatch apply toy'"


@dataclass(frozen=True)
class LayerStatus:
    layer: str
    applied: int
    total: int
    top: str | None
    next: tuple[str, ...] = ()  # series patches after the top, not applied yet


@dataclass(frozen=True)
class BackendStatus:
    backend: str
    path: str
    ref: str
    upstream: str
    checkout: bool
    head: str | None
    head_at_stack: bool
    layers: tuple[LayerStatus, ...] = ()
    dirty: tuple[str, ...] = field(default_factory=tuple)
    waiting: str | None = None  # an interrupted verb or a paused replay, and what to run
    built_on: str | None = None  # the upstream commit the checkout's stack is built on
    built_on_ref: str | None = None
    pending: tuple[PendingPatch, ...] = ()
    series_changes: tuple[SeriesChange, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class StatusResult:
    root: str
    backends: tuple[BackendStatus, ...]


def run(ws: Workspace, backend: str | None = None) -> StatusResult:
    names = [ws.backend(backend).name] if backend else sorted(ws.backends())
    ws_git = ws.root / ".git"
    # export and import journal in the workspace's own git dir: shown with every backend.
    ws_journal = _read_journal(ws, ws_git) if ws_git.is_dir() else (None, None)
    return StatusResult(str(ws.root), tuple(_backend(ws, ws.backend(n), ws_journal) for n in names))


def _read_journal(ws: Workspace, git_dir: Path) -> tuple[JournalData | None, Note | None]:
    """The journal in a git dir, or the note saying fspatch refuses it (checked: core/journal_check.py)."""
    found = journal.outside_dir(git_dir)
    try:
        return journal.pending(git_dir, ws.root, outside=Path(found) if found else None), None
    except JournalRefused as exc:
        return None, Note(REFUSED, f"a journal fspatch refuses to act on: {exc.message}", "")


def _short(ref: str | None, commit: str) -> str:
    return f"{ref} ({commit[:12]})" if ref else commit[:12]


def _pending(ws: Workspace, b: Backend) -> tuple[PendingSummary | None, Note | None]:
    try:
        return summary(ws, b.name), None
    except InputError as exc:
        return None, Note(PENDING_INVALID, f"{pending_rel(b.name)}: {exc.message}", "run 'fspatch check'")


def _pending_note(b: Backend, p: PendingSummary, paused: bool) -> Note:
    count = f"{len(p.patches)} patch{'es' if len(p.patches) != 1 else ''}"
    if p.operation == "rebase-vendors":
        what = f"{count} pending from a bot rebase-vendors onto the common layer on {_short(p.new_ref, p.new_commit)}"
    else:
        what = (
            f"{count} pending from a bot replay "
            f"{_short(p.old_ref, p.old_commit)} -> {_short(p.new_ref, p.new_commit)}"
        )
    if paused:
        return Note(PENDING, what + " (the paused replay is working through them)")
    return Note(
        PENDING,
        what,
        f"run 'fspatch apply {b.name}', resolve, then 'fspatch continue' (or 'fspatch skip', 'fspatch abort')",
    )


def _journal_note(found: JournalData, resuming_pending: bool = False) -> Note:
    if not found.paused:
        return Note(INTERRUPTED, f"interrupted '{found.operation}'", f"run '{journal.recover_command(found)}'")
    plan = found.plan
    what = found.operation
    where = ""
    stop_kind = "a conflict"
    run = "edit the files, then run 'fspatch continue' (or 'fspatch skip', 'fspatch abort')"
    if plan is not None:
        if plan.operation == "pull-upstream":
            what += f" {plan.old_ref} -> {plan.new_ref}"
        if plan.stopped is not None:
            n = len(plan.stopped.paths)
            files = f"{n} file{'s' if n != 1 else ''}"
            if plan.stopped.outcome.status == RESOLVED:
                # The ladder resolved it; the stop shows the proposal before it is kept (no markers).
                stop_kind = "an automatic resolution"
                where = f" in {plan.stopped.layer}/{plan.stopped.patch} ({files} to review)"
                run = "review (or edit) the files, then run 'fspatch continue' (or 'fspatch skip', 'fspatch abort')"
            else:
                where = f" in {plan.stopped.layer}/{plan.stopped.patch} ({files} with conflict markers)"
    hand_over = ""
    if plan is not None and resuming_pending:
        # The bot's committed state is the hand-over: pull-upstream refuses while patches are pending.
        hand_over = "; to hand it back: 'fspatch abort' puts back the bot's pending state, already committed"
    elif plan is not None and plan.operation == "pull-upstream":
        hand_over = (
            f"; to hand it to someone else: 'fspatch abort', then 'fspatch pull-upstream {plan.backend} "
            f"{plan.new_ref} --no-stop' and commit"
        )
    return Note(
        PAUSED,
        f"{what} stopped at {stop_kind}{where}; the workspace files are unchanged until it finishes "
        f"(a commit now records none of it{hand_over})",
        run,
    )


def _apply_cmd(b: Backend, state: StackState | None) -> str:
    vendor = vendor_of_label(state.layers[-1].layer) if state is not None and state.layers else None
    return f"fspatch apply {b.name}" + (f" --vendor {vendor}" if vendor else "")


def _backend(ws: Workspace, b: Backend, ws_journal: tuple[JournalData | None, Note | None]) -> BackendStatus:
    pend, bad = _pending(ws, b)
    pending = pend.patches if pend is not None else ()
    notes: list[Note] = [bad] if bad is not None else []
    if not GitRepo.is_repo(ws.checkout_path(b)):
        # A workspace journal (export, import, fmt, vendor …) is shown with every backend,
        # a backend not cloned yet included: the verb that left it needed no checkout.
        waiting = None
        if ws_journal[1] is not None:
            notes.append(ws_journal[1])
            waiting = ws_journal[1].message
        elif ws_journal[0] is not None:
            notes.append(_journal_note(ws_journal[0]))
            waiting = f"interrupted '{ws_journal[0].operation}': run '{journal.recover_command(ws_journal[0])}'"
        if pend is not None and pending:
            notes.append(_pending_note(b, pend, False))
            notes.append(
                Note(NO_CHECKOUT, f"no checkout at {b.path}", f"run 'fspatch apply {b.name}' (it clones the checkout)")
            )
        else:
            notes.append(
                Note(NO_CHECKOUT, f"no checkout at {b.path}", "run 'fspatch sync' (clones it from upstream.lock)")
            )
        return BackendStatus(
            b.name, b.path, b.ref, b.commit, False, None, False, waiting=waiting, pending=pending, notes=tuple(notes)
        )
    s = Session.open(ws, b.name, fetch=False, read_only=True)
    head = s.repo.head()
    own, refused = _read_journal(ws, s.repo.git_dir)
    found = own or ws_journal[0]
    refused = refused or ws_journal[1]
    waiting = None
    if refused is not None:
        notes.append(refused)
        waiting = refused.message
    elif found is not None:
        jn = _journal_note(found, found.paused and bool(pending))
        notes.append(jn)
        waiting = (
            f"{found.operation} stopped at a conflict: 'fspatch continue', 'skip' or 'abort'"
            if found.paused
            else f"interrupted '{found.operation}': run '{journal.recover_command(found)}'"
        )
    busy = found is not None or refused is not None  # mid-operation: the stack and HEAD are not drift
    state = s.state
    apply_cmd = _apply_cmd(b, state)
    built_on = state.upstream if state is not None else None
    built_on_ref = None
    stale = state is not None and state.upstream != b.commit
    if stale and state is not None:
        built_on_ref = _name_of(s.repo, state.upstream, b, pend)
        if not busy:
            notes.append(
                Note(
                    STALE,
                    f"stack built on {_short(built_on_ref, state.upstream)}, lock pins {_short(b.ref, b.commit)}",
                    f"run '{apply_cmd}'",
                )
            )
    layers, changes = _layers(ws, s, stale or busy, busy, notes)
    if needs_rebuild(changes) and not stale:
        notes.append(Note(SERIES_CHANGED, f"series changed since applied: {describe(changes)}", f"run '{apply_cmd}'"))
    if pend is not None and pending:
        notes.append(_pending_note(b, pend, busy))
    at_stack = head == (state.head if state is not None else b.commit)
    if not busy and not at_stack:
        notes.append(_head_note(s, head, pend, apply_cmd))
    dirty = tuple(s.repo.dirty_paths())
    if dirty and not busy:
        n = len(dirty)
        notes.append(
            Note(
                DIRTY,
                f"{n} changed file{'s' if n != 1 else ''} not refreshed",
                f"run 'fspatch refresh -b {b.name}' (or discard them)",
            )
        )
    return BackendStatus(
        b.name,
        b.path,
        b.ref,
        b.commit,
        True,
        head,
        at_stack,
        tuple(layers),
        dirty,
        waiting,
        built_on,
        built_on_ref,
        pending,
        tuple(changes),
        tuple(notes),
    )


def _layers(
    ws: Workspace, s: Session, no_edits: bool, busy: bool, notes: list[Note]
) -> tuple[list[LayerStatus], list[SeriesChange]]:
    """Each applied layer against its series.  Whether a file still builds its commit is asked only
    of a stack on the pinned upstream with no operation in progress (``no_edits`` otherwise)."""
    name = s.backend.name
    if s.state is None:
        return [LayerStatus("common", 0, _total(ws, LayerRef(name, None), 0, notes), None)], []
    builder = None if no_edits else Builder(s.repo, s.state.upstream)
    layers: list[LayerStatus] = []
    changes: list[SeriesChange] = []
    for ls in s.state.layers:
        layer = LayerRef.from_label(name, ls.layer)
        found = [] if busy else layer_changes(ws, s.repo, builder, ls, layer)
        changes.extend(found)
        total = _total(ws, layer, len(ls.applied), notes)
        after = tuple(c.patch for c in found if c.change == UNAPPLIED)
        layers.append(LayerStatus(ls.layer, len(ls.applied), total, ls.applied[-1].name if ls.applied else None, after))
    return layers, changes


def _head_note(s: Session, head: str | None, pend: PendingSummary | None, apply_cmd: str) -> Note:
    """HEAD is neither the stack top nor, with no stack, the pinned commit."""
    b = s.backend
    shown = "unborn" if head is None else _short(_name_of(s.repo, head, b, pend), head)
    if s.state is None:
        return Note(
            NO_STACK,
            f"nothing applied, and HEAD {shown} is not the pinned {_short(b.ref, b.commit)}",
            f"run '{apply_cmd}'",
        )
    return Note(
        HEAD_MOVED,
        f"HEAD {shown} is not the stack top {s.state.head[:12]}",
        f"move HEAD back, or run '{apply_cmd} --force'",
    )


def _name_of(repo: GitRepo, commit: str | None, b: Backend, pend: PendingSummary | None) -> str | None:
    """How a person names an upstream commit: the pending file's old pin, the lock's, else a tag."""
    if commit is None:
        return None
    if pend is not None and pend.old_commit == commit:
        return pend.old_ref
    if commit == b.commit:
        return b.ref
    found = ref_names(repo, commit)
    return found[0] if found else None


def _total(ws: Workspace, layer: LayerRef, fallback: int, notes: list[Note]) -> int:
    """Patches in the layer's series; a series that cannot be read is a note (status still answers)."""
    try:
        return len(ws.read_layer_series(layer))
    except FspatchError as exc:
        notes.append(Note(SERIES_INVALID, str(exc), "run 'fspatch check'"))
        return fallback


__all__ = ["BackendStatus", "LayerStatus", "Note", "StatusResult", "run"]
