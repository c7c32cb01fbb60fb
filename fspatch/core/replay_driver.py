"""The replay driver: a plan run with a session, its journal, the checkout and the workspace files.

The engine (:mod:`fspatch.core.replay`) only makes git objects; this module does what
surrounds it: the journal before the first change (with the plan, kept while a stop
waits), the conflicted checkout at a stop, and at the end the rewritten patch files,
series, layer bases and lock (through :class:`~fspatch.core.workspace.Workspace`), then
the new stack checked out and the state ref moved.
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fspatch.core import replay_pending
from fspatch.core.journal import Journal, begin, crash_point, paused_replay, reopen, undone_on_error
from fspatch.core.journal_check import ALL_REFS
from fspatch.core.layers import common_fingerprint
from fspatch.core.patch import Patch, parse_patch
from fspatch.core.replay import Progress, Replayer, new_patch_bytes
from fspatch.core.replay_plan import LayerPlan, Plan
from fspatch.core.replay_report import (
    CONFLICT,
    DROPPED,
    RESOLVED,
    SKIPPED,
    PatchOutcome,
    ReplayReport,
    outcome_from_dict,
    summarize,
)
from fspatch.core.session import Session, read_patch
from fspatch.core.stack import Builder, LayerState, StackState, load_state, save_state
from fspatch.core.workspace import DEFAULT_SETTINGS, LayerRef, Workspace, vendor_of_label
from fspatch.errors import ConflictError, DirtyCheckoutError, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from fspatch.core.ladder import Ladder
    from fspatch.core.read_ahead import ReadAhead
    from fspatch.core.series import SeriesEntry
    from fspatch.git_adapter import BackgroundCheckout, LocalChanges


@dataclass(frozen=True)
class OperationResult:
    """What pull-upstream / rebase-vendors / continue / skip return."""

    report: ReplayReport
    stopped: bool  # an interactive stop: conflicts are checked out, waiting for continue/skip/abort
    checkout: str  # the backend checkout, relative to the workspace
    conflict_files: tuple[str, ...]  # files with conflict markers in the checkout (at a stop)
    written: tuple[str, ...]  # workspace files written when the replay finished
    pending: str = ""  # the pending record a bot run wrote (workspace-relative), else ""


class Driver:
    """Runs a plan with a session: journal at stops, workspace files and checkout at the end."""

    def __init__(
        self,
        session: Session,
        plan: Plan,
        progress: Progress | None = None,
        ahead: ReadAhead | None = None,
        read: Mapping[tuple[str, str], Patch] | None = None,
    ) -> None:
        """``read``: patches the caller already parsed from their files, by (layer label, name)."""
        self.s = session
        self.plan = plan
        self.progress = progress
        self.ahead = ahead  # a read-ahead the caller started (and closes): given to the replayer
        self._read_patch = read_patch
        self._patches: dict[tuple[str, str], Patch] = {}
        self._read = dict(read or {})
        self._strip: dict[str, dict[str, int]] = {}
        self._old: dict[tuple[str, str], tuple[int, bytes]] | None = None
        self._decided: dict[tuple[str, str], str] = {}  # the bot run's already-upstream sides keys
        self._running: Replayer | None = None  # the replayer drive ran (settled in finalize)
        self._pending_written = ""  # finalize's pending record, when it wrote one

    def layer(self, lp: LayerPlan) -> LayerRef:
        return LayerRef(self.plan.backend, lp.vendor)

    def patch_of(self, lp: LayerPlan, name: str) -> Patch:
        key = (lp.label, name)
        if key not in self._patches:
            layer = self.layer(lp)
            if lp.label not in self._strip:
                self._strip[lp.label] = {e.name: e.strip for e in self.s.ws.read_layer_series(layer)}
            display = f"{layer.dir.as_posix()}/{name}"
            strip = self._strip[lp.label].get(name, 1)
            old = self._pending_old().get(key)
            if old is not None:
                self._patches[key] = parse_patch(old[1], display, old[0])
            elif key in self._read:  # parsed from the same file moments ago (72 patches: ~25 ms)
                self._patches[key] = self._read[key]
            else:
                self._patches[key] = self._read_patch(self.s.ws.patch_path(layer, name), display, strip)
        return self._patches[key]

    def _pending_old(self) -> dict[tuple[str, str], tuple[int, bytes]]:
        """(strip, old bytes) of the patches a bot run rewrote, while its pending patches are resumed.

        Why: the replay merges each patch's *old* version (its trees come from these bytes), so
        its hunk headers and the already-upstream (reverse-apply) test must read the same old
        patch, not the file the bot rewrote for the new pin (an upstreamed one has no diff left).
        """
        if self._old is None:
            self._old = {}
            data = replay_pending.load(self.s.ws, self.plan.backend)
            if data is not None and str(data["old"]["commit"]) == self.plan.old_commit:
                for layer_data in data["layers"]:
                    for e in layer_data["series"]:
                        if "old_bytes" in e:
                            raw = base64.b64decode(str(e["old_bytes"]))
                            self._old[(str(layer_data["label"]), str(e["name"]))] = (int(e["strip"]), raw)
        return self._old

    def _bot_decisions(self) -> dict[tuple[str, str], tuple[str, PatchOutcome]]:
        """Resuming: the conflicting patches the bot found already upstream, with its merge's sides key.

        Why: the patches after the first pending one are replayed again; one whose files are
        on every side as the bot saw them keeps the bot's decision (docs/replay-pending.md).
        """
        data = replay_pending.load(self.s.ws, self.plan.backend)
        if data is None or str(data["old"]["commit"]) != self.plan.old_commit:
            return {}
        outcomes = {(o.layer, o.patch): o for o in (outcome_from_dict(d) for d in data["outcomes"])}
        out = {}
        for layer_data in data["layers"]:
            for e in layer_data["series"]:
                key = (str(layer_data["label"]), str(e["name"]))
                if "sides" in e and key in outcomes:
                    out[key] = (str(e["sides"]), outcomes[key])
        return out

    def replayer(self) -> Replayer:
        rp = self._replayer()
        rp.keep = self._bot_decisions()
        return rp

    def _replayer(self) -> Replayer:
        if self.plan.resolve == "none":
            return Replayer(self.s.repo, self.plan, self.progress, ahead=self.ahead)
        settings = self.s.ws.settings()
        # The defaults need no check (and the markers module, ~5 ms to import, is then loaded only
        # by the ladder at a first conflict).
        if isinstance(settings, dict) and settings and settings != DEFAULT_SETTINGS:
            from fspatch.core.markers import MarkerConfig

            MarkerConfig.from_settings(settings)  # bad settings are refused before anything moves
        root, backend, mode = self.s.ws.root, self.plan.backend, self.plan.resolve

        def ladder() -> Ladder:
            from fspatch.core.auto_resolve import ladder_for

            return ladder_for(root, backend, mode, settings)

        return Replayer(self.s.repo, self.plan, self.progress, ladder, self.ahead)

    def rewritten_header(self, lp: LayerPlan, name: str) -> Patch:
        """The patch's header for its rewrite: a ladder-resolved patch names its resolutions as trailers."""
        patch = self.patch_of(lp, name)
        outcome = next((o for o in reversed(self.plan.outcomes) if o.layer == lp.label and o.patch == name), None)
        if outcome is None or outcome.status != RESOLVED or not outcome.resolutions:
            return patch
        from fspatch.core.auto_resolve import with_trailers

        return replace(patch, trailers=with_trailers(patch.trailers, outcome.resolutions))

    def drive(self, journal: Journal) -> OperationResult:
        """Run the plan on; at a stop keep the journal (paused) and check the conflict out, else finish."""
        repo = self.s.repo
        # The replay's objects stay in memory past it only for a bot replay that leaves conflicts:
        # it writes workspace files alone after it, so they are packed on the second core meanwhile.
        # Otherwise they are written when the replay ends, and finalize works on the usual handle
        # (the memory's own handle would read the checkout's index a second time: +26 MiB at 80k files).
        with contextlib.ExitStack() as memory:
            memory.enter_context(repo.objects_in_memory())
            return self._drive(journal, memory)

    def _drive(self, journal: Journal, memory: contextlib.ExitStack) -> OperationResult:
        rp = self._running = self.replayer()
        # Culprits still owed by the read-ahead are taken once the patch files are written.
        stop = rp.run(self.patch_of, settle=False)
        self._decided = rp.decided
        repo = self.s.repo
        if not (stop is None and self._conflicts() and repo.pack_beside()):
            memory.close()  # written now (a pack beside is reaped when drive's scope ends)
        if stop is not None:
            # The conflict is checked out first, then the journal says paused: a kill in between
            # leaves a running journal that recover rolls back, never a paused replay whose
            # checkout is half written (bench_kill found one: files of neither state).
            repo.reset_hard(stop.ours_commit)
            ours_tree = repo.tree_of(stop.ours_commit)
            paths = repo.changed_paths(ours_tree, stop.conflict_tree)
            repo.write_worktree(stop.conflict_tree, paths)
            crash_point(f"{self.plan.operation}:stop-checkout")
            journal.pause(self.plan)
            files = tuple(sorted({f.path for f in stop.files}))
            report = self.plan.report(False)
            report = replace(report, patches=report.patches + (stop.outcome,))
            counts, summary = summarize(report.patches, self.plan.total())
            report = replace(report, counts=counts, summary=summary)
            return OperationResult(report, True, self.s.backend.path, files, ())
        written = self.finalize()
        journal.done()
        return OperationResult(
            self.plan.report(True), False, self.s.backend.path, (), tuple(written), self._pending_written
        )

    def finalize(self) -> list[str]:
        """Write patches, series, layer bases and the lock; check out the new stack when clean."""
        plan, ws, repo = self.plan, self.s.ws, self.s.repo
        old_series = {lp.label: ws.read_layer_series(self.layer(lp)) for lp in plan.layers}
        conflicts = self._conflicts()
        # The old patch bytes go into the pending file, which only a replay with conflicts writes
        # (``any_conflict`` below implies ``conflicts``): a clean one does not read them again.
        old_bytes: dict[tuple[str, str], bytes] = {}
        if conflicts:
            old_bytes = {
                (lp.label, name): ws.patch_path(self.layer(lp), name).read_bytes()
                for lp in plan.layers
                for name in lp.names
                if ws.patch_path(self.layer(lp), name).is_file()
            }
        bases = replay_pending.old_bases(repo, plan) if conflicts else {}  # checked before any write
        state, state_ref = load_state(repo)
        layers = self._checkout_layers(state)
        # A clean replay's checkout is written on a second thread while the patch files are.
        early = None if conflicts else self._start_checkout(layers)
        try:
            return self._write_files(old_series, old_bytes, bases, state, state_ref, layers, early)
        except BaseException:
            if early is not None:  # the journal's undo must find the files written, not being written
                with contextlib.suppress(Exception):
                    early.join()
            raise

    def _write_files(
        self,
        old_series: dict[str, list[SeriesEntry]],
        old_bytes: dict[tuple[str, str], bytes],
        bases: dict[str, bytes],
        state: StackState | None,
        state_ref: str | None,
        layers: list[LayerRef],
        early: BackgroundCheckout | None,
    ) -> list[str]:
        s, plan, ws, repo = self.s, self.plan, self.s.ws, self.s.repo
        written: list[str] = []
        any_conflict = False
        for lp in plan.layers:
            layer = self.layer(lp)
            entries = old_series[lp.label]  # read by finalize just before; nothing written to it since
            drop: set[str] = set()
            parent = lp.new_base
            for i, name in enumerate(lp.names):
                status = lp.status[i] if i < len(lp.status) else CONFLICT
                new = lp.new[i] if i < len(lp.new) else None
                if status in (SKIPPED, DROPPED):
                    drop.add(name)
                elif status == CONFLICT:
                    any_conflict = True
                elif new is not None:
                    assert parent is not None
                    display = f"{layer.dir.as_posix()}/{name}"
                    data = new_patch_bytes(repo, self.rewritten_header(lp, name), parent, new, display)
                    if ws.rewrite_patch(layer, name, data):  # in place: the journal saved every layer file
                        written.append(display)
                    parent = new
            if drop:
                ws.write_layer_series(layer, [e for e in entries if e.name not in drop])
                written.append(f"{layer.dir.as_posix()}/series")
                for name in sorted(drop):
                    ws.delete_patch(layer, name)
                    written.append(f"{layer.dir.as_posix()}/{name}")
        crash_point(f"{plan.operation}:patches")
        if self._running is not None:  # every outcome complete (culprits) before the lock and the pending record
            self._running.settle()
        backend = ws.backend(plan.backend)
        if plan.operation == "pull-upstream":
            backend = replace(backend, ref=plan.new_ref, commit=plan.new_commit)
            ws.set_backend(backend)
            ws.save_lock()
            written.append("upstream.lock")
            crash_point(f"{plan.operation}:lock")
        fingerprint: str | None = None  # read (every common patch file) only for a vendor layer with a layer.yaml
        for lp in plan.layers:
            if lp.vendor is None or CONFLICT in lp.status:
                continue
            layer = self.layer(lp)
            if not (ws.layer_dir(layer) / "layer.yaml").is_file():
                continue
            if fingerprint is None:
                fingerprint = common_fingerprint(ws, plan.backend)
            meta = ws.layer_meta(layer)
            base = {"upstream_commit": plan.new_commit, "common_fingerprint": fingerprint}
            old = meta.get("base")
            if old is None or dict(old) != base:
                meta["base"] = base
                ws.save_layer_meta(layer, meta)
                written.append(f"{layer.dir.as_posix()}/layer.yaml")
        if any_conflict:
            self._pending_written = replay_pending.record(ws, plan, old_series, old_bytes, bases, self._decided)
            written.append(self._pending_written)
            return written
        cleared = replay_pending.clear(ws, plan.backend)
        if cleared is not None:
            written.append(cleared)
        # Build the new stack from the files just written (exactly what `apply` will build).
        builder = Builder(repo, plan.new_commit)
        layer_base = plan.new_commit
        states = []
        for layer in layers:
            sources = [s.source(layer, e) for e in ws.read_layer_series(layer)]
            applied = builder.build(layer_base, sources)
            states.append(LayerState(layer.label, layer_base, tuple(applied)))
            top = applied[-1].commit if applied else layer_base
            want = next((lp.top for lp in plan.layers if lp.label == layer.label), None)
            if want is not None and repo.tree_of(want) != repo.tree_of(top):
                raise ConflictError(f"{layer.dir.as_posix()}: rewritten patches do not rebuild the replayed tree")
            layer_base = top
        new_state = StackState(plan.backend, plan.new_commit, tuple(states))
        if early is not None:
            early.join()
            repo.set_head(new_state.head)
        else:
            repo.reset_hard(new_state.head, discard_local=self._handed_over())
        crash_point(f"{plan.operation}:checkout")
        save_state(repo, new_state, state_ref, f"{plan.operation} {plan.new_ref}")
        crash_point(f"{plan.operation}:state")
        return written


    def _conflicts(self) -> bool:
        """Did the replay leave a patch unreplayed (then nothing is checked out, a pending record is written)?"""
        return any(CONFLICT in lp.status or len(lp.status) < len(lp.names) for lp in self.plan.layers)

    def _handed_over(self) -> bool:
        """A person resolved or skipped a patch: their edits in the checkout are discarded by the final one."""
        return any(st in (RESOLVED, SKIPPED) for lp in self.plan.layers for st in lp.status)

    def _checkout_layers(self, state: StackState | None) -> list[LayerRef]:
        """The layers the new checkout stacks: the common one, and the vendor layer applied before."""
        plan = self.plan
        layers = [LayerRef(plan.backend, None)]
        if state is not None and len(state.layers) > 1 and vendor_of_label(state.layers[-1].layer) is not None:
            layers.append(LayerRef.from_label(plan.backend, state.layers[-1].layer))
        elif plan.operation == "rebase-vendors":
            # No vendor layer applied (a fresh clone resuming a bot's pending patches): the layer a
            # person resolved or skipped in is the one they were working on.
            handled = [lp for lp in plan.layers if RESOLVED in lp.status or SKIPPED in lp.status]
            if handled:
                layers.append(LayerRef(plan.backend, handled[-1].vendor))
        return layers

    def _start_checkout(self, layers: list[LayerRef]) -> BackgroundCheckout | None:
        """The new stack's files written on a thread, when the replay already knows its tree.

        The top layer's replayed commit has the tree the rebuilt stack must have (finalize checks
        every layer's); a layer the plan did not replay leaves it unknown, and the checkout waits.
        """
        tops = {lp.label: lp.top for lp in self.plan.layers}
        want = tops.get(layers[-1].label)
        if want is None or any(tops.get(layer.label) is None for layer in layers):
            return None
        repo = self.s.repo
        head = repo.head()
        target = repo.tree_of(want)
        wanted = set(repo.changed_paths(repo.tree_of(head) if head else repo.empty_tree(), target))
        if self._handed_over():
            wanted |= set(repo.dirty_paths())
        return repo.start_checkout(target, sorted(wanted))


def start_operation(
    session: Session,
    plan: Plan,
    progress: Progress | None,
    refs_before: dict[str, str] | None = None,
    ahead: ReadAhead | None = None,
    read: Mapping[tuple[str, str], Patch] | None = None,
) -> OperationResult:
    """Journal the originals (refs as they were before any fetch) with the plan, then drive it
    (``ahead``: the caller's read-ahead of the upstream range, see :mod:`fspatch.core.read_ahead`;
    ``read``: the patches the caller parsed from the layers' files to build the old stacks)."""
    ws, repo = session.ws, session.repo
    dirs = [LayerRef(plan.backend, lp.vendor).dir.as_posix() for lp in plan.layers]
    dirs.append(LayerRef(plan.backend, None).dir.as_posix())
    journal = begin(
        plan.operation,
        ws.root,
        repo=repo,
        backend=plan.backend,
        files=["upstream.lock"],
        dirs=sorted(set(dirs)),
        ref_scope=ALL_REFS,
        reset=True,
        refs=refs_before,
    )
    journal.data.plan = plan
    journal.write()
    crash_point(f"{plan.operation}:journal")
    # An error before the replay ends (the final checkout refused, say) puts everything back:
    # the lock, the patch files, the checkout and the refs the fetch moved.  (continue and skip
    # do not: their journal holds the pull's originals, and a person's resolution is in the checkout.)
    with undone_on_error(journal):
        return Driver(session, plan, progress, ahead, read).drive(journal)


def resume_pending(ws: Workspace, backend: str, progress: Progress | None) -> OperationResult:
    """Enter the first pending patch of a bot replay like an interactive stop (fresh clone included)."""
    replay_pending.ensure_checkout(ws, backend)
    s = Session.open(ws, backend, operation_ok=False)
    dirty = s.repo.dirty_paths()
    if dirty:
        raise DirtyCheckoutError(
            "local changes in the checkout: " + ", ".join(dirty[:5]) + "; refresh or discard them first",
            path=s.backend.path,
        )
    refs_before = s.repo.direct_refs()
    plan = replay_pending.resume_plan(ws, s.repo, s.backend.name)
    return start_operation(s, plan, progress, refs_before)


def resume_operation(session: Session, progress: Progress | None) -> tuple[Driver, Journal]:
    """The paused replay of this backend, to continue or skip (its journal marked running again)."""
    journal = reopen(session.repo.git_dir, session.ws.root, session.repo)
    assert journal.data.plan is not None
    journal.resume()
    return Driver(session, journal.data.plan, progress), journal


def check_ready(s: Session) -> None:
    """No operation in progress, HEAD on the stack, no local edits (a replay checks out)."""
    _check_quick(s)
    _refuse_local_changes(s, s.repo.dirty_paths() if s.repo.has_local_changes() else [])


class ReadyCheck:
    """:func:`check_ready` begun: its quick checks passed, its scan for local edits maybe still running."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self._scan: LocalChanges | None = session.repo.local_changes_beside()

    def wait(self) -> None:
        """The scan's verdict (DirtyCheckoutError as :func:`check_ready` raises it); at most once."""
        if self._scan is None:
            return
        scan, self._scan = self._scan, None
        _refuse_local_changes(self._s, scan.paths())

    def close(self) -> None:
        """Reap the scan's child, waited for or not."""
        if self._scan is not None:
            self._scan.close()
            self._scan = None


def start_ready_check(s: Session) -> ReadyCheck:
    """:func:`check_ready` with its slow part, the scan for local edits (~0.3 s on an 80k-file
    checkout), beside the caller: :meth:`ReadyCheck.wait` must come before the first write
    (a fetch, an object written, the journal) and :meth:`ReadyCheck.close` after all."""
    _check_quick(s)
    return ReadyCheck(s)


def _check_quick(s: Session) -> None:
    waiting = paused_replay(s.repo.git_dir, s.ws.root)
    if waiting is not None:
        raise UsageError(
            f"a {waiting.operation} of '{s.backend.name}' is already in progress; "
            "run 'fspatch continue', 'fspatch skip' or 'fspatch abort'"
        )
    pend = replay_pending.summary(s.ws, s.backend.name)
    if pend is not None and pend.patches:
        raise UsageError(
            f"{len(pend.patches)} patch(es) of '{s.backend.name}' are pending from a bot {pend.operation} "
            f"(first {pend.patches[0].display}); finish them first: 'fspatch apply {s.backend.name}', "
            "resolve, 'fspatch continue' (or 'skip', 'abort')"
        )
    if s.state is not None:
        s.require_head_at_stack()


def _refuse_local_changes(s: Session, dirty: Sequence[str]) -> None:
    if dirty:
        more = f" and {len(dirty) - 5} more" if len(dirty) > 5 else ""
        raise DirtyCheckoutError(
            "local changes in the checkout: "
            + ", ".join(dirty[:5])
            + more
            + f"; refresh them into a patch or discard them first (fspatch refresh -b {s.backend.name})",
            path=s.backend.path,
        )
