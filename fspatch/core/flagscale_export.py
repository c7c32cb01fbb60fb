"""FlagScale's form of a vendor layer (``fspatch export --format flagscale``), which its own tools apply.

Why a second form: FlagScale's ``tools/patch/unpatch.py`` resets the submodule to diff.yaml's
``backends_commit`` and ``git apply``-s every ``*.patch`` below ``hardware/<Device_Type>/<Backend>/``.
So the patch must be relative to the *pristine* upstream commit: upstream + common layer + vendor
layer in one diff, not fspatch's layered diff (vendor relative to upstream + common).

Per vendor layer, below ``OUT/hardware/<Device_Type>/<Backend>/``:

- ``diff.patch`` (layout ``diff``) or one ``<upstream path>.patch`` per changed file
  (layout ``per-file``): the layer's origin (layer.yaml ``flagscale.layout``) unless ``layout`` says;
  a 2024 mbox layer is written as ``diff``.  Stale ``*.patch`` files of an earlier export there are
  removed (``unpatch`` applies every one it finds).
- ``diff.yaml`` with FlagScale's spellings: ``backends_commit`` = the pin (the tree the patch is
  relative to) under the backend's FlagScale name (layer.yaml ``flagscale.backend``, else the lock's
  first alias, else FlagScale's own spelling of the name, ``megatron`` → ``Megatron-LM``, else the
  name); ``backends_version`` as kept; ``commit`` = the workspace
  commit; contact, device type, models and tasks as kept.
- ``OUT/hardware/patch_history.yaml`` appended as ``merge.py`` does (per vendor: device → task →
  ``A+B`` and each backend → the workspace commit), starting from the file already there, else the
  workspace's kept copy (``vendors/patch_history.yaml``).

An opaque layer (encrypted, imported without a key) is written back as it came, with its own
diff.yaml: its files are relative to its own base.  Nothing is rewritten when its bytes stay the
same, so exporting twice changes no byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fspatch.core import crypto
from fspatch.core import flagscale_history as fs_history
from fspatch.core.export import TASKS, FilesReader, build_stack, workspace_repo
from fspatch.core.fetch import ensure_commit
from fspatch.core.flagscale import flagscale_backend_name
from fspatch.core.patch import FileDiff, format_diff, parse_diff, parse_patch
from fspatch.core.publish import _opaque_files
from fspatch.core.replay_pending import pending_patches
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.core.yamlio import dump_yaml
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo

__all__ = ["LAYOUTS", "FlagScaleExportResult", "FlagScaleLayer", "export_flagscale", "per_file_name"]

LAYOUTS = ("diff", "per-file")


@dataclass(frozen=True)
class FlagScaleLayer:
    vendor: str
    backend: str
    folder: str  # hardware/<Device_Type>/<Backend> below OUT
    layout: str  # diff | per-file | opaque
    files: int  # patch files written
    removed: int  # stale patch files of an earlier export removed
    written: bool  # False when every file already had these bytes
    skipped: str = ""  # why nothing was written (encrypted layer), else ""


@dataclass(frozen=True)
class FlagScaleExportResult:
    commit: str
    layers: tuple[FlagScaleLayer, ...]
    history_path: str
    history_written: bool


def per_file_name(fd: FileDiff) -> str:
    """FlagScale's per-file patch name: the upstream path (the new one for an add or rename) + ``.patch``."""
    path = fd.new_path if fd.new_path is not None else fd.old_path
    assert path is not None
    return path + ".patch"


def _spelled(ws: Workspace, backend: str, kept: Mapping[str, Any]) -> str:
    if kept.get("backend"):
        return str(kept["backend"])
    aliases = ws.backend(backend).aliases
    return str(aliases[0]) if aliases else flagscale_backend_name(backend) or backend


def _diff_yaml(
    ws: Workspace, layer: LayerRef, kept: Mapping[str, Any], spelled: str, base: str, commit: str
) -> dict[str, Any]:
    """diff.yaml in FlagScale's field order and spellings (values kept from the import where there are)."""
    meta = ws.layer_meta(layer) or {}
    info = ws.vendor_info(str(layer.vendor))
    b = ws.backend(layer.backend)
    versions = {str(k): str(v) for k, v in (kept.get("backends_version") or {}).items()}
    if not versions:
        versions = {spelled: str(b.version or b.ref)}
    tasks = [str(t) for t in kept.get("task") or []] or [t for t in TASKS if t in meta.get("tasks", [])]
    return {
        "backends_commit": {spelled: base},
        "backends_version": versions,
        "commit": commit,
        "contact": str(kept.get("contact", info.get("contact") or "")),
        "device_type": str(kept.get("device_type") or info["device_type"]),
        "models": [str(m) for m in (kept.get("models") or meta.get("models") or [])],
        "task": tasks,
    }


def _origin_names(ws: Workspace, layer: LayerRef, kept: Mapping[str, Any]) -> dict[str, str]:
    """Upstream path → the per-file FlagScale patch it came from (layer.yaml ``flagscale.origin``).

    Why: a per-file export then writes the same names FlagScale's directory had; paths no
    per-file origin names (a ``diff.patch`` origin, the common layer's files) get
    :func:`per_file_name`.
    """
    origin = {str(k): str(v) for k, v in (kept.get("origin") or {}).items()}
    out: dict[str, str] = {}
    for entry in ws.read_layer_series(layer):
        src = origin.get(entry.name, "")
        if not src.endswith(".patch") or src == "diff.patch":
            continue
        patch = parse_patch(ws.read_patch(layer, entry.name), f"{layer.dir.as_posix()}/{entry.name}")
        for fd in patch.files:
            for path in (fd.old_path, fd.new_path):
                if path is not None:
                    out.setdefault(path, src)
    return out


def _patch_files(folder: Path) -> set[Path]:
    if not folder.is_dir():
        return set()
    return {
        p for p in folder.rglob("*") if p.is_file() and (p.name.endswith(".patch") or p.name.endswith(".encrypted"))
    }


def export_flagscale(
    ws: Workspace,
    backend: str | None = None,
    *,
    out: Path,
    vendor: str | None = None,
    layout: str | None = None,
    commit: str | None = None,
    write_history: bool = True,
) -> FlagScaleExportResult:
    """Every vendor layer (of ``backend`` / ``vendor``) in FlagScale's form below ``out/hardware/``.

    ``commit`` is diff.yaml's ``commit`` (default: the workspace HEAD; ``patch --commit C`` gives
    C); ``write_history=False`` leaves ``patch_history.yaml`` alone, as FlagScale's ``patch.py`` does
    (its ``merge.py`` appends).
    """
    if layout is not None and layout not in LAYOUTS:
        raise UsageError(f"--layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    head = workspace_repo(ws).head()
    if head is None:
        raise UsageError(f"{ws.root}: the workspace repository has no commit yet; commit the layers first")
    if vendor is not None:
        ws.vendor_info(vendor)
    backends = [ws.backend(backend).name] if backend is not None else list(ws.backends())
    reader = FilesReader(ws)
    hw = out / "hardware"
    done: list[FlagScaleLayer] = []
    per_vendor: dict[str, tuple[str, list[str], list[str]]] = {}  # vendor → (device, tasks, spelled backends)
    repos: dict[str, GitRepo] = {}
    for v in [vendor] if vendor is not None else ws.vendors():
        for name in backends:
            layer = LayerRef(name, v)
            if not ws.layer_dir(layer).is_dir():
                continue
            meta = ws.layer_meta(layer) or {}
            kept: Mapping[str, Any] = meta.get("flagscale") or {}
            spelled = _spelled(ws, name, kept)
            data = _diff_yaml(ws, layer, kept, spelled, ws.backend(name).commit, commit or head)
            folder = hw / data["device_type"] / spelled
            shown = folder.relative_to(out).as_posix()
            files: dict[Path, bytes] = {}
            opaque = _opaque_files(ws, layer)
            if opaque is not None:
                form = "opaque"
                raw = {str(k): str(c) for k, c in (kept.get("backends_commit") or {}).items()}
                data["backends_commit"] = raw or data["backends_commit"]
                if kept.get("commit"):
                    data["commit"] = str(kept["commit"])
                for rel, body in opaque:
                    files[folder.joinpath(*rel.split("/"))] = body
            else:
                if any(crypto.is_encrypted_name(e.name) for e in ws.read_layer_series(layer)):
                    why = "encrypted; FlagScale's form would hold it decrypted"
                    done.append(FlagScaleLayer(v, name, shown, "", 0, 0, False, why))
                    continue
                waiting = [p for p in pending_patches(ws, name) if p.layer == layer.label]
                if waiting:
                    why = f"{len(waiting)} patch(es) pending (first {waiting[0].display}); run 'fspatch apply {name}'"
                    done.append(FlagScaleLayer(v, name, shown, "", 0, 0, False, why))
                    continue
                form = layout or ("per-file" if kept.get("layout") == "per-file" else "diff")
                if name not in repos:
                    repos[name] = _backend_repo(ws, name)
                repo = repos[name]
                stack = build_stack(repo, reader, name, v)
                # Per file: no rename/copy detection -- a copy's source would be read after its own
                # patch changed it (unpatch applies the files one by one), so each path stands alone.
                delta = repo.diff_trees(
                    repo.tree_of(stack.backend.commit), repo.tree_of(stack.top), renames=form == "diff"
                )
                diff = parse_diff(delta, "<export>")
                if form == "diff":
                    files[folder / "diff.patch"] = format_diff(diff)
                else:
                    names = _origin_names(ws, layer, kept)
                    grouped: dict[str, list[FileDiff]] = {}
                    for fd in diff:
                        grouped.setdefault(names.get(fd.path) or per_file_name(fd), []).append(fd)
                    for rel, fds in grouped.items():
                        files[folder.joinpath(*rel.split("/"))] = format_diff(fds)
            written = False
            stale = _patch_files(folder) - set(files)
            for p in sorted(stale):
                ws.remove_file(p)
            for p, body in sorted(files.items()):
                written |= ws.write_file(p, body)
            written |= ws.write_file(folder / "diff.yaml", dump_yaml(data))
            n = len(files)
            done.append(FlagScaleLayer(v, name, shown, form, n, len(stale), written or bool(stale)))
            device, tasks, spelled_all = per_vendor.setdefault(v, (data["device_type"], [], []))
            tasks.extend(t for t in data["task"] if t in TASKS and t not in tasks)
            if spelled not in spelled_all:
                spelled_all.append(spelled)
    target = hw / "patch_history.yaml"
    if not write_history:
        return FlagScaleExportResult(commit or head, tuple(done), "", False)
    if target.is_file():
        raw_hist: bytes | None = target.read_bytes()
    else:
        kept_file = ws.root / fs_history.HISTORY_FILE
        raw_hist = kept_file.read_bytes() if kept_file.is_file() else None
    history = fs_history.load(raw_hist, str(target))
    for v in sorted(per_vendor):
        device, tasks, spelled_all = per_vendor[v]
        if tasks:
            history = fs_history.append(history, device, tasks, spelled_all, head)
    hist_written = ws.write_file(target, fs_history.dump(history)) if per_vendor or raw_hist is not None else False
    return FlagScaleExportResult(head, tuple(done), str(target), hist_written)


def _backend_repo(ws: Workspace, backend: str) -> GitRepo:
    b = ws.backend(backend)
    path = ws.checkout_path(b)
    if not GitRepo.is_repo(path):
        raise UsageError(f"backend '{b.name}' has no checkout at {b.path}; run 'fspatch backend add'")
    repo = GitRepo.open(path)
    ensure_commit(repo, b, ws.root)
    return repo
