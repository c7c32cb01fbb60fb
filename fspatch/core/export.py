"""Layers read from the working tree or from a workspace commit; squash, diff.yaml and history.

Reading layers
    A :class:`LayerReader` hands out what a stack is built from: the lock's backends, a layer's
    series, its patches (parsed), vendor.yaml and layer.yaml.  :class:`FilesReader` reads the
    workspace's files (through :class:`~fspatch.core.workspace.Workspace`); :class:`CommitReader`
    reads the same files from one commit of the workspace's own git repository (``apply --at``),
    never checking anything out.  Both reuse the same parsers and schemas.  ``*.encrypted``
    patches are decrypted in memory with the key given to the reader (:mod:`fspatch.core.crypto`).

Squash (``export``)
    A vendor layer's published form is one tree-to-tree diff: upstream+common → upstream+common
    +vendor, both built in memory, formatted canonically (``parse_diff`` + ``format_diff``), so
    the same layers always give the same bytes and applying the diff on upstream+common gives the
    vendor stack's tree.

History (``vendors/history.yaml``), derived
    Walk the workspace repository's *first-parent* chain from HEAD, oldest first.  A commit C
    *touches* layer V/B when the set of (path, blob id) of the files under ``vendors/V/B/`` other
    than the exported ``diff.patch``/``diff.yaml``(``.encrypted``) differs from the set in C's
    first parent (no parent: the set is not empty).  For every vendor V touched in C, let S be
    the sorted set of V's backends touched in C; for each task t (train, inference, post_train
    order) declared by the ``layer.yaml`` at C of at least one touched layer, C is appended to the
    entry ``{backends: S' , commits}`` of V → t, where S' holds the backends of S whose layer
    declares t.  Entries keep the order in which their backend set first appeared.  Entries
    imported from a FlagScale ``patch_history.yaml`` live in ``vendors/history.import.yaml``
    (written once by ``import flagscale``) and come first: derived commits are appended to the
    matching imported entry.  Vendors are sorted by name.  Same history, same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fspatch.core import crypto
from fspatch.core.patch import format_diff, parse_diff, parse_patch
from fspatch.core.schema import validate
from fspatch.core.series import SeriesEntry, parse_series
from fspatch.core.stack import AppliedPatch, Builder, PatchSource
from fspatch.core.workspace import LOCK_NAME, RESERVED_NAMES, Backend, LayerRef, Workspace
from fspatch.core.workspace import TASKS as TASKS  # re-exported: import_flagscale reads it here
from fspatch.core.yamlio import parse_yaml
from fspatch.errors import InputError, UsageError
from fspatch.git_adapter import GitRepo

HISTORY = Path("vendors", "history.yaml")
HISTORY_IMPORT = Path("vendors", "history.import.yaml")
EXPORT_NAMES = frozenset({"diff.patch", "diff.yaml", "diff.patch.encrypted"})


# --------------------------------------------------------------------------- readers


class LayerReader(Protocol):
    def backend(self, name: str) -> Backend: ...
    def backends(self) -> dict[str, Backend]: ...
    def vendors(self) -> list[str]: ...
    def has_layer(self, layer: LayerRef) -> bool: ...
    def entries(self, layer: LayerRef) -> list[SeriesEntry]: ...
    def source(self, layer: LayerRef, entry: SeriesEntry) -> PatchSource: ...
    def patch_bytes(self, layer: LayerRef, name: str) -> bytes: ...
    def vendor_info(self, vendor: str) -> Any: ...
    def layer_meta(self, layer: LayerRef) -> Any: ...


def _to_source(layer: LayerRef, entry: SeriesEntry, raw: bytes, key: Any) -> PatchSource:
    display = f"{layer.dir.as_posix()}/{entry.name}"
    if crypto.is_encrypted_name(entry.name):
        if key is None:
            raise UsageError(f"{display} is encrypted; give the private key with --key PRIVATE_PEM")
        opened = crypto.open_sealed(raw, key, display)
        if not opened.authenticated:
            crypto.check_unauthenticated(opened.data, display)
        return PatchSource(
            entry.name, display, parse_patch(opened.data, display, entry.strip), not opened.authenticated
        )
    if crypto.looks_encrypted(entry.name, raw):
        raise UsageError(f"{display} is encrypted; give the private key with --key PRIVATE_PEM")
    return PatchSource(entry.name, display, parse_patch(raw, display, entry.strip))


class FilesReader:
    """Layers as the workspace's files hold them now."""

    def __init__(self, ws: Workspace, key: Any = None) -> None:
        self.ws = ws
        self.key = key
        self.unauthenticated: list[str] = []  # displays of CBC-decrypted patches (no MAC)

    def backend(self, name: str) -> Backend:
        return self.ws.backend(name)

    def backends(self) -> dict[str, Backend]:
        return self.ws.backends()

    def vendors(self) -> list[str]:
        return self.ws.vendors()

    def has_layer(self, layer: LayerRef) -> bool:
        return self.ws.layer_dir(layer).is_dir()

    def entries(self, layer: LayerRef) -> list[SeriesEntry]:
        return self.ws.read_layer_series(layer)

    def patch_bytes(self, layer: LayerRef, name: str) -> bytes:
        return self.ws.read_patch(layer, name)

    def source(self, layer: LayerRef, entry: SeriesEntry) -> PatchSource:
        src = _to_source(layer, entry, self.patch_bytes(layer, entry.name), self.key)
        if src.unauthenticated:
            self.unauthenticated.append(src.display)
        return src

    def vendor_info(self, vendor: str) -> Any:
        return self.ws.vendor_info(vendor)

    def layer_meta(self, layer: LayerRef) -> Any:
        return self.ws.layer_meta(layer)


class CommitReader:
    """Layers and lock as they were at one commit of the workspace's git repository (read-only)."""

    def __init__(self, ws: Workspace, rev: str, key: Any = None) -> None:
        self.repo = workspace_repo(ws)
        commit = self.repo.resolve(rev)
        if commit is None:
            raise UsageError(f"unknown workspace commit {rev!r}")
        self.commit = commit
        self.tree = self.repo.tree_of(commit)
        self.key = key
        self.unauthenticated: list[str] = []  # displays of CBC-decrypted patches (no MAC)
        self.ws = ws
        self._at = f"@{commit[:12]}"
        raw = self._read(LOCK_NAME)
        if raw is None:
            raise UsageError(f"workspace commit {commit[:12]} has no {LOCK_NAME}")
        self._lock_ws = Workspace(ws.root, parse_yaml(raw, LOCK_NAME + self._at, "lock"))

    def _read(self, rel: str) -> bytes | None:
        found = self.repo.read_file(self.tree, rel)
        return None if found is None else found[0]

    def backend(self, name: str) -> Backend:
        return self._lock_ws.backend(name)

    def backends(self) -> dict[str, Backend]:
        return self._lock_ws.backends()

    def vendors(self) -> list[str]:
        sub = self.repo.subtree(self.tree, "vendors")
        if sub is None:
            return []
        names = {
            p.split("/", 1)[0] for p, _ in self.repo.list_files(sub) if p.count("/") == 1 and p.endswith("/vendor.yaml")
        }
        return sorted(names)

    def has_layer(self, layer: LayerRef) -> bool:
        return self.repo.subtree(self.tree, layer.dir.as_posix()) is not None

    def entries(self, layer: LayerRef) -> list[SeriesEntry]:
        self.backend(layer.backend)
        if not self.has_layer(layer):
            if layer.vendor is None:
                return []
            raise UsageError(f"vendor {layer.vendor!r} has no layer for backend {layer.backend!r} at {self._at[1:]}")
        raw = self._read(f"{layer.dir.as_posix()}/series")
        if raw is None:
            return []
        display = f"{layer.dir.as_posix()}/series{self._at}"
        entries = parse_series(raw, display)
        for e in entries:
            if e.name in RESERVED_NAMES:
                raise InputError(f"{e.name!r} is reserved in a layer directory", path=display, line=e.line)
        return entries

    def patch_bytes(self, layer: LayerRef, name: str) -> bytes:
        raw = self._read(f"{layer.dir.as_posix()}/{name}")
        if raw is None:
            raise InputError("patch file not found", path=f"{layer.dir.as_posix()}/{name}{self._at}")
        return raw

    def source(self, layer: LayerRef, entry: SeriesEntry) -> PatchSource:
        src = _to_source(layer, entry, self.patch_bytes(layer, entry.name), self.key)
        if src.unauthenticated:
            self.unauthenticated.append(src.display)
        return src

    def vendor_info(self, vendor: str) -> Any:
        raw = self._read(f"vendors/{vendor}/vendor.yaml")
        if raw is None:
            raise UsageError(f"unknown vendor {vendor!r} at {self._at[1:]}")
        return parse_yaml(raw, f"vendors/{vendor}/vendor.yaml{self._at}", "vendor")

    def layer_meta(self, layer: LayerRef) -> Any:
        raw = self._read(f"{layer.dir.as_posix()}/layer.yaml")
        if raw is None:
            return {}
        return parse_yaml(raw, f"{layer.dir.as_posix()}/layer.yaml{self._at}", "layer")


def workspace_repo(ws: Workspace) -> GitRepo:
    """The workspace's own git repository (its root must be the repository's top)."""
    if not GitRepo.is_repo(ws.root):
        raise UsageError(
            f"{ws.root}: the workspace is not a git repository (run 'git init' there and commit); "
            "exported diff.yaml and history need workspace commits"
        )
    return GitRepo.open(ws.root)


def reader_for(ws: Workspace, at: str | None, key: Any = None) -> LayerReader:
    return CommitReader(ws, at, key) if at is not None else FilesReader(ws, key)


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class BuiltStack:
    backend: Backend
    common: tuple[AppliedPatch, ...]
    vendor: tuple[AppliedPatch, ...]

    @property
    def common_top(self) -> str:
        return self.common[-1].commit if self.common else self.backend.commit

    @property
    def top(self) -> str:
        return self.vendor[-1].commit if self.vendor else self.common_top


def check_task(reader: LayerReader, layer: LayerRef, task: str | None) -> list[str]:
    """The layer's tasks; a task it does not declare is a usage error."""
    tasks = [str(t) for t in (reader.layer_meta(layer) or {}).get("tasks", [])]
    if task is not None and task not in tasks:
        raise UsageError(
            f"vendor '{layer.vendor}' declares no task '{task}' for {layer.backend} "
            f"(declared: {', '.join(tasks) or 'none'})"
        )
    return tasks


def build_stack(repo: GitRepo, reader: LayerReader, backend: str, vendor: str | None) -> BuiltStack:
    """upstream → common → vendor, in memory, in ``repo`` (the backend checkout's repository)."""
    b = reader.backend(backend)
    builder = Builder(repo, b.commit)
    common_ref = LayerRef(b.name, None)
    common = builder.build(b.commit, [reader.source(common_ref, e) for e in reader.entries(common_ref)])
    vendor_applied: list[AppliedPatch] = []
    if vendor is not None:
        reader.vendor_info(vendor)
        layer = LayerRef(b.name, vendor)
        base = common[-1].commit if common else b.commit
        vendor_applied = builder.build(base, [reader.source(layer, e) for e in reader.entries(layer)])
    return BuiltStack(b, tuple(common), tuple(vendor_applied))


def squash(repo: GitRepo, old_commit: str, new_commit: str) -> bytes:
    """The canonical diff between two commits' trees."""
    raw = repo.diff_trees(repo.tree_of(old_commit), repo.tree_of(new_commit))
    return format_diff(parse_diff(raw, "<squash>"))


# --------------------------------------------------------------------------- diff.yaml


def diff_meta(ws: Workspace, commit: str, vendor: str, backends: Sequence[str]) -> dict[str, Any]:
    """diff.yaml for a vendor's layers of ``backends`` (field order as vendors publish it)."""
    info = ws.vendor_info(vendor)
    known = ws.backends()
    tasks: list[str] = []
    models: list[str] = []
    for name in backends:
        meta = ws.layer_meta(LayerRef(name, vendor)) or {}
        tasks.extend(str(t) for t in meta.get("tasks", []) if str(t) not in tasks)
        models.extend(str(m) for m in meta.get("models", []) if str(m) not in models)
    data: dict[str, Any] = {
        "backends_commit": {n: known[n].commit for n in backends},
        "backends_version": {n: known[n].version or known[n].ref for n in backends},
        "commit": commit,
        "contact": str(info.get("contact") or ""),
        "device_type": str(info["device_type"]),
        "models": models,
        "task": [t for t in TASKS if t in tasks],
    }
    if not data["contact"]:
        raise UsageError(f"vendor {vendor!r} has no contact in vendors/{vendor}/vendor.yaml; diff.yaml needs one")
    return data


def check_diff_yaml(raw: bytes, display: str) -> Any:
    """Parse and validate a diff.yaml (errors carry path:line)."""
    return parse_yaml(raw, display, "diff")


# --------------------------------------------------------------------------- history


def _layer_digest(repo: GitRepo, tree: str, rel: str) -> tuple[tuple[str, str], ...]:
    sub = repo.subtree(tree, rel)
    if sub is None:
        return ()
    return tuple(sorted((p, e.id) for p, e in repo.list_files(sub) if p not in EXPORT_NAMES))


def _layers_at(repo: GitRepo, tree: str) -> dict[tuple[str, str], str]:
    """(vendor, backend) → the layer directory path, for every vendor layer in a workspace tree."""
    sub = repo.subtree(tree, "vendors")
    out: dict[tuple[str, str], str] = {}
    if sub is None:
        return out
    for path, _ in repo.list_files(sub):
        parts = path.split("/")
        if len(parts) >= 3:
            out[(parts[0], parts[1])] = f"vendors/{parts[0]}/{parts[1]}"
    return out


def first_parent_chain(repo: GitRepo, head: str) -> list[str]:
    chain = []
    cur: str | None = head
    while cur is not None:
        chain.append(cur)
        parents = repo.commit_info(cur).parents
        cur = parents[0] if parents else None
    chain.reverse()
    return chain


def derive_history(ws: Workspace) -> dict[str, Any]:
    """vendors/history.yaml content, derived as the module docstring says."""
    repo = workspace_repo(ws)
    seed = ws.read_yaml(HISTORY_IMPORT, "history") if (ws.root / HISTORY_IMPORT).is_file() else {}
    hist: dict[str, dict[str, list[dict[str, list[str]]]]] = {}
    for vendor, tasks in (seed or {}).items():
        for task, entries in tasks.items():
            hist.setdefault(str(vendor), {})[str(task)] = [
                {"backends": [str(b) for b in e["backends"]], "commits": [str(c) for c in e["commits"]]}
                for e in entries
            ]
    head = repo.head()
    if head is not None:
        prev_tree: str | None = None
        for commit in first_parent_chain(repo, head):
            tree = repo.tree_of(commit)
            layers = _layers_at(repo, tree)
            if prev_tree is not None:
                layers_prev = _layers_at(repo, prev_tree)
            else:
                layers_prev = {}
            touched: dict[str, list[str]] = {}
            for vendor, backend in sorted(set(layers) | set(layers_prev)):
                rel = f"vendors/{vendor}/{backend}"
                now = _layer_digest(repo, tree, rel)
                before = _layer_digest(repo, prev_tree, rel) if prev_tree is not None else ()
                if now != before and now:
                    touched.setdefault(vendor, []).append(backend)
            for vendor, backends in sorted(touched.items()):
                by_task: dict[str, list[str]] = {}
                for backend in sorted(backends):
                    found = repo.read_file(tree, f"vendors/{vendor}/{backend}/layer.yaml")
                    if found is None:
                        continue
                    meta = parse_yaml(found[0], f"vendors/{vendor}/{backend}/layer.yaml@{commit[:12]}", "layer")
                    for t in meta.get("tasks", []):
                        by_task.setdefault(str(t), []).append(backend)
                for task in TASKS:
                    if task not in by_task:
                        continue
                    entries = hist.setdefault(vendor, {}).setdefault(task, [])
                    bset = sorted(by_task[task])
                    for e in entries:
                        if e["backends"] == bset:
                            if commit not in e["commits"]:
                                e["commits"].append(commit)
                            break
                    else:
                        entries.append({"backends": bset, "commits": [commit]})
            prev_tree = tree
    out: dict[str, Any] = {}
    for vendor in sorted(hist):
        out[vendor] = {t: hist[vendor][t] for t in TASKS if t in hist[vendor]}
    validate(out, "history", HISTORY.as_posix())
    return out
