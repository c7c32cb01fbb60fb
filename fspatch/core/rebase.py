"""Replaying layers onto a new base: the engine of pull-upstream and rebase-vendors.

Every patch is replayed as an in-memory 3-way tree merge (libgit2's, the same
merge git uses for cherry-pick, renames followed): ancestor = the patch's old
parent, ours = its new parent, theirs = its old commit.  A patch is clean only
when that merge has no conflict -- there is no fuzz and no smarter guessing, so a
patch git would pick cleanly gives the identical tree here.  A clean patch whose
change is already upstream (merged tree == new parent tree) is *upstreamed*.

The replay's progress is a plain :class:`Plan` (JSON-able, kept in the journal of
:mod:`fspatch.core.journal`) so an interactive stop can be resumed by another
process.  Nothing here writes workspace files or prints: :func:`finalize` returns
the new patch bytes and series for the command to write.

Conflict reports name, per conflicted file, the regions (1-based start and line
count in the old upstream, the new upstream and the patch) and the upstream
commits between the old and the new pin whose hunks touch those lines (first-parent
history, ranges mapped forward through each commit's hunks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fspatch.core.culprit import History, hunk_header, reverse_applies
from fspatch.core.patch import Patch, format_patch, parse_diff
from fspatch.core.stack import Builder, PatchSource
from fspatch.core.transaction import crash_point
from fspatch.core.upstream_map import UpstreamMap
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import ConflictError, InputError
from fspatch.git_adapter import FileMerge, GitRepo

Progress = Callable[[int, int, str], None]

CLEAN = "clean"
UPSTREAMED = "upstreamed"
DROPPED = "dropped"  # upstreamed and dropped (--drop-upstreamed)
CONFLICT = "conflict"
RESOLVED = "resolved"
SKIPPED = "skipped"

_MARKERS = (b"<<<<<<< ", b">>>>>>> ", b"||||||| ")


# --------------------------------------------------------------------------- report values


@dataclass(frozen=True)
class Culprit:
    """An upstream commit that changed lines a conflicting patch touches."""

    id: str
    subject: str
    merge: str = ""  # the first-parent merge that brought the commit in ("" when it is on the line itself)
    merge_subject: str = ""
    ref: str = ""  # a PR/MR reference from its subject or the merge message: "group/project!12", "#1234"


@dataclass(frozen=True)
class Region:
    """A conflicting region: (1-based start, line count) in each version of the file."""

    old_upstream: tuple[int, int]
    new_upstream: tuple[int, int]
    patch: tuple[int, int]
    hunk: str = ""  # the patch's own "@@ -a,b +c,d @@ section" header for these lines


@dataclass(frozen=True)
class FileConflict:
    path: str
    kind: str  # content | binary | deleted upstream | deleted by patch | added by both
    regions: tuple[Region, ...] = ()
    culprits: tuple[Culprit, ...] = ()


@dataclass(frozen=True)
class PatchOutcome:
    layer: str
    patch: str
    status: str  # clean | upstreamed | dropped | conflict | resolved | skipped
    conflicts: tuple[FileConflict, ...] = ()
    renamed_upstream: tuple[tuple[str, str], ...] = ()
    deleted_upstream: tuple[str, ...] = ()
    blocked_by: str = ""  # a conflict caused only by this earlier conflicting/skipped patch of the layer
    upstream_commit: str = ""  # upstreamed: the upstream commit that carries the change, where known
    upstream_how: str = ""  # upstreamed although the merge conflicted: "patch-id" | "reverse-applies"


@dataclass(frozen=True)
class ReplayReport:
    operation: str
    backend: str
    old_ref: str
    old_commit: str
    new_ref: str
    new_commit: str
    finished: bool
    stopped_at: str | None  # "<layer dir>/<patch>" of an interactive stop
    patches: tuple[PatchOutcome, ...]
    counts: dict[str, int]
    summary: str


def outcome_from_dict(d: dict[str, Any]) -> PatchOutcome:
    return PatchOutcome(
        layer=d["layer"],
        patch=d["patch"],
        status=d["status"],
        conflicts=tuple(
            FileConflict(
                c["path"],
                c["kind"],
                tuple(
                    Region(tuple(r["old_upstream"]), tuple(r["new_upstream"]), tuple(r["patch"]), r.get("hunk", ""))
                    for r in c["regions"]
                ),  # type: ignore[arg-type]
                tuple(
                    Culprit(u["id"], u["subject"], u.get("merge", ""), u.get("merge_subject", ""), u.get("ref", ""))
                    for u in c["culprits"]
                ),
            )
            for c in d["conflicts"]
        ),
        renamed_upstream=tuple((a, b) for a, b in d["renamed_upstream"]),
        deleted_upstream=tuple(d["deleted_upstream"]),
        blocked_by=d.get("blocked_by", ""),
        upstream_commit=d.get("upstream_commit", ""),
        upstream_how=d.get("upstream_how", ""),
    )


def summarize(outcomes: Sequence[PatchOutcome], total: int | None = None) -> tuple[dict[str, int], str]:
    """Counts by status and the one-line summary (``72 patches: 58 clean, 3 upstreamed, 11 conflicts``)."""
    counts = {k: 0 for k in (CLEAN, UPSTREAMED, DROPPED, CONFLICT, RESOLVED, SKIPPED)}
    for o in outcomes:
        counts[o.status] += 1
    parts = [f"{counts[CLEAN]} clean", f"{counts[UPSTREAMED] + counts[DROPPED]} upstreamed"]
    parts.append(f"{counts[CONFLICT]} conflict" + ("" if counts[CONFLICT] == 1 else "s"))
    blocked = sum(1 for o in outcomes if o.status == CONFLICT and o.blocked_by)
    if blocked:
        counts["blocked"] = blocked
        parts[-1] += f" ({blocked} blocked by an earlier patch)"
    if counts[RESOLVED]:
        parts.append(f"{counts[RESOLVED]} resolved")
    if counts[SKIPPED]:
        parts.append(f"{counts[SKIPPED]} skipped")
    n = len(outcomes) if total is None else total
    if n > len(outcomes):
        counts["pending"] = n - len(outcomes)
        parts.append(f"{n - len(outcomes)} not replayed yet")
    return counts, f"{n} patch{'' if n == 1 else 'es'}: " + ", ".join(parts)


# --------------------------------------------------------------------------- the plan


@dataclass
class LayerPlan:
    label: str  # common | vendor/<name>
    vendor: str | None
    old_base: str
    names: list[str]
    old: list[str]  # old commit of each patch
    new_base: str | None = None
    top: str | None = None
    new: list[str | None] = field(default_factory=list)  # new commit per patch (None: not in the new stack)
    status: list[str] = field(default_factory=list)


@dataclass
class Plan:
    operation: str
    backend: str
    old_ref: str
    old_commit: str
    new_ref: str
    new_commit: str
    drop_upstreamed: bool
    stop: bool
    layers: list[LayerPlan]
    li: int = 0
    pi: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    stopped: dict[str, Any] | None = None  # {"layer", "patch", "paths"} of an interactive stop

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        layers = [LayerPlan(**lp) for lp in d["layers"]]
        return cls(**{**d, "layers": layers})

    def total(self) -> int:
        return sum(len(lp.names) for lp in self.layers)

    def done(self) -> int:
        return sum(len(lp.names) for lp in self.layers[: self.li]) + self.pi

    def report(self, finished: bool) -> ReplayReport:
        outcomes = [outcome_from_dict(o) for o in self.outcomes]
        counts, summary = summarize(outcomes)
        stopped = None
        if self.stopped is not None:
            lp = self.layers[self.li]
            stopped = f"{LayerRef(self.backend, lp.vendor).dir.as_posix()}/{self.stopped['patch']}"
        return ReplayReport(
            self.operation,
            self.backend,
            self.old_ref,
            self.old_commit,
            self.new_ref,
            self.new_commit,
            finished,
            stopped,
            tuple(outcomes),
            counts,
            summary,
        )


def common_fingerprint(ws: Workspace, backend: str) -> str:
    """SHA-256 over the common layer's series file and its patch files' bytes (in series order)."""
    layer = LayerRef(ws.backend(backend).name, None)
    h = hashlib.sha256()
    series = ws.series_path(layer)
    data = series.read_bytes() if series.is_file() else b""
    h.update(b"series %d\n" % len(data) + data)
    for entry in ws.read_layer_series(layer) if series.is_file() else []:
        body = ws.read_patch(layer, entry.name)
        h.update(b"patch %s %d\n" % (entry.name.encode(), len(body)) + body)
    return h.hexdigest()


def build_old_layer(
    repo: GitRepo, upstream: str, base: str, label: str, vendor: str | None, sources: Sequence[PatchSource]
) -> LayerPlan:
    """The layer's old stack, built in memory from its patch files on the old base."""
    try:
        applied = Builder(repo, upstream).build(base, sources)
    except ConflictError as exc:
        raise InputError(
            f"does not apply to the old base ({exc.message}); fix the layer on the current pin first",
            path=exc.path,
        ) from None
    return LayerPlan(label, vendor, base, [a.name for a in applied], [a.commit for a in applied])


# --------------------------------------------------------------------------- the engine


class Replayer:
    """Drives a :class:`Plan` forward: merge, record, stop (or go on) at conflicts."""

    def __init__(self, repo: GitRepo, plan: Plan, progress: Progress | None = None) -> None:
        self.repo = repo
        self.plan = plan
        self.progress = progress
        self.builder = Builder(repo, plan.new_commit)
        self._map: UpstreamMap | None = None
        self._hist: History | None = None
        self._patch_paths: dict[tuple[str, int], set[str]] = {}

    # -- moving -------------------------------------------------------------
    def run(self, patch_of: Callable[[LayerPlan, str], Patch]) -> FileMergeStop | None:
        """Replay until the end (None) or the first conflict in stop mode (the stop)."""
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
        conflict_tree, files = merged.conflict_tree, merged.files
        conflicts = tuple(self._describe(f, lp, i, patch_of(lp, name)) for f in files)
        outcome = PatchOutcome(lp.label, name, CONFLICT, conflicts, moved, deleted, self._blocked_by(lp, i, conflicts))
        if not outcome.blocked_by:
            carried = self._carried_upstream(anc, ours, theirs, merged.paths, patch_of(lp, name), conflicts)
            if carried is not None:
                status = DROPPED if self.plan.drop_upstreamed else UPSTREAMED
                new = None
                if status != DROPPED:
                    new = self.builder.commit(ours, lp.top, patch_of(lp, name))
                    lp.top = new
                done = PatchOutcome(lp.label, name, status, (), moved, deleted, "", carried[0], carried[1])
                self._record(lp, i, status, new, done)
                return None
        if self.plan.stop:
            self.plan.stopped = {
                "layer": lp.label,
                "patch": name,
                "paths": sorted({f.path for f in files}),
                "outcome": asdict(outcome),
            }
            return FileMergeStop(lp.top, conflict_tree, files, outcome)
        self._record(lp, i, CONFLICT, None, outcome)
        return None

    def labels(self, name: str) -> tuple[str, str, str]:
        p = self.plan
        if p.operation == "rebase-vendors":
            return ("old common layer", "common layer", f"patch {name}")
        return (f"upstream {p.old_ref}", f"upstream {p.new_ref}", f"patch {name}")

    def _record(self, lp: LayerPlan, i: int, status: str, new: str | None, outcome: PatchOutcome) -> None:
        while len(lp.new) <= i:
            lp.new.append(None)
            lp.status.append("")
        lp.new[i] = new
        lp.status[i] = status
        self.plan.outcomes.append(asdict(outcome))

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
        outcome = replace(outcome_from_dict(plan.stopped["outcome"]), status=RESOLVED)
        plan.stopped = None
        self._record(lp, plan.pi, RESOLVED, new, outcome)
        plan.pi += 1

    def skip(self) -> None:
        plan = self.plan
        assert plan.stopped is not None
        lp = plan.layers[plan.li]
        outcome = replace(outcome_from_dict(plan.stopped["outcome"]), status=SKIPPED)
        plan.stopped = None
        self._record(lp, plan.pi, SKIPPED, None, outcome)
        plan.pi += 1

    # -- describing conflicts -----------------------------------------------
    def upstream_map(self) -> UpstreamMap:
        """Upstream's renames and deletions between the pins, shared by every patch of the replay."""
        if self._map is None:
            self._map = UpstreamMap(self.repo, self.plan.old_commit, self.plan.new_commit, self._relevant_paths)
        return self._map

    def _relevant_paths(self) -> set[str]:
        """Every path some patch of the plan changes (the only sources a rename lookup can need)."""
        out: set[str] = set()
        for lp in self.plan.layers:
            for i, commit in enumerate(lp.old):
                parent = self._old_parent(lp, i)
                changed = self.repo.changed_files(self.repo.tree_of(parent), self.repo.tree_of(commit))
                out.update(p for p, _a, _t in changed)
        return out

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
        """The earlier conflicting/skipped patch of the layer this conflict comes from, or "".

        Blocked means: upstream changed none of the conflicting lines (no culprit), and an
        earlier patch of the layer that is not in the new stack touched every conflicted
        file -- the conflict is with that patch's absence, not with upstream.
        """
        if not conflicts or any(c.culprits for c in conflicts):
            return ""
        missing = [j for j in range(min(i, len(lp.status))) if lp.status[j] in (CONFLICT, SKIPPED)]
        if not missing:
            return ""
        blocker = -1
        for c in conflicts:
            touching = [j for j in missing if c.path in self._paths_of(lp, j)]
            if not touching:
                return ""
            blocker = max(blocker, touching[-1])
        return lp.names[blocker]

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
        candidates = list(dict.fromkeys(cu.id for c in conflicts for cu in c.culprits))
        commit = None
        if candidates:
            commit = self.history().patch_id_match(candidates, sorted(paths), self.repo.patch_id(anc, theirs))
        if commit is not None:
            return commit, "patch-id"
        if not reverse_applies(self.repo, ours, patch.files, self.upstream_map()):
            return None
        ids = {cu.id for c in conflicts for cu in c.culprits}
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
            a = self.repo.read_blob(anc[1].id)
            o = self.repo.read_blob(ours[1].id)
            t = self.repo.read_blob(theirs[1].id)
            regions = self._regions(anc[0], a, o, t)
            if patch is not None:
                regions = [
                    replace(r, hunk=hunk_header(patch.files, theirs[0], r.patch[0], r.patch[1])) for r in regions
                ]
        path = anc[0] if anc is not None else f.path
        culprits = self._culprits(path, regions, kind)
        return FileConflict(f.path, kind, tuple(regions), culprits)

    def _regions(self, path: str, a: bytes, o: bytes, t: bytes) -> list[Region]:
        """diff3 regions: base ranges changed by both sides (touching counts), mapped to each side."""
        ha = [_half_open(h) for h in self.repo.line_hunks(a, o)]
        hb = [_half_open(h) for h in self.repo.line_hunks(a, t)]
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
        o_lines = _lines(o)
        t_lines = _lines(t)
        old_pin = self._old_pin_blob(path)
        pin_hunks = [_half_open(h) for h in self.repo.line_hunks(old_pin, a)] if old_pin is not None else []
        out: list[Region] = []
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

    def _old_pin_blob(self, path: str) -> bytes | None:
        got = self.repo.read_file(self.repo.tree_of(self.plan.old_commit), path)
        return got[0] if got is not None else None

    def history(self) -> History:
        """The upstream range, indexed by path once per replay (culprits, patch-ids)."""
        if self._hist is None:
            self._hist = History(self.repo, self.plan.old_commit, self.plan.new_commit, self._relevant_paths)
        return self._hist

    def _culprits(self, path: str, regions: Sequence[Region], kind: str) -> tuple[Culprit, ...]:
        p = self.plan
        if p.old_commit == p.new_commit:
            return ()
        spans = [(r.old_upstream[0] - 1, r.old_upstream[0] - 1 + r.old_upstream[1]) for r in regions]
        found = self.history().culprits(path, spans, kind != "content")
        return tuple(Culprit(f.id, f.subject, f.merge, f.merge_subject, f.ref) for f in found)


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


# --------------------------------------------------------------------------- driving an operation


@dataclass(frozen=True)
class OperationResult:
    """What pull-upstream / rebase-vendors / continue / skip return."""

    report: ReplayReport
    stopped: bool  # an interactive stop: conflicts are checked out, waiting for continue/skip/abort
    checkout: str  # the backend checkout, relative to the workspace
    conflict_files: tuple[str, ...]  # files with conflict markers in the checkout (at a stop)
    written: tuple[str, ...]  # workspace files written when the replay finished


class Driver:
    """Runs a plan with a session: journal at stops, workspace files and checkout at the end."""

    def __init__(self, session: Any, plan: Plan, progress: Progress | None = None) -> None:
        from fspatch.core.session import Session, read_patch

        assert isinstance(session, Session)
        self.s = session
        self.plan = plan
        self.progress = progress
        self._read_patch = read_patch
        self._patches: dict[tuple[str, str], Patch] = {}
        self._strip: dict[str, dict[str, int]] = {}

    def layer(self, lp: LayerPlan) -> LayerRef:
        return LayerRef(self.plan.backend, lp.vendor)

    def patch_of(self, lp: LayerPlan, name: str) -> Patch:
        key = (lp.label, name)
        if key not in self._patches:
            layer = self.layer(lp)
            if lp.label not in self._strip:
                self._strip[lp.label] = {e.name: e.strip for e in self.s.ws.read_layer_series(layer)}
            display = f"{layer.dir.as_posix()}/{name}"
            self._patches[key] = self._read_patch(
                self.s.ws.patch_path(layer, name), display, self._strip[lp.label].get(name, 1)
            )
        return self._patches[key]

    def replayer(self) -> Replayer:
        return Replayer(self.s.repo, self.plan, self.progress)

    def drive(self, saved: dict[str, Any]) -> OperationResult:
        from fspatch.core import journal

        stop = self.replayer().run(self.patch_of)
        repo = self.s.repo
        if stop is not None:
            journal.write(
                repo,
                {
                    "operation": self.plan.operation,
                    "backend": self.plan.backend,
                    "saved": saved,
                    "plan": self.plan.to_dict(),
                },
            )
            repo.reset_hard(stop.ours_commit)
            ours_tree = repo.tree_of(stop.ours_commit)
            paths = repo.changed_paths(ours_tree, stop.conflict_tree)
            repo.write_worktree(stop.conflict_tree, paths)
            files = tuple(sorted({f.path for f in stop.files}))
            report = self.plan.report(False)
            report = replace(report, patches=report.patches + (stop.outcome,))
            counts, summary = summarize(report.patches, self.plan.total())
            report = replace(report, counts=counts, summary=summary)
            return OperationResult(report, True, self.s.backend.path, files, ())
        written = self.finalize()
        journal.clear(repo)
        return OperationResult(self.plan.report(True), False, self.s.backend.path, (), tuple(written))

    def finalize(self) -> list[str]:
        """Write patches, series, layer bases and the lock; check out the new stack when clean."""
        from fspatch.core.stack import LayerState, StackState, load_state, save_state

        s, plan, ws, repo = self.s, self.plan, self.s.ws, self.s.repo
        written: list[str] = []
        any_conflict = False
        for lp in plan.layers:
            layer = self.layer(lp)
            entries = ws.read_layer_series(layer)
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
                    data = new_patch_bytes(repo, self.patch_of(lp, name), parent, new, display)
                    before = ws.patch_path(layer, name).read_bytes()
                    if before != data:
                        ws.write_patch(layer, name, data)
                        written.append(display)
                    parent = new
            if drop:
                ws.write_layer_series(layer, [e for e in entries if e.name not in drop])
                written.append(f"{layer.dir.as_posix()}/series")
                for name in sorted(drop):
                    ws.delete_patch(layer, name)
                    written.append(f"{layer.dir.as_posix()}/{name}")
        crash_point(f"{plan.operation}:patches")
        backend = ws.backend(plan.backend)
        if plan.operation == "pull-upstream":
            from fspatch.core.workspace import Backend

            assert isinstance(backend, Backend)
            backend = replace(backend, ref=plan.new_ref, commit=plan.new_commit)
            ws.set_backend(backend)
            ws.save_lock()
            written.append("upstream.lock")
            crash_point(f"{plan.operation}:lock")
        fingerprint = common_fingerprint(ws, plan.backend)
        for lp in plan.layers:
            if lp.vendor is None or CONFLICT in lp.status:
                continue
            layer = self.layer(lp)
            if not (ws.layer_dir(layer) / "layer.yaml").is_file():
                continue
            meta = ws.layer_meta(layer)
            base = {"upstream_commit": plan.new_commit, "common_fingerprint": fingerprint}
            old = meta.get("base")
            if old is None or dict(old) != base:
                meta["base"] = base
                ws.save_layer_meta(layer, meta)
                written.append(f"{layer.dir.as_posix()}/layer.yaml")
        if any_conflict:
            return written
        # Build the new stack from the files just written (exactly what `apply` will build).
        state, state_ref = load_state(repo)
        layers = [LayerRef(plan.backend, None)]
        if state is not None and len(state.layers) > 1 and state.layers[-1].layer.startswith("vendor/"):
            layers.append(LayerRef(plan.backend, state.layers[-1].layer.split("/", 1)[1]))
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
        handed_over = any(st in (RESOLVED, SKIPPED) for lp in plan.layers for st in lp.status)
        repo.reset_hard(new_state.head, discard_local=handed_over)
        crash_point(f"{plan.operation}:checkout")
        save_state(repo, new_state, state_ref, f"{plan.operation} {plan.new_ref}")
        crash_point(f"{plan.operation}:state")
        return written


def start_operation(
    session: Any, plan: Plan, progress: Progress | None, refs_before: dict[str, str] | None = None
) -> OperationResult:
    """Save the originals into the journal (refs as they were before any fetch), then drive the plan."""
    from fspatch.core import journal

    ws, repo = session.ws, session.repo
    dirs = [LayerRef(plan.backend, lp.vendor).dir.as_posix() for lp in plan.layers]
    dirs.append(LayerRef(plan.backend, None).dir.as_posix())
    saved = journal.save_originals(ws.root, repo, ["upstream.lock"], dirs)
    if refs_before is not None:
        saved["refs"] = refs_before
    journal.write(repo, {"operation": plan.operation, "backend": plan.backend, "saved": saved, "plan": plan.to_dict()})
    crash_point(f"{plan.operation}:journal")
    return Driver(session, plan, progress).drive(saved)
