"""Review a backend's layers: patch stats, collisions, marker coverage and size over history.

What it computes (one :class:`Review` value; ``core/html.py`` and the CLI render it):

Stats
    Per layer (the common layer, then each vendor layer of the backend, or only the named one),
    per patch: the files it touches and the lines it adds and removes, counted from the patch
    file's hunks (``+``/``-`` lines; binary changes count 0 lines).  The same counting is used
    for the history, so today's totals and the plot's last point agree.

Diffs
    Every patch carries its file changes (:class:`FileChange`): one entry per file the patch
    changes -- a rename or copy is *one* entry with its old and new path --, with the hunks
    as display lines (text decoded as UTF-8 with replacement, old and new line numbers).
    When the stack is built, an added line of an upstream file that lies outside marker
    regions is flagged ``unmarked`` (matched on its line number *and* text in the patched
    blob, so a patch applied at an offset flags nothing rather than the wrong line).  The
    JSON form (:func:`as_json`) leaves the hunks out: it is a summary, the patch files are
    the diffs.

Collisions
    Files touched by more than one layer: where vendor work and common work meet (or two
    vendors change the same upstream file).  A rename counts for both of its paths.

Marker coverage
    Every patch is built in memory on its real base (:func:`build_steps`);
    for each text file that exists upstream, the lines the patch adds to it (a libgit2 line
    diff of the blob before and after the patch) are checked against the marker regions of
    the patched file.  BEG/END marker lines themselves and blank lines are not counted (blank
    lines never need markers, see ``core/markers.py``); a line carrying the single-line marker
    counts as covered.  Files with no known comment syntax (JSON, ``requirements/*.txt``...)
    are not counted: they cannot carry markers (``check`` warns about them).  Coverage is
    ``covered / counted`` per patch and per layer (None when nothing was counted).  Without a
    backend checkout coverage is skipped with a note; a patch that does not apply stops its
    layer's walk and is reported as the layer's ``error``.

History
    The workspace's own git repository (its root must be the repository's top), walked along
    first parents from HEAD.  A commit *touches* a layer when the layer directory's tree id
    differs from the one in its first parent.  For each of the last ``limit`` (default 50)
    such commits, the layer's series and patch files are read from that commit's tree
    (read-only, never checked out) and counted as above.  Patch counts are cached by blob id.
    Encrypted or unparsable patches are counted as ``unreadable``.

Patch subjects and file names are untrusted input: renderers escape them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fspatch.core.crypto import is_encrypted_name
from fspatch.core.layers import PatchStep, StepError, walk_layer
from fspatch.core.markers import MarkerConfig, parse_markers, syntax_for
from fspatch.core.patch import ADDED, CONTEXT, REMOVED, FileDiff, Hunk, Patch, parse_patch
from fspatch.core.series import parse_series
from fspatch.core.session import Session
from fspatch.core.stack import PatchSource
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import FspatchError, UsageError
from fspatch.git_adapter import GitRepo

HISTORY_LIMIT = 50
_BINARY_PROBE = 8000


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Coverage:
    """Added lines of upstream files (blank and BEG/END lines excluded) and how many are fenced."""

    counted: int = 0
    covered: int = 0
    share: float | None = field(init=False, default=None)  # covered / counted; None when nothing counted

    def __post_init__(self) -> None:
        object.__setattr__(self, "share", self.covered / self.counted if self.counted else None)

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(self.counted + other.counted, self.covered + other.covered)


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk as shown to a reviewer: kind (`` ``, ``+``, ``-``), text, line numbers."""

    kind: str
    text: str  # decoded, without its line end
    old: int | None  # 1-based line in the file before the patch (None for an added line)
    new: int | None  # 1-based line in the file after the patch (None for a removed line)
    unmarked: bool = False  # an added line of an upstream file outside marker regions


@dataclass(frozen=True)
class DiffHunk:
    header: str  # ``@@ -a,b +c,d @@`` and the section text git puts after it
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class FileChange:
    """One file a patch changes; a rename or copy is one change with both paths."""

    path: str  # the new path (the old one for a deletion)
    old_path: str | None  # the old path of a rename or copy, else None
    status: str  # A, M, D, R, C (git's letters)
    added: int
    removed: int
    binary: bool = False
    mode: str = ""  # "100644 → 100755" when the mode changes, else ""
    hunks: tuple[DiffHunk, ...] = ()


@dataclass(frozen=True)
class PatchStat:
    """One patch of a layer: what it touches and how much."""

    name: str
    subject: str
    author: str
    files: tuple[str, ...]  # one path per changed file (a rename's new path)
    added: int
    removed: int
    coverage: Coverage | None = None  # None: not built (no checkout, or the layer stopped before it)
    error: str | None = None  # the patch file could not be read
    file: str = ""  # the patch file, workspace-relative (``series/<backend>/0001-x.patch``)
    description: str = ""
    changes: tuple[FileChange, ...] = ()


@dataclass(frozen=True)
class HistoryPoint:
    """A layer's size at one workspace commit that touched it."""

    commit: str
    age: int  # first-parent steps from the workspace's HEAD (0 = HEAD): orders points across layers
    time: int
    subject: str
    patches: int
    added: int
    removed: int
    total: int
    unreadable: int = 0


@dataclass(frozen=True)
class LayerReview:
    label: str  # "common" or "vendor/<name>"
    dir: str  # workspace-relative directory
    patches: tuple[PatchStat, ...]
    added: int
    removed: int
    files: tuple[str, ...]
    coverage: Coverage | None
    error: str | None = None  # the first patch that did not apply (its walk stopped there)
    history: tuple[HistoryPoint, ...] = ()


@dataclass(frozen=True)
class Collision:
    """A file touched by more than one layer, and by which patches (``layer/patch``)."""

    path: str
    layers: tuple[str, ...]
    patches: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    backend: str
    ref: str
    upstream: str
    layers: tuple[LayerReview, ...]
    collisions: tuple[Collision, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    history_limit: int = HISTORY_LIMIT

    @property
    def patch_count(self) -> int:
        return sum(len(layer.patches) for layer in self.layers)


# --------------------------------------------------------------------------- counting


def count_lines(patch: Patch) -> tuple[int, int]:
    """Lines added and removed by a patch's hunks."""
    added = removed = 0
    for fd in patch.files:
        for hunk in fd.hunks:
            for kind, _ in hunk.lines:
                if kind == ADDED:
                    added += 1
                elif kind == REMOVED:
                    removed += 1
    return added, removed


def touched_paths(fd: FileDiff) -> list[str]:
    """Both names of a rename or copy, else the one path."""
    out = [p for p in (fd.old_path, fd.new_path) if p is not None]
    return list(dict.fromkeys(out))


def _patch_stat(name: str, display: str, patch: Patch) -> PatchStat:
    added, removed = count_lines(patch)
    files: list[str] = []
    for fd in patch.files:
        if fd.path not in files:
            files.append(fd.path)
    return PatchStat(
        name, patch.subject, patch.author, tuple(files), added, removed, file=display, description=patch.description
    )


def _text(content: bytes) -> str:
    if content.endswith(b"\n"):
        content = content[:-1]
    if content.endswith(b"\r"):
        content = content[:-1]
    return content.decode("utf-8", "replace")


def _hunk_view(hunk: Hunk, unmarked: Mapping[int, bytes]) -> DiffHunk:
    old, new = hunk.old_start, hunk.new_start
    lines: list[DiffLine] = []
    for kind, content in hunk.lines:
        if kind == CONTEXT:
            lines.append(DiffLine(kind, _text(content), old, new))
            old += 1
            new += 1
        elif kind == REMOVED:
            lines.append(DiffLine(kind, _text(content), old, None))
            old += 1
        else:
            raw = content[:-1] if content.endswith(b"\n") else content
            lines.append(DiffLine(kind, _text(content), None, new, unmarked.get(new) == raw))
            new += 1
    section = hunk.section.decode("utf-8", "replace").strip()
    return DiffHunk(hunk.header() + (f" {section}" if section else ""), tuple(lines))


def file_changes(patch: Patch, unmarked: Mapping[str, Mapping[int, bytes]] | None = None) -> tuple[FileChange, ...]:
    """The patch's file changes as display values; ``unmarked``: path → {new line: text} to flag."""
    out: list[FileChange] = []
    for fd in patch.files:
        added = removed = 0
        for hunk in fd.hunks:
            for kind, _ in hunk.lines:
                added += kind == ADDED
                removed += kind == REMOVED
        flags = (unmarked or {}).get(fd.path, {})
        mode = ""
        if fd.old_mode is not None and fd.new_mode is not None and fd.old_mode != fd.new_mode:
            mode = f"{fd.old_mode:o} \u2192 {fd.new_mode:o}"
        elif fd.status == "A" and fd.new_mode is not None and fd.new_mode != 0o100644:
            mode = f"{fd.new_mode:o}"
        out.append(
            FileChange(
                path=fd.path,
                old_path=fd.old_path if fd.status in ("R", "C") else None,
                status=fd.status,
                added=added,
                removed=removed,
                binary=fd.binary is not None or fd.binary_no_data,
                mode=mode,
                hunks=tuple(_hunk_view(h, flags) for h in fd.hunks),
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- building


def build_steps(s: Session, layers: Sequence[LayerRef]) -> Iterator[PatchStep | StepError]:
    """The common layer on the pinned upstream, then each given vendor layer on the common top.

    In memory (the checkout is never touched).  A patch that cannot be read or applied ends its
    layer with a :class:`StepError`; vendor layers are not built when the common layer stops.
    """
    builder = s.builder()
    common_top: str | None = s.backend.commit
    for layer in layers:
        base = s.backend.commit if layer.vendor is None else common_top
        if base is None:
            yield StepError(layer, layer.dir.as_posix(), "not built: the common layer does not build")
            continue
        sources: list[tuple[PatchSource, bytes]] = []
        unreadable: StepError | None = None
        for entry in s.entries(layer):
            display = f"{layer.dir.as_posix()}/{entry.name}"
            try:
                if is_encrypted_name(entry.name):
                    raise UsageError("encrypted patch, not built (no key)", path=display)
                data = s.ws.read_patch(layer, entry.name)
                sources.append((PatchSource(entry.name, display, parse_patch(data, display, entry.strip)), data))
            except FspatchError as exc:
                unreadable = StepError(layer, display, str(exc))
                break
        top: str | None = base
        for step in walk_layer(s.repo, builder, layer, base, sources):
            yield step
            if isinstance(step, StepError):
                top = None
                break
            top = step.commit
        else:
            if unreadable is not None:
                top = None
                yield unreadable
        if layer.vendor is None:
            common_top = top


# --------------------------------------------------------------------------- marker coverage


def split_lines(data: bytes) -> list[bytes]:
    """Lines split on ``\\n`` only, as libgit2 numbers them (no empty last line)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:_BINARY_PROBE]


def added_line_indexes(repo: GitRepo, before: bytes, after: bytes) -> list[int]:
    """0-based indexes (in ``after``) of the lines a change adds, from a libgit2 line diff."""
    out: list[int] = []
    for _os, _oc, ns, nc in repo.line_hunks(before, after):
        out.extend(range(ns - 1, ns - 1 + nc))
    return out


def file_coverage(path: str, after: bytes, added: Iterable[int], config: MarkerConfig) -> Coverage:
    """How many of the added lines (blank and BEG/END lines excluded) lie inside marker regions."""
    return file_coverage_lines(path, after, added, config)[0]


def file_coverage_lines(
    path: str, after: bytes, added: Iterable[int], config: MarkerConfig
) -> tuple[Coverage, list[int]]:
    """:func:`file_coverage` and the 0-based indexes of the counted lines that are not covered."""
    lines = split_lines(after)
    syntax = syntax_for(path, config)
    if syntax is None:  # no comment syntax: the file cannot carry markers, nothing is counted
        return Coverage(), []
    fences: set[int] = set()
    starts: list[int] = []
    ends: list[int] = []
    singles: set[int] = set()
    if syntax is not None:
        depth = 0
        open_at = 0
        for m in parse_markers(lines, syntax, config):
            idx = m.line - 1
            if m.kind == "single":
                singles.add(idx)
                continue
            fences.add(idx)
            if m.kind == "beg":
                if depth == 0:
                    open_at = idx
                depth += 1
            elif depth:
                depth -= 1
                if depth == 0:
                    starts.append(open_at)
                    ends.append(idx)
        if depth:  # an unclosed BEG covers to the end, as the check reads it
            starts.append(open_at)
            ends.append(len(lines) - 1)
    counted = covered = 0
    uncovered: list[int] = []
    for idx in added:
        if idx >= len(lines) or idx in fences or not lines[idx].strip():
            continue
        counted += 1
        k = bisect_right(starts, idx) - 1
        if idx in singles or (k >= 0 and ends[k] >= idx):
            covered += 1
        else:
            uncovered.append(idx)
    return Coverage(counted, covered), uncovered


def step_coverage(repo: GitRepo, step: PatchStep, upstream_tree: str, config: MarkerConfig) -> Coverage:
    """Coverage of one built patch over the files it changes that exist upstream."""
    return step_coverage_lines(repo, step, upstream_tree, config)[0]


def step_coverage_lines(
    repo: GitRepo, step: PatchStep, upstream_tree: str, config: MarkerConfig
) -> tuple[Coverage, dict[str, dict[int, bytes]]]:
    """:func:`step_coverage` and, per file, the uncovered added lines (1-based number → text)."""
    total = Coverage()
    flagged: dict[str, dict[int, bytes]] = {}
    for fd in step.source.patch.files:
        if fd.new_path is None or fd.binary is not None:
            continue
        upstream_path = fd.old_path if fd.status in ("R", "C") else fd.path
        if upstream_path is None or repo.entry(upstream_tree, upstream_path) is None:
            continue
        after = repo.read_file(step.tree, fd.new_path)
        if after is None:
            continue
        found = repo.read_file(step.parent_tree, fd.old_path) if fd.old_path is not None else None
        before = found[0] if found is not None else b""
        if is_binary(after[0]) or is_binary(before):
            continue
        added = added_line_indexes(repo, before, after[0])
        cov, uncovered = file_coverage_lines(fd.new_path, after[0], added, config)
        total = total + cov
        if uncovered:
            lines = split_lines(after[0])
            flagged[fd.new_path] = {i + 1: lines[i] for i in uncovered}
    return total, flagged


# --------------------------------------------------------------------------- history


def _commit_chain(repo: GitRepo, head: str) -> Iterable[tuple[str, str | None]]:
    """(commit, first parent) pairs from head backwards."""
    cur: str | None = head
    while cur is not None:
        parents = repo.commit_info(cur).parents
        parent = parents[0] if parents else None
        yield cur, parent
        cur = parent


def touching_commits(repo: GitRepo, head: str, dirs: Sequence[str], limit: int) -> dict[str, list[tuple[str, int]]]:
    """dir → the last ``limit`` first-parent commits that changed it, with their age, oldest first."""
    found: dict[str, list[tuple[str, int]]] = {d: [] for d in dirs}
    trees: dict[str, str] = {}

    def sub(commit: str | None, d: str) -> str | None:
        if commit is None:
            return None
        if commit not in trees:
            trees[commit] = repo.tree_of(commit)
        return repo.subtree(trees[commit], d)

    for age, (commit, parent) in enumerate(_commit_chain(repo, head)):
        for d in dirs:
            if len(found[d]) < limit and sub(commit, d) != sub(parent, d):
                found[d].append((commit, age))
        trees.pop(commit, None)
        if all(len(v) >= limit for v in found.values()):
            break
    return {d: list(reversed(v)) for d, v in found.items()}


class _Counter:
    """Line counts of patch blobs, cached by blob id."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self.cache: dict[tuple[str, int], tuple[int, int] | None] = {}

    def point(self, commit: str, age: int, layer_dir: str) -> HistoryPoint:
        info = self.repo.commit_info(commit)
        subject = info.message.split("\n", 1)[0]
        found = self.repo.read_file(info.tree, f"{layer_dir}/series")
        added = removed = patches = unreadable = 0
        if found is not None:
            display = f"{layer_dir}/series@{commit[:12]}"
            try:
                entries = parse_series(found[0], display)
            except FspatchError:
                entries = []
                unreadable += 1
            for e in entries:
                patches += 1
                counts = self._count(info.tree, layer_dir, e.name, e.strip, commit)
                if counts is None:
                    unreadable += 1
                    continue
                added += counts[0]
                removed += counts[1]
        return HistoryPoint(
            commit, age, info.committer_time, subject, patches, added, removed, added + removed, unreadable
        )

    def _count(self, tree: str, layer_dir: str, name: str, strip: int, commit: str) -> tuple[int, int] | None:
        if is_encrypted_name(name):
            return None
        entry = self.repo.entry(tree, f"{layer_dir}/{name}")
        if entry is None:
            return None
        key = (entry.id, strip)
        if key not in self.cache:
            try:
                patch = parse_patch(self.repo.read_blob(entry.id), f"{layer_dir}/{name}@{commit[:12]}", strip)
                self.cache[key] = count_lines(patch)
            except FspatchError:
                self.cache[key] = None
        return self.cache[key]


def layer_history(
    ws: Workspace, layers: Sequence[LayerRef], limit: int
) -> tuple[dict[str, tuple[HistoryPoint, ...]], str | None]:
    """label → history points (oldest first), and a note when there is no history to read."""
    if not GitRepo.is_repo(ws.root):
        return {}, f"{ws.root} is not the top of a git repository: no history"
    repo = GitRepo.open(ws.root)
    head = repo.head()
    if head is None:
        return {}, "the workspace repository has no commits yet: no history"
    dirs = {layer.label: layer.dir.as_posix() for layer in layers}
    commits = touching_commits(repo, head, list(dirs.values()), limit)
    counter = _Counter(repo)
    out = {label: tuple(counter.point(c, age, d) for c, age in commits[d]) for label, d in dirs.items()}
    return out, None


# --------------------------------------------------------------------------- review


def review(ws: Workspace, backend: str, vendor: str | None = None, *, limit: int = HISTORY_LIMIT) -> Review:
    """Stats, collisions, coverage and history of a backend's common layer and vendor layers."""
    b = ws.backend(backend)
    common = LayerRef(b.name, None)
    if vendor is not None:
        ws.vendor_info(vendor)  # unknown vendor: a clear error
        mine = LayerRef(b.name, vendor)
        if mine not in ws.vendor_layers(b.name):
            raise UsageError(f"vendor {vendor!r} has no layer for backend {b.name!r} ({mine.dir.as_posix()}/)")
        layers = [common, mine]
    else:
        layers = [common, *ws.vendor_layers(b.name)]
    notes: list[str] = []

    stats: dict[str, list[PatchStat]] = {}
    parsed: dict[tuple[str, str], Patch] = {}
    for layer in layers:
        rows: list[PatchStat] = []
        for entry in ws.read_layer_series(layer):
            display = f"{layer.dir.as_posix()}/{entry.name}"
            if is_encrypted_name(entry.name):
                rows.append(PatchStat(entry.name, "", "", (), 0, 0, error=f"{display}: encrypted", file=display))
                continue
            try:
                patch = parse_patch(ws.read_patch(layer, entry.name), display, entry.strip)
            except FspatchError as exc:
                rows.append(PatchStat(entry.name, "", "", (), 0, 0, error=str(exc), file=display))
                continue
            parsed[(layer.label, entry.name)] = patch
            rows.append(_patch_stat(entry.name, display, patch))
        stats[layer.label] = rows

    coverage: dict[tuple[str, str], Coverage] = {}
    flagged: dict[tuple[str, str], dict[str, dict[int, bytes]]] = {}
    errors: dict[str, str] = {}
    built = False
    s: Session | None = None
    if not GitRepo.is_repo(ws.checkout_path(b)):
        notes.append(f"no checkout at {b.path}: marker coverage not computed (run 'fspatch backend add')")
    else:
        try:
            s = Session.open(ws, b.name, operation_ok=True)
        except FspatchError as exc:
            notes.append(f"marker coverage not computed: {exc}")
    if s is not None:
        config = MarkerConfig.from_settings(ws.settings())
        upstream_tree = s.repo.tree_of(b.commit)
        for step in build_steps(s, layers):
            if isinstance(step, StepError):
                errors[step.layer.label] = step.message
                continue
            key = (step.layer.label, step.source.name)
            coverage[key], flagged[key] = step_coverage_lines(s.repo, step, upstream_tree, config)
        built = True

    history, note = layer_history(ws, layers, limit)
    if note:
        notes.append(note)

    out: list[LayerReview] = []
    touched_by: dict[str, dict[str, list[str]]] = {}
    for layer in layers:
        rows = []
        for p in stats[layer.label]:
            key = (layer.label, p.name)
            found = parsed.get(key)
            changes = file_changes(found, flagged.get(key)) if found is not None else ()
            rows.append(replace(p, coverage=coverage.get(key), changes=changes))
        files: list[str] = []
        for p in rows:
            for f in p.files:
                if f not in files:
                    files.append(f)
            touched = parsed.get((layer.label, p.name))
            for fd in touched.files if touched is not None else ():
                for f in touched_paths(fd):
                    names = touched_by.setdefault(f, {}).setdefault(layer.label, [])
                    if f"{layer.label}/{p.name}" not in names:
                        names.append(f"{layer.label}/{p.name}")
        layer_cov: Coverage | None = None
        if built:
            layer_cov = Coverage()
            for p in rows:
                if p.coverage is not None:
                    layer_cov = layer_cov + p.coverage
        out.append(
            LayerReview(
                label=layer.label,
                dir=layer.dir.as_posix(),
                patches=tuple(rows),
                added=sum(p.added for p in rows),
                removed=sum(p.removed for p in rows),
                files=tuple(sorted(files)),
                coverage=layer_cov,
                error=errors.get(layer.label),
                history=history.get(layer.label, ()),
            )
        )
    collisions = tuple(
        Collision(path, tuple(by), tuple(p for names in by.values() for p in names))
        for path, by in sorted(touched_by.items())
        if len(by) > 1
    )
    return Review(b.name, b.ref, b.commit, tuple(out), collisions, tuple(notes), limit)


def as_json(r: Review) -> dict[str, Any]:
    """The review as JSON-ready data: everything but the hunks (the patch files are the diffs)."""
    data = asdict(r)
    for layer in data["layers"]:
        for p in layer["patches"]:
            for c in p["changes"]:
                del c["hunks"]
    data["patch_count"] = r.patch_count
    return data
