"""Reading FlagScale's repository: every vendor layout it has used, and splitting vendor patches.

The layouts (what ``fspatch import flagscale PATH`` reads; see ``docs/flagscale.md``)::

    flagscale/backends/<Backend>/**.patch             per-file patches against upstream → common layer
    hardware/<Device>/<Backend>/diff.patch            one patch against the backend (layout "diff")
    hardware/<Device>/<Backend>/**/<path>.patch       one patch per upstream file, at any depth ("per-file")
    hardware/<Device>/<Backend>/**.patch.encrypted    either of the above, encrypted (iv | rsa(key) | data)
    hardware/<Device>/<Backend>/diff.yaml             metadata (read leniently: fspatch.core.flagscale_meta)
    hardware/<device>/<commit8>/<commit8>.patch       2024: one git format-patch mbox per FlagScale
                                                      base commit, patching FlagScale itself ("mbox")
    hardware/patch_history.yaml                       device → task → "A+B" → commits
                                                      (fspatch.core.flagscale_history)

``<Backend>`` is spelled as FlagScale spells it (``Megatron-LM``, ``vllm``, ``sglang``,
``llama.cpp``, ``Megatron-Energon``, …, and ``FlagScale``: the *self-backend*, patches to the
FlagScale repository itself).  It maps to a workspace backend through the aliases kept in
``upstream.lock`` (:func:`map_backend`), else through FlagScale's own normalisation
(``tools/patch/patch.py``'s ``normalize_backend``) and then fspatch's.

Nothing is dropped silently: :func:`scan_source` returns, per vendor directory, the patch files
it will import and every other file with the reason it is not imported (:class:`Skipped`), plus
the files of ``hardware/`` that belong to no vendor directory.  A directory that cannot be read
at all is still listed (with its reasons), so one bad directory never hides the others.

The scanner reads from a :class:`Source`: a directory (:class:`DirSource`, a FlagScale checkout)
or a commit of a git repository (:class:`TreeSource`, e.g. a bare mirror, or the FlagScale commit
a layer is based on).  A blob missing from a partial clone is reported, not fatal.

Splitting (why trees, not hunk surgery): a vendor patch either sits on upstream+common or
embeds the common layer's changes.  It embeds them when at least one of its hunks is identical
(same removed and added lines, same file) to a hunk of the common layer squashed against
upstream; it is then applied on upstream, else on upstream+common -- and, when it does not apply
there, on upstream after all (a vendor change within 3 lines of a common one shares the common
change's hunk, so no hunk is identical, yet the patch was made against upstream: FlagScale's
vendors edit the lines next to FlagScale's own).  The vendor layer is the tree
diff between upstream+common and that result, where an embedding vendor's result takes the vendor's content
only for the files its patches name (every other file keeps the common layer's, so nothing of
the common layer is silently reverted).  The layer thus holds exactly the vendor's own changes
and every hunk identical to the common layer's disappears.  The identical hunks are counted for the
import report.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol

from fspatch.core.flagscale_meta import DiffMeta, MetaWarning, try_read_diff_yaml
from fspatch.core.patch import ADDED, REMOVED, FileDiff, Hunk, parse_diff
from fspatch.core.stack import apply_files
from fspatch.core.workspace import normalize_backend, valid_name
from fspatch.errors import ConflictError, FspatchError, HunkFailed, InputError, UsageError
from fspatch.git_adapter import GitRepo

__all__ = [
    "FLAGSCALE_SELF",
    "DirSource",
    "FlagScaleRepo",
    "Layout",
    "PatchFile",
    "Skipped",
    "Source",
    "SplitResult",
    "TreeSource",
    "VendorDir",
    "flagscale_backend_name",
    "hunk_keys",
    "map_backend",
    "scan",
    "scan_source",
    "split_vendor",
    "vendor_name",
]

#: The backend directory FlagScale uses for patches to its own repository.
FLAGSCALE_SELF = "FlagScale"
#: How a vendor directory keeps its patches.
Layout = Literal["diff", "per-file", "mbox", "none"]
ENCRYPTED = ".patch.encrypted"
_COMMIT_DIR = re.compile(r"[0-9a-f]{7,40}")
#: FlagScale's spellings (tools/patch/patch.py normalize_backend), lowercased → as FlagScale writes it.
_FLAGSCALE_NAMES = {
    "megatron": "Megatron-LM",
    "megatron-lm": "Megatron-LM",
    "energon": "Megatron-Energon",
    "megatron-energon": "Megatron-Energon",
    "fs": "FlagScale",
    "flagscale": "FlagScale",
    "vllm": "vllm",
    "sglang": "sglang",
    "llama.cpp": "llama.cpp",
    "llama_cpp": "llama.cpp",
    "omniinfer": "omniinfer",
    "omni_infer": "omniinfer",
    "verl": "verl",
}
#: FlagScale spellings whose fspatch name is not what ``normalize_backend`` gives.
_DEFAULT_MAP = {"Megatron-Energon": "megatron_energon", "FlagScale": "flagscale"}


# --------------------------------------------------------------------------- sources


class Unreadable(Exception):
    """A file the source lists but cannot give (a missing blob, a FIFO, a link out of the tree)."""


class Source(Protocol):
    """Where FlagScale's files come from: paths are relative to the repository root, with ``/``."""

    display: str

    def walk(self, prefix: str) -> list[str]:
        """Every file (not directory) under ``prefix`` ("" = everything), sorted."""

    def read(self, path: str) -> bytes:
        """The bytes of one file; :class:`Unreadable` with the reason when they cannot be had."""

    def commit_time(self, rev: str) -> int | None:
        """Committer time of a FlagScale commit (an abbreviation is fine), None when unknown."""


class DirSource:
    """A FlagScale checkout on disk.  Symlinks are listed but never followed (reported instead)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.display = str(root)

    def walk(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir() or base.is_symlink():
            return []
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != ".git" and not os.path.islink(os.path.join(dirpath, d))]
            for d in os.listdir(dirpath):
                full = os.path.join(dirpath, d)
                if os.path.islink(full) and os.path.isdir(full):
                    filenames.append(d)  # a linked directory: listed as a file, refused on read
            for f in filenames:
                out.append(Path(dirpath, f).relative_to(self.root).as_posix())
        return sorted(out)

    def read(self, path: str) -> bytes:
        full = self.root / path
        try:
            st = os.lstat(full)
        except OSError as exc:
            raise Unreadable(f"cannot read: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise Unreadable("a symbolic link; not followed")
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable("not a regular file")
        try:
            return full.read_bytes()
        except OSError as exc:
            raise Unreadable(f"cannot read: {exc.strerror}") from None

    def commit_time(self, rev: str) -> int | None:
        if not (self.root / ".git").exists():
            return None
        try:
            return _commit_time(GitRepo.open(self.root), rev)
        except FspatchError:
            return None


def _commit_time(repo: GitRepo, rev: str) -> int | None:
    try:
        full = repo.resolve(rev)
        return None if full is None else repo.commit_info(full).committer_time
    except (KeyError, ValueError, FspatchError):
        return None


class TreeSource:
    """One commit of a git repository (a bare mirror works); missing blobs are :class:`Unreadable`."""

    def __init__(self, repo: GitRepo, commit: str) -> None:
        self.repo = repo
        self.commit = commit
        self.tree = repo.tree_of(commit)
        self.display = f"{commit[:9]}"
        self._ids: dict[str, tuple[str, int]] = {}

    def walk(self, prefix: str) -> list[str]:
        sub = self.repo.subtree(self.tree, prefix.rstrip("/")) if prefix else self.tree
        if sub is None:
            return []
        lead = prefix.rstrip("/") + "/" if prefix else ""
        out = []
        for path, entry in self.repo.list_files(sub):
            self._ids[lead + path] = (entry.id, entry.mode)
            out.append(lead + path)
        return sorted(out)

    def read(self, path: str) -> bytes:
        known = self._ids.get(path)
        if known is None:
            e = self.repo.entry(self.tree, path)
            if e is None:
                raise Unreadable("not in the tree")
            known = (e.id, e.mode)
        blob_id, mode = known
        if mode == 0o120000:
            raise Unreadable("a symbolic link; not followed")
        if mode == 0o160000:
            raise Unreadable("a submodule (gitlink), not a file")
        try:
            return self.repo.read_blob(blob_id)
        except (KeyError, ValueError, FspatchError):
            raise Unreadable(f"object {blob_id} is missing from the repository (partial mirror); not read") from None

    def commit_time(self, rev: str) -> int | None:
        return _commit_time(self.repo, rev)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Skipped:
    """A file that is not imported, and why.  ``path`` is relative to its vendor directory
    (for :attr:`FlagScaleRepo.skipped`: relative to the repository root)."""

    path: str
    reason: str


@dataclass(frozen=True)
class PatchFile:
    """One patch file of a vendor directory, as stored.

    ``path`` is relative to the vendor directory (``megatron/core/utils.py.patch``); ``target``
    is the upstream path its name says it applies to (per-file layout), ``None`` for a
    ``diff.patch`` or an mbox; ``touches`` are the paths its diff headers name (empty when it is
    encrypted).  ``data`` is the file's bytes (ciphertext for an encrypted one).
    """

    path: str
    target: str | None
    encrypted: bool
    data: bytes
    touches: tuple[str, ...] = ()


@dataclass(frozen=True)
class VendorDir:
    """One vendor directory: ``hardware/<device_type>/<backend_spelled>`` (or an mbox commit dir).

    ``backend`` is the workspace backend it maps to (:func:`map_backend`); ``self_backend`` is
    true for ``FlagScale`` (patches to the FlagScale repository itself) and every mbox dir.
    ``base_commit`` is the FlagScale commit (prefix) an mbox directory is named after.
    ``superseded_by`` names the newer mbox directory of the same device that replaces this one.
    """

    device_type: str
    vendor: str
    backend_spelled: str
    backend: str
    layout: Layout
    display: str
    patches: tuple[PatchFile, ...]
    meta: DiffMeta | None
    diff_yaml: bytes | None
    warnings: tuple[MetaWarning, ...]
    skipped: tuple[Skipped, ...]
    self_backend: bool = False
    base_commit: str | None = None
    superseded_by: str | None = None
    files_found: int = 0

    @property
    def encrypted(self) -> tuple[str, ...]:
        """Paths (relative to the directory) of its encrypted patch files."""
        return tuple(p.path for p in self.patches if p.encrypted)

    @property
    def dirname(self) -> str:
        """The ``hardware/<dir>`` name (older callers' name for :attr:`device_type`)."""
        return self.device_type


@dataclass(frozen=True)
class FlagScaleRepo:
    """What :func:`scan_source` found.  ``common`` is keyed by workspace backend."""

    root: str
    common: dict[str, tuple[tuple[str, bytes], ...]]
    common_spelled: dict[str, str]  # workspace backend → the flagscale/backends/<dir> name
    vendors: tuple[VendorDir, ...]
    history: bytes | None
    skipped: tuple[Skipped, ...] = field(default=())


# --------------------------------------------------------------------------- names


def vendor_name(dirname: str) -> str:
    """``Cambricon_MLU`` → ``cambricon_mlu`` (the 2024 ``cambricon_MLU`` gives the same vendor)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", dirname).lower().strip("_-")
    if not name:
        raise UsageError(f"hardware/{dirname}: cannot make a vendor name from this directory")
    return name


_vendor_name = vendor_name  # the name older callers import


def flagscale_backend_name(name: str) -> str | None:
    """FlagScale's spelling of a backend name (its ``normalize_backend``), or None if it has none."""
    return _FLAGSCALE_NAMES.get(name.strip().lower())


def map_backend(spelled: str, aliases: Mapping[str, str] | None = None) -> str:
    """The workspace backend for a FlagScale spelling: the lock's aliases first (exact, then
    case-insensitive), else FlagScale's normalisation then fspatch's (``Megatron-LM`` →
    ``megatron``, ``FlagScale`` → ``flagscale``, ``llama.cpp`` → ``llama_cpp``)."""
    if aliases:
        if spelled in aliases:
            return aliases[spelled]
        folded = {k.lower(): v for k, v in aliases.items()}
        if spelled.lower() in folded:
            return folded[spelled.lower()]
    fs = flagscale_backend_name(spelled) or spelled
    return _DEFAULT_MAP.get(fs, normalize_backend(fs))


# --------------------------------------------------------------------------- scanning


def scan(root: Path, aliases: Mapping[str, str] | None = None) -> FlagScaleRepo:
    """Scan a FlagScale checkout on disk (see :func:`scan_source`)."""
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    return scan_source(DirSource(root), aliases)


def scan_source(src: Source, aliases: Mapping[str, str] | None = None) -> FlagScaleRepo:
    """Find the common patches, every vendor directory (any layout) and the history of a FlagScale
    repository; list every file that will not be imported, with the reason."""
    common: dict[str, tuple[tuple[str, bytes], ...]] = {}
    spelled: dict[str, str] = {}
    skipped: list[Skipped] = []
    by_dir: dict[str, list[str]] = {}
    for path in src.walk("flagscale/backends"):
        parts = path.split("/")
        if len(parts) < 4:
            skipped.append(Skipped(path, "not in a flagscale/backends/<Backend>/ directory"))
            continue
        by_dir.setdefault(parts[2], []).append(path)
    for dname in sorted(by_dir):
        files: list[tuple[str, bytes]] = []
        for path in by_dir[dname]:
            rel = path.split("/", 3)[3]
            if not path.endswith(".patch"):
                skipped.append(Skipped(path, "not a *.patch file"))
                continue
            try:
                files.append((rel, src.read(path)))
            except Unreadable as exc:
                skipped.append(Skipped(path, str(exc)))
        if not files:
            continue
        b = map_backend(dname, aliases)
        if not valid_name(b):
            skipped.extend(
                Skipped(f"flagscale/backends/{dname}/{r}", f"{dname!r} is not a usable backend name") for r, _ in files
            )
            continue
        if b in common:
            skipped.extend(
                Skipped(
                    f"flagscale/backends/{dname}/{r}",
                    f"backend {b!r} already read from flagscale/backends/{spelled[b]}",
                )
                for r, _ in files
            )
            continue
        common[b] = tuple(sorted(files))
        spelled[b] = dname

    vendors: list[VendorDir] = []
    history: bytes | None = None
    hw_files = src.walk("hardware")
    grouped: dict[str, dict[str, list[str]]] = {}
    for path in hw_files:
        parts = path.split("/")
        if len(parts) == 2:
            if parts[1] == "patch_history.yaml":
                try:
                    history = src.read(path)
                except Unreadable as exc:
                    skipped.append(Skipped(path, str(exc)))
            else:
                skipped.append(Skipped(path, "not in a vendor directory (documentation; not a patch)"))
            continue
        if len(parts) == 3:
            skipped.append(Skipped(path, f"directly in hardware/{parts[1]}/, not in a backend directory"))
            continue
        grouped.setdefault(parts[1], {}).setdefault(parts[2], []).append("/".join(parts[3:]))
    for device in sorted(grouped):
        mbox: list[VendorDir] = []
        for sub in sorted(grouped[device]):
            rels = grouped[device][sub]
            display = f"hardware/{device}/{sub}"
            if _COMMIT_DIR.fullmatch(sub) and any(r in (f"{sub}.patch", f"{sub}{ENCRYPTED}") for r in rels):
                mbox.append(_read_mbox_dir(src, device, sub, rels, display))
            else:
                vendors.append(_read_backend_dir(src, device, sub, rels, display, aliases))
        vendors.extend(_supersede(mbox, src))
    vendors.sort(key=lambda v: v.display)
    return FlagScaleRepo(src.display, common, spelled, tuple(vendors), history, tuple(skipped))


def _touches(data: bytes, display: str) -> tuple[tuple[str, ...], str | None]:
    """Paths a plain patch names, or the reason it is not a usable patch."""
    if not data.strip():
        return (), "empty: no diff in it"
    try:
        files = parse_diff(data, display)
    except InputError as exc:
        return (), f"does not parse as a patch: {exc}"
    if not files:
        return (), "no diff in it (no 'diff --git' or '---/+++' lines)"
    out = sorted({p for fd in files for p in (fd.old_path, fd.new_path) if p is not None})
    return tuple(out), None


def _read_backend_dir(
    src: Source, device: str, sub: str, rels: list[str], display: str, aliases: Mapping[str, str] | None
) -> VendorDir:
    patches: list[PatchFile] = []
    skipped: list[Skipped] = []
    warnings: list[MetaWarning] = []
    meta: DiffMeta | None = None
    raw_yaml: bytes | None = None
    for rel in rels:
        full = f"{display}/{rel}"
        if rel == "diff.yaml":
            try:
                raw_yaml = src.read(full)
            except Unreadable as exc:
                skipped.append(Skipped(rel, str(exc)))
                continue
            meta, why = try_read_diff_yaml(raw_yaml, full, device_dir=device)
            if meta is None:
                skipped.append(Skipped(rel, f"metadata not usable: {why}"))
            else:
                warnings.extend(meta.warnings)
            continue
        encrypted = rel.endswith(ENCRYPTED)
        if not (encrypted or rel.endswith(".patch")):
            why = (
                "metadata file not at the directory's top"
                if rel.endswith("diff.yaml")
                else ("not a patch (FlagScale's tools apply only *.patch and *.patch.encrypted)")
            )
            skipped.append(Skipped(rel, why))
            continue
        try:
            data = src.read(full)
        except Unreadable as exc:
            skipped.append(Skipped(rel, str(exc)))
            continue
        stem = rel[: -len(ENCRYPTED)] if encrypted else rel[: -len(".patch")]
        target = None if stem == "diff" else stem
        touches: tuple[str, ...] = ()
        if encrypted:
            if not data:
                skipped.append(Skipped(rel, "empty encrypted file"))
                continue
        else:
            touches, why = _touches(data, full)
            if why is not None:
                skipped.append(Skipped(rel, why))
                continue
            if target is not None and not any(t == target or t.endswith("/" + target) for t in touches):
                warnings.append(
                    MetaWarning(
                        full, None, f"named for {target!r} but changes {', '.join(touches)}; applied as written"
                    )
                )
        patches.append(PatchFile(rel, target, encrypted, data, touches))
    layout: Layout = "none"
    if patches:
        layout = "diff" if all(p.target is None for p in patches) and len(patches) == 1 else "per-file"
    if raw_yaml is None and patches and not any(s.path == "diff.yaml" for s in skipped):
        warnings.append(MetaWarning(display, None, "no diff.yaml (FlagScale's unpatch refuses such a directory)"))
    return VendorDir(
        device_type=device,
        vendor=vendor_name(device),
        backend_spelled=sub,
        backend=map_backend(sub, aliases),
        layout=layout,
        display=display,
        patches=tuple(patches),
        meta=meta,
        diff_yaml=raw_yaml,
        warnings=tuple(warnings),
        skipped=tuple(skipped),
        self_backend=map_backend(sub, aliases) == map_backend(FLAGSCALE_SELF, aliases),
        files_found=len(rels),
    )


def _read_mbox_dir(src: Source, device: str, sub: str, rels: list[str], display: str) -> VendorDir:
    """The 2024 layout: ``<commit8>/<commit8>.patch``, a git format-patch mail against FlagScale."""
    patches: list[PatchFile] = []
    skipped: list[Skipped] = []
    for rel in rels:
        if rel not in (f"{sub}.patch", f"{sub}{ENCRYPTED}"):
            skipped.append(
                Skipped(rel, f"not the directory's {sub}.patch (2024 layout: one mbox per FlagScale commit)")
            )
            continue
        try:
            data = src.read(f"{display}/{rel}")
        except Unreadable as exc:
            skipped.append(Skipped(rel, str(exc)))
            continue
        encrypted = rel.endswith(ENCRYPTED)
        touches: tuple[str, ...] = ()
        if not encrypted:
            touches, why = _touches(data, f"{display}/{rel}")
            if why is not None:
                skipped.append(Skipped(rel, why))
                continue
        patches.append(PatchFile(rel, None, encrypted, data, touches))
    return VendorDir(
        device_type=device,
        vendor=vendor_name(device),
        backend_spelled=FLAGSCALE_SELF,
        backend=map_backend(FLAGSCALE_SELF),
        layout="mbox" if patches else "none",
        display=display,
        patches=tuple(patches),
        meta=None,
        diff_yaml=None,
        warnings=(),
        skipped=tuple(skipped),
        self_backend=True,
        base_commit=sub,
        files_found=len(rels),
    )


def _mail_date(vd: VendorDir) -> float | None:
    """The ``Date:`` of an mbox directory's mail (None when encrypted or absent)."""
    for p in vd.patches:
        if p.encrypted:
            return None
        head = p.data.split(b"\n\n", 1)[0]
        m = re.search(rb"^Date: (.+)$", head, re.M)
        if m:
            try:
                return parsedate_to_datetime(m.group(1).decode("utf-8", "replace").strip()).timestamp()
            except (TypeError, ValueError):
                return None
    return None


def _supersede(dirs: list[VendorDir], src: Source) -> list[VendorDir]:
    """Of a device's mbox directories (each a whole version of the same layer), the newest is the
    layer; the others are marked superseded.  Newest by the time of the FlagScale commit the
    directory is named after when the source knows it, else by the mail's ``Date:``, else (an
    encrypted mail in a plain directory) the last by name."""
    usable = [d for d in dirs if d.patches]
    if len(usable) < 2:
        return dirs
    for when in (lambda d: src.commit_time(d.base_commit or ""), _mail_date):
        times = [when(d) for d in usable]
        if all(t is not None for t in times):
            newest = max(zip(times, [d.display for d in usable], usable, strict=True), key=lambda t: (t[0], t[1]))[2]
            break
    else:
        newest = usable[-1]
    out = []
    for d in dirs:
        if d is newest or not d.patches:
            out.append(d)
        else:
            out.append(
                VendorDir(
                    **{**d.__dict__, "superseded_by": newest.base_commit},
                )
            )
    return out


def hunk_keys(files: Sequence[FileDiff]) -> set[tuple[str, tuple[bytes, ...], tuple[bytes, ...]]]:
    """(path, old lines, new lines) of every text hunk: what "identical hunk" means."""
    return {(fd.path, tuple(h.old_lines()), tuple(h.new_lines())) for fd in files for h in fd.hunks}


def _key(fd: FileDiff, h: Hunk) -> tuple[str, tuple[bytes, ...], tuple[bytes, ...]]:
    return (fd.path, tuple(h.old_lines()), tuple(h.new_lines()))


@dataclass(frozen=True)
class SplitResult:
    embeds_common: bool
    groups: tuple[tuple[str, tuple[FileDiff, ...]], ...]  # (source patch name, its remaining diffs)
    hunks_total: int
    hunks_removed: int  # hunks identical to a common hunk
    lines_removed: int  # their added + removed lines


def _apply_all(
    repo: GitRepo,
    base: str,
    patches: Sequence[tuple[str, Sequence[FileDiff]]],
    unauthenticated: frozenset[str],
    display: str,
    on_upstream: bool,
) -> str:
    """The tree of ``base`` with every vendor patch applied in order (errors name the patch)."""
    tree = repo.tree_of(base)
    for name, files in patches:
        try:
            tree = apply_files(repo, tree, files, strict=name in unauthenticated)
        except HunkFailed as exc:
            where = "upstream" if on_upstream else "upstream + common"
            raise ConflictError(f"does not apply on {where}: {exc}", path=f"{display}/{name}") from None
        except ConflictError as exc:
            raise ConflictError(exc.message, path=f"{display}/{name}") from None
        except InputError as exc:
            raise type(exc)(exc.message, path=f"{display}/{name}") from None
    return tree


def _over_common(repo: GitRepo, common_top: str, tree: str, named: Sequence[str]) -> str:
    """The files the vendor names take the vendor's content; every other file keeps the common
    layer's, so a vendor patch that embeds only part of the common layer reverts nothing."""
    return repo.update_tree(repo.tree_of(common_top), {p: repo.entry(tree, p) for p in named})


def _undoes_common(common: Sequence[FileDiff], vendor: Sequence[FileDiff]) -> bool:
    """Would this vendor-only diff (on upstream+common) change what the common layer did?

    It does when it removes a line the common layer added, or adds back a (non-blank) line the
    common layer removed from that file: the vendor then embedded a different version of the
    common change (an older one, say), and subtracting today's would rewrite FlagScale's lines.
    """
    added: dict[str, set[int]] = {}
    dropped: dict[str, set[bytes]] = {}
    for fd in common:
        path = fd.new_path or fd.old_path
        assert path is not None
        for h in fd.hunks:
            at = h.new_start
            for kind, line in h.lines:
                if kind == ADDED:
                    added.setdefault(path, set()).add(at)
                elif kind == REMOVED and line.strip():
                    dropped.setdefault(path, set()).add(line)
                if kind != REMOVED:
                    at += 1
    for fd in vendor:
        path = fd.old_path or fd.new_path
        assert path is not None
        ours, gone = added.get(path, set()), dropped.get(path, set())
        for h in fd.hunks:
            at = h.old_start
            for kind, line in h.lines:
                if kind == REMOVED and at in ours or kind == ADDED and line in gone:
                    return True
                if kind != ADDED:
                    at += 1
    return False


def split_vendor(
    repo: GitRepo,
    upstream: str,
    common_top: str,
    patches: Sequence[tuple[str, Sequence[FileDiff]]],
    display: str,
    unauthenticated: frozenset[str] = frozenset(),
) -> SplitResult:
    """The vendor's own changes on top of upstream+common (see the module docstring).

    Patches named in ``unauthenticated`` (decrypted from CBC files) are applied strictly.
    """
    common_files = parse_diff(repo.diff_trees(repo.tree_of(upstream), repo.tree_of(common_top)), "<common>")
    common_keys = hunk_keys(common_files)
    total = removed = lines = 0
    for _, files in patches:
        for fd in files:
            for h in fd.hunks:
                total += 1
                if _key(fd, h) in common_keys:
                    removed += 1
                    lines += sum(1 for kind, _ in h.lines if kind != " ")
    embeds = removed > 0
    named = sorted({p for _, files in patches for fd in files for p in (fd.old_path, fd.new_path) if p is not None})
    try:
        tree = _apply_all(repo, upstream if embeds else common_top, patches, unauthenticated, display, embeds)
    except ConflictError as first:
        # No hunk equals a common one, yet the patches do not apply on upstream + common: a
        # vendor change within 3 lines of a common change shares its hunk (git merges them),
        # so the patches may still be made against upstream.  If they apply there, they embed
        # -- unless what is left would change the common layer's own lines.
        if embeds:
            raise
        try:
            on_upstream = _apply_all(repo, upstream, patches, unauthenticated, display, True)
            tree = _over_common(repo, common_top, on_upstream, named)
        except (ConflictError, InputError):
            raise first from None
        own = parse_diff(repo.diff_trees(repo.tree_of(common_top), tree), "<vendor>")
        if _undoes_common(common_files, own):
            raise first from None  # it embeds another version of the common change: not ours to guess
        embeds = True
    else:
        if embeds:
            tree = _over_common(repo, common_top, tree, named)
        own = parse_diff(repo.diff_trees(repo.tree_of(common_top), tree), "<vendor>")
    groups: list[tuple[str, tuple[FileDiff, ...]]] = []
    taken: set[int] = set()
    for name, files in patches:
        paths = {p for fd in files for p in (fd.old_path, fd.new_path) if p is not None}
        mine = []
        for i, fd in enumerate(own):
            if i not in taken and ({fd.old_path, fd.new_path} & paths):
                taken.add(i)
                mine.append(fd)
        if mine:
            groups.append((name, tuple(mine)))
    rest = tuple(fd for i, fd in enumerate(own) if i not in taken)
    if rest:  # a change to upstream+common the patches did not name (only when embedding reverts)
        groups.append(("rest", rest))
    return SplitResult(embeds, tuple(groups), total, removed, lines)
