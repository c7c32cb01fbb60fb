"""``fspatch import flagscale PATH``: move a FlagScale repository's patches into layers.

Common per-file patches become the common layer of each backend (one patch per file, in path
order, canonical text); each vendor directory (any layout FlagScale has used, see
:mod:`fspatch.core.flagscale`) becomes a vendor (vendor.yaml from the directory name and
diff.yaml's contact) with a layer (layer.yaml from its task and models, base = the pinned
upstream and the new common layer's fingerprint, and a ``flagscale`` section keeping diff.yaml's
fields as FlagScale spelled them) holding only the vendor's own changes.

One bad directory does not stop the rest (``docs/flagscale.md``): every vendor directory ends in
the report as *imported*, *opaque*, *skipped* or *failed*, with the reason and every file that
was not imported.  Encrypted patches need ``--key``; they are decrypted in memory and their
layer patches stored encrypted again (to the key's public half).  Without a key an encrypted
directory is carried *opaque* (its files kept verbatim under ``opaque/`` in the layer directory,
``flagscale.opaque: true`` in layer.yaml), or skipped with ``skip_encrypted``.  ``strict``
restores all-or-nothing: the first directory that is not imported is the error, nothing written.

``hardware/patch_history.yaml`` is kept verbatim as ``vendors/patch_history.yaml`` (FlagScale's
format, :mod:`fspatch.core.flagscale_history`) and seeds ``vendors/history.import.yaml`` and the
derived ``vendors/history.yaml``.

The backends must already be pinned (``fspatch backend add``; FlagScale's spellings map to them
through the lock's ``aliases``).  Layers that already hold patches are refused unless ``--force``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fspatch.core import crypto, replay_pending
from fspatch.core import flagscale_history as fs_history
from fspatch.core.export import (
    HISTORY,
    HISTORY_IMPORT,
    TASKS,
    FilesReader,
    build_stack,
    derive_history,
    workspace_repo,
)
from fspatch.core.flagscale import FlagScaleRepo, Skipped, VendorDir, map_backend, scan, vendor_name
from fspatch.core.flagscale_base import ForwardReport, find_base
from fspatch.core.journal import crash_point, transaction
from fspatch.core.patch import FileDiff, Patch, format_patch, parse_diff, parse_patch
from fspatch.core.rebase import common_fingerprint
from fspatch.core.replay_report import outcome_to_dict
from fspatch.core.series import SeriesEntry
from fspatch.core.session import ensure_commit
from fspatch.core.stack import Builder, apply_files
from fspatch.core.vendor_base import (
    OPERATION,
    ForwardedLayer,
    bring_forward,
    pending_layer,
    per_file_groups,
    split_at_base,
)
from fspatch.core.workspace import OPAQUE_DIR, LayerRef, Workspace, valid_name
from fspatch.errors import ConflictError, FspatchError, HunkFailed, InputError, UsageError
from fspatch.git_adapter import GitRepo

IMPORT_AUTHOR = "FlagScale <flagscale@baai.ac.cn>"

DirStatus = Literal["imported", "opaque", "skipped", "failed"]


@dataclass(frozen=True)
class CommonImport:
    backend: str
    patches: int


@dataclass(frozen=True)
class VendorImport:
    vendor: str
    backend: str
    source: str
    patches: int
    encrypted: bool
    embedded_common: bool
    hunks_total: int
    hunks_removed: int  # hunks identical to the common layer's, dropped from the vendor layer
    lines_removed: int
    forward: ForwardReport | None = None  # found at its own base, brought to the pin


@dataclass(frozen=True)
class DirReport:
    """What became of one vendor directory: every file is in ``imported`` or in ``listed``."""

    source: str  # hardware/Cambricon_MLU/Megatron-LM
    device_type: str
    backend_spelled: str  # as FlagScale spells it
    backend: str  # the workspace backend it maps to
    layout: str  # diff | per-file | mbox | none
    status: DirStatus
    reason: str  # why it is not (fully) imported; "" when imported
    files_found: int
    imported: tuple[str, ...]  # files (relative to the directory) read into the layer or kept opaque
    listed: tuple[Skipped, ...]  # every other file, with the reason
    warnings: tuple[str, ...]  # file:line: message


@dataclass(frozen=True)
class ImportResult:
    common: tuple[CommonImport, ...]
    vendors: tuple[VendorImport, ...]
    history: bool
    dirs: tuple[DirReport, ...] = ()
    skipped: tuple[Skipped, ...] = ()  # files outside vendor directories, paths from FlagScale's root
    warnings: tuple[str, ...] = ()  # about patch_history.yaml
    pending: tuple[str, ...] = ()  # pending.yaml files written (layers with conflicts: fspatch apply)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "patch"


class _DirFailed(Exception):
    """One vendor directory cannot be imported (``error`` says why); the others go on."""

    def __init__(self, status: DirStatus, error: FspatchError) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


def _tasks_for(vd: VendorDir, history: fs_history.PatchHistory | None) -> tuple[list[str], str | None]:
    """The layer's tasks: diff.yaml's known ones; else those patch_history.yaml lists for this
    device and backend; else every task.  The second value is a warning when it had to guess."""
    if vd.meta is not None and vd.meta.tasks:
        return [t for t in TASKS if t in vd.meta.tasks], None
    if history is not None:
        found = {
            e.task
            for e in history.entries
            if e.device_type == vd.device_type and vd.backend_spelled in e.backends and e.task in TASKS
        }
        if found:
            tasks = [t for t in TASKS if t in found]
            return tasks, f"{vd.display}: no known task in diff.yaml; using {', '.join(tasks)} from patch_history.yaml"
    return list(TASKS), f"{vd.display}: no known task in diff.yaml or patch_history.yaml; imported for every task"


def _flagscale_meta(vd: VendorDir, files: list[str], opaque: bool) -> dict[str, Any]:
    """layer.yaml's ``flagscale`` section: diff.yaml's fields as FlagScale wrote them."""
    out: dict[str, Any] = {
        "device_type": vd.device_type,
        "backend": vd.backend_spelled,
        "layout": vd.layout,
        "source": vd.display,
    }
    m = vd.meta
    if m is not None:
        if m.commit is not None:
            out["commit"] = m.commit
        out["backends_commit"] = dict(m.raw_backends_commit)
        out["backends_version"] = dict(m.backends_version)
        out["contact"] = m.contact
        out["models"] = list(m.models)
        out["task"] = [*m.tasks, *m.other_tasks] if not m.other_tasks else _spelled_tasks(vd)
    elif vd.base_commit is not None:
        out["commit"] = vd.base_commit
    out["files"] = files
    if opaque:
        out["opaque"] = True
    return out


def _spelled_tasks(vd: VendorDir) -> list[str]:
    """The task list in the order written, unknown values included (diff.yaml read again)."""
    from fspatch.core.yamlio import parse_yaml

    assert vd.diff_yaml is not None
    node = parse_yaml(vd.diff_yaml, vd.display).get("task")
    items = node if isinstance(node, list) else [node]
    return ["" if t is None else str(t) for t in items]


def run(
    ws: Workspace,
    path: Path,
    *,
    key: Path | None = None,
    force: bool = False,
    skip_encrypted: bool = False,
    strict: bool = False,
) -> ImportResult:
    aliases = ws.aliases()
    src = scan(path, aliases)
    fs_repo = GitRepo.open(path) if GitRepo.is_repo(path) else None
    return run_scanned(ws, src, key=key, force=force, skip_encrypted=skip_encrypted, strict=strict, fs_repo=fs_repo)


def run_scanned(
    ws: Workspace,
    src: FlagScaleRepo,
    *,
    key: Path | None = None,
    force: bool = False,
    skip_encrypted: bool = False,
    strict: bool = False,
    fs_repo: GitRepo | None = None,
) -> ImportResult:
    """Import what :func:`fspatch.core.flagscale.scan_source` found (any source: a checkout, a commit).

    ``fs_repo`` is the FlagScale repository's git history: each vendor layer is split from the
    common layer as it was at the layer's own FlagScale commit (:mod:`fspatch.core.vendor_base`).
    """
    private = crypto.load_private_key(key) if key is not None else None
    repos: dict[str, GitRepo] = {}
    pinned = ws.backends()

    def repo_for(backend: str) -> GitRepo:
        if backend not in repos:
            b = ws.backend(backend)
            p = ws.checkout_path(b)
            if not GitRepo.is_repo(p):
                raise UsageError(f"backend '{b.name}' has no checkout at {b.path}; run 'fspatch backend add'")
            repos[backend] = GitRepo.open(p)
            ensure_commit(repos[backend], b, ws.root)
        return repos[backend]

    # ---- patch_history.yaml first: it can supply the tasks of a directory whose diff.yaml has none
    history: fs_history.PatchHistory | None = None
    top_warnings: list[str] = []
    if src.history is not None:
        try:
            history = fs_history.load(src.history)
        except InputError as exc:
            if strict:
                raise
            top_warnings.append(f"{exc} (patch_history.yaml not imported)")
        else:
            top_warnings.extend(str(w) for w in history.warnings)

    # ---- everything is computed first; files are written only when all of it worked
    plans: list[tuple[LayerRef, list[tuple[str, bytes]], dict[str, Any] | None, list[tuple[str, bytes]]]] = []
    vendor_infos: dict[str, tuple[str, str]] = {}
    common_tops: dict[str, str] = {}
    skipped_top: list[Skipped] = list(src.skipped)
    pendings: dict[str, list[tuple[ForwardedLayer, dict[str, object]]]] = {}

    # ---- common layers
    commons: list[CommonImport] = []
    common_failed: dict[str, str] = {}  # backend → why its common layer did not import
    for backend, common_files in src.common.items():
        spelled = src.common_spelled.get(backend, backend)
        if backend not in pinned:
            why = f"backend {backend!r} (FlagScale's {spelled!r}) is not pinned in upstream.lock"
            if strict:
                raise UsageError(f"{why}; add it first with 'fspatch backend add {backend} --url URL --ref REF'")
            skipped_top.extend(Skipped(f"flagscale/backends/{spelled}/{rel}", why) for rel, _ in common_files)
            continue
        layer = LayerRef(backend, None)
        if ws.read_layer_series(layer) and not force:
            raise UsageError(f"{layer.dir.as_posix()} already holds patches; use --force to replace them")
        try:
            written, top = _common_layer(ws, repo_for(backend), backend, spelled, common_files)
        except (ConflictError, InputError) as exc:
            if strict:
                raise
            common_failed[backend] = str(exc)
            skipped_top.extend(
                Skipped(f"flagscale/backends/{spelled}/{rel}", f"the common layer does not import: {exc}")
                for rel, _ in common_files
            )
            continue
        plans.append((layer, written, None, []))
        common_tops[backend] = top
        commons.append(CommonImport(backend, len(written)))

    # ---- vendor layers
    vendors: list[VendorImport] = []
    reports: list[DirReport] = []
    taken: dict[LayerRef, str] = {}
    for vd in src.vendors:
        warnings = [str(w) for w in vd.warnings]
        all_files = tuple(p.path for p in vd.patches)

        def report(status: DirStatus, reason: str, imported: tuple[str, ...] = ()) -> DirReport:
            return _report(vd, status, reason, imported, warnings)  # noqa: B023 (called in this iteration)

        try:
            if vd.superseded_by is not None:
                raise _DirFailed(
                    "skipped",
                    UsageError(
                        f"an older version of the layer; superseded by hardware/{vd.device_type}/{vd.superseded_by}"
                    ),
                )
            if not vd.patches:
                raise _DirFailed("skipped", InputError("no readable patch file", path=vd.display))
            if vd.backend not in pinned or not valid_name(vd.backend):
                if vd.self_backend:
                    why = (
                        f"patches to FlagScale itself (the {vd.backend_spelled!r} self-backend); "
                        f"pin FlagScale as backend {vd.backend!r} to import them"
                    )
                else:
                    why = (
                        f"backend {vd.backend!r} (FlagScale's {vd.backend_spelled!r}) is not pinned in upstream.lock; "
                        f"add it with 'fspatch backend add {vd.backend} --url URL --ref REF "
                        f"--alias {vd.backend_spelled}'"
                    )
                raise _DirFailed("skipped", UsageError(why, path=vd.display))
            if vd.meta is None and vd.layout != "mbox":
                why = next((s.reason for s in vd.skipped if s.path == "diff.yaml"), "no diff.yaml")
                raise _DirFailed("failed", InputError(f"no usable metadata ({why})", path=vd.display))
            broken = [x for x in vd.skipped if x.path.endswith((".patch", ".patch.encrypted"))]
            if broken:  # the layer would be incomplete: import none of it rather than part of it
                x = broken[0]
                more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
                raise _DirFailed("failed", InputError(f"{x.reason}{more}", path=f"{vd.display}/{x.path}"))
            layer = LayerRef(vd.backend, vd.vendor)
            if layer in taken:
                raise _DirFailed(
                    "failed",
                    UsageError(f"layer {layer.dir.as_posix()} already comes from {taken[layer]}", path=vd.display),
                )
            if ws.layer_dir(layer).is_dir() and ws.read_layer_series(layer) and not force:
                raise UsageError(f"{layer.dir.as_posix()} already holds patches; use --force to replace them")
            tasks, guessed = _tasks_for(vd, history)
            if guessed:
                warnings.append(guessed)
            models = list(dict.fromkeys(m.strip() for m in (vd.meta.models if vd.meta else ()) if m.strip()))
            encrypted = bool(vd.encrypted)
            contact = vd.meta.contact.strip() if vd.meta else ""
            if encrypted and private is None:
                if skip_encrypted:
                    raise _DirFailed("skipped", UsageError("encrypted; skipped (--skip-encrypted)", path=vd.display))
                if strict:
                    raise UsageError(
                        f"{vd.display} holds encrypted patches; give the private key with --key PRIVATE_PEM"
                    )
                opaque_files = [(p.path, p.data) for p in vd.patches]
                lmeta: dict[str, Any] = {
                    "tasks": tasks,
                    "models": models,
                    "flagscale": _flagscale_meta(vd, [p.path for p in vd.patches], True),
                }
                plans.append((layer, [], lmeta, opaque_files))
                taken[layer] = vd.display
                _note_vendor(vendor_infos, vd, contact)
                reports.append(report("opaque", "encrypted and no --key: kept verbatim, not applied", all_files))
                continue
            if vd.backend in common_failed:
                raise _DirFailed(
                    "failed",
                    UsageError(f"the common layer of {vd.backend!r} does not import ({common_failed[vd.backend]})"),
                )
            got = _vendor_layer(ws, vd, private, repo_for, common_tops, src.common.get(vd.backend, ()), fs_repo)
            written, split_info, fwd, fwd_report = got
            if fwd.conflicting and (strict or encrypted):
                first = fwd.conflicts[0]
                why = "--strict" if strict else "an encrypted layer's pending patches would be stored decrypted"
                raise ConflictError(
                    f"{fwd.conflicting} patch(es) conflict when brought from {fwd.upstream[:12]} to the pin "
                    f"({first.patch}: {first.file} {first.region}); not imported ({why})",
                    path=vd.display,
                )
            lmeta = {
                "tasks": tasks,
                "models": models,
                "flagscale": _flagscale_meta(vd, [p.path for p in vd.patches], False),
            }
            if fwd_report.origins:
                lmeta["flagscale"]["origin"] = dict(fwd_report.origins)
            if not fwd.conflicting:
                lmeta["base"] = {"upstream_commit": ws.backend(vd.backend).commit, "common_fingerprint": ""}
            else:
                entry = pending_layer(fwd, fwd_report.common_files, fwd.plan.old_ref)
                pendings.setdefault(vd.backend, []).append((fwd, entry))
            plans.append((layer, written, lmeta, []))
            taken[layer] = vd.display
            _note_vendor(vendor_infos, vd, contact)
            vendors.append(
                VendorImport(
                    vd.vendor,
                    vd.backend,
                    vd.display,
                    len(written),
                    encrypted,
                    split_info[0],
                    split_info[1],
                    split_info[2],
                    split_info[3],
                    fwd_report.report,
                )
            )
            reports.append(report("imported", "", all_files))
        except _DirFailed as failed:
            if strict and not (vd.superseded_by is not None):
                raise failed.error from None
            err = failed.error
            reports.append(report(failed.status, str(err) if err.path and err.path != vd.display else err.message))
        except (ConflictError, InputError) as exc:
            if strict:
                raise
            reports.append(report("failed", str(exc)))

    for backend in pendings:
        if replay_pending.load(ws, backend) is not None:
            raise UsageError(
                f"patches of '{backend}' are already pending ({replay_pending.pending_rel(backend)}); "
                f"finish them first (fspatch apply {backend})"
            )

    ws_git = ws.root / ".git"
    with transaction(
        "import",
        ws.root,
        git_dir=ws_git if ws_git.is_dir() else None,
        dirs=["series", "vendors"],
        files=["upstream.lock"],
    ):
        # ---- write: vendors, then the layers (common first, so fingerprints see the new common layers)
        for vendor, (device_type, contact) in vendor_infos.items():
            info: Any = ws.vendor_info(vendor) if vendor in ws.vendors() else {"name": vendor}
            info["device_type"] = device_type
            if contact:
                info["contact"] = contact
            ws.save_vendor_info(vendor, info)
        for layer, layer_files, layer_meta, opaque in plans:
            ws.ensure_layer_dir(layer)
            new_names = {n for n, _ in layer_files}
            for old in ws.read_layer_series(layer):
                if old.name not in new_names:
                    ws.delete_patch(layer, old.name)
            for name, data in layer_files:
                ws.write_patch(layer, name, data)
            ws.write_layer_series(layer, [SeriesEntry(n) for n, _ in layer_files])
            _clear_opaque(ws, layer, {rel for rel, _ in opaque})
            for rel, data in opaque:
                ws.write_file(ws.layer_dir(layer) / OPAQUE_DIR / rel, data)
            crash_point("import:layer")
            if layer_meta is not None:
                if "base" in layer_meta:
                    layer_meta["base"]["common_fingerprint"] = common_fingerprint(ws, layer.backend)
                ws.save_layer_meta(layer, layer_meta)
        pending_files = tuple(_write_pending(ws, b, entries) for b, entries in sorted(pendings.items()))

        # ---- history: FlagScale's file verbatim, and the seed of fspatch's derived history
        has_history = False
        if history is not None and src.history is not None:
            ws.write_file(ws.root / fs_history.HISTORY_FILE, src.history)
            seed = _history_seed(history, ws.aliases())
            ws.write_yaml(HISTORY_IMPORT, seed, "history")
            try:
                workspace_repo(ws)
                derived = derive_history(ws)
            except UsageError:
                derived = seed
            ws.write_yaml(HISTORY, derived, "history")
            has_history = True
    return ImportResult(
        tuple(commons),
        tuple(vendors),
        has_history,
        tuple(reports),
        tuple(sorted(skipped_top, key=lambda s: s.path)),
        tuple(top_warnings),
        pending_files,
    )


def _write_pending(ws: Workspace, backend: str, layers: list[tuple[ForwardedLayer, dict[str, object]]]) -> str:
    """``series/<backend>/pending.yaml`` for the layers whose replay to the pin left conflicts."""
    b = ws.backend(backend)
    first = layers[0][0]
    doc = {
        "format": replay_pending.FORMAT,
        "operation": OPERATION,
        "backend": backend,
        "old": {"ref": first.plan.old_ref, "commit": first.upstream},
        "new": {"ref": b.ref, "commit": b.commit},
        "drop_upstreamed": False,
        "layers": [entry for _, entry in layers],
        "outcomes": [outcome_to_dict(o) for fwd, _ in layers for o in fwd.outcomes],
    }
    rel = replay_pending.pending_rel(backend)
    ws.write_yaml(rel, doc, "pending")
    return rel


@dataclass(frozen=True)
class _Forward:
    report: ForwardReport
    common_files: tuple[tuple[str, bytes], ...]  # the common layer of the layer's time (for pending.yaml)
    origins: dict[str, str]  # layer patch name → FlagScale file (layer.yaml flagscale.origin)


def _common_layer(
    ws: Workspace, repo: GitRepo, backend: str, spelled: str, common_files: tuple[tuple[str, bytes], ...]
) -> tuple[list[tuple[str, bytes]], str]:
    """The common layer's patch files (one per FlagScale file, path order) and the top commit."""
    b = ws.backend(backend)
    tree = repo.tree_of(b.commit)
    builder = Builder(repo, b.commit)
    top = b.commit
    written: list[tuple[str, bytes]] = []
    for i, (rel, raw) in enumerate(common_files, 1):
        display = f"flagscale/backends/{spelled}/{rel}"
        orig = parse_patch(raw, display)
        new_tree = _apply(repo, tree, orig.files, display)
        diff = parse_diff(repo.diff_trees(tree, new_tree), display)
        subject = orig.subject or f"FlagScale changes to {rel.removesuffix('.patch')}"
        patch = Patch(
            author=orig.author or IMPORT_AUTHOR,
            subject=subject,
            description=orig.description,
            trailers=orig.trailers,
            files=diff,
        )
        name = f"{i:04d}-{_slug(rel.removesuffix('.patch'))}.patch"
        written.append((name, format_patch(patch)))
        top = builder.commit(new_tree, top, patch)
        tree = new_tree
    return written, top


def _report(vd: VendorDir, status: DirStatus, reason: str, imported: tuple[str, ...], warnings: list[str]) -> DirReport:
    """The directory's report: every patch file not imported is listed with ``reason``."""
    rest = [Skipped(p.path, reason) for p in vd.patches if p.path not in imported]
    return DirReport(
        vd.display,
        vd.device_type,
        vd.backend_spelled,
        vd.backend,
        vd.layout,
        status,
        reason,
        vd.files_found,
        imported,
        tuple(sorted([*vd.skipped, *rest], key=lambda s: s.path)),
        tuple(warnings),
    )


def _clear_opaque(ws: Workspace, layer: LayerRef, keep: set[str]) -> None:
    """Remove files of an earlier opaque import that the new import does not bring (a re-import with
    ``--key --force`` leaves no stale ciphertext behind), and the folders that become empty."""
    import os

    base = ws.layer_dir(layer) / OPAQUE_DIR
    if not base.is_dir():
        return
    for path in sorted(p for p in base.rglob("*") if p.is_file() or p.is_symlink()):
        if path.relative_to(base).as_posix() not in keep:
            ws.remove_file(path)
    for folder in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            os.rmdir(folder)
    if not any(base.iterdir()):
        os.rmdir(base)


def _note_vendor(infos: dict[str, tuple[str, str]], vd: VendorDir, contact: str) -> None:
    """One vendor.yaml per vendor: diff.yaml's device type (else the directory's name), the first contact given."""
    old = infos.get(vd.vendor)
    device = vd.meta.device_type if vd.meta is not None and vd.meta.device_type else vd.device_type
    infos[vd.vendor] = (old[0] if old else device, old[1] if old and old[1] else contact)


def _vendor_layer(
    ws: Workspace,
    vd: VendorDir,
    private: Any,
    repo_for: Any,
    common_tops: dict[str, str],
    current_common: tuple[tuple[str, bytes], ...],
    fs_repo: GitRepo | None,
) -> tuple[list[tuple[str, bytes]], tuple[bool, int, int, int], ForwardedLayer, _Forward]:
    """The layer patches of one readable vendor directory (decrypted in memory): split from the
    common layer of its own time on its own upstream commit, then brought to the pin."""
    parsed: list[tuple[str, tuple[FileDiff, ...]]] = []
    headers: dict[str, Patch] = {}
    unauthenticated: set[str] = set()
    for pf in vd.patches:
        display = f"{vd.display}/{pf.path}"
        data = pf.data
        if pf.encrypted:
            opened = crypto.open_sealed(pf.data, private, display)
            data = opened.data
            if not opened.authenticated:  # FlagScale's CBC form: checked strictly before use
                crypto.check_unauthenticated(data, display)
                unauthenticated.add(pf.path)
        orig = parse_patch(data, display)
        headers[pf.path] = orig
        parsed.append((pf.path, orig.files))
    repo = repo_for(vd.backend)
    b = ws.backend(vd.backend)
    if vd.backend not in common_tops:
        common_tops[vd.backend] = build_stack(repo, FilesReader(ws), vd.backend, None).common_top
    m = vd.meta
    at_base = find_base(
        ws,
        repo,
        fs_repo,
        vd.backend,
        dict(m.raw_backends_commit) if m is not None else {},
        (m.commit if m is not None else vd.base_commit) or "",
        current_common,
        vd.display,
    )
    try:
        bsplit = split_at_base(
            repo,
            candidates=at_base.candidates,
            backends_commit=at_base.backends_commit,
            common=at_base.common,
            patches=parsed,
            display=vd.display,
            unauthenticated=frozenset(unauthenticated),
        )
    except ConflictError as exc:
        if not at_base.notes:
            raise
        raise ConflictError(f"{exc.message} ({'; '.join(at_base.notes)})", path=exc.path) from None
    split = bsplit.split
    device = vd.device_type
    layer_patches: list[tuple[str, Patch]] = []
    origins: dict[str, str] = {}  # layer patch name → the FlagScale file it came from
    for i, (name, stem, files) in enumerate(_groups(vd, split.groups), 1):
        file_name = f"{i:04d}-{_slug(stem)}.patch"
        if name != "rest":
            origins[file_name + (crypto.ENCRYPTED_SUFFIX if vd.encrypted and private is not None else "")] = name
        head = headers.get(name)
        if vd.layout == "mbox" and head is not None and head.subject:  # a real mail: keep who and what
            patch = Patch(
                author=head.author or IMPORT_AUTHOR,
                subject=head.subject,
                description=head.description,
                trailers=head.trailers,
                files=files,
            )
        else:
            patch = Patch(author=IMPORT_AUTHOR, subject=f"{device}: {stem}", files=files)
        layer_patches.append((file_name, patch))
    layer = LayerRef(vd.backend, vd.vendor)
    fwd = bring_forward(
        repo,
        backend=vd.backend,
        label=layer.label,
        vendor=vd.vendor,
        found_at=at_base.flagscale_commit,
        base_upstream=bsplit.upstream,
        old_common_top=bsplit.old_common_top,
        patches=layer_patches,
        pin=b.commit,
        pin_ref=b.ref,
        new_common_top=common_tops[vd.backend],
        display=layer.dir.as_posix(),
    )
    report = ForwardReport(
        at_base.flagscale_commit,
        bsplit.upstream,
        at_base.backends_commit,
        b.commit,
        fwd.clean,
        fwd.conflicting,
        fwd.conflicts,
        at_base.common.source,
        at_base.notes + bsplit.notes,
    )
    written: list[tuple[str, bytes]] = []
    public = private.public_key() if vd.encrypted and private is not None else None
    for (file_name, _), text in zip(layer_patches, fwd.new_bytes, strict=True):
        if public is not None:
            file_name += crypto.ENCRYPTED_SUFFIX
            text = crypto.encrypt(text, public)
        written.append((file_name, text))
    info = (split.embeds_common, split.hunks_total, split.hunks_removed, split.lines_removed)
    return written, info, fwd, _Forward(report, at_base.common.files, origins)


def _groups(
    vd: VendorDir, groups: tuple[tuple[str, tuple[FileDiff, ...]], ...]
) -> list[tuple[str, str, tuple[FileDiff, ...]]]:
    """(FlagScale file, stem of the layer patch name, diffs) per layer patch.

    A ``diff.patch`` layer is split into one patch per file (:func:`per_file_groups`), named as a
    per-file layer's patches are (the file's path), so a conflict makes only its file pending.
    """
    out: list[tuple[str, str, tuple[FileDiff, ...]]] = []
    for name, files in groups:
        stem = name.removesuffix(".encrypted").removesuffix(".patch")
        if vd.layout == "diff" and name != "rest":
            out.extend((name, path, part) for path, part in per_file_groups(files))
            continue
        stem = f"{vd.vendor}-{vd.backend}" if stem == "diff" or stem == vd.base_commit else stem
        out.append((name, stem, files))
    return out


_HEX40 = re.compile(r"[0-9a-f]{40}")


def _history_seed(history: fs_history.PatchHistory, aliases: dict[str, str]) -> dict[str, Any]:
    """fspatch's history shape (vendor → task → [{backends, commits}]) from FlagScale's entries."""
    seed: dict[str, Any] = {}
    for e in sorted(
        history.entries, key=lambda e: (vendor_name(e.device_type), TASKS.index(e.task) if e.task in TASKS else 9)
    ):
        if e.task not in TASKS:
            continue
        names = sorted({map_backend(b, aliases) for b in e.backends})
        commits = [c for c in e.commits if _HEX40.fullmatch(c)]
        if not names or not all(valid_name(n) for n in names) or not commits:
            continue
        seed.setdefault(vendor_name(e.device_type), {}).setdefault(e.task, []).append(
            {"backends": names, "commits": commits}
        )
    return seed


def _apply(repo: GitRepo, tree: str, files: tuple[FileDiff, ...], display: str) -> str:
    try:
        return apply_files(repo, tree, files)
    except HunkFailed as exc:
        raise ConflictError(str(exc), path=display) from None
    except ConflictError as exc:
        raise ConflictError(exc.message, path=display) from None
