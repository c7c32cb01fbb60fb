"""Publishing (``fspatch export``): each vendor layer as one diff.patch + diff.yaml, history refreshed.

Per vendor and backend, ``diff.patch`` is the vendor layer squashed (the tree diff between
upstream+common and upstream+common+vendor, canonical) and ``diff.yaml`` its metadata, validated
by ``schemas/diff.schema.json``.  They go to ``vendors/<vendor>/<backend>/`` or, with ``--out
DIR``, to ``DIR/<vendor>/<backend>/`` with ``DIR/patch_history.yaml`` (FlagScale's ``hardware/``
layout).  ``vendors/history.yaml`` is re-derived every time (:mod:`fspatch.core.export`).
``--format quilt|mbox`` writes every layer as a quilt dir or a mailbox instead (:func:`export_series`).
Nothing is rewritten when its bytes stay the same, so exporting twice changes no byte.

A layer holding encrypted patches is exported only with ``--encrypt-to`` (and ``--key`` to read
it): its plaintext is never written where it was not asked for.  An encrypted ``diff.patch``
already there is kept when ``--key`` shows it decrypts to the same diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.core import crypto
from fspatch.core.export import (
    HISTORY,
    FilesReader,
    build_stack,
    derive_history,
    diff_meta,
    squash,
    workspace_repo,
)
from fspatch.core.fetch import ensure_commit
from fspatch.core.journal import crash_point, transaction
from fspatch.core.patch import parse_patch
from fspatch.core.schema import validate
from fspatch.core.series import SeriesEntry, check_patch_name, parse_series
from fspatch.core.staged import StagedDir, staged_discarded
from fspatch.core.undo import undone_on_failure
from fspatch.core.workspace import LAYER_META, OPAQUE_DIR, LayerRef, Workspace, normalize_backend
from fspatch.core.yamlio import display_path, dump_yaml, parse_yaml, read_regular
from fspatch.errors import InputError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class ExportedLayer:
    vendor: str
    backend: str
    patch_path: str
    yaml_path: str
    files: int
    written: bool  # False when both files already had these bytes


@dataclass(frozen=True)
class ExportResult:
    commit: str
    layers: tuple[ExportedLayer, ...]
    history_path: str
    history_written: bool


def export_layers(
    ws: Workspace,
    backend: str | None = None,
    *,
    vendor: str | None = None,
    out: Path | None = None,
    encrypt_to: Path | None = None,
    key: Path | None = None,
    base_commit: str | None = None,
) -> ExportResult:
    """``base_commit``: the FlagScale commit diff.yaml names (FlagScale's ``patch.py --commit``),
    else the workspace HEAD."""
    wrepo = workspace_repo(ws)
    head = wrepo.head()
    if head is None:
        raise UsageError(f"{ws.root}: the workspace repository has no commit yet; commit the layers first")
    private = crypto.load_private_key(key) if key is not None else None
    public = crypto.load_public_key(encrypt_to) if encrypt_to is not None else None
    reader = FilesReader(ws, private)
    vendors = [vendor] if vendor is not None else ws.vendors()
    if vendor is not None:
        ws.vendor_info(vendor)
    backends = [ws.backend(backend).name] if backend is not None else list(ws.backends())
    repos: dict[str, GitRepo] = {}
    done: list[ExportedLayer] = []
    journal_dirs = ["vendors"] if out is None else []
    journal_files = [] if out is None else [HISTORY.as_posix()]  # --out still rewrites vendors/history.yaml
    staged = StagedDir(out, wrepo.git_dir) if out is not None else None  # --out DIR: all files moved in at the end

    def put(path: Path, data: bytes) -> bool:
        return staged.write(path, data) if staged is not None else ws.write_file(path, data)

    with (
        transaction("export", ws.root, git_dir=wrepo.git_dir, dirs=journal_dirs, files=journal_files),
        staged_discarded(staged),
    ):
        for v in vendors:
            for b in backends:
                layer = LayerRef(b, v)
                if not ws.layer_dir(layer).is_dir():
                    if vendor is not None and backend is not None:
                        raise UsageError(f"vendor {v!r} has no layer for backend {b!r}")
                    continue
                opaque = _opaque_files(ws, layer)
                if opaque is not None:  # FlagScale's encrypted files imported without a key: as they are
                    folder = (out / v / b) if out is not None else ws.layer_dir(layer)
                    written = False
                    if out is not None:
                        for rel, data in opaque:
                            written |= put(folder / rel, data)
                    yaml_bytes = dump_yaml(diff_meta(ws, head, v, [b]))
                    written |= put(folder / "diff.yaml", yaml_bytes)
                    shown = _show(ws, folder / opaque[0][0]) if out is not None else _show(ws, folder / OPAQUE_DIR)
                    done.append(ExportedLayer(v, b, shown, _show(ws, folder / "diff.yaml"), len(opaque), written))
                    continue
                encrypted = any(crypto.is_encrypted_name(e.name) for e in ws.read_layer_series(layer))
                if encrypted and public is None:
                    raise UsageError(
                        f"{layer.dir.as_posix()} holds encrypted patches; export it with --encrypt-to PUBLIC_PEM "
                        "(and --key PRIVATE_PEM) so no decrypted diff is written"
                    )
                repo = repos.get(b) or _backend_repo(ws, b)
                repos[b] = repo
                stack = build_stack(repo, reader, b, v)
                diff = squash(repo, stack.common_top, stack.top)
                meta = diff_meta(ws, base_commit or head, v, [b])
                yaml_bytes = dump_yaml(meta)
                validate(
                    parse_yaml(yaml_bytes, f"{layer.dir.as_posix()}/diff.yaml"),
                    "diff",
                    f"{layer.dir.as_posix()}/diff.yaml",
                )
                folder = (out / v / b) if out is not None else ws.layer_dir(layer)
                written = False
                if public is not None:
                    target = folder / "diff.patch.encrypted"
                    if not _same_plaintext(target, diff, private):
                        written |= put(target, crypto.encrypt(diff, public))
                else:
                    target = folder / "diff.patch"
                    written |= put(target, diff)
                written |= put(folder / "diff.yaml", yaml_bytes)
                crash_point("export:layer")
                n = diff.count(b"\ndiff --git ") + (1 if diff.startswith(b"diff --git ") else 0)
                done.append(ExportedLayer(v, b, _show(ws, target), _show(ws, folder / "diff.yaml"), n, written))
        history = derive_history(ws)
        hist_bytes = dump_yaml(history)
        ws.write_yaml(HISTORY, history, "history")
        hist_path = HISTORY.as_posix()
        hist_written = False
        if out is not None:
            hist_written = put(out / "patch_history.yaml", hist_bytes)
            hist_path = str(out / "patch_history.yaml")
        if staged is not None:
            staged.commit()  # the last step: a kill before it leaves DIR as it was
    if staged is not None:
        staged.discard()
    return ExportResult(head, tuple(done), hist_path, hist_written)


def _opaque_files(ws: Workspace, layer: LayerRef) -> list[tuple[str, bytes]] | None:
    """An opaque layer's files (path as in FlagScale, bytes as stored), or None for a normal layer.

    Why copied and not built: the layer was imported encrypted without a key (``flagscale.opaque``
    in layer.yaml); fspatch cannot read it, so the export hands FlagScale's files back unchanged.
    """
    if not (ws.layer_dir(layer) / LAYER_META).is_file():
        return None
    section = ws.layer_meta(layer).get("flagscale") or {}
    if not section.get("opaque"):
        return None
    base = ws.layer_dir(layer) / OPAQUE_DIR
    names = [str(n) for n in section.get("files") or ()]
    return [(n, read_regular(base / n, display_path(base / n, ws.root), "opaque file", ws.root)) for n in names]


def _backend_repo(ws: Workspace, backend: str) -> GitRepo:
    b = ws.backend(normalize_backend(backend))
    path = ws.checkout_path(b)
    if not GitRepo.is_repo(path):
        raise UsageError(f"backend '{b.name}' has no checkout at {b.path}; run 'fspatch backend add'")
    repo = GitRepo.open(path)
    ensure_commit(repo, b, ws.root)
    return repo


def _same_plaintext(target: Path, diff: bytes, private: object | None) -> bool:
    if private is None or not target.is_file():
        return False
    try:
        opened = crypto.open_sealed(target.read_bytes(), private, str(target))
    except InputError:
        return False
    # An unauthenticated (CBC) file is rewritten in the authenticated format even when it matches.
    return opened.authenticated and opened.data == diff


def _show(ws: Workspace, path: Path) -> str:
    try:
        return path.relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- --format quilt|mbox


@dataclass(frozen=True)
class SeriesLayer:
    backend: str
    layer: str  # common or vendor/<name>
    path: str  # the quilt patches/ dir or the .mbox file
    patches: int
    written: bool  # False when every file already had these bytes
    emptied: tuple[str, ...] = ()  # quilt: patches with no diff, written as empty files (see _write_quilt)


@dataclass(frozen=True)
class SeriesExportResult:
    form: str
    layers: tuple[SeriesLayer, ...]


def export_series(
    ws: Workspace, backend: str | None, *, form: str, out: Path, vendor: str | None = None
) -> SeriesExportResult:
    """Every layer (``--vendor V``: V's layers only) as a quilt dir or an mbox below ``out``.

    Quilt layout: ``out/<backend>/patches/{series,*.patch}`` (the common layer) and
    ``out/<backend>/vendors/<vendor>/patches/…`` (:func:`quilt_dir`), so the usual
    ``QUILT_PATCHES=out/<backend>/patches quilt push -a`` in the upstream tree works: no directory
    of the export is named ``series`` (quilt 0.66 reads a ``series`` it finds as the series file,
    and a folder of that name stops it).  Mbox: ``out/series/<backend>.mbox`` and
    ``out/vendors/<vendor>/<backend>.mbox`` for mbox.  A quilt dir holds the layer's series and
    patch files byte for byte (a vendor's applies on upstream + the common layer's); an mbox holds
    git format-patch mails (``From <stack commit id>``, ``[PATCH n/m]``, the patch's ``Date:`` or
    the pinned upstream commit's date) that ``git am`` applies on the layer's base.
    """
    with undone_on_failure(out):  # a failure half-way leaves --out as it was
        return _export_series(ws, backend, form=form, out=out, vendor=vendor)


def _export_series(
    ws: Workspace, backend: str | None, *, form: str, out: Path, vendor: str | None
) -> SeriesExportResult:
    from fspatch import __version__
    from fspatch.core.interop import format_mbox, mail_date

    if form not in ("quilt", "mbox"):
        raise UsageError(f"unknown export format {form!r} (diff, quilt or mbox)")
    if vendor is not None:
        ws.vendor_info(vendor)
    backends = [ws.backend(backend).name] if backend is not None else list(ws.backends())
    layers: list[LayerRef] = []
    for b in backends:
        if vendor is None:
            layers.append(LayerRef(b, None))
            layers.extend(ws.vendor_layers(b))
        elif ws.layer_dir(LayerRef(b, vendor)).is_dir():
            layers.append(LayerRef(b, vendor))
        elif backend is not None:
            raise UsageError(f"vendor {vendor!r} has no layer for backend {b!r}")
    done: list[SeriesLayer] = []
    repos: dict[str, GitRepo] = {}
    for layer in layers:
        entries = ws.read_layer_series(layer)
        if any(crypto.is_encrypted_name(e.name) for e in entries):
            raise UsageError(
                f"{layer.dir.as_posix()} holds encrypted patches; a quilt dir or mbox would hold them "
                "decrypted (export it with --format diff --encrypt-to)"
            )
        if form == "quilt":
            folder = quilt_dir(out, layer)
            written, emptied = _write_quilt(ws, layer, entries, folder)
            done.append(SeriesLayer(layer.backend, layer.label, str(folder), len(entries), written, emptied))
            continue
        repo = repos.get(layer.backend) or _backend_repo(ws, layer.backend)
        repos[layer.backend] = repo
        reader = FilesReader(ws)
        stack = build_stack(repo, reader, layer.backend, layer.vendor)
        applied = stack.vendor if layer.vendor is not None else stack.common
        info = repo.commit_info(stack.backend.commit)
        mails = format_mbox(
            [(a.commit, e.name, reader.source(layer, e).patch) for a, e in zip(applied, entries, strict=True)],
            date=mail_date(info.committer_time, info.committer_offset),
            fallback=repo.identity(),
            version=__version__,
        )
        target = out / layer.dir.parent / f"{layer.dir.name}.mbox"
        written = ws.write_file(target, mails)
        done.append(SeriesLayer(layer.backend, layer.label, str(target), len(entries), written))
    return SeriesExportResult(form, tuple(done))


def quilt_dir(out: Path, layer: LayerRef) -> Path:
    """Where ``export --format quilt`` puts a layer: a quilt ``patches`` dir per layer, no ``series/`` folder."""
    base = out / layer.backend
    return base / "patches" if layer.vendor is None else base / "vendors" / layer.vendor / "patches"


def quilt_bytes(data: bytes, display: str, strip: int = 1) -> bytes:
    """A patch file as quilt can push it: as it is, or empty when it holds no diff.

    GNU patch refuses a file with a description and no diff ("Only garbage was found in the
    patch input"), so ``quilt push`` stops at it; an empty file is quilt's own empty patch
    ("appears to be empty; applied").  The description is lost there, the series keeps the name.
    """
    try:
        has_diff = bool(parse_patch(data, display, strip).files)
    except InputError:
        return data  # not ours to judge: exported as it is, check names the problem
    return data if has_diff else b""


def _write_quilt(
    ws: Workspace, layer: LayerRef, entries: list[SeriesEntry], folder: Path
) -> tuple[bool, tuple[str, ...]]:
    """The layer's series and patches, byte for byte except patches without a diff (written
    empty, :func:`quilt_bytes`; their names returned); patches an earlier export listed are dropped."""
    old_series = folder / "series"
    stale: set[str] = set()
    if old_series.is_file():
        try:
            stale = {e.name for e in parse_series(old_series.read_bytes(), str(old_series))}
        except InputError:
            stale = set()
    written = False
    emptied: list[str] = []
    for e in entries:
        data = ws.read_patch(layer, e.name)
        out = quilt_bytes(data, f"{layer.dir.as_posix()}/{e.name}", e.strip)
        if out != data:
            emptied.append(e.name)
        written |= ws.write_file(folder.joinpath(*e.name.split("/")), out)
    series = ws.series_path(layer)
    written |= ws.write_file(old_series, series.read_bytes() if series.is_file() else b"")
    for name in sorted(stale - {e.name for e in entries}):
        check_patch_name(name)
        target = folder.joinpath(*name.split("/"))
        if target.is_file():
            ws.remove_file(target)
            written = True
    return written, tuple(emptied)
