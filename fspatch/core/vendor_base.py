"""A vendor layer found at its own base, then brought forward to the workspace's pin.

Why: a FlagScale vendor publishes its ``diff.patch`` against the upstream commit it worked on
(``backends_commit``), with the common layer as it was at the FlagScale commit it started from
(``commit``) -- often hundreds of upstream commits behind the workspace's pin.  Forcing it onto
the pin refuses it; guessing loses changes.  So the layer is split from the common layer *of its
own time* on *its own upstream commit* (the vendor-only layer at its base), then replayed onto
the pin and the current common layer with the same engine as ``pull-upstream``
(:mod:`fspatch.core.replay`): clean patches come out with fresh context, conflicting ones are
kept as they were and listed, with file, region and upstream culprit, for the pending flow
(:func:`pending_doc`, ``series/<backend>/pending.yaml``).

Pure: git objects in, values out; the import writes the files.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from fspatch.core.flagscale import SplitResult, split_vendor
from fspatch.core.patch import FileDiff, Patch, format_patch, parse_patch
from fspatch.core.replay import Replayer, new_patch_bytes
from fspatch.core.replay_plan import LayerPlan, Plan
from fspatch.core.replay_report import CONFLICT, PatchOutcome
from fspatch.core.stack import Builder, PatchSource, apply_files
from fspatch.core.workspace import normalize_backend
from fspatch.errors import ConflictError, HunkFailed, InputError
from fspatch.git_adapter import GitRepo

__all__ = [
    "OPERATION",
    "CommonAtBase",
    "ForwardConflict",
    "ForwardedLayer",
    "bring_forward",
    "build_common",
    "common_at",
    "gitlink_at",
    "pending_layer",
    "per_file_groups",
    "split_at_base",
]

OPERATION = "import-flagscale"
PATCH_SUFFIXES = (".patch",)


@dataclass(frozen=True)
class CommonAtBase:
    """The common layer a vendor layer was made with: its per-file patches and where they came from."""

    files: tuple[tuple[str, bytes], ...]  # (path below flagscale/backends/<Backend>/, bytes), path order
    source: str  # "history" (read at the FlagScale commit) | "current" (fallback: the commit is not there)
    note: str  # one line for the report when the fallback was taken, else ""


def _dir_named(repo: GitRepo, tree: str, parent: str, backend: str) -> str | None:
    """The entry below ``parent`` whose name FlagScale spells for ``backend`` (``Megatron-LM`` → megatron)."""
    sub = repo.subtree(tree, parent)
    if sub is None:
        return None
    names = sorted({path.split("/", 1)[0] for path, _ in repo.list_files(sub)})
    hits = [n for n in names if normalize_backend(n) == backend]
    return f"{parent}/{hits[0]}" if hits else None


def common_at(fs_repo: GitRepo | None, commit: str, backend: str, current: Sequence[tuple[str, bytes]]) -> CommonAtBase:
    """``flagscale/backends/<Backend>/**.patch`` at ``commit`` of the FlagScale repository.

    Falls back to ``current`` (the common layer being imported) when the repository or the
    commit is not there; the note says so, since the subtraction is then only as good as the
    common layer's stability.
    """
    if fs_repo is None:
        return CommonAtBase(tuple(current), "current", "the FlagScale directory is not a git repository")
    full = fs_repo.resolve(commit) if commit else None
    if full is None or not fs_repo.has_commit(full):
        return CommonAtBase(tuple(current), "current", f"FlagScale commit {commit[:12]} is not in the repository")
    tree = fs_repo.tree_of(full)
    where = _dir_named(fs_repo, tree, "flagscale/backends", backend)
    sub = fs_repo.subtree(tree, where) if where is not None else None
    if sub is None:
        return CommonAtBase((), "history", "")
    files = []
    for path, e in fs_repo.list_files(sub):
        if not path.endswith(PATCH_SUFFIXES):
            continue
        try:
            files.append((path, fs_repo.read_blob(e.id)))
        except (KeyError, ValueError):  # a partial mirror: the blob is not there
            note = f"{where}/{path} at FlagScale commit {commit[:12]} is missing from the repository"
            return CommonAtBase(tuple(current), "current", note)
    return CommonAtBase(tuple(sorted(files)), "history", "")


def gitlink_at(fs_repo: GitRepo | None, commit: str, backend: str) -> str | None:
    """The submodule commit FlagScale pinned at ``commit`` (``third_party/<Backend>``), if any."""
    if fs_repo is None:
        return None
    full = fs_repo.resolve(commit) if commit else None
    if full is None or not fs_repo.has_commit(full):
        return None
    tree = fs_repo.tree_of(full)
    path = _dir_named(fs_repo, tree, "third_party", backend)
    e = fs_repo.entry(tree, path) if path is not None else None
    return e.id if e is not None and e.mode == 0o160000 else None


def build_common(repo: GitRepo, upstream: str, files: Sequence[tuple[str, bytes]], display: str) -> str | None:
    """upstream + those per-file common patches, as one commit; None when one does not apply there."""
    tree = repo.tree_of(upstream)
    for rel, raw in files:
        where = f"{display}/{rel}"
        try:
            tree = apply_files(repo, tree, parse_patch(raw, where).files)
        except (HunkFailed, ConflictError, InputError):
            return None
    if tree == repo.tree_of(upstream):
        return upstream
    builder = Builder(repo, upstream)
    return builder.commit(tree, upstream, Patch(author="FlagScale <flagscale@baai.ac.cn>", subject=f"{display}"))


@dataclass(frozen=True)
class ForwardConflict:
    patch: str
    file: str
    region: str  # e.g. "lines 120-134" in the new upstream, or the conflict kind
    culprit: str  # "<short id> <subject>" of the upstream commit, or ""


@dataclass(frozen=True)
class ForwardedLayer:
    """One vendor layer after the replay: the files to write, and what the report says."""

    found_at: str  # FlagScale commit (or "" when unknown)
    upstream: str  # the upstream commit the layer was split on
    brought_to: str  # the workspace pin
    names: tuple[str, ...]
    old_bytes: tuple[bytes, ...]  # each patch at its own base
    new_bytes: tuple[bytes, ...]  # the bytes to write: rewritten when clean, the old ones when pending
    pending: tuple[bool, ...]
    conflicts: tuple[ForwardConflict, ...]
    outcomes: tuple[PatchOutcome, ...]
    plan: Plan

    @property
    def clean(self) -> int:
        return sum(1 for p in self.pending if not p)

    @property
    def conflicting(self) -> int:
        return sum(1 for p in self.pending if p)


def _describe(o: PatchOutcome) -> list[ForwardConflict]:
    out: list[ForwardConflict] = []
    for fc in o.conflicts:
        culprit = ""
        if fc.culprits:
            c = fc.culprits[0]
            culprit = f"{c.id[:12]} {c.subject}".strip()
        if not fc.regions:
            out.append(ForwardConflict(o.patch, fc.path, fc.kind, culprit))
        for r in fc.regions:
            start, count = r.new_upstream
            span = f"line {start}" if count <= 1 else f"lines {start}-{start + count - 1}"
            out.append(ForwardConflict(o.patch, fc.path, span, culprit))
    if not out:
        out.append(ForwardConflict(o.patch, "", "blocked" if o.blocked_by else "conflict", o.blocked_by))
    return out


def bring_forward(
    repo: GitRepo,
    *,
    backend: str,
    label: str,
    vendor: str,
    found_at: str,
    base_upstream: str,
    old_common_top: str,
    patches: Sequence[tuple[str, Patch]],
    pin: str,
    pin_ref: str,
    new_common_top: str,
    display: str,
) -> ForwardedLayer:
    """Replay a vendor-only layer (``patches`` on ``old_common_top``) onto ``new_common_top``.

    Bot mode: every patch is tried, none stops the rest; conflicting ones keep their old bytes.
    """
    builder = Builder(repo, base_upstream)
    sources = [PatchSource(n, f"{display}/{n}", p) for n, p in patches]
    applied = builder.build(old_common_top, sources)  # split_vendor made them from this very tree
    lp = LayerPlan(label, vendor, old_common_top, [a.name for a in applied], [a.commit for a in applied])
    lp.new_base = new_common_top
    lp.top = new_common_top
    old_ref = f"{base_upstream[:12]}" + (f" (FlagScale {found_at[:9]})" if found_at else "")
    plan = Plan(OPERATION, backend, old_ref, base_upstream, pin_ref, pin, False, False, [lp])
    plan.resolve = "none"
    by_name = dict(patches)
    Replayer(repo, plan).run(lambda _lp, name: by_name[name])
    old_bytes = tuple(format_patch(p) for _, p in patches)
    new_bytes: list[bytes] = []
    pending: list[bool] = []
    parent = new_common_top
    for i, (name, patch) in enumerate(patches):
        status = lp.status[i] if i < len(lp.status) else CONFLICT
        new = lp.new[i] if i < len(lp.new) else None
        if status == CONFLICT or new is None:
            new_bytes.append(old_bytes[i])
            pending.append(True)
            continue
        new_bytes.append(new_patch_bytes(repo, patch, parent, new, f"{display}/{name}"))
        pending.append(False)
        parent = new
    conflicts = [c for o in plan.outcomes if o.status == CONFLICT for c in _describe(o)]
    return ForwardedLayer(
        found_at,
        base_upstream,
        pin,
        tuple(n for n, _ in patches),
        old_bytes,
        tuple(new_bytes),
        tuple(pending),
        tuple(conflicts),
        tuple(plan.outcomes),
        plan,
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pending_layer(fwd: ForwardedLayer, common: Sequence[tuple[str, bytes]], base_ref: str) -> dict[str, object]:
    """The ``pending.yaml`` entry of a layer with conflicts: its series at its own base, and that base.

    ``base`` is what :func:`fspatch.core.replay_pending.resume_plan` needs to rebuild the old
    stack in a fresh clone: the upstream commit and the common layer's patches of that time
    (their bytes inline: they are not in the workspace's files).
    """
    series = []
    for name, old, new, pend in zip(fwd.names, fwd.old_bytes, fwd.new_bytes, fwd.pending, strict=True):
        entry: dict[str, object] = {
            "name": name,
            "strip": 1,
            "sha256": _sha(old),
            "status": "conflict" if pend else "clean",
        }
        if new != old:
            entry["old_bytes"] = base64.b64encode(old).decode("ascii")
        series.append(entry)
    return {
        "label": fwd.plan.layers[0].label,
        "series": series,
        "base": {
            "ref": base_ref,
            "commit": fwd.upstream,
            "common": [
                {"name": rel, "sha256": _sha(raw), "bytes": base64.b64encode(raw).decode("ascii")}
                for rel, raw in common
            ],
        },
    }


def per_file_groups(files: Sequence[FileDiff]) -> list[tuple[str, tuple[FileDiff, ...]]]:
    """One ``diff.patch``'s sections as FlagScale's per-file patches: (path, sections), path order.

    Why: one conflicting hunk in a layer imported as a single patch makes the whole layer pending;
    per file, only the files that conflict are.  A rename, copy, mode or binary section stays whole
    with its file.  Sections that share a path (a copy whose source is also changed, a file
    recreated at a renamed-away path) stay in one patch: applied one by one they would read each
    other's result, while ``git apply`` of the one diff reads the pristine file.
    """
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, fd in enumerate(files):
        for p in (fd.old_path, fd.new_path):
            if p is None:
                continue
            if p in owner:
                parent[root(i)] = root(owner[p])
            else:
                owner[p] = i
    groups: dict[int, list[FileDiff]] = {}
    for i, fd in enumerate(files):
        groups.setdefault(root(i), []).append(fd)
    named = [(min(fd.path for fd in g), tuple(g)) for g in groups.values()]
    return sorted(named, key=lambda x: x[0])


@dataclass(frozen=True)
class BaseSplit:
    """The vendor-only layer at the vendor's own base."""

    upstream: str  # the upstream commit the vendor-only layer sits on
    old_common_top: str  # that commit + the common layer of the vendor's time
    split: SplitResult
    notes: tuple[str, ...]


def _changed_lines(split: SplitResult) -> int:
    return sum(1 for _, files in split.groups for fd in files for h in fd.hunks for k, _ in h.lines if k != " ")


def split_at_base(
    repo: GitRepo,
    *,
    candidates: Sequence[tuple[str, str]],
    backends_commit: str,
    common: CommonAtBase,
    patches: Sequence[tuple[str, Sequence[FileDiff]]],
    display: str,
    unauthenticated: frozenset[str] = frozenset(),
) -> BaseSplit:
    """Split the vendor's patches from the common layer of its time, on the first base that fits best.

    ``candidates`` are (why, upstream commit): diff.yaml's ``backends_commit`` first, then
    FlagScale's gitlink at the vendor's FlagScale commit (a vendor diff made from
    ``backends_commit`` to FlagScale's newer submodule carries upstream's changes between the
    two; split on the gitlink those changes are not the vendor's).  Each candidate where the
    common layer of that time applies is tried; the one leaving the fewest changed lines in the
    vendor layer wins (ties: the earlier).  The vendor's patches are always read as FlagScale
    applies them: on ``backends_commit``.
    """
    notes: list[str] = []
    best: BaseSplit | None = None
    first_error: ConflictError | None = None
    tried: set[str] = set()
    for why, upstream in candidates:
        if upstream in tried:
            continue
        tried.add(upstream)
        top = build_common(repo, upstream, common.files, "flagscale/backends")
        if top is None:
            notes.append(f"the common layer of the vendor's time does not apply on {why} {upstream[:12]}")
            continue
        try:
            split = split_vendor(repo, backends_commit, top, patches, display, unauthenticated)
        except ConflictError as exc:
            first_error = first_error or exc
            continue
        got = BaseSplit(upstream, top, split, ())
        if best is None or _changed_lines(split) < _changed_lines(best.split):
            best = got
    if best is None:
        if first_error is not None:
            raise first_error
        raise ConflictError(
            f"{display}: the common layer of its time applies on none of "
            + ", ".join(f"{w} {c[:12]}" for w, c in candidates),
            path=display,
        )
    return BaseSplit(best.upstream, best.old_common_top, best.split, tuple(notes))
