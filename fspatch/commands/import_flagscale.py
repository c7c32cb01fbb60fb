"""``fspatch import flagscale PATH``: move a FlagScale-style repository's patches into layers.

Common per-file patches become the common layer of each backend (one patch per file, in path
order, canonical text); each vendor directory becomes a vendor (vendor.yaml from diff.yaml's
device_type and contact) with a layer (layer.yaml from its task and models, base = the pinned
upstream and the new common layer's fingerprint) holding only the vendor's own changes (see
:mod:`fspatch.core.flagscale`).  Encrypted vendor patches need ``--key``; they are decrypted in
memory and their layer patches are stored encrypted again (to the key's public half), so no
plaintext of a confidential layer lands in the workspace.  ``patch_history.yaml`` becomes
``vendors/history.import.yaml``, the seed of the derived ``vendors/history.yaml``.

The backends must already be pinned (``fspatch backend add``): the lock says which upstream
commit the patches are for.  Layers that already hold patches are refused unless ``--force``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fspatch.core import crypto, replay_pending
from fspatch.core.export import (
    HISTORY,
    HISTORY_IMPORT,
    TASKS,
    FilesReader,
    build_stack,
    derive_history,
    workspace_repo,
)
from fspatch.core.flagscale import scan
from fspatch.core.flagscale_base import ForwardReport, find_base
from fspatch.core.patch import FileDiff, Patch, format_patch, parse_diff, parse_patch
from fspatch.core.rebase import common_fingerprint
from fspatch.core.replay_report import outcome_to_dict
from fspatch.core.series import SeriesEntry
from fspatch.core.session import ensure_commit
from fspatch.core.stack import Builder, apply_files
from fspatch.core.transaction import crash_point, transaction
from fspatch.core.vendor_base import OPERATION, ForwardedLayer, bring_forward, pending_layer, split_at_base
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.core.yamlio import parse_yaml
from fspatch.errors import ConflictError, HunkFailed, UsageError
from fspatch.git_adapter import GitRepo

IMPORT_AUTHOR = "FlagScale <flagscale@baai.ac.cn>"


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
class ImportResult:
    common: tuple[CommonImport, ...]
    vendors: tuple[VendorImport, ...]
    history: bool
    pending: tuple[str, ...] = ()  # pending.yaml files written (layers with conflicts: fspatch apply)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "patch"


def run(
    ws: Workspace, path: Path, *, key: Path | None = None, force: bool = False, strict: bool = False
) -> ImportResult:
    src = scan(path)
    fs_repo = GitRepo.open(path) if GitRepo.is_repo(path) else None
    pendings: dict[str, list[tuple[ForwardedLayer, dict[str, object]]]] = {}
    private = crypto.load_private_key(key) if key is not None else None
    repos: dict[str, GitRepo] = {}

    def repo_for(backend: str) -> GitRepo:
        if backend not in repos:
            b = ws.backend(backend)
            p = ws.checkout_path(b)
            if not GitRepo.is_repo(p):
                raise UsageError(f"backend '{b.name}' has no checkout at {b.path}; run 'fspatch backend add'")
            repos[backend] = GitRepo.open(p)
            ensure_commit(repos[backend], b, ws.root)
        return repos[backend]

    for backend in list(src.common) + [v.backend for v in src.vendors]:
        if backend not in ws.backends():
            raise UsageError(
                f"backend {backend!r} of {path} is not pinned in upstream.lock; "
                f"add it first with 'fspatch backend add {backend} --url URL --ref REF'"
            )

    # ---- everything is computed first; files are written only when all of it worked
    plans: list[tuple[LayerRef, list[tuple[str, bytes]], dict[str, Any] | None]] = []
    vendor_infos: dict[str, tuple[str, str]] = {}
    common_tops: dict[str, str] = {}

    # ---- common layers
    commons: list[CommonImport] = []
    for backend, common_files in src.common.items():
        layer = LayerRef(backend, None)
        if ws.read_layer_series(layer) and not force:
            raise UsageError(f"{layer.dir.as_posix()} already holds patches; use --force to replace them")
        repo = repo_for(backend)
        b = ws.backend(backend)
        tree = repo.tree_of(b.commit)
        builder = Builder(repo, b.commit)
        top = b.commit
        written: list[tuple[str, bytes]] = []
        for i, (rel, raw) in enumerate(common_files, 1):
            display = f"flagscale/backends/.../{rel}"
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
        plans.append((layer, written, None))
        common_tops[backend] = top
        commons.append(CommonImport(backend, len(written)))

    # ---- vendor layers
    vendors: list[VendorImport] = []
    for vd in src.vendors:
        if vd.diff_yaml is None:
            raise UsageError(f"{vd.display}: no diff.yaml (device type, contact, task are needed)")
        meta = parse_yaml(vd.diff_yaml, f"{vd.display}/diff.yaml", "diff")
        layer = LayerRef(vd.backend, vd.vendor)
        if ws.layer_dir(layer).is_dir() and ws.read_layer_series(layer) and not force:
            raise UsageError(f"{layer.dir.as_posix()} already holds patches; use --force to replace them")
        encrypted = any(crypto.is_encrypted_name(n) for n, _ in vd.patches)
        if encrypted and private is None:
            raise UsageError(f"{vd.display} holds encrypted patches; give the private key with --key PRIVATE_PEM")
        parsed: list[tuple[str, tuple[FileDiff, ...]]] = []
        unauthenticated: set[str] = set()
        for name, raw in vd.patches:
            display = f"{vd.display}/{name}"
            data = raw
            if crypto.is_encrypted_name(name):
                opened = crypto.open_sealed(raw, private, display)
                data = opened.data
                if not opened.authenticated:  # FlagScale's CBC form: checked strictly before use
                    crypto.check_unauthenticated(data, display)
                    unauthenticated.add(name)
            parsed.append((name, parse_patch(data, display).files))
        repo = repo_for(vd.backend)
        b = ws.backend(vd.backend)
        if vd.backend not in common_tops:
            common_tops[vd.backend] = build_stack(repo, FilesReader(ws), vd.backend, None).common_top
        at_base = find_base(ws, repo, fs_repo, vd.backend, meta, src.common.get(vd.backend, ()), vd.display)
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
        vendor_infos[vd.vendor] = (str(meta["device_type"]), str(meta["contact"]))
        layer_patches: list[tuple[str, Patch]] = []
        for i, (name, files) in enumerate(split.groups, 1):
            stem = name.removesuffix(".encrypted").removesuffix(".patch")
            stem = f"{vd.vendor}-{vd.backend}" if stem == "diff" else stem
            file_name = f"{i:04d}-{_slug(stem)}.patch"
            layer_patches.append(
                (file_name, Patch(author=IMPORT_AUTHOR, subject=f"{meta['device_type']}: {stem}", files=files))
            )
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
        if fwd.conflicting and (strict or encrypted):
            first = fwd.conflicts[0]
            why = "--strict" if strict else "an encrypted layer's pending patches would be stored in plaintext"
            raise ConflictError(
                f"{fwd.conflicting} patch(es) conflict when brought from {bsplit.upstream[:12]} to the pin "
                f"({first.patch}: {first.file} {first.region}); nothing imported ({why})",
                path=vd.display,
            )
        if fwd.conflicting:
            entry = pending_layer(fwd, at_base.common.files, fwd.plan.old_ref)
            pendings.setdefault(vd.backend, []).append((fwd, entry))
        written = []
        public = private.public_key() if encrypted and private is not None else None
        for (file_name, _), text in zip(layer_patches, fwd.new_bytes, strict=True):
            if public is not None:
                file_name += crypto.ENCRYPTED_SUFFIX
                text = crypto.encrypt(text, public)
            written.append((file_name, text))
        layer_meta: dict[str, Any] = {
            "tasks": [t for t in TASKS if t in [str(x) for x in meta["task"]]],
            "models": [str(m) for m in meta["models"]],
        }
        if not fwd.conflicting:
            layer_meta["base"] = {"upstream_commit": b.commit, "common_fingerprint": ""}
        plans.append((layer, written, layer_meta))
        vendors.append(
            VendorImport(
                vd.vendor,
                vd.backend,
                vd.display,
                len(written),
                encrypted,
                split.embeds_common,
                split.hunks_total,
                split.hunks_removed,
                split.lines_removed,
                report,
            )
        )

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
            info["contact"] = contact
            ws.save_vendor_info(vendor, info)
        for layer, layer_files, lmeta in plans:
            ws.ensure_layer_dir(layer)
            new_names = {n for n, _ in layer_files}
            for old in ws.read_layer_series(layer):
                if old.name not in new_names:
                    ws.delete_patch(layer, old.name)
            for name, data in layer_files:
                ws.write_patch(layer, name, data)
            ws.write_layer_series(layer, [SeriesEntry(n) for n, _ in layer_files])
            crash_point("import:layer")
            if lmeta is not None:
                if "base" in lmeta:
                    lmeta["base"]["common_fingerprint"] = common_fingerprint(ws, layer.backend)
                ws.save_layer_meta(layer, lmeta)
        pending_files = tuple(_write_pending(ws, backend, entries) for backend, entries in sorted(pendings.items()))

        # ---- history
        history = False
        if src.history is not None:
            raw = parse_yaml(src.history, "hardware/patch_history.yaml")
            seed: dict[str, Any] = {}
            from fspatch.core.flagscale import _vendor_name
            from fspatch.core.workspace import normalize_backend

            for vdir in sorted(raw, key=lambda k: _vendor_name(str(k))):
                tasks = raw[vdir] or {}
                seed[_vendor_name(str(vdir))] = {
                    str(t): [
                        {
                            "backends": sorted({normalize_backend(str(x)) for x in e["backends"]}),
                            "commits": [str(c) for c in e["commits"]],
                        }
                        for e in tasks[t]
                    ]
                    for t in TASKS
                    if t in tasks
                }
            ws.write_yaml(HISTORY_IMPORT, seed, "history")
            try:
                workspace_repo(ws)
                derived = derive_history(ws)
            except UsageError:
                derived = seed
            ws.write_yaml(HISTORY, derived, "history")
            history = True
    return ImportResult(tuple(commons), tuple(vendors), history, pending_files)


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


def _apply(repo: GitRepo, tree: str, files: tuple[FileDiff, ...], display: str) -> str:
    try:
        return apply_files(repo, tree, files)
    except HunkFailed as exc:
        raise ConflictError(str(exc), path=display) from None
    except ConflictError as exc:
        raise ConflictError(exc.message, path=display) from None
