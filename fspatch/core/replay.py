"""The replay engine: every patch of a plan replayed onto a new base as a 3-way tree merge.

Every patch is replayed as an in-memory 3-way tree merge (libgit2's, the same
merge git uses for cherry-pick, renames followed): ancestor = the patch's old
parent, ours = its new parent, theirs = its old commit.  A patch is clean only
when that merge has no conflict -- there is no fuzz and no smarter guessing, so a
patch git would pick cleanly gives the identical tree here.  A clean patch whose
change is already upstream (merged tree == new parent tree) is *upstreamed*.

Pure: it reads and writes git objects only, never workspace files, the checkout or
the journal; :mod:`fspatch.core.replay_driver` does those around it.  Its progress is
the :class:`~fspatch.core.replay_plan.Plan` it is given.

Conflict reports name, per conflicted file, the regions (1-based start and line
count in the old upstream, the new upstream and the patch) and the upstream
commits between the old and the new pin whose hunks touch those lines (first-parent
history, ranges mapped forward through each commit's hunks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fspatch.core.culprit import Found, History, RangeIndex, hunk_header, reverse_applies
from fspatch.core.patch import Patch, format_patch, parse_diff
from fspatch.core.replay_plan import LayerPlan, Plan, Stop
from fspatch.core.replay_report import (
    CLEAN,
    CONFLICT,
    DROPPED,
    RESOLVED,
    SKIPPED,
    UPSTREAMED,
    AutoResolution,
    Culprit,
    FileConflict,
    PatchOutcome,
    Region,
    ReplayStatus,
    category,
)
from fspatch.core.replay_sides import sides_key
from fspatch.core.stack import AppliedPatch, Builder
from fspatch.core.upstream_map import MoveIndex, UpstreamMap
from fspatch.errors import ConflictError
from fspatch.git_adapter import FileMerge, GitRepo, Person

if TYPE_CHECKING:
    from fspatch.core.ladder import Ladder
    from fspatch.core.read_ahead import ReadAhead

Progress = Callable[[int, int, str], None]
CulpritRequest = tuple[str, tuple[tuple[int, int], ...], bool]  # path, old-pin spans (0-based, half-open), whole file

_MARKERS = (b"<<<<<<< ", b">>>>>>> ", b"||||||| ")
KEPT = "the bot's decision, kept: the patch's files are as the bot saw them on every side"


class Replayer:
    """Drives a :class:`Plan` forward: merge, record, stop (or go on) at conflicts."""

    def __init__(
        self,
        repo: GitRepo,
        plan: Plan,
        progress: Progress | None = None,
        ladder: Ladder | Callable[[], Ladder] | None = None,
        ahead: ReadAhead | None = None,
    ) -> None:
        """``ladder`` may be a function that builds it: then it is built (and the resolution
        rules imported, ~0.1 s) only when the first conflict needs it.  ``ahead``: a read-ahead
        started earlier by the caller, who closes it (else :meth:`run` starts its own)."""
        self.repo = repo
        self.plan = plan
        self.progress = progress
        self._ladder = ladder if plan.resolve != "none" else None
        self.builder = Builder(repo, plan.new_commit)
        self._map: UpstreamMap | None = None
        self._hist: History | None = None
        self._ahead: ReadAhead | None = ahead
        self._own_ahead = False
        # conflicts whose culprits the read-ahead works out: id -> (conflict, request, ticket, culprits known here)
        self._owed: dict[int, tuple[FileConflict, CulpritRequest, int, tuple[Culprit, ...] | None]] = {}
        self._patch_paths: dict[tuple[str, int], set[str]] = {}
        self._relevant: tuple[tuple[tuple[str, tuple[str, ...]], ...], frozenset[str]] | None = None
        # Resuming a bot's pending patches: its already-upstream decisions, (sides key, outcome) by (layer, patch).
        self.keep: Mapping[tuple[str, str], tuple[str, PatchOutcome]] = {}
        self.decided: dict[tuple[str, str], str] = {}  # a bot run: the sides key of each patch it found upstream

    # -- moving -------------------------------------------------------------
    def run(self, patch_of: Callable[[LayerPlan, str], Patch], *, settle: bool = True) -> FileMergeStop | None:
        """Replay until the end (None) or the first conflict in stop mode (the stop).

        ``settle=False``: conflicts whose culprits the caller's read-ahead still works out stay
        owed until :meth:`settle` (the caller writes the rewritten patches meanwhile); a
        read-ahead this replay forked itself, or a stop, settles here all the same.
        """
        later = False
        with self.repo.objects_in_memory():
            self._start_read_ahead()
            try:
                stop = self._run(patch_of)
                later = not settle and stop is None and not self._own_ahead
                if not later:
                    self._settle()
                return None if stop is None else replace(stop, outcome=self._settled(stop.outcome))
            finally:
                if not later:
                    self._release()

    def settle(self) -> None:
        """The owed culprits into the outcomes (after ``run(settle=False)``; nothing to do otherwise)."""
        try:
            self._settle()
        finally:
            self._release()

    def _release(self) -> None:
        """Done with the read-ahead: closed when this replay forked it, else ended for its owner to close."""
        if self._ahead is not None:
            if self._own_ahead:
                self._ahead.close()
            else:
                self._ahead.end()
        self._ahead = None
        self._owed.clear()

    def _start_read_ahead(self) -> None:
        """Fork the child that builds the range index and the upstream map while this replays (read_ahead)."""
        p = self.plan
        if self._ahead is not None or p.old_commit == p.new_commit or self._hist is not None or self._map is not None:
            return
        from fspatch.core.read_ahead import ReadAhead

        self._ahead = ReadAhead(self.repo, p.old_commit, p.new_commit, self._relevant_paths)
        self._own_ahead = True

    def _seed(self, what: str) -> RangeIndex | MoveIndex | None:
        """The read-ahead's index or map (adopted by History and UpstreamMap only when built for these paths)."""
        ahead = self._ahead
        if ahead is None or (ahead.old, ahead.new) != (self.plan.old_commit, self.plan.new_commit):
            return None
        return ahead.range_index() if what == "range" else ahead.move_index()

    def _run(self, patch_of: Callable[[LayerPlan, str], Patch]) -> FileMergeStop | None:
        plan = self.plan
        total = plan.total()
        while plan.li < len(plan.layers):
            lp = plan.layers[plan.li]
            if lp.new_base is None:
                lp.new_base = self._layer_base(plan.li)
                lp.top = lp.new_base
            while plan.pi < len(lp.names):
                name = lp.names[plan.pi]
                if self.progress is not None:
                    self.progress(plan.done(), total, name)
                stop = self._step(lp, plan.pi, patch_of)
                if stop is not None:
                    return stop
                plan.pi += 1
            plan.li += 1
            plan.pi = 0
        if self.progress is not None:
            self.progress(total, total, "")
        return None

    def _layer_base(self, li: int) -> str:
        lp = self.plan.layers[li]
        if lp.vendor is None or self.plan.operation == "rebase-vendors":
            if self.plan.operation == "rebase-vendors":
                assert lp.new_base is not None
                return lp.new_base
            return self.plan.new_commit
        common = self.plan.layers[0]
        assert common.vendor is None and common.top is not None
        return common.top

    def _old_parent(self, lp: LayerPlan, i: int) -> str:
        return lp.old[i - 1] if i else lp.old_base

    def _step(self, lp: LayerPlan, i: int, patch_of: Callable[[LayerPlan, str], Patch]) -> FileMergeStop | None:
        repo = self.repo
        name = lp.names[i]
        assert lp.top is not None
        anc = repo.tree_of(self._old_parent(lp, i))
        ours = repo.tree_of(lp.top)
        theirs = repo.tree_of(lp.old[i])
        labels = self.labels(name)
        umap = self.upstream_map()
        merged = repo.merge_patch(anc, ours, theirs, umap, labels, umap.dir_moved)
        moved, deleted = self._moves_for(anc, ours, merged.paths)
        if merged.tree is not None:
            upstreamed = merged.tree == ours and anc != theirs
            status = (DROPPED if self.plan.drop_upstreamed else UPSTREAMED) if upstreamed else CLEAN
            new = None
            if status != DROPPED:
                new = self.builder.commit(merged.tree, lp.top, patch_of(lp, name))
                lp.top = new
            self._record(lp, i, status, new, PatchOutcome(lp.label, name, status, (), moved, deleted))
            return None
        assert merged.conflict_tree is not None
        kept = self.keep.get((lp.label, name))
        if kept is not None and kept[0] == sides_key(repo, anc, ours, theirs, merged, umap):
            self._keep(lp, i, ours, kept[1], patch_of)
            return None
        labels = self.labels(name)
        conflict_tree, files = merged.conflict_tree, merged.files
        conflicts = tuple(self._describe(f, lp, i, patch_of(lp, name)) for f in files)
        paths = tuple(sorted({f.path for f in files}))
        blocked = self._blocked_by(lp, i, conflicts)
        if not blocked:
            carried = self._carried_upstream(anc, ours, theirs, merged.paths, patch_of(lp, name), conflicts)
            if carried is not None:
                status = DROPPED if self.plan.drop_upstreamed else UPSTREAMED
                new = None
                if status != DROPPED:
                    new = self.builder.commit(ours, lp.top, patch_of(lp, name))
                    lp.top = new
                done = PatchOutcome(
                    lp.label, name, status, (), moved, deleted, upstream_commit=carried[0], upstream_how=carried[1]
                )
                self.decided[(lp.label, name)] = sides_key(repo, anc, ours, theirs, merged, umap)
                self._record(lp, i, status, new, done)
                return None
        resolutions: tuple[AutoResolution, ...] = ()
        notes: tuple[str, ...] = ()
        if self.ladder is not None and not blocked:
            # The resolution ladder, on what git left only (docs/resolution.md).
            from fspatch.core.auto_resolve import apply_ladder

            got = apply_ladder(repo, conflict_tree, files, labels, self.ladder)
            resolutions, notes = got.resolutions, got.notes
            if got.tree is not None and not self.plan.stop and _all_carried(resolutions) and got.tree == ours:
                # Upstream carries every conflicting region of the patch: already upstream, like quilt's test.
                status = DROPPED if self.plan.drop_upstreamed else UPSTREAMED
                new = None
                if status != DROPPED:
                    new = self.builder.commit(ours, lp.top, patch_of(lp, name))
                    lp.top = new
                done = PatchOutcome(
                    lp.label, name, status, (), moved, deleted, resolutions, notes, upstream_how="carried"
                )
                self.decided[(lp.label, name)] = sides_key(repo, anc, ours, theirs, merged, umap)
                self._record(lp, i, status, new, done)
                return None
            if got.tree is not None:
                how = category(resolutions)
                outcome = PatchOutcome(
                    lp.label, name, RESOLVED, conflicts, moved, deleted, resolutions, notes, resolved_by=how
                )
                if self.plan.stop:  # shown before it is kept: the stop checks the proposal out
                    self.plan.stopped = Stop(lp.label, name, paths, outcome, got.tree)
                    return FileMergeStop(lp.top, got.tree, files, outcome)
                new = self.builder.commit(got.tree, lp.top, patch_of(lp, name))
                lp.top = new
                self._record(lp, i, RESOLVED, new, outcome)
                return None
            conflict_tree = got.partial_tree
        outcome = PatchOutcome(
            lp.label, name, CONFLICT, conflicts, moved, deleted, resolutions, notes, blocked_by=blocked
        )
        if self.plan.stop:
            self.plan.stopped = Stop(lp.label, name, paths, outcome, conflict_tree)
            return FileMergeStop(lp.top, conflict_tree, files, outcome)
        self._record(lp, i, CONFLICT, None, outcome)
        return None

    @property
    def ladder(self) -> Ladder | None:
        if callable(self._ladder):
            self._ladder = self._ladder()
        return self._ladder

    def labels(self, name: str) -> tuple[str, str, str]:
        p = self.plan
        if p.operation == "rebase-vendors":
            return ("old common layer", "common layer", f"patch {name}")
        return (f"upstream {p.old_ref}", f"upstream {p.new_ref}", f"patch {name}")

    def _keep(
        self, lp: LayerPlan, i: int, ours: str, bot: PatchOutcome, patch_of: Callable[[LayerPlan, str], Patch]
    ) -> None:
        """The bot's already-upstream decision, taken again (the patch's three sides are as the bot saw them)."""
        status = DROPPED if self.plan.drop_upstreamed else UPSTREAMED
        new = None
        if status != DROPPED:
            assert lp.top is not None
            new = self.builder.commit(ours, lp.top, patch_of(lp, lp.names[i]))
            lp.top = new
        self._record(lp, i, status, new, replace(bot, status=status, kept=KEPT))

    def _record(self, lp: LayerPlan, i: int, status: ReplayStatus, new: str | None, outcome: PatchOutcome) -> None:
        while len(lp.new) <= i:
            lp.new.append(None)
            lp.status.append(None)
        lp.new[i] = new
        lp.status[i] = status
        self.plan.outcomes.append(outcome)

    # -- after an interactive stop ---------------------------------------------
    def resolve(self, tree: str, patch_of: Callable[[LayerPlan, str], Patch]) -> None:
        """Record the person's resolution (a tree) as the stopped patch's new state."""
        plan = self.plan
        assert plan.stopped is not None
        lp = plan.layers[plan.li]
        assert lp.top is not None
        name = lp.names[plan.pi]
        new = self.builder.commit(tree, lp.top, patch_of(lp, name))
        lp.top = new
        outcome = plan.stopped.outcome
        proposal = plan.stopped.proposal
        if tree == proposal and outcome.status == RESOLVED:
            pass  # the ladder's resolution, kept as shown
        else:
            # The person's own resolution; the ladder's resolutions stay named only in files kept as proposed.
            kept = tuple(
                r
                for r in outcome.resolutions
                if proposal and self.repo.entry(proposal, r.path) == self.repo.entry(tree, r.path)
            )
            outcome = replace(outcome, status=RESOLVED, resolutions=kept, resolved_by="by hand")
        plan.stopped = None
        self._record(lp, plan.pi, RESOLVED, new, outcome)
        plan.pi += 1

    def stopped_files(self) -> tuple[tuple[FileMerge, ...], tuple[str, str, str]]:
        """The stopped patch's conflicted files as git's merge gives them (for recording resolutions)."""
        plan = self.plan
        assert plan.stopped is not None
        lp = plan.layers[plan.li]
        assert lp.top is not None
        i = plan.pi
        labels = self.labels(lp.names[i])
        repo = self.repo
        anc, ours, theirs = (repo.tree_of(c) for c in (self._old_parent(lp, i), lp.top, lp.old[i]))
        return repo.merge_conflicts(anc, ours, theirs, labels)[1], labels

    def skip(self) -> None:
        plan = self.plan
        assert plan.stopped is not None
        lp = plan.layers[plan.li]
        outcome = replace(plan.stopped.outcome, status=SKIPPED)
        plan.stopped = None
        self._record(lp, plan.pi, SKIPPED, None, outcome)
        plan.pi += 1

    # -- describing conflicts -----------------------------------------------
    def upstream_map(self) -> UpstreamMap:
        """Upstream's renames and deletions between the pins, shared by every patch of the replay."""
        if self._map is None:
            self._map = UpstreamMap(
                self.repo, self.plan.old_commit, self.plan.new_commit, self._relevant_paths, self._seed_moves
            )
        return self._map

    def _relevant_paths(self) -> set[str]:
        """Every path some patch of the plan changes (the only sources a rename lookup can need).

        Asked by the upstream map and by the culprits' index: listed once per old stack
        (72 tree diffs each time on FlagScale's series).
        """
        key = self._relevant_key()
        if self._relevant is not None and self._relevant[0] == key:
            return set(self._relevant[1])
        out: set[str] = set()
        for lp in self.plan.layers:
            for i, commit in enumerate(lp.old):
                parent = self._old_parent(lp, i)
                changed = self.repo.changed_files(self.repo.tree_of(parent), self.repo.tree_of(commit))
                out.update(p for p, _a, _t in changed)
        self._relevant = (key, frozenset(out))
        return out

    def _relevant_key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The old stacks the relevant paths are listed from."""
        return tuple((lp.old_base, tuple(lp.old)) for lp in self.plan.layers)

    def _seed_range(self) -> RangeIndex | None:
        got = self._seed("range")
        return got if isinstance(got, RangeIndex) else None

    def _seed_moves(self) -> MoveIndex | None:
        got = self._seed("moves")
        return got if isinstance(got, MoveIndex) else None

    def _moves_for(
        self, anc: str, ours: str, paths: Sequence[str]
    ) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
        """Files this patch touches that upstream renamed or deleted between the pins (ours lacks them)."""
        if self.plan.old_commit == self.plan.new_commit:
            return (), ()
        renamed: list[tuple[str, str]] = []
        deleted: list[str] = []
        for path in paths:
            if self.repo.entry(ours, path) is not None or self.repo.entry(anc, path) is None:
                continue  # still there, or added by the patch itself
            hit = self.upstream_map().get(path)
            if hit is None:
                continue
            if hit[0] == "R":
                renamed.append((path, hit[1]))
            else:
                deleted.append(path)
        return tuple(renamed), tuple(deleted)

    def _blocked_by(self, lp: LayerPlan, i: int, conflicts: Sequence[FileConflict]) -> str:
        """The earlier conflicting/skipped patch this conflict comes from, or "".

        Blocked means: upstream changed none of the conflicting lines (no culprit), and an
        earlier patch that is not in the new stack touched every conflicted file -- the
        conflict is with that patch's absence, not with upstream.  Earlier means of the same
        layer, or, for a vendor layer of a pull-upstream, of the common layer it sits on (named
        ``common/<patch>``).
        """
        if not conflicts:
            return ""
        missing = [(lp, j) for j in range(min(i, len(lp.status))) if lp.status[j] in (CONFLICT, SKIPPED)]
        common = self.plan.layers[0]
        if self.plan.operation == "pull-upstream" and lp.vendor is not None and common.vendor is None:
            missing = [(common, j) for j, st in enumerate(common.status) if st in (CONFLICT, SKIPPED)] + missing
        if not missing:
            return ""
        blocker = -1
        for c in conflicts:
            touching = [k for k, (layer, j) in enumerate(missing) if c.path in self._paths_of(layer, j)]
            if not touching:
                return ""
            blocker = max(blocker, touching[-1])
        if any(c.culprits for c in self._known(conflicts)):
            return ""  # upstream changed some conflicting line: a conflict of its own
        layer, j = missing[blocker]
        return layer.names[j] if layer is lp else f"{layer.label}/{layer.names[j]}"

    def _paths_of(self, lp: LayerPlan, j: int) -> set[str]:
        key = (lp.label, j)
        if key not in self._patch_paths:
            old = self.repo.changed_files(self.repo.tree_of(self._old_parent(lp, j)), self.repo.tree_of(lp.old[j]))
            self._patch_paths[key] = {p for p, _a, _b in old}
        return self._patch_paths[key]

    def _carried_upstream(
        self, anc: str, ours: str, theirs: str, paths: Sequence[str], patch: Patch, conflicts: Sequence[FileConflict]
    ) -> tuple[str, str] | None:
        """(upstream commit or "", how) when the new upstream already carries this conflicting patch's change.

        A patch-id equal to one of the conflict's culprits names that commit; otherwise the patch
        reversed must apply to the new parent (quilt's test), and the commit is named only
        when every conflicted line has one and the same culprit.
        """
        p = self.plan
        if p.old_commit == p.new_commit:
            return None
        def culprit_ids() -> list[str]:
            return list(dict.fromkeys(cu.id for c in self._known(conflicts) for cu in c.culprits))

        # No culprit at all (e.g. a file added on both sides): the range is searched by patch-id all the same.
        commit = self.history().patch_id_match(culprit_ids, sorted(paths), lambda: self.repo.patch_id(anc, theirs))
        if commit is not None:
            return commit, "patch-id"
        if not reverse_applies(self.repo, ours, patch.files, self.upstream_map()):
            return None
        ids = set(culprit_ids())
        return (ids.pop() if len(ids) == 1 else ""), "reverse-applies"

    def _describe(self, f: FileMerge, lp: LayerPlan, i: int, patch: Patch | None = None) -> FileConflict:
        anc, ours, theirs = f.ancestor, f.ours, f.theirs
        if f.kind:
            kind = f.kind
        elif ours is None:
            kind = "deleted upstream"
        elif theirs is None:
            kind = "deleted by patch"
        elif anc is None:
            kind = "added by both"
        elif f.merged is None:
            kind = "binary"
        else:
            kind = "content"
        regions: list[Region] = []
        if kind == "content":
            assert anc is not None and ours is not None and theirs is not None
            regions = self._regions(anc[0], anc[1].id, ours[1].id, theirs[1].id)
            if patch is not None:
                regions = [
                    replace(r, hunk=hunk_header(patch.files, theirs[0], r.patch[0], r.patch[1])) for r in regions
                ]
        path = anc[0] if anc is not None else f.path
        if self.plan.old_commit == self.plan.new_commit:
            return FileConflict(f.path, kind, tuple(regions))
        spans = tuple((r.old_upstream[0] - 1, r.old_upstream[0] - 1 + r.old_upstream[1]) for r in regions)
        request = (path, spans, kind != "content")
        ahead = self._ahead
        if ahead is None or not ahead.running or self.plan.stop:
            # An interactive replay stops at this conflict: its culprits are needed now, and the
            # child answers only after building the upstream map, which the stop may never need.
            return FileConflict(f.path, kind, tuple(regions), self._culprits(request))
        # Worked out beside the replay; filled in by _settle (or by _known, where a decision needs them).
        conflict = FileConflict(f.path, kind, tuple(regions))
        self._owed[id(conflict)] = (conflict, request, ahead.ask(request), None)
        return conflict

    def _regions(self, path: str, a: str, o: str, t: str) -> list[Region]:
        """diff3 regions: base ranges changed by both sides (touching counts), mapped to each side.

        The blobs are diffed by id (:meth:`GitRepo.blob_hunks`: the same hunks as of their
        bytes, without libgit2 hashing both buffers again), and the old pin's version is
        not diffed at all when it is the ancestor's.
        """
        repo = self.repo
        ha = [_half_open(h) for h in repo.blob_hunks(a, o)]
        hb = [_half_open(h) for h in repo.blob_hunks(a, t)]
        changes = sorted([(h, 0) for h in ha] + [(h, 1) for h in hb], key=lambda x: (x[0][0], x[0][1]))
        groups: list[list[tuple[tuple[int, int, int, int], int]]] = []
        hi = -1
        for ch in changes:
            if groups and ch[0][0] <= hi:
                groups[-1].append(ch)
                hi = max(hi, ch[0][1])
            else:
                groups.append([ch])
                hi = ch[0][1]
        out: list[Region] = []
        if not groups:
            return out
        o_lines = _lines(repo.blob_bytes(o))
        t_lines = _lines(repo.blob_bytes(t))
        old_pin = repo.entry(repo.tree_of(self.plan.old_commit), path)
        pin_hunks: list[Span] = []
        if old_pin is not None and old_pin.id != a:
            pin_hunks = [_half_open(h) for h in repo.blob_hunks(old_pin.id, a)]
        for g in groups:
            if {side for _, side in g} != {0, 1}:
                continue
            lo = min(h[0] for h, _ in g)
            hi_ = max(h[1] for h, _ in g)
            o_rng = _side_range([h for h, s in g if s == 0], lo, hi_)
            t_rng = _side_range([h for h, s in g if s == 1], lo, hi_)
            if o_lines[o_rng[0] : o_rng[1]] == t_lines[t_rng[0] : t_rng[1]]:
                continue  # both sides made the same change: not a conflict
            pin = _map_back(pin_hunks, lo, hi_)
            out.append(Region(_one_based(pin), _one_based(o_rng), _one_based(t_rng)))
        return out

    def history(self) -> History:
        """The upstream range, indexed by path once per replay (culprits, patch-ids)."""
        if self._hist is None:
            self._hist = History(
                self.repo, self.plan.old_commit, self.plan.new_commit, self._relevant_paths, self._seed_range
            )
        return self._hist

    def _culprits(
        self, request: CulpritRequest, found: Sequence[Found] | None = None
    ) -> tuple[Culprit, ...]:
        """The culprits of a conflict's regions (``found``: as the read-ahead worked them out)."""
        path, spans, whole = request
        if found is None:
            found = self.history().culprits(path, spans, whole)
        return tuple(Culprit(f.id, f.subject, f.merge, f.merge_subject, f.ref) for f in found)

    def _known(self, conflicts: Sequence[FileConflict]) -> tuple[FileConflict, ...]:
        """These conflicts with their culprits, worked out here now for those still owed (a decision needs them)."""
        out = []
        for c in conflicts:
            owed = self._owed.get(id(c))
            if owed is None:
                out.append(c)
                continue
            conflict, request, ticket, known = owed
            if known is None:
                known = self._culprits(request)
                self._owed[id(c)] = (conflict, request, ticket, known)
            out.append(replace(c, culprits=known))
        return tuple(out)

    def _settle(self) -> None:
        """Every owed conflict's culprits into the outcomes (the read-ahead's answers, else worked out here)."""
        if not self._owed:
            return
        ahead = self._ahead
        for key, (conflict, request, ticket, known) in list(self._owed.items()):
            if known is None:
                found = ahead.culprits(ticket) if ahead is not None else None
                self._owed[key] = (conflict, request, ticket, self._culprits(request, found))
        self.plan.outcomes[:] = [self._settled(o) for o in self.plan.outcomes]
        if self.plan.stopped is not None:
            self.plan.stopped = replace(self.plan.stopped, outcome=self._settled(self.plan.stopped.outcome))

    def _settled(self, outcome: PatchOutcome) -> PatchOutcome:
        if not any(id(c) in self._owed for c in outcome.conflicts):
            return outcome
        conflicts = []
        for c in outcome.conflicts:
            owed = self._owed.get(id(c))
            conflicts.append(c if owed is None else replace(c, culprits=owed[3] or ()))
        return replace(outcome, conflicts=tuple(conflicts))



@dataclass(frozen=True)
class FileMergeStop:
    """An interactive stop: where to check out, what to write, what to report."""

    ours_commit: str
    conflict_tree: str
    files: tuple[FileMerge, ...]
    outcome: PatchOutcome


def has_markers(data: bytes) -> bool:
    return any(line.startswith(_MARKERS) for line in data.split(b"\n"))


# --------------------------------------------------------------------------- line ranges

Span = tuple[int, int, int, int]  # 0-based half-open: old_lo, old_hi, new_lo, new_hi


def _half_open(h: tuple[int, int, int, int]) -> Span:
    os_, oc, ns, nc = h
    o0 = os_ if oc == 0 else os_ - 1
    n0 = ns if nc == 0 else ns - 1
    return (o0, o0 + oc, n0, n0 + nc)


def _side_range(hunks: Sequence[Span], lo: int, hi: int) -> tuple[int, int]:
    first, last = hunks[0], hunks[-1]
    return (first[2] - (first[0] - lo), last[3] + (hi - last[1]))


def _map_forward(hunks: Sequence[Span], lo: int, hi: int) -> tuple[int, int]:
    """A range through a commit's hunks: unchanged lines shift, touched hunks widen it."""
    return (_map_pos(hunks, lo, False, 0, 1, 2, 3), _map_pos(hunks, hi, True, 0, 1, 2, 3))


def _map_back(hunks: Sequence[Span], lo: int, hi: int) -> tuple[int, int]:
    return (_map_pos(hunks, lo, False, 2, 3, 0, 1), _map_pos(hunks, hi, True, 2, 3, 0, 1))


def _map_pos(hunks: Sequence[Span], x: int, end: bool, a0: int, a1: int, b0: int, b1: int) -> int:
    """Boundary x through sorted hunks (side a to side b); inside a hunk it snaps to the hunk's edge."""
    delta = 0
    for h in hunks:
        if h[a0] < x < h[a1]:
            return h[b1] if end else h[b0]
        if h[a1] > x:
            break
        delta = h[b1] - h[a1]
    return x + delta


def _touches(h: Span, lo: int, hi: int) -> bool:
    return h[0] <= hi and lo <= h[1]


def _one_based(r: tuple[int, int]) -> tuple[int, int]:
    return (r[0] + 1, max(r[1] - r[0], 0))


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def new_patch_bytes(repo: GitRepo, old: Patch, parent: str, commit: str, display: str) -> bytes:
    """A rewritten patch file: the old header, the fresh diff from its new parent to its new commit."""
    files = parse_diff(repo.diff_trees(repo.tree_of(parent), repo.tree_of(commit)), display)
    return format_patch(replace(old, files=files))


def replay_commit(
    repo: GitRepo, builder: Builder, p: AppliedPatch, prev_old: str, prev_new: str
) -> tuple[AppliedPatch, str, str]:
    """Rebase one stack commit from prev_old onto prev_new in memory (it keeps message and author).

    The replay ``refresh`` does for the patches above the one it rewrote: a 3-way merge, and
    any conflict refuses (nothing changed), since refresh never leaves a stack half-moved.
    """
    if prev_old == prev_new:
        return p, p.commit, p.commit
    info = repo.commit_info(p.commit)
    merged = repo.merge_trees(repo.tree_of(prev_old), repo.tree_of(prev_new), info.tree)
    if merged.tree is None:
        raise ConflictError(
            f"the edits conflict with the applied patch {p.name} in {', '.join(merged.conflicts)}; nothing changed"
        )
    author = Person(info.author_name, info.author_email, info.author_time, info.author_offset)
    commit = repo.create_commit(merged.tree, [prev_new], info.message, author, builder.committer())
    return AppliedPatch(p.name, commit), p.commit, commit


def _all_carried(resolutions: Sequence[AutoResolution]) -> bool:
    """Every region of the patch resolved by the ``carried`` rule (upstream has the whole change)."""
    return bool(resolutions) and all(r.rule == "carried" for r in resolutions)
